//! `deviant._native`: the engine behind the Python package. The Python side (`python/deviant`)
//! turns numpy arrays, pandas frames and paths into the frames this module reads, and keeps
//! scikit-learn's conventions; everything that trains, scores or reads a file happens here,
//! with the GIL released.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use deviant_core::detector::EpochRecord;
use deviant_core::{
    Cause, ColumnKind, ColumnSpec, Dataset, Error, FitContext, Progress, Schema, Scoring,
    ThresholdRule,
};
use deviant_data::table::ColumnData;
use deviant_data::{
    PreprocessOptions, ReadOptions, Scaling, SchemaOptions, Table, TableReader, infer_schema,
};
use deviant_detectors::AnyConfig;
use deviant_detectors::catalogue::Layout;
use deviant_engine::select::{
    Attempt, CandidateFit, Corpus, FitResult, FitRunner, SearchRows, SelectObserver, SelectOptions,
    select_with,
};
use deviant_engine::{FitTable, Model, Splits, Trial, run_trial};
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use serde::Deserialize;

create_exception!(
    _native,
    ModelVersionError,
    PyValueError,
    "A model directory written by another format version of deviant."
);

/// An engine error as the Python exception a caller can act on: bad input or parameters
/// are `ValueError` with the CLI's message, another model format `ModelVersionError`, the
/// file system `OSError`, a spent budget `TimeoutError`.
fn py_err(error: Error) -> PyErr {
    let text = error.to_string();
    match error.cause() {
        Cause::Input | Cause::Config | Cause::Format => PyValueError::new_err(text),
        Cause::Version => ModelVersionError::new_err(text),
        Cause::Io => PyOSError::new_err(text),
        Cause::Budget => PyTimeoutError::new_err(text),
        Cause::Diverged | Cause::Cancelled | Cause::Internal => PyRuntimeError::new_err(text),
    }
}

fn value_err(text: impl Into<String>) -> PyErr {
    PyValueError::new_err(text.into())
}

/// The options `fit` and `select` share, as the Python side sends them (JSON).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineOptions {
    threshold: Option<String>,
    #[serde(default = "standard")]
    scaling: String,
    #[serde(default)]
    impute: bool,
    #[serde(default = "default_seed")]
    seed: u64,
}

fn standard() -> String {
    "standard".into()
}

fn default_seed() -> u64 {
    42
}

impl PipelineOptions {
    fn parse(json: &str) -> PyResult<Self> {
        serde_json::from_str(json).map_err(|e| value_err(format!("options: {e}")))
    }

    fn preprocess(&self) -> PyResult<PreprocessOptions> {
        let scaling = match self.scaling.as_str() {
            "standard" => Scaling::Standard,
            "minmax" | "min-max" => Scaling::MinMax,
            "none" => Scaling::None,
            other => {
                return Err(value_err(format!(
                    "scaling `{other}` is not one of standard, minmax, none"
                )));
            }
        };
        Ok(PreprocessOptions {
            scaling,
            impute: self.impute,
        })
    }

    fn threshold(&self) -> PyResult<Option<ThresholdRule>> {
        self.threshold
            .as_deref()
            .map(|rule| rule.parse().map_err(py_err))
            .transpose()
    }
}

/// How to read a file given by path: the CLI's reading and schema flags.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileOptions {
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
    fn table(&self, path: &str) -> deviant_core::Result<(Schema, Table)> {
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
struct Frame {
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

/// Progress reported to a Python callable `callback(event, payload)`: `("begin", {"phase",
/// "total"})`, `("advance", {"n"})`, `("message", {"text"})`, `("finish", {})` and
/// `("epoch", {"epoch", "train", "validation"})`. A callback that raises is dropped from
/// then on, and the work goes on.
struct PyProgress {
    callback: Py<PyAny>,
    broken: std::sync::atomic::AtomicBool,
}

impl PyProgress {
    fn send(&self, event: &str, payload: serde_json::Value) {
        use std::sync::atomic::Ordering;
        if self.broken.load(Ordering::Relaxed) {
            return;
        }
        Python::attach(|py| {
            let payload = match pythonize(py, &payload) {
                Ok(p) => p,
                Err(_) => return,
            };
            if let Err(e) = self.callback.call1(py, (event, payload)) {
                e.print(py);
                self.broken.store(true, Ordering::Relaxed);
            }
        });
    }
}

impl Progress for PyProgress {
    fn begin(&self, phase: &str, total: u64) {
        self.send("begin", serde_json::json!({"phase": phase, "total": total}));
    }
    fn advance(&self, n: u64) {
        self.send("advance", serde_json::json!({ "n": n }));
    }
    fn message(&self, text: &str) {
        self.send("message", serde_json::json!({ "text": text }));
    }
    fn finish(&self) {
        self.send("finish", serde_json::json!({}));
    }
    fn epoch(&self, record: &EpochRecord) {
        self.send(
            "epoch",
            serde_json::to_value(record).unwrap_or(serde_json::Value::Null),
        );
    }
}

/// A JSON value as Python objects, through Python's own `json` module.
fn pythonize<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?
        .call_method1("loads", (value.to_string(),))
}

fn context(seed: u64, progress: Option<Py<PyAny>>) -> FitContext {
    let cx = FitContext::new(seed);
    match progress {
        Some(callback) => cx.with_progress(Arc::new(PyProgress {
            callback,
            broken: Default::default(),
        })),
        None => cx,
    }
}

/// Scores as float32 bytes, read on the Python side with `numpy.frombuffer`.
fn score_bytes<'py>(py: Python<'py>, scores: &[f32]) -> Bound<'py, PyBytes> {
    let bytes: Vec<u8> = scores.iter().flat_map(|s| s.to_le_bytes()).collect();
    PyBytes::new(py, &bytes)
}

/// A trained model: the same directory `deviant fit` writes, held in memory.
#[pyclass(module = "deviant._native", name = "Model", frozen)]
struct PyModel {
    model: RwLock<Model>,
}

impl PyModel {
    fn wrap(model: Model) -> Self {
        Self {
            model: RwLock::new(model),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Model> {
        self.model.read().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl PyModel {
    /// Trains `kind` with `params` (JSON) on a frame (see `Frame`) or, given a path, on the
    /// file as `deviant fit` reads it; `options` (JSON) holds the threshold rule, scaling,
    /// imputation and seed, `file_options` the reading flags for a path. Returns the model
    /// and, when training scored exactly the given rows, their scores (float32 bytes).
    #[staticmethod]
    #[pyo3(signature = (kind, params, data, options, file_options=None, progress=None))]
    fn fit<'py>(
        py: Python<'py>,
        kind: &str,
        params: &str,
        data: &Bound<'_, PyAny>,
        options: &str,
        file_options: Option<&str>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<(Self, Option<Bound<'py, PyBytes>>)> {
        let params: serde_json::Value =
            serde_json::from_str(params).map_err(|e| value_err(format!("params: {e}")))?;
        let config = AnyConfig::from_params(kind, &params).map_err(py_err)?;
        let options = PipelineOptions::parse(options)?;
        let input = Input::from_py(data, file_options)?;
        let preprocess = options.preprocess()?;
        let rule = options.threshold()?;
        let cx = context(options.seed, progress);
        // Arrays follow PyOD's convention (a detector fits every row it is given; labels
        // are for the learners that need them), files the CLI's (a detector fits the rows
        // the label column calls normal), so a file trains the same model both ways.
        let keep_anomalies = matches!(input, Input::Frame(_));
        let model = py.detach(|| {
            let (schema, table) = input.table(None)?;
            let splits = FitTable {
                schema,
                preprocess,
                threshold_rule: rule,
                keep_anomalies,
                learns_labels: config.needs_labels(),
            }
            .splits(table, None);
            let trial = Trial {
                config: &config,
                seed: options.seed,
                budget: None,
            };
            run_trial(&splits, &trial, &cx).map(|outcome| outcome.model)
        });
        let mut model = model.map_err(py_err)?;
        // The fitted rows are the given rows, in order, only when a detector kept every row.
        let scores = match keep_anomalies && !config.needs_labels() {
            true => model.fit_scores.take(),
            false => None,
        };
        let scores = scores.map(|s| score_bytes(py, &s));
        Ok((Self::wrap(model), scores))
    }

    /// Reads a model directory written by `deviant fit`, `select`, the server or `save`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let model = py.detach(|| Model::load(&path)).map_err(py_err)?;
        Ok(Self::wrap(model))
    }

    /// Writes the model directory atomically (the old one stays until the new one is whole).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.read().save(&path)).map_err(py_err)
    }

    /// Raw scores of the rows (higher = more anomalous) as float32 bytes, and whether each
    /// is flagged, as bytes of 0/1; a per-batch rule (top:P) flags within these rows.
    fn score<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        file_options: Option<&str>,
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        let input = Input::from_py(data, file_options)?;
        let scored = py
            .detach(|| {
                let model = self.read();
                model.score(&prepared(&model, input)?, Scoring::Batch)
            })
            .map_err(py_err)?;
        let flags: Vec<u8> = scored.flags.iter().map(|&f| u8::from(f)).collect();
        Ok((score_bytes(py, &scored.scores), PyBytes::new(py, &flags)))
    }

    /// Per-feature contributions of each row to its score, as float32 bytes of a
    /// rows × features matrix (the preprocessed features, `feature_names`); `None` when the
    /// kind cannot explain its scores.
    fn explain<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let input = Input::from_py(data, None)?;
        let contributions = py
            .detach(|| {
                let model = self.read();
                let data = prepared(&model, input)?;
                let rows: Vec<usize> = (0..data.n_rows()).collect();
                model.explain_rows(&data, &rows).transpose()
            })
            .map_err(py_err)?;
        Ok(contributions.map(|c| {
            let values: Vec<f32> = c.iter().copied().collect();
            score_bytes(py, &values)
        }))
    }

    /// Learns from more rows in place; false when the kind does not learn online.
    fn partial_fit(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        let input = Input::from_py(data, None)?;
        py.detach(|| {
            let mut model = self.model.write().unwrap_or_else(|e| e.into_inner());
            let data = prepared(&model, input)?;
            model
                .detector
                .partial_fit(data.x.view())
                .transpose()
                .map(|o| o.is_some())
        })
        .map_err(py_err)
    }

    /// The manifest as JSON: detector, schema, preprocessor, threshold, training.
    #[getter]
    fn manifest(&self) -> PyResult<String> {
        serde_json::to_string(&self.read().manifest)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// The rule that chose the threshold, as `--threshold` takes it (`contamination:0.1`).
    #[getter]
    fn threshold_rule(&self) -> String {
        self.read().manifest.threshold.rule().to_string()
    }

    /// The threshold scores are flagged above, `None` for a per-batch rule.
    #[getter]
    fn threshold(&self) -> Option<f64> {
        self.read().manifest.threshold.fixed()
    }
}

/// `input`'s rows as `model` reads them: under its schema, through its preprocessor.
fn prepared(model: &Model, input: Input) -> deviant_core::Result<Dataset> {
    let (_, table) = input.table(Some(&model.manifest.schema))?;
    model.prepare(&table)
}

/// Rows from Python: a frame, or a file path read as the CLI reads it.
enum Input {
    Frame(Frame),
    File { path: String, options: FileOptions },
}

impl Input {
    fn from_py(data: &Bound<'_, PyAny>, file_options: Option<&str>) -> PyResult<Self> {
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
    fn table(self, schema: Option<&Schema>) -> deviant_core::Result<(Schema, Table)> {
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

/// The selection's options as the Python side sends them (JSON).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SelectionOptions {
    budget_seconds: f64,
    #[serde(default = "default_members")]
    members: usize,
    #[serde(default = "yes")]
    deep: bool,
    #[serde(default = "default_share")]
    labelled_share: f64,
    #[serde(default)]
    layout: Option<String>,
}

fn default_members() -> usize {
    5
}

fn yes() -> bool {
    true
}

fn default_share() -> f64 {
    0.2
}

/// Hands each finished attempt to a Python callable as a dict.
struct AttemptCallback(Option<Py<PyAny>>);

impl SelectObserver for AttemptCallback {
    fn attempted(&mut self, attempt: &Attempt) {
        let Some(callback) = &self.0 else { return };
        let Ok(value) = serde_json::to_value(attempt) else {
            return;
        };
        Python::attach(|py| {
            if let Err(e) = pythonize(py, &value).and_then(|v| callback.call1(py, (v,))) {
                e.print(py);
            }
        });
    }
}

/// Hands each round of candidate fits to a Python callable `run(rows: bytes, fits: str) ->
/// str`: the rows as [`SearchRows::to_bytes`] writes them (the same object every round, so
/// the callable can ship them once) and the fits as a JSON list; it returns the results as a
/// JSON list in the same order.
struct PyFitRunner {
    run: Py<PyAny>,
    rows: Option<Py<PyBytes>>,
    /// What the callable raised, raised again once the selection has stopped.
    raised: Option<PyErr>,
}

impl FitRunner for PyFitRunner {
    fn run(
        &mut self,
        rows: &SearchRows,
        fits: &[CandidateFit],
    ) -> deviant_core::Result<Vec<FitResult>> {
        let fits = serde_json::to_string(fits).map_err(Error::internal)?;
        if self.rows.is_none() {
            let bytes = rows.to_bytes()?;
            self.rows = Some(Python::attach(|py| PyBytes::new(py, &bytes).unbind()));
        }
        let answer = Python::attach(|py| {
            let bytes = self.rows.as_ref().map(|b| b.clone_ref(py));
            self.run
                .call1(py, (bytes, fits))
                .and_then(|r| r.extract::<String>(py))
        });
        match answer {
            Ok(json) => serde_json::from_str(&json)
                .map_err(|e| Error::internal(format!("the fit runner's results: {e}"))),
            Err(e) => {
                self.raised = Some(e);
                Err(Error::internal("the fit runner raised an exception"))
            }
        }
    }
}

/// A selection's rows where its fits run (a Spark executor): built once from the bytes the
/// fit runner was handed, then fitting one candidate per call.
#[pyclass(module = "deviant._native", name = "SearchRows", frozen)]
struct PySearchRows(SearchRows);

#[pymethods]
impl PySearchRows {
    #[new]
    fn new(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let rows = py.detach(|| SearchRows::from_bytes(data)).map_err(py_err)?;
        Ok(Self(rows))
    }

    /// Fits one candidate (a JSON object of the runner's list) and returns its result as
    /// JSON.
    fn fit(&self, py: Python<'_>, fit: &str) -> PyResult<String> {
        let fit: CandidateFit =
            serde_json::from_str(fit).map_err(|e| value_err(format!("candidate fit: {e}")))?;
        let (_, result) = py
            .detach(|| self.0.fit(&fit, &FitContext::new(fit.seed)))
            .map_err(py_err)?;
        serde_json::to_string(&result).map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }
}

/// `deviant select` on a frame or a file: returns the chosen model and the leaderboard
/// (JSON, as `select --json` writes it). With `runner`, each round of candidate fits is
/// handed to it (see [`PyFitRunner`]).
#[pyfunction]
#[pyo3(signature = (data, options, selection, file_options=None, on_attempt=None, progress=None, runner=None))]
#[allow(clippy::too_many_arguments)]
fn select_model(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    options: &str,
    selection: &str,
    file_options: Option<&str>,
    on_attempt: Option<Py<PyAny>>,
    progress: Option<Py<PyAny>>,
    runner: Option<Py<PyAny>>,
) -> PyResult<(PyModel, String)> {
    let options = PipelineOptions::parse(options)?;
    let selection: SelectionOptions =
        serde_json::from_str(selection).map_err(|e| value_err(format!("select options: {e}")))?;
    if !(selection.budget_seconds.is_finite() && selection.budget_seconds > 0.0) {
        return Err(value_err("budget must be a positive duration"));
    }
    let layout = match selection.layout.as_deref() {
        None | Some("tabular") => Layout::Tabular,
        Some("windows") => Layout::Windows,
        Some("images") => Layout::Images,
        Some(other) => {
            return Err(value_err(format!(
                "layout `{other}` is not one of tabular, windows, images"
            )));
        }
    };
    let input = Input::from_py(data, file_options)?;
    let preprocess = options.preprocess()?;
    let rule = options.threshold()?;
    let cx = context(options.seed, progress);
    let mut observer = AttemptCallback(on_attempt);
    let mut runner = runner.map(|run| PyFitRunner {
        run,
        rows: None,
        raised: None,
    });
    let result = py.detach(|| {
        let (schema, table) = input.table(None)?;
        let splits = Splits::for_selection(
            schema,
            preprocess,
            rule,
            table,
            selection.labelled_share,
            options.seed,
        )?;
        let select_options = SelectOptions {
            layout,
            budget: Duration::from_secs_f64(selection.budget_seconds),
            members: selection.members,
            deep: selection.deep,
            corpus: Some(Corpus::shipped()?),
            leave_out: Vec::new(),
        };
        let runner = runner.as_mut().map(|r| -> &mut dyn FitRunner { r });
        let chosen = select_with(&splits, &select_options, &cx, &mut observer, runner)?;
        let board = chosen.leaderboard_json().to_string();
        Ok::<_, Error>((chosen.model, board))
    });
    if let Some(raised) = runner.and_then(|r| r.raised) {
        return Err(raised);
    }
    let (model, board) = result.map_err(py_err)?;
    Ok((PyModel::wrap(model), board))
}

/// The catalogue as JSON: every kind with its summary, layouts, cost, whether it needs
/// labels or learns online, its search space and its default parameters.
#[pyfunction]
fn catalogue() -> PyResult<String> {
    serde_json::to_string(&AnyConfig::kinds()).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Puts this process's deep models on `device` (`cpu`, `wgpu`, `wgpu:N` or `auto`) before
/// its first fit; naming the device already in use again is accepted.
/// Returns the device as chosen, with the adapter's name for a GPU.
#[pyfunction]
fn use_device(device: &str) -> PyResult<String> {
    let choice = device.parse().map_err(py_err)?;
    let runtime = deviant_detectors::runtime::use_device(choice).map_err(py_err)?;
    Ok(runtime.describe().to_string())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyModel>()?;
    m.add_class::<PySearchRows>()?;
    m.add_function(wrap_pyfunction!(catalogue, m)?)?;
    m.add_function(wrap_pyfunction!(select_model, m)?)?;
    m.add_function(wrap_pyfunction!(use_device, m)?)?;
    m.add("ModelVersionError", m.py().get_type::<ModelVersionError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
