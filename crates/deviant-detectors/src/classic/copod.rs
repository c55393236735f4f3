//! COPOD (Li et al., ICDM 2020): an empirical copula of the training columns; a row is
//! unusual where it is improbable under it. Score = Σⱼ max(−log tail on the side of column
//! j's skew, mean of −log left and −log right tails), as PyOD computes it; no parameters.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Dataset, Detector, DetectorConfig, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};
use serde::{Deserialize, Serialize};

use super::tails::ColumnTails;
use crate::{read_json, write_json};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopodConfig {}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Copod {
    tails: ColumnTails,
}

const STATE: &str = "copod.json";

impl DetectorConfig for CopodConfig {
    const KIND: &'static str = "copod";
    type Fitted = Copod;

    fn validate(&self) -> Result<()> {
        Ok(())
    }

    fn fit(&self, train: &Dataset, _cx: &FitContext) -> Result<Copod> {
        let x = train.view();
        check_input(x, x.ncols(), "copod fit")?;
        Ok(Copod {
            tails: ColumnTails::fit(x),
        })
    }

    fn load(&self, dir: &Path) -> Result<Copod> {
        read_json(&dir.join(STATE))
    }
}

impl Copod {
    /// The per-feature copula terms whose row sums are the scores.
    fn terms(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        check_input(x, self.tails.n_features(), "copod")?;
        let t = self.tails.terms(x);
        Ok(Zip::from(&t.left)
            .and(&t.right)
            .and(&t.skewed)
            .map_collect(|&l, &r, &s| s.max(0.5 * (l + r))))
    }
}

impl Detector for Copod {
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

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn the_skewed_tail_counts_more_than_the_short_one() {
        // A right-skewed column: most values small, a few large.
        let x = Array2::from_shape_fn((100, 1), |(i, _)| {
            if i < 90 {
                (i % 10) as f32
            } else {
                10.0 * i as f32
            }
        });
        let fitted = CopodConfig::default()
            .fit(&Dataset::new(x, None), &FitContext::new(0))
            .unwrap();
        let scores = fitted
            .score(array![[5.0], [-1.0], [2000.0]].view())
            .unwrap();
        // Beyond the long (right) tail is more unusual than just below the short one.
        assert!(scores[2] > scores[1] && scores[1] > scores[0], "{scores}");
    }
}
