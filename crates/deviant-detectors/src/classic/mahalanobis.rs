//! Mahalanobis distance to the training distribution: the squared distance of a row from the
//! training mean, measured in the units of the training covariance.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::detector::FitSummary;
use deviant_core::{Dataset, Detector, DetectorConfig, Error, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::{mean_and_covariance, sorted_eigen};
use crate::catalogue::{About, Entry, ParamRange, log_float};
use crate::{read_json, write_json};

/// Directions whose variance is below `regularization` × the largest variance are treated as
/// having that variance, so constant or duplicated columns (one-hot slots, say) do not make
/// the covariance singular.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MahalanobisConfig {
    pub regularization: f64,
}

impl Default for MahalanobisConfig {
    fn default() -> Self {
        Self {
            regularization: 1e-6,
        }
    }
}

/// A fitted Mahalanobis detector: the training mean and the (regularised) precision matrix.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mahalanobis {
    mean: Array1<f32>,
    precision: Array2<f32>,
    /// Directions whose variance was raised to the floor.
    floored: usize,
}

const STATE: &str = "mahalanobis.json";

impl DetectorConfig for MahalanobisConfig {
    const KIND: &'static str = "mahalanobis";
    type Fitted = Mahalanobis;

    fn validate(&self) -> Result<()> {
        if !(self.regularization > 0.0 && self.regularization < 1.0) {
            return Err(Error::config(
                "regularization",
                format!("{} is outside (0, 1)", self.regularization),
            ));
        }
        Ok(())
    }

    fn fit(&self, train: &Dataset, _cx: &FitContext) -> Result<Mahalanobis> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "mahalanobis fit")?;
        let (mean, cov) = mean_and_covariance(x);
        let (values, vectors) = sorted_eigen(&cov);
        // With every column constant there is no spread to measure in: use unit variances,
        // so the score is the squared Euclidean distance to the mean.
        let floor = if values[0] > 0.0 {
            values[0] * self.regularization
        } else {
            1.0
        };
        let floored = values.iter().filter(|&&v| v < floor).count();
        let inverse = Array1::from_iter(values.iter().map(|&v| 1.0 / v.max(floor)));
        // V · diag(1/λ) · Vᵀ
        let precision = (&vectors * &inverse).dot(&vectors.t());
        Ok(Mahalanobis {
            mean: mean.mapv(|v| v as f32),
            precision: precision.mapv(|v| v as f32),
            floored,
        })
    }

    fn load(&self, dir: &Path) -> Result<Mahalanobis> {
        read_json(&dir.join(STATE))
    }
}

impl Mahalanobis {
    /// Per-feature terms `dⱼ · (P d)ⱼ` of `dᵀ P d`, with `d` the row minus the training mean.
    fn terms(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        check_input(x, self.mean.len(), "mahalanobis")?;
        let centred = &x - &self.mean;
        let weighted = centred.dot(&self.precision);
        Ok(centred * weighted)
    }
}

impl Detector for Mahalanobis {
    fn n_features(&self) -> usize {
        self.mean.len()
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        // A quadratic form is never negative; rounding can make it a hair below zero.
        Ok(self.terms(x)?.sum_axis(Axis(1)).mapv(|v| v.max(0.0)))
    }

    fn explain(&self, x: ArrayView2<f32>) -> Option<Result<Array2<f32>>> {
        Some(self.terms(x))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), self)
    }

    fn fit_summary(&self) -> FitSummary {
        let notes = if self.floored > 0 {
            vec![format!(
                "{} of {} covariance directions had (almost) no variance and were floored",
                self.floored,
                self.mean.len()
            )]
        } else {
            Vec::new()
        };
        FitSummary {
            notes,
            ..Default::default()
        }
    }
}

impl Entry for MahalanobisConfig {
    const ABOUT: About =
        About::linear("Mahalanobis distance to the training mean (regularised covariance)");
    const SEARCH: &'static [ParamRange] = &[log_float("regularization", 1e-6, 1e-1)];
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn regularization_is_validated() {
        for bad in [0.0, 1.0, -1.0, f64::NAN] {
            let config = MahalanobisConfig {
                regularization: bad,
            };
            assert!(config.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn distance_is_measured_in_units_of_the_training_spread() {
        // x0 varies 10× more than x1: one step along x1 is as far as ten along x0.
        let x = Array2::from_shape_fn((400, 2), |(i, j)| {
            let t = ((i * 37) % 101) as f32 / 101.0 - 0.5;
            let u = ((i * 53) % 97) as f32 / 97.0 - 0.5;
            if j == 0 { 10.0 * t } else { u }
        });
        let fitted = MahalanobisConfig::default()
            .fit(&Dataset::new(x, None), &FitContext::new(0))
            .unwrap();
        let scores = fitted
            .score(array![[5.0, 0.0], [0.0, 0.5], [0.0, 3.0]].view())
            .unwrap();
        assert!((scores[0] / scores[1] - 1.0).abs() < 0.1, "{scores}");
        assert!(scores[2] > 30.0 * scores[1], "{scores}");
        let explained = fitted.explain(array![[0.0, 3.0]].view()).unwrap().unwrap();
        assert!((explained.sum() - scores[2]).abs() < 1e-3 * scores[2]);
    }

    #[test]
    fn constant_columns_do_not_break_the_inverse() {
        let x = Array2::from_shape_fn((50, 3), |(i, j)| match j {
            0 => i as f32,
            1 => 1.0,
            _ => 2.0 * i as f32,
        });
        let fitted = MahalanobisConfig::default()
            .fit(&Dataset::new(x, None), &FitContext::new(0))
            .unwrap();
        assert_eq!(fitted.floored, 2);
        let scores = fitted
            .score(array![[10.0, 1.0, 20.0], [10.0, 2.0, 20.0]].view())
            .unwrap();
        assert!(scores.iter().all(|s| s.is_finite()));
        assert!(scores[1] > scores[0]);
    }
}
