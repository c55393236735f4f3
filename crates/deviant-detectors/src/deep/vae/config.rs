use deviant_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, log_float, log_int, names};
use crate::check::{at_least_one, non_negative, positive, stack};
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
        at_least_one("latent", self.latent)?;
        non_negative("beta", self.beta)?;
        positive("decoder_std", self.decoder_std)?;
        at_least_one("samples", self.samples)?;
        positive("learning_rate", self.learning_rate)?;
        self.training.validate()
    }

    /// Encoder widths: input → hidden → mean and log-variance of the code, side by side.
    pub(crate) fn encoder_widths(&self, n_features: usize) -> Vec<usize> {
        stack(n_features, &self.hidden, 2 * self.latent)
    }

    pub(crate) fn decoder_widths(&self, n_features: usize) -> Vec<usize> {
        stack(self.latent, self.hidden.iter().rev(), n_features)
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
