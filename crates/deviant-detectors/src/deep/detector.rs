//! The glue every deep detector shares, written once: a kind says how to start its training
//! step, what it keeps when training ends and how it scores; [`DeepDetector`] does the fitting
//! through the one loop, the chunked scoring, saving, loading and the training summary.

use std::fmt::Debug;
use std::path::Path;

use burn::module::Module;
use burn::prelude::*;
use deviant_core::detector::FitSummary;
use deviant_core::{Dataset, Detector, DetectorConfig, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView2};
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::deep::tensor::{explain_in_chunks, load_weights, save_weights, score_in_chunks};
use crate::deep::train::{LoopConfig, TrainStep, fit_step};
use crate::{read_json, write_json};

/// The parts of a deep kind its [`deep_detector!`](crate::deep_detector) line declares.
pub trait DeepParts {
    /// The fitted network, on the plain (inference) device; its weights are what is saved.
    type Net: Module + Debug + Send + Sync;
    /// What training leaves besides the weights (a mixture, a centre), saved as JSON beside
    /// them; [`NoState`] for most kinds.
    type State: Serialize + DeserializeOwned + Debug + Send + Sync;
    /// The training state one optimisation step moves forward.
    type Step: TrainStep + Send;

    fn training(&self) -> &LoopConfig;

    /// The network and state to keep once the loop has ended; `x` is the training rows.
    fn finish(&self, step: Self::Step, x: ArrayView2<f32>) -> Result<(Self::Net, Self::State)>;
}

/// What one deep kind adds to the shared glue, implemented beside its network.
pub trait DeepKind: DeepParts + DetectorConfig<Fitted = DeepDetector<Self>> + Debug {
    /// The stem of the JSON file saved beside the weights; kinds that share one layout
    /// (DAGMM and VAEGMM) share it.
    const STATE_FILE: &'static str = Self::KIND;
    /// Whether [`DeepKind::explain_rows`] gives per-feature contributions.
    const EXPLAINS: bool = false;
    /// A supervised kind: the loop's rows carry each row's label (0 or 1) as one more
    /// column after the features, so batches, shuffles and hold-outs keep them together.
    const LABELLED: bool = false;

    /// A fresh training step for the training rows `x`.
    fn start(
        &self,
        x: ArrayView2<f32>,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<Self::Step>;

    /// A network of the saved shape on `device`, for the saved weights to be loaded into.
    fn blank(&self, n_features: usize, state: &Self::State, device: &Device) -> Result<Self::Net>;

    /// The score of each row of `x` (`[rows, features]` → `[rows]`); sampled scores draw
    /// from `rng`.
    fn score_rows(
        fitted: &DeepDetector<Self>,
        x: Tensor<2>,
        rng: &mut ChaCha8Rng,
    ) -> Result<Tensor<1>>;

    /// Per-feature contributions (`[rows, features]`); called only when [`Self::EXPLAINS`].
    fn explain_rows(fitted: &DeepDetector<Self>, x: Tensor<2>) -> Result<Tensor<2>> {
        let _ = (fitted, x);
        Err(deviant_core::Error::internal(format!(
            "{} gives no explanations",
            Self::KIND
        )))
    }
}

/// The state of kinds that keep nothing but their weights.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NoState {}

/// A fitted deep detector of kind `K`.
#[derive(Debug)]
pub struct DeepDetector<K: DeepKind> {
    pub(crate) config: K,
    pub(crate) net: K::Net,
    pub(crate) state: K::State,
    n_features: usize,
    summary: FitSummary,
}

/// The JSON saved beside the weights: the input width and the kind's state.
#[derive(Serialize, Deserialize)]
struct Saved<S> {
    n_features: usize,
    #[serde(flatten)]
    state: S,
}

impl<K: DeepKind> DeepDetector<K> {
    /// Trains `config` on `train_set` through the one training loop.
    pub fn fit(config: &K, train_set: &Dataset, cx: &FitContext) -> Result<Self> {
        config.validate()?;
        let labelled;
        let rows = match K::LABELLED {
            true => {
                labelled = with_label_column(train_set, K::KIND)?;
                &labelled
            }
            false => train_set,
        };
        let (step, summary) = fit_step(rows, K::KIND, config.training(), cx, |x, rng, d| {
            config.start(x, rng, d)
        })?;
        let (net, state) = config.finish(step, rows.view())?;
        Ok(Self {
            config: config.clone(),
            net,
            state,
            n_features: train_set.n_features(),
            summary,
        })
    }

    /// Reads what [`Detector::save`] wrote into `dir`.
    pub fn load(config: &K, dir: &Path) -> Result<Self> {
        let saved: Saved<K::State> = read_json(&dir.join(format!("{}.json", K::STATE_FILE)))?;
        let device = crate::runtime::runtime()?.device();
        let net = load_weights(config.blank(saved.n_features, &saved.state, &device)?, dir)?;
        Ok(Self {
            config: config.clone(),
            net,
            state: saved.state,
            n_features: saved.n_features,
            summary: FitSummary::default(),
        })
    }
}

/// The features of `train` with its labels as a last column (refused without labels of
/// both classes).
fn with_label_column(train: &Dataset, kind: &str) -> Result<Dataset> {
    let labels = crate::supervised::labels_of(train, kind)?;
    let column = labels.mapv(f32::from).insert_axis(ndarray::Axis(1));
    let x = ndarray::concatenate![ndarray::Axis(1), train.view(), column];
    Ok(Dataset::new(x, None))
}

impl<K: DeepKind> Detector for DeepDetector<K> {
    fn n_features(&self) -> usize {
        self.n_features
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        score_in_chunks(x, self.n_features, K::KIND, |t, rng| {
            K::score_rows(self, t, rng)
        })
    }

    fn explain(&self, x: ArrayView2<f32>) -> Option<Result<Array2<f32>>> {
        K::EXPLAINS.then(|| {
            explain_in_chunks(x, self.n_features, K::KIND, |t, _| K::explain_rows(self, t))
        })
    }

    fn save(&self, dir: &Path) -> Result<()> {
        let saved = Saved {
            n_features: self.n_features,
            state: &self.state,
        };
        write_json(&dir.join(format!("{}.json", K::STATE_FILE)), &saved)?;
        save_weights(&self.net, dir)
    }

    fn fit_summary(&self) -> FitSummary {
        self.summary.clone()
    }
}

/// Makes a [`DeepKind`] config a [`DetectorConfig`] of kind `$kind` whose fitted network is
/// `$net`, trained by `$step`; the config's own `check` validates it and its `training` field
/// sets the loop. Without `state`, the kind keeps only `step.net`; with it, `finish` (a
/// function of the config, the step and the training rows) says what to keep.
#[macro_export]
macro_rules! deep_detector {
    ($config:ty, $kind:literal, $net:ty, $step:ty) => {
        $crate::deep_detector!(@parts $config, $net, $step, $crate::deep::detector::NoState,
            |_config: &$config, step: $step, _x| Ok((step.net.valid(), Default::default())));
        $crate::deep_detector!(@config $config, $kind);
    };
    ($config:ty, $kind:literal, $net:ty, $step:ty, state: $state:ty, finish: $finish:expr) => {
        $crate::deep_detector!(@parts $config, $net, $step, $state, $finish);
        $crate::deep_detector!(@config $config, $kind);
    };
    (@parts $config:ty, $net:ty, $step:ty, $state:ty, $finish:expr) => {
        impl $crate::deep::detector::DeepParts for $config {
            type Net = $net;
            type State = $state;
            type Step = $step;

            fn training(&self) -> &$crate::deep::train::LoopConfig {
                &self.training
            }

            fn finish(
                &self,
                step: $step,
                x: ndarray::ArrayView2<f32>,
            ) -> deviant_core::Result<($net, $state)> {
                ($finish)(self, step, x)
            }
        }
    };
    (@config $config:ty, $kind:literal) => {
        impl deviant_core::DetectorConfig for $config {
            const KIND: &'static str = $kind;
            type Fitted = $crate::deep::detector::DeepDetector<Self>;

            fn validate(&self) -> deviant_core::Result<()> {
                self.check()
            }

            fn fit(
                &self,
                train_set: &deviant_core::Dataset,
                cx: &deviant_core::FitContext,
            ) -> deviant_core::Result<Self::Fitted> {
                $crate::deep::detector::DeepDetector::fit(self, train_set, cx)
            }

            fn load(&self, dir: &std::path::Path) -> deviant_core::Result<Self::Fitted> {
                $crate::deep::detector::DeepDetector::load(self, dir)
            }
        }
    };
}
