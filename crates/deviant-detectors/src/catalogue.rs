//! What the catalogue says of each kind besides its contract: a one-line summary, the input
//! layouts it accepts, how its cost grows, and the hyper-parameter ranges worth searching.
//! Each kind declares these beside its config (an [`Entry`] impl); the registry lists them.

use deviant_core::DetectorConfig;
use serde::Serialize;
use serde_json::Value;

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
}

/// The values one hyper-parameter may take in a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Domain {
    /// Whole numbers in `[low, high]`, drawn on a log scale when `log`.
    Int { low: i64, high: i64, log: bool },
    /// Reals in `[low, high]`, drawn on a log scale when `log`.
    Float { low: f64, high: f64, log: bool },
    /// One of these JSON values.
    Choice { values: Vec<Value> },
}

/// One searchable hyper-parameter: its dotted key, as `--set` takes it, and its domain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamRange {
    pub key: &'static str,
    #[serde(flatten)]
    pub domain: Domain,
}

impl ParamRange {
    pub fn int(key: &'static str, low: i64, high: i64, log: bool) -> Self {
        let domain = Domain::Int { low, high, log };
        Self { key, domain }
    }

    pub fn float(key: &'static str, low: f64, high: f64, log: bool) -> Self {
        let domain = Domain::Float { low, high, log };
        Self { key, domain }
    }

    pub fn choice(key: &'static str, values: impl IntoIterator<Item = Value>) -> Self {
        let values = values.into_iter().collect();
        Self {
            key,
            domain: Domain::Choice { values },
        }
    }
}

/// A kind's catalogue entry, declared beside its config.
pub trait Entry: DetectorConfig + Default {
    /// What it is and what its score means, in one line.
    const SUMMARY: &'static str;
    const LAYOUTS: &'static [Layout];
    const COST: Cost;

    /// The ranges a model search draws from; empty for kinds with nothing to tune.
    fn search_space() -> Vec<ParamRange>;
}

/// The ranges every deep kind shares: the step size and the length of training.
pub fn training_space() -> Vec<ParamRange> {
    vec![
        ParamRange::float("learning_rate", 1e-4, 1e-2, true),
        ParamRange::int("training.epochs", 10, 200, true),
    ]
}

/// Hidden-layer stacks to choose from, as JSON arrays.
pub fn stacks(key: &'static str, options: &[&[usize]]) -> ParamRange {
    ParamRange::choice(key, options.iter().map(|o| Value::from(o.to_vec())))
}

/// Named options to choose from, as JSON strings.
pub fn names(key: &'static str, options: &[&str]) -> ParamRange {
    ParamRange::choice(key, options.iter().map(|&o| Value::from(o)))
}
