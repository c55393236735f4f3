use std::path::Path;

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::TensorData;
use deviant_core::detector::FitSummary;
use deviant_core::metrics::quantile;
use deviant_core::{Dataset, Detector, DetectorConfig, FitContext, Result};
use ndarray::{Array1, ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{DeepSvddConfig, SvddObjective};
use crate::deep::mlp::Mlp;
use crate::deep::tensor::{
    cpu, in_chunks, load_weights, save_weights, scalar, score_in_chunks, to_array2, to_vec,
};
use crate::deep::train::{Losses, TrainStep, fit_step};
use crate::{read_json, write_json};

/// What a fitted Deep SVDD needs besides its weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SvddState {
    n_features: usize,
    centre: Vec<f64>,
    /// R² of the soft-boundary objective (0 for one-class).
    radius_squared: f64,
}

const STATE: &str = "deep_svdd.json";

impl SvddState {
    /// Squared distances `[B]` of the network outputs `[B, d]` to the centre.
    fn distances(&self, out: Tensor<2>) -> Tensor<1> {
        let d = self.centre.len();
        let centre: Vec<f32> = self.centre.iter().map(|&c| c as f32).collect();
        let centre = Tensor::<2>::from_data(TensorData::new(centre, [1, d]), &out.device());
        (out - centre).square().sum_dim(1).squeeze_dim(1)
    }
}

struct SvddStep {
    net: Mlp,
    optimizer: ModuleOptimizer,
    config: DeepSvddConfig,
    state: SvddState,
}

impl SvddStep {
    /// The objective on `distances`, with R² held fixed (it is set by a quantile, not by
    /// gradients, as in Ruff et al.).
    fn loss(&self, distances: Tensor<1>) -> Tensor<1> {
        match self.config.objective {
            SvddObjective::OneClass => distances.mean(),
            SvddObjective::SoftBoundary => {
                let r2 = self.state.radius_squared;
                (distances - r2).clamp_min(0.0).mean() / self.config.nu + r2
            }
        }
    }
}

impl TrainStep for SvddStep {
    fn step(mut self, batch: Tensor<2>, _rng: &mut ChaCha8Rng) -> (Self, Losses) {
        let out = self.net.forward(batch, self.config.activation, None);
        let distances = self.state.distances(out);
        if self.config.objective == SvddObjective::SoftBoundary {
            // R² = the (1 − ν) quantile of this batch's distances: the line search of the
            // paper, on a batch rather than an epoch so the loop needs no extra hook.
            let d = to_vec(distances.clone().detach()).unwrap_or_default();
            self.state.radius_squared = quantile(&d, 1.0 - self.config.nu);
        }
        let loss = self.loss(distances);
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
            .forward(batch, self.config.activation, None);
        let value = scalar(self.loss(self.state.distances(out)));
        Losses(vec![("loss", value)])
    }
}

/// A fitted Deep SVDD.
#[derive(Debug)]
pub struct DeepSvdd {
    net: Mlp,
    config: DeepSvddConfig,
    state: SvddState,
    summary: FitSummary,
}

/// The mean network output over `x` with near-zero coordinates pushed out to ±`eps`.
fn initial_centre(net: &Mlp, x: ArrayView2<f32>, config: &DeepSvddConfig) -> Result<Vec<f64>> {
    let parts = in_chunks(x, x.ncols(), "deep_svdd fit", |t, _| {
        let out = to_array2(net.forward(t, config.activation, None))?;
        Ok(out.mapv(f64::from).sum_axis(Axis(0)))
    })?;
    let sum = parts
        .into_iter()
        .reduce(|a, b| a + b)
        .expect("check_input rejects empty data");
    let eps = config.centre_eps;
    Ok(sum
        .mapv(|s| s / x.nrows() as f64)
        .mapv(|c| if c.abs() < eps { eps.copysign(c) } else { c })
        .to_vec())
}

impl DetectorConfig for DeepSvddConfig {
    const KIND: &'static str = "deep_svdd";
    type Fitted = DeepSvdd;

    fn validate(&self) -> Result<()> {
        self.check()
    }

    fn fit(&self, train_set: &Dataset, cx: &FitContext) -> Result<DeepSvdd> {
        self.check()?;
        let (step, summary) = fit_step(
            train_set,
            Self::KIND,
            &self.training,
            cx,
            |x, rng, device| {
                // Bias-free layers: with biases the network could map everything onto the
                // centre.
                let net = Mlp::new(&self.widths(x.ncols()), false, rng, device);
                let centre = initial_centre(&net.clone().valid(), x, self)?;
                let weight_decay = (self.weight_decay > 0.0)
                    .then(|| WeightDecayConfig::new(self.weight_decay as f32));
                Ok(SvddStep {
                    net,
                    optimizer: AdamConfig::new().with_weight_decay(weight_decay).init(),
                    config: self.clone(),
                    state: SvddState {
                        n_features: x.ncols(),
                        centre,
                        radius_squared: 0.0,
                    },
                })
            },
        )?;
        Ok(DeepSvdd {
            net: step.net.valid(),
            config: self.clone(),
            state: step.state,
            summary,
        })
    }

    fn load(&self, dir: &Path) -> Result<DeepSvdd> {
        let state: SvddState = read_json(&dir.join(STATE))?;
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let net = Mlp::new(&self.widths(state.n_features), false, &mut rng, &cpu());
        Ok(DeepSvdd {
            net: load_weights(net, dir)?,
            config: self.clone(),
            state,
            summary: FitSummary::default(),
        })
    }
}

impl Detector for DeepSvdd {
    fn n_features(&self) -> usize {
        self.state.n_features
    }

    /// Squared distance to the centre; minus R² with the soft boundary, so rows outside
    /// the sphere score above zero.
    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        score_in_chunks(x, self.state.n_features, "deep_svdd", |t, _| {
            let out = self.net.forward(t, self.config.activation, None);
            Ok(self.state.distances(out) - self.state.radius_squared)
        })
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), &self.state)?;
        save_weights(&self.net, dir)
    }

    fn fit_summary(&self) -> FitSummary {
        self.summary.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn centre_coordinates_near_zero_are_pushed_out() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let config = DeepSvddConfig {
            hidden: vec![3],
            centre_eps: 0.5,
            ..DeepSvddConfig::default()
        };
        // All-zero rows through bias-free layers give a zero mean output.
        let net = Mlp::new(&config.widths(4), false, &mut rng, &cpu());
        let centre = initial_centre(&net, Array2::zeros((10, 4)).view(), &config).unwrap();
        assert_eq!(centre.len(), 3);
        assert!(centre.iter().all(|c| c.abs() == 0.5), "{centre:?}");
    }

    #[test]
    fn soft_boundary_leaves_about_nu_of_the_training_rows_outside() {
        let x = Array2::from_shape_fn((600, 5), |(i, j)| {
            ((i * 13 + j * 7) % 29) as f32 / 29.0 + 0.1 * j as f32
        });
        let config = DeepSvddConfig {
            hidden: vec![8, 4],
            objective: SvddObjective::SoftBoundary,
            nu: 0.2,
            learning_rate: 1e-3,
            ..DeepSvddConfig::default()
        };
        let model = config
            .fit(&Dataset::new(x.clone(), None), &FitContext::new(2))
            .unwrap();
        let outside = model
            .score(x.view())
            .unwrap()
            .iter()
            .filter(|&&s| s > 0.0)
            .count();
        let share = outside as f64 / x.nrows() as f64;
        assert!((0.05..0.4).contains(&share), "{share}");
    }
}
