//! A batch of records read into rows under the model's schema: JSON objects, delimited
//! fields or broker pairs, each row kept with its key or refused with its reason.

use deviant_core::{Dataset, Result};
use deviant_data::{JsonCells, Table, TableBuilder};
use ndarray::Axis;
use rayon::prelude::*;
use serde_json::{Map, Value};

use crate::{Ack, Payload, Record, Streamer};

/// A row parsed from its payload, before it joins a table.
pub(crate) enum Parsed {
    Json(Map<String, Value>),
    /// A JSON row's cells read under the schema (or why not), and its `--id` value.
    Cells(std::result::Result<JsonCells, String>, Option<String>),
    Fields(csv::StringRecord),
}

/// A scored row's id (where it has one), line and, for windows, its series.
#[derive(Debug, Clone)]
pub(crate) struct RowKey {
    pub(crate) id: Option<String>,
    pub(crate) line: u64,
    pub(crate) series: Option<String>,
}

/// A refused row: its id, line and the reason.
pub(crate) type Refused = (Option<String>, u64, String);

impl Streamer {
    /// The batch's rows under the model's schema: those kept (with their keys), those
    /// refused, and every record's acknowledgement.
    pub(crate) fn read_rows(
        &self,
        batch: Vec<Record>,
    ) -> (Table, Vec<RowKey>, Vec<Refused>, Vec<Ack>) {
        let id_column = self.options.id_column.clone();
        let pass_over: Vec<String> = id_column.iter().cloned().collect();
        let mut table = TableBuilder::new(&self.model.manifest.schema, &self.source.describe());
        // JSON rows are read and checked on every core; appending them is then cheap.
        let parsed: Vec<std::result::Result<Parsed, String>> = batch
            .par_iter()
            .with_min_len(256)
            .map(|record| match record.payload.json_text() {
                Some(text) => Ok(json_cells(&table, text, record.line, &pass_over)),
                None => match parse(record)? {
                    Parsed::Json(row) => {
                        let id = id_column.as_ref().and_then(|c| row.get(c)).map(value_text);
                        let cells = table
                            .parse_json(&row, record.line, &pass_over)
                            .map_err(|e| e.to_string());
                        Ok(Parsed::Cells(cells, id))
                    }
                    other => Ok(other),
                },
            })
            .collect();
        let mut kept: Vec<RowKey> = Vec::with_capacity(batch.len());
        let mut refused = Vec::new();
        let mut acks = Vec::with_capacity(batch.len());
        for (record, parsed) in batch.into_iter().zip(parsed) {
            acks.push(record.ack);
            let line = record.line;
            let mut id = record.id;
            let pushed = match parsed {
                Err(reason) => Err(reason),
                Ok(Parsed::Cells(cells, column_id)) => {
                    // A column named by --id wins over the broker's own id.
                    id = column_id.or(id);
                    cells.map(|cells| table.push_cells(cells, line))
                }
                Ok(Parsed::Json(_)) => unreachable!("JSON rows are read into cells above"),
                Ok(Parsed::Fields(fields)) => match &self.header {
                    None => Err("a delimited row before any header".to_string()),
                    Some(header) => {
                        if let (Some(column), Some(names)) = (&id_column, self.source.header())
                            && let Some(at) = names.iter().position(|n| n == column)
                        {
                            id = fields.get(at).map(str::to_string).or(id);
                        }
                        table
                            .push_record(header, &fields, line)
                            .map_err(|e| e.to_string())
                    }
                },
            };
            match pushed {
                Ok(()) => kept.push(RowKey {
                    id,
                    line,
                    series: None,
                }),
                Err(error) => refused.push((id, line, error)),
            }
        }
        (table.take(), kept, refused, acks)
    }

    /// The model's input rows for `table`, leaving out (into `refused`) rows the
    /// preprocessor refuses or turns into values that are not finite.
    pub(crate) fn prepare(
        &self,
        table: &Table,
        kept: Vec<RowKey>,
        refused: &mut Vec<Refused>,
    ) -> Result<(Option<Dataset>, Vec<RowKey>)> {
        if kept.is_empty() {
            return Ok((None, kept));
        }
        let whole = self.model.prepare(table);
        let (data, good): (Dataset, Vec<usize>) = match whole {
            Ok(data) => {
                let good = (0..data.n_rows()).collect();
                (data, good)
            }
            // Find the rows at fault one by one; the others are scored.
            Err(_) => {
                let mut good = Vec::new();
                for (i, key) in kept.iter().enumerate() {
                    match self.model.prepare(&table.select(&[i])) {
                        Ok(_) => good.push(i),
                        Err(e) => refused.push((key.id.clone(), key.line, e.to_string())),
                    }
                }
                if good.is_empty() {
                    return Ok((None, Vec::new()));
                }
                (self.model.prepare(&table.select(&good))?, good)
            }
        };
        let names = &self.model.manifest.feature_names;
        let mut finite = Vec::with_capacity(good.len());
        for (r, row) in data.x.axis_iter(Axis(0)).enumerate() {
            match row.iter().position(|v| !v.is_finite()) {
                None => finite.push(r),
                Some(j) => {
                    let key = &kept[good[r]];
                    refused.push((
                        key.id.clone(),
                        key.line,
                        format!(
                            "feature `{}` is {} after preprocessing; send finite numbers \
                             (a missing cell is written as null or left empty)",
                            names[j], row[j]
                        ),
                    ));
                }
            }
        }
        let kept: Vec<_> = finite.iter().map(|&r| kept[good[r]].clone()).collect();
        if finite.is_empty() {
            return Ok((None, kept));
        }
        let data = match finite.len() == data.n_rows() {
            true => data,
            false => Dataset::new(data.x.select(Axis(0), &finite), None),
        };
        Ok((Some(data), kept))
    }
}

/// A JSON line's cells, read straight from its text, and its `--id` value (the first key
/// passed over).
fn json_cells(table: &TableBuilder, text: &str, line: u64, pass_over: &[String]) -> Parsed {
    let (cells, passed) = table.parse_json_text(text, line, pass_over);
    Parsed::Cells(
        cells.map_err(|e| e.to_string()),
        passed.into_iter().flatten().next(),
    )
}

/// A record's payload as a JSON object or delimited fields; the reason when it is neither.
pub(crate) fn parse(record: &Record) -> std::result::Result<Parsed, String> {
    if let Some(text) = record.payload.json_text() {
        return match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(row)) => Ok(Parsed::Json(row)),
            Ok(other) => Err(format!(
                "expected a JSON object of column values, found {}",
                kind_of(&other)
            )),
            Err(e) => Err(format!("not JSON: {e}")),
        };
    }
    match &record.payload {
        Payload::Delimited { text, delimiter } => {
            crate::source::split_delimited(text, *delimiter).map(Parsed::Fields)
        }
        Payload::Pairs(pairs) => Ok(Parsed::Json(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )),
        Payload::Json(_) => unreachable!("JSON text is read above"),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
