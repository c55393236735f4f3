//! Half-Space Trees (Tan, Ting & Liu, IJCAI 2011): random trees that halve a perturbed copy
//! of the unit workspace, built without looking at data. Each node counts the rows that pass
//! through it in a reference window and in the latest window; a row's mass score sums, over
//! trees, the reference count of the deepest node it reaches that still holds enough rows,
//! scaled by 2^depth. Every `window` learned rows the latest counts become the reference.
//! Score = 1 − mass / (trees · window · 2^height), in [0, 1], higher = more anomalous.
//!
//! Written by hand: no maintained Rust crate has them.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Dataset, Detector, DetectorConfig, Error, FitContext, Result};
use ndarray::{Array1, ArrayView1, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, float, int, log_int};
use crate::check::{at_least_one, below_one};
use crate::{read_json, write_json};

/// Defaults follow the paper's evaluation (25 trees, windows of 250 rows, size limit 0.1 of
/// the window) with trees of height 8: nodes below that hold too few rows to pass the limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HstConfig {
    pub n_trees: usize,
    /// Levels of splits in each tree.
    pub height: usize,
    /// Rows per window: the reference counts are renewed every `window` learned rows.
    pub window: usize,
    /// A row stops at the first node whose reference count is below this share of `window`.
    pub size_limit: f64,
}

impl Default for HstConfig {
    fn default() -> Self {
        Self {
            n_trees: 25,
            height: 8,
            window: 250,
            size_limit: 0.1,
        }
    }
}

/// One tree as a complete binary tree in heap order: node `i` has children `2i + 1` and
/// `2i + 2`; the first `2^height − 1` nodes split, the rest are leaves.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HalfSpaceTree {
    feature: Vec<u32>,
    split: Vec<f32>,
    reference: Vec<f32>,
    latest: Vec<f32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HalfSpaceTrees {
    /// Per feature, the training minimum and 1 / range: rows are mapped into [0, 1] first,
    /// the workspace the trees halve.
    low: Vec<f32>,
    inverse_range: Vec<f32>,
    height: usize,
    window: usize,
    size_limit: f32,
    trees: Vec<HalfSpaceTree>,
    /// Rows learned into the latest window so far.
    seen: usize,
}

const STATE: &str = "hst.json";

impl DetectorConfig for HstConfig {
    const KIND: &'static str = "hst";
    type Fitted = HalfSpaceTrees;

    fn validate(&self) -> Result<()> {
        at_least_one("n_trees", self.n_trees)?;
        at_least_one("window", self.window)?;
        if !(1..=20).contains(&self.height) {
            return Err(Error::config("height", "must be between 1 and 20"));
        }
        below_one("size_limit", self.size_limit)
    }

    /// Builds the trees from the seed and the training rows' ranges, then takes the
    /// training rows, scaled to one window, as the reference counts.
    fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<HalfSpaceTrees> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "hst fit")?;
        let (low, inverse_range) = x
            .axis_iter(Axis(1))
            .map(|column| {
                let lo = column.iter().copied().fold(f32::INFINITY, f32::min);
                let hi = column.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                (lo, if hi > lo { 1.0 / (hi - lo) } else { 1.0 })
            })
            .unzip();
        let mut rng = ChaCha8Rng::seed_from_u64(cx.seed);
        let trees = (0..self.n_trees)
            .map(|_| HalfSpaceTree::random(self.height, x.ncols(), &mut rng))
            .collect();
        let mut fitted = HalfSpaceTrees {
            low,
            inverse_range,
            height: self.height,
            window: self.window,
            size_limit: (self.size_limit * self.window as f64) as f32,
            trees,
            seen: 0,
        };
        let unit = fitted.to_unit(x);
        let share = self.window as f32 / x.nrows() as f32;
        fitted.trees.par_iter_mut().for_each(|tree| {
            for row in unit.axis_iter(Axis(0)) {
                tree.count(row);
            }
            tree.reference = tree.latest.iter().map(|&c| c * share).collect();
            tree.latest.fill(0.0);
        });
        Ok(fitted)
    }

    fn load(&self, dir: &Path) -> Result<HalfSpaceTrees> {
        read_json(&dir.join(STATE))
    }
}

impl HalfSpaceTree {
    /// Splits at the middle of a workspace perturbed around a random point of the unit
    /// cube (the paper's construction), on a random feature at each node.
    fn random(height: usize, n_features: usize, rng: &mut impl Rng) -> Self {
        let internal = (1usize << height) - 1;
        let (mut lower, mut upper): (Vec<f32>, Vec<f32>) = (0..n_features)
            .map(|_| {
                let s: f32 = rng.random();
                let half = 2.0 * s.max(1.0 - s);
                (s - half, s + half)
            })
            .unzip();
        let mut tree = Self {
            feature: vec![0; internal],
            split: vec![0.0; internal],
            reference: vec![0.0; 2 * internal + 1],
            latest: vec![0.0; 2 * internal + 1],
        };
        tree.grow(0, &mut lower, &mut upper, rng);
        tree
    }

    fn grow(&mut self, node: usize, lower: &mut [f32], upper: &mut [f32], rng: &mut impl Rng) {
        if node >= self.feature.len() {
            return;
        }
        let q = rng.random_range(0..lower.len());
        let middle = (lower[q] + upper[q]) / 2.0;
        self.feature[node] = q as u32;
        self.split[node] = middle;
        let saved = upper[q];
        upper[q] = middle;
        self.grow(2 * node + 1, lower, upper, rng);
        upper[q] = saved;
        let saved = lower[q];
        lower[q] = middle;
        self.grow(2 * node + 2, lower, upper, rng);
        lower[q] = saved;
    }

    fn child(&self, node: usize, row: ArrayView1<f32>) -> usize {
        match row[self.feature[node] as usize] < self.split[node] {
            true => 2 * node + 1,
            false => 2 * node + 2,
        }
    }

    /// Adds `row` to the latest counts of every node on its path.
    fn count(&mut self, row: ArrayView1<f32>) {
        let mut node = 0;
        loop {
            self.latest[node] += 1.0;
            if node >= self.feature.len() {
                return;
            }
            node = self.child(node, row);
        }
    }

    /// The reference count of the deepest node on `row`'s path holding at least
    /// `size_limit` rows, times 2^its depth.
    fn mass(&self, row: ArrayView1<f32>, size_limit: f32) -> f32 {
        let (mut node, mut depth) = (0, 0);
        while node < self.feature.len() && self.reference[node] >= size_limit {
            node = self.child(node, row);
            depth += 1;
        }
        self.reference[node] * (1u32 << depth) as f32
    }
}

impl HalfSpaceTrees {
    fn to_unit(&self, x: ArrayView2<f32>) -> ndarray::Array2<f32> {
        let mut unit = x.to_owned();
        for (j, mut column) in unit.axis_iter_mut(Axis(1)).enumerate() {
            column.mapv_inplace(|v| (v - self.low[j]) * self.inverse_range[j]);
        }
        unit
    }
}

impl Detector for HalfSpaceTrees {
    fn n_features(&self) -> usize {
        self.low.len()
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        check_input(x, self.n_features(), "hst")?;
        let unit = self.to_unit(x);
        let most = (self.trees.len() * self.window) as f64 * (1u64 << self.height) as f64;
        let scores: Vec<f32> = (0..unit.nrows())
            .into_par_iter()
            .with_min_len(256)
            .map(|i| {
                let row = unit.row(i);
                let mass: f64 = self
                    .trees
                    .iter()
                    .map(|t| f64::from(t.mass(row, self.size_limit)))
                    .sum();
                (1.0 - mass / most) as f32
            })
            .collect();
        Ok(Array1::from(scores))
    }

    /// Counts each row into the latest window; a full window becomes the reference. Trees
    /// learn in parallel, each renewing its reference at the same rows.
    fn partial_fit(&mut self, x: ArrayView2<f32>) -> Option<Result<()>> {
        if let Err(e) = check_input(x, self.n_features(), "hst partial_fit") {
            return Some(Err(e));
        }
        let unit = self.to_unit(x);
        let (seen, window) = (self.seen, self.window);
        self.trees.par_iter_mut().for_each(|tree| {
            let mut filled = seen;
            for row in unit.axis_iter(Axis(0)) {
                tree.count(row);
                filled += 1;
                if filled == window {
                    std::mem::swap(&mut tree.reference, &mut tree.latest);
                    tree.latest.fill(0.0);
                    filled = 0;
                }
            }
        });
        self.seen = (seen + x.nrows()) % window;
        Some(Ok(()))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), self)
    }
}

impl Entry for HstConfig {
    const ABOUT: About = About::linear(
        "Half-Space Trees (Tan, Ting & Liu 2011): online mass in random half-spaces, learning \
         each window of rows as they arrive",
    )
    .online();
    const SEARCH: &'static [ParamRange] = &[
        log_int("n_trees", 10, 50),
        int("height", 4, 12),
        log_int("window", 64, 2048),
        float("size_limit", 0.05, 0.3),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    fn around_zero(rows: usize) -> Array2<f32> {
        Array2::from_shape_fn((rows, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 11.0)
    }

    #[test]
    fn far_rows_score_higher_and_learning_moves_the_reference() {
        let config = HstConfig::default();
        let mut fitted = config
            .fit(&Dataset::new(around_zero(500), None), &FitContext::new(3))
            .unwrap();
        let probe = array![[0.5, 0.5], [5.0, -4.0]];
        let before = fitted.score(probe.view()).unwrap();
        assert!(before[1] > before[0], "{before}");
        // A full window of rows out at (5, −4) makes that the normal place.
        let shifted = Array2::from_shape_fn((config.window, 2), |(_, j)| [5.0, -4.0][j]);
        fitted.partial_fit(shifted.view()).unwrap().unwrap();
        let after = fitted.score(probe.view()).unwrap();
        assert!(after[1] < after[0], "{after}");
        assert_eq!(fitted.seen, 0);
    }

    #[test]
    fn a_window_renews_at_the_same_row_whatever_the_batches() {
        let config = HstConfig {
            window: 10,
            ..Default::default()
        };
        let train = Dataset::new(around_zero(50), None);
        let mut one = config.fit(&train, &FitContext::new(1)).unwrap();
        let mut pieces = one.clone();
        let rows = around_zero(27);
        one.partial_fit(rows.view()).unwrap().unwrap();
        for chunk in rows.axis_chunks_iter(Axis(0), 4) {
            pieces.partial_fit(chunk).unwrap().unwrap();
        }
        let probe = around_zero(5);
        assert_eq!(
            one.score(probe.view()).unwrap(),
            pieces.score(probe.view()).unwrap()
        );
        assert_eq!(one.seen, 7);
    }
}
