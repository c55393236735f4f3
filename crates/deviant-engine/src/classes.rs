//! Multi-class labels (attack names, attack categories): one supervised learner per value of
//! the label column, each trained "this value against the rest" (one-vs-rest), so a row is
//! given the value whose learner scores it highest, and precision, recall and F1 are
//! measured per value. The binary models stay ordinary models; their set is saved as one
//! directory with a `classes.json` naming the values.

use std::path::Path;

use deviant_core::fsutil::write_dir_atomic;
use deviant_core::{Error, FitContext, Result};
use deviant_data::Table;
use deviant_detectors::{read_json, write_json};
use serde::{Deserialize, Serialize};

use crate::model::{Model, TrainSpec};

/// The version of `classes.json`.
pub const CLASSES_FORMAT_VERSION: u32 = 1;
const CLASSES_FILE: &str = "classes.json";

#[derive(Serialize, Deserialize)]
struct ClassesManifest {
    format_version: u32,
    classes: Vec<String>,
}

/// One model per value of the label column, in `classes` order.
pub struct ClassModels {
    pub classes: Vec<String>,
    pub models: Vec<Model>,
}

/// Precision, recall and F1 of one value, treating the prediction as that value or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    pub class: String,
    /// Rows of this value among those measured.
    pub support: usize,
    pub predicted: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// The rows' label values, refused with the remedy when the table has none.
fn classes_of(table: &Table) -> Result<&[String]> {
    table.classes.as_deref().ok_or_else(|| {
        Error::config(
            "label",
            format!(
                "{} has no label column to learn classes from; name it with --label COLUMN",
                table.source
            ),
        )
    })
}

/// `table` labelled 1 where its label value is `class`, 0 elsewhere.
fn one_against_rest(table: &Table, class: &str) -> Result<Table> {
    let labels = classes_of(table)?
        .iter()
        .map(|c| u8::from(c == class))
        .collect();
    Ok(Table {
        labels: Some(labels),
        ..table.clone()
    })
}

impl ClassModels {
    /// Trains `spec.config` (a supervised learner) once per value of `spec.fit`'s label
    /// column; each model's threshold is chosen like a binary model's, on
    /// `spec.threshold_rows` relabelled the same way.
    pub fn train(spec: TrainSpec<'_>, cx: &FitContext) -> Result<Self> {
        if !spec.config.needs_labels() {
            return Err(Error::config(
                "detector",
                format!(
                    "{} is an unsupervised detector; one model per class needs a supervised \
                     learner such as random_forest or gbt",
                    spec.config.kind()
                ),
            ));
        }
        let mut classes: Vec<String> = classes_of(spec.fit)?.to_vec();
        classes.sort();
        classes.dedup();
        if classes.len() < 3 {
            return Err(Error::config(
                "label",
                format!(
                    "the label column has {} values; one model per class is for three or more \
                     (two are one binary model: train without --per-class)",
                    classes.len()
                ),
            ));
        }
        let mut models = Vec::with_capacity(classes.len());
        for class in &classes {
            cx.check_cancelled()?;
            let fit = one_against_rest(spec.fit, class)?;
            let threshold = spec
                .threshold_rows
                .map(|rows| one_against_rest(rows, class))
                .transpose()?;
            models.push(Model::train(
                TrainSpec {
                    fit: &fit,
                    threshold_rows: threshold.as_ref(),
                    ..spec
                },
                cx,
            )?);
        }
        Ok(Self { classes, models })
    }

    /// Whether `dir` holds a [`ClassModels`] rather than one model.
    pub fn is_in(dir: &Path) -> bool {
        dir.join(CLASSES_FILE).is_file()
    }

    /// Writes every model into `class-N/` and the class list, atomically as one directory.
    pub fn save(&self, dir: &Path) -> Result<()> {
        write_dir_atomic(dir, |tmp| {
            for (i, model) in self.models.iter().enumerate() {
                model.save(&tmp.join(format!("class-{i}")))?;
            }
            let manifest = ClassesManifest {
                format_version: CLASSES_FORMAT_VERSION,
                classes: self.classes.clone(),
            };
            write_json(&tmp.join(CLASSES_FILE), &manifest)
        })
    }

    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(CLASSES_FILE);
        let manifest: ClassesManifest = read_json(&path)?;
        if manifest.format_version != CLASSES_FORMAT_VERSION {
            return Err(Error::Version {
                path,
                found: manifest.format_version,
                expected: CLASSES_FORMAT_VERSION,
            });
        }
        let models = (0..manifest.classes.len())
            .map(|i| Model::load(&dir.join(format!("class-{i}"))))
            .collect::<Result<_>>()?;
        Ok(Self {
            classes: manifest.classes,
            models,
        })
    }

    /// For each row of `table`, the index in `classes` of the value whose model scores it
    /// highest. The models are one kind trained with balanced classes, so their scores
    /// (probabilities, log-odds or margins) share a scale.
    pub fn predict(&self, table: &Table) -> Result<Vec<usize>> {
        let mut best = vec![(0usize, f32::NEG_INFINITY); table.n_rows()];
        for (i, model) in self.models.iter().enumerate() {
            let scores = model.score_raw(&model.prepare(table)?)?;
            for (b, &s) in best.iter_mut().zip(&scores) {
                if s > b.1 {
                    *b = (i, s);
                }
            }
        }
        Ok(best.into_iter().map(|(i, _)| i).collect())
    }

    /// Precision, recall and F1 per value on the labelled `table`; a value the models never
    /// saw counts in no class's precision and has no recall to give.
    pub fn evaluate(&self, table: &Table) -> Result<Vec<ClassMetrics>> {
        let truth = classes_of(table)?;
        let predicted = self.predict(table)?;
        Ok(self
            .classes
            .iter()
            .enumerate()
            .map(|(i, class)| {
                let support = truth.iter().filter(|t| *t == class).count();
                let flagged = predicted.iter().filter(|&&p| p == i).count();
                let hits = truth
                    .iter()
                    .zip(&predicted)
                    .filter(|(t, p)| *t == class && **p == i)
                    .count();
                let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
                let (precision, recall) = (ratio(hits, flagged), ratio(hits, support));
                let f1 = match precision + recall {
                    0.0 => 0.0,
                    sum => 2.0 * precision * recall / sum,
                };
                ClassMetrics {
                    class: class.clone(),
                    support,
                    predicted: flagged,
                    precision,
                    recall,
                    f1,
                }
            })
            .collect())
    }
}
