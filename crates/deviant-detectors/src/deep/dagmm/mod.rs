//! DAGMM (Zong et al., ICLR 2018): a compression autoencoder whose code, joined by the
//! relative reconstruction distance and cosine similarity, feeds an estimation network of
//! soft mixture memberships; the Gaussian mixture they define scores each row by its sample
//! energy. With `compression = "variational"` the compression network is a VAE (VAEGMM,
//! registered as its own kind).

mod config;
mod gmm;
mod model;

pub use config::{Compression, DagmmConfig};
pub use model::{Dagmm, VaegmmConfig};
