//! Empirical tail probabilities of each column, the statistics ECOD and COPOD score with.

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// The training columns, sorted, and the sign of each column's skewness.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ColumnTails {
    sorted: Vec<Vec<f32>>,
    /// −1, 0 or +1: the side of the long tail; 0 for symmetric and constant columns.
    skew_sign: Vec<i8>,
}

/// Per-feature −log tail probabilities of each row.
pub(super) struct TailTerms {
    pub left: Array2<f32>,
    pub right: Array2<f32>,
    /// The tail the column's skewness points to (both tails added for a skewness of zero,
    /// as PyOD does, so published numbers compare like with like).
    pub skewed: Array2<f32>,
}

impl ColumnTails {
    /// `x` must hold at least one row of finite values (callers run `check_input`).
    pub fn fit(x: ArrayView2<f32>) -> Self {
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

    pub fn n_features(&self) -> usize {
        self.sorted.len()
    }

    /// The tail probabilities count a row as if it had joined the training sample,
    /// (k + 1) / (n + 1), so a value beyond every training value gets a large but finite
    /// term and scores do not depend on which other rows are scored with it.
    pub fn terms(&self, x: ArrayView2<f32>) -> TailTerms {
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
