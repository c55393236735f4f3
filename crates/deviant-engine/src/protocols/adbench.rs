//! ADBench's unsupervised protocol on one `.npz` set.

use std::path::Path;

use deviant_core::schema::LabelSpec;
use deviant_core::split::{rng, split_stratified};
use deviant_core::{Dataset, Error, Progress, Result};
use deviant_data::adbench::protocol_rows;
use deviant_data::npz::read_npz;
use deviant_data::{Scaling, Table};

use super::matrix_splits;
use crate::protocol::{Protocol, Splits};

/// One ADBench set: per seed the rows ADBench's own code draws for that NumPy seed, min-max
/// scaled on the training part, which the detector fits without labels.
pub struct Adbench {
    name: String,
    data: Dataset,
    labelled_share: Option<f64>,
    labelled_anomalies: Option<f64>,
}

impl Adbench {
    /// Reads the set `name` from `path` (arrays `X` and `y`).
    pub fn open(name: &str, path: &Path) -> Result<Self> {
        Ok(Self {
            name: name.into(),
            data: read_npz(path)?,
            labelled_share: None,
            labelled_anomalies: None,
        })
    }

    /// Supervised learners see the training rows with only this share of their anomalies
    /// (drawn per seed, at least one) labelled and every other row read as normal:
    /// ADBench's semi-supervised setting of a few known anomalies among unlabelled rows.
    /// Detectors fit the training rows unlabelled as ever.
    pub fn with_labelled_anomalies(mut self, share: f64) -> Self {
        self.labelled_anomalies = Some(share);
        self
    }

    /// With this share of the training rows, drawn stratified per seed, labelled and in the
    /// select role (the rest fits unlabelled): ADBench's semi-supervised setting, in which a
    /// selection chooses by those labels.
    pub fn with_labelled_share(mut self, share: f64) -> Self {
        self.labelled_share = Some(share);
        self
    }
}

impl Protocol for Adbench {
    fn name(&self) -> &str {
        "adbench"
    }

    fn dataset(&self) -> &str {
        &self.name
    }

    fn splits(&self, seed: u64, _progress: &dyn Progress) -> Result<Splits> {
        let numpy_seed = u32::try_from(seed).map_err(|_| {
            Error::config(
                "seeds",
                format!(
                    "seed {seed}: ADBench draws its splits with NumPy, whose seeds run from 0 \
                     to 4294967295"
                ),
            )
        })?;
        let labels = self.data.labels.as_ref().expect("npz sets are labelled");
        let labels = labels.as_slice().expect("contiguous");
        let (train, test) = protocol_rows(labels, numpy_seed);
        let test = self.data.select(&test);
        let (train, labelled) = match self.labelled_share {
            Some(share) => {
                let (labelled, rest) = split_stratified(&train, labels, share, &mut rng(seed));
                (rest, Some(labelled))
            }
            None => (train, None),
        };
        let mut splits = matrix_splits(
            &self.data.select(&train),
            vec![(self.name.clone(), test)],
            Scaling::MinMax,
            // The `.npz` files' `y`, 0 = normal, as the table readers name it.
            Some(LabelSpec {
                column: "y".into(),
                normal_values: vec!["0".into()],
            }),
        );
        // Labelled training rows for supervised learners (all labels, or a share of the
        // anomalies'), except where the labelled rows are for choosing only.
        let mut learner_rows = self.data.select(&train);
        if let (Some(share), Some(labels)) = (self.labelled_anomalies, learner_rows.labels.as_mut())
        {
            let anomalies: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == 1).collect();
            let keep = ((anomalies.len() as f64 * share).round() as usize).max(1);
            let known = deviant_core::split::shuffled(anomalies, &mut rng(seed));
            for &i in &known[keep.min(known.len())..] {
                labels[i] = 0;
            }
        }
        splits.labelled = labelled
            .is_none()
            .then(|| Table::from_dataset(&learner_rows, "training rows"));
        splits.select = labelled
            .map(|rows| Table::from_dataset(&self.data.select(&rows), "labelled training rows"));
        Ok(splits)
    }
}
