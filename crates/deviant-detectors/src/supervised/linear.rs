//! Linear learners, score = the anomaly class's margin `x·w + b` (its log-odds for the
//! logistic loss); explain = each column's term `x_j w_j`.
//!
//! - `logistic`: L2-regularised logistic regression fitted by linfa-logistic (L-BFGS).
//!   linfa takes no sample weights, so the classes are balanced by sampling: the rarer
//!   class's rows are repeated until both have about as many.
//! - `sgd`: a linear model trained by averaged stochastic gradient descent (log, hinge or
//!   modified Huber loss, L2, class-balanced weights on each step), written by hand: no Rust
//!   crate has one.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Dataset, Detector, DetectorConfig, Error, FitContext, Result};
use linfa::prelude::Fit;
use ndarray::{Array1, Array2, ArrayView2};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{balanced_weights, labels_of};
use crate::catalogue::{About, Entry, ParamRange, log_float, log_int, names};
use crate::check::{at_least_one, non_negative, positive};
use crate::{read_json, write_json};

/// A fitted linear scorer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Linear {
    weights: Array1<f32>,
    bias: f32,
}

const STATE: &str = "linear.json";

impl Detector for Linear {
    fn n_features(&self) -> usize {
        self.weights.len()
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        check_input(x, self.n_features(), "a linear model")?;
        Ok(x.dot(&self.weights) + self.bias)
    }

    fn explain(&self, x: ArrayView2<f32>) -> Option<Result<Array2<f32>>> {
        Some(check_input(x, self.n_features(), "a linear model").map(|()| &x * &self.weights))
    }

    fn feature_importances(&self) -> Option<Vec<f64>> {
        let total: f32 = self.weights.iter().map(|w| w.abs()).sum();
        (total > 0.0).then(|| {
            self.weights
                .iter()
                .map(|w| (w.abs() / total) as f64)
                .collect()
        })
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), self)
    }
}

/// linfa-logistic's defaults but a stricter tolerance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogisticConfig {
    /// The L2 penalty `alpha/2 ‖w‖²` against the summed log loss.
    pub alpha: f64,
    pub max_iterations: u64,
}

impl Default for LogisticConfig {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            max_iterations: 200,
        }
    }
}

impl DetectorConfig for LogisticConfig {
    const KIND: &'static str = "logistic";
    type Fitted = Linear;

    fn validate(&self) -> Result<()> {
        non_negative("alpha", self.alpha)?;
        at_least_one("max_iterations", self.max_iterations as usize)
    }

    fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<Linear> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "logistic fit")?;
        let labels = labels_of(train, Self::KIND)?;
        let rows = balanced_rows(labels);
        let records = ndarray16::Array2::from_shape_fn((rows.len(), x.ncols()), |(i, j)| {
            x[[rows[i], j]] as f64
        });
        let targets = ndarray16::Array1::from_iter(rows.iter().map(|&r| labels[r] == 1));
        cx.check_cancelled()?;
        let fitted = linfa_logistic::LogisticRegression::default()
            .alpha(self.alpha)
            .max_iterations(self.max_iterations)
            .fit(&linfa::Dataset::new(records, targets))
            .map_err(|e| Error::input("logistic fit", e.to_string()))?;
        cx.check_cancelled()?;
        // linfa names the positive class itself; the score is the anomalies' margin.
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        Ok(Linear {
            weights: fitted.params().iter().map(|&w| (sign * w) as f32).collect(),
            bias: (sign * fitted.intercept()) as f32,
        })
    }

    fn load(&self, dir: &Path) -> Result<Linear> {
        read_json(&dir.join(STATE))
    }
}

/// Every row once, and the rarer class's rows repeated until the classes are about even.
fn balanced_rows(labels: &Array1<u8>) -> Vec<usize> {
    let anomalies = labels.iter().filter(|&&l| l == 1).count();
    let (rare, common) = match anomalies * 2 <= labels.len() {
        true => (1, labels.len() - anomalies),
        false => (0, anomalies),
    };
    let rare_count = labels.len() - common;
    let repeats = (common as f64 / rare_count as f64).round().max(1.0) as usize;
    (0..labels.len())
        .flat_map(|r| {
            let times = if labels[r] == rare { repeats } else { 1 };
            std::iter::repeat_n(r, times)
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SgdLoss {
    Log,
    Hinge,
    ModifiedHuber,
}

/// Defaults follow scikit-learn's `SGDClassifier` where they apply (hinge loss, α = 1e-4),
/// with averaging on, since the averaged weights rank better after few epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SgdConfig {
    pub loss: SgdLoss,
    pub alpha: f64,
    pub epochs: usize,
    /// The step size at the start; it decays as `eta0 / (1 + eta0 · alpha · t)`.
    pub eta0: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            loss: SgdLoss::Hinge,
            alpha: 1e-4,
            epochs: 10,
            eta0: 0.01,
        }
    }
}

impl SgdLoss {
    /// The derivative of the loss with respect to the margin `z`, for target `y` = ±1.
    fn slope(self, z: f64, y: f64) -> f64 {
        let yz = y * z;
        match self {
            SgdLoss::Log => -y / (1.0 + yz.exp()),
            SgdLoss::Hinge if yz < 1.0 => -y,
            SgdLoss::Hinge => 0.0,
            SgdLoss::ModifiedHuber if yz < -1.0 => -4.0 * y,
            SgdLoss::ModifiedHuber if yz < 1.0 => -2.0 * y * (1.0 - yz),
            SgdLoss::ModifiedHuber => 0.0,
        }
    }
}

impl DetectorConfig for SgdConfig {
    const KIND: &'static str = "sgd";
    type Fitted = Linear;

    fn validate(&self) -> Result<()> {
        positive("alpha", self.alpha)?;
        positive("eta0", self.eta0)?;
        at_least_one("epochs", self.epochs)
    }

    fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<Linear> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "sgd fit")?;
        let labels = labels_of(train, Self::KIND)?;
        let class_weights = balanced_weights(labels);
        let mut rng = ChaCha8Rng::seed_from_u64(cx.seed);
        let d = x.ncols();
        let (mut w, mut b) = (vec![0.0f64; d], 0.0f64);
        let (mut avg_w, mut avg_b, mut averaged) = (vec![0.0f64; d], 0.0f64, 0.0f64);
        let mut order: Vec<usize> = (0..x.nrows()).collect();
        let mut t = 0.0f64;
        for _ in 0..self.epochs {
            cx.check_cancelled()?;
            order.shuffle(&mut rng);
            for &r in &order {
                let row = x.row(r);
                let y = if labels[r] == 1 { 1.0 } else { -1.0 };
                let eta = self.eta0 / (1.0 + self.eta0 * self.alpha * t);
                let z: f64 = b + row.iter().zip(&w).map(|(&v, w)| v as f64 * w).sum::<f64>();
                let g = class_weights[labels[r] as usize] * self.loss.slope(z, y);
                let shrink = 1.0 - eta * self.alpha;
                for (w, &v) in w.iter_mut().zip(row) {
                    *w = *w * shrink - eta * g * v as f64;
                }
                b -= eta * g;
                t += 1.0;
                // A running mean of the iterates (Polyak–Ruppert averaging).
                averaged += 1.0;
                for (a, w) in avg_w.iter_mut().zip(&w) {
                    *a += (w - *a) / averaged;
                }
                avg_b += (b - avg_b) / averaged;
            }
        }
        if avg_w.iter().any(|w| !w.is_finite()) || !avg_b.is_finite() {
            return Err(Error::Diverged {
                epoch: self.epochs,
                loss: "sgd weights".into(),
                value: f64::NAN,
                remedy: "lower eta0 or raise alpha".into(),
            });
        }
        Ok(Linear {
            weights: avg_w.iter().map(|&w| w as f32).collect(),
            bias: avg_b as f32,
        })
    }

    fn load(&self, dir: &Path) -> Result<Linear> {
        read_json(&dir.join(STATE))
    }
}

impl Entry for LogisticConfig {
    const ABOUT: About = About::linear(
        "logistic regression (L2, L-BFGS by linfa, classes balanced by repeating the rarer); score = anomaly log-odds",
    )
    .supervised();
    const SEARCH: &'static [ParamRange] = &[log_float("alpha", 1e-3, 1e2)];
}

impl Entry for SgdConfig {
    const ABOUT: About = About::linear(
        "linear model by averaged SGD (hinge, log or modified Huber loss, balanced class weights); score = margin",
    )
    .supervised();
    const SEARCH: &'static [ParamRange] = &[
        names("loss", &["hinge", "log", "modified_huber"]),
        log_float("alpha", 1e-6, 1e-2),
        log_int("epochs", 3, 30),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Axis, array};

    #[test]
    fn the_rarer_class_is_repeated_to_balance() {
        let rows = balanced_rows(&array![0, 0, 0, 0, 1, 0]);
        assert_eq!(rows.iter().filter(|&&r| r == 4).count(), 5);
        assert_eq!(rows.len(), 10);
    }

    #[test]
    fn losses_push_the_margin_towards_the_target() {
        for loss in [SgdLoss::Log, SgdLoss::Hinge, SgdLoss::ModifiedHuber] {
            assert!(loss.slope(0.0, 1.0) < 0.0 && loss.slope(0.0, -1.0) > 0.0);
        }
        assert_eq!(SgdLoss::Hinge.slope(2.0, 1.0), 0.0);
    }

    #[test]
    fn explain_terms_sum_to_the_score_less_the_bias() {
        let model = Linear {
            weights: array![2.0, -1.0],
            bias: 0.5,
        };
        let x = array![[1.0f32, 3.0]];
        let terms = model.explain(x.view()).unwrap().unwrap();
        assert_eq!(
            terms.sum_axis(Axis(1))[0] + 0.5,
            model.score(x.view()).unwrap()[0]
        );
    }
}
