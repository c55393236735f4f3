//! Rows from Python: frames built from numpy arrays and pandas columns, or a path read as
//! the CLI reads it.

use std::path::PathBuf;

use deviant_core::{ColumnKind, ColumnSpec, Dataset, Error, Schema};
use deviant_data::table::ColumnData;
use deviant_data::{ReadOptions, SchemaOptions, Table, TableReader, infer_schema};
use deviant_engine::Model;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use serde::Deserialize;

use crate::value_err;

/// How to read a file given by path: the CLI's reading and schema flags.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileOptions {
    label: Option<String>,
    #[serde(default)]
    normal: Vec<String>,
    #[serde(default)]
    categorical: Vec<String>,
    #[serde(default)]
    numeric: Vec<String>,
    #[serde(default)]
    ignore: Vec<String>,
    delimiter: Option<char>,
    names: Option<Vec<String>>,
}

impl FileOptions {
    fn read(&self) -> deviant_core::Result<ReadOptions> {
        let delimiter = match self.delimiter {
            Some(c) if c.is_ascii() => Some(c as u8),
            Some(c) => {
                return Err(Error::config(
                    "delimiter",
                    format!("`{c}` is not one ASCII character"),
                ));
            }
            None => None,
        };
        Ok(ReadOptions {
            delimiter,
            names: self.names.clone(),
            ignore: self.ignore.clone(),
            ..ReadOptions::default()
        })
    }

    fn schema(&self) -> SchemaOptions {
        let normal = match self.normal.is_empty() {
            true => vec!["0".to_string()],
            false => self.normal.clone(),
        };
        SchemaOptions {
            categorical: self.categorical.clone(),
            numeric: self.numeric.clone(),
            label: self
                .label
                .as_ref()
                .map(|column| deviant_core::schema::LabelSpec {
                    column: column.clone(),
                    normal_values: normal,
                }),
            sample_rows: 0,
        }
    }

    /// The whole file at `path` read as the CLI reads it, with the schema inferred.
    pub(crate) fn table(&self, path: &str) -> deviant_core::Result<(Schema, Table)> {
        let path = PathBuf::from(path);
        let read = self.read()?;
        let schema = infer_schema(&path, &read, &self.schema())?;
        let table = TableReader::open(&path, &read, &schema)?.read_all()?;
        Ok((schema, table))
    }
}

/// One input column as the Python side hands it over, copied out of Python's objects so
/// the work can run without the GIL.
enum Column {
    Numeric(Vec<f64>),
    Categorical(Vec<String>),
}

/// Rows from Python: named columns, or a matrix whose columns are named or positional;
/// labels (1 = anomaly) when given.
pub(crate) struct Frame {
    names: Option<Vec<String>>,
    columns: Vec<Column>,
    labels: Option<Vec<u8>>,
    source: String,
    rows: usize,
}

/// The values of a C-contiguous numpy array of float64 or float32 as columns: a 1-D array
/// is one column, a 2-D array's columns are its columns. Read in place through the array's
/// `__array_interface__` (the Python side makes the array contiguous without copying one
/// that already is; the buffer protocol is not in the limited API of Python 3.10 that the
/// wheel targets), in one pass over its rows.
fn columns_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<f64>>> {
    let interface = obj
        .getattr("__array_interface__")
        .map_err(|_| value_err("numeric data must be a numpy array"))?;
    let field = |key: &str| interface.get_item(key);
    let (address, _read_only): (usize, bool) = field("data")?.extract()?;
    let shape: Vec<usize> = field("shape")?.extract()?;
    let typestr: String = field("typestr")?.extract()?;
    if !field("strides")?.is_none() {
        return Err(value_err("numeric data must be a C-contiguous array"));
    }
    let (rows, cols) = match shape[..] {
        [rows] => (rows, 1),
        [rows, cols] => (rows, cols),
        _ => {
            return Err(value_err(format!(
                "expected a 1-D or 2-D array, got {} dimensions",
                shape.len()
            )));
        }
    };
    fn split<T: Copy + Into<f64>>(values: &[T], rows: usize, cols: usize) -> Vec<Vec<f64>> {
        let mut columns: Vec<Vec<f64>> = (0..cols).map(|_| Vec::with_capacity(rows)).collect();
        for row in values.chunks_exact(cols.max(1)) {
            for (column, &v) in columns.iter_mut().zip(row) {
                column.push(v.into());
            }
        }
        columns
    }
    let n = rows * cols;
    if n == 0 {
        return Ok(vec![Vec::new(); cols]);
    }
    // SAFETY: numpy's array interface promises `n` contiguous items of `typestr` at `address`
    // (strides None means C-contiguous), and `obj`, borrowed for this call with the GIL held,
    // keeps the array alive while they are copied out.
    match typestr.as_str() {
        "<f8" => Ok(split(
            unsafe { std::slice::from_raw_parts(address as *const f64, n) },
            rows,
            cols,
        )),
        "<f4" => Ok(split(
            unsafe { std::slice::from_raw_parts(address as *const f32, n) },
            rows,
            cols,
        )),
        other => Err(value_err(format!(
            "numeric data must be float64 or float32, not `{other}`"
        ))),
    }
}

fn bytes_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    Ok(obj.cast::<PyBytes>()?.as_bytes().to_vec())
}

impl Frame {
    /// `{"source": str, "names": [str] | None, "matrix": 2-D array}` or `{"source", "names",
    /// "columns": [1-D float array | list of str]}`, with optional `"labels"`: bytes of 0/1.
    fn from_py(frame: &Bound<'_, PyDict>) -> PyResult<Self> {
        let item = |key: &str| frame.get_item(key);
        let source: String = match item("source")? {
            Some(s) => s.extract()?,
            None => "array".into(),
        };
        let names: Option<Vec<String>> = match item("names")? {
            Some(n) if !n.is_none() => Some(n.extract()?),
            _ => None,
        };
        let columns = if let Some(matrix) = item("matrix")? {
            columns_of(&matrix)?
                .into_iter()
                .map(Column::Numeric)
                .collect()
        } else {
            let list =
                item("columns")?.ok_or_else(|| value_err("a frame needs `matrix` or `columns`"))?;
            let list = list.cast::<PyList>()?;
            let mut columns = Vec::with_capacity(list.len());
            for column in list.iter() {
                if let Ok(cells) = column.extract::<Vec<Option<String>>>() {
                    let cells = cells
                        .into_iter()
                        .map(|c| c.map_or(String::new(), |c| c.trim().to_string()))
                        .collect();
                    columns.push(Column::Categorical(cells));
                } else {
                    let values = columns_of(&column)?.into_iter().next().unwrap_or_default();
                    columns.push(Column::Numeric(values));
                }
            }
            columns
        };
        let rows = match columns.first() {
            Some(Column::Numeric(v)) => v.len(),
            Some(Column::Categorical(v)) => v.len(),
            None => match item("rows")? {
                Some(n) => n.extract()?,
                None => 0,
            },
        };
        let lengths_differ = columns.iter().any(|c| match c {
            Column::Numeric(v) => v.len() != rows,
            Column::Categorical(v) => v.len() != rows,
        });
        if lengths_differ {
            return Err(value_err("the columns of a frame must have one length"));
        }
        if names.as_ref().is_some_and(|n| n.len() != columns.len()) {
            return Err(value_err("a frame needs one name per column"));
        }
        let labels = match item("labels")? {
            Some(l) if !l.is_none() => Some(bytes_of(&l)?),
            _ => None,
        };
        if let Some(labels) = &labels
            && labels.len() != rows
        {
            return Err(value_err(format!(
                "y has {} labels but X has {rows} rows",
                labels.len()
            )));
        }
        if let Some(row) = labels.iter().flatten().position(|&l| l > UNLABELLED) {
            return Err(value_err(format!(
                "label {row} is neither 0, 1 nor unlabelled"
            )));
        }
        Ok(Self {
            names,
            columns,
            labels,
            source,
            rows,
        })
    }

    /// The schema of a frame fitted on: its names (or `x0, x1, …`), each column's kind as
    /// sent.
    fn schema(&self) -> Schema {
        let names = self
            .names
            .clone()
            .unwrap_or_else(|| (0..self.columns.len()).map(|i| format!("x{i}")).collect());
        Schema {
            features: names
                .into_iter()
                .zip(&self.columns)
                .map(|(name, column)| ColumnSpec {
                    name,
                    kind: match column {
                        Column::Numeric(_) => ColumnKind::Numeric,
                        Column::Categorical(_) => ColumnKind::Categorical,
                    },
                })
                .collect(),
            label: None,
            ignored: Vec::new(),
        }
    }

    /// The frame's rows under `schema`: columns matched by name when the frame has names,
    /// else by position; a missing, unknown or wrongly typed column is an error naming it.
    fn table(self, schema: &Schema) -> deviant_core::Result<Table> {
        let expected = schema.features.len();
        let order: Vec<usize> = match &self.names {
            None => {
                if self.columns.len() != expected {
                    return Err(Error::FeatureCount {
                        expected,
                        found: self.columns.len(),
                        context: format!(
                            "{} (columns in order: {})",
                            self.source,
                            names_of(schema)
                        ),
                    });
                }
                (0..expected).collect()
            }
            Some(names) => {
                let unknown: Vec<&str> = names
                    .iter()
                    .filter(|n| !schema.features.iter().any(|f| &f.name == *n))
                    .map(String::as_str)
                    .collect();
                if !unknown.is_empty() {
                    return Err(Error::input(
                        &self.source,
                        format!(
                            "unknown column(s) {}: the model reads {}; drop the others",
                            unknown.join(", "),
                            names_of(schema)
                        ),
                    ));
                }
                schema
                    .features
                    .iter()
                    .map(|f| {
                        names.iter().position(|n| n == &f.name).ok_or_else(|| {
                            Error::input(
                                &self.source,
                                format!(
                                    "column `{}` is missing; the model reads {}",
                                    f.name,
                                    names_of(schema)
                                ),
                            )
                        })
                    })
                    .collect::<deviant_core::Result<_>>()?
            }
        };
        let mut taken: Vec<Option<Column>> = self.columns.into_iter().map(Some).collect();
        let mut columns = Vec::with_capacity(expected);
        for (spec, &at) in schema.features.iter().zip(&order) {
            let column = taken[at].take().ok_or_else(|| {
                Error::input(
                    &self.source,
                    format!("column `{}` is read twice", spec.name),
                )
            })?;
            columns.push(match (spec.kind, column) {
                (ColumnKind::Numeric, Column::Numeric(v)) => ColumnData::Numeric(v),
                (ColumnKind::Categorical, Column::Categorical(v)) => ColumnData::Categorical(v),
                (ColumnKind::Categorical, Column::Numeric(v)) => {
                    ColumnData::Categorical(v.iter().map(|x| x.to_string()).collect())
                }
                (ColumnKind::Numeric, Column::Categorical(_)) => {
                    return Err(Error::input(
                        &self.source,
                        format!(
                            "column `{}` holds text, but the model reads it as numbers",
                            spec.name
                        ),
                    ));
                }
            });
        }
        // UNLABELLED rows get an empty class, as an empty label cell of a file does.
        let class = |l: &u8| match *l {
            UNLABELLED => String::new(),
            l => l.to_string(),
        };
        Ok(Table {
            source: self.source,
            columns,
            classes: self.labels.as_ref().map(|l| l.iter().map(class).collect()),
            labels: self
                .labels
                .map(|l| l.into_iter().map(|l| u8::from(l == 1)).collect()),
            lines: (1..=self.rows as u64).collect(),
        })
    }
}

/// A label byte the Python side sends for a row without a label (NaN in `y`; `select` only).
const UNLABELLED: u8 = 2;

fn names_of(schema: &Schema) -> String {
    let names: Vec<&str> = schema.features.iter().map(|f| f.name.as_str()).collect();
    names.join(", ")
}

/// `input`'s rows as `model` reads them: under its schema, through its preprocessor.
pub(crate) fn prepared(model: &Model, input: Input) -> deviant_core::Result<Dataset> {
    let (_, table) = input.table(Some(&model.manifest.schema))?;
    model.prepare(&table)
}

/// Rows from Python: a frame, or a file path read as the CLI reads it.
pub(crate) enum Input {
    Frame(Frame),
    File { path: String, options: FileOptions },
}

impl Input {
    pub(crate) fn from_py(data: &Bound<'_, PyAny>, file_options: Option<&str>) -> PyResult<Self> {
        if let Ok(frame) = data.cast::<PyDict>() {
            return Ok(Input::Frame(Frame::from_py(frame)?));
        }
        let path: PathBuf = data
            .extract()
            .map_err(|_| value_err("expected an array, a DataFrame or a path"))?;
        let options = match file_options {
            Some(json) => {
                serde_json::from_str(json).map_err(|e| value_err(format!("file options: {e}")))?
            }
            None => FileOptions::default(),
        };
        Ok(Input::File {
            path: path.display().to_string(),
            options,
        })
    }

    /// The rows under `schema` (a fitted model's), or under the schema they bring.
    pub(crate) fn table(self, schema: Option<&Schema>) -> deviant_core::Result<(Schema, Table)> {
        match (self, schema) {
            (Input::Frame(frame), Some(schema)) => {
                let table = frame.table(schema)?;
                Ok((schema.clone(), table))
            }
            (Input::Frame(frame), None) => {
                let schema = frame.schema();
                let table = frame.table(&schema)?;
                Ok((schema, table))
            }
            (Input::File { path, options }, Some(schema)) => {
                let read = options.read()?;
                let table = TableReader::open(&PathBuf::from(&path), &read, schema)?.read_all()?;
                Ok((schema.clone(), table))
            }
            (Input::File { path, options }, None) => options.table(&path),
        }
    }
}
