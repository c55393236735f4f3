use burn::module::Module;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use deviant_core::Result;
use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{VaeConfig, VaeScore};
use crate::deep::detector::{DeepDetector, DeepKind, NoState};
use crate::deep::mlp::Mlp;
use crate::deep::tensor::{gaussian, log_sum_exp, scalar};
use crate::deep::train::{Losses, TrainStep, descend};
use crate::deep_detector;

#[derive(Module, Debug)]
pub struct VaeNet {
    encoder: Mlp,
    decoder: Mlp,
}

/// The per-row terms of the negative ELBO for one sampled code.
struct Terms {
    /// `[batch, features]`: (x − x̂)² / (2σ²).
    reconstruction: Tensor<2>,
    /// `[batch]`: KL(q(z|x) ‖ N(0, I)).
    kl: Tensor<1>,
}

impl VaeNet {
    fn new(config: &VaeConfig, n_features: usize, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        Self {
            encoder: Mlp::new(&config.encoder_widths(n_features), true, rng, device),
            decoder: Mlp::new(&config.decoder_widths(n_features), true, rng, device),
        }
    }

    /// The loss terms for one code per row drawn by reparameterisation (`noise` = None
    /// decodes the mean code).
    fn terms(&self, x: Tensor<2>, config: &VaeConfig, noise: Option<&mut ChaCha8Rng>) -> Terms {
        let h = self.encoder.forward(x.clone(), config.activation, None);
        let (z, kl) = gaussian_code(h, config.latent, noise);
        let out = self.decoder.forward(z, config.activation, None);
        let two_var = 2.0 * config.decoder_std * config.decoder_std;
        Terms {
            reconstruction: (out - x).square() / two_var,
            kl,
        }
    }
}

/// Reads an encoder output `[B, 2·latent]` as the mean and log-variance of q(z|x) and returns
/// a code per row — the mean, or a reparameterised sample when `noise` is given — with each
/// row's KL(q(z|x) ‖ N(0, I)) (`[B]`).
pub(crate) fn gaussian_code(
    h: Tensor<2>,
    latent: usize,
    noise: Option<&mut ChaCha8Rng>,
) -> (Tensor<2>, Tensor<1>) {
    let mean = h.clone().narrow(1, 0, latent);
    // Clamped so exp() stays finite however far out a row lies.
    let log_var = h.narrow(1, latent, latent).clamp(-20.0, 20.0);
    let kl = ((mean.clone().square() + log_var.clone().exp() - log_var.clone() - 1.0) * 0.5)
        .sum_dim(1)
        .squeeze_dim(1);
    let z = match noise {
        Some(rng) => {
            let eps = gaussian(mean.dims(), rng, &mean.device());
            mean + (log_var * 0.5).exp() * eps
        }
        None => mean,
    };
    (z, kl)
}

pub struct VaeStep {
    net: VaeNet,
    optimizer: ModuleOptimizer,
    config: VaeConfig,
}

impl VaeStep {
    /// Mean negative β-ELBO of the batch with its two parts.
    fn losses(&self, net: &VaeNet, batch: Tensor<2>, rng: &mut ChaCha8Rng) -> (Tensor<1>, Losses) {
        let terms = net.terms(batch, &self.config, Some(rng));
        let reconstruction = terms.reconstruction.sum_dim(1).squeeze_dim::<1>(1).mean();
        let kl = terms.kl.mean();
        let loss = reconstruction.clone() + kl.clone() * self.config.beta;
        let losses = Losses(vec![
            ("loss", scalar(loss.clone())),
            ("reconstruction", scalar(reconstruction)),
            ("kl", scalar(kl)),
        ]);
        (loss, losses)
    }
}

impl TrainStep for VaeStep {
    fn step(mut self, batch: Tensor<2>, rng: &mut ChaCha8Rng) -> (Self, Losses) {
        let (loss, losses) = self.losses(&self.net, batch, rng);
        self.net = descend(
            &mut self.optimizer,
            self.config.learning_rate,
            self.net,
            loss,
        );
        (self, losses)
    }

    fn evaluate(&self, batch: Tensor<2>) -> Losses {
        // A fixed generator, so the validation loss moves only when the weights do.
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        self.losses(&self.net.valid(), batch, &mut rng).1
    }
}

/// A fitted variational autoencoder.
pub type Vae = DeepDetector<VaeConfig>;

deep_detector!(VaeConfig, "vae", VaeNet, VaeStep);

impl DeepKind for VaeConfig {
    const EXPLAINS: bool = true;

    fn start(&self, x: ArrayView2<f32>, rng: &mut ChaCha8Rng, device: &Device) -> Result<VaeStep> {
        Ok(VaeStep {
            net: VaeNet::new(self, x.ncols(), rng, device),
            optimizer: AdamConfig::new().init(),
            config: self.clone(),
        })
    }

    fn blank(&self, n_features: usize, _state: &NoState, device: &Device) -> Result<VaeNet> {
        Ok(VaeNet::new(
            self,
            n_features,
            &mut ChaCha8Rng::seed_from_u64(0),
            device,
        ))
    }

    /// The configured score of each row; sampled scores draw from `rng`.
    fn score_rows(vae: &Vae, x: Tensor<2>, rng: &mut ChaCha8Rng) -> Result<Tensor<1>> {
        let config = &vae.config;
        Ok(match config.score {
            VaeScore::Reconstruction => {
                let terms = vae.net.terms(x, config, None);
                // Back from (x − x̂)²/(2σ²) to the plain squared error, like the autoencoder's.
                let two_var = 2.0 * config.decoder_std * config.decoder_std;
                (terms.reconstruction * two_var).mean_dim(1).squeeze_dim(1)
            }
            VaeScore::Elbo | VaeScore::Probability => {
                let n = x.dims()[1] as f64;
                // −log N(x; x̂, σ²I) = Σ (x − x̂)²/(2σ²) + n·log(σ√(2π)).
                let log_norm = n * (config.decoder_std * std::f64::consts::TAU.sqrt()).ln();
                let samples: Vec<(Tensor<1>, Tensor<1>)> = (0..config.samples)
                    .map(|_| {
                        let terms = vae.net.terms(x.clone(), config, Some(&mut *rng));
                        let neg_log_p = terms.reconstruction.sum_dim(1).squeeze_dim(1) + log_norm;
                        (neg_log_p, terms.kl)
                    })
                    .collect();
                let l = config.samples as f64;
                if config.score == VaeScore::Elbo {
                    let sum = samples
                        .into_iter()
                        .map(|(nlp, kl)| nlp + kl)
                        .reduce(|a, b| a + b)
                        .expect("samples ≥ 1");
                    sum / l
                } else {
                    // −log((1/L) Σ_l p(x|z_l)), in log-space.
                    let neg_log_p: Vec<Tensor<2>> = samples
                        .into_iter()
                        .map(|(nlp, _)| nlp.unsqueeze_dim(1))
                        .collect();
                    let lse = log_sum_exp(-Tensor::cat(neg_log_p, 1)).squeeze_dim(1);
                    -(lse - l.ln())
                }
            }
        })
    }

    fn explain_rows(vae: &Vae, x: Tensor<2>) -> Result<Tensor<2>> {
        let two_var = 2.0 * vae.config.decoder_std * vae.config.decoder_std;
        Ok(vae.net.terms(x, &vae.config, None).reconstruction * two_var)
    }
}
