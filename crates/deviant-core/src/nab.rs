//! The Numenta Anomaly Benchmark's scoring rules (Lavin & Ahmad 2015, and the sweeper of the
//! NAB repository), reproduced so that deviant's NAB numbers can be compared with the
//! published table. It is a pure function of per-row anomaly scores and the label windows
//! given as row ranges; reading files is the caller's business.
//!
//! The rules, as NAB applies them to one file of `n` rows:
//! * The first [`probation_rows`]`(n)` rows are a probationary period: they are neither
//!   detections nor counted in any tally, and a window lying wholly inside it is not scored.
//! * A row is a detection when its score is `>= threshold`; a NaN score never is.
//! * Inside a window of `w` rows ending at row `e`, a detection at row `i` sits at the relative
//!   position `p = -(e - i + 1) / w` (−1 on the first row, −1/w on the last). Only the window's
//!   earliest detection counts, and it earns `tp_weight · σ(p) / σ(−1)`, where
//!   `σ(x) = 2 / (1 + e^(5x)) − 1` is NAB's scaled sigmoid, so the first row earns exactly
//!   `tp_weight`. A window without a detection costs `fn_weight`.
//! * A detection outside every window costs `fp_weight · σ(d)`, where `d` is its distance
//!   past the end of the preceding window in units of that window's width minus one
//!   (`(i − e) / (w − 1)`), and σ is cut to −1 once `d > 3`; with no window before the row
//!   the cost is the full `fp_weight`. (The cut is strict as in the scorer that produced
//!   NAB's published results: a detection exactly three units past a window costs
//!   `0.99999939 · fp_weight`. One sweeper revision cuts at `d >= 3` instead, which moves
//!   windowedGaussian's published total by 7e-8. NAB divides by zero on a one-row window;
//!   here that distance is infinite, so such a detection costs the full `fp_weight`.)
//! * The corpus score is the sum of the files' raw scores, normalised as
//!   `100 · (S − S_null) / (S_perfect − S_null)`: the null detector flags nothing
//!   (`−fn_weight` per scored window) and the perfect one earns `tp_weight` per label window.

use serde::Serialize;

use crate::{Error, Result};

/// Share of each file's rows that NAB leaves unscored while a detector learns.
pub const PROBATION_FRACTION: f64 = 0.15;

/// NAB stops the probationary period growing past the share of a 5,000-row file.
const PROBATION_CAP_FILE_ROWS: f64 = 5000.0;

/// The weights of NAB's application profiles (`config/profiles.json`): what an early
/// detection earns and what a missed window and a false alarm cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CostProfile {
    /// The profile's name as NAB spells it in its result files.
    pub name: &'static str,
    pub tp_weight: f64,
    pub fn_weight: f64,
    pub fp_weight: f64,
}

impl CostProfile {
    /// NAB's `standard` profile: a false alarm costs about a ninth of a missed window.
    pub const fn standard() -> Self {
        CostProfile {
            name: "standard",
            tp_weight: 1.0,
            fn_weight: 1.0,
            fp_weight: 0.11,
        }
    }

    /// NAB's `reward_low_FP_rate`: false alarms cost twice as much as in `standard`.
    pub const fn reward_low_fp() -> Self {
        CostProfile {
            name: "reward_low_FP_rate",
            tp_weight: 1.0,
            fn_weight: 1.0,
            fp_weight: 0.22,
        }
    }

    /// NAB's `reward_low_FN_rate`: missed windows cost twice as much as in `standard`.
    pub const fn reward_low_fn() -> Self {
        CostProfile {
            name: "reward_low_FN_rate",
            tp_weight: 1.0,
            fn_weight: 2.0,
            fp_weight: 0.11,
        }
    }

    /// The three profiles NAB publishes a score for, in the order of its tables.
    pub const fn all() -> [CostProfile; 3] {
        [
            Self::standard(),
            Self::reward_low_fp(),
            Self::reward_low_fn(),
        ]
    }
}

/// How many leading rows of an `n_rows` file are probationary:
/// `min(floor(0.15 · n_rows), 0.15 · 5000)`, computed in `f64` as NAB does so that the
/// rounding of `0.15 · n_rows` lands on the same row.
pub fn probation_rows(n_rows: usize) -> usize {
    let share = (PROBATION_FRACTION * n_rows as f64).floor();
    share.min(PROBATION_FRACTION * PROBATION_CAP_FILE_ROWS) as usize
}

/// NAB's scaled sigmoid of a relative position: near +1 early in a window, 0 at its right
/// edge, towards −1 past it, and exactly −1 beyond three window widths past.
fn scaled_sigmoid(relative_position: f64) -> f64 {
    if relative_position > 3.0 {
        -1.0
    } else {
        2.0 * (1.0 / (1.0 + (5.0 * relative_position).exp())) - 1.0
    }
}

/// Checks that `windows` are inclusive `(first_row, last_row)` ranges of an `n_rows` file,
/// in order and disjoint, which every scoring function here assumes.
pub fn check_windows(windows: &[(usize, usize)], n_rows: usize) -> Result<()> {
    let mut previous_last: Option<usize> = None;
    for (index, &(first, last)) in windows.iter().enumerate() {
        if first > last || last >= n_rows {
            return Err(Error::input(
                "NAB windows",
                format!("window {index} spans rows {first}..={last} of a {n_rows}-row file"),
            ));
        }
        if previous_last.is_some_and(|previous| first <= previous) {
            return Err(Error::input(
                "NAB windows",
                format!("window {index} starts at row {first}, inside or before the one before it"),
            ));
        }
        previous_last = Some(last);
    }
    Ok(())
}

/// One file's score at one threshold, with NAB's row tallies: each counts rows after the
/// probationary period (`tp` detected rows inside windows, `fn_` undetected ones, `fp` and
/// `tn` the same outside windows), as NAB's `*_scores.csv` files do.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct FileScore {
    pub raw_score: f64,
    pub tp: usize,
    pub tn: usize,
    pub fp: usize,
    /// Named with a trailing underscore because `fn` is a keyword.
    pub fn_: usize,
}

/// What a detection on a row would be worth, which depends only on where the row lies
/// relative to the windows, not on the threshold.
#[derive(Debug, Clone, Copy)]
enum RowRole {
    Probation,
    /// Inside window `window`; `reward` is what the window earns if this row is its earliest
    /// detection.
    InWindow {
        window: usize,
        reward: f64,
    },
    /// Outside every window; `penalty` (negative) is what a detection here adds.
    Outside {
        penalty: f64,
    },
}

fn row_roles(n_rows: usize, windows: &[(usize, usize)], profile: &CostProfile) -> Vec<RowRole> {
    if let Err(error) = check_windows(windows, n_rows) {
        panic!("{error}");
    }
    let probation = probation_rows(n_rows);
    let first_row_reward = scaled_sigmoid(-1.0);
    let mut next_window = 0;
    // (last row, width) of the window most recently left behind.
    let mut preceding: Option<(usize, usize)> = None;
    (0..n_rows)
        .map(|row| {
            let current = windows.get(next_window).filter(|&&(first, _)| row >= first);
            let role = if row < probation {
                RowRole::Probation
            } else if let Some(&(first, last)) = current {
                let width = (last - first + 1) as f64;
                let position = -((last - row + 1) as f64) / width;
                RowRole::InWindow {
                    window: next_window,
                    reward: scaled_sigmoid(position) * profile.tp_weight / first_row_reward,
                }
            } else {
                let unweighted = match preceding {
                    None => -1.0,
                    Some((last, width)) => scaled_sigmoid((row - last) as f64 / (width - 1) as f64),
                };
                RowRole::Outside {
                    penalty: unweighted * profile.fp_weight,
                }
            };
            if let Some(&(first, last)) = current
                && row == last
            {
                preceding = Some((last, last - first + 1));
                next_window += 1;
            }
            role
        })
        .collect()
}

fn is_detection(score: f64, threshold: f64) -> bool {
    score >= threshold
}

/// Scores one file: `scores` holds one anomaly score per row, `windows` the inclusive
/// `(first_row, last_row)` of each label window in order.
///
/// # Panics
/// When the windows fail [`check_windows`] for `scores.len()` rows.
pub fn score_file(
    scores: &[f64],
    windows: &[(usize, usize)],
    threshold: f64,
    profile: &CostProfile,
) -> FileScore {
    score_file_by_row(scores, windows, threshold, profile).0
}

/// [`score_file`] together with each row's share of the raw score, laid out as NAB's
/// per-row `S(t)_<profile>` columns: a false alarm's cost on its own row, and each scored
/// window's reward (or its miss cost) on the window's first row after probation.
///
/// # Panics
/// When the windows fail [`check_windows`] for `scores.len()` rows.
pub fn score_file_by_row(
    scores: &[f64],
    windows: &[(usize, usize)],
    threshold: f64,
    profile: &CostProfile,
) -> (FileScore, Vec<f64>) {
    let roles = row_roles(scores.len(), windows, profile);
    let mut tally = FileScore::default();
    let mut contributions = vec![0.0; scores.len()];
    let mut false_alarm_total = 0.0;
    // Per window: its first row after probation (None when it lies wholly inside
    // probation) and the reward of its earliest detection.
    let mut first_scored_row: Vec<Option<usize>> = vec![None; windows.len()];
    let mut earliest_reward: Vec<Option<f64>> = vec![None; windows.len()];
    for (row, (&score, role)) in scores.iter().zip(&roles).enumerate() {
        let detected = is_detection(score, threshold);
        match *role {
            RowRole::Probation => {}
            RowRole::InWindow { window, reward } => {
                first_scored_row[window].get_or_insert(row);
                if detected {
                    tally.tp += 1;
                    // Rewards fall row by row through a window, so the earliest is the best.
                    earliest_reward[window].get_or_insert(reward);
                } else {
                    tally.fn_ += 1;
                }
            }
            RowRole::Outside { penalty } => {
                if detected {
                    tally.fp += 1;
                    contributions[row] += penalty;
                    false_alarm_total += penalty;
                } else {
                    tally.tn += 1;
                }
            }
        }
    }
    // Summed in NAB's order: false alarms first, then window by window.
    tally.raw_score = false_alarm_total;
    for (first_row, reward) in first_scored_row.into_iter().zip(earliest_reward) {
        if let Some(row) = first_row {
            let window_score = reward.unwrap_or(-profile.fn_weight);
            contributions[row] += window_score;
            tally.raw_score += window_score;
        }
    }
    (tally, contributions)
}

/// One file of a corpus: its per-row anomaly scores and its label windows as inclusive row
/// ranges, in order.
#[derive(Debug, Clone, Copy)]
pub struct NabFile<'a> {
    pub scores: &'a [f64],
    pub windows: &'a [(usize, usize)],
}

/// A corpus scored at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CorpusScore {
    pub threshold: f64,
    /// The files' raw scores summed.
    pub raw_score: f64,
    /// The raw score of a detector that flags nothing.
    pub null_score: f64,
    /// `tp_weight` per label window: what flagging each window's first row earns. NAB counts
    /// every window here, even one lying inside probation.
    pub perfect_score: f64,
    /// `100 · (raw − null) / (perfect − null)`: 0 for the null detector, 100 for the perfect
    /// one; NaN for a corpus without windows.
    pub normalised_score: f64,
}

/// The null and perfect raw scores NAB normalises by: the null detector pays the miss cost of
/// every window it scores, and the perfect one earns `tp_weight` for every label window
/// (NAB counts them from the label file, probation or not).
fn null_and_perfect(files: &[NabFile<'_>], profile: &CostProfile) -> (f64, f64) {
    let mut scored_windows = 0usize;
    let mut all_windows = 0usize;
    for file in files {
        let probation = probation_rows(file.scores.len());
        scored_windows += file
            .windows
            .iter()
            .filter(|&&(_, last)| last >= probation)
            .count();
        all_windows += file.windows.len();
    }
    (
        -(scored_windows as f64) * profile.fn_weight,
        all_windows as f64 * profile.tp_weight,
    )
}

fn normalise(raw_score: f64, null_score: f64, perfect_score: f64) -> f64 {
    100.0 * (raw_score - null_score) / (perfect_score - null_score)
}

/// Scores every file at `threshold` and normalises the sum as NAB's final table does.
///
/// # Panics
/// When a file's windows fail [`check_windows`].
pub fn corpus_score(files: &[NabFile<'_>], threshold: f64, profile: &CostProfile) -> CorpusScore {
    let raw_score = files
        .iter()
        .map(|file| score_file(file.scores, file.windows, threshold, profile).raw_score)
        .sum();
    let (null_score, perfect_score) = null_and_perfect(files, profile);
    CorpusScore {
        threshold,
        raw_score,
        null_score,
        perfect_score,
        normalised_score: normalise(raw_score, null_score, perfect_score),
    }
}

/// The normalised NAB score of the corpus at `threshold` (see [`corpus_score`]).
pub fn normalised_score(files: &[NabFile<'_>], threshold: f64, profile: &CostProfile) -> f64 {
    corpus_score(files, threshold, profile).normalised_score
}

/// The threshold that maximises the corpus's summed raw score, found as NAB's sweeper does:
/// every distinct score of a row after probation is tried, from the highest down, plus one
/// just above them all that flags nothing. Of equal best scores the highest threshold wins
/// (NAB's stable sort keeps the first of its descending sweep). The returned score is
/// recomputed at that threshold with [`corpus_score`], so it carries no drift from the
/// incremental sums of the sweep.
///
/// # Panics
/// When a file's windows fail [`check_windows`].
pub fn optimise_threshold(files: &[NabFile<'_>], profile: &CostProfile) -> CorpusScore {
    struct Candidate {
        score: f64,
        file: usize,
        row: usize,
        role: RowRole,
    }
    let mut candidates = Vec::new();
    let mut window_offsets = Vec::with_capacity(files.len());
    let mut n_windows = 0;
    for (file_index, file) in files.iter().enumerate() {
        window_offsets.push(n_windows);
        n_windows += file.windows.len();
        let roles = row_roles(file.scores.len(), file.windows, profile);
        for (row, (&score, role)) in file.scores.iter().zip(roles).enumerate() {
            if !matches!(role, RowRole::Probation) && !score.is_nan() {
                candidates.push(Candidate {
                    score,
                    file: file_index,
                    row,
                    role,
                });
            }
        }
    }
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));

    let (null_score, _) = null_and_perfect(files, profile);
    // Per window of the corpus: (row, reward) of its earliest detection so far.
    let mut earliest: Vec<Option<(usize, f64)>> = vec![None; n_windows];
    let mut running = null_score;
    let mut best_threshold = candidates
        .first()
        .map_or(f64::INFINITY, |top| top.score.next_up());
    let mut best_score = running;
    for (index, candidate) in candidates.iter().enumerate() {
        match candidate.role {
            RowRole::Probation => {}
            RowRole::Outside { penalty } => running += penalty,
            RowRole::InWindow { window, reward } => {
                let slot = &mut earliest[window_offsets[candidate.file] + window];
                match *slot {
                    None => {
                        running += profile.fn_weight + reward;
                        *slot = Some((candidate.row, reward));
                    }
                    Some((row, previous)) if candidate.row < row => {
                        running += reward - previous;
                        *slot = Some((candidate.row, reward));
                    }
                    Some(_) => {}
                }
            }
        }
        // Only once every row with this score is in does the threshold's score exist.
        let last_of_tie = candidates
            .get(index + 1)
            .is_none_or(|next| next.score != candidate.score);
        if last_of_tie && running > best_score {
            best_score = running;
            best_threshold = candidate.score;
        }
    }
    corpus_score(files, best_threshold, profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD: CostProfile = CostProfile::standard();

    /// A 100-row file (15 probationary rows) whose only window covers rows 50..=59, flagged
    /// on `detections`.
    fn one_window_file(detections: &[usize]) -> (FileScore, Vec<f64>) {
        let mut scores = vec![0.0; 100];
        for &row in detections {
            scores[row] = 1.0;
        }
        score_file_by_row(&scores, &[(50, 59)], 0.5, &STANDARD)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn nab_profiles_match_the_published_cost_matrices() {
        let [standard, low_fp, low_fn] = CostProfile::all();
        assert_eq!(
            (standard.tp_weight, standard.fn_weight, standard.fp_weight),
            (1.0, 1.0, 0.11)
        );
        assert_eq!(
            (low_fp.name, low_fp.fp_weight),
            ("reward_low_FP_rate", 0.22)
        );
        assert_eq!((low_fn.name, low_fn.fn_weight), ("reward_low_FN_rate", 2.0));
    }

    #[test]
    fn nab_probation_is_fifteen_percent_capped_at_750_rows() {
        assert_eq!(probation_rows(4032), 604);
        assert_eq!(probation_rows(1624), 243);
        assert_eq!(probation_rows(5000), 750);
        assert_eq!(probation_rows(22695), 750);
        assert_eq!(probation_rows(6), 0);
    }

    #[test]
    fn nab_an_early_detection_earns_more_than_a_late_one() {
        let (first_row, _) = one_window_file(&[50]);
        assert!(close(first_row.raw_score, 1.0), "{first_row:?}");
        let (last_row, _) = one_window_file(&[59]);
        assert!(
            close(last_row.raw_score, 0.24824154977542992),
            "{last_row:?}"
        );
        // Only the earliest detection counts; every detected row is still tallied.
        let (two, by_row) = one_window_file(&[55, 52]);
        assert!(close(two.raw_score, 0.9771068409226045), "{two:?}");
        assert_eq!((two.tp, two.fn_, two.fp, two.tn), (2, 8, 0, 75));
        assert!(close(by_row[50], two.raw_score));
        assert_eq!(by_row.iter().filter(|&&v| v != 0.0).count(), 1);
    }

    #[test]
    fn nab_a_false_alarm_before_any_window_costs_the_full_weight() {
        let (score, by_row) = one_window_file(&[20, 50]);
        assert!(close(score.raw_score, 1.0 - 0.11), "{score:?}");
        assert_eq!((score.fp, score.tp), (1, 1));
        assert!(close(by_row[20], -0.11));
    }

    #[test]
    fn nab_a_false_alarm_right_after_a_window_costs_little() {
        let (score, by_row) = one_window_file(&[50, 60]);
        assert!(close(by_row[60], -0.029793183036839352), "{}", by_row[60]);
        assert!(close(score.raw_score, 1.0 - 0.029793183036839352));
        // The distance is counted in widths less one row (9 here); past 3 of them the cost
        // is the full weight, and at exactly 3 not quite.
        let (far, by_row) = one_window_file(&[50, 59 + 28]);
        assert!(close(by_row[87], -0.11) && close(far.raw_score, 0.89));
        let (_, by_row) = one_window_file(&[50, 59 + 27]);
        assert!(close(by_row[86], -0.10999993270151008), "{}", by_row[86]);
        let (_, by_row) = one_window_file(&[50, 59 + 26]);
        assert!(close(by_row[85], -0.10999988270488298), "{}", by_row[85]);
    }

    #[test]
    fn nab_a_missed_window_costs_the_miss_weight_on_its_first_row() {
        let (score, by_row) = one_window_file(&[]);
        assert_eq!(
            score,
            FileScore {
                raw_score: -1.0,
                tp: 0,
                tn: 75,
                fp: 0,
                fn_: 10
            }
        );
        assert!(close(by_row[50], -1.0));
        let low_fn = CostProfile::reward_low_fn();
        let scores = vec![0.0; 100];
        assert!(close(
            score_file(&scores, &[(50, 59)], 0.5, &low_fn).raw_score,
            -2.0
        ));
    }

    #[test]
    fn nab_probationary_rows_are_neither_detections_nor_tallied() {
        let mut scores = vec![0.0; 100];
        scores[3] = 1.0;
        // The first window lies inside probation, so it is neither rewarded nor missed.
        let score = score_file(&scores, &[(2, 5), (50, 59)], 0.5, &STANDARD);
        assert_eq!(
            score,
            FileScore {
                raw_score: -1.0,
                tp: 0,
                tn: 75,
                fp: 0,
                fn_: 10
            }
        );
        // A window straddling the probation's end is scored, with its full width.
        scores[16] = 1.0;
        let (score, by_row) = score_file_by_row(&scores, &[(12, 21)], 0.5, &STANDARD);
        assert_eq!((score.tp, score.fn_), (1, 6));
        let expected = scaled_sigmoid(-6.0 / 10.0) / scaled_sigmoid(-1.0);
        assert!(close(by_row[15], expected) && close(score.raw_score, expected));
    }

    #[test]
    fn nab_ties_with_the_threshold_are_detections() {
        let mut scores = vec![0.0; 100];
        scores[50] = 0.5;
        assert_eq!(score_file(&scores, &[(50, 59)], 0.5, &STANDARD).tp, 1);
        assert_eq!(
            score_file(&scores, &[(50, 59)], 0.5f64.next_up(), &STANDARD).tp,
            0
        );
        // A NaN score is never a detection, whatever the threshold.
        scores[51] = f64::NAN;
        let everything = score_file(&scores, &[(50, 59)], f64::NEG_INFINITY, &STANDARD);
        assert_eq!((everything.tp, everything.fn_, everything.fp), (9, 1, 75));
    }

    #[test]
    fn nab_null_and_perfect_detectors_score_0_and_100() {
        let windows = [(30, 39), (70, 79)];
        let nothing = vec![0.0; 100];
        let mut first_rows = nothing.clone();
        first_rows[30] = 1.0;
        first_rows[70] = 1.0;
        for profile in CostProfile::all() {
            let null = [NabFile {
                scores: &nothing,
                windows: &windows,
            }];
            assert!(close(normalised_score(&null, 0.5, &profile), 0.0));
            let perfect = [NabFile {
                scores: &first_rows,
                windows: &windows,
            }];
            assert!(close(normalised_score(&perfect, 0.5, &profile), 100.0));
        }
    }

    #[test]
    fn nab_the_optimiser_finds_the_best_of_every_threshold() {
        // Two files with a few score levels: the sweep must agree with scoring each level.
        let mut first = vec![0.1; 120];
        let mut second = vec![0.2; 80];
        for (row, score) in [(40, 0.9), (41, 0.7), (60, 0.8), (65, 0.9), (100, 0.7)] {
            first[row] = score;
        }
        for (row, score) in [(20, 0.95), (30, 0.7), (35, 0.6), (70, 0.8)] {
            second[row] = score;
        }
        let first_windows = [(60, 69)];
        let second_windows = [(30, 39), (60, 69)];
        let files = [
            NabFile {
                scores: &first,
                windows: &first_windows,
            },
            NabFile {
                scores: &second,
                windows: &second_windows,
            },
        ];
        for profile in CostProfile::all() {
            let best = optimise_threshold(&files, &profile);
            let mut levels: Vec<f64> = first.iter().chain(&second).copied().collect();
            levels.push(2.0);
            for level in levels {
                let at_level = corpus_score(&files, level, &profile);
                assert!(
                    at_level.raw_score <= best.raw_score + 1e-12,
                    "{profile:?} {level}"
                );
            }
            assert_eq!(best, corpus_score(&files, best.threshold, &profile));
        }
        // From 0.7 down every window is caught on its first row; 0.6 only adds a later row of
        // a caught window, a tie that goes to the higher threshold.
        let best = optimise_threshold(&files, &STANDARD);
        assert_eq!(best.threshold, 0.7);
    }

    #[test]
    fn nab_ties_between_thresholds_go_to_the_highest() {
        // Nothing to detect and nothing above the noise: flagging nothing is as good as any
        // threshold, and it is the highest.
        let scores = vec![0.3; 50];
        let files = [NabFile {
            scores: &scores,
            windows: &[],
        }];
        let best = optimise_threshold(&files, &STANDARD);
        assert!(best.threshold > 0.3 && best.raw_score == 0.0, "{best:?}");
        assert!(best.normalised_score.is_nan());
    }

    #[test]
    fn nab_windows_out_of_order_are_refused() {
        assert!(check_windows(&[(10, 20), (30, 40)], 41).is_ok());
        assert!(check_windows(&[(10, 20), (20, 40)], 50).is_err());
        assert!(check_windows(&[(10, 50)], 50).is_err());
        assert!(check_windows(&[(12, 11)], 50).is_err());
    }
}
