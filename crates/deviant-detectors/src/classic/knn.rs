//! k-nearest-neighbour distance (Ramaswamy et al. 2000; Angiulli & Pizzuti 2002): a row far
//! from its k nearest training rows is unusual. Score = the largest, mean or median of those
//! k Euclidean distances; new rows are measured against the training rows only.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Dataset, Detector, DetectorConfig, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::neighbours::{check_k, nearest, never_stop};
use crate::catalogue::{About, Entry, ParamRange, log_int, names};
use crate::check::at_least_one;
use crate::{read_json, write_json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnnMethod {
    Largest,
    Mean,
    Median,
}

/// Defaults follow PyOD (k = 5, largest distance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnnConfig {
    pub k: usize,
    pub method: KnnMethod,
}

impl Default for KnnConfig {
    fn default() -> Self {
        Self {
            k: 5,
            method: KnnMethod::Largest,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Knn {
    k: usize,
    method: KnnMethod,
    train: Array2<f32>,
}

const STATE: &str = "knn.json";

impl DetectorConfig for KnnConfig {
    const KIND: &'static str = "knn";
    type Fitted = Knn;

    fn validate(&self) -> Result<()> {
        at_least_one("k", self.k)?;
        Ok(())
    }

    fn fit(&self, train: &Dataset, _cx: &FitContext) -> Result<Knn> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "knn fit")?;
        check_k(self.k, x.nrows(), Self::KIND)?;
        Ok(Knn {
            k: self.k,
            method: self.method,
            train: x.to_owned(),
        })
    }

    fn load(&self, dir: &Path) -> Result<Knn> {
        read_json(&dir.join(STATE))
    }
}

impl Detector for Knn {
    fn n_features(&self) -> usize {
        self.train.ncols()
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        check_input(x, self.n_features(), "knn")?;
        let found = nearest(self.train.view(), x, self.k, false, &never_stop)?;
        Ok(found.distances.map_axis(Axis(1), |d| {
            let k = d.len();
            (match self.method {
                KnnMethod::Largest => d[k - 1],
                KnnMethod::Mean => d.mean().unwrap_or(0.0),
                KnnMethod::Median if k % 2 == 1 => d[k / 2],
                KnnMethod::Median => 0.5 * (d[k / 2 - 1] + d[k / 2]),
            }) as f32
        }))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), self)
    }
}

impl Entry for KnnConfig {
    const ABOUT: About = About::superlinear(
        "k-nearest-neighbour distance (largest, mean or median) to the training rows",
    );
    const SEARCH: &'static [ParamRange] = &[
        log_int("k", 1, 50),
        names("method", &["largest", "mean", "median"]),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn line() -> Dataset {
        Dataset::new(Array2::from_shape_fn((10, 1), |(i, _)| i as f32), None)
    }

    #[test]
    fn scores_are_distances_to_the_training_rows() {
        let at = |method| {
            KnnConfig { k: 3, method }
                .fit(&line(), &FitContext::new(0))
                .unwrap()
                .score(array![[12.0]].view())
                .unwrap()[0]
        };
        // Nearest training rows of 12: 9, 8, 7 at 3, 4, 5.
        assert_eq!(at(KnnMethod::Largest), 5.0);
        assert_eq!(at(KnnMethod::Mean), 4.0);
        assert_eq!(at(KnnMethod::Median), 4.0);
    }

    #[test]
    fn k_beyond_the_training_rows_is_refused() {
        let err = KnnConfig {
            k: 10,
            ..Default::default()
        }
        .fit(&line(), &FitContext::new(0))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("k = 10") && err.contains("between 1 and 9"),
            "{err}"
        );
    }
}
