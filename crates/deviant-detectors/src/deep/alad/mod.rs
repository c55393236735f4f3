//! ALAD, adversarially learned anomaly detection (Zenati et al., ICDM 2018): a BiGAN whose
//! encoder and generator are also held to cycle consistency by two more discriminators, D_xx
//! on (x, x) against (x, G(E(x))) and D_zz on (z, z) against (z, E(G(z))). The score is the
//! L1 distance between D_xx's features of (x, x) and of (x, G(E(x))).

mod config;
mod model;

pub use config::AladConfig;
pub use model::Alad;
