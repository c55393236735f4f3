use deviant_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, float, log_int};
use crate::check::{below_one, positive, widths as check_widths};
use crate::deep::tensor::Init;
use crate::deep::train::LoopConfig;

/// BiGAN hyperparameters; the defaults are Zenati et al.'s KDD Cup 99 settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BiganConfig {
    pub latent: usize,
    /// Encoder hidden widths from the input side.
    pub encoder_hidden: Vec<usize>,
    /// Generator hidden widths from the latent side.
    pub generator_hidden: Vec<usize>,
    /// Width of each of the discriminator's layers.
    pub discriminator_width: usize,
    pub discriminator_dropout: f64,
    /// Weight of the reconstruction error in the score; the feature-matching distance gets
    /// 1 − alpha.
    pub alpha: f64,
    /// How the starting weights are drawn; Glorot as in the paper's reference code (on KDD
    /// it trains steadier across seeds than the fan-in rule, see BENCHMARKS.md).
    pub init: Init,
    /// Spectral normalisation of the discriminators' weight matrices while training.
    pub spectral_norm: bool,
    /// Adam step size (β1 = 0.5, as in the paper) of both sides.
    pub learning_rate: f64,
    pub training: LoopConfig,
}

impl Default for BiganConfig {
    fn default() -> Self {
        Self {
            latent: 32,
            encoder_hidden: vec![64],
            generator_hidden: vec![64, 128],
            discriminator_width: 128,
            discriminator_dropout: 0.5,
            alpha: 0.9,
            init: Init::Glorot,
            spectral_norm: false,
            learning_rate: 1e-5,
            training: gan_loop(),
        }
    }
}

/// The loop both GAN detectors start from: the papers' batch of 50 and a fixed number of
/// epochs (the adversarial losses oscillate by design, so they cannot stop early).
pub(crate) fn gan_loop() -> LoopConfig {
    LoopConfig {
        epochs: 20,
        batch_size: 50,
        validation_fraction: 0.1,
        patience: 0,
        restarts: 1,
    }
}

/// The checks both GAN detectors share.
pub(crate) fn check_gan(
    latent: usize,
    widths: &[(&'static str, &[usize])],
    rates: &[(&'static str, f64)],
    learning_rate: f64,
    training: &LoopConfig,
) -> Result<()> {
    if latent == 0 {
        return Err(Error::config("latent", "must be at least 1"));
    }
    for (field, hidden) in widths {
        check_widths(field, hidden)?;
    }
    for &(field, rate) in rates {
        below_one(field, rate)?;
    }
    positive("learning_rate", learning_rate)?;
    training.validate()
}

impl BiganConfig {
    pub(crate) fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.alpha) {
            return Err(Error::config(
                "alpha",
                format!("{} is outside [0, 1]", self.alpha),
            ));
        }
        check_gan(
            self.latent,
            &[
                ("encoder_hidden", &self.encoder_hidden),
                ("generator_hidden", &self.generator_hidden),
                ("discriminator_width", &[self.discriminator_width]),
            ],
            &[("discriminator_dropout", self.discriminator_dropout)],
            self.learning_rate,
            &self.training,
        )
    }
}

impl Entry for BiganConfig {
    const ABOUT: About = About::deep(
        "BiGAN (Donahue et al. 2017) scored as Zenati et al. 2018: reconstruction error mixed with discriminator feature matching",
    );
    const SEARCH: &'static [ParamRange] = &[log_int("latent", 4, 64), float("alpha", 0.5, 0.95)];
}
