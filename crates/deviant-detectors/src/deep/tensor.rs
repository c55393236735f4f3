//! Moving data between ndarray and burn, and building layers from deviant's own seeded RNG
//! (so initialisation never depends on a backend's global generator or on thread timing).

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::TensorData;
use deviant_core::{Error, Result};
use ndarray::{Array2, ArrayView2};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The CPU device deep models use.
pub fn cpu() -> Device {
    Device::flex()
}

/// Copies `x` (rows × features) into a tensor on `device`.
pub fn to_tensor(x: ArrayView2<f32>, device: &Device) -> Tensor<2> {
    let shape = [x.nrows(), x.ncols()];
    let values: Vec<f32> = x.iter().copied().collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// The rows `rows` of `x` as one tensor.
pub fn gather_rows(x: ArrayView2<f32>, rows: &[usize], device: &Device) -> Tensor<2> {
    let mut values = Vec::with_capacity(rows.len() * x.ncols());
    for &r in rows {
        values.extend(x.row(r).iter().copied());
    }
    Tensor::from_data(TensorData::new(values, [rows.len(), x.ncols()]), device)
}

/// A tensor's values as a vector.
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Other(format!("reading a tensor: {e:?}")))
}

/// A rank-2 tensor as an ndarray matrix.
pub fn to_array2(t: Tensor<2>) -> Result<Array2<f32>> {
    let [rows, cols] = t.dims();
    let values = to_vec(t)?;
    Ok(Array2::from_shape_vec((rows, cols), values).expect("tensor shape matches its data"))
}

/// A linear layer with PyTorch's default initialisation, U(−1/√fan_in, 1/√fan_in), drawn
/// from `rng`.
pub fn linear(d_in: usize, d_out: usize, rng: &mut ChaCha8Rng, device: &Device) -> Linear {
    let bound = 1.0 / (d_in as f32).sqrt();
    let mut uniform =
        |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..bound)).collect() };
    let weight = Tensor::<2>::from_data(
        TensorData::new(uniform(d_in * d_out), [d_in, d_out]),
        device,
    );
    let bias = Tensor::<1>::from_data(TensorData::new(uniform(d_out), [d_out]), device);
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
            Activation::Tanh => activation::tanh(x),
            Activation::Sigmoid => activation::sigmoid(x),
        }
    }
}
