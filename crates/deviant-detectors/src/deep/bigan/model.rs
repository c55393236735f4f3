use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use deviant_core::Result;
use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::BiganConfig;
use crate::deep::adversarial::{
    Codec, SpectralNorm, XzDiscriminator, adam, normalised, said_fake, said_real,
};
use crate::deep::detector::{DeepDetector, DeepKind, NoState};
use crate::deep::tensor::{gaussian, scalar};
use crate::deep::train::{Losses, TrainStep, descend};
use crate::deep_detector;

/// Everything the score needs: the encoder, the generator and the discriminator's features.
#[derive(Module, Debug)]
pub struct BiganNet {
    codec: Codec,
    discriminator: XzDiscriminator,
}

impl BiganNet {
    fn new(config: &BiganConfig, n_features: usize, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        Self {
            codec: Codec::new(
                n_features,
                config.latent,
                &config.encoder_hidden,
                &config.generator_hidden,
                config.init,
                rng,
                device,
            ),
            discriminator: XzDiscriminator::new(
                n_features,
                config.latent,
                config.discriminator_width,
                config.discriminator_dropout,
                config.init,
                rng,
                device,
            ),
        }
    }

    /// Reconstruction residuals |x − G(E(x))| `[B, features]` and the feature-matching
    /// distances ‖f(x, E(x)) − f(G(E(x)), E(x))‖₁ `[B]`.
    fn residuals(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let z = self.codec.encode(x.clone());
        let reconstruction = self.codec.generate(z.clone());
        let (_, real) = self.discriminator.forward(x.clone(), z.clone(), None);
        let (_, fake) = self.discriminator.forward(reconstruction.clone(), z, None);
        let matching = (real - fake).abs().sum_dim(1).squeeze_dim(1);
        ((x - reconstruction).abs(), matching)
    }

    /// Discriminator loss on (x, E(x)) as real and (G(z), z) as fake, and the codec's loss
    /// with the labels swapped. `rng` drives dropout while training.
    fn adversarial_losses(
        &self,
        x: Tensor<2>,
        z: Tensor<2>,
        codec_detached: bool,
        mut rng: Option<&mut ChaCha8Rng>,
    ) -> (Tensor<1>, Tensor<1>) {
        let (mut encoded, mut generated) =
            (self.codec.encode(x.clone()), self.codec.generate(z.clone()));
        if codec_detached {
            (encoded, generated) = (encoded.detach(), generated.detach());
        }
        let (real, _) = self.discriminator.forward(x, encoded, rng.as_deref_mut());
        let (fake, _) = self.discriminator.forward(generated, z, rng);
        let discriminator = said_real(real.clone()) + said_fake(fake.clone());
        let codec = said_fake(real) + said_real(fake);
        (discriminator, codec)
    }
}

/// The discriminator steps first, then the encoder and generator against the updated
/// discriminator, on the same batch and the same prior sample.
pub struct BiganStep {
    net: BiganNet,
    codec_optimizer: ModuleOptimizer,
    discriminator_optimizer: ModuleOptimizer,
    /// With `spectral_norm`: the discriminator's weights are used divided by their spectral
    /// norms.
    spectral: Option<SpectralNorm>,
    learning_rate: f64,
    latent: usize,
}

impl BiganStep {
    /// The codec with `discriminator` as the losses see it.
    fn normalised(&self, discriminator: XzDiscriminator) -> BiganNet {
        BiganNet {
            codec: self.net.codec.clone(),
            discriminator: normalised(&self.spectral, discriminator),
        }
    }
}

impl TrainStep for BiganStep {
    fn step(mut self, batch: Tensor<2>, rng: &mut ChaCha8Rng) -> (Self, Losses) {
        let z = gaussian([batch.dims()[0], self.latent], rng, &batch.device());
        if let Some(spectral) = &mut self.spectral {
            spectral.refine(&self.net.discriminator);
        }
        let (d_loss, _) = self
            .normalised(self.net.discriminator.clone())
            .adversarial_losses(batch.clone(), z.clone(), true, Some(rng));
        let d_value = scalar(d_loss.clone());
        self.net.discriminator = descend(
            &mut self.discriminator_optimizer,
            self.learning_rate,
            self.net.discriminator,
            d_loss,
        );

        // Only the codec learns from this loss: no gradients for the discriminator's weights.
        let net = self.normalised(self.net.discriminator.clone().no_grad());
        let (_, g_loss) = net.adversarial_losses(batch.clone(), z, false, Some(rng));
        let g_value = scalar(g_loss.clone());
        self.net.codec = descend(
            &mut self.codec_optimizer,
            self.learning_rate,
            self.net.codec,
            g_loss,
        );
        let reconstruction = reconstruction_error(&self.net.codec.valid(), batch.inner());
        (self, losses(reconstruction, d_value, g_value))
    }

    fn evaluate(&self, batch: Tensor<2>) -> Losses {
        let net = self.normalised(self.net.discriminator.clone()).valid();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let z = gaussian([batch.dims()[0], self.latent], &mut rng, &batch.device());
        let (d_loss, g_loss) = net.adversarial_losses(batch.clone(), z, true, None);
        let reconstruction = reconstruction_error(&net.codec, batch);
        losses(reconstruction, scalar(d_loss), scalar(g_loss))
    }
}

/// Mean |x − G(E(x))| per feature: what the monitored "loss" reports for both GANs.
pub(crate) fn reconstruction_error(codec: &Codec, x: Tensor<2>) -> f64 {
    let reconstruction = codec.generate(codec.encode(x.clone())).detach();
    scalar((x - reconstruction).abs().mean())
}

/// The monitored "loss" is the reconstruction error: the adversarial losses oscillate by
/// design and say little about progress on their own.
pub(crate) fn losses(reconstruction: f64, discriminator: f64, codec: f64) -> Losses {
    Losses(vec![
        ("loss", reconstruction),
        ("discriminator", discriminator),
        ("generator", codec),
    ])
}

/// A fitted BiGAN.
pub type Bigan = DeepDetector<BiganConfig>;

deep_detector!(BiganConfig, "bigan", BiganNet, BiganStep, state: NoState, finish: trained);

impl DeepKind for BiganConfig {
    const EXPLAINS: bool = true;

    fn start(
        &self,
        x: ArrayView2<f32>,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<BiganStep> {
        let net = BiganNet::new(self, x.ncols(), rng, device);
        Ok(BiganStep {
            spectral: self
                .spectral_norm
                .then(|| SpectralNorm::new(&net.discriminator, rng)),
            net,
            codec_optimizer: adam(),
            discriminator_optimizer: adam(),
            learning_rate: self.learning_rate,
            latent: self.latent,
        })
    }

    fn blank(&self, n_features: usize, _state: &NoState, device: &Device) -> Result<BiganNet> {
        Ok(BiganNet::new(
            self,
            n_features,
            &mut ChaCha8Rng::seed_from_u64(0),
            device,
        ))
    }

    /// α·‖x − G(E(x))‖₁ + (1 − α)·feature-matching distance.
    fn score_rows(bigan: &Bigan, x: Tensor<2>, _rng: &mut ChaCha8Rng) -> Result<Tensor<1>> {
        let alpha = bigan.config.alpha;
        let (residuals, matching) = bigan.net.residuals(x);
        Ok(residuals.sum_dim(1).squeeze_dim(1) * alpha + matching * (1.0 - alpha))
    }

    /// Per-feature |x − G(E(x))|: the reconstruction part of the score.
    fn explain_rows(bigan: &Bigan, x: Tensor<2>) -> Result<Tensor<2>> {
        Ok(bigan.net.residuals(x).0)
    }
}

/// The saved discriminator carries its normalised weights, so scoring needs no spectral
/// state.
fn trained(
    _config: &BiganConfig,
    step: BiganStep,
    _x: ArrayView2<f32>,
) -> Result<(BiganNet, NoState)> {
    let net = step.normalised(step.net.discriminator.clone()).valid();
    Ok((net, NoState {}))
}
