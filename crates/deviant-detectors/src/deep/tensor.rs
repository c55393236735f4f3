//! Moving data between ndarray and burn, and building layers from deviant's own seeded RNG
//! (so initialisation never depends on a backend's global generator or on thread timing).

use std::path::Path;

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::TensorData;
use deviant_core::dataset::check_input;
use deviant_core::{Error, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis, concatenate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// The CPU device, whatever the runtime's (tests, and the CPU's own measurements).
pub fn cpu() -> Device {
    Device::flex()
}

/// Copies `x` (rows × features) into a tensor on `device`.
pub fn to_tensor(x: ArrayView2<f32>, device: &Device) -> Tensor<2> {
    let shape = [x.nrows(), x.ncols()];
    let values: Vec<f32> = match x.as_slice() {
        Some(slice) => slice.to_vec(),
        None => x.iter().copied().collect(),
    };
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// The rows `rows` of `x` as the data of one tensor (data, so another thread can gather it).
pub fn gather_rows(x: ArrayView2<f32>, rows: &[usize]) -> TensorData {
    let mut values = Vec::with_capacity(rows.len() * x.ncols());
    for &r in rows {
        // A contiguous row copies as one block; element by element is several times slower.
        let row = x.row(r);
        match row.as_slice() {
            Some(slice) => values.extend_from_slice(slice),
            None => values.extend(row.iter().copied()),
        }
    }
    TensorData::new(values, [rows.len(), x.ncols()])
}

/// A tensor's values as a vector.
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| Error::internal(format!("reading a tensor: {e:?}")))
}

/// A one-element tensor (a loss) as a number.
pub fn scalar(t: Tensor<1>) -> f64 {
    f64::from(t.into_scalar::<f32>())
}

/// A rank-2 tensor as an ndarray matrix.
pub fn to_array2(t: Tensor<2>) -> Result<Array2<f32>> {
    let [rows, cols] = t.dims();
    let values = to_vec(t)?;
    Ok(Array2::from_shape_vec((rows, cols), values).expect("tensor shape matches its data"))
}

/// How a linear layer's starting weights are drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// PyTorch's default: weights and biases from U(−1/√fan_in, 1/√fan_in).
    #[default]
    FanIn,
    /// Glorot & Bengio's uniform rule (TensorFlow's default, and what the DAGMM and ALAD
    /// reference code uses): weights from U(±√(6 / (fan_in + fan_out))), biases zero.
    Glorot,
    /// The DCGAN rule that PyTorch ports of ALAD use: weights from N(0, 0.02²), biases zero.
    Normal,
}

/// The standard deviation of [`Init::Normal`].
const NORMAL_INIT_STD: f32 = 0.02;

/// A linear layer with PyTorch's default initialisation, drawn from `rng`.
pub fn linear(d_in: usize, d_out: usize, rng: &mut ChaCha8Rng, device: &Device) -> Linear {
    linear_with(d_in, d_out, Init::FanIn, rng, device)
}

/// A linear layer initialised by `init`, drawn from `rng`.
pub fn linear_with(
    d_in: usize,
    d_out: usize,
    init: Init,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Linear {
    let uniform = |bound: f32, n: usize, rng: &mut ChaCha8Rng| -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-bound..bound)).collect()
    };
    let fan_in_bound = 1.0 / (d_in as f32).sqrt();
    let matrix =
        |values: Vec<f32>| Tensor::<2>::from_data(TensorData::new(values, [d_in, d_out]), device);
    let weight = match init {
        Init::FanIn => matrix(uniform(fan_in_bound, d_in * d_out, rng)),
        Init::Glorot => {
            let bound = (6.0 / (d_in + d_out) as f32).sqrt();
            matrix(uniform(bound, d_in * d_out, rng))
        }
        Init::Normal => gaussian([d_in, d_out], rng, device) * NORMAL_INIT_STD,
    };
    let bias = match init {
        Init::FanIn => uniform(fan_in_bound, d_out, rng),
        Init::Glorot | Init::Normal => vec![0.0; d_out],
    };
    let bias = Tensor::<1>::from_data(TensorData::new(bias, [d_out]), device);
    Linear {
        weight: Param::from_tensor(weight),
        bias: Some(Param::from_tensor(bias)),
    }
}

/// An inverted-dropout mask: each entry kept with probability 1 − p and scaled by 1/(1 − p).
pub fn dropout_mask(shape: [usize; 2], p: f64, rng: &mut ChaCha8Rng, device: &Device) -> Tensor<2> {
    let keep = 1.0 - p;
    let scale = (1.0 / keep) as f32;
    let values: Vec<f32> = (0..shape[0] * shape[1])
        .map(|_| if rng.random_bool(keep) { scale } else { 0.0 })
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Standard normal noise (reparameterisation, latent priors) from deviant's seeded RNG.
pub fn gaussian(shape: [usize; 2], rng: &mut ChaCha8Rng, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = (0..shape[0] * shape[1])
        .map(|_| crate::standard_normal(rng))
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// log Σ_j exp(t_ij) along dimension 1, computed stably (`[rows, n]` → `[rows, 1]`).
pub fn log_sum_exp(t: Tensor<2>) -> Tensor<2> {
    let max = t.clone().max_dim(1).detach();
    max.clone() + (t - max).exp().sum_dim(1).log()
}

/// The best rate, in floating-point operations per second, of `repeats` square `size` ×
/// `size` matrix products on `device`: the ceiling dense layers can reach there.
pub fn matmul_flops_per_second(device: &Device, size: usize, repeats: usize) -> f64 {
    let a = Tensor::<2>::ones([size, size], device);
    let b = Tensor::<2>::ones([size, size], device);
    // The first product on a GPU compiles its kernel; it is not timed.
    scalar(a.clone().matmul(b.clone()).slice([0..1, 0..1]).sum());
    let mut best = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        let started = std::time::Instant::now();
        // Reading one value back makes the product happen before the clock stops.
        scalar(a.clone().matmul(b.clone()).slice([0..1, 0..1]).sum());
        best = best.min(started.elapsed().as_secs_f64());
    }
    2.0 * (size as f64).powi(3) / best
}

/// Rows per scoring chunk on the CPU; chunks run in parallel.
pub const SCORE_CHUNK: usize = 1024;

/// Rows per scoring chunk on a GPU, where each chunk is a round trip and a small one leaves
/// the card idle.
pub const GPU_SCORE_CHUNK: usize = 65_536;

/// Checks `x` against the fitted width, then runs `f` on row chunks (in parallel on the CPU,
/// one after another on a GPU) and returns the results in row order. `f` also gets a
/// generator seeded by the chunk's position, so sampled scores do not depend on thread
/// timing.
pub fn in_chunks<T: Send>(
    x: ArrayView2<f32>,
    n_features: usize,
    context: &str,
    f: impl Fn(Tensor<2>, &mut ChaCha8Rng) -> Result<T> + Send + Sync,
) -> Result<Vec<T>> {
    check_input(x, n_features, context)?;
    let runtime = crate::runtime::runtime()?;
    let device = runtime.device();
    let on_gpu = runtime.on_gpu();
    let rows = if on_gpu { GPU_SCORE_CHUNK } else { SCORE_CHUNK };
    let chunks: Vec<_> = x.axis_chunks_iter(Axis(0), rows).enumerate().collect();
    let run = |(i, chunk): (usize, ArrayView2<f32>)| {
        f(
            to_tensor(chunk, &device),
            &mut ChaCha8Rng::seed_from_u64(i as u64),
        )
    };
    match on_gpu {
        // One at a time: a GPU computes one chunk at full width.
        true => chunks.into_iter().map(run).collect(),
        false => chunks.into_par_iter().map(run).collect(),
    }
}

/// Per-row values of each chunk as one vector (the usual `score`).
pub fn score_in_chunks(
    x: ArrayView2<f32>,
    n_features: usize,
    context: &str,
    f: impl Fn(Tensor<2>, &mut ChaCha8Rng) -> Result<Tensor<1>> + Send + Sync,
) -> Result<Array1<f32>> {
    let parts = in_chunks(x, n_features, context, |t, rng| to_vec(f(t, rng)?))?;
    Ok(Array1::from(parts.concat()))
}

/// Per-row, per-feature values of each chunk as one matrix (the usual `explain`).
pub fn explain_in_chunks(
    x: ArrayView2<f32>,
    n_features: usize,
    context: &str,
    f: impl Fn(Tensor<2>, &mut ChaCha8Rng) -> Result<Tensor<2>> + Send + Sync,
) -> Result<Array2<f32>> {
    let parts = in_chunks(x, n_features, context, |t, rng| to_array2(f(t, rng)?))?;
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    Ok(concatenate(Axis(0), &views).expect("chunks share their width"))
}

/// Where a deep detector's weights live in its model folder.
const WEIGHTS: &str = "weights.bpk";

/// Writes `module`'s weights into the model folder `dir`.
pub fn save_weights<M: Module>(module: &M, dir: &Path) -> Result<()> {
    let path = dir.join(WEIGHTS);
    module
        .clone()
        .save_file(&path)
        .map_err(|e| Error::format(path.display(), format!("cannot write the weights: {e}")))
}

/// Loads the weights in the model folder `dir` into `module` (built with the saved shapes).
/// The file is read whole first: burn's own file loading reads tensors lazily, so a model
/// whose folder was then replaced or removed (a temporary copy, a redeployed model) failed
/// at its first score.
pub fn load_weights<M: Module>(module: M, dir: &Path) -> Result<M> {
    let path = dir.join(WEIGHTS);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .and_then(|record| module.try_load_record(record))
        .map_err(|e| {
            Error::format(
                path.display(),
                format!("cannot load the weights ({e}); was the model saved by another version?"),
            )
        })
}

/// A hidden-layer nonlinearity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    #[default]
    Relu,
    LeakyRelu,
    Tanh,
    Sigmoid,
}

impl Activation {
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        use burn::tensor::activation;
        match self {
            Activation::Relu => activation::relu(x),
            Activation::LeakyRelu => activation::leaky_relu(x, 0.01),
            // tanh(x) = 2σ(2x) − 1: burn-flex evaluates tanh with scalar libm calls, once
            // forward and again in backward, where σ is cheaper and its backward reuses the
            // output (DAGMM on KDD: 1.36 s → 1.29 s per epoch).
            Activation::Tanh => activation::sigmoid(x * 2.0) * 2.0 - 1.0,
            Activation::Sigmoid => activation::sigmoid(x),
        }
    }
}

/// `module` with every weight redrawn from U(−bound, bound) by `rng`: for burn layers
/// (LSTMs) whose own initialisation would use the backend's generator.
pub fn reinitialise<M: Module>(module: M, bound: f32, rng: &mut ChaCha8Rng) -> M {
    struct Uniform<'a> {
        bound: f32,
        rng: &'a mut ChaCha8Rng,
    }
    impl burn::module::ModuleMapper for Uniform<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| {
                let dims = t.dims();
                let values: Vec<f32> = (0..dims.iter().product())
                    .map(|_| self.rng.random_range(-self.bound..self.bound))
                    .collect();
                let fresh = Tensor::from_data(TensorData::new(values, dims), &t.device());
                fresh.set_require_grad(t.is_require_grad())
            })
        }
    }
    module.map(&mut Uniform { bound, rng })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn tanh_through_the_sigmoid_matches_burns_tanh() {
        let values = vec![-30.0f32, -5.0, -1.0, -1e-3, 0.0, 1e-3, 0.5, 2.0, 9.0, 30.0];
        let device = cpu();
        let x = Tensor::<1>::from_data(TensorData::new(values.clone(), [values.len()]), &device);
        let ours = to_vec(Activation::Tanh.apply(x.clone())).unwrap();
        let burns = to_vec(burn::tensor::activation::tanh(x)).unwrap();
        for ((v, a), b) in values.iter().zip(&ours).zip(&burns) {
            assert!((a - b).abs() < 1e-6, "tanh({v}): {a} against {b}");
        }
    }

    #[test]
    fn initialisations_draw_within_their_bounds() {
        let rng = &mut ChaCha8Rng::seed_from_u64(7);
        let device = cpu();
        // (fan_in, fan_out) = (120, 60): fan-in bound 1/√120 ≈ 0.091, Glorot √(6/180) ≈ 0.183.
        for (init, bound) in [
            (Init::FanIn, 1.0 / 120f32.sqrt()),
            (Init::Glorot, (6.0f32 / 180.0).sqrt()),
        ] {
            let layer = linear_with(120, 60, init, rng, &device);
            let weights = to_vec(layer.weight.val()).unwrap();
            let largest = weights.iter().fold(0f32, |m, w| m.max(w.abs()));
            // 7,200 uniform draws come within 2 % of the bound, and never past it.
            assert!(
                largest <= bound && largest > 0.98 * bound,
                "{init:?}: {largest}"
            );
            let bias = to_vec(layer.bias.unwrap().val()).unwrap();
            match init {
                Init::FanIn => assert!(bias.iter().all(|b| b.abs() <= bound) && bias[0] != 0.0),
                Init::Glorot => assert!(bias.iter().all(|&b| b == 0.0)),
                Init::Normal => unreachable!(),
            }
        }
        // N(0, 0.02²): 7,200 draws put the sample deviation within 5 % of 0.02.
        let layer = linear_with(120, 60, Init::Normal, rng, &device);
        let weights = to_vec(layer.weight.val()).unwrap();
        let n = weights.len() as f32;
        let mean = weights.iter().sum::<f32>() / n;
        let std = (weights.iter().map(|w| (w - mean).powi(2)).sum::<f32>() / n).sqrt();
        assert!(
            mean.abs() < 1e-3 && (std - 0.02).abs() < 1e-3,
            "{mean} {std}"
        );
        let bias = to_vec(layer.bias.unwrap().val()).unwrap();
        assert!(bias.iter().all(|&b| b == 0.0));
    }

    #[test]
    fn gathered_rows_are_the_same_from_strided_views() {
        let x = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]];
        let rows = [2, 0, 2];
        let contiguous = gather_rows(x.view(), &rows);
        // Every other column: rows are no longer contiguous slices.
        let strided = x.slice(ndarray::s![.., ..;2]);
        let from_strided = gather_rows(strided, &rows);
        assert_eq!(
            contiguous.try_to_vec::<f32>().unwrap(),
            [7.0, 8.0, 9.0, 1.0, 2.0, 3.0, 7.0, 8.0, 9.0]
        );
        assert_eq!(
            from_strided.try_to_vec::<f32>().unwrap(),
            [7.0, 9.0, 1.0, 3.0, 7.0, 9.0]
        );
        assert_eq!(from_strided.shape().to_vec(), [3, 2]);
    }
}
