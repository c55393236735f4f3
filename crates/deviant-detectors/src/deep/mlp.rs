//! The dense stack every deep detector builds from: linear layers with one nonlinearity
//! between them (none after the last), optional dropout on the hidden layers.

use burn::module::Module;
use burn::nn::Linear;
use burn::prelude::*;
use rand_chacha::ChaCha8Rng;

use super::tensor::{Activation, Init, dropout_mask, linear_with};

#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    /// Layers `widths[0] → widths[1] → …`; `bias = false` gives bias-free layers (Deep SVDD).
    pub fn new(widths: &[usize], bias: bool, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        Self::with_init(widths, bias, Init::FanIn, rng, device)
    }

    /// [`Self::new`] with the weights drawn by `init`.
    pub fn with_init(
        widths: &[usize],
        bias: bool,
        init: Init,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let layers = widths
            .windows(2)
            .map(|w| {
                let mut layer = linear_with(w[0], w[1], init, rng, device);
                if !bias {
                    layer.bias = None;
                }
                layer
            })
            .collect();
        Self { layers }
    }

    /// `dropout` (rate, rng) applies after each hidden activation while training.
    ///
    /// # Shapes
    /// - `x`: `[batch, widths[0]]` → `[batch, widths.last()]`
    pub fn forward(
        &self,
        x: Tensor<2>,
        activation: Activation,
        dropout: Option<(f64, &mut ChaCha8Rng)>,
    ) -> Tensor<2> {
        self.forward_with(x, |h| activation.apply(h), dropout)
    }

    /// [`Self::forward`] with any nonlinearity (the GANs' leaky ReLU with slope 0.2).
    pub fn forward_with(
        &self,
        x: Tensor<2>,
        activation: impl Fn(Tensor<2>) -> Tensor<2>,
        mut dropout: Option<(f64, &mut ChaCha8Rng)>,
    ) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = activation(h);
                if let Some((rate, rng)) = dropout.as_mut() {
                    let mask = dropout_mask(h.dims(), *rate, rng, &h.device());
                    h = h * mask;
                }
            }
        }
        h
    }

    /// [`Self::forward_with`] with each layer's weights multiplied by a constant mask of the
    /// same `[d_in, d_out]` shape (MADE's autoregressive connectivity).
    pub fn forward_masked(
        &self,
        x: Tensor<2>,
        activation: impl Fn(Tensor<2>) -> Tensor<2>,
        masks: &[Tensor<2>],
    ) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, (layer, mask)) in self.layers.iter().zip(masks).enumerate() {
            h = h.matmul(layer.weight.val() * mask.clone());
            if let Some(bias) = &layer.bias {
                h = h + bias.val().unsqueeze_dim(0);
            }
            if i < last {
                h = activation(h);
            }
        }
        h
    }
}
