use std::path::Path;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use deviant_core::detector::FitSummary;
use deviant_core::{Dataset, Detector, DetectorConfig, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::AeConfig;
use crate::deep::mlp::Mlp;
use crate::deep::tensor::{Activation, cpu, explain_in_chunks, scalar, score_in_chunks};
use crate::deep::train::{Losses, TrainStep, fit_step};
use crate::deep::{load_net, save_net};

struct AeStep {
    net: Mlp,
    optimizer: ModuleOptimizer,
    config: AeConfig,
}

impl TrainStep for AeStep {
    fn step(mut self, batch: Tensor<2>, rng: &mut ChaCha8Rng) -> (Self, Losses) {
        let dropout = (self.config.dropout > 0.0).then_some((self.config.dropout, rng));
        let out = self
            .net
            .forward(batch.clone(), self.config.activation, dropout);
        let loss = (out - batch).square().mean();
        let value = scalar(loss.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &self.net);
        self.net = self
            .optimizer
            .step(self.config.learning_rate, self.net, grads);
        (self, Losses(vec![("loss", value)]))
    }

    fn evaluate(&self, batch: Tensor<2>) -> Losses {
        let out = self
            .net
            .valid()
            .forward(batch.clone(), self.config.activation, None);
        let value = scalar((out - batch).square().mean());
        Losses(vec![("loss", value)])
    }
}

/// A fitted autoencoder.
#[derive(Debug)]
pub struct Autoencoder {
    net: Mlp,
    activation: Activation,
    n_features: usize,
    summary: FitSummary,
}

impl DetectorConfig for AeConfig {
    const KIND: &'static str = "ae";
    type Fitted = Autoencoder;

    fn validate(&self) -> Result<()> {
        self.check()
    }

    fn fit(&self, train_set: &Dataset, cx: &FitContext) -> Result<Autoencoder> {
        self.validate()?;
        let (step, summary) = fit_step(
            train_set,
            Self::KIND,
            &self.training,
            cx,
            |x, rng, device| {
                Ok(AeStep {
                    net: Mlp::new(&self.widths(x.ncols()), true, rng, device),
                    optimizer: AdamConfig::new().with_epsilon(1e-8).init(),
                    config: self.clone(),
                })
            },
        )?;
        Ok(Autoencoder {
            net: step.net.valid(),
            activation: self.activation,
            n_features: train_set.n_features(),
            summary,
        })
    }

    fn load(&self, dir: &Path) -> Result<Autoencoder> {
        let (net, n_features) = load_net(dir, Self::KIND, |n| {
            Mlp::new(
                &self.widths(n),
                true,
                &mut ChaCha8Rng::seed_from_u64(0),
                &cpu(),
            )
        })?;
        Ok(Autoencoder {
            net,
            activation: self.activation,
            n_features,
            summary: FitSummary::default(),
        })
    }
}

impl Autoencoder {
    /// Squared reconstruction error of each entry of `x` (`[rows, features]`).
    fn squared_errors(&self, x: Tensor<2>) -> Tensor<2> {
        let out = self.net.forward(x.clone(), self.activation, None);
        (out - x).square()
    }
}

impl Detector for Autoencoder {
    fn n_features(&self) -> usize {
        self.n_features
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        score_in_chunks(x, self.n_features, "ae", |t, _| {
            Ok(self.squared_errors(t).mean_dim(1).squeeze_dim(1))
        })
    }

    fn explain(&self, x: ArrayView2<f32>) -> Option<Result<Array2<f32>>> {
        Some(explain_in_chunks(x, self.n_features, "ae", |t, _| {
            Ok(self.squared_errors(t))
        }))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        save_net(dir, AeConfig::KIND, self.n_features, &self.net)
    }

    fn fit_summary(&self) -> FitSummary {
        self.summary.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::train::LoopConfig;

    #[test]
    fn explanations_average_to_the_score_across_chunks() {
        // More rows than two scoring chunks, so the chunks are stitched back in order.
        let rows = 2 * crate::deep::tensor::SCORE_CHUNK + 37;
        let x = Array2::from_shape_fn((rows, 5), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 11.0);
        let config = AeConfig {
            hidden: vec![4, 2],
            training: LoopConfig {
                epochs: 1,
                ..LoopConfig::default()
            },
            ..AeConfig::default()
        };
        let ae = config
            .fit(&Dataset::new(x.clone(), None), &FitContext::new(3))
            .unwrap();
        let scores = ae.score(x.view()).unwrap();
        let explained = ae.explain(x.view()).unwrap().unwrap();
        assert_eq!(explained.dim(), (rows, 5));
        for (row, score) in explained.rows().into_iter().zip(&scores) {
            let mean = row.mean().unwrap();
            assert!(
                (mean - score).abs() <= 1e-6 * score.max(1.0),
                "{mean} vs {score}"
            );
        }
    }
}
