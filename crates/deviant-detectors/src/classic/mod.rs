//! Shallow baselines: one file per detector, plus the moments they share.

pub mod copod;
pub mod ecod;
pub mod hbos;
pub mod iforest;
pub mod knn;
pub mod loda;
pub mod lof;
pub mod mahalanobis;
pub(crate) mod neighbours;
pub mod ocsvm;
pub mod pca;
pub mod tails;

use nalgebra::{DMatrix, SymmetricEigen};
use ndarray::{Array1, Array2, ArrayView2, Axis};

/// Column means and the sample covariance of `x` (rows × features), in f64.
fn mean_and_covariance(x: ArrayView2<f32>) -> (Array1<f64>, Array2<f64>) {
    let x64 = x.mapv(f64::from);
    let mean = x64.mean_axis(Axis(0)).expect("callers check for rows");
    let centred = &x64 - &mean;
    let denom = (x.nrows().max(2) - 1) as f64;
    (mean, centred.t().dot(&centred) / denom)
}

/// Eigenvalues (clamped at 0) and unit eigenvectors (as columns) of a symmetric matrix,
/// largest eigenvalue first.
fn sorted_eigen(matrix: &Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let d = matrix.nrows();
    let eigen = SymmetricEigen::new(DMatrix::from_fn(d, d, |i, j| matrix[[i, j]]));
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let values = order
        .iter()
        .map(|&i| eigen.eigenvalues[i].max(0.0))
        .collect();
    let vectors = Array2::from_shape_fn((d, d), |(j, c)| eigen.eigenvectors[(j, order[c])]);
    (values, vectors)
}
