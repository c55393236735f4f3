//! XGBOD (Zhao & Hryniewicki, IJCNN 2018): unsupervised detectors are fitted on every
//! training row, labelled or not, and each one's score, as its rank among its own training
//! scores, joins the row's features; gradient-boosted trees then learn the labels from the
//! widened rows. The detectors carry what the unlabelled rows say about the data's shape to
//! the booster, so a few labelled anomalies go further: the semi-supervised option (rows
//! whose anomaly is not known read as normal). Score = the booster's anomaly log-odds.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::detector::FitSummary;
use deviant_core::{Dataset, Detector, DetectorConfig, Error, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis, concatenate};
use serde::{Deserialize, Serialize};

use super::gbt::{Gbt, GbtConfig};
use super::labels_of;
use crate::catalogue::{About, Entry, ParamRange};
use crate::classic::{copod, ecod, hbos, iforest, loda, mahalanobis};
use crate::ensemble::{EnsembleConfig, Scale, load_members, save_members};
use crate::registry::AnyConfig;
use crate::{read_json, write_json};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XgbodConfig {
    /// Unsupervised detectors whose scores join the features.
    pub detectors: Vec<AnyConfig>,
    /// The booster trained on the widened rows.
    pub booster: GbtConfig,
}

impl Default for XgbodConfig {
    /// Six fast detectors of different families (XGBOD's own list leans on k-NN and LOF,
    /// which are quadratic in the rows; these stay linear).
    fn default() -> Self {
        Self {
            detectors: vec![
                AnyConfig::Iforest(iforest::IforestConfig::default()),
                AnyConfig::Hbos(hbos::HbosConfig::default()),
                AnyConfig::Copod(copod::CopodConfig::default()),
                AnyConfig::Ecod(ecod::EcodConfig::default()),
                AnyConfig::Loda(loda::LodaConfig::default()),
                AnyConfig::Mahalanobis(mahalanobis::MahalanobisConfig::default()),
            ],
            booster: GbtConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    n_features: usize,
    scales: Vec<Scale>,
}

pub struct Xgbod {
    detectors: Vec<Box<dyn Detector>>,
    booster: Gbt,
    state: State,
}

const STATE: &str = "xgbod.json";
const BOOSTER_DIR: &str = "booster";

/// `x` with each detector's rank of each row (on its scale) as one more column.
fn widen(
    detectors: &[Box<dyn Detector>],
    scales: &[Scale],
    x: ArrayView2<f32>,
) -> Result<Array2<f32>> {
    let mut columns = Vec::with_capacity(detectors.len());
    for (detector, scale) in detectors.iter().zip(scales) {
        let scores = detector.score(x)?;
        columns.push(scores.mapv(|s| scale.rank(s) as f32).insert_axis(Axis(1)));
    }
    let mut views = vec![x];
    views.extend(columns.iter().map(|c| c.view()));
    concatenate(Axis(1), &views).map_err(Error::internal)
}

impl DetectorConfig for XgbodConfig {
    const KIND: &'static str = "xgbod";
    type Fitted = Xgbod;

    fn validate(&self) -> Result<()> {
        if self.detectors.is_empty() {
            return Err(Error::config(
                "detectors",
                "give at least one detector whose scores join the features",
            ));
        }
        for (i, detector) in self.detectors.iter().enumerate() {
            if detector.needs_labels() || detector.kind() == EnsembleConfig::KIND {
                return Err(Error::config(
                    format!("detectors[{i}]"),
                    format!(
                        "{} is not an unsupervised detector; list detectors such as iforest",
                        detector.kind()
                    ),
                ));
            }
            detector.validate()?;
        }
        self.booster.validate()
    }

    fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<Xgbod> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "xgbod fit")?;
        let labels = labels_of(train, Self::KIND)?.clone();
        let unlabelled = Dataset::new(x.to_owned(), None);
        let mut detectors = Vec::with_capacity(self.detectors.len());
        let mut scales = Vec::with_capacity(self.detectors.len());
        for config in &self.detectors {
            cx.check_cancelled()?;
            let detector = config.fit(&unlabelled, cx)?;
            scales.push(Scale::of(&detector.score(x)?.to_vec()));
            detectors.push(detector);
        }
        let widened = Dataset::new(widen(&detectors, &scales, x)?, Some(labels));
        Ok(Xgbod {
            booster: self.booster.fit(&widened, cx)?,
            detectors,
            state: State {
                n_features: x.ncols(),
                scales,
            },
        })
    }

    fn load(&self, dir: &Path) -> Result<Xgbod> {
        let state: State = read_json(&dir.join(STATE))?;
        if state.scales.len() != self.detectors.len() {
            return Err(Error::format(
                dir.display(),
                "the saved detector scales do not match the configured detectors",
            ));
        }
        Ok(Xgbod {
            detectors: load_members(&self.detectors, dir)?,
            booster: self.booster.load(&dir.join(BOOSTER_DIR))?,
            state,
        })
    }
}

impl Detector for Xgbod {
    fn n_features(&self) -> usize {
        self.state.n_features
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        check_input(x, self.state.n_features, "xgbod")?;
        let widened = widen(&self.detectors, &self.state.scales, x)?;
        self.booster.score(widened.view())
    }

    fn save(&self, dir: &Path) -> Result<()> {
        save_members(&self.detectors, dir)?;
        let booster = dir.join(BOOSTER_DIR);
        std::fs::create_dir_all(&booster).map_err(|e| Error::io(&booster, e))?;
        self.booster.save(&booster)?;
        write_json(&dir.join(STATE), &self.state)
    }

    fn fit_summary(&self) -> FitSummary {
        self.booster.fit_summary()
    }
}

impl Entry for XgbodConfig {
    const ABOUT: About = About::linear(
        "XGBOD: unsupervised detectors' score ranks added to the features of boosted trees; \
         score = anomaly log-odds",
    )
    .supervised();
    const SEARCH: &'static [ParamRange] = &[];
}
