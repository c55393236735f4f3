//! The one list of detectors: a new kind is its folder or file plus one line in
//! [`registry!`]'s list below. The CLI, the server, benchmarks and the contract tests pick it up
//! from [`AnyConfig::kinds`]; what each kind says of itself is its [`Entry`].

use std::path::Path;

use deviant_core::{Dataset, Detector, DetectorConfig, Error, FitContext, Result};
use serde::{Deserialize, Serialize};

use crate::catalogue::{Cost, Entry, Layout, ParamRange};
use crate::{classic, deep, ensemble, online, supervised};

/// One catalogue entry, as listings and `deviant models --json` print it.
#[derive(Debug, Clone, Serialize)]
pub struct KindInfo {
    pub kind: &'static str,
    pub summary: &'static str,
    pub layouts: &'static [Layout],
    pub cost: Cost,
    pub needs_labels: bool,
    pub online: bool,
    pub search_space: Vec<ParamRange>,
    pub defaults: AnyConfig,
}

impl KindInfo {
    fn of<C: Entry>(defaults: AnyConfig) -> Self {
        Self {
            kind: C::KIND,
            summary: C::ABOUT.summary,
            layouts: C::ABOUT.layouts,
            cost: C::ABOUT.cost,
            needs_labels: C::ABOUT.needs_labels,
            online: C::ABOUT.online,
            search_space: C::search_space(),
            defaults,
        }
    }
}

/// Declares [`AnyConfig`] with one variant per listed kind (its serde tag is the variant's
/// snake_case name, which a test checks against the kind's `KIND`) and the dispatch over them.
macro_rules! registry {
    ($($variant:ident($config:ty)),+ $(,)?) => {
        /// A detector kind with its hyperparameters, as JSON `{"kind": …, "params": {…}}`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", content = "params", rename_all = "snake_case")]
        pub enum AnyConfig {
            $($variant($config)),+
        }

        impl AnyConfig {
            /// Every detector with its catalogue entry and defaults.
            pub fn kinds() -> Vec<KindInfo> {
                vec![$(KindInfo::of::<$config>(AnyConfig::$variant(<$config>::default()))),+]
            }

            pub fn kind(&self) -> &'static str {
                match self {
                    $(AnyConfig::$variant(_) => <$config as DetectorConfig>::KIND),+
                }
            }

            /// Whether the kind is a supervised learner, training on labelled rows.
            pub fn needs_labels(&self) -> bool {
                match self {
                    $(AnyConfig::$variant(_) => <$config as Entry>::ABOUT.needs_labels),+
                }
            }

            /// Whether the kind keeps learning from the rows it scores.
            pub fn learns_online(&self) -> bool {
                match self {
                    $(AnyConfig::$variant(_) => <$config as Entry>::ABOUT.online),+
                }
            }

            pub fn validate(&self) -> Result<()> {
                match self {
                    $(AnyConfig::$variant(c) => c.validate()),+
                }
            }

            pub fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<Box<dyn Detector>> {
                match self {
                    $(AnyConfig::$variant(c) => Ok(Box::new(c.fit(train, cx)?))),+
                }
            }

            pub fn load(&self, dir: &Path) -> Result<Box<dyn Detector>> {
                match self {
                    $(AnyConfig::$variant(c) => Ok(Box::new(c.load(dir)?))),+
                }
            }
        }
    };
}

registry! {
    Ae(deep::ae::AeConfig),
    Vae(deep::vae::VaeConfig),
    Aae(deep::aae::AaeConfig),
    Dagmm(deep::dagmm::DagmmConfig),
    Vaegmm(deep::dagmm::VaegmmConfig),
    DeepSvdd(deep::svdd::DeepSvddConfig),
    Bigan(deep::bigan::BiganConfig),
    Alad(deep::alad::AladConfig),
    Realnvp(deep::flow::RealNvpConfig),
    Maf(deep::flow::MafConfig),
    Nsf(deep::flow::NsfConfig),
    Seq2seq(deep::seq2seq::Seq2seqConfig),
    ConvAe(deep::conv_ae::ConvAeConfig),
    Pca(classic::pca::PcaConfig),
    Iforest(classic::iforest::IforestConfig),
    Mahalanobis(classic::mahalanobis::MahalanobisConfig),
    Ocsvm(classic::ocsvm::OcsvmConfig),
    Ecod(classic::ecod::EcodConfig),
    Copod(classic::copod::CopodConfig),
    Hbos(classic::hbos::HbosConfig),
    Knn(classic::knn::KnnConfig),
    Lof(classic::lof::LofConfig),
    Loda(classic::loda::LodaConfig),
    Hst(online::hst::HstConfig),
    RobustZscore(online::robust_zscore::RobustZscoreConfig),
    Gbt(supervised::gbt::GbtConfig),
    RandomForest(supervised::forest::RandomForestConfig),
    DecisionTree(supervised::forest::DecisionTreeConfig),
    Logistic(supervised::linear::LogisticConfig),
    Sgd(supervised::linear::SgdConfig),
    KnnClassifier(supervised::knn_classifier::KnnClassifierConfig),
    GaussianNb(supervised::naive_bayes::GaussianNbConfig),
    MlpClassifier(supervised::mlp_classifier::MlpClassifierConfig),
    Xgbod(supervised::xgbod::XgbodConfig),
    Ensemble(ensemble::EnsembleConfig),
}

impl AnyConfig {
    /// The kind's defaults with `params` (a JSON object, possibly partial) laid over them.
    pub fn from_params(kind: &str, params: &serde_json::Value) -> Result<Self> {
        let info = Self::kinds()
            .into_iter()
            .find(|k| k.kind == kind)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::kinds().iter().map(|k| k.kind).collect();
                Error::config(
                    "kind",
                    format!("unknown detector `{kind}`; known: {}", known.join(", ")),
                )
            })?;
        let mut merged = serde_json::to_value(&info.defaults).expect("configs serialise");
        merge_params(&mut merged["params"], params);
        let config: AnyConfig = serde_json::from_value(merged)
            .map_err(|e| Error::config("params", format!("{kind}: {e}")))?;
        config.validate()?;
        Ok(config)
    }
}

/// Turns `key.sub=value` settings (`--set`) into a nested JSON object; values are read as
/// JSON when they parse, else as strings.
pub fn params_from_sets(sets: &[String]) -> Result<serde_json::Value> {
    use serde_json::Value;
    let mut root = Value::Object(Default::default());
    for set in sets {
        let refused = |why: String| Error::config("--set", format!("`{set}` {why}"));
        let (key, raw) = set
            .split_once('=')
            .ok_or_else(|| refused("needs the form key=value".into()))?;
        let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
        let mut node = &mut root;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let map = node
                .as_object_mut()
                .ok_or_else(|| refused(format!("sets `{part}` inside a value")))?;
            if i + 1 == parts.len() {
                map.insert(part.to_string(), value.clone());
                break;
            }
            node = map
                .entry(part.to_string())
                .or_insert_with(|| Value::Object(Default::default()));
        }
    }
    Ok(root)
}

/// Recursively overwrites `base` with the fields of `patch`.
pub fn merge_params(base: &mut serde_json::Value, patch: &serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
            for (k, v) in patch {
                merge_params(base.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        (base, patch) => *base = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn partial_params_keep_the_other_defaults() {
        let c = AnyConfig::from_params("ae", &json!({"training": {"epochs": 3}})).unwrap();
        let AnyConfig::Ae(ae) = c else {
            panic!("an ae config")
        };
        assert_eq!(ae.training.epochs, 3);
        assert_eq!(ae.hidden, deep::ae::AeConfig::default().hidden);
    }

    #[test]
    fn sets_build_nested_objects_with_typed_values() {
        let v = params_from_sets(&["training.epochs=3".into(), "activation=tanh".into()]).unwrap();
        assert_eq!(v, json!({"training": {"epochs": 3}, "activation": "tanh"}));
        let err = params_from_sets(&["novalue".into()]).unwrap_err();
        assert!(
            err.to_string()
                .contains("`novalue` needs the form key=value"),
            "{err}"
        );
        let err = params_from_sets(&["a=1".into(), "a.b=2".into()]).unwrap_err();
        assert!(err.to_string().contains("sets `b` inside a value"), "{err}");
    }

    #[test]
    fn unknown_kinds_and_fields_are_refused() {
        let err = AnyConfig::from_params("nope", &json!({})).unwrap_err();
        assert!(err.to_string().contains("known: ae, vae,"), "{err}");
        let err = AnyConfig::from_params("iforest", &json!({"n_tree": 5})).unwrap_err();
        assert!(err.to_string().contains("n_tree"), "{err}");
    }

    #[test]
    fn every_tag_is_its_kind() {
        for info in AnyConfig::kinds() {
            let json = serde_json::to_value(&info.defaults).unwrap();
            assert_eq!(json["kind"], info.kind);
            assert_eq!(info.defaults.kind(), info.kind);
            assert!(!info.summary.is_empty() && !info.layouts.is_empty());
        }
    }

    /// Every end of every range, and every choice, is a valid setting of its kind.
    #[test]
    fn search_spaces_name_real_keys_with_valid_values() {
        use crate::catalogue::Domain;
        for info in AnyConfig::kinds() {
            for range in &info.search_space {
                let values: Vec<serde_json::Value> = match &range.domain {
                    Domain::Int { low, high, .. } => vec![json!(low), json!(high)],
                    Domain::Float { low, high, .. } => vec![json!(low), json!(high)],
                    Domain::Names { values } => values.iter().map(|v| json!(v)).collect(),
                    Domain::Stacks { values } => values.iter().map(|v| json!(v)).collect(),
                };
                for value in values {
                    let mut patch = json!({});
                    let mut at = &mut patch;
                    for part in range.key.split('.') {
                        at = &mut at[part];
                    }
                    *at = value;
                    if let Err(e) = AnyConfig::from_params(info.kind, &patch) {
                        panic!("{} {}: {e}", info.kind, range.key);
                    }
                }
            }
        }
    }

    #[test]
    fn invalid_values_are_refused() {
        assert!(AnyConfig::from_params("iforest", &json!({"n_trees": 0})).is_err());
    }
}
