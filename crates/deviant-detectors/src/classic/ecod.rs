//! ECOD (Li et al., TKDE 2022): a row is unusual where its values sit far in the empirical
//! tails of the training columns. Score = Σⱼ max(−log left tail, −log right tail, −log tail
//! on the side of column j's skew), the per-feature maximum PyOD applies; no parameters.

use super::tails::{TailRule, tail_detector};

tail_detector!(
    EcodConfig,
    "ecod",
    TailRule::Ecod,
    crate::catalogue::About::linear(
        "ECOD (Li et al. 2022); score = summed empirical-CDF tail surprise"
    )
);

#[cfg(test)]
mod tests {
    use super::*;
    use deviant_core::{Dataset, Detector, DetectorConfig, FitContext};
    use ndarray::Array2;
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
