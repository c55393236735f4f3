//! Windowed models on streams. A seq2seq model reads windows of a series, but a stream brings
//! one point at a time: the last points of each series (by `--series-key`) are kept, and each
//! point that completes a window makes one row in the model's columns, step by step, whose
//! score is that point's. The first points of a series, fewer than a window, make none.

use std::collections::{HashMap, VecDeque};

use deviant_core::{ColumnKind, Error, Result, Schema};
use deviant_data::{Table, TableBuilder};
use serde_json::{Map, Value};

use crate::rows::{Parsed, Refused, RowKey, parse, value_text};
use crate::source::{Ack, Record, Source};

/// How points make windows.
#[derive(Debug, Clone)]
pub struct WindowOptions {
    /// The point's value columns, one channel each, in the order the model was trained on.
    pub values: Vec<String>,
    /// The column naming each point's series; without it, every point is of one series.
    pub series_key: Option<String>,
}

/// A completed window: its series and the row in the model's columns.
type Completed = (Option<String>, Map<String, Value>);

pub(crate) struct Windows {
    options: WindowOptions,
    /// Points per window: the model's features over the channels.
    length: usize,
    /// The model's columns, step by step and channel by channel.
    columns: Vec<String>,
    recent: HashMap<String, VecDeque<Vec<f64>>>,
}

impl Windows {
    /// Refuses a model whose columns are not a whole number of windows of numbers.
    pub(crate) fn new(options: &WindowOptions, schema: &Schema) -> Result<Self> {
        let channels = options.values.len();
        let features = schema.features.len();
        if channels == 0 || !features.is_multiple_of(channels) {
            return Err(Error::config(
                "windows",
                format!(
                    "the model reads {features} columns, not a whole number of steps of {channels} \
                     value column(s); name the values the model's windows were made of"
                ),
            ));
        }
        if let Some(c) = schema
            .features
            .iter()
            .find(|c| c.kind != ColumnKind::Numeric)
        {
            return Err(Error::config(
                "windows",
                format!(
                    "the model's column `{}` is not numeric: it does not read windows",
                    c.name
                ),
            ));
        }
        Ok(Self {
            options: options.clone(),
            length: features / channels,
            columns: schema.feature_names().map(String::from).collect(),
            recent: HashMap::new(),
        })
    }

    /// The windows this batch's points complete, as rows under `schema`.
    pub(crate) fn read(
        &mut self,
        batch: Vec<Record>,
        schema: &Schema,
        source: &dyn Source,
        id_column: Option<&String>,
    ) -> (Table, Vec<RowKey>, Vec<Refused>, Vec<Ack>) {
        let mut table = TableBuilder::new(schema, &source.describe());
        let (mut kept, mut refused, mut acks) = (Vec::new(), Vec::new(), Vec::new());
        for record in batch {
            let point = match parse(&record) {
                Ok(Parsed::Json(point)) => Ok(point),
                Ok(Parsed::Fields(fields)) => match source.header() {
                    Some(names) => Ok(names
                        .iter()
                        .cloned()
                        .zip(fields.iter().map(|f| Value::String(f.to_string())))
                        .collect()),
                    None => Err("a delimited row before any header".to_string()),
                },
                Ok(Parsed::Cells(..)) => unreachable!("`parse` reads no cells"),
                Err(reason) => Err(reason),
            };
            let id = point
                .as_ref()
                .ok()
                .and_then(|p| p.get(id_column?).map(value_text));
            let id = id.or(record.id);
            let completed = point.and_then(|point| self.push(&point));
            match completed {
                Ok(None) => {}
                Ok(Some((series, window))) => match table.parse_json(&window, record.line, &[]) {
                    Ok(cells) => {
                        table.push_cells(cells, record.line);
                        kept.push(RowKey {
                            id,
                            line: record.line,
                            series,
                        });
                    }
                    Err(e) => refused.push((id, record.line, e.to_string())),
                },
                Err(reason) => refused.push((id, record.line, reason)),
            }
            acks.push(record.ack);
        }
        (table.take(), kept, refused, acks)
    }

    /// Adds a point to its series; the window it completes, in the model's columns.
    fn push(
        &mut self,
        point: &Map<String, Value>,
    ) -> std::result::Result<Option<Completed>, String> {
        let mut values = Vec::with_capacity(self.options.values.len());
        for column in &self.options.values {
            let value = match point.get(column) {
                Some(Value::Number(n)) => n.as_f64(),
                Some(Value::String(text)) => text.trim().parse::<f64>().ok(),
                Some(_) => None,
                None => {
                    return Err(format!(
                        "column `{column}` is missing; every point needs it"
                    ));
                }
            };
            match value {
                Some(v) if v.is_finite() => values.push(v),
                _ => return Err(format!("column `{column}` is not a finite number")),
            }
        }
        let series = match &self.options.series_key {
            Some(key) => Some(
                point
                    .get(key)
                    .map(value_text)
                    .ok_or_else(|| format!("column `{key}` (the series key) is missing"))?,
            ),
            None => None,
        };
        let recent = self
            .recent
            .entry(series.clone().unwrap_or_default())
            .or_default();
        recent.push_back(values);
        if recent.len() > self.length {
            recent.pop_front();
        }
        if recent.len() < self.length {
            return Ok(None);
        }
        let window = self
            .columns
            .iter()
            .cloned()
            .zip(recent.iter().flatten().map(|&v| Value::from(v)))
            .collect();
        Ok(Some((series, window)))
    }
}
