//! Core types of deviant: the [`Dataset`], its [`Schema`], the detector contract
//! ([`DetectorConfig`], [`Detector`]), [`Threshold`]s, evaluation [`metrics`] and the
//! crate-wide [`Error`].
//!
//! This crate knows nothing of burn, file formats, SQL or the terminal: it is the vocabulary
//! every other crate shares.

pub mod dataset;
pub mod detector;
pub mod error;
pub mod fsutil;
pub mod metrics;
pub mod nab;
pub mod progress;
pub mod record;
pub mod schema;
pub mod split;
pub mod threshold;

pub use dataset::Dataset;
pub use detector::{Detector, DetectorConfig, FitContext};
pub use error::{Cause, Error, Result};
pub use progress::{NoProgress, Progress};
pub use schema::{ColumnKind, ColumnSpec, Schema};
pub use threshold::{Scoring, Threshold, ThresholdRule};
