//! ECOD (Li et al., TKDE 2022): a row is unusual where its values sit far in the empirical
//! tails of the training columns. Score = Σⱼ max(−log left tail, −log right tail, −log tail
//! on the side of column j's skew), the per-feature maximum PyOD applies; no parameters.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Dataset, Detector, DetectorConfig, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};
use serde::{Deserialize, Serialize};

use super::tails::ColumnTails;
use crate::{read_json, write_json};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcodConfig {}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ecod {
    tails: ColumnTails,
}

const STATE: &str = "ecod.json";

impl DetectorConfig for EcodConfig {
    const KIND: &'static str = "ecod";
    type Fitted = Ecod;

    fn validate(&self) -> Result<()> {
        Ok(())
    }

    fn fit(&self, train: &Dataset, _cx: &FitContext) -> Result<Ecod> {
        let x = train.view();
        check_input(x, x.ncols(), "ecod fit")?;
        Ok(Ecod {
            tails: ColumnTails::fit(x),
        })
    }

    fn load(&self, dir: &Path) -> Result<Ecod> {
        read_json(&dir.join(STATE))
    }
}

impl Ecod {
    /// The per-feature tail terms whose row sums are the scores.
    fn terms(&self, x: ArrayView2<f32>) -> Result<Array2<f32>> {
        check_input(x, self.tails.n_features(), "ecod")?;
        let t = self.tails.terms(x);
        Ok(Zip::from(&t.left)
            .and(&t.right)
            .and(&t.skewed)
            .map_collect(|&l, &r, &s| l.max(r).max(s)))
    }
}

impl Detector for Ecod {
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
    fn extreme_values_on_either_side_score_high_and_are_explained() {
        let x = Array2::from_shape_fn((200, 2), |(i, j)| ((i * (7 + j)) % 50) as f32);
        let fitted = EcodConfig::default()
            .fit(&Dataset::new(x, None), &FitContext::new(0))
            .unwrap();
        let rows = array![[25.0, 25.0], [-10.0, 25.0], [25.0, 99.0]];
        let scores = fitted.score(rows.view()).unwrap();
        assert!(
            scores[1] > scores[0] + 2.0 && scores[2] > scores[0] + 2.0,
            "{scores}"
        );
        let explained = fitted.explain(rows.view()).unwrap().unwrap();
        assert!(explained[[1, 0]] > explained[[1, 1]]);
        assert!(explained[[2, 1]] > explained[[2, 0]]);
        assert!((explained.row(2).sum() - scores[2]).abs() < 1e-4);
    }
}
