//! Trees grown on binned features, for the forests and for boosting: each column's values
//! are cut at up to `max_bins` quantiles once, and a node's best split is a scan of per-bin
//! sums, as histogram boosting libraries do. What is summed, what a split gains and what a
//! leaf holds is the [`Criterion`]'s: class weights and Gini impurity for classification
//! trees (CART, Breiman et al. 1984), gradients and hessians for boosting.

use ndarray::{Array2, ArrayView1, ArrayView2};
use rand::Rng;
use rand::seq::index::sample;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Columns cut into bins: `codes[[row, column]]` is the number of that column's cuts below
/// the value, so "code ≤ k" is "value ≤ cuts[k]".
pub(super) struct Binned {
    cuts: Vec<Vec<f32>>,
    codes: Array2<u8>,
}

impl Binned {
    pub fn new(x: ArrayView2<f32>, max_bins: usize) -> Self {
        let max_bins = max_bins.clamp(2, 256);
        let cuts: Vec<Vec<f32>> = x
            .columns()
            .into_iter()
            .map(|column| {
                let mut sorted = column.to_vec();
                sorted.sort_by(f32::total_cmp);
                let mut cuts: Vec<f32> = (1..max_bins)
                    .map(|b| sorted[(b * (sorted.len() - 1)) / max_bins])
                    .collect();
                cuts.dedup();
                // The top value needs no cut: nothing lies above it.
                cuts.retain(|&c| c < sorted[sorted.len() - 1]);
                cuts
            })
            .collect();
        let codes = Array2::from_shape_fn(x.dim(), |(i, j)| {
            cuts[j].partition_point(|&c| c < x[[i, j]]) as u8
        });
        Self { cuts, codes }
    }

    pub fn n_features(&self) -> usize {
        self.cuts.len()
    }
}

/// How a tree grows.
#[derive(Debug, Clone, Copy)]
pub(super) struct Growth {
    pub max_depth: usize,
    pub min_samples_leaf: usize,
    /// Columns drawn at each split (all of them for a single tree).
    pub features_per_split: usize,
}

/// What a tree fits: each row adds a pair of sums to its node (class weights, or gradient
/// and hessian); a split gains `value(left) + value(right) − value(parent)`.
pub(super) trait Criterion: Sync {
    fn of_row(&self, row: usize) -> [f64; 2];
    fn value(&self, sums: [f64; 2]) -> f64;
    fn leaf(&self, sums: [f64; 2]) -> f32;
    /// Whether a node is worth splitting (a pure class node is not).
    fn splittable(&self, sums: [f64; 2]) -> bool;
    /// Whether a child is heavy enough to exist (besides `min_samples_leaf`).
    fn child_ok(&self, _sums: [f64; 2]) -> bool {
        true
    }
}

/// Classification by class-weighted Gini impurity; a leaf holds its weighted anomaly share,
/// so with balanced class weights a tree scores the anomaly probability under equal priors.
pub(super) struct Gini<'a> {
    pub labels: ArrayView1<'a, u8>,
    pub class_weights: [f64; 2],
}

impl Criterion for Gini<'_> {
    fn of_row(&self, row: usize) -> [f64; 2] {
        let class = self.labels[row] as usize;
        let mut sums = [0.0; 2];
        sums[class] = self.class_weights[class];
        sums
    }

    fn value(&self, w: [f64; 2]) -> f64 {
        -weighted_gini(w)
    }

    fn leaf(&self, w: [f64; 2]) -> f32 {
        (w[1] / (w[0] + w[1])) as f32
    }

    fn splittable(&self, w: [f64; 2]) -> bool {
        w[0] > 0.0 && w[1] > 0.0
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Node {
    Leaf {
        value: f32,
    },
    Split {
        feature: u32,
        cut: f32,
        left: u32,
        right: u32,
    },
}

/// A fitted tree: its nodes, root first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    /// Grows a tree on `rows` of `data` (repeats allowed: a bootstrap sample), adding each
    /// split's gain to its column's `importance`.
    pub fn grow(
        data: &Binned,
        criterion: &impl Criterion,
        rows: Vec<usize>,
        growth: &Growth,
        rng: &mut impl Rng,
        importance: &mut [f64],
    ) -> Self {
        let mut tree = Tree { nodes: Vec::new() };
        let mut grower = Grower {
            data,
            criterion,
            growth,
            importance,
        };
        grower.node(&mut tree.nodes, rows, 0, rng);
        tree
    }

    pub fn score(&self, row: ArrayView1<f32>) -> f32 {
        let mut at = 0;
        loop {
            match &self.nodes[at] {
                Node::Leaf { value } => return *value,
                Node::Split {
                    feature,
                    cut,
                    left,
                    right,
                } => {
                    at = if row[*feature as usize] <= *cut {
                        *left
                    } else {
                        *right
                    } as usize
                }
            }
        }
    }
}

/// Each row's sum of the trees' scores (in parallel over rows).
pub(super) fn sum_of_trees(trees: &[Tree], x: ArrayView2<f32>) -> Vec<f32> {
    (0..x.nrows())
        .into_par_iter()
        .map(|i| trees.iter().map(|t| t.score(x.row(i))).sum())
        .collect()
}

/// Refuses a number of quantile cuts the binned codes cannot hold.
pub(super) fn check_bins(max_bins: usize) -> deviant_core::Result<()> {
    if !(2..=256).contains(&max_bins) {
        return Err(deviant_core::Error::config(
            "max_bins",
            format!("must be between 2 and 256, not {max_bins}"),
        ));
    }
    Ok(())
}

struct Grower<'a, C> {
    data: &'a Binned,
    criterion: &'a C,
    growth: &'a Growth,
    importance: &'a mut [f64],
}

/// A split's place and what it gains.
struct Best {
    feature: usize,
    bin: usize,
    gain: f64,
}

/// `total` times the Gini impurity of class weights `w`.
fn weighted_gini(w: [f64; 2]) -> f64 {
    let total = w[0] + w[1];
    if total <= 0.0 {
        return 0.0;
    }
    total - (w[0] * w[0] + w[1] * w[1]) / total
}

impl<C: Criterion> Grower<'_, C> {
    /// Grows the node of `rows` into `nodes` and returns its index.
    fn node(
        &mut self,
        nodes: &mut Vec<Node>,
        rows: Vec<usize>,
        depth: usize,
        rng: &mut impl Rng,
    ) -> u32 {
        let index = nodes.len() as u32;
        let w = self.sums(&rows);
        nodes.push(Node::Leaf {
            value: self.criterion.leaf(w),
        });
        let g = self.growth;
        if depth >= g.max_depth
            || rows.len() < 2 * g.min_samples_leaf
            || !self.criterion.splittable(w)
        {
            return index;
        }
        let Some(best) = self.best_split(&rows, w, rng) else {
            return index;
        };
        self.importance[best.feature] += best.gain;
        let codes = self.data.codes.column(best.feature);
        let (left, right): (Vec<usize>, Vec<usize>) = rows
            .into_iter()
            .partition(|&r| codes[r] as usize <= best.bin);
        let left = self.node(nodes, left, depth + 1, rng);
        let right = self.node(nodes, right, depth + 1, rng);
        nodes[index as usize] = Node::Split {
            feature: best.feature as u32,
            cut: self.data.cuts[best.feature][best.bin],
            left,
            right,
        };
        index
    }

    fn sums(&self, rows: &[usize]) -> [f64; 2] {
        let mut w = [0.0; 2];
        for &r in rows {
            let s = self.criterion.of_row(r);
            w[0] += s[0];
            w[1] += s[1];
        }
        w
    }

    fn best_split(&self, rows: &[usize], parent: [f64; 2], rng: &mut impl Rng) -> Option<Best> {
        let n_features = self.data.n_features();
        let m = self.growth.features_per_split.clamp(1, n_features);
        let features: Vec<usize> = match m == n_features {
            true => (0..n_features).collect(),
            false => sample(rng, n_features, m).into_vec(),
        };
        let parent_value = self.criterion.value(parent);
        features
            .into_par_iter()
            .filter_map(|feature| self.best_in(feature, rows, parent, parent_value))
            // The larger gain, and of equal gains the first column: the same tree every run.
            .max_by(|a, b| a.gain.total_cmp(&b.gain).then(b.feature.cmp(&a.feature)))
    }

    /// The best cut of one column, from its per-bin sums.
    fn best_in(
        &self,
        feature: usize,
        rows: &[usize],
        parent: [f64; 2],
        parent_value: f64,
    ) -> Option<Best> {
        let cuts = self.data.cuts[feature].len();
        if cuts == 0 {
            return None;
        }
        let codes = self.data.codes.column(feature);
        let mut sums = vec![[0.0f64; 2]; cuts + 1];
        let mut counts = vec![0usize; cuts + 1];
        for &r in rows {
            let (bin, s) = (codes[r] as usize, self.criterion.of_row(r));
            sums[bin][0] += s[0];
            sums[bin][1] += s[1];
            counts[bin] += 1;
        }
        let c = self.criterion;
        let min_leaf = self.growth.min_samples_leaf;
        let (mut left, mut left_count) = ([0.0f64; 2], 0usize);
        let mut best: Option<Best> = None;
        for bin in 0..cuts {
            left[0] += sums[bin][0];
            left[1] += sums[bin][1];
            left_count += counts[bin];
            if left_count < min_leaf || rows.len() - left_count < min_leaf {
                continue;
            }
            let right = [parent[0] - left[0], parent[1] - left[1]];
            if !c.child_ok(left) || !c.child_ok(right) {
                continue;
            }
            let gain = c.value(left) + c.value(right) - parent_value;
            if gain > 1e-12 && best.as_ref().is_none_or(|b| gain > b.gain) {
                best = Some(Best { feature, bin, gain });
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, array};
    use rand::SeedableRng;

    #[test]
    fn one_split_separates_the_classes_at_the_cut_between_them() {
        let x = array![[0.0f32], [1.0], [2.0], [10.0], [11.0], [12.0]];
        let labels: Array1<u8> = array![0, 0, 0, 1, 1, 1];
        let data = Binned::new(x.view(), 16);
        let growth = Growth {
            max_depth: 4,
            min_samples_leaf: 1,
            features_per_split: 1,
        };
        let gini = Gini {
            labels: labels.view(),
            class_weights: [1.0, 1.0],
        };
        let mut importance = vec![0.0];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let tree = Tree::grow(
            &data,
            &gini,
            (0..6).collect(),
            &growth,
            &mut rng,
            &mut importance,
        );
        assert_eq!(tree.nodes.len(), 3);
        assert_eq!(tree.score(array![1.5f32].view()), 0.0);
        assert_eq!(tree.score(array![9.0f32].view()), 1.0);
        assert!(importance[0] > 0.0);
    }

    #[test]
    fn a_constant_column_has_no_cuts() {
        let data = Binned::new(array![[3.0f32], [3.0], [3.0]].view(), 8);
        assert!(data.cuts[0].is_empty());
    }
}
