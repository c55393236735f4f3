//! Gaussian naive Bayes by linfa-bayes: one normal per class and column; score = the log
//! likelihood ratio of the anomaly class to the normal one (the class priors only shift it
//! by a constant, so the ranking is that of balanced priors whatever the imbalance).

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Dataset, Detector, DetectorConfig, Error, FitContext, Result};
use linfa::prelude::Fit;
use linfa_bayes::{GaussianNb, NaiveBayes};
use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::labels_of;
use crate::catalogue::{About, Entry, ParamRange, log_float};
use crate::check::positive;
use crate::{read_json, write_json};

/// scikit-learn's variance smoothing, 1e-9 of the largest column variance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianNbConfig {
    pub var_smoothing: f64,
}

impl Default for GaussianNbConfig {
    fn default() -> Self {
        Self {
            var_smoothing: 1e-9,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GaussianNbModel {
    n_features: usize,
    model: GaussianNb<f64, usize>,
}

const STATE: &str = "gaussian_nb.json";

impl DetectorConfig for GaussianNbConfig {
    const KIND: &'static str = "gaussian_nb";
    type Fitted = GaussianNbModel;

    fn validate(&self) -> Result<()> {
        positive("var_smoothing", self.var_smoothing)
    }

    fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<GaussianNbModel> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "gaussian_nb fit")?;
        let labels = labels_of(train, Self::KIND)?;
        cx.check_cancelled()?;
        let records = ndarray16::Array2::from_shape_fn(x.dim(), |(i, j)| x[[i, j]] as f64);
        let targets = ndarray16::Array1::from_iter(labels.iter().map(|&l| l as usize));
        let model = GaussianNb::params()
            .var_smoothing(self.var_smoothing)
            .fit(&linfa::Dataset::new(records, targets))
            .map_err(|e| Error::input("gaussian_nb fit", e.to_string()))?;
        Ok(GaussianNbModel {
            n_features: x.ncols(),
            model,
        })
    }

    fn load(&self, dir: &Path) -> Result<GaussianNbModel> {
        read_json(&dir.join(STATE))
    }
}

impl Detector for GaussianNbModel {
    fn n_features(&self) -> usize {
        self.n_features
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        check_input(x, self.n_features, "gaussian_nb")?;
        let records = ndarray16::Array2::from_shape_fn(x.dim(), |(i, j)| x[[i, j]] as f64);
        let by_class = self.model.joint_log_likelihood(records.view());
        let (Some(anomaly), Some(normal)) = (by_class.get(&1), by_class.get(&0)) else {
            return Err(Error::internal("a naive Bayes model without both classes"));
        };
        Ok(anomaly
            .iter()
            .zip(normal)
            .map(|(a, n)| ((a - n) as f32).clamp(-f32::MAX, f32::MAX))
            .collect())
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), self)
    }
}

impl Entry for GaussianNbConfig {
    const ABOUT: About = About::linear(
        "Gaussian naive Bayes (linfa-bayes); score = log likelihood ratio of anomaly to normal",
    )
    .supervised();
    const SEARCH: &'static [ParamRange] = &[log_float("var_smoothing", 1e-12, 1e-3)];
}
