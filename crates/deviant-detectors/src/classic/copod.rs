//! COPOD (Li et al., ICDM 2020): an empirical copula of the training columns; a row is
//! unusual where it is improbable under it. Score = Σⱼ max(−log tail on the side of column
//! j's skew, mean of −log left and −log right tails), as PyOD computes it; no parameters.

use super::tails::{TailRule, tail_detector};

tail_detector!(
    CopodConfig,
    "copod",
    TailRule::Copod,
    crate::catalogue::About::linear(
        "COPOD (Li et al. 2020); score = empirical-copula tail surprise"
    )
);

#[cfg(test)]
mod tests {
    use super::*;
    use deviant_core::{Dataset, Detector, DetectorConfig, FitContext};
    use ndarray::Array2;
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
