//! Normalizing flows scored by −log p(x): RealNVP's affine couplings (Dinh et al. 2017),
//! MAF's masked autoregressive layers (Papamakarios et al. 2017) and neural spline flows'
//! rational-quadratic couplings (Durkan et al. 2019). One network and loop for all three; the
//! registry lists each as its own kind so a benchmark can put them side by side.

mod config;
mod layout;
mod model;
mod spline;

pub use config::{FlowConfig, MafConfig, NsfConfig, RealNvpConfig, Transform};
pub use model::Flow;
