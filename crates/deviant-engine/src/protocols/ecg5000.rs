//! ECG5000 heartbeats, one row per sequence.

use std::path::Path;

use deviant_core::split::{rng, split_fraction};
use deviant_core::{Dataset, Progress, Result};
use deviant_data::Scaling;
use deviant_data::download::{dataset_dirs, find_file};
use deviant_data::series::read_ucr;
use ndarray::{Array1, Array2, Axis};

use super::matrix_splits;
use crate::protocol::{Protocol, Splits};

/// UCR's ECG5000 training file: class 1 heartbeats are normal. Per seed, 80 % of them train
/// and the other 20 % with every other class are the test set; values are used unscaled.
pub struct Ecg5000 {
    x: Array2<f32>,
    anomalous: Vec<u8>,
}

impl Ecg5000 {
    /// Reads `ECG5000_TRAIN.txt(.gz)` from `data_dir`, `$DEVIANT_DATA_DIR` or
    /// `$DEVIANT_DATASETS/timeseries/ecg5000-train`.
    pub fn locate(data_dir: Option<&Path>) -> Result<Self> {
        let path = find_file(
            &dataset_dirs(data_dir, "timeseries/ecg5000-train"),
            &["ECG5000_TRAIN.txt.gz", "ECG5000_TRAIN.txt"],
            "--data-dir",
        )?;
        let (x, classes) = read_ucr(&path)?;
        Ok(Self {
            x,
            anomalous: classes.iter().map(|c| u8::from(c != "1")).collect(),
        })
    }
}

impl Protocol for Ecg5000 {
    fn name(&self) -> &str {
        "ecg5000"
    }

    fn splits(&self, seed: u64, _progress: &dyn Progress) -> Result<Splits> {
        let rows = 0..self.x.nrows();
        let normal: Vec<usize> = rows.clone().filter(|&i| self.anomalous[i] == 0).collect();
        let (held_out, train) = split_fraction(normal, 0.2, &mut rng(seed));
        let test: Vec<usize> = held_out
            .into_iter()
            .chain(rows.filter(|&i| self.anomalous[i] == 1))
            .collect();
        let labels: Array1<u8> = test.iter().map(|&i| self.anomalous[i]).collect();
        let part = |rows: &[usize], labels| Dataset::new(self.x.select(Axis(0), rows), labels);
        Ok(matrix_splits(
            &part(&train, None),
            vec![("ecg5000".into(), part(&test, Some(labels)))],
            Scaling::None,
            None,
        ))
    }
}
