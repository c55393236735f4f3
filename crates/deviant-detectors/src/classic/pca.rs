//! PCA reconstruction error: rows far from the principal subspace of the training data score
//! high. The eigendecomposition of the covariance uses nalgebra's symmetric solver.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Dataset, Detector, DetectorConfig, Error, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::{mean_and_covariance, sorted_eigen};
use crate::{read_json, write_json};

/// How many principal components to keep: `n_components` if set, else the fewest that
/// explain `variance` of the total variance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PcaConfig {
    pub n_components: Option<usize>,
    pub variance: f64,
}

impl Default for PcaConfig {
    fn default() -> Self {
        Self {
            n_components: None,
            variance: 0.95,
        }
    }
}

/// A fitted PCA: the training mean and the kept components (k × features).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pca {
    mean: Array1<f32>,
    components: Array2<f32>,
    explained_variance: Vec<f64>,
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
        })
    }

    fn load(&self, dir: &Path) -> Result<Pca> {
        read_json(&dir.join(STATE))
    }
}

impl Pca {
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
        Ok(self.residuals(x)?.sum_axis(Axis(1)))
    }

    fn explain(&self, x: ArrayView2<f32>) -> Option<Result<Array2<f32>>> {
        Some(self.residuals(x))
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
