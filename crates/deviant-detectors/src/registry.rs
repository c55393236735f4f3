//! The one list of detectors. Adding a detector = one variant here (plus its folder or file);
//! the CLI, benchmarks and the contract tests pick it up from [`AnyConfig::kinds`].

use std::path::Path;

use deviant_core::{Dataset, Detector, DetectorConfig, Error, FitContext, Result};
use serde::{Deserialize, Serialize};

use crate::classic::copod::CopodConfig;
use crate::classic::ecod::EcodConfig;
use crate::classic::hbos::HbosConfig;
use crate::classic::iforest::IforestConfig;
use crate::classic::knn::KnnConfig;
use crate::classic::lof::LofConfig;
use crate::classic::mahalanobis::MahalanobisConfig;
use crate::classic::ocsvm::OcsvmConfig;
use crate::classic::pca::PcaConfig;
use crate::deep::aae::AaeConfig;
use crate::deep::ae::AeConfig;
use crate::deep::alad::AladConfig;
use crate::deep::bigan::BiganConfig;
use crate::deep::conv_ae::ConvAeConfig;
use crate::deep::dagmm::{DagmmConfig, VaegmmConfig};
use crate::deep::flow::{MafConfig, NsfConfig, RealNvpConfig};
use crate::deep::seq2seq::Seq2seqConfig;
use crate::deep::svdd::DeepSvddConfig;
use crate::deep::vae::VaeConfig;

/// A detector kind with its hyperparameters, as JSON `{"kind": …, "params": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
pub enum AnyConfig {
    Ae(AeConfig),
    Vae(VaeConfig),
    Aae(AaeConfig),
    Dagmm(DagmmConfig),
    Vaegmm(VaegmmConfig),
    DeepSvdd(DeepSvddConfig),
    Bigan(BiganConfig),
    Alad(AladConfig),
    Realnvp(RealNvpConfig),
    Maf(MafConfig),
    Nsf(NsfConfig),
    Seq2seq(Seq2seqConfig),
    ConvAe(ConvAeConfig),
    Pca(PcaConfig),
    Iforest(IforestConfig),
    Mahalanobis(MahalanobisConfig),
    Ocsvm(OcsvmConfig),
    Ecod(EcodConfig),
    Copod(CopodConfig),
    Hbos(HbosConfig),
    Knn(KnnConfig),
    Lof(LofConfig),
}

/// Runs `$body` with `$c` bound to the concrete config of any variant.
macro_rules! each {
    ($self:expr, $c:ident => $body:expr) => {
        match $self {
            AnyConfig::Ae($c) => $body,
            AnyConfig::Vae($c) => $body,
            AnyConfig::Aae($c) => $body,
            AnyConfig::Dagmm($c) => $body,
            AnyConfig::Vaegmm($c) => $body,
            AnyConfig::DeepSvdd($c) => $body,
            AnyConfig::Bigan($c) => $body,
            AnyConfig::Alad($c) => $body,
            AnyConfig::Realnvp($c) => $body,
            AnyConfig::Maf($c) => $body,
            AnyConfig::Nsf($c) => $body,
            AnyConfig::Seq2seq($c) => $body,
            AnyConfig::ConvAe($c) => $body,
            AnyConfig::Pca($c) => $body,
            AnyConfig::Iforest($c) => $body,
            AnyConfig::Mahalanobis($c) => $body,
            AnyConfig::Ocsvm($c) => $body,
            AnyConfig::Ecod($c) => $body,
            AnyConfig::Copod($c) => $body,
            AnyConfig::Hbos($c) => $body,
            AnyConfig::Knn($c) => $body,
            AnyConfig::Lof($c) => $body,
        }
    };
}

/// One registry entry for listings.
#[derive(Debug, Clone, Serialize)]
pub struct KindInfo {
    pub kind: &'static str,
    pub summary: &'static str,
    pub defaults: AnyConfig,
}

impl AnyConfig {
    /// Every detector with its defaults.
    pub fn kinds() -> Vec<KindInfo> {
        vec![
            KindInfo {
                kind: AeConfig::KIND,
                summary: "dense autoencoder (burn); score = mean squared reconstruction error",
                defaults: AnyConfig::Ae(AeConfig::default()),
            },
            KindInfo {
                kind: VaeConfig::KIND,
                summary: "variational autoencoder; score = reconstruction error, negative ELBO \
                          or reconstruction probability",
                defaults: AnyConfig::Vae(VaeConfig::default()),
            },
            KindInfo {
                kind: AaeConfig::KIND,
                summary: "adversarial autoencoder (Makhzani et al. 2016); score = reconstruction \
                          error, optionally plus a latent-density term",
                defaults: AnyConfig::Aae(AaeConfig::default()),
            },
            KindInfo {
                kind: DagmmConfig::KIND,
                summary: "deep autoencoding Gaussian mixture (Zong et al. 2018); score = sample energy",
                defaults: AnyConfig::Dagmm(DagmmConfig::default()),
            },
            KindInfo {
                kind: VaegmmConfig::KIND,
                summary: "DAGMM with a variational compression network; score = sample energy",
                defaults: AnyConfig::Vaegmm(VaegmmConfig::default()),
            },
            KindInfo {
                kind: DeepSvddConfig::KIND,
                summary: "Deep SVDD (Ruff et al. 2018); score = squared distance to the centre",
                defaults: AnyConfig::DeepSvdd(DeepSvddConfig::default()),
            },
            KindInfo {
                kind: BiganConfig::KIND,
                summary: "BiGAN (Donahue et al. 2017) scored as Zenati et al. 2018: reconstruction \
                          error mixed with discriminator feature matching",
                defaults: AnyConfig::Bigan(BiganConfig::default()),
            },
            KindInfo {
                kind: AladConfig::KIND,
                summary: "ALAD (Zenati et al. 2018): BiGAN with cycle-consistency discriminators; \
                          score = L1 distance of D_xx features",
                defaults: AnyConfig::Alad(AladConfig::default()),
            },
            KindInfo {
                kind: RealNvpConfig::KIND,
                summary: "RealNVP normalizing flow (affine couplings); score = -log p(x)",
                defaults: AnyConfig::Realnvp(RealNvpConfig::default()),
            },
            KindInfo {
                kind: MafConfig::KIND,
                summary: "masked autoregressive flow (MAF); score = -log p(x)",
                defaults: AnyConfig::Maf(MafConfig::default()),
            },
            KindInfo {
                kind: NsfConfig::KIND,
                summary: "neural spline flow (rational-quadratic couplings); score = -log p(x)",
                defaults: AnyConfig::Nsf(NsfConfig::default()),
            },
            KindInfo {
                kind: Seq2seqConfig::KIND,
                summary: "LSTM encoder-decoder over windows of a series (rows = windows); score = \
                          mean squared reconstruction error",
                defaults: AnyConfig::Seq2seq(Seq2seqConfig::default()),
            },
            KindInfo {
                kind: ConvAeConfig::KIND,
                summary: "convolutional autoencoder for images (rows = channels x height x \
                          width pixels); score = mean squared pixel error",
                defaults: AnyConfig::ConvAe(ConvAeConfig::default()),
            },
            KindInfo {
                kind: PcaConfig::KIND,
                summary: "principal component analysis; score = squared reconstruction error",
                defaults: AnyConfig::Pca(PcaConfig::default()),
            },
            KindInfo {
                kind: IforestConfig::KIND,
                summary: "isolation forest (Liu et al. 2008); score = 2^(-mean path / c(psi))",
                defaults: AnyConfig::Iforest(IforestConfig::default()),
            },
            KindInfo {
                kind: MahalanobisConfig::KIND,
                summary: "Mahalanobis distance to the training mean (regularised covariance)",
                defaults: AnyConfig::Mahalanobis(MahalanobisConfig::default()),
            },
            KindInfo {
                kind: OcsvmConfig::KIND,
                summary: "one-class SVM (Schölkopf et al. 2001, linfa-svm); score = negated \
                          decision value",
                defaults: AnyConfig::Ocsvm(OcsvmConfig::default()),
            },
            KindInfo {
                kind: EcodConfig::KIND,
                summary: "ECOD (Li et al. 2022); score = summed empirical-CDF tail surprise",
                defaults: AnyConfig::Ecod(EcodConfig::default()),
            },
            KindInfo {
                kind: CopodConfig::KIND,
                summary: "COPOD (Li et al. 2020); score = empirical-copula tail surprise",
                defaults: AnyConfig::Copod(CopodConfig::default()),
            },
            KindInfo {
                kind: HbosConfig::KIND,
                summary: "histogram-based outlier score (Goldstein & Dengel 2012), static or \
                          dynamic bins",
                defaults: AnyConfig::Hbos(HbosConfig::default()),
            },
            KindInfo {
                kind: KnnConfig::KIND,
                summary: "k-nearest-neighbour distance (largest, mean or median) to the \
                          training rows",
                defaults: AnyConfig::Knn(KnnConfig::default()),
            },
            KindInfo {
                kind: LofConfig::KIND,
                summary: "local outlier factor (Breunig et al. 2000) against the training rows",
                defaults: AnyConfig::Lof(LofConfig::default()),
            },
        ]
    }

    pub fn kind(&self) -> &'static str {
        fn kind_of<C: DetectorConfig>(_: &C) -> &'static str {
            C::KIND
        }
        each!(self, c => kind_of(c))
    }

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

    pub fn validate(&self) -> Result<()> {
        each!(self, c => c.validate())
    }

    pub fn fit(&self, train: &Dataset, cx: &FitContext) -> Result<Box<dyn Detector>> {
        each!(self, c => Ok(Box::new(c.fit(train, cx)?)))
    }

    pub fn load(&self, dir: &Path) -> Result<Box<dyn Detector>> {
        each!(self, c => Ok(Box::new(c.load(dir)?)))
    }
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
        assert_eq!(ae.hidden, AeConfig::default().hidden);
    }

    #[test]
    fn unknown_kinds_and_fields_are_refused() {
        let err = AnyConfig::from_params("nope", &json!({})).unwrap_err();
        assert!(err.to_string().contains("known: ae, vae,"), "{err}");
        let err = AnyConfig::from_params("iforest", &json!({"n_tree": 5})).unwrap_err();
        assert!(err.to_string().contains("n_tree"), "{err}");
    }

    #[test]
    fn invalid_values_are_refused() {
        assert!(AnyConfig::from_params("iforest", &json!({"n_trees": 0})).is_err());
    }
}
