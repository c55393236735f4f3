//! Pieces the adversarially trained detectors share: the cross-entropy terms of a
//! discriminator's logits, the encoder–generator pair of BiGAN and ALAD, and their
//! discriminators on (x, z) and on pairs of the same kind.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::nn::Linear;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu, softplus};
use rand_chacha::ChaCha8Rng;

use super::mlp::Mlp;
use super::tensor::{Init, dropout_mask, gaussian, linear_with};

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
        init: Init,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let encoder = [&[n_features], encoder_hidden, &[latent]].concat();
        let generator = [&[latent], generator_hidden, &[n_features]].concat();
        Self {
            encoder: Mlp::with_init(&encoder, true, init, rng, device),
            generator: Mlp::with_init(&generator, true, init, rng, device),
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
        init: Init,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let mut linear = |d_in, d_out| linear_with(d_in, d_out, init, rng, device);
        Self {
            x_in: linear(n_features, width),
            z_in: linear(latent, width),
            joint: linear(2 * width, width),
            out: linear(width, 1),
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
        init: Init,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        Self {
            hidden: linear_with(2 * width_in, width, init, rng, device),
            out: linear_with(width, 1, init, rng, device),
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

/// Spectral normalisation (Miyato et al. 2018) of a discriminator's weight matrices: each is
/// divided by an estimate of its largest singular value, refined by one power-iteration step
/// per training step from vectors kept between steps. The division stays in the graph, so
/// gradients reach the stored weights through it.
pub struct SpectralNorm {
    /// One right-singular-vector estimate `[d_out, 1]` (unit length, no autodiff) per weight
    /// matrix `[d_in, d_out]`, in the order the module's parameters are visited.
    vectors: Vec<Tensor<2>>,
}

/// The weight matrices of a module, visited in order, as constants `[d_in, d_out]`.
struct Matrices<F: FnMut(Tensor<2>)>(F);

impl<F: FnMut(Tensor<2>)> ModuleVisitor for Matrices<F> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // Biases (rank 1) are left alone.
        if D == 2 {
            let w = param.val().inner();
            let [rows, cols] = [w.dims()[0], w.dims()[1]];
            (self.0)(w.reshape([rows, cols]));
        }
    }
}

impl SpectralNorm {
    /// Random unit starting vectors for every weight matrix of `module`.
    pub fn new<M: Module>(module: &M, rng: &mut ChaCha8Rng) -> Self {
        let mut vectors = Vec::new();
        module.visit(&mut Matrices(|w: Tensor<2>| {
            vectors.push(unit(gaussian([w.dims()[1], 1], rng, &w.device())));
        }));
        Self { vectors }
    }

    /// One power-iteration step for each weight matrix of `module` (once per training step).
    pub fn refine<M: Module>(&mut self, module: &M) {
        let mut vectors = self.vectors.iter_mut();
        module.visit(&mut Matrices(|w: Tensor<2>| {
            let u = vectors.next().expect("the same module as at construction");
            let v = unit(w.clone().matmul(u.clone()));
            *u = unit(w.transpose().matmul(v));
        }));
    }

    /// `module` with each weight matrix W replaced by W / σ(W), σ(W) = ‖W u‖ for the kept
    /// estimate u, differentiable through W.
    pub fn apply<M: Module>(&self, module: M) -> M {
        module.map(&mut Normalise {
            vectors: self.vectors.iter(),
        })
    }
}

/// `module` normalised by `spectral` when there is one, as it is otherwise.
pub fn normalised<M: Module>(spectral: &Option<SpectralNorm>, module: M) -> M {
    match spectral {
        Some(norm) => norm.apply(module),
        None => module,
    }
}

struct Normalise<'a> {
    vectors: std::slice::Iter<'a, Tensor<2>>,
}

/// `t / ‖t‖` for a column vector.
fn unit(t: Tensor<2>) -> Tensor<2> {
    t.clone() / (t.square().sum().sqrt() + 1e-12).reshape([1, 1])
}

impl ModuleMapper for Normalise<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if D != 2 {
            return param;
        }
        let u = self
            .vectors
            .next()
            .expect("the same module as at construction")
            .clone();
        param.map(|w| {
            let dims = w.dims();
            let w: Tensor<2> = w.reshape([dims[0], dims[1]]);
            // v is a constant, as in the paper: σ = vᵀ W u is differentiated through W only.
            let v = unit(w.clone().inner().matmul(u.clone()));
            let sigma = v.transpose().matmul(w.clone()).matmul(u);
            (w / sigma).reshape(dims)
        })
    }
}

#[cfg(test)]
mod tests {
    use burn::optim::GradientsParams;
    use burn::tensor::TensorData;
    use rand::SeedableRng;

    use super::*;
    use crate::deep::tensor::{cpu, to_vec};

    /// A layer `[d_in, d_out] = [3, 2]` whose largest singular value is 3.
    fn layer(device: &Device) -> Linear {
        let mut layer = linear_with(
            3,
            2,
            Init::Glorot,
            &mut ChaCha8Rng::seed_from_u64(1),
            device,
        );
        let weight = [3.0f32, 0.0, 0.0, 1.0, 0.0, 0.0];
        layer.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(weight.to_vec(), [3, 2]),
            device,
        ));
        layer
    }

    #[test]
    fn spectral_norm_divides_by_the_largest_singular_value() {
        let device = cpu();
        let layer = layer(&device);
        let mut norm = SpectralNorm::new(&layer, &mut ChaCha8Rng::seed_from_u64(2));
        for _ in 0..30 {
            norm.refine(&layer);
        }
        let normalised = to_vec(norm.apply(layer).weight.val()).unwrap();
        let expected = [1.0f32, 0.0, 0.0, 1.0 / 3.0, 0.0, 0.0];
        for (got, want) in normalised.iter().zip(expected) {
            assert!((got - want).abs() < 1e-4, "{normalised:?}");
        }
    }

    #[test]
    fn gradients_reach_the_stored_weights_through_the_normalisation() {
        let device = cpu().autodiff();
        let layer = layer(&device);
        let norm = SpectralNorm::new(&layer, &mut ChaCha8Rng::seed_from_u64(2));
        let x = Tensor::<2>::ones([4, 3], &device);
        let loss = norm.apply(layer.clone()).forward(x).sum();
        let mut grads = GradientsParams::from_grads(loss.backward(), &layer);
        let weight = grads
            .remove::<2>(layer.weight.id)
            .expect("a gradient for the stored weight");
        assert!(to_vec(weight).unwrap().iter().any(|g| g.abs() > 1e-3));
    }
}
