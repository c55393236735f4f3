//! k-nearest-neighbour classifier: score = the class-balanced share of anomalies among a
//! row's k nearest training rows, each vote weighted by its class's balanced weight (and by
//! inverse distance with `weights = "distance"`, which also breaks the ties a plain share
//! has). Neighbours come from the exact search KNN and LOF use.

use std::path::Path;

use deviant_core::dataset::check_input;
use deviant_core::{Dataset, Detector, DetectorConfig, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::{balanced_weights, labels_of};
use crate::catalogue::{About, Entry, ParamRange, log_int, names};
use crate::check::at_least_one;
use crate::classic::neighbours::{check_k, nearest, never_stop};
use crate::{read_json, write_json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Votes {
    Uniform,
    Distance,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnnClassifierConfig {
    pub k: usize,
    pub weights: Votes,
}

impl Default for KnnClassifierConfig {
    fn default() -> Self {
        Self {
            k: 10,
            weights: Votes::Distance,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KnnClassifier {
    k: usize,
    weights: Votes,
    class_weights: [f64; 2],
    train: Array2<f32>,
    labels: Array1<u8>,
}

const STATE: &str = "knn_classifier.json";

impl DetectorConfig for KnnClassifierConfig {
    const KIND: &'static str = "knn_classifier";
    type Fitted = KnnClassifier;

    fn validate(&self) -> Result<()> {
        at_least_one("k", self.k)
    }

    fn fit(&self, train: &Dataset, _cx: &FitContext) -> Result<KnnClassifier> {
        self.validate()?;
        let x = train.view();
        check_input(x, x.ncols(), "knn_classifier fit")?;
        let labels = labels_of(train, Self::KIND)?;
        check_k(self.k, x.nrows(), Self::KIND)?;
        Ok(KnnClassifier {
            k: self.k,
            weights: self.weights,
            class_weights: balanced_weights(labels),
            train: x.to_owned(),
            labels: labels.clone(),
        })
    }

    fn load(&self, dir: &Path) -> Result<KnnClassifier> {
        read_json(&dir.join(STATE))
    }
}

impl Detector for KnnClassifier {
    fn n_features(&self) -> usize {
        self.train.ncols()
    }

    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        check_input(x, self.n_features(), "knn_classifier")?;
        let found = nearest(self.train.view(), x, self.k, false, &never_stop)?;
        Ok((0..x.nrows())
            .map(|i| {
                let (mut anomalous, mut total) = (0.0, 0.0);
                for (&j, &d) in found.indices.row(i).iter().zip(found.distances.row(i)) {
                    let class = self.labels[j] as usize;
                    let vote = self.class_weights[class]
                        * match self.weights {
                            Votes::Uniform => 1.0,
                            Votes::Distance => 1.0 / (d + 1e-9),
                        };
                    total += vote;
                    if class == 1 {
                        anomalous += vote;
                    }
                }
                (anomalous / total) as f32
            })
            .collect())
    }

    fn save(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(STATE), self)
    }
}

impl Entry for KnnClassifierConfig {
    const ABOUT: About = About::superlinear(
        "k-nearest-neighbour classifier (balanced, distance-weighted votes); score = anomaly share of the k nearest",
    )
    .supervised();
    const SEARCH: &'static [ParamRange] = &[
        log_int("k", 1, 50),
        names("weights", &["uniform", "distance"]),
    ];
}
