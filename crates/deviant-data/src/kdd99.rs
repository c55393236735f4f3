//! KDD Cup 1999 recipes: the published evaluation protocols as train/validation/test CSVs.
//!
//! | protocol | features | anomaly | splits |
//! |---|---|---|---|
//! | `cloudera` | the 18 continuous traffic features | attacks | train: normal rows of the 10 % file; from `corrected`, 20 % of each class → validation, then 8,000 normal + 2,000 attack rows of the rest → test |
//! | `dagmm` | all 41 (3 symbolic) | `normal.` rows | 10 % file shuffled 50/50; train keeps only the attack rows of its half |
//! | `alad` | all 41 (3 symbolic) | `normal.` rows | 10 % file shuffled 80/20; 25 % of the 80 % → validation; anomalies removed from train and validation |
//!
//! Every written file has a header and a `label` column: 1 = anomaly, 0 = normal.

use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use deviant_core::{Error, Progress, Result, ThresholdRule};
use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};

use crate::download::{RemoteFile, dataset_dirs, find_or_download};
use crate::preprocess::Scaling;
use deviant_core::fsutil::{write_atomic, write_bytes_atomic};
use deviant_core::split::{rng, shuffled, split_fraction};

/// The 10 % training file.
pub const TRAIN_10_PERCENT: RemoteFile = RemoteFile {
    name: "kddcup.data_10_percent.gz",
    url: "http://kdd.ics.uci.edu/databases/kddcup99/kddcup.data_10_percent.gz",
    sha256: "7bfaa8cef1350f72842018c32893e2fa4539d57efbb22f998eb74ecefc3da3b4",
};

/// The labelled test file.
pub const CORRECTED: RemoteFile = RemoteFile {
    name: "corrected.gz",
    url: "http://kdd.ics.uci.edu/databases/kddcup99/corrected.gz",
    sha256: "74f0daef49b242badc09f2adbd457dea6a45b4f77177efbd11216d333651044b",
};

/// The 41 feature names, in file order.
pub const FEATURES: [&str; 41] = [
    "duration",
    "protocol_type",
    "service",
    "flag",
    "src_bytes",
    "dst_bytes",
    "land",
    "wrong_fragment",
    "urgent",
    "hot",
    "num_failed_logins",
    "logged_in",
    "num_compromised",
    "root_shell",
    "su_attempted",
    "num_root",
    "num_file_creations",
    "num_shells",
    "num_access_files",
    "num_outbound_cmds",
    "is_host_login",
    "is_guest_login",
    "count",
    "srv_count",
    "serror_rate",
    "srv_serror_rate",
    "rerror_rate",
    "srv_rerror_rate",
    "same_srv_rate",
    "diff_srv_rate",
    "srv_diff_host_rate",
    "dst_host_count",
    "dst_host_srv_count",
    "dst_host_same_srv_rate",
    "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate",
    "dst_host_srv_diff_host_rate",
    "dst_host_serror_rate",
    "dst_host_srv_serror_rate",
    "dst_host_rerror_rate",
    "dst_host_srv_rerror_rate",
];

/// The symbolic features, one-hot encoded by the preprocessor.
pub const SYMBOLIC: [&str; 3] = ["protocol_type", "service", "flag"];

/// The 18 continuous features of the `cloudera` protocol: the traffic features from
/// `srv_count` to the end of the row.
pub const CLOUDERA_FEATURES: &[&str] = FEATURES.split_at(FEATURES.len() - 18).1;

const NORMAL: &str = "normal.";

/// A published evaluation protocol on KDD Cup 99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Cloudera,
    Dagmm,
    Alad,
    Alibi,
}

impl Protocol {
    pub const ALL: [Protocol; 4] = [
        Protocol::Cloudera,
        Protocol::Dagmm,
        Protocol::Alad,
        Protocol::Alibi,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Cloudera => "cloudera",
            Protocol::Dagmm => "dagmm",
            Protocol::Alad => "alad",
            Protocol::Alibi => "alibi",
        }
    }

    /// How the protocol's papers turn scores into flags.
    pub fn threshold_rule(self) -> ThresholdRule {
        match self {
            Protocol::Cloudera => ThresholdRule::BestF1,
            Protocol::Dagmm | Protocol::Alad => ThresholdRule::TopPercent { percent: 20.0 },
            // The 95th percentile of the (unlabelled) validation batch's scores.
            Protocol::Alibi => ThresholdRule::Contamination { fraction: 0.05 },
        }
    }

    /// The scaling the protocol fits on its training rows.
    pub fn scaling(self) -> Scaling {
        match self {
            Protocol::Alibi => Scaling::Standard,
            _ => Scaling::MinMax,
        }
    }

    fn feature_indices(self) -> Vec<usize> {
        match self {
            Protocol::Cloudera | Protocol::Alibi => CLOUDERA_FEATURES
                .iter()
                .map(|f| FEATURES.iter().position(|g| g == f).expect("a KDD feature"))
                .collect(),
            Protocol::Dagmm | Protocol::Alad => (0..FEATURES.len()).collect(),
        }
    }

    fn is_anomaly(self, label: &str) -> bool {
        match self {
            Protocol::Cloudera | Protocol::Alibi => label != NORMAL,
            Protocol::Dagmm | Protocol::Alad => label == NORMAL,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Protocol {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Protocol::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                Error::config(
                    "protocol",
                    format!("`{s}` is not one of cloudera, dagmm, alad, alibi"),
                )
            })
    }
}

/// Where the two KDD files are on this machine.
#[derive(Debug, Clone)]
pub struct Sources {
    pub train_10_percent: PathBuf,
    pub corrected: PathBuf,
}

/// The folders searched for the KDD files, in order: `data_dir` if given, else
/// `$DEVIANT_DATA_DIR`, `$DEVIANT_DATASETS/kddcup99` and the user cache folder.
pub fn search_dirs(data_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = dataset_dirs(data_dir, "kddcup99");
    if data_dir.is_none() {
        dirs.push(cache_dir());
    }
    dirs
}

/// Where downloads go when no `--data-dir` is given.
pub fn cache_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("deviant")
        .join("kddcup99")
}

/// Finds both files (or downloads them into `data_dir`, else the cache folder).
pub fn locate(data_dir: Option<&Path>, progress: &dyn Progress) -> Result<Sources> {
    let dirs = search_dirs(data_dir);
    let download_dir = data_dir.map_or_else(cache_dir, Path::to_path_buf);
    Ok(Sources {
        train_10_percent: find_or_download(&TRAIN_10_PERCENT, &dirs, &download_dir, progress)?,
        corrected: find_or_download(&CORRECTED, &dirs, &download_dir, progress)?,
    })
}

/// One record: the 41 feature fields as they were written, and the label.
pub(crate) struct Record {
    pub fields: String,
    pub label: String,
}

/// Reads `path` (gzipped when it ends in `.gz`): 41 features, the label, then `trailing`
/// fields that are dropped (NSL-KDD's difficulty level).
pub(crate) fn read_records(path: &Path, trailing: usize) -> Result<Vec<Record>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader: Box<dyn BufRead> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, file))
    };
    let expected = FEATURES.len() + 1 + trailing;
    let mut records = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let n = line.split(',').count();
        if n != expected {
            return Err(Error::format(
                path.display(),
                format!(
                    "line {} has {n} fields where {expected} were expected",
                    i + 1
                ),
            ));
        }
        let mut cut = line.as_str();
        for _ in 0..trailing {
            cut = cut.rsplit_once(',').expect("fields counted").0;
        }
        let (fields, label) = cut.rsplit_once(',').expect("fields counted");
        records.push(Record {
            fields: fields.to_string(),
            label: label.trim().to_string(),
        });
    }
    Ok(records)
}

/// Rows and anomalies of one written split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitCount {
    pub rows: usize,
    pub anomalies: usize,
}

/// What [`write_protocol`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolSplits {
    pub protocol: Protocol,
    pub seed: u64,
    pub train: SplitCount,
    pub validation: Option<SplitCount>,
    pub test: SplitCount,
    pub threshold_rule: ThresholdRule,
    pub scaling: Scaling,
}

impl ProtocolSplits {
    pub const TRAIN: &'static str = "train.csv";
    pub const VALIDATION: &'static str = "validation.csv";
    pub const TEST: &'static str = "test.csv";
}

/// Row indices of each split, into the 10 % file (`from_corrected` false) or `corrected`.
struct Selection {
    train: Vec<usize>,
    validation: Option<(bool, Vec<usize>)>,
    test: (bool, Vec<usize>),
}

fn select(protocol: Protocol, seed: u64, train: &[Record], corrected: &[Record]) -> Selection {
    let mut rng = rng(seed);
    let anomalous = |r: &Record| protocol.is_anomaly(&r.label);
    match protocol {
        Protocol::Cloudera => {
            let normal_train = (0..train.len())
                .filter(|&i| !anomalous(&train[i]))
                .collect();
            let by_class = |class: bool| -> Vec<usize> {
                (0..corrected.len())
                    .filter(|&i| anomalous(&corrected[i]) == class)
                    .collect()
            };
            let (val_normal, rest_normal) = split_fraction(by_class(false), 0.2, &mut rng);
            let (val_attack, rest_attack) = split_fraction(by_class(true), 0.2, &mut rng);
            let mut test: Vec<usize> = shuffled(rest_normal, &mut rng)
                .into_iter()
                .take(8_000)
                .collect();
            test.extend(shuffled(rest_attack, &mut rng).into_iter().take(2_000));
            let mut validation = val_normal;
            validation.extend(val_attack);
            validation.sort_unstable();
            test.sort_unstable();
            Selection {
                train: normal_train,
                validation: Some((true, validation)),
                test: (true, test),
            }
        }
        Protocol::Alibi => {
            // Two 1,000-row batches from the 10 % file: validation with 5 % attacks, test with
            // 10 %; the normal rows left over are the training set.
            let mut by_class = |class: bool| -> Vec<usize> {
                let rows = (0..train.len()).filter(|&i| anomalous(&train[i]) == class);
                shuffled(rows.collect(), &mut rng)
            };
            let (normal, attack) = (by_class(false), by_class(true));
            let (val_normal, rest) = normal.split_at(950);
            let (test_normal, fit) = rest.split_at(900);
            let batch = |normal: &[usize], attack: &[usize]| {
                let mut rows = [normal, attack].concat();
                rows.sort_unstable();
                rows
            };
            let mut fit = fit.to_vec();
            fit.sort_unstable();
            Selection {
                train: fit,
                validation: Some((false, batch(val_normal, &attack[..50]))),
                test: (false, batch(test_normal, &attack[50..150])),
            }
        }
        Protocol::Dagmm | Protocol::Alad => {
            let share = if protocol == Protocol::Dagmm {
                0.5
            } else {
                0.8
            };
            let (train_part, test) = split_fraction((0..train.len()).collect(), share, &mut rng);
            let keep_normal = |idx: Vec<usize>| -> Vec<usize> {
                let mut kept: Vec<usize> =
                    idx.into_iter().filter(|&i| !anomalous(&train[i])).collect();
                kept.sort_unstable();
                kept
            };
            let mut test = test;
            test.sort_unstable();
            if protocol == Protocol::Dagmm {
                Selection {
                    train: keep_normal(train_part),
                    validation: None,
                    test: (false, test),
                }
            } else {
                let (validation, fit) = split_fraction(train_part, 0.25, &mut rng);
                Selection {
                    train: keep_normal(fit),
                    validation: Some((false, keep_normal(validation))),
                    test: (false, test),
                }
            }
        }
    }
}

/// Writes the `columns` of the chosen `rows` and a 0/1 `label` column as a CSV.
pub(crate) fn write_split(
    path: &Path,
    columns: &[usize],
    records: &[Record],
    rows: &[usize],
    is_anomaly: impl Fn(&str) -> bool,
) -> Result<SplitCount> {
    let mut header: Vec<&str> = columns.iter().map(|&i| FEATURES[i]).collect();
    header.push("label");
    let mut anomalies = 0;
    write_atomic(path, |out| {
        writeln!(out, "{}", header.join(","))?;
        for &i in rows {
            let record = &records[i];
            let anomaly = is_anomaly(&record.label);
            anomalies += usize::from(anomaly);
            if columns.len() == FEATURES.len() {
                out.write_all(record.fields.as_bytes())?;
            } else {
                let fields: Vec<&str> = record.fields.split(',').collect();
                let picked: Vec<&str> = columns.iter().map(|&c| fields[c]).collect();
                out.write_all(picked.join(",").as_bytes())?;
            }
            writeln!(out, ",{}", u8::from(anomaly))?;
        }
        Ok(())
    })?;
    Ok(SplitCount {
        rows: rows.len(),
        anomalies,
    })
}

/// Writes `train.csv`, `validation.csv` (when the protocol has one), `test.csv` and
/// `protocol.json` into `out`.
pub fn write_protocol(
    sources: &Sources,
    protocol: Protocol,
    seed: u64,
    out: &Path,
    progress: &dyn Progress,
) -> Result<ProtocolSplits> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    progress.begin(&format!("kdd99 {protocol}: reading"), 0);
    let train = read_records(&sources.train_10_percent, 0)?;
    let corrected = if protocol == Protocol::Cloudera {
        read_records(&sources.corrected, 0)?
    } else {
        Vec::new()
    };
    progress.finish();
    let selection = select(protocol, seed, &train, &corrected);
    let file_of = |from_corrected: bool| if from_corrected { &corrected } else { &train };
    let columns = protocol.feature_indices();
    let is_anomaly = |label: &str| protocol.is_anomaly(label);
    let train_count = write_split(
        &out.join(ProtocolSplits::TRAIN),
        &columns,
        &train,
        &selection.train,
        is_anomaly,
    )?;
    let validation = match &selection.validation {
        Some((from_corrected, rows)) => Some(write_split(
            &out.join(ProtocolSplits::VALIDATION),
            &columns,
            file_of(*from_corrected),
            rows,
            is_anomaly,
        )?),
        None => {
            let _ = std::fs::remove_file(out.join(ProtocolSplits::VALIDATION));
            None
        }
    };
    let (from_corrected, test_rows) = &selection.test;
    let test = write_split(
        &out.join(ProtocolSplits::TEST),
        &columns,
        file_of(*from_corrected),
        test_rows,
        is_anomaly,
    )?;
    let splits = ProtocolSplits {
        protocol,
        seed,
        train: train_count,
        validation,
        test,
        threshold_rule: protocol.threshold_rule(),
        scaling: protocol.scaling(),
    };
    let json = serde_json::to_vec_pretty(&splits).map_err(Error::internal)?;
    write_bytes_atomic(&out.join("protocol.json"), &json)?;
    Ok(splits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudera_keeps_the_18_traffic_features() {
        assert_eq!(CLOUDERA_FEATURES.len(), 18);
        assert_eq!(CLOUDERA_FEATURES[0], "srv_count");
        assert_eq!(CLOUDERA_FEATURES[17], "dst_host_srv_rerror_rate");
        assert!(!CLOUDERA_FEATURES.contains(&"count"));
    }

    #[test]
    fn protocols_read_back_their_names() {
        for protocol in Protocol::ALL {
            assert_eq!(protocol.name().parse::<Protocol>().unwrap(), protocol);
        }
        assert!("kdd".parse::<Protocol>().is_err());
    }
}
