//! Adversarial autoencoder (Makhzani et al. 2016): an autoencoder whose codes a
//! discriminator tries to tell from samples of a standard normal prior. The score is the
//! reconstruction error, optionally plus the code's negative log prior density.

mod config;
mod model;

pub use config::AaeConfig;
pub use model::AdversarialAutoencoder;
