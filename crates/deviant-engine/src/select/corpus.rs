//! What past benchmarks say about the candidates: for each set of a benchmark corpus, its
//! meta-features and each candidate's ROC AUC. Selection without labels predicts a new set's
//! results from the corpus's sets, the more alike in meta-features the more they weigh (as
//! MetaOD does, Zhao et al. 2021, with a kernel average in place of its matrix
//! factorisation: 38 sets are too few to factorise).
//!
//! The shipped corpus is `corpus/adbench-v1.json`, written by `deviant bench select-corpus`.

use deviant_core::{Error, Result};
use deviant_detectors::AnyConfig;
use serde::{Deserialize, Serialize};

use super::meta::{META_FEATURES, spreads};

/// The version of the corpus layout this build reads and writes.
pub const CORPUS_VERSION: u32 = 1;

const SHIPPED: &str = include_str!("../../corpus/adbench-v1.json");

/// The weight of the similarity-weighted mean against the plain mean over the corpus, which
/// keeps a poor match of meta-features from deciding alone. Leave-one-dataset-out on the
/// corpus itself (BENCHMARKS.md), seven nearest sets did worse than all sets weighted by
/// similarity, and no weighting at all did no better.
const LOCAL_WEIGHT: f64 = 0.5;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Corpus {
    pub version: u32,
    /// What was measured, and by which command.
    pub source: String,
    pub meta_features: Vec<String>,
    pub candidates: Vec<AnyConfig>,
    pub sets: Vec<CorpusSet>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusSet {
    pub name: String,
    pub meta: Vec<f64>,
    /// Per candidate, in the corpus's order; `None` where it did not finish.
    pub roc_auc: Vec<Option<f64>>,
}

impl Corpus {
    /// The corpus this build ships.
    pub fn shipped() -> Result<Self> {
        Self::parse(SHIPPED, "the shipped corpus")
    }

    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let corpus: Corpus =
            serde_json::from_str(text).map_err(|e| Error::format(source, e.to_string()))?;
        if corpus.version != CORPUS_VERSION {
            return Err(Error::format(
                source,
                format!(
                    "corpus version {} but this build reads {CORPUS_VERSION}; regenerate it \
                     with `deviant bench select-corpus`",
                    corpus.version
                ),
            ));
        }
        if corpus.meta_features != META_FEATURES {
            return Err(Error::format(
                source,
                "its meta-features are not this build's; regenerate it",
            ));
        }
        for set in &corpus.sets {
            if set.meta.len() != META_FEATURES.len() || set.roc_auc.len() != corpus.candidates.len()
            {
                return Err(Error::format(
                    source,
                    format!("set `{}` has the wrong number of values", set.name),
                ));
            }
        }
        Ok(corpus)
    }

    /// The predicted advantage of each of `candidates` on a set with meta-features `meta`:
    /// its ROC AUC above each set's mean, averaged over the most similar sets and over all,
    /// leaving out the sets named in `leave_out`. `None` for a candidate the corpus lacks,
    /// and for every candidate when no set is left to learn from.
    pub fn predict(
        &self,
        meta: &[f64],
        candidates: &[AnyConfig],
        leave_out: &[String],
    ) -> Vec<Option<f64>> {
        let sets: Vec<&CorpusSet> = self
            .sets
            .iter()
            .filter(|s| !leave_out.contains(&s.name))
            .collect();
        if sets.is_empty() {
            return vec![None; candidates.len()];
        }
        let metas: Vec<&[f64]> = sets.iter().map(|s| s.meta.as_slice()).collect();
        // Distances in units of each meta-feature's spread over the corpus.
        let sd = spreads(&metas);
        let distance = |other: &[f64]| -> f64 {
            (0..meta.len())
                .map(|j| ((meta[j] - other[j]) / sd[j]).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        let advantages: Vec<Vec<f64>> = sets.iter().map(|s| advantages(s)).collect();
        let similarity: Vec<f64> = sets
            .iter()
            .map(|s| 1.0 / (distance(&s.meta) + 1e-3))
            .collect();
        candidates
            .iter()
            .map(|config| {
                let c = self.candidates.iter().position(|k| k == config)?;
                let global = advantages.iter().map(|a| a[c]).sum::<f64>() / advantages.len() as f64;
                let local = advantages
                    .iter()
                    .zip(&similarity)
                    .map(|(a, w)| w * a[c])
                    .sum::<f64>()
                    / similarity.iter().sum::<f64>();
                Some(LOCAL_WEIGHT * local + (1.0 - LOCAL_WEIGHT) * global)
            })
            .collect()
    }
}

/// Each candidate's ROC AUC on `set` minus the set's mean over candidates, so that hard and
/// easy sets weigh alike; a candidate that did not finish counts as the set's worst.
fn advantages(set: &CorpusSet) -> Vec<f64> {
    let finished: Vec<f64> = set.roc_auc.iter().flatten().copied().collect();
    let worst = finished.iter().copied().fold(f64::INFINITY, f64::min);
    let values: Vec<f64> = set
        .roc_auc
        .iter()
        .map(|v| v.unwrap_or(if worst.is_finite() { worst } else { 0.5 }))
        .collect();
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    values.into_iter().map(|v| v - mean).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(kind: &str) -> AnyConfig {
        AnyConfig::from_params(kind, &json!({})).unwrap()
    }

    fn corpus() -> Corpus {
        let set = |name: &str, meta: f64, a: f64, b: f64| CorpusSet {
            name: name.into(),
            meta: vec![meta; META_FEATURES.len()],
            roc_auc: vec![Some(a), Some(b)],
        };
        Corpus {
            version: CORPUS_VERSION,
            source: "test".into(),
            meta_features: META_FEATURES.iter().map(|s| s.to_string()).collect(),
            candidates: vec![config("iforest"), config("hbos")],
            // iforest wins the sets with small meta-features, hbos the others.
            sets: (0..20)
                .map(|i| match i < 10 {
                    true => set(&format!("s{i}"), i as f64, 0.9, 0.6),
                    false => set(&format!("s{i}"), 100.0 + i as f64, 0.5, 0.9),
                })
                .collect(),
        }
    }

    #[test]
    fn neighbours_decide_and_a_left_out_set_is_not_read() {
        let c = corpus();
        let both = [config("iforest"), config("hbos"), config("knn")];
        let near_small = c.predict(&[1.0; 10], &both, &[]);
        assert!(near_small[0] > near_small[1], "{near_small:?}");
        assert_eq!(near_small[2], None);
        let near_large = c.predict(&[110.0; 10], &both, &[]);
        assert!(near_large[1] > near_large[0], "{near_large:?}");
        let all: Vec<String> = c.sets.iter().map(|s| s.name.clone()).collect();
        assert_eq!(c.predict(&[1.0; 10], &both, &all), vec![None, None, None]);
    }

    #[test]
    fn the_shipped_corpus_reads() {
        let corpus = Corpus::shipped().unwrap();
        assert_eq!(corpus.meta_features, META_FEATURES);
    }

    #[test]
    fn another_version_is_refused_with_the_remedy() {
        let mut text = serde_json::to_value(corpus()).unwrap();
        text["version"] = json!(99);
        let err = Corpus::parse(&text.to_string(), "x.json").unwrap_err();
        assert!(err.to_string().contains("select-corpus"), "{err}");
    }
}
