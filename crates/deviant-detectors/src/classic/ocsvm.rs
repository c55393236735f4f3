//! One-Class SVM (Schölkopf et al. 2001): the smallest kernel-space region holding all but a
//! ν share of the training rows. Trained by linfa-svm's SMO solver; score = ρ − Σᵢ αᵢ k(xᵢ, x),
//! the negated decision value, so rows outside the region score above 0.
//!
//! Training cost grows with the square of the rows, so above `max_rows` it trains on a
//! seeded subsample and says so in the fit summary.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::detector::FitSummary;
use deviant_core::{Dataset, Detector, DetectorConfig, Error, FitContext, Result};
use linfa::DatasetBase;
use linfa::dataset::Pr;
use linfa::traits::Fit;
use linfa_svm::Svm;
use ndarray::{Array1, ArrayView2};
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, log_float, names};
use crate::check::{at_least_one, positive};
use crate::{read_json, write_json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OcsvmKernel {
    /// exp(−γ‖x − y‖²)
    Rbf,
    /// x·y
    Linear,
    /// (γ x·y + coef0)^degree
    Poly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GammaRule {
    /// 1 / (features × variance of all training values), scikit-learn's default.
    Scale,
    /// 1 / features, PyOD's default (the rule behind ADBench's published numbers).
    Auto,
}

/// `"scale"`, `"auto"` or a positive number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Gamma {
    Rule(GammaRule),
    Value(f64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OcsvmConfig {
    /// Upper bound on the share of training rows outside the region, lower bound on the
    /// share of support vectors; in (0, 1].
    pub nu: f64,
    pub kernel: OcsvmKernel,
    pub gamma: Gamma,
    pub degree: u32,
    pub coef0: f64,
    /// The solver stops when the optimality gap falls below this (libsvm's `tol`).
    pub tolerance: f64,
    /// Above this many training rows, train on a seeded subsample of this many.
    pub max_rows: usize,
}

impl Default for OcsvmConfig {
    fn default() -> Self {
        Self {
            nu: 0.5,
            kernel: OcsvmKernel::Rbf,
            gamma: Gamma::Rule(GammaRule::Scale),
            degree: 3,
            coef0: 0.0,
            tolerance: 1e-3,
            max_rows: 10_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ocsvm {
    n_features: usize,
    /// Inputs are multiplied by √γ for the polynomial kernel, whose linfa form has no γ.
    input_scale: f64,
    svm: Svm<f64, bool>,
    notes: Vec<String>,
}

const STATE: &str = "ocsvm.json";

impl DetectorConfig for OcsvmConfig {
    const KIND: &'static str = "ocsvm";
    type Fitted = Ocsvm;

    fn validate(&self) -> Result<()> {
        if !(self.nu > 0.0 && self.nu <= 1.0) {
            return Err(Error::config(
                "nu",
                format!("{} is outside (0, 1]", self.nu),
            ));
        }
        if let Gamma::Value(g) = self.gamma
            && !(g > 0.0 && g.is_finite())
        {
            return Err(Error::config(
                "gamma",
                format!("{g} is not a positive number; or pass \"scale\" or \"auto\""),
            ));
        }
        at_least_one("degree", self.degree as usize)?;
        positive("tolerance", self.tolerance)?;
        if self.max_rows < 2 {
            return Err(Error::config("max_rows", "must be at least 2"));
        }
        Ok(())
    }

    fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<Ocsvm> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "ocsvm fit")?;
        let mut notes = Vec::new();
        let rows: Vec<usize> = if x.nrows() > self.max_rows {
            notes.push(format!(
                "trained on a seeded subsample of {} of the {} rows (max_rows)",
                self.max_rows,
                x.nrows()
            ));
            let mut rng = ChaCha8Rng::seed_from_u64(cx.seed);
            let mut rows = sample(&mut rng, x.nrows(), self.max_rows).into_vec();
            rows.sort_unstable();
            rows
        } else {
            (0..x.nrows()).collect()
        };
        let gamma = self.gamma_for(x);
        let input_scale = match self.kernel {
            OcsvmKernel::Poly => gamma.sqrt(),
            _ => 1.0,
        };
        let records = ndarray16::Array2::from_shape_fn((rows.len(), x.ncols()), |(i, j)| {
            f64::from(x[[rows[i], j]]) * input_scale
        });
        let params = Svm::<f64, Pr>::params()
            .nu_weight(self.nu)
            .eps(self.tolerance)
            .shrinking(false);
        let params = match self.kernel {
            OcsvmKernel::Rbf => params.gaussian_kernel(1.0 / gamma),
            OcsvmKernel::Linear => params.linear_kernel(),
            OcsvmKernel::Poly => params.polynomial_kernel(self.coef0, f64::from(self.degree)),
        };
        // The solver takes no callback: the budget is checked on both sides of it.
        cx.check_cancelled()?;
        let svm = params
            .fit(&DatasetBase::from(records))
            .map_err(|e| Error::internal(format!("ocsvm fit: {e}")))?;
        cx.check_cancelled()?;
        notes.push(format!("γ = {gamma:.4e}; {svm}"));
        Ok(Ocsvm {
            n_features: x.ncols(),
            input_scale,
            svm,
            notes,
        })
    }

    fn load(&self, dir: &Path) -> Result<Ocsvm> {
        read_json(&dir.join(STATE))
    }
}

impl OcsvmConfig {
    fn gamma_for(&self, x: ArrayView2<f32>) -> f64 {
        let d = x.ncols() as f64;
        match self.gamma {
            Gamma::Value(g) => g,
            Gamma::Rule(GammaRule::Auto) => 1.0 / d,
            Gamma::Rule(GammaRule::Scale) => {
                let n = x.len() as f64;
                let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
                let var = x
                    .iter()
                    .map(|&v| (f64::from(v) - mean).powi(2))
                    .sum::<f64>()
                    / n;
                if var > 0.0 { 1.0 / (d * var) } else { 1.0 }
            }
        }
    }
}

impl Detector for Ocsvm {
    fn n_features(&self) -> usize {
        self.n_features
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        check_input(x, self.n_features, "ocsvm")?;
        let scores: Vec<f32> = (0..x.nrows())
            .into_par_iter()
            .map(|i| {
                let row = ndarray16::Array1::from_iter(
                    x.row(i).iter().map(|&v| f64::from(v) * self.input_scale),
                );
                (self.svm.rho - self.svm.weighted_sum(&row)) as f32
            })
            .collect();
        Ok(Array1::from(scores))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), self)
    }

    fn fit_summary(&self) -> FitSummary {
        FitSummary {
            notes: self.notes.clone(),
            ..Default::default()
        }
    }
}

impl Entry for OcsvmConfig {
    const ABOUT: About = About::superlinear(
        "one-class SVM (Schölkopf et al. 2001, linfa-svm); score = negated decision value",
    );
    const SEARCH: &'static [ParamRange] = &[
        log_float("nu", 0.01, 0.5),
        names("kernel", &["rbf", "linear", "poly"]),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    fn ring() -> Dataset {
        // Points on a circle of radius 1 around (0.5, 0.5).
        Dataset::new(
            Array2::from_shape_fn((200, 2), |(i, j)| {
                let t = i as f32 * std::f32::consts::TAU / 200.0;
                0.5 + if j == 0 { t.cos() } else { t.sin() }
            }),
            None,
        )
    }

    #[test]
    fn rows_off_the_rbf_support_score_above_rows_on_it() {
        let config = OcsvmConfig {
            nu: 0.1,
            gamma: Gamma::Value(2.0),
            ..Default::default()
        };
        let fitted = config.fit(&ring(), &FitContext::new(0)).unwrap();
        let scores = fitted
            .score(array![[1.5, 0.5], [0.5, -0.5], [4.0, 4.0], [-3.0, 0.5], [0.5, 0.5]].view())
            .unwrap();
        let on = scores[0].max(scores[1]);
        assert!(on.abs() < 0.1, "{scores}");
        assert!(
            scores[2] > on && scores[3] > on && scores[4] > on,
            "{scores}"
        );
    }

    #[test]
    fn linear_and_poly_kernels_separate_the_data_from_the_origin() {
        // Both kernels grow with x·y, so their region is a side away from the origin.
        for kernel in [OcsvmKernel::Linear, OcsvmKernel::Poly] {
            let config = OcsvmConfig {
                kernel,
                nu: 0.1,
                degree: 2,
                coef0: 1.0,
                ..Default::default()
            };
            let fitted = config.fit(&ring(), &FitContext::new(0)).unwrap();
            let scores = fitted.score(array![[1.5, 0.5], [0.0, 0.0]].view()).unwrap();
            assert!(scores[1] > scores[0], "{kernel:?}: {scores}");
        }
    }

    #[test]
    fn large_training_sets_are_subsampled_and_say_so() {
        let config = OcsvmConfig {
            max_rows: 50,
            ..Default::default()
        };
        let fitted = config.fit(&ring(), &FitContext::new(3)).unwrap();
        assert!(fitted.fit_summary().notes[0].contains("50 of the 200 rows"));
    }

    #[test]
    fn gamma_rules_and_bad_settings() {
        let x = array![[0.0f32, 2.0], [2.0, 0.0]];
        let with = |gamma| {
            OcsvmConfig {
                gamma,
                ..Default::default()
            }
            .gamma_for(x.view())
        };
        // Every value is 0 or 2: variance 1, two features.
        assert!((with(Gamma::Rule(GammaRule::Scale)) - 0.5).abs() < 1e-12);
        assert!((with(Gamma::Rule(GammaRule::Auto)) - 0.5).abs() < 1e-12);
        for bad in [
            OcsvmConfig {
                nu: 0.0,
                ..Default::default()
            },
            OcsvmConfig {
                nu: 1.5,
                ..Default::default()
            },
            OcsvmConfig {
                gamma: Gamma::Value(-1.0),
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let parsed: OcsvmConfig = serde_json::from_str(r#"{"gamma": "auto"}"#).unwrap();
        assert_eq!(parsed.gamma, Gamma::Rule(GammaRule::Auto));
        let parsed: OcsvmConfig = serde_json::from_str(r#"{"gamma": 0.25}"#).unwrap();
        assert_eq!(parsed.gamma, Gamma::Value(0.25));
    }
}
