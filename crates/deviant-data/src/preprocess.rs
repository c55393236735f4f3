//! The [`Preprocessor`]: fitted on training rows only, saved inside the model, and applied
//! unchanged to every row scored later.

use deviant_core::metrics::quantile;
use deviant_core::{ColumnKind, Dataset, Error, Result, Schema};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::table::{ColumnData, Table};

/// How numeric columns are scaled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// (x − mean) / std of the training rows.
    #[default]
    Standard,
    /// (x − min) / (max − min) of the training rows.
    MinMax,
    None,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreprocessOptions {
    pub scaling: Scaling,
    /// Replace missing and non-finite numeric cells with the training median instead of
    /// refusing them.
    #[serde(default)]
    pub impute: bool,
}

/// One fitted input column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FittedColumn {
    /// Output = (x − offset) / scale; missing cells become `fill` when imputing.
    Numeric {
        name: String,
        offset: f64,
        scale: f64,
        fill: f64,
    },
    /// One output per training category plus a last one for values unseen in training.
    Categorical {
        name: String,
        categories: Vec<String>,
    },
}

/// Turns raw table columns into model features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocessor {
    pub options: PreprocessOptions,
    pub columns: Vec<FittedColumn>,
}

/// The slot name for categories not seen in training.
pub const UNSEEN: &str = "<unseen>";

impl Preprocessor {
    /// Fits scaling statistics and category lists on `table`, which must be training rows.
    pub fn fit(schema: &Schema, table: &Table, options: PreprocessOptions) -> Result<Self> {
        if table.n_rows() == 0 {
            return Err(Error::Empty {
                what: format!("the training rows of {}", table.source),
                remedy: "give at least one row".into(),
            });
        }
        let mut columns = Vec::with_capacity(schema.features.len());
        for (spec, data) in schema.features.iter().zip(&table.columns) {
            let fitted = match (spec.kind, data) {
                (ColumnKind::Numeric, ColumnData::Numeric(values)) => {
                    let finite: Vec<f64> =
                        values.iter().copied().filter(|v| v.is_finite()).collect();
                    if finite.len() < values.len() && !options.impute {
                        let i = values
                            .iter()
                            .position(|v| !v.is_finite())
                            .expect("a non-finite value");
                        return Err(non_finite(table, i, &spec.name, values[i]));
                    }
                    if finite.is_empty() {
                        return Err(Error::format(
                            &table.source,
                            format!("column `{}` has no numeric value to fit on", spec.name),
                        ));
                    }
                    let (offset, scale) = scaling_of(&finite, options.scaling);
                    FittedColumn::Numeric {
                        name: spec.name.clone(),
                        offset,
                        scale,
                        fill: quantile(&finite, 0.5),
                    }
                }
                (ColumnKind::Categorical, ColumnData::Categorical(values)) => {
                    let mut categories: Vec<String> = values.clone();
                    categories.sort_unstable();
                    categories.dedup();
                    FittedColumn::Categorical {
                        name: spec.name.clone(),
                        categories,
                    }
                }
                _ => unreachable!("tables are read under their schema"),
            };
            columns.push(fitted);
        }
        Ok(Self { options, columns })
    }

    /// The number of model features this produces.
    pub fn n_outputs(&self) -> usize {
        self.columns
            .iter()
            .map(|c| match c {
                FittedColumn::Numeric { .. } => 1,
                FittedColumn::Categorical { categories, .. } => categories.len() + 1,
            })
            .sum()
    }

    /// Model feature names: numeric columns keep their name, categories become `col=value`.
    pub fn output_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.n_outputs());
        for column in &self.columns {
            match column {
                FittedColumn::Numeric { name, .. } => names.push(name.clone()),
                FittedColumn::Categorical { name, categories } => {
                    names.extend(categories.iter().map(|c| format!("{name}={c}")));
                    names.push(format!("{name}={UNSEEN}"));
                }
            }
        }
        names
    }

    /// For each output column, the index of the input column it comes from (a one-hot
    /// group shares its column's), so per-output figures can be summed per user column.
    pub fn output_sources(&self) -> Vec<usize> {
        let mut sources = Vec::with_capacity(self.n_outputs());
        for (i, column) in self.columns.iter().enumerate() {
            let width = match column {
                FittedColumn::Numeric { .. } => 1,
                FittedColumn::Categorical { categories, .. } => categories.len() + 1,
            };
            sources.extend(std::iter::repeat_n(i, width));
        }
        sources
    }

    /// Applies the fitted transforms to `table` (read under the same schema).
    pub fn transform(&self, table: &Table) -> Result<Array2<f32>> {
        let n = table.n_rows();
        let width = self.n_outputs();
        let mut out = Array2::<f32>::zeros((n, width));
        if n == 0 || width == 0 {
            return Ok(out);
        }
        // Blocks of rows, each column written into the block while it is in cache: written
        // column by column over the whole matrix, every cell was a cache miss.
        const BLOCK: usize = 256;
        let cells = out
            .as_slice_mut()
            .expect("a new matrix is in standard layout");
        for (block, rows) in cells.chunks_mut(BLOCK * width).enumerate() {
            let first = block * BLOCK;
            let count = rows.len() / width;
            let mut at = 0;
            for (column, data) in self.columns.iter().zip(&table.columns) {
                match (column, data) {
                    (
                        FittedColumn::Numeric {
                            name,
                            offset,
                            scale,
                            fill,
                        },
                        ColumnData::Numeric(values),
                    ) => {
                        for (r, &v) in values[first..first + count].iter().enumerate() {
                            let v = if v.is_finite() {
                                v
                            } else if self.options.impute {
                                *fill
                            } else {
                                return Err(non_finite(table, first + r, name, v));
                            };
                            let scaled = ((v - offset) / scale) as f32;
                            if !scaled.is_finite() {
                                return Err(out_of_range(table, first + r, name, v));
                            }
                            rows[r * width + at] = scaled;
                        }
                        at += 1;
                    }
                    (
                        FittedColumn::Categorical { categories, .. },
                        ColumnData::Categorical(values),
                    ) => {
                        for (r, v) in values[first..first + count].iter().enumerate() {
                            let slot = categories.binary_search(v).unwrap_or(categories.len());
                            rows[r * width + at + slot] = 1.0;
                        }
                        at += categories.len() + 1;
                    }
                    _ => {
                        return Err(Error::format(
                            &table.source,
                            "the table was read under another schema than the preprocessor's",
                        ));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Transforms `table` into a [`Dataset`] with labels and feature names.
    pub fn dataset(&self, table: &Table) -> Result<Dataset> {
        Ok(Dataset {
            x: self.transform(table)?,
            labels: table.labels.clone().map(Into::into),
            feature_names: self.output_names(),
        })
    }
}

fn non_finite(table: &Table, row: usize, column: &str, value: f64) -> Error {
    let what = if value.is_nan() {
        "missing or NaN".to_string()
    } else {
        format!("{value}")
    };
    Error::Cell {
        file: table.source.clone(),
        line: table.lines[row],
        column: column.to_string(),
        reason: format!(
            "the value is {what}; fix the file or pass --impute to fill it with the training median"
        ),
    }
}

/// A finite cell that scaling takes beyond `f32`, which every detector computes in.
fn out_of_range(table: &Table, row: usize, column: &str, value: f64) -> Error {
    Error::Cell {
        file: table.source.clone(),
        line: table.lines[row],
        column: column.to_string(),
        reason: format!(
            "the value {value:e} is beyond the range of 32-bit floats once scaled like the \
             training rows; fix the value or check the column's units"
        ),
    }
}

/// (offset, scale) for a column; a constant column gets scale 1 so it never divides by zero.
fn scaling_of(values: &[f64], scaling: Scaling) -> (f64, f64) {
    let guard = |s: f64| if s > f64::EPSILON * 16.0 { s } else { 1.0 };
    match scaling {
        Scaling::None => (0.0, 1.0),
        Scaling::MinMax => {
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (min, guard(max - min))
        }
        Scaling::Standard => {
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            (mean, guard(var.sqrt()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{ReadOptions, SchemaOptions, TableReader, read_table};

    fn table(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn one_hot_with_an_unseen_slot_and_min_max_scaling() {
        let (_dir, path) = table("v,c\n0,a\n10,b\n5,a\n");
        let (schema, train) =
            read_table(&path, &ReadOptions::default(), &SchemaOptions::default()).unwrap();
        let options = PreprocessOptions {
            scaling: Scaling::MinMax,
            impute: false,
        };
        let pre = Preprocessor::fit(&schema, &train, options).unwrap();
        assert_eq!(pre.output_names(), ["v", "c=a", "c=b", "c=<unseen>"]);
        let x = pre.transform(&train).unwrap();
        assert_eq!(x.row(1).to_vec(), vec![1.0, 0.0, 1.0, 0.0]);
        let (_d2, later) = table("v,c\n20,z\n");
        let t = TableReader::open(&later, &ReadOptions::default(), &schema)
            .unwrap()
            .read_all()
            .unwrap();
        assert_eq!(
            pre.transform(&t).unwrap().row(0).to_vec(),
            vec![2.0, 0.0, 0.0, 1.0]
        );
    }

    #[test]
    fn standard_scaling_uses_training_statistics_and_survives_constant_columns() {
        let (_dir, path) = table("a,k\n1,7\n3,7\n");
        let (schema, train) =
            read_table(&path, &ReadOptions::default(), &SchemaOptions::default()).unwrap();
        let pre = Preprocessor::fit(&schema, &train, PreprocessOptions::default()).unwrap();
        let x = pre.transform(&train).unwrap();
        assert_eq!(x.column(0).to_vec(), vec![-1.0, 1.0]);
        assert_eq!(x.column(1).to_vec(), vec![0.0, 0.0]);
    }

    #[test]
    fn missing_values_are_refused_or_imputed() {
        let (_dir, path) = table("a,b\n1,2\n3,nan\n5,8\n");
        let (schema, train) =
            read_table(&path, &ReadOptions::default(), &SchemaOptions::default()).unwrap();
        let err = Preprocessor::fit(&schema, &train, PreprocessOptions::default()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("p.csv") && msg.contains("line 3") && msg.contains("`b`"),
            "{msg}"
        );
        let options = PreprocessOptions {
            scaling: Scaling::None,
            impute: true,
        };
        let pre = Preprocessor::fit(&schema, &train, options).unwrap();
        assert_eq!(pre.transform(&train).unwrap()[[1, 1]], 5.0);
    }

    #[test]
    fn infinite_values_are_refused_at_scoring_time() {
        let (_dir, path) = table("a\n1\n2\n");
        let (schema, train) =
            read_table(&path, &ReadOptions::default(), &SchemaOptions::default()).unwrap();
        let pre = Preprocessor::fit(&schema, &train, PreprocessOptions::default()).unwrap();
        let (_d2, later) = table("a\n1\ninf\n");
        let t = TableReader::open(&later, &ReadOptions::default(), &schema)
            .unwrap()
            .read_all()
            .unwrap();
        let err = pre.transform(&t).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn values_beyond_f32_once_scaled_are_refused_with_their_place() {
        let (_dir, path) = table("a\n1\n2\n");
        let (schema, train) =
            read_table(&path, &ReadOptions::default(), &SchemaOptions::default()).unwrap();
        let pre = Preprocessor::fit(&schema, &train, PreprocessOptions::default()).unwrap();
        let (_d2, later) = table("a\n1\n1e300\n");
        let t = TableReader::open(&later, &ReadOptions::default(), &schema)
            .unwrap()
            .read_all()
            .unwrap();
        let err = pre.transform(&t).unwrap_err();
        assert_eq!(err.cause(), deviant_core::Cause::Input);
        let msg = err.to_string();
        assert!(
            msg.contains("line 3") && msg.contains("`a`") && msg.contains("1e300"),
            "{msg}"
        );
    }

    #[test]
    fn round_trips_through_json() {
        let (_dir, path) = table("v,c\n0,a\n10,b\n");
        let (schema, train) =
            read_table(&path, &ReadOptions::default(), &SchemaOptions::default()).unwrap();
        let pre = Preprocessor::fit(&schema, &train, PreprocessOptions::default()).unwrap();
        let json = serde_json::to_string(&pre).unwrap();
        assert_eq!(serde_json::from_str::<Preprocessor>(&json).unwrap(), pre);
    }
}
