//! Rows appended to a [`Table`] one at a time under a schema, from delimited records or JSON
//! objects. A bad row is refused with its reason and leaves the rows before it as they were,
//! so a stream can report it and go on.

use deviant_core::{ColumnKind, Error, Result, Schema};
use serde_json::{Map, Value};

use super::json_row::{Keys, read_row};
use super::{ColumnData, Table, encoded_labels, parse_number};

/// Where a schema's columns are among a header's names.
#[derive(Debug, Clone)]
pub struct Header {
    pub(super) file: String,
    /// For each schema feature, its position among the names.
    pub(super) feature_positions: Vec<usize>,
    pub(super) label_position: Option<usize>,
    n_columns: usize,
}

impl Header {
    /// Checks `names` against `schema`: every feature present, nothing the schema does not
    /// know unless it is ignored (by the schema or `ignore`) or the label.
    pub fn new(file: &str, names: &[String], schema: &Schema, ignore: &[String]) -> Result<Self> {
        let position = |name: &str| names.iter().position(|n| n == name);
        let mut feature_positions = Vec::with_capacity(schema.features.len());
        for column in &schema.features {
            feature_positions.push(position(&column.name).ok_or_else(|| {
                Error::format(
                    file,
                    format!(
                        "column `{}` is missing; the model was trained on the columns: {}",
                        column.name,
                        schema.feature_names().collect::<Vec<_>>().join(", ")
                    ),
                )
            })?);
        }
        for name in names {
            let known = schema.feature_names().any(|f| f == name)
                || schema.ignored.contains(name)
                || ignore.contains(name)
                || schema.label.as_ref().is_some_and(|l| &l.column == name);
            if !known {
                return Err(Error::format(
                    file,
                    format!(
                        "unknown column `{name}`: the model was not trained on it; remove it \
                         from the file or pass --ignore {name}"
                    ),
                ));
            }
        }
        Ok(Self {
            file: file.into(),
            feature_positions,
            label_position: schema.label.as_ref().and_then(|l| position(&l.column)),
            n_columns: names.len(),
        })
    }

    /// Whether the header has the schema's label column.
    pub fn has_label(&self) -> bool {
        self.label_position.is_some()
    }
}

/// One row's cells read under a schema, not yet appended.
#[derive(Debug, Clone)]
pub struct JsonCells {
    cells: Vec<Cell>,
    class: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) enum Cell {
    Number(f64),
    Category(String),
}

/// A table being filled row by row.
#[derive(Debug, Clone)]
pub struct TableBuilder {
    schema: Schema,
    /// Each JSON key's place, for rows read straight from their text.
    keys: Keys,
    source: String,
    columns: Vec<ColumnData>,
    /// Each row's label value, where it has one.
    classes: Vec<Option<String>>,
    lines: Vec<u64>,
}

impl TableBuilder {
    pub fn new(schema: &Schema, source: &str) -> Self {
        let columns = schema
            .features
            .iter()
            .map(|c| match c.kind {
                ColumnKind::Numeric => ColumnData::Numeric(Vec::new()),
                ColumnKind::Categorical => ColumnData::Categorical(Vec::new()),
            })
            .collect();
        Self {
            keys: Keys::new(schema),
            schema: schema.clone(),
            source: source.into(),
            columns,
            classes: Vec::new(),
            lines: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Appends a delimited record read under `header`; `line` names it in errors.
    pub fn push_record(
        &mut self,
        header: &Header,
        record: &csv::StringRecord,
        line: u64,
    ) -> Result<()> {
        if record.len() != header.n_columns {
            return Err(Error::format(
                &header.file,
                format!(
                    "line {line} has {} fields but the header has {}; check the delimiter and \
                     quoting of that row",
                    record.len(),
                    header.n_columns
                ),
            ));
        }
        self.push_with(line, |builder| {
            for ((spec, &pos), column) in builder
                .schema
                .features
                .iter()
                .zip(&header.feature_positions)
                .zip(&mut builder.columns)
            {
                let cell = &record[pos];
                match column {
                    ColumnData::Numeric(values) => {
                        values.push(parse_number(cell).map_err(|()| Error::Cell {
                            file: header.file.clone(),
                            line,
                            column: spec.name.clone(),
                            reason: format!(
                                "cannot read `{cell}` as a number; if the column is \
                                 categorical, say so with --categorical {}",
                                spec.name
                            ),
                        })?);
                    }
                    ColumnData::Categorical(values) => values.push(cell.trim().to_string()),
                }
            }
            builder
                .classes
                .push(header.label_position.map(|p| record[p].trim().to_string()));
            Ok(())
        })
    }

    /// Appends a JSON object (`{"column": value, …}`): [`parse_json`](Self::parse_json)
    /// then [`push_cells`](Self::push_cells).
    pub fn push_json(
        &mut self,
        row: &Map<String, Value>,
        line: u64,
        pass_over: &[String],
    ) -> Result<()> {
        let cells = self.parse_json(row, line, pass_over)?;
        self.push_cells(cells, line);
        Ok(())
    }

    /// Reads a JSON object's cells under the schema without appending them, so rows can be
    /// read on many threads and appended in order: numbers (or numeric strings) in numeric
    /// columns, strings or numbers in categorical ones, `null` for a missing cell. Keys in
    /// `pass_over` and the schema's ignored columns are passed over; any other key the schema
    /// does not know is an error.
    pub fn parse_json(
        &self,
        row: &Map<String, Value>,
        line: u64,
        pass_over: &[String],
    ) -> Result<JsonCells> {
        let cell_error = |column: &str, reason: String| Error::Cell {
            file: self.source.clone(),
            line,
            column: column.into(),
            reason,
        };
        let mut cells = Vec::with_capacity(self.schema.features.len());
        for spec in &self.schema.features {
            let cell = row.get(&spec.name).ok_or_else(|| {
                cell_error(&spec.name, "missing; every row needs every feature".into())
            })?;
            cells.push(match spec.kind {
                ColumnKind::Numeric => Cell::Number(match cell {
                    Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                    Value::Null => f64::NAN,
                    Value::String(text) => parse_number(text).map_err(|()| {
                        cell_error(&spec.name, format!("`{text}` is not a number"))
                    })?,
                    other => {
                        return Err(cell_error(&spec.name, format!("{other} is not a number")));
                    }
                }),
                ColumnKind::Categorical => Cell::Category(match cell {
                    Value::String(text) => text.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => String::new(),
                    other => {
                        return Err(cell_error(&spec.name, format!("{other} is not a category")));
                    }
                }),
            });
        }
        let label = self.schema.label.as_ref().map(|l| l.column.as_str());
        let class = label.and_then(|l| row.get(l)).map(|v| match v {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        });
        // Every feature was found; any key beyond them, the label and the keys passed over
        // is one the schema does not know. Counting spares a search in the common case.
        let passed = pass_over
            .iter()
            .chain(&self.schema.ignored)
            .filter(|k| row.contains_key(k.as_str()))
            .count();
        if row.len() > cells.len() + usize::from(class.is_some()) + passed
            && let Some(key) = row.keys().find(|k| {
                !self.schema.feature_names().any(|f| f == k.as_str())
                    && label != Some(k.as_str())
                    && !self.schema.ignored.contains(k)
                    && !pass_over.contains(k)
            })
        {
            return Err(Error::format(
                &self.source,
                format!(
                    "row {line} has the unknown column `{key}`; the model reads {}",
                    self.schema.feature_names().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        Ok(JsonCells { cells, class })
    }

    /// [`parse_json`](Self::parse_json) from the object's text, without building a map of
    /// its keys. Beside the cells, the values of the keys in `pass_over`, in that order
    /// (read even when the row is refused, so it can still be named by them).
    pub fn parse_json_text(
        &self,
        text: &str,
        line: u64,
        pass_over: &[String],
    ) -> (Result<JsonCells>, Vec<Option<String>>) {
        let row = match read_row(text, &self.keys, self.schema.features.len(), pass_over) {
            Ok(row) => row,
            Err(reason) => {
                let error = Error::format(&self.source, format!("row {line}: {reason}"));
                return (Err(error), Vec::new());
            }
        };
        if let Some(key) = row.unknown {
            let error = Error::format(
                &self.source,
                format!(
                    "row {line} has the unknown column `{key}`; the model reads {}",
                    self.schema.feature_names().collect::<Vec<_>>().join(", ")
                ),
            );
            return (Err(error), row.passed);
        }
        let mut cells = Vec::with_capacity(row.cells.len());
        for (spec, cell) in self.schema.features.iter().zip(row.cells) {
            let reason = match cell {
                Some(Ok(cell)) => {
                    cells.push(cell);
                    continue;
                }
                Some(Err(reason)) => reason,
                None => "missing; every row needs every feature".into(),
            };
            let error = Error::Cell {
                file: self.source.clone(),
                line,
                column: spec.name.clone(),
                reason,
            };
            return (Err(error), row.passed);
        }
        let class = row.class;
        (Ok(JsonCells { cells, class }), row.passed)
    }

    /// Appends cells [`parse_json`](Self::parse_json) read under this builder's schema.
    pub fn push_cells(&mut self, row: JsonCells, line: u64) {
        for (cell, column) in row.cells.into_iter().zip(&mut self.columns) {
            match (cell, column) {
                (Cell::Number(v), ColumnData::Numeric(values)) => values.push(v),
                (Cell::Category(v), ColumnData::Categorical(values)) => values.push(v),
                _ => unreachable!("cells are read under the builder's schema"),
            }
        }
        self.classes.push(row.class);
        self.lines.push(line);
    }

    /// Runs `push`, which appends one cell to each column; on error every column is cut back
    /// to the rows before.
    fn push_with(&mut self, line: u64, push: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        let rows = self.lines.len();
        match push(self) {
            Ok(()) => {
                self.lines.push(line);
                Ok(())
            }
            Err(e) => {
                for column in &mut self.columns {
                    match column {
                        ColumnData::Numeric(v) => v.truncate(rows),
                        ColumnData::Categorical(v) => v.truncate(rows),
                    }
                }
                self.classes.truncate(rows);
                Err(e)
            }
        }
    }

    /// The rows so far as a table, leaving the builder empty. Labels are given when every
    /// row has the label column.
    pub fn take(&mut self) -> Table {
        let empty = Self::new(&self.schema, &self.source);
        let built = std::mem::replace(self, empty);
        let classes: Option<Vec<String>> = built.classes.into_iter().collect();
        let labels = encoded_labels(&self.schema, classes.as_deref());
        Table {
            source: built.source,
            columns: built.columns,
            labels,
            classes: classes.filter(|_| self.schema.label.is_some()),
            lines: built.lines,
        }
    }
}
