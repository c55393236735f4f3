//! Local Outlier Factor (Breunig et al., SIGMOD 2000): a row is unusual when its k nearest
//! training rows sit in much denser neighbourhoods than it does. Score = mean over those
//! neighbours of lrd(neighbour) / lrd(row), ≈ 1 inside a cluster and larger outside;
//! new rows are measured against the training rows only (scikit-learn's novelty mode).

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Dataset, Detector, DetectorConfig, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::neighbours::{Neighbours, check_k, nearest, never_stop};
use crate::catalogue::{About, Entry, ParamRange, log_int};
use crate::check::at_least_one;
use crate::{read_json, write_json};

/// Keeps the reachability density finite among duplicate rows (scikit-learn adds the same).
const DENSITY_EPS: f64 = 1e-10;

/// Defaults follow PyOD (k = 20).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LofConfig {
    pub k: usize,
}

impl Default for LofConfig {
    fn default() -> Self {
        Self { k: 20 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lof {
    k: usize,
    train: Array2<f32>,
    /// Distance of each training row to its k-th nearest other training row.
    k_distance: Array1<f64>,
    /// Local reachability density of each training row.
    density: Array1<f64>,
}

const STATE: &str = "lof.json";

impl DetectorConfig for LofConfig {
    const KIND: &'static str = "lof";
    type Fitted = Lof;

    fn validate(&self) -> Result<()> {
        at_least_one("k", self.k)?;
        Ok(())
    }

    fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<Lof> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "lof fit")?;
        check_k(self.k, x.nrows(), Self::KIND)?;
        let found = nearest(x, x, self.k, true, &|| cx.check_cancelled())?;
        let k_distance = found.distances.column(self.k - 1).to_owned();
        let density = reachability_density(&found, &k_distance);
        Ok(Lof {
            k: self.k,
            train: x.to_owned(),
            k_distance,
            density,
        })
    }

    fn load(&self, dir: &Path) -> Result<Lof> {
        read_json(&dir.join(STATE))
    }
}

/// lrd(p) = 1 / mean over p's neighbours o of max(k-distance(o), d(p, o)).
fn reachability_density(found: &Neighbours, k_distance: &Array1<f64>) -> Array1<f64> {
    Array1::from_shape_fn(found.distances.nrows(), |i| {
        let reach: f64 = found
            .distances
            .row(i)
            .iter()
            .zip(found.indices.row(i))
            .map(|(&d, &j)| d.max(k_distance[j]))
            .sum();
        1.0 / (reach / found.distances.ncols() as f64 + DENSITY_EPS)
    })
}

impl Detector for Lof {
    fn n_features(&self) -> usize {
        self.train.ncols()
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        check_input(x, self.n_features(), "lof")?;
        let found = nearest(self.train.view(), x, self.k, false, &never_stop)?;
        let density = reachability_density(&found, &self.k_distance);
        Ok(Array1::from_shape_fn(x.nrows(), |i| {
            let neighbour_density: f64 =
                found.indices.row(i).iter().map(|&j| self.density[j]).sum();
            (neighbour_density / self.k as f64 / density[i]) as f32
        }))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), self)
    }
}

impl Entry for LofConfig {
    const ABOUT: About =
        About::superlinear("local outlier factor (Breunig et al. 2000) against the training rows");
    const SEARCH: &'static [ParamRange] = &[log_int("k", 5, 50)];
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn a_point_between_a_dense_and_a_sparse_cluster_is_judged_locally() {
        // A tight cluster at 0 (spacing 0.01) and a loose one at 10 (spacing 1).
        let x = Array2::from_shape_fn((40, 1), |(i, _)| {
            if i < 20 {
                i as f32 * 0.01
            } else {
                10.0 + (i - 20) as f32
            }
        });
        let fitted = LofConfig { k: 5 }
            .fit(&Dataset::new(x, None), &FitContext::new(0))
            .unwrap();
        let scores = fitted
            .score(array![[0.1], [15.0], [1.0], [40.0]].view())
            .unwrap();
        // Inside either cluster LOF ≈ 1, whatever the cluster's density.
        assert!(
            (scores[0] - 1.0).abs() < 0.2 && (scores[1] - 1.0).abs() < 0.2,
            "{scores}"
        );
        // One unit off the dense cluster is more outlying than eleven off the loose one.
        assert!(scores[2] > scores[3] && scores[3] > 2.0, "{scores}");
    }

    #[test]
    fn duplicate_rows_keep_scores_finite() {
        let x = Array2::from_elem((30, 2), 0.5f32);
        let fitted = LofConfig { k: 5 }
            .fit(&Dataset::new(x, None), &FitContext::new(0))
            .unwrap();
        let scores = fitted.score(array![[0.5, 0.5], [0.6, 0.5]].view()).unwrap();
        assert!(
            scores.iter().all(|s| s.is_finite()) && scores[1] > scores[0],
            "{scores}"
        );
    }
}
