use burn::module::Module;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use deviant_core::Result;
use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::AeConfig;
use crate::deep::detector::{DeepDetector, DeepKind, NoState};
use crate::deep::mlp::Mlp;
use crate::deep::tensor::scalar;
use crate::deep::train::{Losses, TrainStep, descend};
use crate::deep_detector;

pub struct AeStep {
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
        self.net = descend(
            &mut self.optimizer,
            self.config.learning_rate,
            self.net,
            loss,
        );
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
pub type Autoencoder = DeepDetector<AeConfig>;

deep_detector!(AeConfig, "ae", Mlp, AeStep);

impl DeepKind for AeConfig {
    const EXPLAINS: bool = true;

    fn start(&self, x: ArrayView2<f32>, rng: &mut ChaCha8Rng, device: &Device) -> Result<AeStep> {
        Ok(AeStep {
            net: Mlp::new(&self.widths(x.ncols()), true, rng, device),
            optimizer: AdamConfig::new().with_epsilon(1e-8).init(),
            config: self.clone(),
        })
    }

    fn blank(&self, n_features: usize, _state: &NoState, device: &Device) -> Result<Mlp> {
        Ok(Mlp::new(
            &self.widths(n_features),
            true,
            &mut ChaCha8Rng::seed_from_u64(0),
            device,
        ))
    }

    fn score_rows(ae: &Autoencoder, x: Tensor<2>, _rng: &mut ChaCha8Rng) -> Result<Tensor<1>> {
        Ok(squared_errors(ae, x).mean_dim(1).squeeze_dim(1))
    }

    fn explain_rows(ae: &Autoencoder, x: Tensor<2>) -> Result<Tensor<2>> {
        Ok(squared_errors(ae, x))
    }
}

/// Squared reconstruction error of each entry of `x` (`[rows, features]`).
fn squared_errors(ae: &Autoencoder, x: Tensor<2>) -> Tensor<2> {
    let out = ae.net.forward(x.clone(), ae.config.activation, None);
    (out - x).square()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::train::LoopConfig;
    use deviant_core::{Dataset, Detector, DetectorConfig, FitContext};
    use ndarray::Array2;

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
