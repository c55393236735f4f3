use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::TensorData;
use deviant_core::Result;
use deviant_core::metrics::quantile;
use ndarray::{ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{DeepSvddConfig, SvddObjective};
use crate::deep::detector::{DeepDetector, DeepKind};
use crate::deep::mlp::Mlp;
use crate::deep::tensor::{in_chunks, scalar, to_array2, to_vec};
use crate::deep::train::{Losses, TrainStep, descend};
use crate::deep_detector;

/// What a fitted Deep SVDD needs besides its weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SvddState {
    centre: Vec<f64>,
    /// R² of the soft-boundary objective (0 for one-class).
    radius_squared: f64,
}

impl SvddState {
    /// Squared distances `[B]` of the network outputs `[B, d]` to the centre.
    fn distances(&self, out: Tensor<2>) -> Tensor<1> {
        let d = self.centre.len();
        let centre: Vec<f32> = self.centre.iter().map(|&c| c as f32).collect();
        let centre = Tensor::<2>::from_data(TensorData::new(centre, [1, d]), &out.device());
        (out - centre).square().sum_dim(1).squeeze_dim(1)
    }
}

pub struct SvddStep {
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
            .forward(batch, self.config.activation, None);
        let value = scalar(self.loss(self.state.distances(out)));
        Losses(vec![("loss", value)])
    }
}

/// A fitted Deep SVDD.
pub type DeepSvdd = DeepDetector<DeepSvddConfig>;

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

deep_detector!(DeepSvddConfig, "deep_svdd", Mlp, SvddStep, state: SvddState, finish: trained);

impl DeepKind for DeepSvddConfig {
    fn start(&self, x: ArrayView2<f32>, rng: &mut ChaCha8Rng, device: &Device) -> Result<SvddStep> {
        // Bias-free layers: with biases the network could map everything onto the centre.
        let net = Mlp::new(&self.widths(x.ncols()), false, rng, device);
        let centre = initial_centre(&net.clone().valid(), x, self)?;
        let weight_decay =
            (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        Ok(SvddStep {
            net,
            optimizer: AdamConfig::new().with_weight_decay(weight_decay).init(),
            config: self.clone(),
            state: SvddState {
                centre,
                radius_squared: 0.0,
            },
        })
    }

    fn blank(&self, n_features: usize, _state: &SvddState, device: &Device) -> Result<Mlp> {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        Ok(Mlp::new(&self.widths(n_features), false, &mut rng, device))
    }

    /// Squared distance to the centre; minus R² with the soft boundary, so rows outside the
    /// sphere score above zero.
    fn score_rows(svdd: &DeepSvdd, x: Tensor<2>, _rng: &mut ChaCha8Rng) -> Result<Tensor<1>> {
        let out = svdd.net.forward(x, svdd.config.activation, None);
        Ok(svdd.state.distances(out) - svdd.state.radius_squared)
    }
}

/// The network with the centre (and R²) it was trained towards.
fn trained(
    _config: &DeepSvddConfig,
    step: SvddStep,
    _x: ArrayView2<f32>,
) -> Result<(Mlp, SvddState)> {
    Ok((step.net.valid(), step.state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::tensor::cpu;
    use deviant_core::{Dataset, Detector, DetectorConfig, FitContext};
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
