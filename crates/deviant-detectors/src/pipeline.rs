//! The saved [`Model`]: schema + fitted preprocessor + detector + threshold, written as a
//! directory holding `manifest.json` and the detector's own files.

use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use deviant_core::detector::FitSummary;
use deviant_core::metrics::Evaluation;
use deviant_core::{
    Dataset, Detector, Error, FitContext, Result, Schema, Threshold, ThresholdRule,
};
use deviant_data::fsutil::write_dir_atomic;
use deviant_data::{Preprocessor, Table};
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::registry::AnyConfig;
use crate::{read_json, write_json};

/// The version of the model directory layout this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
const MANIFEST: &str = "manifest.json";

/// How the model was trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingInfo {
    pub rows: usize,
    pub seed: u64,
    pub fit_seconds: f64,
    /// Rows × features and a hash of the training matrix, to tell training sets apart.
    pub data_fingerprint: String,
    pub created_unix: u64,
    pub summary: FitSummary,
}

/// Everything about a model except the detector's weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    pub deviant_version: String,
    pub detector: AnyConfig,
    pub schema: Schema,
    pub preprocessor: Preprocessor,
    pub feature_names: Vec<String>,
    pub threshold: Threshold,
    pub training: TrainingInfo,
}

/// A trained pipeline that scores raw rows.
pub struct Model {
    pub manifest: Manifest,
    pub detector: Box<dyn Detector>,
}

/// What [`Model::train`] needs.
pub struct TrainSpec<'a> {
    pub detector: &'a AnyConfig,
    pub schema: Schema,
    pub preprocessor: Preprocessor,
    /// Preprocessed training rows.
    pub train: &'a Dataset,
    /// Preprocessed validation rows; supervised threshold rules need them labelled.
    pub validation: Option<&'a Dataset>,
    pub threshold: ThresholdRule,
}

/// Scores of one batch with their flags.
#[derive(Debug, Clone)]
pub struct Scored {
    pub scores: Array1<f32>,
    pub flags: Vec<bool>,
    pub threshold: f64,
}

impl Scored {
    /// Metrics of these scores against `labels` (1 = anomaly) at the batch's threshold.
    pub fn evaluate(&self, labels: &[u8]) -> Result<Evaluation> {
        let scores = self.scores.as_slice().expect("scores are contiguous");
        Evaluation::new(scores, labels, self.threshold)
    }
}

impl Model {
    /// Fits the detector on `spec.train`, then chooses the threshold on the validation rows
    /// if given (required for supervised rules), else on the training rows.
    pub fn train(spec: TrainSpec<'_>, cx: &FitContext) -> Result<Self> {
        spec.threshold.validate()?;
        if spec.threshold.needs_labels() && spec.validation.is_none_or(|v| v.labels.is_none()) {
            return Err(Error::config(
                "threshold",
                "best-F1 and best-accuracy thresholds need labelled validation data",
            ));
        }
        let started = Instant::now();
        let detector = spec.detector.fit(spec.train, cx)?;
        let fit_seconds = started.elapsed().as_secs_f64();
        let threshold = match (spec.threshold, spec.validation) {
            (ThresholdRule::TopPercent { .. } | ThresholdRule::Fixed { .. }, _) => {
                spec.threshold.choose(&[], None, "none")?
            }
            (rule, Some(valid)) => {
                let scores = detector.score(valid.view())?;
                let labels = valid
                    .labels
                    .as_ref()
                    .map(|l| l.as_slice().expect("contiguous"));
                rule.choose(scores.as_slice().expect("contiguous"), labels, "validation")?
            }
            (rule, None) => {
                let scores = detector.score(spec.train.view())?;
                rule.choose(scores.as_slice().expect("contiguous"), None, "train")?
            }
        };
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            deviant_version: env!("CARGO_PKG_VERSION").to_string(),
            detector: spec.detector.clone(),
            schema: spec.schema,
            feature_names: spec.preprocessor.output_names(),
            preprocessor: spec.preprocessor,
            threshold,
            training: TrainingInfo {
                rows: spec.train.n_rows(),
                seed: cx.seed,
                fit_seconds,
                data_fingerprint: fingerprint(spec.train),
                created_unix: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                summary: detector.fit_summary(),
            },
        };
        Ok(Self { manifest, detector })
    }

    /// Writes the model directory atomically: a crash leaves the old one or none.
    pub fn save(&self, dir: &Path) -> Result<()> {
        write_dir_atomic(dir, |tmp| {
            self.detector.save(tmp)?;
            write_json(&tmp.join(MANIFEST), &self.manifest)
        })
    }

    /// Reads a model directory, refusing another format version or a broken manifest.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST);
        if !path.is_file() {
            return Err(Error::format(
                dir.display(),
                "no manifest.json: this is not a deviant model directory",
            ));
        }
        let raw: serde_json::Value = read_json(&path)?;
        let found = raw.get("format_version").and_then(|v| v.as_u64());
        match found {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            Some(v) => {
                return Err(Error::Version {
                    path,
                    found: v as u32,
                    expected: FORMAT_VERSION,
                });
            }
            None => return Err(Error::format(path.display(), "`format_version` is missing")),
        }
        let manifest: Manifest = serde_json::from_value(raw)
            .map_err(|e| Error::format(path.display(), e.to_string()))?;
        let detector = manifest.detector.load(dir)?;
        let expected = manifest.preprocessor.n_outputs();
        if detector.n_features() != expected {
            return Err(Error::format(
                dir.display(),
                format!(
                    "the detector reads {} features but the preprocessor makes {expected}",
                    detector.n_features()
                ),
            ));
        }
        Ok(Self { manifest, detector })
    }

    /// Preprocesses raw rows exactly as at training time.
    pub fn prepare(&self, table: &Table) -> Result<Dataset> {
        self.manifest.preprocessor.dataset(table)
    }

    /// Per-feature contributions (the detector's `explain`) of the preprocessed rows at
    /// `rows`, in that order; `None` when the detector cannot explain its scores.
    pub fn explain_rows(&self, data: &Dataset, rows: &[usize]) -> Option<Result<Array2<f32>>> {
        let selected = data.x.select(Axis(0), rows);
        self.detector.explain(selected.view())
    }

    /// The `n` highest-scoring rows (indices into `scores`, highest first) with their
    /// per-feature contributions; empty when the detector cannot explain its scores.
    pub fn explain_top(
        &self,
        data: &Dataset,
        scores: &[f32],
        n: usize,
    ) -> Result<Vec<(usize, Vec<f32>)>> {
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        order.truncate(n);
        if order.is_empty() {
            return Ok(Vec::new());
        }
        let Some(contributions) = self.explain_rows(data, &order) else {
            return Ok(Vec::new());
        };
        let contributions = contributions?;
        Ok(order
            .into_iter()
            .zip(contributions.rows())
            .map(|(i, values)| (i, values.to_vec()))
            .collect())
    }

    /// Scores preprocessed rows and flags them with the model's threshold.
    pub fn score(&self, data: &Dataset) -> Result<Scored> {
        let scores = self.detector.score(data.view())?;
        let slice = scores.as_slice().expect("contiguous");
        let threshold = self.manifest.threshold.value_for(slice);
        let flags = self.manifest.threshold.flags(slice);
        Ok(Scored {
            scores,
            flags,
            threshold,
        })
    }
}

/// `rows x features:hash` of a matrix (FNV-1a over its bits).
fn fingerprint(data: &Dataset) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for v in data.x.iter() {
        for byte in v.to_bits().to_le_bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{}x{}:{hash:016x}", data.n_rows(), data.n_features())
}
