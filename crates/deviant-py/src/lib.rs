//! `deviant._native`: the engine behind the Python package. The Python side (`python/deviant`)
//! turns numpy arrays, pandas frames and paths into the frames this module reads, and keeps
//! scikit-learn's conventions; everything that trains, scores or reads a file happens here,
//! with the GIL released.

mod input;
mod select;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use deviant_core::detector::EpochRecord;
use deviant_core::{Cause, Error, FitContext, Progress, Scoring, ThresholdRule};
use deviant_data::{PreprocessOptions, Scaling};
use deviant_detectors::AnyConfig;
use deviant_engine::{FitTable, Model, Trial, run_trial};
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde::Deserialize;

use input::{Input, prepared};
use select::{PySearchRows, select_model};

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
