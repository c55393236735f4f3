use deviant_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, Layout, ParamRange, log_int};
use crate::check::{at_least_one, positive};
use crate::deep::train::LoopConfig;

/// LSTM seq2seq hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Seq2seqConfig {
    /// Values per time step: a row of `n` values is `n / channels` steps, stored step by step
    /// (`[t0c0, t0c1, …, t1c0, …]`).
    pub channels: usize,
    /// LSTM state size of the encoder and the decoder (also the code size).
    pub hidden: usize,
    pub learning_rate: f64,
    pub training: LoopConfig,
}

impl Default for Seq2seqConfig {
    fn default() -> Self {
        Self {
            channels: 1,
            hidden: 32,
            learning_rate: 1e-3,
            training: LoopConfig {
                epochs: 30,
                batch_size: 64,
                ..LoopConfig::default()
            },
        }
    }
}

impl Seq2seqConfig {
    pub(crate) fn check(&self) -> Result<()> {
        at_least_one("channels", self.channels)?;
        at_least_one("hidden", self.hidden)?;
        positive("learning_rate", self.learning_rate)?;
        self.training.validate()
    }

    /// Time steps per row of `n_features` values.
    pub(crate) fn steps(&self, n_features: usize) -> Result<usize> {
        if n_features == 0 || !n_features.is_multiple_of(self.channels) {
            return Err(Error::config(
                "channels",
                format!(
                    "rows of {n_features} values do not split into steps of {} channels; \
                     set `channels` to the number of values per time step",
                    self.channels
                ),
            ));
        }
        Ok(n_features / self.channels)
    }
}

impl Entry for Seq2seqConfig {
    const ABOUT: About = About::deep("LSTM encoder-decoder over windows of a series (rows = windows); score = mean squared reconstruction error").only(&[Layout::Windows]);
    const SEARCH: &'static [ParamRange] = &[log_int("hidden", 8, 128)];
}
