use deviant_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, int, stacks};
use crate::check::{at_least_one, positive};
use crate::deep::tensor::Activation;
use crate::deep::train::LoopConfig;

/// Which bijection each flow layer applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    /// Affine coupling: half the features pass through and set a scale and shift of the rest.
    RealNvp,
    /// Masked autoregressive: each feature's scale and shift depend on the features before it.
    Maf,
    /// Rational-quadratic spline coupling, identity outside `[-tail_bound, tail_bound]`.
    Spline,
}

/// Hyperparameters every flow shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowConfig {
    /// Flow layers (couplings or autoregressive blocks); each alternates which features it
    /// transforms or the autoregressive order.
    pub layers: usize,
    /// Hidden widths of each layer's conditioner network.
    pub hidden: Vec<usize>,
    /// Conditioner nonlinearity; tanh keeps scales and shifts bounded on far-out inputs.
    pub activation: Activation,
    /// Largest |log scale| one affine layer may apply (a soft bound through tanh), so a
    /// constant training column cannot drive the density to infinity.
    pub max_log_scale: f64,
    /// Spline bins (neural spline flows only).
    pub bins: usize,
    /// Splines act on `[-tail_bound, tail_bound]`; outside it a layer is the identity.
    pub tail_bound: f64,
    pub learning_rate: f64,
    pub training: LoopConfig,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            layers: 5,
            hidden: vec![64, 64],
            activation: Activation::Tanh,
            max_log_scale: 3.0,
            bins: 8,
            tail_bound: 5.0,
            learning_rate: 1e-3,
            training: LoopConfig {
                epochs: 50,
                ..LoopConfig::default()
            },
        }
    }
}

impl FlowConfig {
    pub(crate) fn check(&self) -> Result<()> {
        at_least_one("layers", self.layers)?;
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return Err(Error::config(
                "hidden",
                "give at least one layer width, each at least 1",
            ));
        }
        if self.bins < 2 {
            return Err(Error::config("bins", "must be at least 2"));
        }
        positive("max_log_scale", self.max_log_scale)?;
        positive("tail_bound", self.tail_bound)?;
        positive("learning_rate", self.learning_rate)?;
        self.training.validate()
    }
}

/// Declares a flow kind: a transparent wrapper of [`FlowConfig`] with its transform.
macro_rules! flow_kind {
    ($(#[$doc:meta])* $name:ident, $transform:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub FlowConfig);

        impl $name {
            pub const TRANSFORM: Transform = $transform;

        }

        /// The kind is configured by its [`FlowConfig`]'s fields.
        impl std::ops::Deref for $name {
            type Target = FlowConfig;

            fn deref(&self) -> &FlowConfig {
                &self.0
            }
        }
    };
}

flow_kind!(
    /// RealNVP: affine couplings.
    RealNvpConfig,
    Transform::RealNvp
);
flow_kind!(
    /// MAF: masked autoregressive affine layers.
    MafConfig,
    Transform::Maf
);
flow_kind!(
    /// Neural spline flow: rational-quadratic couplings.
    NsfConfig,
    Transform::Spline
);

impl Entry for RealNvpConfig {
    const ABOUT: About =
        About::deep("RealNVP normalizing flow (affine couplings); score = -log p(x)");
    const SEARCH: &'static [ParamRange] = FLOW_SEARCH;
}

impl Entry for MafConfig {
    const ABOUT: About = About::deep("masked autoregressive flow (MAF); score = -log p(x)");
    const SEARCH: &'static [ParamRange] = FLOW_SEARCH;
}

impl Entry for NsfConfig {
    const ABOUT: About =
        About::deep("neural spline flow (rational-quadratic couplings); score = -log p(x)");
    const SEARCH: &'static [ParamRange] = FLOW_SEARCH;
}

/// The ranges the three flow kinds share.
const FLOW_SEARCH: &[ParamRange] = &[
    int("layers", 2, 8),
    stacks("hidden", &[&[32], &[64, 64], &[128]]),
];
