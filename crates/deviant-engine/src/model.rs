//! The saved [`Model`]: schema + fitted preprocessor + detector + threshold, written as a
//! directory holding `manifest.json` and the detector's own files.

use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use deviant_core::detector::FitSummary;
use deviant_core::fsutil::write_dir_atomic;
use deviant_core::metrics::Evaluation;
use deviant_core::{
    Dataset, Detector, Error, FitContext, Result, Schema, Scoring, Threshold, ThresholdRule,
};
use deviant_data::{PreprocessOptions, Preprocessor, Table};
use deviant_detectors::AnyConfig;
use deviant_detectors::{read_json, write_json};
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

/// The version of the model directory layout this build writes.
pub const FORMAT_VERSION: u32 = 2;
/// The versions this build reads. Version 1 stored the threshold as `{value, rule,
/// chosen_on}` with a null value for per-batch rules.
const READS_VERSIONS: [u32; 2] = [1, 2];
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
    /// The scores of the rows it was fitted on, when training chose the threshold on them;
    /// kept so that a caller who wants them (PyOD's `decision_scores_`) need not score the
    /// rows again. Not saved.
    pub fit_scores: Option<Vec<f32>>,
}

/// What [`Model::train`] needs: raw rows in the roles a protocol gives them.
pub struct TrainSpec<'a> {
    pub config: &'a AnyConfig,
    pub schema: &'a Schema,
    pub preprocess: PreprocessOptions,
    /// The rows the preprocessor and the detector are fitted on.
    pub fit: &'a Table,
    /// The rows that choose the threshold; supervised rules need them labelled. Without
    /// them the threshold is chosen on the fitted rows' scores.
    pub threshold_rows: Option<&'a Table>,
    pub threshold: ThresholdRule,
}

/// Scores of one batch with their flags.
#[derive(Debug, Clone)]
pub struct Scored {
    pub scores: Vec<f32>,
    pub flags: Vec<bool>,
    pub threshold: f64,
}

impl Scored {
    /// Metrics of these scores against `labels` (1 = anomaly) at the batch's threshold.
    pub fn evaluate(&self, labels: &[u8]) -> Result<Evaluation> {
        Evaluation::new(&self.scores, labels, self.threshold)
    }
}

impl TrainSpec<'_> {
    /// Refuses a threshold rule that cannot be applied, before any work.
    fn check(&self) -> Result<()> {
        self.threshold.validate()?;
        let labelled = self.threshold_rows.is_some_and(|t| t.labels.is_some());
        if self.threshold.needs_labels() && !labelled {
            return Err(Error::config(
                "threshold",
                "best-F1 and best-accuracy thresholds need labelled validation data",
            ));
        }
        Ok(())
    }
}

impl Model {
    /// Fits the preprocessor and the detector on `spec.fit`, then chooses the threshold on
    /// `spec.threshold_rows` if given (required for supervised rules), else on the fitted rows.
    pub fn train(spec: TrainSpec<'_>, cx: &FitContext) -> Result<Self> {
        spec.check()?;
        let preprocessor = Preprocessor::fit(spec.schema, spec.fit, spec.preprocess)?;
        let train = preprocessor.dataset(spec.fit)?;
        let started = Instant::now();
        let detector = spec.config.fit(&train, cx)?;
        let fit_seconds = started.elapsed().as_secs_f64();
        Self::assemble(spec, preprocessor, &train, detector, fit_seconds, cx.seed)
    }

    /// A model of a detector already fitted on `train`, the rows `preprocessor` made of
    /// `spec.fit` (model selection fits its candidates itself): chooses the threshold as
    /// [`train`](Self::train) does and writes the manifest.
    pub fn assemble(
        spec: TrainSpec<'_>,
        preprocessor: Preprocessor,
        train: &Dataset,
        detector: Box<dyn Detector>,
        fit_seconds: f64,
        seed: u64,
    ) -> Result<Self> {
        spec.check()?;
        let mut fit_scores = None;
        let threshold = match (spec.threshold, spec.threshold_rows) {
            (ThresholdRule::TopPercent { .. } | ThresholdRule::Fixed { .. }, _) => {
                spec.threshold.choose(&[], None, "none")?
            }
            (rule, Some(rows)) => {
                let valid = preprocessor.dataset(rows)?;
                let scores = score_vec(detector.as_ref(), &valid)?;
                rule.choose(&scores, rows.labels.as_deref(), "validation")?
            }
            (rule, None) => {
                let scores = fit_scores.insert(score_vec(detector.as_ref(), train)?);
                rule.choose(scores, None, "train")?
            }
        };
        let model = Self::of(
            spec.config,
            spec.schema,
            preprocessor,
            threshold,
            train,
            detector,
            fit_seconds,
            seed,
        );
        Ok(Self {
            fit_scores,
            ..model
        })
    }

    /// A fresh detector of `manifest`'s kind fitted on `rows`, rows its preprocessor made (a
    /// stream's recent normal rows), under the same schema and preprocessor. The
    /// threshold rule is kept when it needs no labels; a rule chosen on labels gives way to
    /// `unlabelled`, since the new rows have none.
    pub fn refit(
        manifest: &Manifest,
        rows: &Dataset,
        unlabelled: ThresholdRule,
        cx: &FitContext,
    ) -> Result<Self> {
        let started = Instant::now();
        let config = &manifest.detector;
        let detector = config.fit(rows, cx)?;
        let fit_seconds = started.elapsed().as_secs_f64();
        let rule = match manifest.threshold.rule() {
            rule if rule.needs_labels() => unlabelled,
            rule => rule,
        };
        let threshold = match rule {
            ThresholdRule::TopPercent { .. } | ThresholdRule::Fixed { .. } => {
                rule.choose(&[], None, "none")?
            }
            rule => rule.choose(&score_vec(detector.as_ref(), rows)?, None, "stream refit")?,
        };
        Ok(Self::of(
            config,
            &manifest.schema,
            manifest.preprocessor.clone(),
            threshold,
            rows,
            detector,
            fit_seconds,
            cx.seed,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn of(
        config: &AnyConfig,
        schema: &Schema,
        preprocessor: Preprocessor,
        threshold: Threshold,
        train: &Dataset,
        detector: Box<dyn Detector>,
        fit_seconds: f64,
        seed: u64,
    ) -> Self {
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            deviant_version: env!("CARGO_PKG_VERSION").to_string(),
            detector: config.clone(),
            schema: schema.clone(),
            feature_names: preprocessor.output_names(),
            preprocessor,
            threshold,
            training: TrainingInfo {
                rows: train.n_rows(),
                seed,
                fit_seconds,
                data_fingerprint: fingerprint(train),
                created_unix: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                summary: detector.fit_summary(),
            },
        };
        Self {
            manifest,
            detector,
            fit_scores: None,
        }
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
            let what = match crate::classes::ClassModels::is_in(dir) {
                true => {
                    "it holds one model per class (fit --per-class): eval reads it whole; \
                     score or serve one of its class-N folders"
                }
                false => "no manifest.json: this is not a deviant model directory",
            };
            return Err(Error::format(dir.display(), what));
        }
        let raw: serde_json::Value = read_json(&path)?;
        let found = raw.get("format_version").and_then(|v| v.as_u64());
        match found {
            Some(v) if READS_VERSIONS.iter().any(|&r| u64::from(r) == v) => {}
            Some(v) => {
                return Err(Error::Version {
                    path,
                    found: u32::try_from(v).unwrap_or(u32::MAX),
                    expected: FORMAT_VERSION,
                });
            }
            None => return Err(Error::format(path.display(), "`format_version` is missing")),
        }
        let mut manifest: Manifest = serde_json::from_value(raw)
            .map_err(|e| Error::format(path.display(), e.to_string()))?;
        // Read old, write new: a saved copy of a loaded model has the current layout.
        manifest.format_version = FORMAT_VERSION;
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
        Ok(Self {
            manifest,
            detector,
            fit_scores: None,
        })
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

    /// The detector's scores of preprocessed rows, without flags.
    pub fn score_raw(&self, data: &Dataset) -> Result<Vec<f32>> {
        score_vec(self.detector.as_ref(), data)
    }

    /// Flags `scores` with the model's threshold; a per-batch rule refuses
    /// [`Scoring::Rows`] (single rows and streams) with the fix in the message.
    pub fn flag(&self, scores: Vec<f32>, scoring: Scoring) -> Result<Scored> {
        let (flags, threshold) = self.manifest.threshold.flags(&scores, scoring)?;
        Ok(Scored {
            scores,
            flags,
            threshold,
        })
    }

    /// Scores preprocessed rows and flags them: [`score_raw`](Self::score_raw) then
    /// [`flag`](Self::flag).
    pub fn score(&self, data: &Dataset, scoring: Scoring) -> Result<Scored> {
        // Refuse before the work, not after it.
        self.manifest.threshold.value_for(&[], scoring)?;
        self.flag(self.score_raw(data)?, scoring)
    }
}

/// A detector's scores as a plain vector (any memory layout it returns).
fn score_vec(detector: &dyn Detector, data: &Dataset) -> Result<Vec<f32>> {
    let scores: Array1<f32> = detector.score(data.view())?;
    Ok(scores.iter().copied().collect())
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
