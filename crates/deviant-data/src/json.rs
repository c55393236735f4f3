//! Tables sent as JSON: an array of objects, or NDJSON (one object per line). They are
//! turned into CSV text once, on arrival, so every later read goes through the one CSV
//! reader with its schema inference and line-numbered errors.

use deviant_core::{Error, Result};
use serde_json::{Map, Value};

/// CSV text (header row first) for the JSON rows in `bytes`; `name` names the input in
/// errors. Columns are every key seen, in first-seen order; a row without a key leaves its
/// cell empty (missing), and nested values are refused.
pub fn json_to_csv(bytes: &[u8], name: &str) -> Result<Vec<u8>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::format(name, format!("not UTF-8 text: {e}")))?;
    let rows: Vec<(usize, Map<String, Value>)> = if text.trim_start().starts_with('[') {
        let values: Vec<Value> = serde_json::from_str(text)
            .map_err(|e| Error::format(name, format!("not a JSON array: {e}")))?;
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| object(v, name, "row", i + 1))
            .collect::<Result<_>>()?
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                let value = serde_json::from_str(line)
                    .map_err(|e| Error::format(name, format!("line {}: {e}", i + 1)))?;
                object(value, name, "line", i + 1)
            })
            .collect::<Result<_>>()?
    };
    if rows.is_empty() {
        return Err(Error::Empty {
            what: name.into(),
            remedy: "send at least one row".into(),
        });
    }
    let mut columns: Vec<&str> = Vec::new();
    for (_, row) in &rows {
        for key in row.keys() {
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| Error::internal(format!("writing CSV: {e}"));
    out.write_record(&columns).map_err(csv_error)?;
    for (at, row) in &rows {
        let cells = columns
            .iter()
            .map(|&column| match row.get(column) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(Value::Number(n)) => Ok(n.to_string()),
                Some(Value::Bool(b)) => Ok(b.to_string()),
                Some(_) => Err(Error::Cell {
                    file: name.into(),
                    line: *at as u64,
                    column: column.into(),
                    reason: "nested arrays and objects are not table cells".into(),
                }),
            })
            .collect::<Result<Vec<String>>>()?;
        out.write_record(&cells).map_err(csv_error)?;
    }
    out.into_inner()
        .map_err(|e| Error::internal(format!("writing CSV: {e}")))
}

fn object(value: Value, name: &str, unit: &str, at: usize) -> Result<(usize, Map<String, Value>)> {
    match value {
        Value::Object(map) => Ok((at, map)),
        other => Err(Error::format(
            name,
            format!("{unit} {at} is {other}, not an object of column values"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> String {
        String::from_utf8(json_to_csv(text.as_bytes(), "rows.json").unwrap()).unwrap()
    }

    #[test]
    fn arrays_and_ndjson_become_the_same_csv() {
        let expected = "a,b,c\n1,x,\n2.5,\"y, z\",true\n";
        assert_eq!(
            csv(r#"[{"a": 1, "b": "x"}, {"a": 2.5, "b": "y, z", "c": true}]"#),
            expected
        );
        assert_eq!(
            csv("{\"a\": 1, \"b\": \"x\"}\n\n{\"a\": 2.5, \"b\": \"y, z\", \"c\": true}\n"),
            expected
        );
    }

    #[test]
    fn bad_json_names_where() {
        let err = |text: &str| {
            json_to_csv(text.as_bytes(), "rows.json")
                .unwrap_err()
                .to_string()
        };
        assert!(err("{\"a\": 1}\n{\"a\": }\n").contains("line 2"));
        assert!(err("[1, 2]").contains("row 1 is 1, not an object"));
        assert!(err(r#"[{"a": [1]}]"#).contains("column `a`: nested"));
        assert!(err("[]").contains("at least one row"));
    }
}
