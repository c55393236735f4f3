//! A streaming robust z-score: per feature, the median and the median absolute deviation
//! (MAD) of the last `window` values learned. A row's score is its largest
//! |x − median| / (1.4826 · MAD) over the features; its explanation is that ratio per feature.
//! Where the MAD is 0 (more than half the window equal), the mean absolute deviation times
//! 1.2533 stands in, as in the usual modified z-score.
//!
//! Written by hand: a sorted copy of each window is kept beside the arrival order, so the
//! median is a lookup and an update is a binary search and a move.

use std::collections::VecDeque;
use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Dataset, Detector, DetectorConfig, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, ParamRange, log_int};
use crate::check::at_least_one;
use crate::{read_json, write_json};

/// 1.4826 · MAD estimates the standard deviation of normal data.
const MAD_TO_SD: f32 = 1.4826;
/// √(π/2) · mean absolute deviation estimates it too.
const MEAN_AD_TO_SD: f32 = 1.253_314;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RobustZscoreConfig {
    /// Values per feature the median and MAD are taken over.
    pub window: usize,
}

impl Default for RobustZscoreConfig {
    fn default() -> Self {
        Self { window: 256 }
    }
}

/// One feature's last values, in arrival order and sorted, with the statistics of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SlidingColumn {
    recent: VecDeque<f32>,
    #[serde(skip)]
    sorted: Vec<f32>,
    #[serde(skip)]
    median: f32,
    #[serde(skip)]
    spread: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RobustZscore {
    window: usize,
    columns: Vec<SlidingColumn>,
}

const STATE: &str = "robust_zscore.json";

impl DetectorConfig for RobustZscoreConfig {
    const KIND: &'static str = "robust_zscore";
    type Fitted = RobustZscore;

    fn validate(&self) -> Result<()> {
        at_least_one("window", self.window)
    }

    /// Starts each feature's window with the last `window` training rows.
    fn fit(&self, train: &Dataset, _cx: &FitContext) -> Result<RobustZscore> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "robust_zscore fit")?;
        let mut fitted = RobustZscore {
            window: self.window,
            columns: (0..x.ncols())
                .map(|_| SlidingColumn::from_recent(VecDeque::new()))
                .collect(),
        };
        let start = x.nrows().saturating_sub(self.window);
        fitted.learn(x.slice(ndarray::s![start.., ..]));
        Ok(fitted)
    }

    fn load(&self, dir: &Path) -> Result<RobustZscore> {
        let mut state: RobustZscore = read_json(&dir.join(STATE))?;
        for column in &mut state.columns {
            *column = SlidingColumn::from_recent(std::mem::take(&mut column.recent));
        }
        Ok(state)
    }
}

impl SlidingColumn {
    fn from_recent(recent: VecDeque<f32>) -> Self {
        let mut sorted: Vec<f32> = recent.iter().copied().collect();
        sorted.sort_by(f32::total_cmp);
        let mut column = Self {
            recent,
            sorted,
            median: 0.0,
            spread: 1.0,
        };
        column.update_statistics();
        column
    }

    fn push(&mut self, value: f32, window: usize) {
        if self.recent.len() == window
            && let Some(oldest) = self.recent.pop_front()
        {
            let at = self
                .sorted
                .partition_point(|&v| v.total_cmp(&oldest).is_lt());
            self.sorted.remove(at);
        }
        self.recent.push_back(value);
        let at = self
            .sorted
            .partition_point(|&v| v.total_cmp(&value).is_lt());
        self.sorted.insert(at, value);
    }

    fn update_statistics(&mut self) {
        let n = self.sorted.len();
        if n == 0 {
            return;
        }
        self.median = self.sorted[n / 2];
        let mut deviations: Vec<f32> = self
            .sorted
            .iter()
            .map(|&v| (v - self.median).abs())
            .collect();
        let mean_deviation = deviations.iter().sum::<f32>() / n as f32;
        let (_, mad, _) = deviations.select_nth_unstable_by(n / 2, f32::total_cmp);
        self.spread = match (*mad, mean_deviation) {
            (mad, _) if mad > 0.0 => MAD_TO_SD * mad,
            (_, mean) if mean > 0.0 => MEAN_AD_TO_SD * mean,
            // A constant window: any other value is far off, but stays finite.
            _ => f32::EPSILON * self.median.abs().max(1.0),
        };
    }

    fn z(&self, value: f32) -> f32 {
        ((value - self.median).abs() / self.spread).min(f32::MAX)
    }
}

impl RobustZscore {
    fn learn(&mut self, x: ArrayView2<f32>) {
        for (column, values) in self.columns.iter_mut().zip(x.axis_iter(Axis(1))) {
            for &value in values {
                column.push(value, self.window);
            }
            column.update_statistics();
        }
    }

    fn ratios(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        check_input(x, self.columns.len(), "robust_zscore")?;
        Ok(Array2::from_shape_fn(x.raw_dim(), |(i, j)| {
            self.columns[j].z(x[[i, j]])
        }))
    }
}

impl Detector for RobustZscore {
    fn n_features(&self) -> usize {
        self.columns.len()
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        Ok(self
            .ratios(x)?
            .map_axis(Axis(1), |row| row.iter().copied().fold(0.0, f32::max)))
    }

    fn explain(&self, x: ArrayView2<f32>) -> Option<Result<Array2<f32>>> {
        Some(self.ratios(x))
    }

    /// Slides each feature's window over the rows; the statistics are renewed once per call,
    /// so rows of one batch are scored against the same median.
    fn partial_fit(&mut self, x: ArrayView2<f32>) -> Option<Result<()>> {
        if let Err(e) = check_input(x, self.columns.len(), "robust_zscore partial_fit") {
            return Some(Err(e));
        }
        self.learn(x);
        Some(Ok(()))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), self)
    }
}

impl Entry for RobustZscoreConfig {
    const ABOUT: About = About::linear(
        "streaming robust z-score: the largest |x − median| / (1.4826 MAD) over features, \
         on a sliding window of recent rows",
    )
    .online();
    const SEARCH: &'static [ParamRange] = &[log_int("window", 16, 4096)];
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn statistics_follow_the_window_as_it_slides() {
        let config = RobustZscoreConfig { window: 5 };
        let train = Array2::from_shape_vec((5, 1), vec![1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
        let mut fitted = config
            .fit(&Dataset::new(train, None), &FitContext::new(0))
            .unwrap();
        // Median 3, MAD 1: 100 is far, 4 is one MAD out.
        let scores = fitted.score(array![[4.0], [100.0]].view()).unwrap();
        assert!((scores[0] - 1.0 / MAD_TO_SD).abs() < 1e-6, "{scores}");
        assert!(scores[1] > 50.0);
        // Five rows at 100 push the old values out: 100 becomes normal.
        fitted
            .partial_fit(array![[100.0], [100.0], [100.0], [100.0], [101.0]].view())
            .unwrap()
            .unwrap();
        let scores = fitted.score(array![[100.0], [3.0]].view()).unwrap();
        assert_eq!(scores[0], 0.0);
        assert!(scores[1] > 50.0 && scores[1].is_finite(), "{scores}");
    }

    #[test]
    fn a_constant_window_still_gives_finite_scores() {
        let fitted = RobustZscoreConfig::default()
            .fit(
                &Dataset::new(Array2::zeros((10, 2)), None),
                &FitContext::new(0),
            )
            .unwrap();
        let scores = fitted.score(array![[0.0, 0.0], [1.0, 0.0]].view()).unwrap();
        assert_eq!(scores[0], 0.0);
        assert!(scores[1] > 1e3 && scores[1].is_finite());
    }
}
