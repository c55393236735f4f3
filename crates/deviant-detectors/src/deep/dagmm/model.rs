use burn::module::Module;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use deviant_core::{DetectorConfig, Result};
use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::gmm::{Gmm, GmmStats, GmmTensors};
use super::{Compression, DagmmConfig};
use crate::deep::detector::{DeepDetector, DeepKind};
use crate::deep::mlp::Mlp;
use crate::deep::tensor::{in_chunks, scalar, to_array2};
use crate::deep::train::{Losses, TrainStep, descend};
use crate::deep::vae::gaussian_code;
use crate::deep_detector;

#[derive(Module, Debug)]
pub struct DagmmNet {
    encoder: Mlp,
    decoder: Mlp,
    estimation: Mlp,
}

/// Keeps the norms in the reconstruction features away from zero (and their gradients finite).
const NORM_EPS: f64 = 1e-6;

/// What the networks make of a batch.
struct Forward {
    x: Tensor<2>,
    reconstruction: Tensor<2>,
    /// `[B, code + 2]`: code, relative Euclidean distance, cosine similarity.
    z: Tensor<2>,
    /// `[B]` KL terms of a variational compression network.
    kl: Option<Tensor<1>>,
}

impl DagmmNet {
    fn new(config: &DagmmConfig, n_features: usize, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        Self {
            encoder: Mlp::with_init(
                &config.encoder_widths(n_features),
                true,
                config.init,
                rng,
                device,
            ),
            decoder: Mlp::with_init(
                &config.decoder_widths(n_features),
                true,
                config.init,
                rng,
                device,
            ),
            estimation: Mlp::with_init(&config.estimation_widths(), true, config.init, rng, device),
        }
    }

    /// Compresses `x`; `noise` samples variational codes (training), else the mean code is used.
    fn compress(
        &self,
        x: Tensor<2>,
        config: &DagmmConfig,
        noise: Option<&mut ChaCha8Rng>,
    ) -> Forward {
        let h = self.encoder.forward(x.clone(), config.activation, None);
        let (code, kl) = match config.compression {
            Compression::Autoencoder => (h, None),
            Compression::Variational => {
                let (code, kl) = gaussian_code(h, config.code_size(), noise);
                (code, Some(kl))
            }
        };
        let reconstruction = self.decoder.forward(code.clone(), config.activation, None);
        let norm = |t: Tensor<2>| (t.square().sum_dim(1) + NORM_EPS).sqrt();
        let x_norm = norm(x.clone());
        let distance = norm(x.clone() - reconstruction.clone()) / x_norm.clone();
        let cosine = (x.clone() * reconstruction.clone()).sum_dim(1)
            / (x_norm * norm(reconstruction.clone()));
        Forward {
            x,
            reconstruction,
            z: Tensor::cat(vec![code, distance, cosine], 1),
            kl,
        }
    }

    /// Soft mixture memberships `[B, K]` of the samples `z`.
    fn memberships(
        &self,
        z: Tensor<2>,
        config: &DagmmConfig,
        dropout: Option<&mut ChaCha8Rng>,
    ) -> Tensor<2> {
        let dropout = dropout
            .filter(|_| config.estimation_dropout > 0.0)
            .map(|rng| (config.estimation_dropout, rng));
        softmax(self.estimation.forward(z, config.activation, dropout), 1)
    }
}

pub struct DagmmStep {
    net: DagmmNet,
    optimizer: ModuleOptimizer,
    config: DagmmConfig,
}

impl DagmmStep {
    /// Loss = reconstruction + λ1·energy + λ2·penalty (+ β·KL), mixture from this batch.
    fn losses(
        &self,
        net: &DagmmNet,
        batch: Tensor<2>,
        rng: &mut ChaCha8Rng,
    ) -> (Tensor<1>, Losses) {
        let config = &self.config;
        let f = net.compress(batch, config, Some(&mut *rng));
        // (1/N) Σ ‖x − x̂‖², as in the paper.
        let reconstruction = (f.reconstruction - f.x)
            .square()
            .sum_dim(1)
            .squeeze_dim::<1>(1)
            .mean();
        let gamma = net.memberships(f.z.clone(), config, Some(rng));
        let gmm = GmmTensors::from_memberships(f.z.clone(), gamma);
        let energy = gmm.energy(f.z, config.covariance_jitter).mean();
        let penalty = gmm.inverse_diagonal_penalty(config.covariance_jitter);
        let mut loss = reconstruction.clone()
            + energy.clone() * config.lambda_energy
            + penalty.clone() * config.lambda_covariance;
        let mut losses = vec![
            ("reconstruction", scalar(reconstruction)),
            ("energy", scalar(energy)),
            ("covariance_penalty", scalar(penalty)),
        ];
        if let Some(kl) = f.kl {
            let kl = kl.mean();
            losses.push(("kl", scalar(kl.clone())));
            loss = loss + kl * config.beta;
        }
        losses.insert(0, ("loss", scalar(loss.clone())));
        (loss, Losses(losses))
    }
}

impl TrainStep for DagmmStep {
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
        // Fixed noise, so the validation loss moves only when the weights do.
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        self.losses(&self.net.valid(), batch, &mut rng).1
    }
}

/// A fitted DAGMM.
pub type Dagmm = DeepDetector<DagmmConfig>;

/// What a fitted DAGMM or VAEGMM needs besides its weights: the mixture of the whole
/// training set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DagmmState {
    gmm: Gmm,
}

/// The trained networks with the mixture estimated from all training rows (paper, §3.4).
fn trained(
    config: &DagmmConfig,
    step: DagmmStep,
    x: ArrayView2<f32>,
) -> Result<(DagmmNet, DagmmState)> {
    let net = step.net.valid();
    let parts = in_chunks(x, x.ncols(), "dagmm fit", |t, _| {
        let z = net.compress(t, config, None).z;
        let gamma = net.memberships(z.clone(), config, None);
        Ok((to_array2(z)?, to_array2(gamma)?))
    })?;
    let mut stats = GmmStats::new(config.components, config.code_size() + 2);
    for (z, gamma) in &parts {
        stats.add(z.view(), gamma.view());
    }
    let state = DagmmState {
        gmm: stats.finish(),
    };
    Ok((net, state))
}

impl DagmmConfig {
    /// The sample energy of each row under the training mixture.
    fn energy(&self, net: &DagmmNet, state: &DagmmState, x: Tensor<2>) -> Tensor<1> {
        let gmm = state.gmm.to_tensors(&x.device());
        // The mixture's variables `[B, code + 2]`, without dropout or sampling.
        let z = net.compress(x, self, None).z;
        gmm.energy(z, self.covariance_jitter)
    }
}

deep_detector!(
    DagmmConfig, "dagmm", DagmmNet, DagmmStep,
    state: DagmmState, finish: trained
);

impl DeepKind for DagmmConfig {
    fn start(
        &self,
        x: ArrayView2<f32>,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<DagmmStep> {
        Ok(DagmmStep {
            net: DagmmNet::new(self, x.ncols(), rng, device),
            optimizer: AdamConfig::new().init(),
            config: self.clone(),
        })
    }

    fn blank(&self, n_features: usize, _state: &DagmmState, device: &Device) -> Result<DagmmNet> {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        Ok(DagmmNet::new(self, n_features, &mut rng, device))
    }

    fn score_rows(fitted: &Dagmm, x: Tensor<2>, _rng: &mut ChaCha8Rng) -> Result<Tensor<1>> {
        Ok(fitted.config.energy(&fitted.net, &fitted.state, x))
    }
}

/// VAEGMM: DAGMM's settings with a variational compression network by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VaegmmConfig(pub DagmmConfig);

impl Default for VaegmmConfig {
    fn default() -> Self {
        Self(DagmmConfig {
            compression: Compression::Variational,
            ..DagmmConfig::default()
        })
    }
}

/// A VAEGMM is configured like a DAGMM: its fields are DAGMM's.
impl std::ops::Deref for VaegmmConfig {
    type Target = DagmmConfig;

    fn deref(&self) -> &DagmmConfig {
        &self.0
    }
}

deep_detector!(
    VaegmmConfig, "vaegmm", DagmmNet, DagmmStep,
    state: DagmmState, finish: |c: &VaegmmConfig, step, x| trained(c, step, x)
);

impl DeepKind for VaegmmConfig {
    /// Saved like DAGMM's, which it is but for the compression network.
    const STATE_FILE: &'static str = DagmmConfig::KIND;

    fn start(
        &self,
        x: ArrayView2<f32>,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<DagmmStep> {
        self.0.start(x, rng, device)
    }

    fn blank(&self, n_features: usize, state: &DagmmState, device: &Device) -> Result<DagmmNet> {
        self.0.blank(n_features, state, device)
    }

    fn score_rows(
        fitted: &DeepDetector<Self>,
        x: Tensor<2>,
        _rng: &mut ChaCha8Rng,
    ) -> Result<Tensor<1>> {
        Ok(fitted.config.0.energy(&fitted.net, &fitted.state, x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::train::LoopConfig;
    use deviant_core::{Dataset, Detector, DetectorConfig, FitContext};
    use ndarray::Array2;

    #[test]
    fn constant_and_duplicate_columns_stay_finite() {
        // Column 0 is constant, 1 and 2 are near-duplicates, 3 is all zero; some rows repeat.
        let x = Array2::from_shape_fn((400, 6), |(i, j)| {
            let t = ((i % 50) as f32 * 0.37).sin();
            match j {
                0 => 1.0,
                1 => t,
                2 => t + 1e-7 * (i % 3) as f32,
                3 => 0.0,
                _ => ((i % 50) as f32 * 0.11 + j as f32).cos(),
            }
        });
        for compression in [Compression::Autoencoder, Compression::Variational] {
            let config = DagmmConfig {
                compression,
                hidden: vec![8, 2],
                learning_rate: 1e-2,
                training: LoopConfig {
                    epochs: 15,
                    batch_size: 32,
                    ..LoopConfig::default()
                },
                ..DagmmConfig::default()
            };
            let model = config
                .fit(&Dataset::new(x.clone(), None), &FitContext::new(1))
                .unwrap_or_else(|e| panic!("{compression:?}: {e}"));
            let mut far = x.clone();
            far.row_mut(0).fill(1e6);
            let scores = model.score(far.view()).unwrap();
            assert!(
                scores.iter().all(|s| s.is_finite()),
                "{compression:?}: {scores}"
            );
        }
    }
}
