//! Empirical tail probabilities of each column, the statistics ECOD and COPOD score with, and
//! the fitted detector both kinds share.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Detector, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};
use serde::{Deserialize, Serialize};

use crate::{read_json, write_json};

/// How per-feature tail terms become a detector's score terms (both as PyOD computes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TailRule {
    /// max(left, right, skewed)
    Ecod,
    /// max(skewed, (left + right) / 2)
    Copod,
}

impl TailRule {
    fn kind(self) -> &'static str {
        match self {
            TailRule::Ecod => "ecod",
            TailRule::Copod => "copod",
        }
    }
}

/// A fitted ECOD or COPOD detector: score = the row sum of its per-feature terms, which are
/// also its explanation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TailDetector {
    rule: TailRule,
    tails: ColumnTails,
}

const STATE: &str = "tails.json";

impl TailDetector {
    pub(super) fn fit(x: ArrayView2<f32>, rule: TailRule) -> Result<Self> {
        check_input(x, x.ncols(), &format!("{} fit", rule.kind()))?;
        Ok(Self {
            rule,
            tails: ColumnTails::fit(x),
        })
    }

    pub(super) fn load(dir: &Path) -> Result<Self> {
        read_json(&dir.join(STATE))
    }

    fn terms(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        check_input(x, self.tails.n_features(), self.rule.kind())?;
        let t = self.tails.terms(x);
        let zip = Zip::from(&t.left).and(&t.right).and(&t.skewed);
        Ok(match self.rule {
            TailRule::Ecod => zip.map_collect(|&l, &r, &s| l.max(r).max(s)),
            TailRule::Copod => zip.map_collect(|&l, &r, &s| s.max(0.5 * (l + r))),
        })
    }
}

impl Detector for TailDetector {
    fn n_features(&self) -> usize {
        self.tails.n_features()
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

/// The training columns, sorted, and the sign of each column's skewness.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ColumnTails {
    sorted: Vec<Vec<f32>>,
    /// −1, 0 or +1: the side of the long tail; 0 for symmetric and constant columns.
    skew_sign: Vec<i8>,
}

/// Per-feature −log tail probabilities of each row.
struct TailTerms {
    left: Array2<f32>,
    right: Array2<f32>,
    /// The tail the column's skewness points to (both tails added for a skewness of zero,
    /// as PyOD does, so published numbers compare like with like).
    skewed: Array2<f32>,
}

impl ColumnTails {
    /// `x` must hold at least one row of finite values (callers run `check_input`).
    fn fit(x: ArrayView2<f32>) -> Self {
        let sorted = x
            .axis_iter(Axis(1))
            .map(|column| {
                let mut values = column.to_vec();
                values.sort_by(f32::total_cmp);
                values
            })
            .collect::<Vec<_>>();
        let skew_sign = sorted.iter().map(|c| skewness_sign(c)).collect();
        Self { sorted, skew_sign }
    }

    fn n_features(&self) -> usize {
        self.sorted.len()
    }

    /// The tail probabilities count a row as if it had joined the training sample,
    /// (k + 1) / (n + 1), so a value beyond every training value gets a large but finite
    /// term and scores do not depend on which other rows are scored with it.
    fn terms(&self, x: ArrayView2<f32>) -> TailTerms {
        let shape = x.raw_dim();
        let (mut left, mut right) = (Array2::zeros(shape), Array2::zeros(shape));
        let n1 = (self.sorted.first().map_or(0, Vec::len) + 1) as f64;
        for (j, sorted) in self.sorted.iter().enumerate() {
            for (i, &v) in x.column(j).iter().enumerate() {
                let at_most = sorted.partition_point(|&s| s <= v);
                let at_least = sorted.len() - sorted.partition_point(|&s| s < v);
                left[[i, j]] = -(((at_most + 1) as f64 / n1).ln()) as f32;
                right[[i, j]] = -(((at_least + 1) as f64 / n1).ln()) as f32;
            }
        }
        let mut skewed = Array2::zeros(shape);
        for (j, &sign) in self.skew_sign.iter().enumerate() {
            let (l, r) = (left.column(j), right.column(j));
            match sign {
                -1 => skewed.column_mut(j).assign(&l),
                1 => skewed.column_mut(j).assign(&r),
                _ => skewed.column_mut(j).assign(&(&l + &r)),
            }
        }
        TailTerms {
            left,
            right,
            skewed,
        }
    }
}

/// Sign of the (biased) sample skewness m₃ / m₂^1.5; 0 where the column has no spread.
fn skewness_sign(values: &[f32]) -> i8 {
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (m2, m3) = values.iter().fold((0.0, 0.0), |(m2, m3), &v| {
        let d = f64::from(v) - mean;
        (m2 + d * d / n, m3 + d * d * d / n)
    });
    // Rounding leaves a tiny m₃ on symmetric columns; measure it against the spread.
    if m2 <= f64::EPSILON * mean.abs().max(1.0) || (m3 / m2.powf(1.5)).abs() < 1e-9 {
        0
    } else if m3 > 0.0 {
        1
    } else {
        -1
    }
}

/// Declares a parameterless tail detector: its empty config, fitted by `rule`, and its
/// catalogue entry.
macro_rules! tail_detector {
    ($(#[$doc:meta])* $config:ident, $kind:literal, $rule:expr, $about:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $config {}

        impl deviant_core::DetectorConfig for $config {
            const KIND: &'static str = $kind;
            type Fitted = $crate::classic::tails::TailDetector;

            fn validate(&self) -> deviant_core::Result<()> {
                Ok(())
            }

            fn fit(
                &self,
                train: &deviant_core::Dataset,
                _cx: &deviant_core::FitContext,
            ) -> deviant_core::Result<Self::Fitted> {
                $crate::classic::tails::TailDetector::fit(train.view(), $rule)
            }

            fn load(&self, dir: &std::path::Path) -> deviant_core::Result<Self::Fitted> {
                $crate::classic::tails::TailDetector::load(dir)
            }
        }

        impl $crate::catalogue::Entry for $config {
            const ABOUT: $crate::catalogue::About = $about;
            const SEARCH: &'static [$crate::catalogue::ParamRange] = &[];
        }
    };
}
pub(crate) use tail_detector;

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn tails_count_the_row_as_one_more_sample() {
        let tails = ColumnTails::fit(array![[1.0f32], [2.0], [3.0], [4.0]].view());
        let t = tails.terms(array![[0.0f32], [2.0], [9.0]].view());
        let p = |term: f32| (-term).exp();
        // Below every value: 1 of 5 on the left, all 5 on the right.
        assert!((p(t.left[[0, 0]]) - 0.2).abs() < 1e-6);
        assert!(t.right[[0, 0]].abs() < 1e-6);
        // 2.0: two values ≤ it (+1), three ≥ it (+1).
        assert!((p(t.left[[1, 0]]) - 0.6).abs() < 1e-6);
        assert!((p(t.right[[1, 0]]) - 0.8).abs() < 1e-6);
        assert!((p(t.right[[2, 0]]) - 0.2).abs() < 1e-6);
    }

    #[test]
    fn skewness_picks_the_long_tail() {
        assert_eq!(skewness_sign(&[0.0, 0.0, 0.0, 0.1, 5.0]), 1);
        assert_eq!(skewness_sign(&[-5.0, 0.0, 0.0, 0.0, 0.1]), -1);
        assert_eq!(skewness_sign(&[-1.0, 0.0, 1.0]), 0);
        assert_eq!(skewness_sign(&[3.0, 3.0, 3.0]), 0);
    }
}
