//! Drift in the score distribution: consecutive windows of scores are each compared with a
//! reference window by the two-sample Kolmogorov–Smirnov test. A window that differs at
//! level `alpha` is a drift event and becomes the new reference, so one change is reported
//! once. Scores say what the model sees, so this watches the model's view of the data rather
//! than every input column.

use serde::Serialize;

/// A change in the score distribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftEvent {
    /// Rows seen when the window that differs was complete.
    pub row: u64,
    /// The largest gap between the two windows' empirical distributions.
    pub statistic: f64,
    pub p_value: f64,
    /// Shares of rows flagged in the reference window and in the window that differs.
    pub reference_flag_rate: f64,
    pub flag_rate: f64,
}

#[derive(Debug, Clone)]
pub struct DriftMonitor {
    window: usize,
    alpha: f64,
    reference: Option<Window>,
    current: Window,
    rows: u64,
}

#[derive(Debug, Clone, Default)]
struct Window {
    scores: Vec<f32>,
    flagged: usize,
}

impl DriftMonitor {
    pub fn new(window: usize, alpha: f64) -> Self {
        Self {
            window: window.max(2),
            alpha,
            reference: None,
            current: Window::default(),
            rows: 0,
        }
    }

    /// Takes a batch's scores and flags; returns the drift events completed by it.
    pub fn observe(&mut self, scores: &[f32], flags: &[bool]) -> Vec<DriftEvent> {
        let mut events = Vec::new();
        for (&score, &flag) in scores.iter().zip(flags) {
            self.rows += 1;
            self.current.scores.push(score);
            self.current.flagged += usize::from(flag);
            if self.current.scores.len() < self.window {
                continue;
            }
            let mut full = std::mem::take(&mut self.current);
            full.scores.sort_by(f32::total_cmp);
            let Some(reference) = &self.reference else {
                self.reference = Some(full);
                continue;
            };
            let statistic = ks_statistic(&reference.scores, &full.scores);
            let p_value = ks_p_value(statistic, reference.scores.len(), full.scores.len());
            if p_value < self.alpha {
                events.push(DriftEvent {
                    row: self.rows,
                    statistic,
                    p_value,
                    reference_flag_rate: reference.flag_rate(),
                    flag_rate: full.flag_rate(),
                });
                self.reference = Some(full);
            }
        }
        events
    }
}

impl Window {
    fn flag_rate(&self) -> f64 {
        self.flagged as f64 / self.scores.len().max(1) as f64
    }
}

/// sup |F₁ − F₂| of two sorted samples.
fn ks_statistic(a: &[f32], b: &[f32]) -> f64 {
    let (mut i, mut j, mut gap) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let v = a[i].min(b[j]);
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        gap = gap.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    gap
}

/// The asymptotic p-value of a KS statistic for samples of `n` and `m` (Kolmogorov's
/// distribution with Stephens' small-sample correction).
fn ks_p_value(statistic: f64, n: usize, m: usize) -> f64 {
    let effective = (n * m) as f64 / (n + m) as f64;
    let root = effective.sqrt();
    let lambda = (root + 0.12 + 0.11 / root) * statistic;
    if lambda < 0.2 {
        return 1.0;
    }
    let sum: f64 = (1..=100)
        .map(|k| {
            let k = k as f64;
            let sign = if k as u64 % 2 == 1 { 1.0 } else { -1.0 };
            sign * (-2.0 * k * k * lambda * lambda).exp()
        })
        .sum();
    (2.0 * sum).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistic_and_p_value_match_known_values() {
        let a: Vec<f32> = (0..100).map(|i| i as f32).collect();
        assert_eq!(ks_statistic(&a, &a), 0.0);
        let shifted: Vec<f32> = (50..150).map(|i| i as f32).collect();
        assert!((ks_statistic(&a, &shifted) - 0.5).abs() < 1e-12);
        // scipy.stats.kstwobign.sf(1.36) ≈ 0.0494 for large samples.
        let p = ks_p_value(1.36 / (500.0f64).sqrt(), 1000, 1000);
        assert!((p - 0.05).abs() < 0.01, "{p}");
    }

    #[test]
    fn a_shift_is_reported_once_and_steady_scores_never() {
        let mut monitor = DriftMonitor::new(200, 1e-3);
        let noise = |i: usize| ((i * 7919) % 1000) as f32 / 1000.0;
        let steady: Vec<f32> = (0..2000).map(noise).collect();
        let flags = vec![false; 2000];
        assert!(monitor.observe(&steady, &flags).is_empty());
        let shifted: Vec<f32> = (0..2000).map(|i| noise(i) + 0.5).collect();
        let events = monitor.observe(&shifted, &[true; 2000]);
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].row, 2200);
        assert_eq!(
            (events[0].reference_flag_rate, events[0].flag_rate),
            (0.0, 1.0)
        );
    }
}
