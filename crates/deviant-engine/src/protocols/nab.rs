//! A NAB stream as sliding windows.

use deviant_core::{Dataset, Progress, Result};
use deviant_data::Scaling;
use deviant_data::series::{NabSeries, sliding_windows, standardised};
use ndarray::Array2;

use super::matrix_splits;
use crate::protocol::{Protocol, Splits};

/// One NAB file: the series standardised on itself, the detector fitted (unlabelled) on
/// windows every `train_stride` steps, and every window scored. The report set has no
/// labels: NAB's labels are per point, so callers turn the window scores into point scores
/// (`deviant_data::series::point_scores` over [`NabWindows::starts`]) and evaluate those.
pub struct NabWindows {
    pub series: NabSeries,
    pub window: usize,
    all: Array2<f32>,
    starts: Vec<usize>,
    train: Array2<f32>,
}

impl NabWindows {
    pub fn new(series: NabSeries, window: usize, train_stride: usize) -> Result<Self> {
        let values = standardised(&series.values);
        let column = Array2::from_shape_vec((values.len(), 1), values).expect("one column");
        let (all, starts) = sliding_windows(column.view(), window, 1)?;
        let (train, _) = sliding_windows(column.view(), window, train_stride)?;
        Ok(Self {
            series,
            window,
            all,
            starts,
            train,
        })
    }

    /// The first step of each scored window.
    pub fn starts(&self) -> &[usize] {
        &self.starts
    }
}

impl Protocol for NabWindows {
    fn name(&self) -> &str {
        "nab"
    }

    fn dataset(&self) -> &str {
        &self.series.name
    }

    fn splits(&self, _seed: u64, _progress: &dyn Progress) -> Result<Splits> {
        Ok(matrix_splits(
            &Dataset::new(self.train.clone(), None),
            vec![(
                self.series.name.clone(),
                Dataset::new(self.all.clone(), None),
            )],
            Scaling::None,
            None,
        ))
    }
}
