use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::ops::PadMode;
use deviant_core::Result;
use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::ConvAeConfig;
use super::config::ImageShape;
use crate::deep::detector::{DeepDetector, DeepKind, NoState};
use crate::deep::tensor::{linear, reinitialise};
use crate::deep::train::{ReconstructionStep, Reconstructs};
use crate::deep_detector;

#[derive(Module, Debug)]
pub struct ConvAeNet {
    down: [Conv2d; 2],
    encode: Linear,
    decode: Linear,
    up: [ConvTranspose2d; 2],
    /// Channels, height and width of an image, and the same sides padded to multiples of 4.
    shape: [usize; 5],
}

impl ConvAeNet {
    fn new(
        config: &ConvAeConfig,
        shape: ImageShape,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let [f1, f2] = config.filters;
        let c = shape.channels;
        // PyTorch's initialisation bound 1/√fan_in, drawn from deviant's generator.
        let bound = |fan_in: usize| 1.0 / (fan_in as f32).sqrt();
        let conv = |c_in: usize, c_out: usize, rng: &mut ChaCha8Rng| {
            let layer = Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device);
            reinitialise(layer, bound(c_in * 9), rng)
        };
        let deconv = |c_in: usize, c_out: usize, rng: &mut ChaCha8Rng| {
            let layer = ConvTranspose2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_padding_out([1, 1])
                .init(device);
            reinitialise(layer, bound(c_out * 9), rng)
        };
        let (height, width) = (shape.height.div_ceil(4) * 4, shape.width.div_ceil(4) * 4);
        let grid = f2 * (height / 4) * (width / 4);
        Self {
            down: [conv(c, f1, rng), conv(f1, f2, rng)],
            encode: linear(grid, config.latent, rng, device),
            decode: linear(config.latent, grid, rng, device),
            up: [deconv(f2, f1, rng), deconv(f1, c, rng)],
            shape: [c, shape.height, shape.width, height, width],
        }
    }
}

impl Reconstructs for ConvAeNet {
    fn errors(&self, x: Tensor<2>) -> Tensor<2> {
        let [rows, n] = x.dims();
        let [c, h, w, padded_h, padded_w] = self.shape;
        let mut t = x
            .clone()
            .reshape([rows, c, h, w])
            .pad((0, padded_w - w, 0, padded_h - h), PadMode::Constant(0.0));
        for conv in &self.down {
            t = relu(conv.forward(t));
        }
        let [_, maps, grid_h, grid_w] = t.dims();
        let code = relu(
            self.encode
                .forward(t.reshape([rows, maps * grid_h * grid_w])),
        );
        let mut t = relu(self.decode.forward(code)).reshape([rows, maps, grid_h, grid_w]);
        t = relu(self.up[0].forward(t));
        let rebuilt = self.up[1]
            .forward(t)
            .narrow(2, 0, h)
            .narrow(3, 0, w)
            .reshape([rows, n]);
        (rebuilt - x).square()
    }
}

/// A fitted convolutional autoencoder.
pub type ConvAutoencoder = DeepDetector<ConvAeConfig>;

deep_detector!(
    ConvAeConfig,
    "conv_ae",
    ConvAeNet,
    ReconstructionStep<ConvAeNet>
);

impl DeepKind for ConvAeConfig {
    const EXPLAINS: bool = true;

    fn start(
        &self,
        x: ArrayView2<f32>,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<ReconstructionStep<ConvAeNet>> {
        Ok(ReconstructionStep::new(
            ConvAeNet::new(self, self.shape(x.ncols())?, rng, device),
            self.learning_rate,
        ))
    }

    fn blank(&self, n_features: usize, _state: &NoState, device: &Device) -> Result<ConvAeNet> {
        let shape = self.shape(n_features)?;
        Ok(ConvAeNet::new(
            self,
            shape,
            &mut ChaCha8Rng::seed_from_u64(0),
            device,
        ))
    }

    /// Mean squared pixel error.
    fn score_rows(ae: &ConvAutoencoder, x: Tensor<2>, _rng: &mut ChaCha8Rng) -> Result<Tensor<1>> {
        Ok(ae.net.errors(x).mean_dim(1).squeeze_dim(1))
    }

    /// Squared error per pixel.
    fn explain_rows(ae: &ConvAutoencoder, x: Tensor<2>) -> Result<Tensor<2>> {
        Ok(ae.net.errors(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::train::LoopConfig;
    use deviant_core::{Dataset, Detector, DetectorConfig, FitContext};
    use ndarray::Array2;

    /// 8 × 8 images of a bar at varying rows are learnt; a bar turned on its side scores
    /// well above them.
    #[test]
    fn learns_horizontal_bars_and_flags_a_vertical_one() {
        let image = |row: usize, vertical: bool| -> Vec<f32> {
            (0..64)
                .map(|p| {
                    let (r, c) = (p / 8, p % 8);
                    f32::from(u8::from(if vertical { c == row } else { r == row }))
                })
                .collect()
        };
        let train: Vec<f32> = (0..240).flat_map(|i| image(1 + i % 6, false)).collect();
        let train = Array2::from_shape_vec((240, 64), train).unwrap();
        let config = ConvAeConfig {
            filters: [8, 8],
            latent: 8,
            learning_rate: 3e-3,
            training: LoopConfig {
                epochs: 60,
                batch_size: 32,
                patience: 0,
                ..LoopConfig::default()
            },
            ..ConvAeConfig::default()
        };
        let model = config
            .fit(&Dataset::new(train.clone(), None), &FitContext::new(2))
            .unwrap();
        let worst = model
            .score(train.view())
            .unwrap()
            .iter()
            .copied()
            .fold(0.0, f32::max);
        let odd = Array2::from_shape_vec((1, 64), image(3, true)).unwrap();
        let odd = model.score(odd.view()).unwrap()[0];
        assert!(
            odd > 2.0 * worst,
            "vertical bar {odd}, worst horizontal {worst}"
        );
    }

    #[test]
    fn rows_must_form_images() {
        let square = ConvAeConfig::default();
        let seven_rows = ConvAeConfig {
            height: Some(7),
            ..ConvAeConfig::default()
        };
        for (config, n, clue) in [
            (&square, 50, "not a square"),
            (&seven_rows, 50, "do not divide"),
        ] {
            let err = config
                .fit(
                    &Dataset::new(Array2::zeros((10, n)), None),
                    &FitContext::new(1),
                )
                .unwrap_err()
                .to_string();
            assert!(err.contains(clue), "{n}: {err}");
        }
    }
}
