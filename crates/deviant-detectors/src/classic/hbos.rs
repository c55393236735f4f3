//! HBOS (Goldstein & Dengel 2012): one histogram per column, columns taken as independent.
//! Score = Σⱼ −log(density of the row's bin in column j + α). Bins are of equal width
//! (`static`) or hold equal counts (`dynamic`).

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Dataset, Detector, DetectorConfig, Error, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, log_float, log_int, names};
use crate::check::at_least_one;
use crate::{read_json, write_json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Binning {
    /// Equal-width bins between the column's minimum and maximum.
    Static,
    /// Bins at the column's quantiles, each holding about the same number of rows.
    Dynamic,
}

/// Defaults follow PyOD (10 bins, α = 0.1, tolerance 0.5) so published numbers compare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HbosConfig {
    pub bins: usize,
    pub binning: Binning,
    /// Added to every density so empty bins give a finite term.
    pub alpha: f64,
    /// Values at most this many bin widths outside the training range count as in the
    /// edge bin; values further out get the column's sparsest bin.
    pub tolerance: f64,
}

impl Default for HbosConfig {
    fn default() -> Self {
        Self {
            bins: 10,
            binning: Binning::Static,
            alpha: 0.1,
            tolerance: 0.5,
        }
    }
}

/// One column's bin edges and the −log(density + α) term of each bin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Histogram {
    edges: Vec<f32>,
    terms: Vec<f32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hbos {
    tolerance: f32,
    histograms: Vec<Histogram>,
}

const STATE: &str = "hbos.json";

impl DetectorConfig for HbosConfig {
    const KIND: &'static str = "hbos";
    type Fitted = Hbos;

    fn validate(&self) -> Result<()> {
        at_least_one("bins", self.bins)?;
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return Err(Error::config(
                "alpha",
                format!("{} is not positive", self.alpha),
            ));
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            return Err(Error::config(
                "tolerance",
                format!("{} is negative or not finite", self.tolerance),
            ));
        }
        Ok(())
    }

    fn fit(&self, train: &Dataset, _cx: &FitContext) -> Result<Hbos> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "hbos fit")?;
        Ok(Hbos {
            tolerance: self.tolerance as f32,
            histograms: x.axis_iter(Axis(1)).map(|c| self.histogram(c)).collect(),
        })
    }

    fn load(&self, dir: &Path) -> Result<Hbos> {
        read_json(&dir.join(STATE))
    }
}

impl HbosConfig {
    pub(crate) fn histogram(&self, column: ArrayView1<f32>) -> Histogram {
        let mut sorted = column.to_vec();
        sorted.sort_by(f32::total_cmp);
        let (lo, hi) = (sorted[0], sorted[sorted.len() - 1]);
        let mut edges: Vec<f32> = if lo == hi {
            // As numpy does for a constant column: one unit around the value.
            (0..=self.bins)
                .map(|k| lo - 0.5 + k as f32 / self.bins as f32)
                .collect()
        } else {
            match self.binning {
                // The last edge is `hi` itself: lo + (hi − lo) can round below it.
                Binning::Static => (0..=self.bins)
                    .map(|k| match k {
                        k if k == self.bins => hi,
                        k => lo + (hi - lo) * k as f32 / self.bins as f32,
                    })
                    .collect(),
                Binning::Dynamic => (0..=self.bins)
                    .map(|k| sorted[(k * (sorted.len() - 1)) / self.bins])
                    .collect(),
            }
        };
        // Ties make quantile edges coincide; a bin needs a width.
        edges.dedup();
        let n_bins = edges.len() - 1;
        let mut counts = vec![0usize; n_bins];
        for &v in &sorted {
            counts[bin_of(&edges, v).expect("training values lie within the edges")] += 1;
        }
        let n = sorted.len() as f64;
        let terms = counts
            .iter()
            .zip(edges.windows(2))
            .map(|(&count, edge)| {
                let density = count as f64 / (n * f64::from(edge[1] - edge[0]));
                -(density + self.alpha).ln() as f32
            })
            .collect();
        Histogram { edges, terms }
    }
}

/// numpy's rule: bin k holds [edgeₖ, edgeₖ₊₁), the last bin also its right edge.
fn bin_of(edges: &[f32], v: f32) -> Option<usize> {
    let n_bins = edges.len() - 1;
    match edges.partition_point(|&e| e <= v) {
        0 => None,
        i if i <= n_bins => Some(i - 1),
        _ if v == edges[n_bins] => Some(n_bins - 1),
        _ => None,
    }
}

impl Histogram {
    /// The term of `v`'s bin; values beyond `tolerance` bin widths outside the training range
    /// get `far` of the histogram.
    pub(crate) fn term(&self, v: f32, tolerance: f32, far: impl Fn(&Self) -> f32) -> f32 {
        if let Some(bin) = bin_of(&self.edges, v) {
            return self.terms[bin];
        }
        let last = self.edges.len() - 1;
        let (edge_bin, outside, width) = if v < self.edges[0] {
            (0, self.edges[0] - v, self.edges[1] - self.edges[0])
        } else {
            (
                last - 1,
                v - self.edges[last],
                self.edges[last] - self.edges[last - 1],
            )
        };
        if outside <= tolerance * width {
            self.terms[edge_bin]
        } else {
            far(self)
        }
    }

    /// The term of the sparsest bin.
    fn sparsest(&self) -> f32 {
        self.terms.iter().copied().fold(f32::MIN, f32::max)
    }
}

impl Hbos {
    fn terms(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        check_input(x, self.histograms.len(), "hbos")?;
        Ok(Array2::from_shape_fn(x.raw_dim(), |(i, j)| {
            self.histograms[j].term(x[[i, j]], self.tolerance, Histogram::sparsest)
        }))
    }
}

impl Detector for Hbos {
    fn n_features(&self) -> usize {
        self.histograms.len()
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        Ok(self.terms(x)?.sum_axis(Axis(1)))
    }

    fn explain(&self, x: ArrayView2<f32>) -> Option<Result<Array2<f32>>> {
        Some(self.terms(x))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), self)
    }
}

impl Entry for HbosConfig {
    const ABOUT: About = About::linear(
        "histogram-based outlier score (Goldstein & Dengel 2012), static or dynamic bins",
    );
    const SEARCH: &'static [ParamRange] = &[
        log_int("bins", 5, 50),
        names("binning", &["static", "dynamic"]),
        log_float("alpha", 0.01, 1.0),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn bins_follow_numpy_edges() {
        let edges = [0.0, 1.0, 2.0];
        assert_eq!(bin_of(&edges, -0.1), None);
        assert_eq!(bin_of(&edges, 0.0), Some(0));
        assert_eq!(bin_of(&edges, 1.0), Some(1));
        assert_eq!(bin_of(&edges, 2.0), Some(1));
        assert_eq!(bin_of(&edges, 2.1), None);
    }

    #[test]
    fn sparse_bins_and_far_values_score_high_under_both_binnings() {
        // 0..9 often, 50 once: the bins around 30 are empty.
        let x = Array2::from_shape_fn(
            (101, 1),
            |(i, _)| if i == 100 { 50.0 } else { (i % 10) as f32 },
        );
        for binning in [Binning::Static, Binning::Dynamic] {
            let config = HbosConfig {
                binning,
                ..Default::default()
            };
            let fitted = config
                .fit(&Dataset::new(x.clone(), None), &FitContext::new(0))
                .unwrap();
            let scores = fitted.score(array![[3.0], [30.0], [500.0]].view()).unwrap();
            assert!(
                scores[1] > scores[0] && scores[2] > scores[0],
                "{binning:?}: {scores}"
            );
            assert!(scores.iter().all(|s| s.is_finite()));
        }
    }

    #[test]
    fn constant_columns_give_finite_scores() {
        let x = Array2::from_elem((20, 2), 1.0f32);
        let fitted = HbosConfig::default()
            .fit(&Dataset::new(x, None), &FitContext::new(0))
            .unwrap();
        let scores = fitted.score(array![[1.0, 1.0], [1.0, 9.0]].view()).unwrap();
        assert!(
            scores.iter().all(|s| s.is_finite()) && scores[1] > scores[0],
            "{scores}"
        );
    }

    #[test]
    fn invalid_settings_are_refused() {
        for bad in [
            HbosConfig {
                bins: 0,
                ..Default::default()
            },
            HbosConfig {
                alpha: 0.0,
                ..Default::default()
            },
            HbosConfig {
                tolerance: -1.0,
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
