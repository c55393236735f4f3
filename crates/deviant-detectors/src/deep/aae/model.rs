use burn::module::Module;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use deviant_core::Result;
use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::AaeConfig;
use crate::deep::adversarial::{said_fake, said_real};
use crate::deep::detector::{DeepDetector, DeepKind, NoState};
use crate::deep::mlp::Mlp;
use crate::deep::tensor::{gaussian, scalar};
use crate::deep::train::{Losses, TrainStep, descend};
use crate::deep_detector;

/// The autoencoder half, the only part kept after training.
#[derive(Module, Debug)]
pub struct AaeNet {
    encoder: Mlp,
    decoder: Mlp,
}

impl AaeNet {
    fn new(config: &AaeConfig, n_features: usize, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        Self {
            encoder: Mlp::new(&config.encoder_widths(n_features), true, rng, device),
            decoder: Mlp::new(&config.decoder_widths(n_features), true, rng, device),
        }
    }

    /// Codes `[B, latent]` and squared reconstruction errors `[B, features]` of `x`.
    fn forward(&self, x: Tensor<2>, config: &AaeConfig) -> (Tensor<2>, Tensor<2>) {
        let z = self.encoder.forward(x.clone(), config.activation, None);
        let out = self.decoder.forward(z.clone(), config.activation, None);
        (z, (out - x).square())
    }
}

/// Two optimisers in one step: the autoencoder minimises reconstruction error plus the
/// weighted "fool the discriminator" term; the discriminator then learns to tell the new
/// codes from prior samples.
pub struct AaeStep {
    net: AaeNet,
    discriminator: Mlp,
    net_optimizer: ModuleOptimizer,
    discriminator_optimizer: ModuleOptimizer,
    config: AaeConfig,
}

impl AaeStep {
    /// (autoencoder loss, reconstruction, adversarial term, codes) for `batch`.
    fn autoencoder_loss(
        &self,
        net: &AaeNet,
        discriminator: &Mlp,
        batch: Tensor<2>,
    ) -> (Tensor<1>, Tensor<1>, Tensor<1>, Tensor<2>) {
        let config = &self.config;
        let (z, errors) = net.forward(batch, config);
        let reconstruction = errors.mean();
        let adversarial = said_real(discriminator.forward(z.clone(), config.activation, None));
        let loss = reconstruction.clone() + adversarial.clone() * config.adversarial_weight;
        (loss, reconstruction, adversarial, z)
    }

    fn discriminator_loss(
        &self,
        discriminator: &Mlp,
        codes: Tensor<2>,
        prior: Tensor<2>,
    ) -> Tensor<1> {
        let activation = self.config.activation;
        said_real(discriminator.forward(prior, activation, None))
            + said_fake(discriminator.forward(codes, activation, None))
    }
}

impl TrainStep for AaeStep {
    fn step(mut self, batch: Tensor<2>, rng: &mut ChaCha8Rng) -> (Self, Losses) {
        let (loss, reconstruction, adversarial, z) =
            self.autoencoder_loss(&self.net, &self.discriminator, batch);
        let codes = z.detach();
        self.net = descend(
            &mut self.net_optimizer,
            self.config.learning_rate,
            self.net,
            loss,
        );

        let prior = gaussian(codes.dims(), rng, &codes.device());
        let d_loss = self.discriminator_loss(&self.discriminator, codes, prior);
        let d_value = scalar(d_loss.clone());
        self.discriminator = descend(
            &mut self.discriminator_optimizer,
            self.config.learning_rate,
            self.discriminator,
            d_loss,
        );
        (self, losses(reconstruction, adversarial, d_value))
    }

    fn evaluate(&self, batch: Tensor<2>) -> Losses {
        let discriminator = self.discriminator.valid();
        let (_, reconstruction, adversarial, codes) =
            self.autoencoder_loss(&self.net.valid(), &discriminator, batch);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let prior = gaussian(codes.dims(), &mut rng, &codes.device());
        let d_loss = self.discriminator_loss(&discriminator, codes, prior);
        losses(reconstruction, adversarial, scalar(d_loss))
    }
}

/// The monitored "loss" is the reconstruction error: the adversarial terms oscillate by
/// design, so early stopping on them would stop at random.
fn losses(reconstruction: Tensor<1>, adversarial: Tensor<1>, discriminator: f64) -> Losses {
    Losses(vec![
        ("loss", scalar(reconstruction)),
        ("adversarial", scalar(adversarial)),
        ("discriminator", discriminator),
    ])
}

/// A fitted adversarial autoencoder.
pub type AdversarialAutoencoder = DeepDetector<AaeConfig>;

deep_detector!(AaeConfig, "aae", AaeNet, AaeStep);

impl DeepKind for AaeConfig {
    const EXPLAINS: bool = true;

    fn start(&self, x: ArrayView2<f32>, rng: &mut ChaCha8Rng, device: &Device) -> Result<AaeStep> {
        Ok(AaeStep {
            net: AaeNet::new(self, x.ncols(), rng, device),
            discriminator: Mlp::new(&self.discriminator_widths(), true, rng, device),
            net_optimizer: AdamConfig::new().init(),
            discriminator_optimizer: AdamConfig::new().init(),
            config: self.clone(),
        })
    }

    fn blank(&self, n_features: usize, _state: &NoState, device: &Device) -> Result<AaeNet> {
        Ok(AaeNet::new(
            self,
            n_features,
            &mut ChaCha8Rng::seed_from_u64(0),
            device,
        ))
    }

    /// Mean squared reconstruction error, plus `latent_weight`·‖z‖²/2.
    fn score_rows(aae: &Self::Fitted, x: Tensor<2>, _rng: &mut ChaCha8Rng) -> Result<Tensor<1>> {
        let (z, errors) = aae.net.forward(x, &aae.config);
        let prior_term = z.square().sum_dim(1) * (0.5 * aae.config.latent_weight);
        Ok((errors.mean_dim(1) + prior_term).squeeze_dim(1))
    }

    fn explain_rows(aae: &Self::Fitted, x: Tensor<2>) -> Result<Tensor<2>> {
        Ok(aae.net.forward(x, &aae.config).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::train::LoopConfig;
    use deviant_core::{Dataset, Detector, DetectorConfig, FitContext};
    use ndarray::Array2;

    /// With the adversarial term, the codes of rows from a 2-d plane are pushed towards the
    /// N(0, I) prior and the discriminator's loss stays near its chance level 2·ln 2; without
    /// it, the discriminator learns to tell them apart.
    #[test]
    fn adversarial_term_keeps_the_discriminator_near_chance() {
        let x = Array2::from_shape_fn((800, 4), |(i, j)| {
            let (a, b) = ((i as f32 * 0.37).sin(), (i as f32 * 0.11).cos());
            [a + 3.0, b - 2.0, a + b, a - b][j]
        });
        let discriminator_loss = |adversarial_weight: f64| {
            let config = AaeConfig {
                hidden: vec![16],
                latent: 2,
                adversarial_weight,
                training: LoopConfig {
                    epochs: 40,
                    batch_size: 64,
                    patience: 0,
                    ..LoopConfig::default()
                },
                ..AaeConfig::default()
            };
            let model = config
                .fit(&Dataset::new(x.clone(), None), &FitContext::new(5))
                .unwrap();
            model.fit_summary().history.last().unwrap().train["discriminator"]
        };
        let (with, without) = (discriminator_loss(1.0), discriminator_loss(0.0));
        assert!(with > 1.0, "with the adversarial term: {with}");
        assert!(without < 0.7 * with, "without it: {without} vs {with}");
    }
}
