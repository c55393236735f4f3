use deviant_core::Result;
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, log_int};
use crate::deep::bigan::{check_gan, gan_loop};
use crate::deep::tensor::Init;
use crate::deep::train::LoopConfig;

/// ALAD hyperparameters; the defaults are Zenati et al.'s KDD Cup 99 settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AladConfig {
    pub latent: usize,
    /// Encoder hidden widths from the input side.
    pub encoder_hidden: Vec<usize>,
    /// Generator hidden widths from the latent side.
    pub generator_hidden: Vec<usize>,
    /// Layer width of D_xz (on (x, z) pairs).
    pub xz_width: usize,
    /// Hidden width of D_xx (on (x, x′) pairs), whose features the score compares.
    pub xx_width: usize,
    /// Hidden width of D_zz (on (z, z′) pairs).
    pub zz_width: usize,
    pub xz_dropout: f64,
    /// Dropout in D_xx and D_zz.
    pub pair_dropout: f64,
    /// How the starting weights are drawn; N(0, 0.02²) as in PyTorch ports of the paper's
    /// code (on KDD it beats the reference code's Glorot by about 0.02 F1 over ten seeds, and
    /// both beat the fan-in rule, see BENCHMARKS.md).
    pub init: Init,
    /// Spectral normalisation of the discriminators' weight matrices while training.
    pub spectral_norm: bool,
    /// Adam step size (β1 = 0.5) of both sides.
    pub learning_rate: f64,
    pub training: LoopConfig,
}

impl Default for AladConfig {
    fn default() -> Self {
        Self {
            latent: 32,
            encoder_hidden: vec![64],
            generator_hidden: vec![64, 128],
            xz_width: 128,
            xx_width: 128,
            zz_width: 32,
            xz_dropout: 0.5,
            pair_dropout: 0.2,
            init: Init::Normal,
            spectral_norm: false,
            learning_rate: 1e-5,
            training: gan_loop(),
        }
    }
}

impl AladConfig {
    pub(crate) fn check(&self) -> Result<()> {
        check_gan(
            self.latent,
            &[
                ("encoder_hidden", &self.encoder_hidden),
                ("generator_hidden", &self.generator_hidden),
                ("xz_width", &[self.xz_width]),
                ("xx_width", &[self.xx_width]),
                ("zz_width", &[self.zz_width]),
            ],
            &[
                ("xz_dropout", self.xz_dropout),
                ("pair_dropout", self.pair_dropout),
            ],
            self.learning_rate,
            &self.training,
        )
    }
}

impl Entry for AladConfig {
    const ABOUT: About = About::deep(
        "ALAD (Zenati et al. 2018): BiGAN with cycle-consistency discriminators; score = L1 distance of D_xx features",
    );
    const SEARCH: &'static [ParamRange] = &[log_int("latent", 4, 64)];
}
