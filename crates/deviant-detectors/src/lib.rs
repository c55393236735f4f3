//! deviant's detectors: classic baselines under [`classic`], burn models under [`deep`],
//! detectors that keep learning from a stream under [`online`], supervised learners under
//! [`supervised`], and the one list of them in [`registry`]. Algorithms only: no file
//! formats, no pipeline (the saved model lives in `deviant-engine`).

pub mod catalogue;
pub(crate) mod check;
pub mod classic;
pub mod deep;
pub mod ensemble;
pub mod online;
pub mod registry;
pub mod runtime;
pub mod supervised;

pub use registry::AnyConfig;

/// Reads a JSON file into `T`, with errors naming the file.
pub fn read_json<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
) -> deviant_core::Result<T> {
    let bytes = std::fs::read(path).map_err(|e| deviant_core::Error::io(path, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| deviant_core::Error::format(path.display(), e.to_string()))
}

/// Writes `value` as JSON into `path` atomically.
pub fn write_json<T: serde::Serialize>(
    path: &std::path::Path,
    value: &T,
) -> deviant_core::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(deviant_core::Error::internal)?;
    deviant_core::fsutil::write_bytes_atomic(path, &bytes)
}

/// A draw from N(0, 1) by the Box–Muller transform, so every random draw comes from deviant's
/// own seeded generator.
pub(crate) fn standard_normal(rng: &mut impl rand::Rng) -> f32 {
    let (u, v): (f32, f32) = (rng.random_range(f32::EPSILON..1.0), rng.random());
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}
