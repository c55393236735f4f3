//! BiGAN (Donahue et al. 2017) as an anomaly detector (Zenati et al. 2018, "Efficient
//! GAN-based anomaly detection"): an encoder E and a generator G trained against one
//! discriminator on (x, z) pairs; the score mixes the reconstruction error ‖x − G(E(x))‖₁
//! with the discriminator's feature-matching distance between (x, E(x)) and (G(E(x)), E(x)).

mod config;
mod model;

pub use config::BiganConfig;
pub(crate) use config::{check_gan, gan_loop};
pub use model::Bigan;
pub(crate) use model::{losses, reconstruction_error};
