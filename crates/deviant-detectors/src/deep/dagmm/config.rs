use deviant_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, int, log_float};
use crate::check::{at_least_one, below_one, non_negative, positive, stack, widths};
use crate::deep::tensor::{Activation, Init};
use crate::deep::train::LoopConfig;

/// The compression network in front of the mixture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// A deterministic autoencoder (DAGMM).
    #[default]
    Autoencoder,
    /// A variational autoencoder whose KL term, weighted by `beta`, joins the loss (VAEGMM).
    Variational,
}

/// DAGMM hyperparameters; the defaults are Zong et al.'s KDD Cup 99 settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DagmmConfig {
    pub compression: Compression,
    /// Compression encoder widths after the input; the last is the code size. The decoder
    /// mirrors them.
    pub hidden: Vec<usize>,
    pub activation: Activation,
    /// How the starting weights are drawn; Glorot as in the paper's reference code (on KDD
    /// it trains steadier across seeds than the fan-in rule, see BENCHMARKS.md).
    pub init: Init,
    /// Hidden widths of the estimation network that maps [code, relative distance, cosine]
    /// to mixture memberships.
    pub estimation_hidden: Vec<usize>,
    /// Dropout after the estimation network's hidden layers while training.
    pub estimation_dropout: f64,
    /// Mixture components.
    pub components: usize,
    /// Weight λ1 of the mean sample energy in the loss.
    pub lambda_energy: f64,
    /// Weight λ2 of the inverse-diagonal covariance penalty in the loss.
    pub lambda_covariance: f64,
    /// Weight of the KL term with `compression = "variational"`.
    pub beta: f64,
    /// Added to covariance diagonals (and the floor of Cholesky pivots) so no covariance is
    /// singular.
    pub covariance_jitter: f64,
    pub learning_rate: f64,
    pub training: LoopConfig,
}

impl Default for DagmmConfig {
    fn default() -> Self {
        Self {
            compression: Compression::Autoencoder,
            hidden: vec![60, 30, 10, 1],
            activation: Activation::Tanh,
            init: Init::Glorot,
            estimation_hidden: vec![10],
            estimation_dropout: 0.5,
            components: 4,
            lambda_energy: 0.1,
            lambda_covariance: 0.005,
            beta: 1.0,
            covariance_jitter: 1e-6,
            learning_rate: 1e-4,
            training: LoopConfig {
                epochs: 50,
                batch_size: 1024,
                ..LoopConfig::default()
            },
        }
    }
}

impl DagmmConfig {
    pub(crate) fn check(&self) -> Result<()> {
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return Err(Error::config(
                "hidden",
                "give at least one layer width, each at least 1",
            ));
        }
        widths("estimation_hidden", &self.estimation_hidden)?;
        below_one("estimation_dropout", self.estimation_dropout)?;
        at_least_one("components", self.components)?;
        non_negative("lambda_energy", self.lambda_energy)?;
        non_negative("lambda_covariance", self.lambda_covariance)?;
        non_negative("beta", self.beta)?;
        positive("covariance_jitter", self.covariance_jitter)?;
        positive("learning_rate", self.learning_rate)?;
        self.training.validate()
    }

    pub(crate) fn code_size(&self) -> usize {
        *self.hidden.last().expect("checked: hidden is not empty")
    }

    /// Encoder widths; a variational encoder outputs a mean and a log-variance per code unit.
    pub(crate) fn encoder_widths(&self, n_features: usize) -> Vec<usize> {
        let mut widths = vec![n_features];
        widths.extend(&self.hidden);
        if self.compression == Compression::Variational {
            *widths.last_mut().expect("not empty") *= 2;
        }
        widths
    }

    pub(crate) fn decoder_widths(&self, n_features: usize) -> Vec<usize> {
        let mut widths: Vec<usize> = self.hidden.iter().rev().copied().collect();
        widths.push(n_features);
        widths
    }

    /// Estimation widths: code + 2 reconstruction features → hidden → components.
    pub(crate) fn estimation_widths(&self) -> Vec<usize> {
        stack(
            self.code_size() + 2,
            &self.estimation_hidden,
            self.components,
        )
    }
}

impl Entry for DagmmConfig {
    const ABOUT: About =
        About::deep("deep autoencoding Gaussian mixture (Zong et al. 2018); score = sample energy");
    const SEARCH: &'static [ParamRange] = &[
        int("components", 2, 8),
        log_float("lambda_energy", 0.01, 1.0),
    ];
}

impl Entry for super::VaegmmConfig {
    const ABOUT: About =
        About::deep("DAGMM with a variational compression network; score = sample energy");
    const SEARCH: &'static [ParamRange] = DagmmConfig::SEARCH;
}
