//! What the catalogue says of each kind besides its contract: a one-line summary, the input
//! layouts it accepts, how its cost grows, and the hyper-parameter ranges worth searching.
//! Each kind declares these beside its config (an [`Entry`] impl); the registry lists them.

use deviant_core::DetectorConfig;
use serde::Serialize;

/// The shapes of rows a detector is built for. Windows and images reach every detector as
/// flat rows, so a tabular detector accepts them too; sequence and image models need them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// One row per record, columns as features.
    Tabular,
    /// Sliding windows of a series, one window per row.
    Windows,
    /// Images, one row of channels × height × width pixels.
    Images,
}

/// Every layout: what a detector of flat rows accepts.
pub const ANY_LAYOUT: &[Layout] = &[Layout::Tabular, Layout::Windows, Layout::Images];

/// How a kind's fit time grows, so a search can try cheap kinds broadly and costly ones
/// only when promising.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cost {
    /// A pass or a few over the rows: moments, histograms, trees on subsamples.
    Linear,
    /// Neighbour searches or kernel solves: grows faster than the rows.
    Superlinear,
    /// A network trained for epochs.
    Deep,
    /// The sum of its members' (an ensemble); never a search candidate itself.
    Members,
}

/// The values one hyper-parameter may take in a search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Domain {
    /// Whole numbers in `[low, high]`, drawn on a log scale when `log`.
    Int { low: i64, high: i64, log: bool },
    /// Reals in `[low, high]`, drawn on a log scale when `log`.
    Float { low: f64, high: f64, log: bool },
    /// One of these named options.
    #[serde(rename = "choice")]
    Names { values: &'static [&'static str] },
    /// One of these stacks of hidden-layer widths.
    #[serde(rename = "choice")]
    Stacks { values: &'static [&'static [usize]] },
}

/// One searchable hyper-parameter: its dotted key, as `--set` takes it, and its domain.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParamRange {
    pub key: &'static str,
    #[serde(flatten)]
    pub domain: Domain,
}

const fn range(key: &'static str, domain: Domain) -> ParamRange {
    ParamRange { key, domain }
}

pub const fn int(key: &'static str, low: i64, high: i64) -> ParamRange {
    range(
        key,
        Domain::Int {
            low,
            high,
            log: false,
        },
    )
}

pub const fn log_int(key: &'static str, low: i64, high: i64) -> ParamRange {
    range(
        key,
        Domain::Int {
            low,
            high,
            log: true,
        },
    )
}

pub const fn float(key: &'static str, low: f64, high: f64) -> ParamRange {
    range(
        key,
        Domain::Float {
            low,
            high,
            log: false,
        },
    )
}

pub const fn log_float(key: &'static str, low: f64, high: f64) -> ParamRange {
    range(
        key,
        Domain::Float {
            low,
            high,
            log: true,
        },
    )
}

pub const fn names(key: &'static str, values: &'static [&'static str]) -> ParamRange {
    range(key, Domain::Names { values })
}

pub const fn stacks(key: &'static str, values: &'static [&'static [usize]]) -> ParamRange {
    range(key, Domain::Stacks { values })
}

/// What a kind says of itself besides its search space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct About {
    /// What it is and what its score means, in one line.
    pub summary: &'static str,
    pub layouts: &'static [Layout],
    pub cost: Cost,
    /// A supervised learner: it trains on labelled rows of both classes, and its score is
    /// the anomaly class's log-odds or probability. Detectors ignore labels.
    pub needs_labels: bool,
    /// An online detector: it keeps learning from the rows it scores (`partial_fit`).
    pub online: bool,
}

impl About {
    pub const fn linear(summary: &'static str) -> Self {
        Self::new(summary, Cost::Linear)
    }

    pub const fn superlinear(summary: &'static str) -> Self {
        Self::new(summary, Cost::Superlinear)
    }

    pub const fn deep(summary: &'static str) -> Self {
        Self::new(summary, Cost::Deep)
    }

    pub const fn new(summary: &'static str, cost: Cost) -> Self {
        Self {
            summary,
            layouts: ANY_LAYOUT,
            cost,
            needs_labels: false,
            online: false,
        }
    }

    /// Learning from the rows it scores, one batch at a time (an online detector).
    pub const fn online(self) -> Self {
        Self {
            online: true,
            ..self
        }
    }

    /// Training on labelled rows of both classes (a supervised learner).
    pub const fn supervised(self) -> Self {
        Self {
            needs_labels: true,
            ..self
        }
    }

    /// Accepting only `layouts` (sequence and image models).
    pub const fn only(self, layouts: &'static [Layout]) -> Self {
        Self { layouts, ..self }
    }
}

/// A kind's catalogue entry, declared beside its config.
pub trait Entry: DetectorConfig + Default {
    const ABOUT: About;
    /// The kind's own ranges for a model search; deep kinds also get [`TRAINING_SEARCH`].
    const SEARCH: &'static [ParamRange];

    /// Every range a model search draws from.
    fn search_space() -> Vec<ParamRange> {
        let shared: &[ParamRange] = match Self::ABOUT.cost {
            Cost::Deep => TRAINING_SEARCH,
            Cost::Linear | Cost::Superlinear | Cost::Members => &[],
        };
        [Self::SEARCH, shared].concat()
    }
}

/// The ranges every deep kind shares: the step size and the length of training.
pub const TRAINING_SEARCH: &[ParamRange] = &[
    log_float("learning_rate", 1e-4, 1e-2),
    log_int("training.epochs", 10, 200),
];

impl ParamRange {
    /// The value at position `u` in `[0, 1]` of the domain (on the log scale where the
    /// range is logarithmic), as JSON for a `--set` of `self.key`: searches draw `u`.
    pub fn at(&self, u: f64) -> serde_json::Value {
        let u = u.clamp(0.0, 1.0);
        let between = |low: f64, high: f64, log: bool| match log {
            true => (low.ln() + u * (high.ln() - low.ln())).exp(),
            false => low + u * (high - low),
        };
        let pick = |len: usize| ((u * len as f64) as usize).min(len - 1);
        match self.domain {
            Domain::Int { low, high, log } => {
                serde_json::json!(
                    (between(low as f64, high as f64, log).round() as i64).clamp(low, high)
                )
            }
            Domain::Float { low, high, log } => {
                serde_json::json!(three_digits(between(low, high, log)).clamp(low, high))
            }
            Domain::Names { values } => serde_json::json!(values[pick(values.len())]),
            Domain::Stacks { values } => serde_json::json!(values[pick(values.len())]),
        }
    }
}

/// `v` rounded to three significant digits, so drawn settings read as a person would write
/// them.
fn three_digits(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(2 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}
