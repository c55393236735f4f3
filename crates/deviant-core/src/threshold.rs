//! Turning scores into anomaly flags. A threshold is kept apart from the scores and always
//! records the split it was chosen on, so it is never reported on the data that chose it.

use serde::{Deserialize, Serialize};

use crate::metrics::{best_threshold, quantile};
use crate::{Error, Result};

/// How a threshold is chosen. Flags are `score >= threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum ThresholdRule {
    /// The `1 - fraction` quantile of the training scores (PyOD's contamination).
    Contamination { fraction: f64 },
    /// Flag the top `percent` % of each scored batch (the DAGMM/ALAD protocol).
    TopPercent { percent: f64 },
    /// The score that maximises F1 on labelled validation data.
    BestF1,
    /// The score that maximises accuracy on labelled validation data.
    BestAccuracy,
    /// median + k · MAD of the training scores (MAD scaled to σ for normal data).
    Mad { k: f64 },
    /// A value given by the user.
    Fixed { value: f64 },
}

/// The command-line spelling: `contamination:0.1`, `top:20`, `best-f1`, `best-accuracy`,
/// `mad:3`, `fixed:0.5`; [`FromStr`](std::str::FromStr) reads the same form.
impl std::fmt::Display for ThresholdRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ThresholdRule::Contamination { fraction } => write!(f, "contamination:{fraction}"),
            ThresholdRule::TopPercent { percent } => write!(f, "top:{percent}"),
            ThresholdRule::BestF1 => f.write_str("best-f1"),
            ThresholdRule::BestAccuracy => f.write_str("best-accuracy"),
            ThresholdRule::Mad { k } => write!(f, "mad:{k}"),
            ThresholdRule::Fixed { value } => write!(f, "fixed:{value}"),
        }
    }
}

impl std::str::FromStr for ThresholdRule {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let (name, value) = s.split_once(':').unwrap_or((s, ""));
        let number = || {
            value.parse::<f64>().map_err(|_| {
                Error::config(
                    "threshold",
                    format!("`{s}`: `{name}` needs a number after the colon"),
                )
            })
        };
        let rule = match name {
            "contamination" => ThresholdRule::Contamination {
                fraction: number()?,
            },
            "top" => ThresholdRule::TopPercent { percent: number()? },
            "best-f1" => ThresholdRule::BestF1,
            "best-accuracy" => ThresholdRule::BestAccuracy,
            "mad" => ThresholdRule::Mad { k: number()? },
            "fixed" => ThresholdRule::Fixed { value: number()? },
            _ => {
                return Err(Error::config(
                    "threshold",
                    format!(
                        "`{s}` is not one of contamination:F, top:PERCENT, best-f1, best-accuracy, mad:K, fixed:V"
                    ),
                ));
            }
        };
        rule.validate()?;
        Ok(rule)
    }
}

impl ThresholdRule {
    pub fn validate(&self) -> Result<()> {
        match *self {
            ThresholdRule::Contamination { fraction } if !(fraction > 0.0 && fraction < 0.5) => {
                Err(Error::config(
                    "threshold.fraction",
                    format!("{fraction} is outside (0, 0.5)"),
                ))
            }
            ThresholdRule::TopPercent { percent } if !(percent > 0.0 && percent < 100.0) => {
                Err(Error::config(
                    "threshold.percent",
                    format!("{percent} is outside (0, 100)"),
                ))
            }
            ThresholdRule::Mad { k } if !(k > 0.0 && k.is_finite()) => Err(Error::config(
                "threshold.k",
                format!("{k} must be positive"),
            )),
            ThresholdRule::Fixed { value } if !value.is_finite() => Err(Error::config(
                "threshold.value",
                format!("{value} is not finite"),
            )),
            _ => Ok(()),
        }
    }

    /// Whether the rule needs labels on the split that chooses it.
    pub fn needs_labels(&self) -> bool {
        matches!(self, ThresholdRule::BestF1 | ThresholdRule::BestAccuracy)
    }

    /// The rule a fit uses when none is given: best F1 when a labelled split can choose it,
    /// else flagging the top 10 % of the training scores (PyOD's default contamination).
    pub fn default_for(labelled_validation: bool) -> Self {
        if labelled_validation {
            ThresholdRule::BestF1
        } else {
            ThresholdRule::Contamination { fraction: 0.1 }
        }
    }

    /// Chooses a threshold from `scores` (with `labels` for the supervised rules) of the split
    /// named `split`. [`ThresholdRule::TopPercent`] looks at no scores: it is applied to
    /// each scored batch.
    pub fn choose(&self, scores: &[f32], labels: Option<&[u8]>, split: &str) -> Result<Threshold> {
        self.validate()?;
        let value = match *self {
            ThresholdRule::TopPercent { percent } => return Ok(Threshold::PerBatch { percent }),
            ThresholdRule::Fixed { value } => value,
            _ if scores.is_empty() => {
                return Err(Error::Empty {
                    what: format!("the {split} split that chooses the threshold"),
                    remedy: "give it at least one row".into(),
                });
            }
            ThresholdRule::Contamination { fraction } => quantile(scores, 1.0 - fraction),
            ThresholdRule::Mad { k } => {
                let median = quantile(scores, 0.5);
                let deviations: Vec<f32> = scores
                    .iter()
                    .map(|&s| (f64::from(s) - median).abs() as f32)
                    .collect();
                median + k * 1.4826 * quantile(&deviations, 0.5)
            }
            ThresholdRule::BestF1 | ThresholdRule::BestAccuracy => {
                let labels = labels.ok_or_else(|| {
                    Error::config(
                        "threshold",
                        format!("{self} needs a labelled {split} split; name the label column"),
                    )
                })?;
                best_threshold(scores, labels, *self == ThresholdRule::BestF1)?
            }
        };
        Ok(Threshold::Fixed {
            value,
            rule: *self,
            chosen_on: split.to_string(),
        })
    }
}

/// A chosen threshold: a value fixed when the model was trained, or a share of whatever
/// batch is scored. Only a fixed one can flag a single row or a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "mode",
    rename_all = "snake_case",
    deny_unknown_fields,
    try_from = "StoredThreshold"
)]
pub enum Threshold {
    Fixed {
        value: f64,
        rule: ThresholdRule,
        /// The split the value was chosen on, e.g. "train" or "validation".
        chosen_on: String,
    },
    /// Flags the top `percent` % of each scored batch (the DAGMM/ALAD protocol).
    PerBatch { percent: f64 },
}

/// How scored rows arrive, which decides whether a per-batch threshold can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scoring {
    /// The rows are one whole batch (a file, a test split): a per-batch rule ranks them.
    Batch,
    /// Rows arrive alone or in arbitrary groups (a server request, a stream): only a fixed
    /// threshold gives each row the flag it would get in any other group.
    Rows,
}

impl Threshold {
    pub fn rule(&self) -> ThresholdRule {
        match *self {
            Threshold::Fixed { rule, .. } => rule,
            Threshold::PerBatch { percent } => ThresholdRule::TopPercent { percent },
        }
    }

    /// Where the value came from: the split that chose it, or "each scored batch".
    pub fn chosen_on(&self) -> &str {
        match self {
            Threshold::Fixed { chosen_on, .. } => chosen_on,
            Threshold::PerBatch { .. } => "each scored batch",
        }
    }

    /// The fixed value, or `None` for a per-batch rule.
    pub fn fixed(&self) -> Option<f64> {
        match *self {
            Threshold::Fixed { value, .. } => Some(value),
            Threshold::PerBatch { .. } => None,
        }
    }

    /// The value that flags `scores` when they arrive as `scoring` says; a per-batch rule
    /// refuses [`Scoring::Rows`], naming the rule and the fix.
    pub fn value_for(&self, scores: &[f32], scoring: Scoring) -> Result<f64> {
        match (self, scoring) {
            (Threshold::Fixed { value, .. }, _) => Ok(*value),
            (Threshold::PerBatch { percent }, Scoring::Batch) => {
                Ok(top_percent_cut(scores, *percent))
            }
            (Threshold::PerBatch { percent }, Scoring::Rows) => Err(Error::config(
                "threshold",
                format!(
                    "the model's threshold `top:{percent}` flags the top {percent} % of each \
                     scored batch, so rows scored alone or as a stream have no threshold; \
                     score the rows as one batch, or retrain with a fixed rule such as \
                     `contamination:{}`",
                    percent / 100.0
                ),
            )),
        }
    }

    /// `score >= threshold` for each score, with the value that applied.
    pub fn flags(&self, scores: &[f32], scoring: Scoring) -> Result<(Vec<bool>, f64)> {
        let t = self.value_for(scores, scoring)?;
        Ok((scores.iter().map(|&s| f64::from(s) >= t).collect(), t))
    }
}

/// A threshold as manifests hold it: tagged by `mode` (format 2), or as format 1 wrote it,
/// `{value, rule, chosen_on}` with a null value for the per-batch rule.
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredThreshold {
    Current(CurrentThreshold),
    Legacy {
        value: Option<f64>,
        rule: ThresholdRule,
        chosen_on: String,
    },
}

#[derive(Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
enum CurrentThreshold {
    Fixed {
        value: f64,
        rule: ThresholdRule,
        chosen_on: String,
    },
    PerBatch {
        percent: f64,
    },
}

impl TryFrom<StoredThreshold> for Threshold {
    type Error = String;

    fn try_from(stored: StoredThreshold) -> std::result::Result<Self, String> {
        let threshold = match stored {
            StoredThreshold::Current(CurrentThreshold::Fixed {
                value,
                rule,
                chosen_on,
            })
            | StoredThreshold::Legacy {
                value: Some(value),
                rule,
                chosen_on,
            } => Threshold::Fixed {
                value,
                rule,
                chosen_on,
            },
            StoredThreshold::Current(CurrentThreshold::PerBatch { percent })
            | StoredThreshold::Legacy {
                value: None,
                rule: ThresholdRule::TopPercent { percent },
                ..
            } => Threshold::PerBatch { percent },
            StoredThreshold::Legacy { rule, .. } => {
                return Err(format!(
                    "threshold rule `{rule}` has no value; only `top:P` is applied per batch"
                ));
            }
        };
        match &threshold {
            Threshold::Fixed { value, .. } if !value.is_finite() => {
                Err(format!("threshold value {value} is not finite"))
            }
            Threshold::PerBatch { percent } => threshold
                .rule()
                .validate()
                .map(|()| threshold.clone())
                .map_err(|e| format!("{e} (per-batch percent {percent})")),
            _ => Ok(threshold),
        }
    }
}

/// The smallest score among the top `percent` % of `scores`.
fn top_percent_cut(scores: &[f32], percent: f64) -> f64 {
    if scores.is_empty() {
        return f64::INFINITY;
    }
    let mut sorted: Vec<f32> = scores.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let k = ((scores.len() as f64 * percent / 100.0).ceil() as usize).clamp(1, scores.len());
    f64::from(sorted[k - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_back_what_they_print() {
        for text in [
            "contamination:0.1",
            "top:20",
            "best-f1",
            "best-accuracy",
            "mad:3",
            "fixed:0.5",
        ] {
            let rule: ThresholdRule = text.parse().unwrap();
            assert_eq!(rule.to_string(), text);
        }
        assert!("top".parse::<ThresholdRule>().is_err());
        assert!("top:150".parse::<ThresholdRule>().is_err());
        assert!("median".parse::<ThresholdRule>().is_err());
    }

    #[test]
    fn contamination_takes_the_upper_quantile_of_training_scores() {
        let scores: Vec<f32> = (0..=100).map(|i| i as f32).collect();
        let t = ThresholdRule::Contamination { fraction: 0.1 }
            .choose(&scores, None, "train")
            .unwrap();
        assert_eq!(t.fixed(), Some(90.0));
        assert_eq!(t.chosen_on(), "train");
    }

    #[test]
    fn top_percent_flags_that_share_of_the_batch() {
        let t = ThresholdRule::TopPercent { percent: 20.0 }
            .choose(&[], None, "test batch")
            .unwrap();
        let scores: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let (flags, _) = t.flags(&scores, Scoring::Batch).unwrap();
        assert_eq!(flags.iter().filter(|&&f| f).count(), 2);
        assert!(flags[8] && flags[9]);
        let err = t
            .flags(&scores[..1], Scoring::Rows)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("top:20") && err.contains("contamination:0.2"),
            "{err}"
        );
    }

    #[test]
    fn fixed_thresholds_flag_rows_alone_as_in_a_batch() {
        let scores: Vec<f32> = (0..=100).map(|i| i as f32).collect();
        let t = ThresholdRule::Contamination { fraction: 0.1 }
            .choose(&scores, None, "train")
            .unwrap();
        let (batch, _) = t.flags(&scores, Scoring::Batch).unwrap();
        let alone: Vec<bool> = scores
            .iter()
            .map(|s| t.flags(&[*s], Scoring::Rows).unwrap().0[0])
            .collect();
        assert_eq!(batch, alone);
    }

    #[test]
    fn format_1_thresholds_still_load_and_broken_ones_are_refused() {
        let fixed: Threshold = serde_json::from_str(
            r#"{"value": 0.5, "rule": {"rule": "best_f1"}, "chosen_on": "validation"}"#,
        )
        .unwrap();
        assert_eq!(fixed.fixed(), Some(0.5));
        let batch: Threshold = serde_json::from_str(
            r#"{"value": null, "rule": {"rule": "top_percent", "percent": 20.0}, "chosen_on": "none"}"#,
        )
        .unwrap();
        assert_eq!(batch, Threshold::PerBatch { percent: 20.0 });
        let err = serde_json::from_str::<Threshold>(
            r#"{"value": null, "rule": {"rule": "best_f1"}, "chosen_on": "validation"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("has no value"), "{err}");
        for t in [fixed, batch] {
            let json = serde_json::to_string(&t).unwrap();
            assert!(json.contains("\"mode\""), "{json}");
            assert_eq!(serde_json::from_str::<Threshold>(&json).unwrap(), t);
        }
    }

    #[test]
    fn best_f1_needs_labels_and_separates_perfectly_separable_scores() {
        let scores = [0.1, 0.2, 0.3, 0.8, 0.9];
        let labels = [0, 0, 0, 1, 1];
        assert!(
            ThresholdRule::BestF1
                .choose(&scores, None, "validation")
                .is_err()
        );
        let t = ThresholdRule::BestF1
            .choose(&scores, Some(&labels), "validation")
            .unwrap();
        let (flags, _) = t.flags(&scores, Scoring::Rows).unwrap();
        assert_eq!(flags, vec![false, false, false, true, true]);
        // Halfway between the lowest flagged score and the highest unflagged one.
        let midpoint = (f64::from(0.3f32) + f64::from(0.8f32)) / 2.0;
        assert_eq!(t.fixed(), Some(midpoint));
    }

    #[test]
    fn best_accuracy_prefers_fewer_flags_on_rare_anomalies() {
        let scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9];
        let labels = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let t = ThresholdRule::BestAccuracy
            .choose(&scores, Some(&labels), "validation")
            .unwrap();
        let (flags, _) = t.flags(&scores, Scoring::Rows).unwrap();
        assert_eq!(flags.iter().filter(|&&f| f).count(), 1);
    }

    #[test]
    fn mad_is_robust_to_one_outlier() {
        let mut scores: Vec<f32> = (0..99).map(|i| (i % 10) as f32).collect();
        scores.push(1e6);
        let t = ThresholdRule::Mad { k: 3.0 }
            .choose(&scores, None, "train")
            .unwrap();
        assert!(t.fixed().unwrap() < 20.0);
    }

    #[test]
    fn each_rule_is_validated() {
        assert!(
            ThresholdRule::Contamination { fraction: 0.0 }
                .validate()
                .is_err()
        );
        assert!(
            ThresholdRule::Contamination { fraction: 0.6 }
                .validate()
                .is_err()
        );
        assert!(
            ThresholdRule::TopPercent { percent: 100.0 }
                .validate()
                .is_err()
        );
        assert!(ThresholdRule::Mad { k: -1.0 }.validate().is_err());
        assert!(ThresholdRule::Fixed { value: f64::NAN }.validate().is_err());
        assert!(
            ThresholdRule::Contamination { fraction: 0.05 }
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn choosing_on_an_empty_split_is_an_error() {
        let err = ThresholdRule::Contamination { fraction: 0.1 }
            .choose(&[], None, "train")
            .unwrap_err();
        assert!(err.to_string().contains("train"));
    }

    #[test]
    fn rules_round_trip_through_json() {
        for rule in [
            ThresholdRule::Contamination { fraction: 0.1 },
            ThresholdRule::TopPercent { percent: 20.0 },
            ThresholdRule::BestF1,
            ThresholdRule::Mad { k: 3.0 },
        ] {
            let json = serde_json::to_string(&rule).unwrap();
            assert_eq!(serde_json::from_str::<ThresholdRule>(&json).unwrap(), rule);
        }
    }
}
