//! Supervised learners: they train on labelled rows of both classes and score a row by the
//! anomaly class's log-odds or probability, so thresholds, reports, serving and selection
//! treat them as detectors. Each states how it handles the classes' imbalance.

pub mod forest;
pub mod gbt;
pub mod knn_classifier;
pub mod linear;
pub mod mlp_classifier;
pub mod naive_bayes;
mod trees;
pub mod xgbod;

use deviant_core::{Dataset, Error, Result};
use ndarray::Array1;

/// The training labels, refused with the remedy when missing or of one class only.
pub(crate) fn labels_of<'a>(train: &'a Dataset, kind: &str) -> Result<&'a Array1<u8>> {
    let labels = train.labels.as_ref().ok_or_else(|| {
        Error::config(
            "label",
            format!(
                "{kind} is a supervised learner and needs labelled training rows; \
                 name the label column (--label COLUMN)"
            ),
        )
    })?;
    let anomalies = labels.iter().filter(|&&l| l == 1).count();
    if anomalies == 0 || anomalies == labels.len() {
        return Err(Error::config(
            "label",
            format!(
                "{kind} needs both classes among its training rows, and {anomalies} of {} \
                 are anomalies; train it on rows with normal and anomalous labels",
                labels.len()
            ),
        ));
    }
    Ok(labels)
}

/// Per-class weights giving both classes the same total weight, `n / (2 n_class)`
/// (scikit-learn's "balanced"): index 0 is the normal class, 1 the anomalies.
pub(crate) fn balanced_weights(labels: &Array1<u8>) -> [f64; 2] {
    let n = labels.len() as f64;
    let anomalies = labels.iter().filter(|&&l| l == 1).count() as f64;
    [n / (2.0 * (n - anomalies)), n / (2.0 * anomalies)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    #[test]
    fn missing_or_one_class_labels_are_refused_with_the_remedy() {
        let x = Array2::zeros((3, 1));
        let err = labels_of(&Dataset::new(x.clone(), None), "gbt").unwrap_err();
        assert!(err.to_string().contains("--label"), "{err}");
        let err = labels_of(&Dataset::new(x, Some(array![0, 0, 0])), "gbt").unwrap_err();
        assert!(err.to_string().contains("0 of 3 are anomalies"), "{err}");
    }

    #[test]
    fn balanced_weights_give_both_classes_the_same_total() {
        let [w0, w1] = balanced_weights(&array![0, 0, 0, 1]);
        assert!((3.0 * w0 - w1).abs() < 1e-12);
    }
}
