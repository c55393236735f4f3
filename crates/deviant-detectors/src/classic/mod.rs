//! Shallow baselines: one file per detector.

pub mod iforest;
pub mod pca;
