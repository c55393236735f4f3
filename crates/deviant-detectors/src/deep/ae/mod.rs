//! Dense autoencoder: the score is each row's mean squared reconstruction error, and
//! `explain` gives the squared error of each feature.

mod config;
mod model;

pub use config::AeConfig;
pub use model::Autoencoder;
