//! Gradient-boosted trees for the log loss (Friedman 2001), grown on binned features with
//! Newton leaf values and an L2 penalty (as in XGBoost and LightGBM; Chen & Guestrin 2016):
//! score = the anomaly class's log-odds. Classes are balanced by sample weights; a
//! stratified share of the training rows is held out, and boosting stops when their log
//! loss has not improved for `patience` rounds, keeping the best round's trees.
//!
//! Written by hand on the forests' histogram trees: `perpetual`, the maintained Rust GBM,
//! needs a nightly compiler (`#![feature(array_ptr_get)]`), and linfa has only AdaBoost.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::split::{rng, split_stratified};
use deviant_core::{Dataset, Detector, DetectorConfig, Error, FitContext, Result};
use ndarray::{Array1, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::trees::{Binned, Criterion, Growth, Tree, check_bins, sum_of_trees};
use super::{balanced_weights, labels_of};
use crate::catalogue::{About, Entry, ParamRange, int, log_float, log_int};
use crate::check::{at_least_one, non_negative, positive};
use crate::{read_json, write_json};

/// Defaults in the range of scikit-learn's `HistGradientBoostingClassifier` (rate 0.1,
/// leaves of 20 rows, early stopping on a tenth), with depth-limited trees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GbtConfig {
    /// The most boosting rounds (trees).
    pub n_trees: usize,
    pub learning_rate: f64,
    pub max_depth: usize,
    pub min_samples_leaf: usize,
    /// The L2 penalty on leaf values.
    pub l2: f64,
    pub max_bins: usize,
    /// Rounds without a better held-out loss before stopping (0: no hold-out, all rounds).
    pub patience: usize,
    pub validation_share: f64,
}

impl Default for GbtConfig {
    fn default() -> Self {
        Self {
            n_trees: 300,
            learning_rate: 0.1,
            max_depth: 6,
            min_samples_leaf: 20,
            l2: 1.0,
            max_bins: 255,
            patience: 20,
            validation_share: 0.1,
        }
    }
}

/// A fitted booster: the base log-odds plus every tree's leaf value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Gbt {
    n_features: usize,
    base: f32,
    trees: Vec<Tree>,
    importance: Vec<f64>,
    /// Rounds kept (the best held-out round) of the rounds run.
    rounds_run: usize,
}

const STATE: &str = "gbt.json";

/// One Newton step of the log loss: each row adds its weighted gradient and hessian.
struct Newton<'a> {
    gradients: &'a [f64],
    hessians: &'a [f64],
    l2: f64,
    learning_rate: f64,
}

/// Below this summed hessian a child is too light to trust its Newton step.
const MIN_CHILD_HESSIAN: f64 = 1e-3;

impl Criterion for Newton<'_> {
    fn of_row(&self, row: usize) -> [f64; 2] {
        [self.gradients[row], self.hessians[row]]
    }

    fn value(&self, [g, h]: [f64; 2]) -> f64 {
        g * g / (h + self.l2)
    }

    fn leaf(&self, [g, h]: [f64; 2]) -> f32 {
        (-self.learning_rate * g / (h + self.l2)) as f32
    }

    fn splittable(&self, [_, h]: [f64; 2]) -> bool {
        h >= 2.0 * MIN_CHILD_HESSIAN
    }

    fn child_ok(&self, [_, h]: [f64; 2]) -> bool {
        h >= MIN_CHILD_HESSIAN
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The weighted mean log loss of log-odds `raw` on `rows`.
fn log_loss(raw: &[f64], rows: &[usize], y: &[f64], w: &[f64]) -> f64 {
    let (mut loss, mut total) = (0.0, 0.0);
    for &r in rows {
        let p = sigmoid(raw[r]).clamp(1e-15, 1.0 - 1e-15);
        loss -= w[r] * (y[r] * p.ln() + (1.0 - y[r]) * (1.0 - p).ln());
        total += w[r];
    }
    loss / total
}

impl DetectorConfig for GbtConfig {
    const KIND: &'static str = "gbt";
    type Fitted = Gbt;

    fn validate(&self) -> Result<()> {
        at_least_one("n_trees", self.n_trees)?;
        positive("learning_rate", self.learning_rate)?;
        at_least_one("max_depth", self.max_depth)?;
        at_least_one("min_samples_leaf", self.min_samples_leaf)?;
        non_negative("l2", self.l2)?;
        check_bins(self.max_bins)?;
        if !(0.0..0.5).contains(&self.validation_share) {
            return Err(Error::config("validation_share", "must be in [0, 0.5)"));
        }
        Ok(())
    }

    fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<Gbt> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "gbt fit")?;
        let labels = labels_of(train, Self::KIND)?;
        let class_weights = balanced_weights(labels);
        let y: Vec<f64> = labels.iter().map(|&l| l as f64).collect();
        let w: Vec<f64> = labels.iter().map(|&l| class_weights[l as usize]).collect();
        let all: Vec<usize> = (0..x.nrows()).collect();
        let labels_slice = labels.as_slice().expect("contiguous labels");
        let (held, fit_rows) = match self.patience > 0 && self.validation_share > 0.0 {
            true => split_stratified(&all, labels_slice, self.validation_share, &mut rng(cx.seed)),
            false => (Vec::new(), all),
        };
        let stop_early = !held.is_empty() && held.iter().any(|&r| labels[r] == 1);
        // Prior log-odds of the weighted classes (0 when balanced).
        let (pos, neg) = fit_rows.iter().fold((0.0, 0.0), |(p, n), &r| {
            (p + w[r] * y[r], n + w[r] * (1.0 - y[r]))
        });
        let base = (pos / neg).ln();
        let binned = Binned::new(x, self.max_bins);
        let growth = Growth {
            max_depth: self.max_depth,
            min_samples_leaf: self.min_samples_leaf,
            features_per_split: x.ncols(),
        };
        let mut raw = vec![base; x.nrows()];
        let (mut gradients, mut hessians) = (vec![0.0; x.nrows()], vec![0.0; x.nrows()]);
        let mut trees = Vec::new();
        let mut importance = vec![0.0; x.ncols()];
        let (mut best_loss, mut best_rounds) = (f64::INFINITY, 0);
        let mut no_column_sampling = rng(cx.seed);
        for round in 0..self.n_trees {
            cx.check_cancelled()?;
            for &r in &fit_rows {
                let p = sigmoid(raw[r]);
                gradients[r] = w[r] * (p - y[r]);
                hessians[r] = w[r] * (p * (1.0 - p)).max(1e-12);
            }
            let newton = Newton {
                gradients: &gradients,
                hessians: &hessians,
                l2: self.l2,
                learning_rate: self.learning_rate,
            };
            let tree = Tree::grow(
                &binned,
                &newton,
                fit_rows.clone(),
                &growth,
                &mut no_column_sampling,
                &mut importance,
            );
            raw.par_iter_mut()
                .enumerate()
                .for_each(|(r, v)| *v += tree.score(x.row(r)) as f64);
            trees.push(tree);
            if !stop_early {
                best_rounds = round + 1;
                continue;
            }
            let loss = log_loss(&raw, &held, &y, &w);
            if !loss.is_finite() {
                return Err(Error::Diverged {
                    epoch: round + 1,
                    loss: "held-out log loss".into(),
                    value: loss,
                    remedy: "lower learning_rate or raise l2".into(),
                });
            }
            if loss < best_loss - 1e-9 {
                (best_loss, best_rounds) = (loss, round + 1);
            } else if round + 1 - best_rounds >= self.patience {
                break;
            }
        }
        let rounds_run = trees.len();
        trees.truncate(best_rounds.max(1));
        let sum: f64 = importance.iter().sum();
        if sum > 0.0 {
            importance.iter_mut().for_each(|v| *v /= sum);
        }
        Ok(Gbt {
            n_features: x.ncols(),
            base: base as f32,
            trees,
            importance,
            rounds_run,
        })
    }

    fn load(&self, dir: &Path) -> Result<Gbt> {
        read_json(&dir.join(STATE))
    }
}

impl Detector for Gbt {
    fn n_features(&self) -> usize {
        self.n_features
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        check_input(x, self.n_features, "gbt")?;
        let sums = sum_of_trees(&self.trees, x);
        Ok(sums.into_iter().map(|s| self.base + s).collect())
    }

    fn feature_importances(&self) -> Option<Vec<f64>> {
        Some(self.importance.clone())
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), self)
    }

    fn fit_summary(&self) -> deviant_core::detector::FitSummary {
        deviant_core::detector::FitSummary {
            notes: vec![format!(
                "{} trees kept of {} rounds (early stopping on held-out log loss)",
                self.trees.len(),
                self.rounds_run
            )],
            ..Default::default()
        }
    }
}

impl Entry for GbtConfig {
    const ABOUT: About = About::linear(
        "gradient-boosted trees (log loss, Newton leaves, balanced weights, early stopping); score = anomaly log-odds",
    )
    .supervised();
    const SEARCH: &'static [ParamRange] = &[
        log_float("learning_rate", 0.02, 0.3),
        int("max_depth", 3, 10),
        log_int("min_samples_leaf", 5, 100),
        log_float("l2", 0.01, 10.0),
    ];
}
