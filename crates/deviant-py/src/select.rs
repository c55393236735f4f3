//! `deviant.select` and the fit runner that hands its candidate fits to Spark.

use std::time::Duration;

use deviant_core::{Error, FitContext};
use deviant_detectors::catalogue::Layout;
use deviant_engine::Splits;
use deviant_engine::select::{
    Attempt, CandidateFit, Corpus, FitResult, FitRunner, SearchRows, SelectObserver, SelectOptions,
    select_with,
};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde::Deserialize;

use crate::input::Input;
use crate::{PipelineOptions, PyModel, context, py_err, pythonize, value_err};

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
pub(crate) struct PySearchRows(SearchRows);

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
pub(crate) fn select_model(
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
