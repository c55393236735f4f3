//! Deep SVDD (Ruff et al., ICML 2018): a bias-free network maps normal rows close to a
//! centre fixed from an initial pass; the score is the squared distance to that centre.

mod config;
mod model;

pub use config::{DeepSvddConfig, SvddObjective};
pub use model::DeepSvdd;
