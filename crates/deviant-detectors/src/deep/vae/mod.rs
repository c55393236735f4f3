//! Variational autoencoder (Kingma & Welling 2014): a Gaussian encoder, the
//! reparameterisation trick, a β-weighted KL term, and a Gaussian decoder of fixed standard
//! deviation. Scores: reconstruction error of the mean code, negative ELBO, or the
//! reconstruction probability of An & Cho (2015) over L sampled codes.

mod config;
mod model;

pub use config::{VaeConfig, VaeScore};
pub use model::Vae;
pub(crate) use model::gaussian_code;
