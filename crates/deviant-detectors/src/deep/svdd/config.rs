use deviant_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, log_float, names, stacks};
use crate::check::{non_negative, positive};
use crate::deep::tensor::Activation;
use crate::deep::train::LoopConfig;

/// Which Deep SVDD objective to minimise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SvddObjective {
    /// Mean squared distance to the centre (training data assumed normal).
    #[default]
    OneClass,
    /// R² + (1/ν)·mean(max(0, d² − R²)): a sphere of radius R that may leave a share ν of
    /// the training rows outside (for training data with some contamination).
    SoftBoundary,
}

/// Deep SVDD hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeepSvddConfig {
    /// Widths after the input; the last is the size of the output space the sphere lives in.
    pub hidden: Vec<usize>,
    /// Unbounded by default: a bounded one lets the network saturate onto the centre.
    pub activation: Activation,
    pub objective: SvddObjective,
    /// Share of training rows allowed outside the sphere (`soft_boundary` only), in (0, 1].
    pub nu: f64,
    /// Centre coordinates closer to zero than this are pushed out to ±eps, since a zero
    /// coordinate is trivially matched by zero weights.
    pub centre_eps: f64,
    /// L2 penalty on the weights, through the optimiser.
    pub weight_decay: f64,
    pub learning_rate: f64,
    pub training: LoopConfig,
}

impl Default for DeepSvddConfig {
    fn default() -> Self {
        Self {
            hidden: vec![64, 32],
            activation: Activation::LeakyRelu,
            objective: SvddObjective::OneClass,
            nu: 0.1,
            centre_eps: 0.1,
            weight_decay: 1e-6,
            learning_rate: 1e-4,
            training: LoopConfig {
                epochs: 50,
                ..LoopConfig::default()
            },
        }
    }
}

impl DeepSvddConfig {
    pub(crate) fn check(&self) -> Result<()> {
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return Err(Error::config(
                "hidden",
                "give at least one layer width, each at least 1",
            ));
        }
        if !(self.nu > 0.0 && self.nu <= 1.0) {
            return Err(Error::config(
                "nu",
                format!("{} is outside (0, 1]", self.nu),
            ));
        }
        non_negative("centre_eps", self.centre_eps)?;
        non_negative("weight_decay", self.weight_decay)?;
        positive("learning_rate", self.learning_rate)?;
        self.training.validate()
    }

    pub(crate) fn widths(&self, n_features: usize) -> Vec<usize> {
        let mut widths = vec![n_features];
        widths.extend(&self.hidden);
        widths
    }
}

impl Entry for DeepSvddConfig {
    const ABOUT: About =
        About::deep("Deep SVDD (Ruff et al. 2018); score = squared distance to the centre");
    const SEARCH: &'static [ParamRange] = &[
        stacks("hidden", &[&[32, 16], &[64, 32], &[128, 64, 32]]),
        names("objective", &["one_class", "soft_boundary"]),
        log_float("weight_decay", 1e-6, 1e-3),
    ];
}
