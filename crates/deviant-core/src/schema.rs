use serde::{Deserialize, Serialize};

/// How a raw column is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Numeric,
    Categorical,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    pub name: String,
    pub kind: ColumnKind,
}

/// The raw columns a model reads: feature columns in order, the optional label column and
/// its normal values, and the columns to ignore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    pub features: Vec<ColumnSpec>,
    pub label: Option<LabelSpec>,
    #[serde(default)]
    pub ignored: Vec<String>,
}

/// A label column and the values in it that mean "normal"; every other value is an anomaly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSpec {
    pub column: String,
    pub normal_values: Vec<String>,
}

impl LabelSpec {
    /// 0 for a normal value, 1 for an anomaly.
    pub fn encode(&self, value: &str) -> u8 {
        let value = value.trim();
        u8::from(!self.normal_values.iter().any(|n| n == value))
    }
}

impl Schema {
    /// Numeric feature columns named `names`, no label, nothing ignored.
    pub fn numeric(names: &[String]) -> Self {
        Self {
            features: names
                .iter()
                .map(|name| ColumnSpec {
                    name: name.clone(),
                    kind: ColumnKind::Numeric,
                })
                .collect(),
            label: None,
            ignored: Vec::new(),
        }
    }

    pub fn feature_names(&self) -> impl Iterator<Item = &str> {
        self.features.iter().map(|c| c.name.as_str())
    }
}
