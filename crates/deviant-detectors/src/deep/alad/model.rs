use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use deviant_core::Result;
use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::AladConfig;
use crate::deep::adversarial::{
    Codec, PairDiscriminator, SpectralNorm, XzDiscriminator, adam, normalised, said_fake, said_real,
};
use crate::deep::bigan::{losses, reconstruction_error};
use crate::deep::detector::{DeepDetector, DeepKind, NoState};
use crate::deep::tensor::{gaussian, scalar};
use crate::deep::train::{Losses, TrainStep, descend};
use crate::deep_detector;

fn codec(config: &AladConfig, n_features: usize, rng: &mut ChaCha8Rng, device: &Device) -> Codec {
    Codec::new(
        n_features,
        config.latent,
        &config.encoder_hidden,
        &config.generator_hidden,
        config.init,
        rng,
        device,
    )
}

/// What the score needs: the encoder, the generator and D_xx.
#[derive(Module, Debug)]
pub struct AladNet {
    codec: Codec,
    xx: PairDiscriminator,
}

impl AladNet {
    /// Reconstruction residuals |x − G(E(x))| `[B, features]` and the score, the L1 distance
    /// between D_xx's features of (x, x) and (x, G(E(x))) `[B]`.
    fn residuals(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let reconstruction = self.codec.generate(self.codec.encode(x.clone()));
        let (_, same) = self.xx.forward(x.clone(), x.clone(), None);
        let (_, rebuilt) = self.xx.forward(x.clone(), reconstruction.clone(), None);
        let distance = (same - rebuilt).abs().sum_dim(1).squeeze_dim(1);
        ((x - reconstruction).abs(), distance)
    }
}

/// The three discriminators, trained by one optimiser (each loss term involves one of them).
#[derive(Module, Debug)]
struct Critics {
    xz: XzDiscriminator,
    xx: PairDiscriminator,
    zz: PairDiscriminator,
}

impl Critics {
    fn new(config: &AladConfig, n_features: usize, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        Self {
            xz: XzDiscriminator::new(
                n_features,
                config.latent,
                config.xz_width,
                config.xz_dropout,
                config.init,
                rng,
                device,
            ),
            xx: PairDiscriminator::new(
                n_features,
                config.xx_width,
                config.pair_dropout,
                config.init,
                rng,
                device,
            ),
            zz: PairDiscriminator::new(
                config.latent,
                config.zz_width,
                config.pair_dropout,
                config.init,
                rng,
                device,
            ),
        }
    }
}

/// One batch's passes through the encoder and generator: E(x), G(z), G(E(x)), E(G(z)).
struct Passes {
    encoded: Tensor<2>,
    generated: Tensor<2>,
    rebuilt_x: Tensor<2>,
    rebuilt_z: Tensor<2>,
}

impl Passes {
    fn new(codec: &Codec, x: Tensor<2>, z: Tensor<2>) -> Self {
        let encoded = codec.encode(x);
        let generated = codec.generate(z);
        Self {
            rebuilt_x: codec.generate(encoded.clone()),
            rebuilt_z: codec.encode(generated.clone()),
            encoded,
            generated,
        }
    }

    /// Passes computed on the plain device as constants on the autodiff one.
    fn lift(self) -> Self {
        Self {
            encoded: Tensor::from_inner(self.encoded),
            generated: Tensor::from_inner(self.generated),
            rebuilt_x: Tensor::from_inner(self.rebuilt_x),
            rebuilt_z: Tensor::from_inner(self.rebuilt_z),
        }
    }
}

impl Critics {
    /// The discriminators' loss (real: (x, E(x)), (x, x), (z, z); fake: (G(z), z),
    /// (x, G(E(x))), (z, E(G(z)))) and the codec's loss with the labels swapped.
    fn losses(
        &self,
        x: Tensor<2>,
        z: Tensor<2>,
        passes: Passes,
        mut rng: Option<&mut ChaCha8Rng>,
    ) -> (Tensor<1>, Tensor<1>) {
        let pairs = [
            (
                self.xz
                    .forward(x.clone(), passes.encoded, rng.as_deref_mut())
                    .0,
                self.xz
                    .forward(passes.generated, z.clone(), rng.as_deref_mut())
                    .0,
            ),
            (
                self.xx.forward(x.clone(), x.clone(), rng.as_deref_mut()).0,
                self.xx.forward(x, passes.rebuilt_x, rng.as_deref_mut()).0,
            ),
            (
                self.zz.forward(z.clone(), z.clone(), rng.as_deref_mut()).0,
                self.zz.forward(z, passes.rebuilt_z, rng).0,
            ),
        ];
        let mut discriminators = Vec::new();
        let mut codec = Vec::new();
        for (real, fake) in pairs {
            discriminators.push(said_real(real.clone()) + said_fake(fake.clone()));
            codec.push(said_fake(real) + said_real(fake));
        }
        let sum = |terms: Vec<Tensor<1>>| Tensor::cat(terms, 0).sum();
        (sum(discriminators), sum(codec))
    }
}

/// Discriminators first, then encoder and generator against the updated discriminators, on
/// the same batch and prior sample (as in the paper's code).
pub struct AladStep {
    codec: Codec,
    critics: Critics,
    codec_optimizer: ModuleOptimizer,
    critics_optimizer: ModuleOptimizer,
    /// With `spectral_norm`: the critics' weights are used divided by their spectral norms.
    spectral: Option<SpectralNorm>,
    learning_rate: f64,
    latent: usize,
}

impl TrainStep for AladStep {
    fn step(mut self, batch: Tensor<2>, rng: &mut ChaCha8Rng) -> (Self, Losses) {
        let z = gaussian([batch.dims()[0], self.latent], rng, &batch.device());
        // The critics' inputs are constants: pass them without recording a graph.
        let passes = Passes::new(
            &self.codec.valid(),
            batch.clone().inner(),
            z.clone().inner(),
        )
        .lift();
        if let Some(spectral) = &mut self.spectral {
            spectral.refine(&self.critics);
        }
        let critics = normalised(&self.spectral, self.critics.clone());
        let (d_loss, _) = critics.losses(batch.clone(), z.clone(), passes, Some(rng));
        let d_value = scalar(d_loss.clone());
        self.critics = descend(
            &mut self.critics_optimizer,
            self.learning_rate,
            self.critics,
            d_loss,
        );

        let passes = Passes::new(&self.codec, batch.clone(), z.clone());
        // Only the codec learns from this loss: no gradients for the critics' weights.
        let critics = normalised(&self.spectral, self.critics.clone().no_grad());
        let (_, g_loss) = critics.losses(batch.clone(), z, passes, Some(rng));
        let g_value = scalar(g_loss.clone());
        self.codec = descend(
            &mut self.codec_optimizer,
            self.learning_rate,
            self.codec,
            g_loss,
        );
        let reconstruction = reconstruction_error(&self.codec.valid(), batch.inner());
        (self, losses(reconstruction, d_value, g_value))
    }

    fn evaluate(&self, batch: Tensor<2>) -> Losses {
        let codec = self.codec.valid();
        let critics = normalised(&self.spectral, self.critics.valid());
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let z = gaussian([batch.dims()[0], self.latent], &mut rng, &batch.device());
        let passes = Passes::new(&codec, batch.clone(), z.clone());
        let (d_loss, g_loss) = critics.losses(batch.clone(), z, passes, None);
        let reconstruction = reconstruction_error(&codec, batch);
        losses(reconstruction, scalar(d_loss), scalar(g_loss))
    }
}

/// A fitted ALAD detector.
pub type Alad = DeepDetector<AladConfig>;

deep_detector!(AladConfig, "alad", AladNet, AladStep, state: NoState, finish: trained);

impl DeepKind for AladConfig {
    const EXPLAINS: bool = true;

    fn start(&self, x: ArrayView2<f32>, rng: &mut ChaCha8Rng, device: &Device) -> Result<AladStep> {
        let codec = codec(self, x.ncols(), rng, device);
        let critics = Critics::new(self, x.ncols(), rng, device);
        Ok(AladStep {
            codec,
            spectral: self.spectral_norm.then(|| SpectralNorm::new(&critics, rng)),
            critics,
            codec_optimizer: adam(),
            critics_optimizer: adam(),
            learning_rate: self.learning_rate,
            latent: self.latent,
        })
    }

    fn blank(&self, n_features: usize, _state: &NoState, device: &Device) -> Result<AladNet> {
        let rng = &mut ChaCha8Rng::seed_from_u64(0);
        Ok(AladNet {
            codec: codec(self, n_features, rng, device),
            xx: PairDiscriminator::new(
                n_features,
                self.xx_width,
                self.pair_dropout,
                self.init,
                rng,
                device,
            ),
        })
    }

    fn score_rows(alad: &Alad, x: Tensor<2>, _rng: &mut ChaCha8Rng) -> Result<Tensor<1>> {
        Ok(alad.net.residuals(x).1)
    }

    /// Per-feature |x − G(E(x))|: the score compares discriminator features, not input
    /// features, so the reconstruction residual stands in for which features were off.
    fn explain_rows(alad: &Alad, x: Tensor<2>) -> Result<Tensor<2>> {
        Ok(alad.net.residuals(x).0)
    }
}

/// The saved D_xx carries its normalised weights, so scoring needs no spectral state.
fn trained(
    _config: &AladConfig,
    step: AladStep,
    _x: ArrayView2<f32>,
) -> Result<(AladNet, NoState)> {
    let critics = normalised(&step.spectral, step.critics.valid());
    let net = AladNet {
        codec: step.codec.valid(),
        xx: critics.xx,
    };
    Ok((net, NoState {}))
}
