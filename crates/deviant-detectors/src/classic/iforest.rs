//! Isolation Forest (Liu, Ting & Zhou, ICDM 2008): random axis-parallel splits isolate
//! anomalies in fewer steps. Score = 2^(−E[h(x)] / c(ψ)), in (0, 1], higher = more anomalous.
//!
//! Written by hand: no maintained Rust crate implements it with saved trees and seeding.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Dataset, Detector, DetectorConfig, Error, FitContext, Result};
use ndarray::{Array1, ArrayView2};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, log_int};
use crate::check::at_least_one;
use crate::{read_json, write_json};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IforestConfig {
    /// Number of trees.
    pub n_trees: usize,
    /// Rows drawn (without replacement) to grow each tree: ψ.
    pub max_samples: usize,
}

impl Default for IforestConfig {
    fn default() -> Self {
        Self {
            n_trees: 100,
            max_samples: 256,
        }
    }
}

/// A node: a split (`feature`, `value`, children) or a leaf holding `size` rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum Node {
    Split {
        feature: u32,
        value: f32,
        left: u32,
        right: u32,
    },
    Leaf {
        size: u32,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tree {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IsolationForest {
    n_features: usize,
    /// c(ψ) for the subsample size actually used.
    normaliser: f64,
    trees: Vec<Tree>,
    /// The trees laid out for scoring, made from `trees` after fitting and loading.
    #[serde(skip)]
    flat: Flat,
}

/// Every tree's nodes in one array of 16-byte nodes, each leaf's whole path length (its
/// depth plus c(size)) worked out once: scoring walks plain indices and adds one number per
/// tree, where walking the saved form cost a logarithm per leaf reached.
#[derive(Debug, Clone, Default)]
struct Flat {
    nodes: Vec<FlatNode>,
    /// By node: the path length of a row that ends in this leaf.
    path: Vec<f64>,
    roots: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
struct FlatNode {
    /// `LEAF` for a leaf.
    feature: u32,
    value: f32,
    /// Left (below `value`), right.
    children: [u32; 2],
}

const LEAF: u32 = u32::MAX;
/// Rows scored together: each tree is walked for the whole block while its nodes are in
/// cache.
const BLOCK: usize = 64;

impl Flat {
    fn of(trees: &[Tree]) -> Self {
        let mut flat = Flat::default();
        for tree in trees {
            let offset = flat.nodes.len() as u32;
            flat.roots.push(offset);
            flat.nodes.extend(tree.nodes.iter().map(|node| match *node {
                Node::Split {
                    feature,
                    value,
                    left,
                    right,
                } => FlatNode {
                    feature,
                    value,
                    children: [left + offset, right + offset],
                },
                Node::Leaf { .. } => FlatNode {
                    feature: LEAF,
                    value: 0.0,
                    children: [0, 0],
                },
            }));
            flat.path.resize(flat.nodes.len(), 0.0);
            // Depth first from the root, as `grow` numbered the nodes.
            let mut stack = vec![(0usize, 0.0f64)];
            while let Some((node, depth)) = stack.pop() {
                match tree.nodes[node] {
                    Node::Split { left, right, .. } => {
                        stack.push((left as usize, depth + 1.0));
                        stack.push((right as usize, depth + 1.0));
                    }
                    Node::Leaf { size } => {
                        flat.path[offset as usize + node] =
                            depth + average_path_length(size as usize);
                    }
                }
            }
        }
        flat
    }

    /// The sum over trees of each row's path length, trees in order.
    fn path_sums(&self, rows: &[&[f32]], sums: &mut [f64]) {
        for &root in &self.roots {
            for (row, sum) in rows.iter().zip(sums.iter_mut()) {
                let mut at = root as usize;
                loop {
                    let node = self.nodes[at];
                    if node.feature == LEAF {
                        break;
                    }
                    let right = row[node.feature as usize] >= node.value;
                    at = node.children[usize::from(right)] as usize;
                }
                *sum += self.path[at];
            }
        }
    }
}

impl IsolationForest {
    fn new(n_features: usize, normaliser: f64, trees: Vec<Tree>) -> Self {
        let flat = Flat::of(&trees);
        Self {
            n_features,
            normaliser,
            trees,
            flat,
        }
    }
}

const STATE: &str = "iforest.json";

/// Average path length of an unsuccessful search in a binary search tree of `n` rows.
fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
        }
    }
}

impl DetectorConfig for IforestConfig {
    const KIND: &'static str = "iforest";
    type Fitted = IsolationForest;

    fn validate(&self) -> Result<()> {
        at_least_one("n_trees", self.n_trees)?;
        if self.max_samples < 2 {
            return Err(Error::config("max_samples", "must be at least 2"));
        }
        Ok(())
    }

    fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<IsolationForest> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "iforest fit")?;
        let psi = self.max_samples.min(x.nrows());
        let height_limit = (psi as f64).log2().ceil().max(1.0) as usize;
        let mut seeder = ChaCha8Rng::seed_from_u64(cx.seed);
        let seeds: Vec<u64> = (0..self.n_trees).map(|_| seeder.random()).collect();
        let trees = seeds
            .into_par_iter()
            .map(|seed| {
                cx.check_cancelled()?;
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let rows = sample(&mut rng, x.nrows(), psi).into_vec();
                let mut nodes = Vec::new();
                grow(x, rows, 0, height_limit, &mut rng, &mut nodes);
                Ok(Tree { nodes })
            })
            .collect::<Result<_>>()?;
        Ok(IsolationForest::new(
            x.ncols(),
            average_path_length(psi).max(f64::MIN_POSITIVE),
            trees,
        ))
    }

    fn load(&self, dir: &Path) -> Result<IsolationForest> {
        let saved: IsolationForest = read_json(&dir.join(STATE))?;
        Ok(IsolationForest::new(
            saved.n_features,
            saved.normaliser,
            saved.trees,
        ))
    }
}

/// Grows the subtree for `rows` and returns its index in `nodes`.
fn grow(
    x: ArrayView2<f32>,
    rows: Vec<usize>,
    depth: usize,
    height_limit: usize,
    rng: &mut ChaCha8Rng,
    nodes: &mut Vec<Node>,
) -> u32 {
    let at = nodes.len() as u32;
    nodes.push(Node::Leaf {
        size: rows.len() as u32,
    });
    if depth >= height_limit || rows.len() <= 1 {
        return at;
    }
    // Only features that vary in this node can split it.
    let ranges: Vec<(usize, f32, f32)> = (0..x.ncols())
        .filter_map(|f| {
            let (lo, hi) = rows
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &r| {
                    (lo.min(x[[r, f]]), hi.max(x[[r, f]]))
                });
            (hi > lo).then_some((f, lo, hi))
        })
        .collect();
    if ranges.is_empty() {
        return at;
    }
    let (feature, lo, hi) = ranges[rng.random_range(0..ranges.len())];
    let value = lo + (hi - lo) * rng.random::<f32>();
    let (left_rows, right_rows): (Vec<usize>, Vec<usize>) =
        rows.into_iter().partition(|&r| x[[r, feature]] < value);
    let left = grow(x, left_rows, depth + 1, height_limit, rng, nodes);
    let right = grow(x, right_rows, depth + 1, height_limit, rng, nodes);
    nodes[at as usize] = Node::Split {
        feature: feature as u32,
        value,
        left,
        right,
    };
    at
}

impl Detector for IsolationForest {
    fn n_features(&self) -> usize {
        self.n_features
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        check_input(x, self.n_features, "iforest")?;
        let x = x.as_standard_layout();
        let trees = self.trees.len() as f64;
        let mut scores = vec![0f32; x.nrows()];
        scores
            .par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(block, out)| {
                let first = block * BLOCK;
                let rows: Vec<&[f32]> = (first..first + out.len())
                    .map(|i| x.row(i).to_slice().expect("standard layout"))
                    .collect();
                let mut sums = [0f64; BLOCK];
                self.flat.path_sums(&rows, &mut sums[..out.len()]);
                for (score, sum) in out.iter_mut().zip(sums) {
                    *score = 2f64.powf(-(sum / trees) / self.normaliser) as f32;
                }
            });
        Ok(Array1::from(scores))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), self)
    }
}

impl Entry for IforestConfig {
    const ABOUT: About =
        About::linear("isolation forest (Liu et al. 2008); score = 2^(-mean path / c(psi))");
    const SEARCH: &'static [ParamRange] = &[
        log_int("n_trees", 50, 500),
        log_int("max_samples", 64, 1024),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_is_validated() {
        assert!(
            IforestConfig {
                n_trees: 0,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            IforestConfig {
                max_samples: 1,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn average_path_length_matches_the_paper() {
        assert_eq!(average_path_length(2), 1.0);
        assert!((average_path_length(256) - 10.2448).abs() < 1e-3);
    }

    /// The saved trees walked one row at a time, as the paper defines the path length.
    fn walked(forest: &IsolationForest, row: &[f32]) -> f32 {
        let total: f64 = forest
            .trees
            .iter()
            .map(|tree| {
                let (mut node, mut depth) = (0usize, 0.0);
                loop {
                    match tree.nodes[node] {
                        Node::Split {
                            feature,
                            value,
                            left,
                            right,
                        } => {
                            node = if row[feature as usize] < value {
                                left
                            } else {
                                right
                            } as usize;
                            depth += 1.0;
                        }
                        Node::Leaf { size } => return depth + average_path_length(size as usize),
                    }
                }
            })
            .sum();
        2f64.powf(-(total / forest.trees.len() as f64) / forest.normaliser) as f32
    }

    #[test]
    fn blocked_scoring_equals_walking_the_saved_trees() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = ndarray::Array2::from_shape_fn((300, 5), |_| rng.random::<f32>());
        let data = Dataset::new(x, None);
        let forest = IforestConfig::default()
            .fit(&data, &FitContext::new(1))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        forest.save(dir.path()).unwrap();
        let loaded = IforestConfig::default().load(dir.path()).unwrap();
        for model in [&forest, &loaded] {
            let scores = model.score(data.view()).unwrap();
            for (i, score) in scores.iter().enumerate() {
                let row = data.x.row(i).to_vec();
                assert_eq!(*score, walked(model, &row), "row {i}");
            }
        }
    }

    #[test]
    fn constant_data_gives_finite_equal_scores() {
        let data = Dataset::new(ndarray::Array2::from_elem((20, 3), 1.0), None);
        let forest = IforestConfig::default()
            .fit(&data, &FitContext::new(1))
            .unwrap();
        let scores = forest.score(data.view()).unwrap();
        assert!(scores.iter().all(|s| s.is_finite() && *s == scores[0]));
    }
}
