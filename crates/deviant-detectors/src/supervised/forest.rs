//! A decision tree and a random forest (Breiman 2001) of the trees in [`super::trees`]:
//! score = the anomaly share of the leaf a row falls in (averaged over the forest's trees),
//! with class-balanced weights, so a rare anomaly class is not outvoted. The forest draws a
//! bootstrap sample per tree and a subset of columns per split.
//!
//! Written by hand: linfa-trees predicts labels only (no leaf probabilities) and
//! linfa-ensemble votes labels and draws columns once per tree, not per split.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Dataset, Detector, DetectorConfig, FitContext, Result};
use ndarray::{Array1, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::trees::{Binned, Gini, Growth, Tree, check_bins, sum_of_trees};
use super::{balanced_weights, labels_of};
use crate::catalogue::{About, Entry, ParamRange, int, log_int, names};
use crate::check::at_least_one;
use crate::{read_json, write_json};

/// A single tree; defaults keep it small enough to read and to generalise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecisionTreeConfig {
    pub max_depth: usize,
    pub min_samples_leaf: usize,
    /// Quantile cuts per column considered for splits (2–256).
    pub max_bins: usize,
}

impl Default for DecisionTreeConfig {
    fn default() -> Self {
        Self {
            max_depth: 8,
            min_samples_leaf: 5,
            max_bins: 64,
        }
    }
}

/// How many columns a forest's split may choose among.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxFeatures {
    Sqrt,
    Log2,
    All,
}

impl MaxFeatures {
    fn of(self, n: usize) -> usize {
        let n_f = n as f64;
        match self {
            MaxFeatures::Sqrt => n_f.sqrt().round() as usize,
            MaxFeatures::Log2 => n_f.log2().round() as usize,
            MaxFeatures::All => n,
        }
        .clamp(1, n)
    }
}

/// Defaults follow scikit-learn's forest (√d columns per split, leaves of one row) with the
/// depth capped so a forest of a large table stays a few megabytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomForestConfig {
    pub n_trees: usize,
    pub max_depth: usize,
    pub min_samples_leaf: usize,
    pub max_features: MaxFeatures,
    pub max_bins: usize,
}

impl Default for RandomForestConfig {
    fn default() -> Self {
        Self {
            n_trees: 100,
            max_depth: 16,
            min_samples_leaf: 1,
            max_features: MaxFeatures::Sqrt,
            max_bins: 64,
        }
    }
}

/// Fitted trees whose leaf shares are averaged, with each column's impurity decrease.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Forest {
    n_features: usize,
    trees: Vec<Tree>,
    importance: Vec<f64>,
}

/// Grows `n_trees` trees on `train` (one on all rows when `bootstrap` is off), in parallel,
/// each seeded from `cx.seed` and its index, stopping between trees when cancelled.
fn grow_forest(
    train: &Dataset,
    kind: &str,
    n_trees: usize,
    bootstrap: bool,
    growth: impl Fn(usize) -> Growth,
    max_bins: usize,
    cx: &FitContext,
) -> Result<Forest> {
    let x = train.view();
    check_input(x, x.ncols(), &format!("{kind} fit"))?;
    let labels = labels_of(train, kind)?;
    let growth = growth(x.ncols());
    let gini = Gini {
        labels: labels.view(),
        class_weights: balanced_weights(labels),
    };
    let binned = Binned::new(x, max_bins);
    let n = x.nrows();
    let grown: Vec<(Tree, Vec<f64>)> = (0..n_trees)
        .into_par_iter()
        .map(|t| {
            cx.check_cancelled()?;
            let mut rng =
                ChaCha8Rng::seed_from_u64(cx.seed ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let rows: Vec<usize> = match bootstrap {
                true => (0..n).map(|_| rng.random_range(0..n)).collect(),
                false => (0..n).collect(),
            };
            let mut importance = vec![0.0; x.ncols()];
            let tree = Tree::grow(&binned, &gini, rows, &growth, &mut rng, &mut importance);
            Ok((tree, importance))
        })
        .collect::<Result<_>>()?;
    let mut importance = vec![0.0; x.ncols()];
    for (_, tree_importance) in &grown {
        for (total, v) in importance.iter_mut().zip(tree_importance) {
            *total += v;
        }
    }
    let sum: f64 = importance.iter().sum();
    if sum > 0.0 {
        importance.iter_mut().for_each(|v| *v /= sum);
    }
    Ok(Forest {
        n_features: x.ncols(),
        trees: grown.into_iter().map(|(tree, _)| tree).collect(),
        importance,
    })
}

const STATE: &str = "forest.json";

impl DetectorConfig for DecisionTreeConfig {
    const KIND: &'static str = "decision_tree";
    type Fitted = Forest;

    fn validate(&self) -> Result<()> {
        at_least_one("max_depth", self.max_depth)?;
        at_least_one("min_samples_leaf", self.min_samples_leaf)?;
        check_bins(self.max_bins)
    }

    fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<Forest> {
        self.validate()?;
        let growth = |n_features| Growth {
            max_depth: self.max_depth,
            min_samples_leaf: self.min_samples_leaf,
            features_per_split: n_features,
        };
        grow_forest(train, Self::KIND, 1, false, growth, self.max_bins, cx)
    }

    fn load(&self, dir: &Path) -> Result<Forest> {
        read_json(&dir.join(STATE))
    }
}

impl DetectorConfig for RandomForestConfig {
    const KIND: &'static str = "random_forest";
    type Fitted = Forest;

    fn validate(&self) -> Result<()> {
        at_least_one("n_trees", self.n_trees)?;
        at_least_one("max_depth", self.max_depth)?;
        at_least_one("min_samples_leaf", self.min_samples_leaf)?;
        check_bins(self.max_bins)
    }

    fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<Forest> {
        self.validate()?;
        let growth = |n_features: usize| Growth {
            max_depth: self.max_depth,
            min_samples_leaf: self.min_samples_leaf,
            features_per_split: self.max_features.of(n_features),
        };
        grow_forest(
            train,
            Self::KIND,
            self.n_trees,
            true,
            growth,
            self.max_bins,
            cx,
        )
    }

    fn load(&self, dir: &Path) -> Result<Forest> {
        read_json(&dir.join(STATE))
    }
}

impl Detector for Forest {
    fn n_features(&self) -> usize {
        self.n_features
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        check_input(x, self.n_features, "a tree model")?;
        let n = self.trees.len() as f32;
        Ok(sum_of_trees(&self.trees, x)
            .into_iter()
            .map(|s| s / n)
            .collect())
    }

    fn feature_importances(&self) -> Option<Vec<f64>> {
        Some(self.importance.clone())
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), self)
    }
}

impl Entry for DecisionTreeConfig {
    const ABOUT: About = About::linear(
        "decision tree (CART, class-weighted Gini); score = the anomaly share of the row's leaf",
    )
    .supervised();
    const SEARCH: &'static [ParamRange] =
        &[int("max_depth", 2, 16), log_int("min_samples_leaf", 1, 50)];
}

impl Entry for RandomForestConfig {
    const ABOUT: About = About::linear(
        "random forest (bootstrap trees, √d columns per split, balanced classes); score = mean leaf anomaly share",
    )
    .supervised();
    const SEARCH: &'static [ParamRange] = &[
        log_int("n_trees", 50, 300),
        int("max_depth", 6, 24),
        log_int("min_samples_leaf", 1, 20),
        names("max_features", &["sqrt", "log2", "all"]),
    ];
}
