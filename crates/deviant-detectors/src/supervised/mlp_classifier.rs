//! A multi-layer perceptron classifier on burn, trained through the one deep training loop
//! with the label as the last column of each batch: class-balanced binary cross-entropy
//! (each class's rows weigh `n / (2 n_class)` in every batch's mean), so the per-epoch
//! history has the loss and the accuracy on the training and the held-out rows.
//! Score = the anomaly class's logit.

use burn::module::Module;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::relu;
use deviant_core::Result;
use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, float, log_float, stacks};
use crate::check::{below_one, positive, stack, widths};
use crate::deep::detector::{DeepDetector, DeepKind, NoState};
use crate::deep::mlp::Mlp;
use crate::deep::tensor::{Activation, scalar};
use crate::deep::train::{LoopConfig, Losses, TrainStep, descend};
use crate::deep_detector;

/// scikit-learn's `MLPClassifier` defaults where they apply (ReLU, Adam at 1e-3, early
/// stopping on a tenth), two hidden layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlpClassifierConfig {
    /// Hidden layer widths from the input side.
    pub hidden: Vec<usize>,
    pub activation: Activation,
    /// Dropout on hidden layers while training (0 = none).
    pub dropout: f64,
    pub learning_rate: f64,
    pub training: LoopConfig,
}

impl Default for MlpClassifierConfig {
    fn default() -> Self {
        Self {
            hidden: vec![64, 32],
            activation: Activation::Relu,
            dropout: 0.0,
            learning_rate: 1e-3,
            training: LoopConfig {
                epochs: 30,
                ..LoopConfig::default()
            },
        }
    }
}

impl MlpClassifierConfig {
    fn check(&self) -> Result<()> {
        widths("hidden", &self.hidden)?;
        below_one("dropout", self.dropout)?;
        positive("learning_rate", self.learning_rate)?;
        self.training.validate()
    }

    fn widths(&self, n_features: usize) -> Vec<usize> {
        stack(n_features, &self.hidden, 1)
    }
}

pub struct MlpClassifierStep {
    net: Mlp,
    optimizer: ModuleOptimizer,
    config: MlpClassifierConfig,
    n_features: usize,
    /// Balanced weights of the normal and the anomaly class, from the training rows.
    class_weights: [f32; 2],
}

impl MlpClassifierStep {
    /// The features and the label column of a batch.
    ///
    /// # Shapes
    /// - `batch`: `[rows, n_features + 1]` → (`[rows, n_features]`, `[rows, 1]`)
    fn split(&self, batch: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let d = self.n_features;
        (batch.clone().narrow(1, 0, d), batch.narrow(1, d, 1))
    }

    /// The class-weighted mean cross-entropy of `logits` against `y`, and the accuracy.
    fn losses(&self, logits: Tensor<2>, y: Tensor<2>) -> (Tensor<1>, f64) {
        let [w0, w1] = self.class_weights;
        let accuracy = scalar(
            (logits.clone().detach().sign() * (y.clone() * 2.0 - 1.0))
                .clamp_min(0.0)
                .mean(),
        );
        // log(1 + e^z) − y z, written to stay finite for large |z|.
        let softplus = relu(logits.clone()) + (-logits.clone().abs()).exp().log1p();
        let cross_entropy = softplus - logits * y.clone();
        let weights = y * (w1 - w0) + w0;
        let loss = (cross_entropy * weights.clone()).sum() / weights.sum();
        (loss, accuracy)
    }
}

impl TrainStep for MlpClassifierStep {
    fn step(mut self, batch: Tensor<2>, rng: &mut ChaCha8Rng) -> (Self, Losses) {
        let (x, y) = self.split(batch);
        let dropout = (self.config.dropout > 0.0).then_some((self.config.dropout, rng));
        let logits = self.net.forward(x, self.config.activation, dropout);
        let (loss, accuracy) = self.losses(logits, y);
        let value = scalar(loss.clone());
        self.net = descend(
            &mut self.optimizer,
            self.config.learning_rate,
            self.net,
            loss,
        );
        (self, Losses(vec![("loss", value), ("accuracy", accuracy)]))
    }

    fn evaluate(&self, batch: Tensor<2>) -> Losses {
        let (x, y) = self.split(batch);
        let logits = self.net.valid().forward(x, self.config.activation, None);
        let (loss, accuracy) = self.losses(logits, y);
        Losses(vec![("loss", scalar(loss)), ("accuracy", accuracy)])
    }
}

/// A fitted MLP classifier.
pub type MlpClassifier = DeepDetector<MlpClassifierConfig>;

deep_detector!(
    MlpClassifierConfig,
    "mlp_classifier",
    Mlp,
    MlpClassifierStep
);

impl DeepKind for MlpClassifierConfig {
    const LABELLED: bool = true;

    fn start(
        &self,
        rows: ArrayView2<f32>,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<MlpClassifierStep> {
        let n_features = rows.ncols() - 1;
        let labels = rows.column(n_features).mapv(|v| u8::from(v > 0.5));
        let [w0, w1] = super::balanced_weights(&labels);
        Ok(MlpClassifierStep {
            net: Mlp::new(&self.widths(n_features), true, rng, device),
            optimizer: AdamConfig::new().with_epsilon(1e-8).init(),
            config: self.clone(),
            n_features,
            class_weights: [w0 as f32, w1 as f32],
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

    fn score_rows(
        fitted: &MlpClassifier,
        x: Tensor<2>,
        _rng: &mut ChaCha8Rng,
    ) -> Result<Tensor<1>> {
        let logits = fitted.net.forward(x, fitted.config.activation, None);
        Ok(logits.squeeze_dim(1))
    }
}

impl Entry for MlpClassifierConfig {
    const ABOUT: About = About::deep(
        "multi-layer perceptron classifier (burn, class-balanced cross-entropy, accuracy per epoch); score = anomaly logit",
    )
    .supervised();
    const SEARCH: &'static [ParamRange] = &[
        stacks("hidden", &[&[64, 32], &[128, 64], &[32], &[256, 128, 64]]),
        float("dropout", 0.0, 0.3),
        log_float("learning_rate", 3e-4, 3e-3),
    ];
}
