//! One JSON object read straight into a row's cells under a schema, with no map of its keys
//! in between: each key is looked up as it is read and each value read as its column needs
//! (a stream's rows are read this way, many times faster than through `serde_json::Value`).

use std::collections::HashMap;
use std::fmt;

use deviant_core::{ColumnKind, Schema};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::builder::Cell;
use super::parse_number;

/// Where a key's value goes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Slot {
    Feature(usize, ColumnKind),
    Label,
    Ignored,
}

/// The schema's keys and their places, built once per builder: in schema order (features,
/// label, ignored columns), so that rows whose keys come in that order — as a producer's
/// rows usually do — are matched by one comparison per key, and hashed for the others.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    ordered: Vec<(String, Slot)>,
    index: HashMap<String, usize>,
}

impl Keys {
    pub(super) fn new(schema: &Schema) -> Self {
        let mut ordered: Vec<(String, Slot)> = schema
            .features
            .iter()
            .enumerate()
            .map(|(j, c)| (c.name.clone(), Slot::Feature(j, c.kind)))
            .collect();
        if let Some(label) = &schema.label {
            ordered.push((label.column.clone(), Slot::Label));
        }
        ordered.extend(schema.ignored.iter().map(|n| (n.clone(), Slot::Ignored)));
        let index = ordered
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), i))
            .collect();
        Self { ordered, index }
    }

    /// The place of `key`, trying position `hint` first.
    fn find(&self, key: &str, hint: usize) -> Option<usize> {
        match self.ordered.get(hint) {
            Some((name, _)) if name == key => Some(hint),
            _ => self.index.get(key).copied(),
        }
    }
}

/// What one object held: each feature's cell (or why it could not be read), the label's
/// value, the values of the keys passed over, and the first key the schema does not know.
pub(super) struct ReadRow {
    pub cells: Vec<Option<Result<Cell, String>>>,
    pub class: Option<String>,
    pub passed: Vec<Option<String>>,
    pub unknown: Option<String>,
}

/// Reads one JSON object; `Err` says why the text is not one.
pub(super) fn read_row(
    text: &str,
    keys: &Keys,
    n_features: usize,
    pass_over: &[String],
) -> Result<ReadRow, String> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let row = RowSeed {
        keys,
        n_features,
        pass_over,
    }
    .deserialize(&mut deserializer)
    .map_err(|e| format!("not JSON: {e}"))?;
    deserializer.end().map_err(|e| format!("not JSON: {e}"))?;
    row
}

struct RowSeed<'a> {
    keys: &'a Keys,
    n_features: usize,
    pass_over: &'a [String],
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Result<ReadRow, String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// What a key turned out to be.
enum Key {
    /// A schema column, and its position among the keys.
    Slot(Slot, usize),
    PassOver(usize),
    Unknown(String),
}

#[derive(Clone, Copy)]
struct KeySeed<'a> {
    keys: &'a Keys,
    pass_over: &'a [String],
    /// Where the key is expected: just after the one before.
    hint: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a column name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        if let Some(at) = self.keys.find(key, self.hint) {
            return Ok(Key::Slot(self.keys.ordered[at].1, at));
        }
        Ok(match self.pass_over.iter().position(|p| p == key) {
            Some(k) => Key::PassOver(k),
            None => Key::Unknown(key.to_string()),
        })
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Result<ReadRow, String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of column values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut row = ReadRow {
            cells: vec![None; self.n_features],
            class: None,
            passed: vec![None; self.pass_over.len()],
            unknown: None,
        };
        let mut keys = KeySeed {
            keys: self.keys,
            pass_over: self.pass_over,
            hint: 0,
        };
        while let Some(key) = map.next_key_seed(keys)? {
            if let Key::Slot(_, at) = key {
                keys.hint = at + 1;
            }
            match key {
                Key::Slot(Slot::Feature(j, kind), _) => {
                    row.cells[j] = Some(map.next_value_seed(CellSeed(kind))?);
                }
                Key::Slot(Slot::Label, _) => {
                    row.class = map
                        .next_value_seed(CellSeed(ColumnKind::Categorical))?
                        .ok()
                        .map(|cell| match cell {
                            Cell::Category(text) => text,
                            Cell::Number(v) => v.to_string(),
                        });
                }
                Key::PassOver(k) => {
                    row.passed[k] = map
                        .next_value_seed(CellSeed(ColumnKind::Categorical))?
                        .ok()
                        .map(|cell| match cell {
                            Cell::Category(text) => text,
                            Cell::Number(v) => v.to_string(),
                        });
                }
                Key::Slot(Slot::Ignored, _) => {
                    map.next_value::<IgnoredAny>()?;
                }
                Key::Unknown(name) => {
                    map.next_value::<IgnoredAny>()?;
                    row.unknown.get_or_insert(name);
                }
            }
        }
        Ok(Ok(row))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err(
            "expected a JSON object of column values, found an array".into(),
        ))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err(
            "expected a JSON object of column values, found a string".into(),
        ))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err(
            "expected a JSON object of column values, found a number".into(),
        ))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.visit_f64(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.visit_f64(v as f64)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err(
            "expected a JSON object of column values, found a boolean".into(),
        ))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Err(
            "expected a JSON object of column values, found null".into()
        ))
    }
}

/// One value read as its column needs: a number (or numeric string, or null for a missing
/// cell) in a numeric column; a string, number or boolean (null: empty) in a categorical
/// one. Anything else is the reason it cannot be read.
struct CellSeed(ColumnKind);

impl<'de> DeserializeSeed<'de> for CellSeed {
    type Value = Result<Cell, String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CellSeed {
    type Value = Result<Cell, String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a cell value")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Ok(match self.0 {
            ColumnKind::Numeric => Cell::Number(v),
            ColumnKind::Categorical => Cell::Category(v.to_string()),
        }))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Ok(match self.0 {
            ColumnKind::Numeric => Cell::Number(v as f64),
            ColumnKind::Categorical => Cell::Category(v.to_string()),
        }))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Ok(match self.0 {
            ColumnKind::Numeric => Cell::Number(v as f64),
            ColumnKind::Categorical => Cell::Category(v.to_string()),
        }))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(match self.0 {
            ColumnKind::Numeric => parse_number(text)
                .map(Cell::Number)
                .map_err(|()| format!("`{text}` is not a number")),
            ColumnKind::Categorical => Ok(Cell::Category(text.to_string())),
        })
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(match self.0 {
            ColumnKind::Numeric => Err(format!("{v} is not a number")),
            ColumnKind::Categorical => Ok(Cell::Category(v.to_string())),
        })
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(match self.0 {
            ColumnKind::Numeric => Cell::Number(f64::NAN),
            ColumnKind::Categorical => Cell::Category(String::new()),
        }))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Err("an object is not a cell value".into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err("an array is not a cell value".into()))
    }
}
