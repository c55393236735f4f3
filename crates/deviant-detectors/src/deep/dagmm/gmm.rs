//! The Gaussian mixture of DAGMM: parameters from soft memberships, sample energies through
//! a hand-rolled batched Cholesky factorisation (the matrices are tiny: code size + 2), all
//! in tensor operations so gradients flow through them while training.

use burn::prelude::*;
use burn::tensor::TensorData;
use ndarray::{Array1, Array2, Array3, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// Mixture parameters as tensors: weights `[K]`, means `[K, d]`, covariances `[K, d, d]`.
pub struct GmmTensors {
    pub weights: Tensor<1>,
    pub means: Tensor<2>,
    pub covariances: Tensor<3>,
}

/// Floor under the mixture weights inside log(), so an empty component costs a finite energy.
const MIN_WEIGHT: f32 = 1e-10;

impl GmmTensors {
    /// Parameters of the mixture that the memberships `gamma` (`[B, K]`, rows sum to 1)
    /// assign to the samples `z` (`[B, d]`) — equations (5) of Zong et al. 2018.
    pub fn from_memberships(z: Tensor<2>, gamma: Tensor<2>) -> Self {
        let [b, d] = z.dims();
        let k = gamma.dims()[1];
        let mass = gamma.clone().sum_dim(0); // [1, K]
        let weights = mass.clone().reshape([k]) / b as f64;
        let means = gamma.clone().transpose().matmul(z.clone()) / mass.clone().transpose(); // [K, d]
        let diff = z.reshape([b, 1, d]) - means.clone().reshape([1, k, d]); // [B, K, d]
        let weighted = diff.clone() * gamma.reshape([b, k, 1]);
        // Σ_i γ_ik diff_ik diff_ikᵀ as a batched matmul over K.
        let covariances =
            weighted.permute([1, 2, 0]).matmul(diff.permute([1, 0, 2])) / mass.reshape([k, 1, 1]);
        Self {
            weights,
            means,
            covariances,
        }
    }

    /// Σ_k Σ_j 1 / Σ_k[j, j]: the penalty that keeps covariances away from singular.
    pub fn inverse_diagonal_penalty(&self, jitter: f64) -> Tensor<1> {
        let [k, d, _] = self.covariances.dims();
        let eye = Tensor::<2>::eye(d, &self.covariances.device()).reshape([1, d, d]);
        let diagonals = (self.covariances.clone() * eye).sum_dim(2).reshape([k, d]);
        (diagonals + jitter).recip().sum()
    }

    /// The sample energy −log Σ_k φ_k N(z; μ_k, Σ_k + jitter·I) of each row of `z`
    /// (`[B, d]` → `[B]`), in log-space.
    pub fn energy(&self, z: Tensor<2>, jitter: f64) -> Tensor<1> {
        let [b, d] = z.dims();
        let k = self.weights.dims()[0];
        let chol = cholesky(&self.covariances, jitter);
        let diff = z.reshape([b, 1, d]) - self.means.clone().reshape([1, k, d]); // [B, K, d]
        let component = |i: usize| diff.clone().narrow(2, i, 1).reshape([b, k]);
        let entry = |i: usize, j: usize| chol[i][j].clone().reshape([1, k]);
        // Forward substitution L y = diff, one coordinate at a time; ‖y‖² is the Mahalanobis
        // distance.
        let mut ys: Vec<Tensor<2>> = Vec::with_capacity(d);
        for i in 0..d {
            let mut rest = component(i);
            for (j, y) in ys.iter().enumerate() {
                rest = rest - y.clone() * entry(i, j);
            }
            ys.push(rest / entry(i, i));
        }
        let mahalanobis = ys
            .into_iter()
            .map(|y| y.square())
            .reduce(|a, b| a + b)
            .expect("d ≥ 1");
        let log_det = (0..d)
            .map(|i| chol[i][i].clone().log())
            .reduce(|a, b| a + b)
            .expect("d ≥ 1")
            * 2.0;
        let log_norm = log_det + d as f64 * std::f64::consts::TAU.ln(); // log |2πΣ|
        let log_weights = self.weights.clone().clamp_min(MIN_WEIGHT).log();
        let log_terms =
            (mahalanobis + log_norm.reshape([1, k])) * -0.5 + log_weights.reshape([1, k]);
        -crate::deep::tensor::log_sum_exp(log_terms).reshape([b])
    }
}

/// Lower Cholesky factors of `[K, d, d]` covariances plus `jitter`·I, as a d × d grid of
/// `[K]` tensors (entries above the diagonal are left empty). Pivots are floored at `jitter`,
/// so a singular or slightly indefinite matrix (f32 rounding) still factorises.
fn cholesky(covariances: &Tensor<3>, jitter: f64) -> Vec<Vec<Tensor<1>>> {
    let [k, d, _] = covariances.dims();
    let a = |i: usize, j: usize| {
        covariances
            .clone()
            .narrow(1, i, 1)
            .narrow(2, j, 1)
            .reshape([k])
    };
    let mut l: Vec<Vec<Tensor<1>>> = Vec::with_capacity(d);
    for i in 0..d {
        let mut row: Vec<Tensor<1>> = Vec::with_capacity(i + 1);
        // Below the diagonal: L[i][j] = (A[i][j] − Σ_{m<j} L[i][m]·L[j][m]) / L[j][j].
        for (j, lj) in l.iter().enumerate() {
            let s = row
                .iter()
                .zip(lj)
                .fold(a(i, j), |s, (lim, ljm)| s - lim.clone() * ljm.clone());
            row.push(s / lj[j].clone());
        }
        // The diagonal: L[i][i] = √(A[i][i] + jitter − Σ_{m<i} L[i][m]²), floored.
        let s = row.iter().fold(a(i, i), |s, lim| s - lim.clone().square());
        row.push((s + jitter).clamp_min(jitter).sqrt());
        l.push(row);
    }
    l
}

/// The fitted mixture, saved with the model (f64 so it survives JSON exactly).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gmm {
    pub weights: Vec<f64>,
    pub means: Vec<Vec<f64>>,
    pub covariances: Vec<Vec<Vec<f64>>>,
}

impl Gmm {
    pub fn to_tensors(&self, device: &Device) -> GmmTensors {
        let k = self.weights.len();
        let d = self.means.first().map_or(0, Vec::len);
        let flat = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        GmmTensors {
            weights: Tensor::from_data(TensorData::new(flat(self.weights.clone()), [k]), device),
            means: Tensor::from_data(TensorData::new(flat(self.means.concat()), [k, d]), device),
            covariances: Tensor::from_data(
                TensorData::new(
                    flat(self.covariances.iter().flat_map(|c| c.concat()).collect()),
                    [k, d, d],
                ),
                device,
            ),
        }
    }
}

/// Sums over many batches of rows for the mixture of a whole training set, in f64.
pub struct GmmStats {
    mass: Array1<f64>,
    first: Array2<f64>,
    second: Array3<f64>,
    rows: usize,
}

impl GmmStats {
    pub fn new(k: usize, d: usize) -> Self {
        Self {
            mass: Array1::zeros(k),
            first: Array2::zeros((k, d)),
            second: Array3::zeros((k, d, d)),
            rows: 0,
        }
    }

    /// Adds samples `z` (`[B, d]`) with memberships `gamma` (`[B, K]`).
    pub fn add(&mut self, z: ArrayView2<f32>, gamma: ArrayView2<f32>) {
        let z = z.mapv(f64::from);
        let gamma = gamma.mapv(f64::from);
        self.mass += &gamma.sum_axis(Axis(0));
        self.first += &gamma.t().dot(&z);
        for (k, mut second) in self.second.axis_iter_mut(Axis(0)).enumerate() {
            let weighted = &z * &gamma.column(k).insert_axis(Axis(1));
            second += &weighted.t().dot(&z);
        }
        self.rows += z.nrows();
    }

    /// Weights, means and covariances E_k[z zᵀ] − μ_k μ_kᵀ.
    pub fn finish(self) -> Gmm {
        let k = self.mass.len();
        let mut means = Vec::with_capacity(k);
        let mut covariances = Vec::with_capacity(k);
        for c in 0..k {
            let mass = self.mass[c].max(f64::MIN_POSITIVE);
            let mean = self.first.row(c).mapv(|v| v / mass);
            let outer = mean
                .view()
                .insert_axis(Axis(1))
                .dot(&mean.view().insert_axis(Axis(0)));
            let cov = self.second.index_axis(Axis(0), c).mapv(|v| v / mass) - outer;
            means.push(mean.to_vec());
            covariances.push(cov.outer_iter().map(|r| r.to_vec()).collect());
        }
        Gmm {
            weights: self.mass.iter().map(|m| m / self.rows as f64).collect(),
            means,
            covariances,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::tensor::{cpu, to_tensor, to_vec};
    use ndarray::array;

    #[test]
    fn one_component_energy_is_the_gaussian_negative_log_density() {
        let z = array![[0.0f32, 0.0], [1.0, -1.0], [2.0, 0.5], [-1.0, 1.5]];
        let device = cpu();
        let gamma = Tensor::<2>::ones([4, 1], &device);
        let gmm = GmmTensors::from_memberships(to_tensor(z.view(), &device), gamma);
        // Reference from the same data by hand: mean (0.5, 0.25), population covariance.
        let (mx, my) = (0.5f64, 0.25f64);
        let rows = [[0.0, 0.0], [1.0, -1.0], [2.0, 0.5], [-1.0, 1.5]];
        let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
        for r in rows {
            sxx += (r[0] - mx) * (r[0] - mx) / 4.0;
            sxy += (r[0] - mx) * (r[1] - my) / 4.0;
            syy += (r[1] - my) * (r[1] - my) / 4.0;
        }
        let det = sxx * syy - sxy * sxy;
        let energies = to_vec(gmm.energy(to_tensor(z.view(), &device), 0.0)).unwrap();
        for (r, e) in rows.iter().zip(energies) {
            let (dx, dy) = (r[0] - mx, r[1] - my);
            let m = (syy * dx * dx - 2.0 * sxy * dx * dy + sxx * dy * dy) / det;
            let expected = 0.5 * m + 0.5 * (std::f64::consts::TAU.powi(2) * det).ln();
            assert!((f64::from(e) - expected).abs() < 1e-4, "{e} vs {expected}");
        }
    }

    #[test]
    fn whole_set_statistics_match_the_batch_formula() {
        let z = array![
            [0.0f32, 1.0],
            [1.0, -1.0],
            [2.0, 0.5],
            [-1.0, 1.5],
            [0.3, 0.3]
        ];
        let gamma = array![
            [0.9f32, 0.1],
            [0.2, 0.8],
            [0.5, 0.5],
            [0.7, 0.3],
            [0.1, 0.9]
        ];
        let device = cpu();
        let batch = GmmTensors::from_memberships(
            to_tensor(z.view(), &device),
            to_tensor(gamma.view(), &device),
        );
        let mut stats = GmmStats::new(2, 2);
        stats.add(
            z.slice(ndarray::s![..2, ..]),
            gamma.slice(ndarray::s![..2, ..]),
        );
        stats.add(
            z.slice(ndarray::s![2.., ..]),
            gamma.slice(ndarray::s![2.., ..]),
        );
        let whole = stats.finish().to_tensors(&device);
        for (a, b) in [
            (
                to_vec(batch.weights).unwrap(),
                to_vec(whole.weights).unwrap(),
            ),
            (to_vec(batch.means).unwrap(), to_vec(whole.means).unwrap()),
            (
                to_vec(batch.covariances).unwrap(),
                to_vec(whole.covariances).unwrap(),
            ),
        ] {
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
            }
        }
    }
}
