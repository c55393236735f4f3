//! PCA reconstruction error: rows far from the principal subspace of the training data score
//! high. The eigendecomposition of the covariance uses nalgebra's symmetric solver.
//!
//! `scoring = "pyod"` instead reproduces PyOD's PCA score, the rule behind ADBench's published
//! numbers: columns standardised on the training rows, then Σ over all components c of
//! ‖z − v_c‖ / (share of variance c explains).

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Dataset, Detector, DetectorConfig, Error, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::{mean_and_covariance, sorted_eigen};
use crate::catalogue::{About, Entry, ParamRange, float};
use crate::{read_json, write_json};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PcaScoring {
    /// Squared distance to the subspace of the kept components.
    #[default]
    Reconstruction,
    /// PyOD's rule over every component (ignores `n_components` and `variance`).
    Pyod,
}

/// How many principal components to keep: `n_components` if set, else the fewest that
/// explain `variance` of the total variance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PcaConfig {
    pub n_components: Option<usize>,
    pub variance: f64,
    pub scoring: PcaScoring,
}

impl Default for PcaConfig {
    fn default() -> Self {
        Self {
            n_components: None,
            variance: 0.95,
            scoring: PcaScoring::Reconstruction,
        }
    }
}

/// Variance shares are floored here so a component without variance keeps a finite weight.
const MIN_VARIANCE_SHARE: f64 = 1e-12;

/// A fitted PCA: the training mean and the kept components (k × features).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pca {
    mean: Array1<f32>,
    components: Array2<f32>,
    explained_variance: Vec<f64>,
    /// Per-column standard deviation the `pyod` rule divides by (1 for constant columns).
    #[serde(default)]
    scale: Option<Array1<f32>>,
}

const STATE: &str = "pca.json";

impl DetectorConfig for PcaConfig {
    const KIND: &'static str = "pca";
    type Fitted = Pca;

    fn validate(&self) -> Result<()> {
        if self.n_components == Some(0) {
            return Err(Error::config("n_components", "must be at least 1"));
        }
        if !(self.variance > 0.0 && self.variance <= 1.0) {
            return Err(Error::config(
                "variance",
                format!("{} is outside (0, 1]", self.variance),
            ));
        }
        Ok(())
    }

    fn fit(&self, train: &Dataset, _cx: &FitContext) -> Result<Pca> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "pca fit")?;
        let d = x.ncols();
        if let Some(k) = self.n_components.filter(|&k| k > d) {
            return Err(Error::config(
                "n_components",
                format!("{k} is more than the {d} features"),
            ));
        }
        if self.scoring == PcaScoring::Pyod {
            return Ok(fit_pyod(x));
        }
        let (mean, cov) = mean_and_covariance(x);
        let (values, vectors) = sorted_eigen(&cov);
        let total: f64 = values.iter().sum();
        let k = match self.n_components {
            Some(k) => k,
            None if total <= 0.0 => 1,
            None => {
                let mut acc = 0.0;
                values
                    .iter()
                    .position(|v| {
                        acc += v;
                        acc / total >= self.variance - 1e-12
                    })
                    .map_or(d, |i| i + 1)
            }
        };
        let components = Array2::from_shape_fn((k, d), |(c, j)| vectors[[j, c]] as f32);
        Ok(Pca {
            mean: mean.mapv(|v| v as f32),
            components,
            explained_variance: values[..k].to_vec(),
            scale: None,
        })
    }

    fn load(&self, dir: &Path) -> Result<Pca> {
        read_json(&dir.join(STATE))
    }
}

/// Every component of the standardised columns, as PyOD fits them.
fn fit_pyod(x: ArrayView2<f32>) -> Pca {
    let d = x.ncols();
    let (mean, _) = mean_and_covariance(x);
    let n = x.nrows() as f64;
    let scale = x.map_axis(Axis(0), |c| {
        let m = c.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let sd = (c.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>() / n).sqrt();
        if sd > 0.0 { sd as f32 } else { 1.0 }
    });
    let standardised = (&x - &mean.mapv(|v| v as f32)) / &scale;
    let (_, cov) = mean_and_covariance(standardised.view());
    let (values, vectors) = sorted_eigen(&cov);
    let total: f64 = values.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    Pca {
        mean: mean.mapv(|v| v as f32),
        components: Array2::from_shape_fn((d, d), |(c, j)| {
            // The rule depends on each component's sign: take scikit-learn's, whose largest
            // entry (in magnitude) is positive.
            let column = vectors.column(c);
            let largest = column
                .iter()
                .copied()
                .fold(0.0f64, |a, v| if v.abs() > a.abs() { v } else { a });
            (vectors[[j, c]] * largest.signum()) as f32
        }),
        explained_variance: values.iter().map(|v| v / total).collect(),
        scale: Some(scale),
    }
}

impl Pca {
    /// PyOD's score: Σ_c ‖z − v_c‖ / share_c, with z the standardised row.
    fn pyod_scores(&self, x: ArrayView2<f32>, scale: &Array1<f32>) -> Result<Array1<f32>> {
        check_input(x, self.mean.len(), "pca")?;
        let z = ((&x - &self.mean) / scale).mapv(f64::from);
        let components = self.components.mapv(f64::from);
        let along = z.dot(&components.t());
        let norms = z.map_axis(Axis(1), |r| r.dot(&r));
        Ok(Array1::from_shape_fn(x.nrows(), |i| {
            along
                .row(i)
                .iter()
                .zip(&self.explained_variance)
                .map(|(&a, &share)| {
                    (norms[i] - 2.0 * a + 1.0).max(0.0).sqrt() / share.max(MIN_VARIANCE_SHARE)
                })
                .sum::<f64>() as f32
        }))
    }

    /// Squared residual of each feature after projecting onto the kept components.
    fn residuals(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        check_input(x, self.mean.len(), "pca")?;
        let centred = &x - &self.mean;
        let projected = centred.dot(&self.components.t()).dot(&self.components);
        Ok((centred - projected).mapv(|v| v * v))
    }
}

impl Detector for Pca {
    fn n_features(&self) -> usize {
        self.mean.len()
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        match &self.scale {
            Some(scale) => self.pyod_scores(x, scale),
            None => Ok(self.residuals(x)?.sum_axis(Axis(1))),
        }
    }

    /// Per-feature squared residuals; the `pyod` rule has no per-feature split.
    fn explain(&self, x: ArrayView2<f32>) -> Option<Result<Array2<f32>>> {
        self.scale.is_none().then(|| self.residuals(x))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), self)
    }

    fn fit_summary(&self) -> deviant_core::detector::FitSummary {
        deviant_core::detector::FitSummary {
            notes: vec![format!(
                "kept {} of {} components",
                self.components.nrows(),
                self.mean.len()
            )],
            ..Default::default()
        }
    }
}

impl Entry for PcaConfig {
    const ABOUT: About =
        About::linear("principal component analysis; score = squared reconstruction error");
    const SEARCH: &'static [ParamRange] = &[float("variance", 0.5, 0.99)];
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn each_rule_is_validated() {
        let zero = PcaConfig {
            n_components: Some(0),
            ..Default::default()
        };
        assert!(zero.validate().is_err());
        let variance = PcaConfig {
            variance: 1.5,
            ..Default::default()
        };
        assert!(variance.validate().is_err());
        let too_many = PcaConfig {
            n_components: Some(3),
            ..Default::default()
        };
        let data = Dataset::new(array![[1.0, 2.0], [2.0, 1.0], [0.0, 0.5]], None);
        let err = too_many.fit(&data, &FitContext::new(0)).unwrap_err();
        assert!(err.to_string().contains("n_components"), "{err}");
    }

    #[test]
    fn pyod_rule_weights_components_by_their_share() {
        let x = Array2::from_shape_fn((200, 3), |(i, j)| {
            let t = ((i * 37) % 101) as f32 / 101.0;
            let u = ((i * 53) % 97) as f32 / 97.0;
            let w = ((i * 71) % 89) as f32 / 89.0;
            [t, 2.0 * t + 0.1 * u, w][j]
        });
        let config = PcaConfig {
            scoring: PcaScoring::Pyod,
            ..Default::default()
        };
        let fitted = config
            .fit(&Dataset::new(x.clone(), None), &FitContext::new(0))
            .unwrap();
        assert_eq!(fitted.components.nrows(), 3, "every component");
        let shares: f64 = fitted.explained_variance.iter().sum();
        assert!((shares - 1.0).abs() < 1e-9);
        // At the mean z = 0, so each component adds ‖v‖ / share = 1 / share.
        let mean = x.mean_axis(Axis(0)).unwrap().insert_axis(Axis(0));
        let at_mean = fitted.score(mean.view()).unwrap()[0] as f64;
        let expected: f64 = fitted.explained_variance.iter().map(|s| 1.0 / s).sum();
        assert!(
            (at_mean / expected - 1.0).abs() < 1e-3,
            "{at_mean} vs {expected}"
        );
        let far = fitted
            .score(ndarray::array![[5.0f32, -5.0, 5.0]].view())
            .unwrap()[0];
        assert!(far as f64 > 2.0 * at_mean && far.is_finite());
        assert!(fitted.explain(mean.view()).is_none());
    }

    #[test]
    fn points_on_the_training_line_score_zero() {
        let x = Array2::from_shape_fn((50, 2), |(i, j)| {
            (i as f32) * if j == 0 { 1.0 } else { 2.0 }
        });
        let pca = PcaConfig {
            n_components: Some(1),
            ..Default::default()
        }
        .fit(&Dataset::new(x, None), &FitContext::new(0))
        .unwrap();
        let scores = pca
            .score(array![[10.0, 20.0], [10.0, -20.0]].view())
            .unwrap();
        assert!(scores[0] < 1e-2, "{scores}");
        assert!(scores[1] > 100.0, "{scores}");
    }
}
