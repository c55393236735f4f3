//! Deep detectors on burn 0.22: one folder per detector, all trained by [`train`]'s one loop
//! and built from [`mlp::Mlp`] stacks.

pub mod aae;
pub mod ae;
pub mod dagmm;
pub mod mlp;
pub mod svdd;
pub mod tensor;
pub mod train;
pub mod vae;

/// Shape facts a weights file alone does not give, saved beside it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Shape {
    pub n_features: usize,
}
