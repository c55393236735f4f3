use ndarray::{Array1, Array2, ArrayView2, Axis};

use crate::{Error, Result};

/// Rows × features of `f32`, with optional binary labels (1 = anomaly, 0 = normal).
#[derive(Debug, Clone)]
pub struct Dataset {
    pub x: Array2<f32>,
    pub labels: Option<Array1<u8>>,
    pub feature_names: Vec<String>,
}

impl Dataset {
    /// A dataset with generated feature names `x0, x1, …`.
    pub fn new(x: Array2<f32>, labels: Option<Array1<u8>>) -> Self {
        let feature_names = (0..x.ncols()).map(|i| format!("x{i}")).collect();
        Self {
            x,
            labels,
            feature_names,
        }
    }

    pub fn n_rows(&self) -> usize {
        self.x.nrows()
    }

    pub fn n_features(&self) -> usize {
        self.x.ncols()
    }

    pub fn view(&self) -> ArrayView2<'_, f32> {
        self.x.view()
    }

    /// The rows at `indices`, labels included.
    pub fn select(&self, indices: &[usize]) -> Self {
        Self {
            x: self.x.select(Axis(0), indices),
            labels: self.labels.as_ref().map(|l| l.select(Axis(0), indices)),
            feature_names: self.feature_names.clone(),
        }
    }

    /// Only the rows labelled normal (all rows when unlabelled).
    pub fn normal_rows(&self) -> Self {
        match &self.labels {
            None => self.clone(),
            Some(labels) => {
                let keep: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == 0).collect();
                self.select(&keep)
            }
        }
    }

    /// The labels, or an error saying that `purpose` needs them.
    pub fn require_labels(&self, purpose: &str) -> Result<&Array1<u8>> {
        self.labels.as_ref().ok_or_else(|| {
            Error::config(
                "label",
                format!("{purpose} needs labelled data; name the label column"),
            )
        })
    }
}

/// Checks that `x` is non-empty, has `expected` columns and only finite values.
pub fn check_input(x: ArrayView2<f32>, expected: usize, context: &str) -> Result<()> {
    if x.nrows() == 0 {
        return Err(Error::Empty {
            what: format!("the input to {context}"),
            remedy: "pass at least one row".into(),
        });
    }
    if x.ncols() != expected {
        return Err(Error::FeatureCount {
            expected,
            found: x.ncols(),
            context: context.into(),
        });
    }
    // The common all-finite case scans memory in order; only a failure looks for the place.
    if x.as_slice_memory_order()
        .is_some_and(|values| values.iter().all(|v| v.is_finite()))
    {
        return Ok(());
    }
    if let Some((idx, v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::input(
            context,
            format!(
                "row {} feature {} is {v}; scores need finite inputs",
                idx.0, idx.1
            ),
        ));
    }
    Ok(())
}
