//! Deep detectors on burn 0.22: one folder per detector, all trained by [`train`]'s one loop
//! and built from [`mlp::Mlp`] stacks.

pub mod aae;
pub mod adversarial;
pub mod ae;
pub mod alad;
pub mod bigan;
pub mod conv_ae;
pub mod dagmm;
pub mod flow;
pub mod mlp;
pub mod seq2seq;
pub mod svdd;
pub mod tensor;
pub mod train;
pub mod vae;

use std::path::Path;

use burn::module::Module;
use deviant_core::Result;

use crate::{read_json, write_json};

/// Shape facts a weights file alone does not give, saved beside it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Shape {
    n_features: usize,
}

/// Saves a network and its input width (`<kind>.json`) into a model folder.
pub(crate) fn save_net<M: Module>(
    dir: &Path,
    kind: &str,
    n_features: usize,
    net: &M,
) -> Result<()> {
    write_json(&dir.join(format!("{kind}.json")), &Shape { n_features })?;
    tensor::save_weights(net, dir)
}

/// Reads the input width [`save_net`] wrote, builds the network for it with `build` and loads
/// the saved weights into it.
pub(crate) fn load_net<M: Module>(
    dir: &Path,
    kind: &str,
    build: impl FnOnce(usize) -> M,
) -> Result<(M, usize)> {
    let shape: Shape = read_json(&dir.join(format!("{kind}.json")))?;
    let net = tensor::load_weights(build(shape.n_features), dir)?;
    Ok((net, shape.n_features))
}
