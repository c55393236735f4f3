//! Argument groups and parsers shared by several commands.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use deviant_core::ThresholdRule;
use deviant_core::schema::LabelSpec;
use deviant_data::{ReadLimits, ReadOptions, Scaling, SchemaOptions};
use deviant_detectors::AnyConfig;
use deviant_detectors::registry::params_from_sets;
use serde_json::Value;

/// How to read an input table.
#[derive(Debug, Args, Clone)]
pub struct ReadArgs {
    /// Column names for a file without a header row (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub names: Option<Vec<String>>,
    /// Field separator (default: tab for .tsv files, comma otherwise).
    #[arg(long)]
    pub delimiter: Option<char>,
    /// Columns to leave out (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub ignore: Vec<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// What a table may hold (`fit`, `score` and the other commands, and `serve`).
#[derive(Debug, Args, Clone)]
pub struct LimitArgs {
    /// The most columns a table may have.
    #[arg(long, default_value_t = ReadLimits::default().max_columns)]
    pub max_columns: usize,
    /// The longest line a table may have, in MiB.
    #[arg(long, default_value_t = ReadLimits::default().max_line_bytes >> 20)]
    pub max_line_mb: usize,
}

impl LimitArgs {
    pub fn limits(&self) -> ReadLimits {
        ReadLimits {
            max_columns: self.max_columns,
            max_line_bytes: self.max_line_mb.saturating_mul(1 << 20),
            ..ReadLimits::default()
        }
    }
}

impl ReadArgs {
    pub fn options(&self) -> Result<ReadOptions> {
        let delimiter = match self.delimiter {
            Some(c) if c.is_ascii() => Some(c as u8),
            Some(c) => bail!("--delimiter must be one ASCII character, not `{c}`"),
            None => None,
        };
        Ok(ReadOptions {
            delimiter,
            names: self.names.clone(),
            ignore: self.ignore.clone(),
            limits: self.limits.limits(),
        })
    }
}

/// What the columns are.
#[derive(Debug, Args, Clone)]
pub struct SchemaArgs {
    /// The label column (1/anomaly vs normal values); used for validation and evaluation.
    #[arg(long)]
    pub label: Option<String>,
    /// Values of the label column that mean normal (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub normal: Vec<String>,
    /// Columns to treat as categorical although they look numeric.
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Columns to treat as numeric.
    #[arg(long, value_delimiter = ',')]
    pub numeric: Vec<String>,
}

impl SchemaArgs {
    pub fn options(&self) -> SchemaOptions {
        SchemaOptions {
            categorical: self.categorical.clone(),
            numeric: self.numeric.clone(),
            label: self.label.as_ref().map(|column| LabelSpec {
                column: column.clone(),
                normal_values: self.normal.clone(),
            }),
            sample_rows: 0,
        }
    }
}

/// How a model is trained besides its detector: threshold rule, scaling, imputation, seed.
#[derive(Debug, Args, Clone)]
pub struct PipelineArgs {
    /// contamination:F, top:PERCENT, best-f1, best-accuracy, mad:K or fixed:V (default:
    /// best-f1 when labelled rows choose the threshold, else contamination:0.1 of the
    /// training scores).
    #[arg(long, value_parser = parse_threshold)]
    pub threshold: Option<ThresholdRule>,
    /// standard, minmax or none, fitted on the training rows.
    #[arg(long, value_parser = parse_scaling, default_value = "standard")]
    pub scaling: Scaling,
    /// Fill missing numeric cells with the training median instead of refusing them.
    #[arg(long)]
    pub impute: bool,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl PipelineArgs {
    pub fn preprocess(&self) -> deviant_data::PreprocessOptions {
        deviant_data::PreprocessOptions {
            scaling: self.scaling,
            impute: self.impute,
        }
    }
}

/// Parses `--scaling`.
pub fn parse_scaling(s: &str) -> Result<Scaling, String> {
    match s {
        "standard" => Ok(Scaling::Standard),
        "minmax" | "min-max" => Ok(Scaling::MinMax),
        "none" => Ok(Scaling::None),
        _ => Err(format!("`{s}` is not one of standard, minmax, none")),
    }
}

/// Parses `--threshold`: `contamination:F`, `top:PERCENT`, `best-f1`, `best-accuracy`,
/// `mad:K` or `fixed:VALUE`.
pub fn parse_threshold(s: &str) -> Result<ThresholdRule, String> {
    s.parse().map_err(|e: deviant_core::Error| e.to_string())
}

/// Reads a detector config file: `{"kind": …, "params": {…}}` as JSON or TOML.
pub fn read_config_file(path: &Path) -> Result<(String, Value)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value = if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?
    } else {
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?
    };
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .with_context(|| format!("{}: needs a string field `kind`", path.display()))?
        .to_string();
    Ok((kind, value.get("params").cloned().unwrap_or(Value::Null)))
}

/// A detector from `--detector`, `--config` and `--set`, in that order of precedence
/// (settings win over the file, the file over the defaults).
pub fn detector_config(
    kind: Option<&str>,
    config: Option<&PathBuf>,
    sets: &[String],
) -> Result<AnyConfig> {
    let (file_kind, mut params) = match config {
        Some(path) => read_config_file(path)?,
        None => (String::new(), Value::Object(Default::default())),
    };
    let kind = match (kind, file_kind.is_empty()) {
        (Some(k), _) => k.to_string(),
        (None, false) => file_kind,
        (None, true) => bail!("name a detector with --detector KIND (see `deviant models`)"),
    };
    if params.is_null() {
        params = Value::Object(Default::default());
    }
    let overrides = params_from_sets(sets)?;
    deviant_detectors::registry::merge_params(&mut params, &overrides);
    Ok(AnyConfig::from_params(&kind, &params)?)
}

/// Parses `--seeds`: a count N (seeds 1..=N), or a list (`4,9`; one seed alone as `7,`).
pub fn parse_seeds(spec: &str) -> Result<Vec<u64>> {
    if spec.contains(',') {
        return spec
            .strip_suffix(',')
            .unwrap_or(spec)
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .with_context(|| format!("`{s}` in --seeds is not a number"))
            })
            .collect();
    }
    let n: u64 = spec
        .parse()
        .with_context(|| format!("--seeds `{spec}` is neither a count nor a list"))?;
    anyhow::ensure!(n > 0, "--seeds needs at least one seed");
    Ok((1..=n).collect())
}

/// The detectors named in `kinds` with their `KIND.KEY=VALUE` settings.
pub fn detectors_with_sets(kinds: &[String], sets: &[String]) -> Result<Vec<AnyConfig>> {
    let params = params_from_sets(sets)?;
    if let Some(unknown) = params
        .as_object()
        .and_then(|m| m.keys().find(|k| !kinds.contains(k)))
    {
        anyhow::bail!(
            "--set names `{unknown}`, which is not among --detectors {}",
            kinds.join(",")
        );
    }
    kinds
        .iter()
        .map(|kind| {
            let own = params
                .get(kind)
                .cloned()
                .unwrap_or_else(|| serde_json::json!({}));
            Ok(AnyConfig::from_params(kind, &own)?)
        })
        .collect()
}

/// Parses a budget: `90s`, `10m`, `1h` or a bare number of seconds.
pub fn parse_budget(s: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = match s.trim().char_indices().find(|(_, c)| c.is_alphabetic()) {
        Some((i, _)) => s.trim().split_at(i),
        None => (s.trim(), "s"),
    };
    let scale = match unit {
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("`{s}`: the unit must be s, m or h")),
    };
    match number.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(std::time::Duration::from_secs_f64(v * scale)),
        _ => Err(format!(
            "`{s}` is not a positive duration such as 90s, 10m or 1h"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_as_count_or_list() {
        assert_eq!(parse_seeds("3").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_seeds("4,9").unwrap(), vec![4, 9]);
        assert_eq!(parse_seeds("7,").unwrap(), vec![7]);
        assert!(parse_seeds(",").is_err());
        assert!(parse_seeds("0").is_err());
        assert!(parse_seeds("x").is_err());
    }

    #[test]
    fn bench_sets_must_name_a_chosen_detector() {
        let kinds = vec!["pca".to_string()];
        assert!(detectors_with_sets(&kinds, &["ae.training.epochs=2".into()]).is_err());
        assert!(detectors_with_sets(&kinds, &["pca.variance=0.9".into()]).is_ok());
    }

    #[test]
    fn threshold_specs() {
        assert_eq!(
            parse_threshold("top:20"),
            Ok(ThresholdRule::TopPercent { percent: 20.0 })
        );
        assert_eq!(parse_threshold("best-f1"), Ok(ThresholdRule::BestF1));
        assert!(parse_threshold("contamination:2").is_err());
        assert!(parse_threshold("median").is_err());
    }

    #[test]
    fn budgets_read_with_their_units() {
        use std::time::Duration;
        assert_eq!(parse_budget("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_budget("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_budget("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_budget("45").unwrap(), Duration::from_secs(45));
        assert!(parse_budget("5d").unwrap_err().contains("unit"));
        assert!(parse_budget("-3m").is_err() && parse_budget("m").is_err());
    }
}
