//! KDD Cup 99 and NSL-KDD: the recipes write their CSVs (kept for inspection), and each seed's
//! tables are read back from them.

use std::path::{Path, PathBuf};

use deviant_core::{Progress, Result, ThresholdRule};
use deviant_data::kdd99::{self, ProtocolSplits};
use deviant_data::{
    PreprocessOptions, ReadOptions, Scaling, TableReader, infer_schema, nslkdd,
    schema_options_for_label,
};

use crate::protocol::{Protocol, ReportSet, Splits};

/// KDD Cup 99 under one of its protocols (cloudera, dagmm, alad, alibi).
pub struct Kdd99 {
    pub sources: kdd99::Sources,
    pub protocol: kdd99::Protocol,
    /// Each seed's CSVs go into `<work_dir>/<protocol>-seed<seed>/`.
    pub work_dir: PathBuf,
    /// Replaces the protocol's own column scaling.
    pub scaling: Option<Scaling>,
}

impl Protocol for Kdd99 {
    fn name(&self) -> &str {
        self.protocol.name()
    }

    fn splits(&self, seed: u64, progress: &dyn Progress) -> Result<Splits> {
        let dir = self.work_dir.join(format!("{}-seed{seed}", self.name()));
        let written = kdd99::write_protocol(&self.sources, self.protocol, seed, &dir, progress)?;
        let has_validation = written.validation.is_some();
        read_splits(
            &dir,
            has_validation,
            // Supervised learners train on the labelled validation rows (keeping a fifth
            // back for their threshold), as in the Cloudera prototype's supervised comparison.
            has_validation.then_some(ProtocolSplits::VALIDATION),
            &[(ProtocolSplits::TEST, "kddcup99")],
            self.scaling.unwrap_or(self.protocol.scaling()),
            self.protocol.threshold_rule(),
        )
    }
}

/// NSL-KDD: train on normal rows, threshold on validation, test on KDDTest+ and KDDTest-21.
pub struct NslKdd {
    pub sources: nslkdd::Sources,
    pub work_dir: PathBuf,
    pub scaling: Option<Scaling>,
}

impl Protocol for NslKdd {
    fn name(&self) -> &str {
        "nslkdd"
    }

    fn splits(&self, seed: u64, progress: &dyn Progress) -> Result<Splits> {
        let dir = self.work_dir.join(format!("nslkdd-seed{seed}"));
        nslkdd::write_protocol(&self.sources, seed, &dir, progress)?;
        read_splits(
            &dir,
            true,
            Some(nslkdd::Splits::TRAIN_LABELLED),
            &[
                (nslkdd::Splits::TEST_PLUS, "nsl-kdd test+"),
                (nslkdd::Splits::TEST_21, "nsl-kdd test-21"),
            ],
            self.scaling.unwrap_or(nslkdd::Splits::SCALING),
            nslkdd::Splits::THRESHOLD_RULE,
        )
    }
}

/// A recipe's `train.csv`, `validation.csv` (when it has one), the labelled training rows
/// of supervised learners (when it has them) and test files, read under the schema of
/// `train.csv` with `label` 0 as normal.
fn read_splits(
    dir: &Path,
    has_validation: bool,
    labelled: Option<&str>,
    tests: &[(&str, &str)],
    scaling: Scaling,
    threshold_rule: ThresholdRule,
) -> Result<Splits> {
    let read = ReadOptions::default();
    let schema = infer_schema(
        &dir.join(ProtocolSplits::TRAIN),
        &read,
        &schema_options_for_label("label", &["0"]),
    )?;
    let load = |name: &str| TableReader::open(&dir.join(name), &read, &schema)?.read_all();
    let validation = has_validation
        .then(|| load(ProtocolSplits::VALIDATION))
        .transpose()?;
    let labelled = match labelled {
        Some(ProtocolSplits::VALIDATION) => validation.clone(),
        Some(name) => Some(load(name)?),
        None => None,
    };
    Ok(Splits {
        fit: load(ProtocolSplits::TRAIN)?,
        labelled,
        threshold: validation,
        select: None,
        report: tests
            .iter()
            .map(|&(file, dataset)| {
                Ok(ReportSet {
                    dataset: dataset.into(),
                    rows: load(file)?,
                })
            })
            .collect::<Result<_>>()?,
        preprocess: PreprocessOptions {
            scaling,
            impute: false,
        },
        threshold_rule,
        schema,
    })
}
