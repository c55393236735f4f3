use burn::module::Module;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use deviant_core::Result;
use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::layout::{Layout, conditioner_widths};
use super::spline::rational_quadratic;
use super::{FlowConfig, MafConfig, NsfConfig, RealNvpConfig, Transform};
use crate::deep::detector::{DeepDetector, DeepKind, NoState};
use crate::deep::mlp::Mlp;
use crate::deep::tensor::scalar;
use crate::deep::train::{Losses, TrainStep, descend};
use crate::deep_detector;

/// One conditioner network per flow layer.
#[derive(Module, Debug)]
pub struct FlowNet {
    layers: Vec<Mlp>,
}

/// ln √(2π), the standard normal's log normaliser per dimension.
const LN_SQRT_TAU: f64 = 0.918_938_533_204_672_7;

/// A flow's network with the constants and settings its passes need, on one device.
struct Bijection<'a> {
    net: &'a FlowNet,
    layout: &'a Layout,
    config: &'a FlowConfig,
}

impl Bijection<'_> {
    /// A soft bound on log scales: ±`max_log_scale` through tanh.
    fn bounded(&self, log_scale: Tensor<2>) -> Tensor<2> {
        let bound = self.config.max_log_scale;
        (log_scale / bound).tanh() * bound
    }

    /// Layer `i`'s conditioner output for `x` (couplings see only the passed features).
    fn condition(&self, i: usize, x: Tensor<2>) -> Tensor<2> {
        let layer = &self.net.layers[i];
        let activation = self.config.activation;
        match self.layout.transform {
            Transform::Maf => {
                layer.forward_masked(x, |h| activation.apply(h), &self.layout.made[i])
            }
            Transform::RealNvp | Transform::Spline => {
                layer.forward(x * self.layout.passed[i].clone(), activation, None)
            }
        }
    }

    /// Shift and bounded log scale `[B, n]` each from an affine layer's conditioner output;
    /// zero on the features a coupling passes through.
    fn affine(&self, i: usize, out: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let n = out.dims()[1] / 2;
        let shift = out.clone().narrow(1, 0, n);
        let log_scale = self.bounded(out.narrow(1, n, n));
        match self.layout.transform {
            Transform::Maf => (shift, log_scale),
            _ => {
                let changed = -self.layout.passed[i].clone() + 1.0;
                (shift * changed.clone(), log_scale * changed)
            }
        }
    }

    fn spline(&self, i: usize, x: Tensor<2>, inverse: bool) -> (Tensor<2>, Tensor<2>) {
        let [b, n] = x.dims();
        let bins = self.config.bins;
        let params = self.condition(i, x.clone()).reshape([b, n, 3 * bins - 1]);
        let (y, log_derivative) =
            rational_quadratic(x.clone(), params, bins, self.config.tail_bound, inverse);
        let passed = self.layout.passed[i].clone();
        let changed = -passed.clone() + 1.0;
        (x * passed + y * changed.clone(), log_derivative * changed)
    }

    /// Latent values `[B, n]` and log |det ∂z/∂x| `[B]` of `x`.
    fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let mut z = x;
        let mut log_det = Tensor::<2>::zeros([z.dims()[0], 1], &z.device());
        for i in 0..self.net.layers.len() {
            let log_jacobian = match self.layout.transform {
                Transform::RealNvp => {
                    let (shift, log_scale) = self.affine(i, self.condition(i, z.clone()));
                    z = z * log_scale.clone().exp() + shift;
                    log_scale
                }
                Transform::Maf => {
                    let (shift, log_scale) = self.affine(i, self.condition(i, z.clone()));
                    z = (z - shift) * (-log_scale.clone()).exp();
                    -log_scale
                }
                Transform::Spline => {
                    let (y, log_derivative) = self.spline(i, z, false);
                    z = y;
                    log_derivative
                }
            };
            log_det = log_det + log_jacobian.sum_dim(1);
        }
        (z, log_det.squeeze_dim(1))
    }

    /// −log p(x) per row `[B]` under a standard normal base.
    fn negative_log_likelihood(&self, x: Tensor<2>) -> Tensor<1> {
        let n = x.dims()[1] as f64;
        let (z, log_det) = self.forward(x);
        z.square().sum_dim(1).squeeze_dim(1) * 0.5 + n * LN_SQRT_TAU - log_det
    }

    /// x from its latent values (MAF inverts one feature per pass, so n passes per layer).
    #[cfg(test)]
    fn inverse(&self, z: Tensor<2>) -> Tensor<2> {
        let mut x = z;
        for i in (0..self.net.layers.len()).rev() {
            x = match self.layout.transform {
                Transform::RealNvp => {
                    let (shift, log_scale) = self.affine(i, self.condition(i, x.clone()));
                    (x - shift) * (-log_scale).exp()
                }
                Transform::Maf => {
                    let mut guess = Tensor::zeros(x.dims(), &x.device());
                    for _ in 0..x.dims()[1] {
                        let (shift, log_scale) = self.affine(i, self.condition(i, guess));
                        guess = x.clone() * log_scale.exp() + shift;
                    }
                    guess
                }
                Transform::Spline => self.spline(i, x, true).0,
            };
        }
        x
    }
}

impl FlowNet {
    fn new(
        transform: Transform,
        n: usize,
        config: &FlowConfig,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let widths = conditioner_widths(transform, n, config);
        Self {
            layers: (0..config.layers)
                .map(|_| Mlp::new(&widths, true, rng, device))
                .collect(),
        }
    }
}

/// Minimises the mean −log p(x) of the batch.
pub struct FlowStep {
    net: FlowNet,
    /// Constants on the training (autodiff) device and on the plain one for evaluation.
    layout: Layout,
    plain_layout: Layout,
    config: FlowConfig,
    optimizer: ModuleOptimizer,
}

impl TrainStep for FlowStep {
    fn step(mut self, batch: Tensor<2>, _rng: &mut ChaCha8Rng) -> (Self, Losses) {
        let bijection = Bijection {
            net: &self.net,
            layout: &self.layout,
            config: &self.config,
        };
        let loss = bijection.negative_log_likelihood(batch).mean();
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
        let net = self.net.valid();
        let bijection = Bijection {
            net: &net,
            layout: &self.plain_layout,
            config: &self.config,
        };
        Losses(vec![(
            "loss",
            scalar(bijection.negative_log_likelihood(batch).mean()),
        )])
    }
}

/// A fitted flow of kind `K`: RealNVP, MAF or NSF.
pub type Flow<K> = DeepDetector<K>;

impl FlowConfig {
    fn start(
        &self,
        transform: Transform,
        x: ArrayView2<f32>,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> FlowStep {
        FlowStep {
            net: FlowNet::new(transform, x.ncols(), self, rng, device),
            layout: Layout::new(transform, x.ncols(), self, device),
            plain_layout: Layout::new(transform, x.ncols(), self, &device.clone().inner()),
            config: self.clone(),
            optimizer: AdamConfig::new().init(),
        }
    }

    fn blank(&self, transform: Transform, n_features: usize, device: &Device) -> FlowNet {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        FlowNet::new(transform, n_features, self, &mut rng, device)
    }

    /// −log p(x) of each row (`[rows, features]` → `[rows]`).
    fn negative_log_likelihood(
        &self,
        transform: Transform,
        net: &FlowNet,
        x: Tensor<2>,
    ) -> Tensor<1> {
        let layout = Layout::new(transform, x.dims()[1], self, &x.device());
        let bijection = Bijection {
            net,
            layout: &layout,
            config: self,
        };
        bijection.negative_log_likelihood(x)
    }
}

/// Registers a flow kind: its config wrapper fits, loads and scores with its transform.
macro_rules! flow_detector {
    ($config:ty, $kind:literal) => {
        deep_detector!($config, $kind, FlowNet, FlowStep);

        impl DeepKind for $config {
            fn start(
                &self,
                x: ArrayView2<f32>,
                rng: &mut ChaCha8Rng,
                device: &Device,
            ) -> Result<FlowStep> {
                Ok(self.0.start(Self::TRANSFORM, x, rng, device))
            }

            fn blank(
                &self,
                n_features: usize,
                _state: &NoState,
                device: &Device,
            ) -> Result<FlowNet> {
                Ok(self.0.blank(Self::TRANSFORM, n_features, device))
            }

            /// −log p(x).
            fn score_rows(
                flow: &Flow<Self>,
                x: Tensor<2>,
                _rng: &mut ChaCha8Rng,
            ) -> Result<Tensor<1>> {
                Ok(flow
                    .config
                    .0
                    .negative_log_likelihood(Self::TRANSFORM, &flow.net, x))
            }
        }
    };
}

flow_detector!(RealNvpConfig, "realnvp");
flow_detector!(MafConfig, "maf");
flow_detector!(NsfConfig, "nsf");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::tensor::cpu;
    use crate::deep::tensor::{to_tensor, to_vec};
    use ndarray::Array2;

    const TRANSFORMS: [Transform; 3] = [Transform::RealNvp, Transform::Maf, Transform::Spline];

    /// A freshly initialised flow on 3 features with larger-than-default weights, so every
    /// layer bends its input visibly (splines less: tenfold slopes between neighbouring bins
    /// would need finer differences than f32 allows).
    fn flow(transform: Transform) -> (FlowNet, Layout, FlowConfig) {
        let config = FlowConfig {
            layers: 4,
            hidden: vec![16],
            tail_bound: 3.0,
            ..FlowConfig::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let net = FlowNet::new(transform, 3, &config, &mut rng, &cpu());
        let scale = if transform == Transform::Spline {
            1.2
        } else {
            2.5
        };
        let net = net.map(&mut Scale(scale));
        (net, Layout::new(transform, 3, &config, &cpu()), config)
    }

    struct Scale(f32);

    impl burn::module::ModuleMapper for Scale {
        fn map_float<const D: usize>(
            &mut self,
            param: burn::module::Param<Tensor<D>>,
        ) -> burn::module::Param<Tensor<D>> {
            param.map(|t| t * self.0)
        }
    }

    fn rows() -> Array2<f32> {
        Array2::from_shape_fn((40, 3), |(i, j)| {
            ((i * 7 + j * 3) as f32 * 0.61).sin() * 2.5 + if i % 5 == 0 { 1.7 } else { 0.0 }
        })
    }

    #[test]
    fn inverse_recovers_the_input() {
        for transform in TRANSFORMS {
            let (net, layout, config) = flow(transform);
            let b = Bijection {
                net: &net,
                layout: &layout,
                config: &config,
            };
            let x = rows();
            let (z, _) = b.forward(to_tensor(x.view(), &cpu()));
            let back = to_vec(b.inverse(z)).unwrap();
            for (a, b) in x.iter().zip(&back) {
                assert!((a - b).abs() < 1e-4, "{transform:?}: {a} came back as {b}");
            }
        }
    }

    /// The log-determinant each layer reports matches the determinant of the Jacobian taken
    /// by central differences (which also proves MAF's masks keep the Jacobian triangular).
    #[test]
    fn log_determinant_matches_finite_differences() {
        let h = 2e-3f32;
        for transform in TRANSFORMS {
            let (net, layout, config) = flow(transform);
            let b = Bijection {
                net: &net,
                layout: &layout,
                config: &config,
            };
            let x = rows();
            let (_, log_det) = b.forward(to_tensor(x.view(), &cpu()));
            let log_det = to_vec(log_det).unwrap();
            let shifted = |j: usize, by: f32| {
                let mut moved = x.clone();
                moved.column_mut(j).mapv_inplace(|v| v + by);
                crate::deep::tensor::to_array2(b.forward(to_tensor(moved.view(), &cpu())).0)
                    .unwrap()
            };
            let columns: Vec<Array2<f32>> = (0..3)
                .map(|j| (shifted(j, h) - shifted(j, -h)) / (2.0 * h))
                .collect();
            for (r, &reported) in log_det.iter().enumerate() {
                let jac = |i: usize, j: usize| f64::from(columns[j][[r, i]]);
                let det = jac(0, 0) * (jac(1, 1) * jac(2, 2) - jac(1, 2) * jac(2, 1))
                    - jac(0, 1) * (jac(1, 0) * jac(2, 2) - jac(1, 2) * jac(2, 0))
                    + jac(0, 2) * (jac(1, 0) * jac(2, 1) - jac(1, 1) * jac(2, 0));
                let numeric = det.abs().ln();
                assert!(
                    (numeric - f64::from(reported)).abs() < 0.02 * (1.0 + numeric.abs()),
                    "{transform:?} row {r}: finite differences {numeric}, reported {reported}"
                );
            }
        }
    }

    #[test]
    fn far_out_inputs_get_finite_densities() {
        for transform in TRANSFORMS {
            let (net, layout, config) = flow(transform);
            let b = Bijection {
                net: &net,
                layout: &layout,
                config: &config,
            };
            let x = Array2::from_shape_vec(
                (4, 3),
                vec![
                    1e3, -1e3, 0.0, 1e6, 1e6, -1e6, -1e8, 5.0, 1e8, 0.0, 0.0, 1e9,
                ],
            )
            .unwrap();
            let nll = to_vec(b.negative_log_likelihood(to_tensor(x.view(), &cpu()))).unwrap();
            assert!(nll.iter().all(|v| v.is_finite()), "{transform:?}: {nll:?}");
            assert!(nll.iter().all(|&v| v > 100.0), "{transform:?}: {nll:?}");
        }
    }
}
