//! Per-column summaries of a table, for exploring a dataset before training on it: the
//! numbers pandas' `describe` gives, a histogram per numeric column and the most frequent
//! values of every column with few distinct values (which shows a label's balance).

use std::collections::HashMap;

use deviant_core::metrics::quantile;
use deviant_core::{ColumnKind, Schema};
use serde::{Deserialize, Serialize};

use crate::table::{ColumnData, Table};

/// Bins of each numeric column's histogram.
const HISTOGRAM_BINS: usize = 20;
/// Value counts are listed for columns with at most this many distinct values, and the
/// most frequent this many values of the others.
const MOST_FREQUENT: usize = 20;

/// count, mean, std (sample), min, quartiles, max of the present cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericSummary {
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub q25: f64,
    pub median: f64,
    pub q75: f64,
    pub max: f64,
    /// Equal-width bins from min to max: (low edge, high edge, count).
    pub histogram: Vec<(f64, f64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSummary {
    pub name: String,
    pub kind: ColumnKind,
    /// Present cells.
    pub count: u64,
    /// Missing cells (empty, NA, NaN).
    pub missing: u64,
    pub unique: u64,
    /// The most frequent values, most frequent first: (value, count).
    pub top: Vec<(String, u64)>,
    pub numeric: Option<NumericSummary>,
}

fn numeric_summary(values: &[f64]) -> Option<NumericSummary> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = if values.len() > 1 {
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let width = (max - min) / HISTOGRAM_BINS as f64;
    let mut counts = [0u64; HISTOGRAM_BINS];
    for &v in values {
        let bin = if width > 0.0 {
            (((v - min) / width) as usize).min(HISTOGRAM_BINS - 1)
        } else {
            0
        };
        counts[bin] += 1;
    }
    let bins = if width > 0.0 { HISTOGRAM_BINS } else { 1 };
    Some(NumericSummary {
        mean,
        std,
        min,
        q25: quantile(values, 0.25),
        median: quantile(values, 0.5),
        q75: quantile(values, 0.75),
        max,
        histogram: (0..bins)
            .map(|i| {
                let lo = min + width * i as f64;
                let hi = if i + 1 == bins { max } else { lo + width };
                (lo, hi, counts[i])
            })
            .collect(),
    })
}

fn most_frequent<'a>(values: impl Iterator<Item = &'a str>) -> (u64, Vec<(String, u64)>) {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let unique = counts.len() as u64;
    let mut top: Vec<(String, u64)> = counts
        .into_iter()
        .map(|(v, c)| (v.to_string(), c))
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(MOST_FREQUENT);
    (unique, top)
}

/// A whole table's summary: its row count and one summary per column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSummary {
    pub rows: usize,
    pub columns: Vec<ColumnSummary>,
}

/// One summary per feature column of `table` (read under `schema`).
pub fn summarize(schema: &Schema, table: &Table) -> Vec<ColumnSummary> {
    schema
        .features
        .iter()
        .zip(&table.columns)
        .map(|(spec, column)| match column {
            ColumnData::Numeric(cells) => {
                let present: Vec<f64> = cells.iter().copied().filter(|v| v.is_finite()).collect();
                let texts: Vec<String> = present.iter().map(|v| v.to_string()).collect();
                let (unique, top) = most_frequent(texts.iter().map(String::as_str));
                ColumnSummary {
                    name: spec.name.clone(),
                    kind: spec.kind,
                    count: present.len() as u64,
                    missing: (cells.len() - present.len()) as u64,
                    unique,
                    top,
                    numeric: numeric_summary(&present),
                }
            }
            ColumnData::Categorical(cells) => {
                let present = cells.iter().filter(|c| !c.trim().is_empty());
                let (unique, top) = most_frequent(present.clone().map(String::as_str));
                let count = present.count() as u64;
                ColumnSummary {
                    name: spec.name.clone(),
                    kind: spec.kind,
                    count,
                    missing: cells.len() as u64 - count,
                    unique,
                    top,
                    numeric: None,
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use deviant_core::ColumnSpec;

    #[test]
    fn describes_numeric_and_categorical_columns() {
        let schema = Schema {
            features: vec![
                ColumnSpec {
                    name: "x".into(),
                    kind: ColumnKind::Numeric,
                },
                ColumnSpec {
                    name: "proto".into(),
                    kind: ColumnKind::Categorical,
                },
            ],
            label: None,
            ignored: Vec::new(),
        };
        let table = Table {
            source: "t".into(),
            columns: vec![
                ColumnData::Numeric(vec![1.0, 2.0, 3.0, 4.0, f64::NAN]),
                ColumnData::Categorical(vec![
                    "tcp".into(),
                    "udp".into(),
                    "tcp".into(),
                    String::new(),
                    "tcp".into(),
                ]),
            ],
            labels: None,
            classes: None,
            lines: (2..7).collect(),
        };
        let s = summarize(&schema, &table);
        assert_eq!((s[0].count, s[0].missing, s[0].unique), (4, 1, 4));
        let n = s[0].numeric.as_ref().unwrap();
        assert_eq!((n.mean, n.min, n.median, n.max), (2.5, 1.0, 2.5, 4.0));
        assert!((n.std - 1.2909944).abs() < 1e-6, "sample std like pandas");
        assert_eq!(n.histogram.iter().map(|b| b.2).sum::<u64>(), 4);
        assert_eq!(n.histogram.last().unwrap().1, 4.0);
        assert_eq!((s[1].count, s[1].missing, s[1].unique), (4, 1, 2));
        assert_eq!(s[1].top[0], ("tcp".to_string(), 3));
        assert!(s[1].numeric.is_none());
    }
}
