//! Evaluation metrics in `f64`, matching scikit-learn's definitions (checked against
//! fixtures it generated, see `tests/fixtures/metrics.json`).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

fn check(scores: &[f32], labels: &[u8]) -> Result<(usize, usize)> {
    if scores.len() != labels.len() {
        return Err(Error::input(
            "metrics",
            format!("{} scores but {} labels", scores.len(), labels.len()),
        ));
    }
    let positives = labels.iter().filter(|&&l| l != 0).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(Error::input(
            "metrics",
            format!(
                "ranking metrics need both classes, got {positives} anomalies and {negatives} \
                 normal rows"
            ),
        ));
    }
    Ok((positives, negatives))
}

/// Indices sorted by descending score.
fn order_desc(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// Cumulative (true positives, false positives) at each distinct score, highest first, with
/// the score itself.
fn cumulative_counts(scores: &[f32], labels: &[u8]) -> Vec<(f64, f64, f32)> {
    let order = order_desc(scores);
    let mut out = Vec::new();
    let (mut tp, mut fp) = (0.0, 0.0);
    for (i, &idx) in order.iter().enumerate() {
        if labels[idx] != 0 {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_tie = order
            .get(i + 1)
            .is_none_or(|&next| scores[next] != scores[idx]);
        if last_of_tie {
            out.push((tp, fp, scores[idx]));
        }
    }
    out
}

/// Area under the ROC curve; tied scores count one half (Mann–Whitney U).
pub fn roc_auc(scores: &[f32], labels: &[u8]) -> Result<f64> {
    let (p, n) = check(scores, labels)?;
    // Trapezoids between consecutive distinct thresholds give exactly the tie-averaged U.
    let mut area = 0.0;
    let (mut prev_tp, mut prev_fp) = (0.0, 0.0);
    for (tp, fp, _) in cumulative_counts(scores, labels) {
        area += (fp - prev_fp) * (tp + prev_tp) / 2.0;
        prev_tp = tp;
        prev_fp = fp;
    }
    Ok(area / (p as f64 * n as f64))
}

/// Average precision: Σ (Rₙ − Rₙ₋₁) · Pₙ over distinct thresholds (scikit-learn's rule,
/// no interpolation).
pub fn average_precision(scores: &[f32], labels: &[u8]) -> Result<f64> {
    let (p, _) = check(scores, labels)?;
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for (tp, fp, _) in cumulative_counts(scores, labels) {
        let recall = tp / p as f64;
        ap += (recall - prev_recall) * tp / (tp + fp);
        prev_recall = recall;
    }
    Ok(ap)
}

/// One point of a ROC curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RocPoint {
    pub fpr: f64,
    pub tpr: f64,
    /// Rows scoring at least this are flagged; infinite for the (0, 0) start.
    pub threshold: f64,
}

/// The ROC curve at every distinct score, from (0, 0) to (1, 1).
pub fn roc_curve(scores: &[f32], labels: &[u8]) -> Result<Vec<RocPoint>> {
    let (p, n) = check(scores, labels)?;
    let mut points = vec![RocPoint {
        fpr: 0.0,
        tpr: 0.0,
        threshold: f64::INFINITY,
    }];
    points.extend(
        cumulative_counts(scores, labels)
            .into_iter()
            .map(|(tp, fp, s)| RocPoint {
                fpr: fp / n as f64,
                tpr: tp / p as f64,
                threshold: f64::from(s),
            }),
    );
    Ok(points)
}

/// One point of a precision–recall curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrPoint {
    pub recall: f64,
    pub precision: f64,
    pub threshold: f64,
}

/// Precision and recall at every distinct score, highest threshold first.
pub fn pr_curve(scores: &[f32], labels: &[u8]) -> Result<Vec<PrPoint>> {
    let (p, _) = check(scores, labels)?;
    Ok(cumulative_counts(scores, labels)
        .into_iter()
        .map(|(tp, fp, s)| PrPoint {
            recall: tp / p as f64,
            precision: tp / (tp + fp),
            threshold: f64::from(s),
        })
        .collect())
}

/// Counts of a binary decision against labels (1 = anomaly = positive).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    pub fn_: u64,
}

impl Confusion {
    pub fn new(flags: &[bool], labels: &[u8]) -> Self {
        let mut c = Confusion::default();
        for (&flag, &label) in flags.iter().zip(labels) {
            match (flag, label != 0) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, false) => c.tn += 1,
                (false, true) => c.fn_ += 1,
            }
        }
        c
    }

    /// 0 when nothing is flagged (scikit-learn's `zero_division=0`).
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    pub fn f_beta(&self, beta: f64) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        let b2 = beta * beta;
        if p + r == 0.0 {
            0.0
        } else {
            (1.0 + b2) * p * r / (b2 * p + r)
        }
    }

    pub fn f1(&self) -> f64 {
        self.f_beta(1.0)
    }

    pub fn f2(&self) -> f64 {
        self.f_beta(2.0)
    }

    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.tp + self.tn + self.fp + self.fn_)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Everything `eval` and `bench` report for one scored, labelled split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub roc_auc: f64,
    pub average_precision: f64,
    pub threshold: f64,
    pub confusion: Confusion,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub f2: f64,
    pub accuracy: f64,
}

impl Evaluation {
    /// Metrics of `scores` against `labels`, flagging `score >= threshold`.
    pub fn new(scores: &[f32], labels: &[u8], threshold: f64) -> Result<Self> {
        let flags: Vec<bool> = scores.iter().map(|&s| f64::from(s) >= threshold).collect();
        let confusion = Confusion::new(&flags, labels);
        Ok(Self {
            roc_auc: roc_auc(scores, labels)?,
            average_precision: average_precision(scores, labels)?,
            threshold,
            confusion,
            precision: confusion.precision(),
            recall: confusion.recall(),
            f1: confusion.f1(),
            f2: confusion.f2(),
            accuracy: confusion.accuracy(),
        })
    }
}

/// The threshold that maximises F1 (`f1`) or accuracy on labelled data. Flags are
/// `score >= threshold`; the threshold sits halfway between the lowest flagged score and the
/// next lower one, so that new data scoring a little under the lowest flagged validation
/// score is still flagged.
pub fn best_threshold(scores: &[f32], labels: &[u8], f1: bool) -> Result<f64> {
    let (p, n) = check(scores, labels)?;
    let counts = cumulative_counts(scores, labels);
    // Flagging nothing may be the most accurate choice when anomalies are rare.
    let mut best = (if f1 { 0.0 } else { n as f64 / (p + n) as f64 }, None);
    for (i, &(tp, fp, _)) in counts.iter().enumerate() {
        let value = if f1 {
            2.0 * tp / (tp + fp + p as f64)
        } else {
            (tp + (n as f64 - fp)) / (p + n) as f64
        };
        if value > best.0 {
            best = (value, Some(i));
        }
    }
    Ok(match best.1 {
        None => f64::INFINITY,
        Some(i) => {
            let lowest_flagged = f64::from(counts[i].2);
            match counts.get(i + 1) {
                Some(&(_, _, next)) => (lowest_flagged + f64::from(next)) / 2.0,
                None => lowest_flagged,
            }
        }
    })
}

/// The `q` quantile of `values` with linear interpolation (NumPy's default).
pub fn quantile<T: Copy + Into<f64>>(values: &[T], q: f64) -> f64 {
    assert!(!values.is_empty(), "quantile of no values");
    let mut values: Vec<f64> = values.iter().map(|&v| v.into()).collect();
    let pos = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    // The two order statistics in linear time (a preprocessor takes a median per column).
    let (_, &mut at_lo, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let at_hi = match hi > lo {
        true => above
            .iter()
            .copied()
            .min_by(f64::total_cmp)
            .unwrap_or(at_lo),
        false => at_lo,
    };
    at_lo + (at_hi - at_lo) * (pos - lo as f64)
}

/// How the rows of one value of the label column (an attack name, a category) fared at the
/// threshold, the anomaly score still meaning "not normal".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassResult {
    pub class: String,
    /// Whether the value means normal.
    pub normal: bool,
    pub rows: usize,
    pub flagged: usize,
    /// The share of its rows flagged: an anomaly class's detection rate (its recall), a
    /// normal class's false-positive rate.
    pub flagged_share: f64,
    /// The share of all flagged rows that are of this class.
    pub share_of_flagged: f64,
}

/// One [`ClassResult`] per distinct value of `classes`, most rows first; `labels` say which
/// values are normal (0) and `flags` which rows were flagged.
pub fn per_class(classes: &[String], labels: &[u8], flags: &[bool]) -> Vec<ClassResult> {
    let mut counts: std::collections::BTreeMap<&str, (bool, usize, usize)> = Default::default();
    for ((class, &label), &flagged) in classes.iter().zip(labels).zip(flags) {
        let entry = counts.entry(class.as_str()).or_insert((label == 0, 0, 0));
        entry.1 += 1;
        entry.2 += usize::from(flagged);
    }
    let all_flagged = flags.iter().filter(|&&f| f).count().max(1) as f64;
    let mut results: Vec<ClassResult> = counts
        .into_iter()
        .map(|(class, (normal, rows, flagged))| ClassResult {
            class: class.into(),
            normal,
            rows,
            flagged,
            flagged_share: flagged as f64 / rows as f64,
            share_of_flagged: flagged as f64 / all_flagged,
        })
        .collect();
    results.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.class.cmp(&b.class)));
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_class_counts_detection_rates_and_alert_shares() {
        let classes: Vec<String> = ["normal", "smurf", "smurf", "normal", "neptune"]
            .map(String::from)
            .to_vec();
        let labels = [0, 1, 1, 0, 1];
        let flags = [true, true, false, false, true];
        let results = per_class(&classes, &labels, &flags);
        assert_eq!(results[0].class, "normal");
        assert!(results[0].normal);
        assert_eq!(results[0].flagged_share, 0.5);
        let smurf = results.iter().find(|r| r.class == "smurf").unwrap();
        assert_eq!((smurf.rows, smurf.flagged), (2, 1));
        assert!((smurf.share_of_flagged - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(results[2].class, "neptune");
    }

    #[test]
    fn perfect_and_inverted_rankings() {
        let labels = [0, 0, 1, 1];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &labels).unwrap(), 1.0);
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &labels).unwrap(), 0.0);
        assert_eq!(roc_auc(&[0.5; 4], &labels).unwrap(), 0.5);
    }

    #[test]
    fn one_class_is_an_error() {
        assert!(roc_auc(&[0.1, 0.2], &[0, 0]).is_err());
        assert!(average_precision(&[0.1, 0.2], &[1, 1]).is_err());
        assert!(roc_auc(&[0.1], &[0, 1]).is_err());
    }

    #[test]
    fn roc_curve_runs_from_origin_to_one_one() {
        let curve = roc_curve(&[0.3, 0.1, 0.7, 0.7, 0.2], &[0, 0, 1, 0, 1]).unwrap();
        assert_eq!((curve[0].fpr, curve[0].tpr), (0.0, 0.0));
        let last = curve.last().unwrap();
        assert_eq!((last.fpr, last.tpr), (1.0, 1.0));
    }

    #[test]
    fn confusion_counts_and_rates() {
        let c = Confusion::new(&[true, true, false, false], &[1, 0, 1, 0]);
        assert_eq!((c.tp, c.fp, c.tn, c.fn_), (1, 1, 1, 1));
        assert_eq!(c.precision(), 0.5);
        assert_eq!(c.f1(), 0.5);
        assert_eq!(Confusion::new(&[false, false], &[1, 0]).precision(), 0.0);
    }

    #[test]
    fn quantile_interpolates_like_numpy() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 0.5), 2.5);
        assert_eq!(quantile(&[5.0], 0.9), 5.0);
        assert_eq!(quantile(&[3.0, 9.0, 1.0, 7.0, 5.0], 0.9), 8.2);
        assert_eq!(quantile(&[3.0, 9.0, 1.0, 7.0, 5.0], 1.0), 9.0);
        assert_eq!(quantile(&[3.0, 9.0, 1.0, 7.0, 5.0], 0.0), 1.0);
    }
}
