use super::*;
use std::io::Write;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A numeric `bytes`, a categorical `proto`, the label `label` and one ignored column.
fn bytes_and_proto(normal: &str, ignored: &str) -> Schema {
    Schema {
        features: vec![
            ColumnSpec {
                name: "bytes".into(),
                kind: ColumnKind::Numeric,
            },
            ColumnSpec {
                name: "proto".into(),
                kind: ColumnKind::Categorical,
            },
        ],
        label: Some(LabelSpec {
            column: "label".into(),
            normal_values: vec![normal.into()],
        }),
        ignored: vec![ignored.into()],
    }
}

#[test]
fn json_rows_read_under_a_schema_with_clear_errors() {
    let schema = bytes_and_proto("0", "id");
    let rows = |text: &str| -> Vec<serde_json::Map<String, serde_json::Value>> {
        serde_json::from_str(text).unwrap()
    };
    let table = Table::from_json_rows(
        &schema,
        &rows(
            r#"[{"bytes": 5, "proto": "tcp", "label": 1, "id": 7},
                  {"bytes": "2.5", "proto": 6, "label": "0"}]"#,
        ),
        "request",
    )
    .unwrap();
    assert_eq!(table.columns[0], ColumnData::Numeric(vec![5.0, 2.5]));
    assert_eq!(
        table.columns[1],
        ColumnData::Categorical(vec!["tcp".into(), "6".into()])
    );
    assert_eq!(table.labels, Some(vec![1, 0]));
    let err = |text| {
        Table::from_json_rows(&schema, &rows(text), "request")
            .unwrap_err()
            .to_string()
    };
    assert!(err(r#"[{"bytes": 1}]"#).contains("line 1, column `proto`: missing"));
    assert!(err(r#"[{"bytes": 1, "proto": "a", "x": 2}]"#).contains("unknown column `x`"));
    assert!(err(r#"[{"bytes": "lots", "proto": "a"}]"#).contains("`lots` is not a number"));
    assert!(err("[]").contains("send at least one row"));
}

fn label(column: &str, normal: &str) -> SchemaOptions {
    SchemaOptions {
        label: Some(LabelSpec {
            column: column.into(),
            normal_values: vec![normal.into()],
        }),
        ..Default::default()
    }
}

#[test]
fn infers_kinds_and_maps_labels() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "a.csv",
        "x,proto,y,class\n1,tcp,2.5,ok\n2,udp,NA,bad\n",
    );
    let (schema, table) =
        read_table(&path, &ReadOptions::default(), &label("class", "ok")).unwrap();
    let kinds: Vec<_> = schema
        .features
        .iter()
        .map(|c| (c.name.as_str(), c.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("x", ColumnKind::Numeric),
            ("proto", ColumnKind::Categorical),
            ("y", ColumnKind::Numeric)
        ]
    );
    assert_eq!(table.labels, Some(vec![0, 1]));
    assert_eq!(table.lines, vec![2, 3]);
    match &table.columns[2] {
        ColumnData::Numeric(v) => assert!(v[1].is_nan()),
        other => panic!("expected numeric, got {other:?}"),
    }
}

#[test]
fn reads_gzip_and_tsv_and_headerless_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.tsv.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(b"1\ta\n2\tb\n").unwrap();
    gz.finish().unwrap();
    let read = ReadOptions {
        names: Some(vec!["n".into(), "c".into()]),
        ..Default::default()
    };
    let (schema, table) = read_table(&path, &read, &SchemaOptions::default()).unwrap();
    assert_eq!(schema.features[1].kind, ColumnKind::Categorical);
    assert_eq!(table.n_rows(), 2);
}

#[test]
fn overrides_and_unknown_override_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "c.csv", "code,v\n1,2\n3,4\n");
    let opts = SchemaOptions {
        categorical: vec!["code".into()],
        ..Default::default()
    };
    let schema = infer_schema(&path, &ReadOptions::default(), &opts).unwrap();
    assert_eq!(schema.features[0].kind, ColumnKind::Categorical);
    let bad = ReadOptions {
        ignore: vec!["nope".into()],
        ..Default::default()
    };
    let err = infer_schema(&path, &bad, &opts).unwrap_err();
    assert!(err.to_string().contains("`nope`"), "{err}");
}

#[test]
fn ragged_row_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "d.csv", "a,b\n1,2\n3\n");
    let err = read_table(&path, &ReadOptions::default(), &SchemaOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("d.csv") && msg.contains("line 3"), "{msg}");
}

#[test]
fn text_in_a_numeric_column_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "e.csv", "a,b\n1,2\n3,4\n");
    let schema = infer_schema(&path, &ReadOptions::default(), &SchemaOptions::default()).unwrap();
    let later = write(&dir, "f.csv", "a,b\n1,2\n3,oops\n");
    let err = TableReader::open(&later, &ReadOptions::default(), &schema)
        .unwrap()
        .read_all()
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("line 3") && msg.contains("`b`") && msg.contains("oops"),
        "{msg}"
    );
}

#[test]
fn empty_file_and_header_only_file_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(&dir, "g.csv", "");
    let err = infer_schema(&empty, &ReadOptions::default(), &SchemaOptions::default()).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    let header = write(&dir, "h.csv", "a,b\n");
    assert!(infer_schema(&header, &ReadOptions::default(), &SchemaOptions::default()).is_err());
}

#[test]
fn unknown_and_missing_columns_at_reading_time() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(&dir, "t.csv", "a,b\n1,2\n");
    let schema = infer_schema(&train, &ReadOptions::default(), &SchemaOptions::default()).unwrap();
    let extra = write(&dir, "x.csv", "a,b,c\n1,2,3\n");
    let err = TableReader::open(&extra, &ReadOptions::default(), &schema)
        .err()
        .unwrap();
    assert!(err.to_string().contains("unknown column `c`"), "{err}");
    let missing = write(&dir, "m.csv", "a\n1\n");
    let err = TableReader::open(&missing, &ReadOptions::default(), &schema)
        .err()
        .unwrap();
    assert!(err.to_string().contains("column `b` is missing"), "{err}");
}

#[test]
fn chunks_cover_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = std::iter::once("a\n".to_string())
        .chain((0..10).map(|i| format!("{i}\n")))
        .collect();
    let path = write(&dir, "k.csv", &text);
    let schema = infer_schema(&path, &ReadOptions::default(), &SchemaOptions::default()).unwrap();
    let mut reader = TableReader::open(&path, &ReadOptions::default(), &schema).unwrap();
    let mut sizes = Vec::new();
    while let Some(chunk) = reader.next_chunk(4).unwrap() {
        sizes.push(chunk.n_rows());
    }
    assert_eq!(sizes, vec![4, 4, 2]);
}

#[test]
fn npz_files_read_like_tables_with_y_as_the_label() {
    use ndarray::array;
    use ndarray_npy::NpzWriter;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("set.npz");
    let mut w = NpzWriter::new(File::create(&path).unwrap());
    w.add_array("X", &array![[1.0f64, 10.0], [2.0, 20.0], [3.0, f64::NAN]])
        .unwrap();
    w.add_array("y", &array![0i32, 1, 0]).unwrap();
    w.finish().unwrap();
    let schema = infer_schema(&path, &ReadOptions::default(), &SchemaOptions::default()).unwrap();
    assert_eq!(schema.feature_names().collect::<Vec<_>>(), ["x0", "x1"]);
    assert_eq!(schema.label.as_ref().unwrap().column, "y");
    let mut reader = TableReader::open(&path, &ReadOptions::default(), &schema).unwrap();
    assert!(reader.has_labels());
    let first = reader.next_chunk(2).unwrap().unwrap();
    assert_eq!(first.columns[1], ColumnData::Numeric(vec![10.0, 20.0]));
    assert_eq!(first.labels, Some(vec![0, 1]));
    let second = reader.next_chunk(2).unwrap().unwrap();
    assert_eq!(second.lines, vec![3]);
    assert!(matches!(&second.columns[1], ColumnData::Numeric(v) if v[0].is_nan()));
    assert!(reader.next_chunk(2).unwrap().is_none());

    // A model trained on more columns names the missing one.
    let mut wider = schema.clone();
    wider.features.push(ColumnSpec {
        name: "x2".into(),
        kind: ColumnKind::Numeric,
    });
    let err = TableReader::open(&path, &ReadOptions::default(), &wider)
        .err()
        .unwrap();
    assert!(err.to_string().contains("column `x2` is missing"), "{err}");
}

#[test]
fn read_all_stitches_chunks_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 70_000; // more than one reading chunk
    let mut text = String::from("n,c,label\n");
    for i in 0..rows {
        text.push_str(&format!(
            "{i},{},{}\n",
            if i % 2 == 0 { "a" } else { "b" },
            i % 3
        ));
    }
    let path = write(&dir, "big.csv", &text);
    let (_, table) = read_table(&path, &ReadOptions::default(), &label("label", "0")).unwrap();
    assert_eq!(table.n_rows(), rows);
    assert_eq!(table.lines[rows - 1], rows as u64 + 1);
    let ColumnData::Numeric(n) = &table.columns[0] else {
        panic!("n is numeric")
    };
    assert!(n.iter().enumerate().all(|(i, &v)| v == i as f64));
    assert!(matches!(&table.columns[1], ColumnData::Categorical(c) if c[rows - 1] == "b"));
    let labels = table.labels.unwrap();
    assert_eq!(labels[rows - 1], u8::from((rows - 1) % 3 != 0));
}

/// The text reader gives what the map reader gives, row for row.
#[test]
fn text_rows_read_like_map_rows() {
    let texts = [
        r#"{"bytes": 12, "proto": "tcp", "label": "normal", "note": [1, {"a": 2}]}"#,
        r#"{"proto": 6, "bytes": "3.5", "id": "x1"}"#,
        r#"{"by\u0074es": null, "proto": null, "label": "attack"}"#,
    ];
    let pass_over = ["id".to_string()];
    let mut from_text = TableBuilder::new(&bytes_and_proto("normal", "note"), "rows");
    let mut from_map = TableBuilder::new(&bytes_and_proto("normal", "note"), "rows");
    for (i, text) in texts.iter().enumerate() {
        let (cells, passed) = from_text.parse_json_text(text, i as u64 + 1, &pass_over);
        from_text.push_cells(cells.unwrap(), i as u64 + 1);
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).unwrap();
        from_map.push_json(&map, i as u64 + 1, &pass_over).unwrap();
        assert_eq!(passed[0].is_some(), i == 1, "{passed:?}");
    }
    let (a, b) = (from_text.take(), from_map.take());
    match (&a.columns[0], &b.columns[0]) {
        (ColumnData::Numeric(x), ColumnData::Numeric(y)) => {
            assert_eq!(x[..2], y[..2]);
            assert!(x[2].is_nan() && y[2].is_nan());
        }
        _ => panic!("numeric"),
    }
    assert_eq!(a.columns[1], b.columns[1]);
    assert_eq!(a.classes, b.classes);
}

#[test]
fn bad_rows_are_refused_with_their_reason_and_keep_their_id() {
    let builder = TableBuilder::new(&bytes_and_proto("normal", "note"), "rows");
    let pass_over = ["id".to_string()];
    for (text, expected) in [
        (
            r#"{"bytes": 1, "proto": "tcp", "zz": 1, "id": "a"}"#,
            "unknown column `zz`",
        ),
        (r#"{"proto": "tcp", "id": "a"}"#, "missing"),
        (
            r#"{"bytes": "many", "proto": "tcp", "id": "a"}"#,
            "`many` is not a number",
        ),
        (
            r#"{"bytes": [1], "proto": "tcp", "id": "a"}"#,
            "an array is not a cell value",
        ),
        ("[1, 2]", "found an array"),
        (r#"{"bytes": 1,"#, "not JSON"),
        (r#"{"bytes": 1, "proto": "tcp"} trailing"#, "not JSON"),
    ] {
        let (cells, passed) = builder.parse_json_text(text, 7, &pass_over);
        let error = cells.unwrap_err().to_string();
        assert!(error.contains(expected), "{text}: {error}");
        assert!(error.contains('7'), "{error}");
        if text.starts_with('{') && !expected.contains("JSON") {
            assert_eq!(passed, [Some("a".to_string())]);
        }
    }
}

#[test]
fn limits_stop_a_gzip_bomb_a_wide_header_a_long_line_and_a_long_cell() {
    let dir = tempfile::tempdir().unwrap();
    let limited = |limits: ReadLimits| ReadOptions {
        limits,
        ..ReadOptions::default()
    };
    // 8 MiB of rows in a few KiB of gzip.
    let bomb = dir.path().join("bomb.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&bomb).unwrap(),
        flate2::Compression::best(),
    );
    gz.write_all(b"a,b\n").unwrap();
    for _ in 0..(1 << 20) {
        gz.write_all(b"0,0\n").unwrap();
    }
    gz.finish().unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < 64 << 10);
    let small = limited(ReadLimits {
        max_bytes: 1 << 20,
        ..ReadLimits::default()
    });
    let err = expanded_bytes(&bomb, &small).unwrap_err().to_string();
    assert!(err.contains("expands past 1048576 bytes"), "{err}");
    let err = read_table(&bomb, &small, &SchemaOptions::default()).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("expands past"), "{err}");
    assert_eq!(
        expanded_bytes(&bomb, &ReadOptions::default()).unwrap(),
        4 + 4 * (1 << 20)
    );

    let header: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    let wide = write(&dir, "wide.csv", &format!("{}\n", header.join(",")));
    let narrow = limited(ReadLimits {
        max_columns: 10,
        ..ReadLimits::default()
    });
    let err = infer_schema(&wide, &narrow, &SchemaOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("20 columns, more than the 10"), "{err}");

    let long = write(&dir, "long.csv", &format!("a,b\n1,{}\n", "9".repeat(5000)));
    let short_lines = limited(ReadLimits {
        max_line_bytes: 1000,
        ..ReadLimits::default()
    });
    let err = infer_schema(&long, &short_lines, &SchemaOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("longer than 1000 bytes") && err.contains("--max-line-mb"),
        "{err}"
    );
    let short_cells = limited(ReadLimits {
        max_cell_bytes: 100,
        ..ReadLimits::default()
    });
    let err = infer_schema(&long, &short_cells, &SchemaOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2, column `b`") && err.contains("more than the 100 a cell may hold"),
        "{err}"
    );
}
