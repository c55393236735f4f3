//! Pieces the adversarially trained detectors share: the cross-entropy terms of a
//! discriminator's logits, the encoder–generator pair of BiGAN and ALAD, and their
//! discriminators on (x, z) and on pairs of the same kind.

use burn::module::Module;
use burn::nn::Linear;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu, softplus};
use rand_chacha::ChaCha8Rng;

use super::mlp::Mlp;
use super::tensor::{dropout_mask, linear};

/// −log σ(logits) averaged: the cross-entropy of calling every row "real".
pub fn said_real(logits: Tensor<2>) -> Tensor<1> {
    softplus(-logits, 1.0).mean()
}

/// −log(1 − σ(logits)) averaged: the cross-entropy of calling every row "fake".
pub fn said_fake(logits: Tensor<2>) -> Tensor<1> {
    softplus(logits, 1.0).mean()
}

/// The leaky ReLU of the BiGAN and ALAD papers (negative slope 0.2).
pub fn leaky(x: Tensor<2>) -> Tensor<2> {
    leaky_relu(x, 0.2)
}

/// Dropout while training: `rng` is `None` when evaluating.
fn dropout(h: Tensor<2>, rate: f64, rng: Option<&mut ChaCha8Rng>) -> Tensor<2> {
    match rng {
        Some(rng) if rate > 0.0 => {
            let mask = dropout_mask(h.dims(), rate, rng, &h.device());
            h * mask
        }
        _ => h,
    }
}

/// Encoder E: x → z (leaky ReLU) and generator G: z → x (ReLU), trained by one optimiser
/// against the discriminators.
#[derive(Module, Debug)]
pub struct Codec {
    encoder: Mlp,
    generator: Mlp,
}

impl Codec {
    /// Encoder `n_features → encoder_hidden… → latent`, generator
    /// `latent → generator_hidden… → n_features`.
    pub fn new(
        n_features: usize,
        latent: usize,
        encoder_hidden: &[usize],
        generator_hidden: &[usize],
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let encoder = [&[n_features], encoder_hidden, &[latent]].concat();
        let generator = [&[latent], generator_hidden, &[n_features]].concat();
        Self {
            encoder: Mlp::new(&encoder, true, rng, device),
            generator: Mlp::new(&generator, true, rng, device),
        }
    }

    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        self.encoder.forward_with(x, leaky, None)
    }

    pub fn generate(&self, z: Tensor<2>) -> Tensor<2> {
        self.generator.forward_with(z, relu, None)
    }
}

/// D_xz: tells encoder pairs (x, E(x)) from generator pairs (G(z), z). Each input gets its
/// own layer, the joined features one more, then a logit.
#[derive(Module, Debug)]
pub struct XzDiscriminator {
    x_in: Linear,
    z_in: Linear,
    joint: Linear,
    out: Linear,
    rate: f64,
}

impl XzDiscriminator {
    pub fn new(
        n_features: usize,
        latent: usize,
        width: usize,
        rate: f64,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        Self {
            x_in: linear(n_features, width, rng, device),
            z_in: linear(latent, width, rng, device),
            joint: linear(2 * width, width, rng, device),
            out: linear(width, 1, rng, device),
            rate,
        }
    }

    /// Logits `[B, 1]` and the joint layer's features `[B, width]`; dropout when `rng` is
    /// given (training).
    pub fn forward(
        &self,
        x: Tensor<2>,
        z: Tensor<2>,
        mut rng: Option<&mut ChaCha8Rng>,
    ) -> (Tensor<2>, Tensor<2>) {
        let hx = leaky(self.x_in.forward(x));
        let hz = dropout(leaky(self.z_in.forward(z)), self.rate, rng.as_deref_mut());
        let features = leaky(self.joint.forward(Tensor::cat(vec![hx, hz], 1)));
        let logits = self.out.forward(dropout(features.clone(), self.rate, rng));
        (logits, features)
    }
}

/// D_xx or D_zz of ALAD: tells (a, a) from (a, reconstruction of a), through one hidden layer.
#[derive(Module, Debug)]
pub struct PairDiscriminator {
    hidden: Linear,
    out: Linear,
    rate: f64,
}

impl PairDiscriminator {
    pub fn new(
        width_in: usize,
        width: usize,
        rate: f64,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        Self {
            hidden: linear(2 * width_in, width, rng, device),
            out: linear(width, 1, rng, device),
            rate,
        }
    }

    /// Logits `[B, 1]` and hidden features `[B, width]` of the pair (a, b).
    pub fn forward(
        &self,
        a: Tensor<2>,
        b: Tensor<2>,
        rng: Option<&mut ChaCha8Rng>,
    ) -> (Tensor<2>, Tensor<2>) {
        let features = leaky(self.hidden.forward(Tensor::cat(vec![a, b], 1)));
        let logits = self.out.forward(dropout(features.clone(), self.rate, rng));
        (logits, features)
    }
}

/// Adam with β1 = 0.5, the GAN papers' setting.
pub fn adam() -> ModuleOptimizer {
    AdamConfig::new().with_beta_1(0.5).init()
}
