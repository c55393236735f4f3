//! LODA (Pevný 2016): an ensemble of one-dimensional histograms on sparse random projections.
//! Each projection draws ⌈√d⌉ of the d features with N(0, 1) weights; the score is the mean
//! of −log(density) of the row's projections, each density an HBOS histogram.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Dataset, Detector, DetectorConfig, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, log_int};
use crate::check::at_least_one;
use crate::classic::hbos::{Binning, HbosConfig, Histogram};
use crate::{read_json, standard_normal, write_json};

/// Defaults follow the paper's and PyOD's: 100 projections of 10 equal-width bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LodaConfig {
    pub projections: usize,
    pub bins: usize,
}

impl Default for LodaConfig {
    fn default() -> Self {
        Self {
            projections: 100,
            bins: 10,
        }
    }
}

/// One sparse projection: the features it reads, their weights, and the histogram of the
/// training rows' projected values.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Projection {
    features: Vec<usize>,
    weights: Vec<f32>,
    histogram: Histogram,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Loda {
    n_features: usize,
    tolerance: f32,
    projections: Vec<Projection>,
}

const STATE: &str = "loda.json";
const DENSITY_FLOOR: f64 = 1e-6;

impl LodaConfig {
    /// The per-projection histograms: HBOS's, with a density floor far below any bin's so an
    /// empty bin (and a value far outside the training range) reads as very unlikely but
    /// stays finite.
    fn histograms(&self) -> HbosConfig {
        HbosConfig {
            bins: self.bins,
            binning: Binning::Static,
            alpha: DENSITY_FLOOR,
            tolerance: 0.5,
        }
    }
}

impl DetectorConfig for LodaConfig {
    const KIND: &'static str = "loda";
    type Fitted = Loda;

    fn validate(&self) -> Result<()> {
        at_least_one("projections", self.projections)?;
        self.histograms().validate()
    }

    fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<Loda> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "loda fit")?;
        let d = x.ncols();
        let per_projection = (d as f64).sqrt().ceil() as usize;
        let histograms = self.histograms();
        let mut rng = ChaCha8Rng::seed_from_u64(cx.seed);
        let mut projections = Vec::with_capacity(self.projections);
        for _ in 0..self.projections {
            cx.check_cancelled()?;
            let mut features = sample(&mut rng, d, per_projection).into_vec();
            features.sort_unstable();
            let weights: Vec<f32> = features.iter().map(|_| standard_normal(&mut rng)).collect();
            let projected = project(x, &features, &weights);
            projections.push(Projection {
                histogram: histograms.histogram(projected.view()),
                features,
                weights,
            });
        }
        Ok(Loda {
            n_features: d,
            tolerance: histograms.tolerance as f32,
            projections,
        })
    }

    fn load(&self, dir: &Path) -> Result<Loda> {
        read_json(&dir.join(STATE))
    }
}

/// `x · w` for the sparse weight vector `w` given by `features` and `weights`.
fn project(x: ArrayView2<f32>, features: &[usize], weights: &[f32]) -> Array1<f32> {
    x.axis_iter(Axis(0))
        .map(|row| {
            features
                .iter()
                .zip(weights)
                .map(|(&j, &w)| row[j] * w)
                .sum()
        })
        .collect()
}

impl Loda {
    /// −log density of each row (rows) under each projection (columns).
    fn terms(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        check_input(x, self.n_features, "loda")?;
        let mut terms = Array2::zeros((x.nrows(), self.projections.len()));
        for (mut column, p) in terms.axis_iter_mut(Axis(1)).zip(&self.projections) {
            let projected = project(x, &p.features, &p.weights);
            // Unlike HBOS, a value far outside the range counts as density zero: a projection
            // is one of many, so one far value should weigh in fully.
            let far = -(DENSITY_FLOOR.ln()) as f32;
            column.assign(&projected.mapv(|v| p.histogram.term(v, self.tolerance, |_| far)));
        }
        Ok(terms)
    }
}

impl Detector for Loda {
    fn n_features(&self) -> usize {
        self.n_features
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        Ok(self
            .terms(x)?
            .mean_axis(Axis(1))
            .expect("validate keeps at least one projection"))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), self)
    }
}

impl Entry for LodaConfig {
    const ABOUT: About = About::linear(
        "LODA (Pevný 2016): histograms on sparse random projections; score = mean -log density",
    );
    const SEARCH: &'static [ParamRange] =
        &[log_int("projections", 20, 400), log_int("bins", 5, 50)];
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows on a line in 4-d; a row far off it scores above all of them, and the same seed
    /// gives the same projections.
    #[test]
    fn a_row_off_the_training_line_scores_highest() {
        let x = Array2::from_shape_fn((400, 4), |(i, j)| {
            let t = (i as f32 * 0.173).sin();
            t * (j as f32 + 1.0) + 0.01 * ((i * 7 + j) % 5) as f32
        });
        let config = LodaConfig::default();
        let fitted = config
            .fit(&Dataset::new(x.clone(), None), &FitContext::new(4))
            .unwrap();
        let mut probe = x.slice(ndarray::s![..3, ..]).to_owned();
        probe
            .row_mut(2)
            .assign(&ndarray::array![1.0, -2.0, 3.0, -4.0]);
        let scores = fitted.score(probe.view()).unwrap();
        let train_max = fitted
            .score(x.view())
            .unwrap()
            .iter()
            .copied()
            .fold(f32::MIN, f32::max);
        assert!(scores[2] > train_max, "{scores} vs {train_max}");
        let again = config
            .fit(&Dataset::new(x.clone(), None), &FitContext::new(4))
            .unwrap();
        assert_eq!(again.score(probe.view()).unwrap(), scores);
    }
}
