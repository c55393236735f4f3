use deviant_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, log_float, log_int};
use crate::check::{at_least_one, non_negative, positive, stack};
use crate::deep::tensor::Activation;
use crate::deep::train::LoopConfig;

/// Adversarial autoencoder hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AaeConfig {
    /// Encoder hidden widths from the input side; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Size of the code that the discriminator judges against a standard normal prior.
    pub latent: usize,
    pub activation: Activation,
    /// Hidden widths of the discriminator on codes.
    pub discriminator_hidden: Vec<usize>,
    /// Weight of the encoder's "fool the discriminator" term beside the reconstruction error.
    pub adversarial_weight: f64,
    /// Weight of ‖z‖²/2 (the code's negative log prior density, up to a constant) added to
    /// the score; 0 scores by reconstruction error alone.
    pub latent_weight: f64,
    /// Adam step size of both the autoencoder and the discriminator.
    pub learning_rate: f64,
    pub training: LoopConfig,
}

impl Default for AaeConfig {
    fn default() -> Self {
        Self {
            hidden: vec![64, 32],
            latent: 8,
            activation: Activation::Tanh,
            discriminator_hidden: vec![32, 32],
            adversarial_weight: 0.1,
            latent_weight: 0.0,
            learning_rate: 1e-3,
            training: LoopConfig::default(),
        }
    }
}

impl AaeConfig {
    pub(crate) fn check(&self) -> Result<()> {
        if self.hidden.contains(&0) || self.discriminator_hidden.contains(&0) {
            return Err(Error::config(
                "hidden",
                "layer widths (hidden, discriminator_hidden) must be at least 1",
            ));
        }
        at_least_one("latent", self.latent)?;
        non_negative("adversarial_weight", self.adversarial_weight)?;
        non_negative("latent_weight", self.latent_weight)?;
        positive("learning_rate", self.learning_rate)?;
        self.training.validate()
    }

    pub(crate) fn encoder_widths(&self, n_features: usize) -> Vec<usize> {
        stack(n_features, &self.hidden, self.latent)
    }

    pub(crate) fn decoder_widths(&self, n_features: usize) -> Vec<usize> {
        stack(self.latent, self.hidden.iter().rev(), n_features)
    }

    /// Code → hidden → one logit ("drawn from the prior").
    pub(crate) fn discriminator_widths(&self) -> Vec<usize> {
        stack(self.latent, &self.discriminator_hidden, 1)
    }
}

impl Entry for AaeConfig {
    const ABOUT: About = About::deep(
        "adversarial autoencoder (Makhzani et al. 2016); score = reconstruction error, optionally plus a latent-density term",
    );
    const SEARCH: &'static [ParamRange] = &[
        log_int("latent", 2, 16),
        log_float("adversarial_weight", 0.1, 10.0),
    ];
}
