//! Learning member weights from a few labels: a class-balanced, L2-regularised logistic
//! regression of the label on the members' ranks (XGBOD's idea, Zhao & Hryniewicki 2018,
//! with a linear learner: with tens of labelled anomalies a boosted model would overfit).
//! Hand-written: it is a dozen lines of gradient descent on a handful of columns, and no
//! dependency is worth that.

use deviant_core::metrics::roc_auc;

const STEPS: usize = 400;
const STEP_SIZE: f64 = 0.5;
const L2: f64 = 1e-2;

/// Weights (no intercept: a ranking needs none) for `columns` (one per member, each a rank
/// per row) predicting `labels` (1 = anomaly), each class weighing half.
pub fn fit_weights(columns: &[Vec<f64>], labels: &[u8]) -> Vec<f64> {
    let n = labels.len();
    let positives = labels.iter().filter(|&&l| l == 1).count().max(1) as f64;
    let negatives = (n as f64 - positives).max(1.0);
    let class_weight = |l: u8| match l {
        1 => 0.5 / positives,
        _ => 0.5 / negatives,
    };
    let k = columns.len();
    let (mut w, mut bias) = (vec![1.0 / k as f64; k], 0.0);
    for _ in 0..STEPS {
        let (mut grad, mut grad_bias) = (vec![0.0; k], 0.0);
        for i in 0..n {
            let z = bias + (0..k).map(|j| w[j] * columns[j][i]).sum::<f64>();
            let error = (1.0 / (1.0 + (-z).exp()) - f64::from(labels[i])) * class_weight(labels[i]);
            grad_bias += error;
            for j in 0..k {
                grad[j] += error * columns[j][i];
            }
        }
        bias -= STEP_SIZE * grad_bias * 4.0;
        for j in 0..k {
            w[j] -= STEP_SIZE * 4.0 * (grad[j] + L2 * w[j]);
        }
    }
    if w.iter().all(|v| v.abs() < 1e-9) {
        return vec![1.0; k];
    }
    w
}

/// The ROC AUC of weighted sums of `columns`, each row scored by weights learned without it
/// (stratified `folds`-fold cross-validation); `None` when a class is too small to split.
pub fn cross_validated_auc(columns: &[Vec<f64>], labels: &[u8], folds: usize) -> Option<f64> {
    let n = labels.len();
    let mut fold_of = vec![0usize; n];
    for class in [0u8, 1] {
        let members: Vec<usize> = (0..n).filter(|&i| labels[i] == class).collect();
        if members.len() < folds {
            return None;
        }
        for (r, &i) in members.iter().enumerate() {
            fold_of[i] = r % folds;
        }
    }
    let mut scores = vec![0.0f32; n];
    for fold in 0..folds {
        let train: Vec<usize> = (0..n).filter(|&i| fold_of[i] != fold).collect();
        let pick = |rows: &[usize]| -> Vec<Vec<f64>> {
            columns
                .iter()
                .map(|c| rows.iter().map(|&i| c[i]).collect())
                .collect()
        };
        let labels_train: Vec<u8> = train.iter().map(|&i| labels[i]).collect();
        let w = fit_weights(&pick(&train), &labels_train);
        for i in (0..n).filter(|&i| fold_of[i] == fold) {
            scores[i] = (0..columns.len())
                .map(|j| w[j] * columns[j][i])
                .sum::<f64>() as f32;
        }
    }
    roc_auc(&scores, labels).ok()
}

/// Each value's rank among `values`, scaled to [0, 1] (ties share their mean rank).
pub fn ranks(values: &[f32]) -> Vec<f64> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 / (n.max(2) - 1) as f64;
        for &o in &order[i..=j] {
            out[o] = rank;
        }
        i = j + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One informative column and one of noise: the informative one gets the larger weight,
    /// and cross-validation scores the stack well.
    #[test]
    fn the_informative_member_weighs_more() {
        let labels: Vec<u8> = (0..200).map(|i| u8::from(i % 10 == 0)).collect();
        let good: Vec<f32> = (0..200)
            .map(|i| f32::from(labels[i]) + ((i * 7) % 13) as f32 / 20.0)
            .collect();
        let noise: Vec<f32> = (0..200).map(|i| ((i * 31) % 17) as f32).collect();
        let columns = vec![ranks(&good), ranks(&noise)];
        let w = fit_weights(&columns, &labels);
        assert!(w[0] > w[1].abs() * 3.0, "{w:?}");
        let auc = cross_validated_auc(&columns, &labels, 5).unwrap();
        assert!(auc > 0.9, "{auc}");
        assert_eq!(ranks(&[3.0, 1.0, 3.0]), vec![0.75, 0.0, 0.75]);
    }
}
