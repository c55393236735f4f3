use deviant_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, float, stacks};
use crate::check::{below_one, positive, widths};
use crate::deep::tensor::Activation;
use crate::deep::train::LoopConfig;

/// Autoencoder hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AeConfig {
    /// Encoder widths from the input side; the last is the code size. The decoder mirrors them.
    pub hidden: Vec<usize>,
    pub activation: Activation,
    /// Dropout on hidden layers while training (0 = none).
    pub dropout: f64,
    pub learning_rate: f64,
    pub training: LoopConfig,
}

impl Default for AeConfig {
    fn default() -> Self {
        Self {
            hidden: vec![64, 32, 8],
            // tanh beat relu on KDD `cloudera` (ROC AUC 0.969 vs 0.950 over 5 seeds, BENCHMARKS.md).
            activation: Activation::Tanh,
            dropout: 0.0,
            learning_rate: 1e-3,
            training: LoopConfig::default(),
        }
    }
}

impl AeConfig {
    pub(crate) fn check(&self) -> Result<()> {
        if self.hidden.is_empty() {
            return Err(Error::config("hidden", "give at least one layer width"));
        }
        widths("hidden", &self.hidden)?;
        below_one("dropout", self.dropout)?;
        positive("learning_rate", self.learning_rate)?;
        self.training.validate()
    }

    /// Layer widths from input to output.
    pub fn widths(&self, n_features: usize) -> Vec<usize> {
        let mut widths = vec![n_features];
        widths.extend(&self.hidden);
        widths.extend(self.hidden.iter().rev().skip(1));
        widths.push(n_features);
        widths
    }
}

impl Entry for AeConfig {
    const ABOUT: About =
        About::deep("dense autoencoder (burn); score = mean squared reconstruction error");
    const SEARCH: &'static [ParamRange] = &[
        stacks(
            "hidden",
            &[&[64, 32, 8], &[32, 16], &[128, 64, 16], &[16, 4]],
        ),
        float("dropout", 0.0, 0.3),
    ];
}
