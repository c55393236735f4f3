//! Detectors that keep learning from the rows they score ([`Detector::partial_fit`]), for
//! streams: each batch is scored first, then learned from.
//!
//! [`Detector::partial_fit`]: deviant_core::Detector::partial_fit

pub mod hst;
pub mod robust_zscore;
