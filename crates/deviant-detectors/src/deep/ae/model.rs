use std::path::Path;

use burn::module::Module;
use burn::nn::Linear;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use deviant_core::dataset::check_input;
use deviant_core::detector::FitSummary;
use deviant_core::{Dataset, Detector, DetectorConfig, Error, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis, concatenate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::AeConfig;
use crate::deep::tensor::{Activation, cpu, dropout_mask, linear, to_array2, to_tensor, to_vec};
use crate::deep::train::{Losses, TrainStep, train};
use crate::{read_json, write_json};

/// The network: dense layers from input to reconstruction.
#[derive(Module, Debug)]
pub struct AeNet {
    layers: Vec<Linear>,
}

impl AeNet {
    fn new(widths: &[usize], rng: &mut ChaCha8Rng, device: &Device) -> Self {
        let layers = widths
            .windows(2)
            .map(|w| linear(w[0], w[1], rng, device))
            .collect();
        Self { layers }
    }

    /// Reconstructs `x`; `dropout` (rate, rng) applies to hidden layers while training.
    ///
    /// # Shapes
    /// - `x`: `[batch, features]` → `[batch, features]`
    fn forward(
        &self,
        x: Tensor<2>,
        activation: Activation,
        mut dropout: Option<(f64, &mut ChaCha8Rng)>,
    ) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = activation.apply(h);
                if let Some((rate, rng)) = dropout.as_mut() {
                    let mask = dropout_mask(h.dims(), *rate, rng, &h.device());
                    h = h * mask;
                }
            }
        }
        h
    }
}

struct AeStep {
    net: AeNet,
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
        let value = f64::from(loss.clone().into_scalar::<f32>());
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
        let value = f64::from((out - batch).square().mean().into_scalar::<f32>());
        Losses(vec![("loss", value)])
    }
}

/// A fitted autoencoder.
#[derive(Debug)]
pub struct Autoencoder {
    net: AeNet,
    activation: Activation,
    n_features: usize,
    summary: FitSummary,
}

/// Shape facts the weights file alone does not give.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AeState {
    n_features: usize,
}

const STATE: &str = "ae.json";
const WEIGHTS: &str = "weights.bpk";
/// Rows per scoring chunk; chunks run in parallel.
const SCORE_CHUNK: usize = 1024;

impl DetectorConfig for AeConfig {
    const KIND: &'static str = "ae";
    type Fitted = Autoencoder;

    fn validate(&self) -> Result<()> {
        self.check()
    }

    fn fit(&self, train_set: &Dataset, cx: &FitContext) -> Result<Autoencoder> {
        self.validate()?;
        let x = train_set.view();
        check_input(x, x.ncols(), "ae fit")?;
        let device = cpu().autodiff();
        let mut rng = ChaCha8Rng::seed_from_u64(cx.seed);
        let net = AeNet::new(&self.widths(x.ncols()), &mut rng, &device);
        let optimizer = AdamConfig::new().with_epsilon(1e-8).init();
        let step = AeStep {
            net,
            optimizer,
            config: self.clone(),
        };
        let (step, summary) = train(step, x, &self.training, cx, &device)?;
        Ok(Autoencoder {
            net: step.net.valid(),
            activation: self.activation,
            n_features: x.ncols(),
            summary,
        })
    }

    fn load(&self, dir: &Path) -> Result<Autoencoder> {
        let state: AeState = read_json(&dir.join(STATE))?;
        let device = cpu();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let path = dir.join(WEIGHTS);
        let net = AeNet::new(&self.widths(state.n_features), &mut rng, &device)
            .try_load_file(&path)
            .map_err(|e| Error::format(path.display(), format!("cannot load the weights: {e}")))?;
        Ok(Autoencoder {
            net,
            activation: self.activation,
            n_features: state.n_features,
            summary: FitSummary::default(),
        })
    }
}

impl Autoencoder {
    /// Squared reconstruction errors of `x` (`[rows, features]`), in row chunks run in
    /// parallel, each chunk's errors turned into a `T` by `finish`.
    fn chunked_errors<T: Send>(
        &self,
        x: ArrayView2<f32>,
        finish: impl Fn(Tensor<2>) -> Result<T> + Send + Sync,
    ) -> Result<Vec<T>> {
        check_input(x, self.n_features, "ae")?;
        let device = cpu();
        x.axis_chunks_iter(Axis(0), SCORE_CHUNK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|chunk| {
                let input = to_tensor(chunk, &device);
                let out = self.net.forward(input.clone(), self.activation, None);
                finish((out - input).square())
            })
            .collect()
    }
}

impl Detector for Autoencoder {
    fn n_features(&self) -> usize {
        self.n_features
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        let parts = self.chunked_errors(x, |errors| to_vec(errors.mean_dim(1)))?;
        Ok(Array1::from(parts.concat()))
    }

    fn explain(&self, x: ArrayView2<f32>) -> Option<Result<Array2<f32>>> {
        Some(self.chunked_errors(x, to_array2).map(|parts| {
            let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
            concatenate(Axis(0), &views).expect("chunks share their width")
        }))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(
            &dir.join(STATE),
            &AeState {
                n_features: self.n_features,
            },
        )?;
        let path = dir.join(WEIGHTS);
        self.net
            .clone()
            .save_file(&path)
            .map_err(|e| Error::format(path.display(), format!("cannot write the weights: {e}")))
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
        let rows = 2 * SCORE_CHUNK + 37;
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
