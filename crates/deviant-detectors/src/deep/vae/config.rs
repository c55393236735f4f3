use deviant_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, log_float, log_int, names};
use crate::deep::tensor::Activation;
use crate::deep::train::LoopConfig;

/// What a fitted VAE reports as the anomaly score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VaeScore {
    /// Mean squared error of the reconstruction from the mean code.
    #[default]
    Reconstruction,
    /// Negative evidence lower bound, averaged over `samples` codes.
    Elbo,
    /// −log of the decoder density averaged over `samples` codes (An & Cho 2015).
    Probability,
}

/// Variational autoencoder hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaeConfig {
    /// Encoder hidden widths from the input side; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Size of the latent code.
    pub latent: usize,
    pub activation: Activation,
    /// Weight of the KL term in the training loss (β-VAE; 1 = the plain ELBO).
    pub beta: f64,
    /// Standard deviation of the Gaussian decoder: the reconstruction term of the loss is
    /// ‖x − x̂‖² / (2σ²), so a smaller σ trades latent regularity for sharper reconstructions.
    pub decoder_std: f64,
    pub score: VaeScore,
    /// Codes sampled per row by the `elbo` and `probability` scores.
    pub samples: usize,
    pub learning_rate: f64,
    pub training: LoopConfig,
}

impl Default for VaeConfig {
    fn default() -> Self {
        Self {
            hidden: vec![64, 32],
            latent: 8,
            activation: Activation::Tanh,
            beta: 1.0,
            decoder_std: 0.1,
            score: VaeScore::Reconstruction,
            samples: 10,
            learning_rate: 1e-3,
            training: LoopConfig::default(),
        }
    }
}

impl VaeConfig {
    pub(crate) fn check(&self) -> Result<()> {
        if self.hidden.contains(&0) {
            return Err(Error::config("hidden", "layer widths must be at least 1"));
        }
        if self.latent == 0 {
            return Err(Error::config("latent", "must be at least 1"));
        }
        if !(self.beta >= 0.0 && self.beta.is_finite()) {
            return Err(Error::config("beta", "must be zero or positive"));
        }
        if !(self.decoder_std > 0.0 && self.decoder_std.is_finite()) {
            return Err(Error::config("decoder_std", "must be positive"));
        }
        if self.samples == 0 {
            return Err(Error::config("samples", "must be at least 1"));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(Error::config("learning_rate", "must be positive"));
        }
        self.training.validate()
    }

    /// Encoder widths: input → hidden → mean and log-variance of the code, side by side.
    pub(crate) fn encoder_widths(&self, n_features: usize) -> Vec<usize> {
        let mut widths = vec![n_features];
        widths.extend(&self.hidden);
        widths.push(2 * self.latent);
        widths
    }

    pub(crate) fn decoder_widths(&self, n_features: usize) -> Vec<usize> {
        let mut widths = vec![self.latent];
        widths.extend(self.hidden.iter().rev());
        widths.push(n_features);
        widths
    }
}

impl Entry for VaeConfig {
    const ABOUT: About = About::deep(
        "variational autoencoder; score = reconstruction error, negative ELBO or reconstruction probability",
    );
    const SEARCH: &'static [ParamRange] = &[
        log_int("latent", 2, 16),
        log_float("beta", 0.1, 4.0),
        names("score", &["reconstruction", "elbo", "probability"]),
    ];
}
