//! The `deviant` binary end to end on small generated tables: the happy path through `fit`,
//! `score`, `eval` and `models`, and each kind of bad input ending in a one-line error that
//! names the problem, with a non-zero exit code.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use predicates::prelude::*;
use predicates::str::contains;

mod common;

use common::{Workspace, deviant, http, table};

/// Scores `data` with `model` into `scores.csv` and reads back (line, score, flag) rows.
fn score_file(ws: &Workspace, model: &Path, data: &Path, extra: &[&str]) -> Vec<(usize, f64, u8)> {
    let out = ws.path("scores.csv");
    deviant()
        .arg("score")
        .arg(model)
        .arg(data)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .assert()
        .success();
    read_scores(&out)
}

fn read_scores(path: &Path) -> Vec<(usize, f64, u8)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("line,score,is_anomaly"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn fit_score_and_eval_a_labelled_table() {
    let ws = Workspace::new();
    let model = ws.fitted_model();
    assert!(model.join("manifest.json").is_file());

    // Scoring in chunks of 7 rows gives one output row per input row, in order.
    let test = ws.write("test.csv", &table(100, 4, 3));
    let rows = score_file(&ws, &model, &test, &["--chunk-rows", "7"]);
    assert_eq!(rows.len(), 100);
    assert_eq!(rows[0].0, 2, "line numbers count the header as line 1");
    assert_eq!(rows[99].0, 101);
    for (i, &(_, score, flag)) in rows.iter().enumerate() {
        let anomaly = i % 4 == 3;
        assert_eq!(flag == 1, anomaly, "row {i} has score {score}");
    }

    let metrics = ws.path("metrics.json");
    deviant()
        .arg("eval")
        .arg(&model)
        .arg(&test)
        .arg("--json")
        .arg(&metrics)
        .assert()
        .success()
        .stdout(contains("rows: 100 (25 anomalies)").and(contains("roc_auc")));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&metrics).unwrap()).unwrap();
    assert_eq!(json["roc_auc"].as_f64(), Some(1.0));
    assert_eq!(json["f1"].as_f64(), Some(1.0));

    // The report: one page, every chart as SVG, metrics.json; a second run replaces it.
    let report = ws.path("report");
    for _ in 0..2 {
        deviant()
            .arg("eval")
            .arg(&model)
            .arg(&test)
            .arg("--report")
            .arg(&report)
            .args(["--explain-rows", "3", "--bins", "12"])
            .assert()
            .success()
            .stdout(contains("report written to").and(contains("report.html")));
    }
    let mut files: Vec<String> = std::fs::read_dir(&report)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "anomaly-1.svg",
            "anomaly-2.svg",
            "anomaly-3.svg",
            "confusion.svg",
            "histogram.svg",
            "metrics.json",
            "metrics.svg",
            "pr.svg",
            "report.html",
            "roc.svg",
            "threshold.svg"
        ]
    );
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("deviant evaluation: pca on test.csv"));
    assert!(html.contains("best-f1, chosen on validation"));
    let histogram = std::fs::read_to_string(report.join("histogram.svg")).unwrap();
    assert_eq!(histogram.matches(r#"class="bar""#).count(), 2 * 12);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(json["evaluation"]["roc_auc"].as_f64(), Some(1.0));
    assert_eq!(json["top_rows"][0]["label"], 1, "the top row is an anomaly");
    assert!(
        json["top_rows"][0]["row"]
            .as_str()
            .unwrap()
            .starts_with("line ")
    );
}

#[test]
fn compare_ranks_learners_beside_detectors_and_a_learner_explains_its_columns() {
    let ws = Workspace::new();
    let data = ws.write("flows.csv", &table(600, 8, 21));
    let test = ws.write("flows-test.csv", &table(300, 8, 22));
    let json = ws.path("board.json");
    deviant()
        .arg("compare")
        .arg(&data)
        .args([
            "--label",
            "label",
            "--detectors",
            "gbt,logistic,mlp_classifier,iforest",
        ])
        .args(["--set", "mlp_classifier.training.epochs=3", "--test"])
        .arg(&test)
        .arg("--json")
        .arg(&json)
        .arg("--report")
        .arg(ws.path("report"))
        .arg("--save-models")
        .arg(ws.path("models"))
        .assert()
        .success()
        .stdout(
            contains("| flows | holdout | gbt | yes |")
                .and(contains("| flows | holdout | iforest | no |"))
                .and(contains("train F1")),
        );
    let records: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 4);
    for record in records {
        let kind = record["kind"].as_str().unwrap();
        assert_eq!(record["supervised"], kind != "iforest", "{kind}");
        assert!(
            record["train"]["roc_auc"].as_f64().unwrap() > 0.9,
            "{kind}: {record}"
        );
        assert!(
            record["roc_auc"].as_f64().unwrap() > 0.9,
            "{kind}: {record}"
        );
    }
    // The MLP's page charts its accuracy per epoch beside its loss.
    let page =
        std::fs::read_to_string(ws.path("report").join("detector-mlp_classifier.html")).unwrap();
    assert!(
        page.contains("Accuracy per epoch"),
        "no accuracy chart on the MLP's page"
    );

    // The saved learner's feature importance on train and on test (every column of this
    // table separates the classes, so which leads is not checked here; the engine's tests
    // plant one informative column among noise).
    let model = ws.path("models").join("flows").join("gbt-seed42");
    let metrics = ws.path("importance.json");
    deviant()
        .arg("eval")
        .arg(&model)
        .arg(&test)
        .args(["--importance", "--repeats", "2", "--train"])
        .arg(&data)
        .arg("--json")
        .arg(&metrics)
        .arg("--report")
        .arg(ws.path("why"))
        .assert()
        .success()
        .stdout(contains("drop on train").and(contains("drop on flows-test.csv")));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&metrics).unwrap()).unwrap();
    assert_eq!(json["importance"].as_array().unwrap().len(), 2);
    assert_eq!(json["importance"][0][1].as_array().unwrap().len(), 4);
    assert!(ws.path("why").join("importance-train.svg").is_file());

    // A learner refuses a table without labels, saying what to do.
    let unlabelled = ws.write("unlabelled.csv", "a,b\n1,2\n3,4\n5,6\n");
    deviant()
        .arg("fit")
        .arg(&unlabelled)
        .args(["--detector", "gbt", "--out"])
        .arg(ws.path("m"))
        .assert()
        .code(2)
        .stderr(contains("--label"));
    // … and compare needs the label column too.
    deviant()
        .arg("compare")
        .arg(&unlabelled)
        .assert()
        .failure()
        .stderr(contains("--label COLUMN"));
}

#[test]
fn eval_breaks_results_down_by_each_value_of_a_multi_class_label() {
    let ws = Workspace::new();
    // The binary table with its anomalies named by two attack types.
    let named = |text: String| {
        let mut out = String::new();
        let mut attacks = 0;
        for line in text.lines() {
            let named = match line.rsplit_once(',') {
                Some((head, "1")) => {
                    attacks += 1;
                    format!("{head},{}", ["smurf", "neptune"][attacks % 2])
                }
                Some((head, "0")) => format!("{head},normal"),
                _ => line.to_string(),
            };
            writeln!(out, "{named}").unwrap();
        }
        out
    };
    let train = ws.write("train.csv", &named(table(400, 8, 31)));
    let test = ws.write("test.csv", &named(table(200, 8, 32)));
    let model = ws.path("model");
    deviant()
        .arg("fit")
        .arg(&train)
        .args([
            "--detector",
            "random_forest",
            "--label",
            "label",
            "--normal",
            "normal",
            "--out",
        ])
        .arg(&model)
        .assert()
        .success();
    let json = ws.path("eval.json");
    deviant()
        .arg("eval")
        .arg(&model)
        .arg(&test)
        .arg("--json")
        .arg(&json)
        .arg("--report")
        .arg(ws.path("report"))
        .assert()
        .success()
        .stdout(
            contains("label value")
                .and(contains("smurf"))
                .and(contains("neptune")),
        );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let classes = json["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 3, "{json}");
    let normal = classes.iter().find(|c| c["class"] == "normal").unwrap();
    assert_eq!(normal["normal"], true);
    for attack in ["smurf", "neptune"] {
        let c = classes.iter().find(|c| c["class"] == attack).unwrap();
        assert!(c["flagged_share"].as_f64().unwrap() > 0.5, "{c}");
    }
    let flagged: u64 = classes.iter().map(|c| c["flagged"].as_u64().unwrap()).sum();
    let confusion = &json["confusion"];
    assert_eq!(
        flagged,
        confusion["tp"].as_u64().unwrap() + confusion["fp"].as_u64().unwrap()
    );
    let shares: f64 = classes
        .iter()
        .map(|c| c["share_of_flagged"].as_f64().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-9, "{shares}");
    let page = std::fs::read_to_string(ws.path("report").join("report.html")).unwrap();
    assert!(page.contains("Each label value"));

    // One learner per value: precision, recall and F1 per attack.
    let per_class = ws.path("per-class");
    deviant()
        .arg("fit")
        .arg(&train)
        .args([
            "-d",
            "random_forest",
            "--label",
            "label",
            "--normal",
            "normal",
            "--per-class",
            "--out",
        ])
        .arg(&per_class)
        .assert()
        .success()
        .stdout(contains("trained 3 models of random_forest"));
    let json = ws.path("per-class.json");
    deviant()
        .arg("eval")
        .arg(&per_class)
        .arg(&test)
        .arg("--json")
        .arg(&json)
        .assert()
        .success()
        .stdout(contains("precision").and(contains("macro f1")));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    for c in json["classes"].as_array().unwrap() {
        assert!(c["support"].as_u64().unwrap() > 0, "{c}");
        assert!(c["f1"].as_f64().unwrap() >= 0.0, "{c}");
    }
    assert!(json["accuracy"].as_f64().unwrap() > 0.5, "{json}");
    // score takes one model, and says which to give it.
    deviant()
        .arg("score")
        .arg(&per_class)
        .arg(&test)
        .assert()
        .code(2)
        .stderr(contains("class-N"));
    // Per-class models take no report, and an unsupervised detector cannot be one.
    deviant()
        .arg("eval")
        .arg(&per_class)
        .arg(&test)
        .arg("--report")
        .arg(ws.path("no-report"))
        .assert()
        .failure()
        .stderr(contains("one model per class"));
    deviant()
        .arg("fit")
        .arg(&train)
        .args([
            "-d",
            "iforest",
            "--label",
            "label",
            "--normal",
            "normal",
            "--per-class",
            "--out",
        ])
        .arg(ws.path("no"))
        .assert()
        .code(2)
        .stderr(contains("supervised learner"));
}

#[test]
fn score_writes_to_standard_output_without_out() {
    let ws = Workspace::new();
    let model = ws.fitted_model();
    let test = ws.write("test.csv", &table(10, 0, 4));
    let output = deviant()
        .arg("score")
        .arg(&model)
        .arg(&test)
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text.lines().count(), 11);
}

#[test]
fn autoencoder_from_a_toml_config_and_a_top_percent_threshold() {
    let ws = Workspace::new();
    let train = ws.write("train.csv", &table(300, 0, 5));
    let config = ws.write(
        "ae.toml",
        "kind = \"ae\"\n[params]\nhidden = [8, 3]\n[params.training]\nepochs = 3\nbatch_size = 64\n",
    );
    let model = ws.path("ae-model");
    deviant()
        .arg("fit")
        .arg("--config")
        .arg(&config)
        .args(["--threshold", "top:25", "--label", "label", "--out"])
        .arg(&model)
        .arg(&train)
        .assert()
        .success()
        .stdout(contains("trained ae on 300 rows"));
    let manifest = std::fs::read_to_string(model.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"hidden\": [\n") || manifest.contains("\"hidden\":["));

    let test = ws.write("test.csv", &table(40, 0, 6));
    let flagged: usize = score_file(&ws, &model, &test, &[])
        .iter()
        .map(|r| r.2 as usize)
        .sum();
    assert_eq!(flagged, 10, "top 25 % of 40 rows");
}

#[test]
fn models_lists_every_kind_with_defaults() {
    deviant()
        .arg("models")
        .assert()
        .success()
        .stdout(contains("ae").and(contains("pca")).and(contains("iforest")))
        .stdout(contains("\"n_trees\":100"))
        .stdout(contains("gbt").and(contains("supervised: trains on labelled rows")));
}

#[test]
fn threads_size_the_runtime_and_zero_is_refused() {
    let ws = Workspace::new();
    let data = ws.write("train.csv", &table(60, 3, 1));
    deviant()
        .args(["--threads", "1", "fit", "-d", "iforest", "--out"])
        .arg(ws.path("m"))
        .arg(&data)
        .assert()
        .success();
    deviant()
        .args(["--threads", "0", "models"])
        .assert()
        .code(2)
        .stderr(contains("threads").and(contains("at least 1")));
}

#[test]
fn the_device_is_named_and_a_backend_this_build_lacks_is_refused() {
    let ws = Workspace::new();
    let data = ws.write("train.csv", &table(60, 3, 1));
    // `auto` says what it chose (the CPU without a GPU); the model scores on the CPU.
    deviant()
        .args([
            "--device",
            "auto",
            "fit",
            "-d",
            "ae",
            "--set",
            "training.epochs=1",
            "--out",
        ])
        .arg(ws.path("m"))
        .arg(&data)
        .assert()
        .success()
        .stderr(contains("device auto chose"));
    let scores = score_file(&ws, &ws.path("m"), &data, &["--device", "cpu"]);
    assert_eq!(scores.len(), 60);
    deviant()
        .args(["--device", "tpu", "models"])
        .assert()
        .code(2)
        .stderr(contains("cpu, wgpu, wgpu:N or auto"));
    if cfg!(not(feature = "wgpu")) {
        deviant()
            .args(["--device", "wgpu", "models"])
            .assert()
            .code(2)
            .stderr(contains("--features wgpu"));
    }
}

#[test]
fn models_json_prints_the_catalogue() {
    let out = deviant().args(["models", "--json"]).output().unwrap();
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let seq2seq = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "seq2seq")
        .expect("seq2seq is listed");
    assert_eq!(seq2seq["layouts"], serde_json::json!(["windows"]));
    assert_eq!(seq2seq["cost"], "deep");
    assert_eq!(seq2seq["defaults"]["kind"], "seq2seq");
    let keys: Vec<&str> = seq2seq["search_space"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"training.epochs"), "{keys:?}");
}

#[test]
fn an_empty_file_is_refused() {
    let ws = Workspace::new();
    let empty = ws.write("empty.csv", "");
    deviant()
        .args(["fit", "-d", "pca", "--out"])
        .arg(ws.path("m"))
        .arg(&empty)
        .assert()
        .failure()
        .stderr(contains("empty.csv is empty"));
    assert!(!ws.path("m").exists(), "no model is written on failure");
}

#[test]
fn a_ragged_row_is_refused_with_its_line() {
    let ws = Workspace::new();
    let mut text = table(20, 0, 7);
    text.push_str("1.0,2.0\n");
    let ragged = ws.write("ragged.csv", &text);
    deviant()
        .args(["fit", "-d", "pca", "--out"])
        .arg(ws.path("m"))
        .arg(&ragged)
        .assert()
        .failure()
        .stderr(contains(
            "ragged.csv: line 22 has 2 fields but the header has 5",
        ));
}

#[test]
fn a_nan_cell_is_refused_unless_imputed() {
    let ws = Workspace::new();
    let mut text = table(20, 0, 8);
    text.push_str("0.1,NaN,0.2,tcp,0\n");
    let nan = ws.write("nan.csv", &text);
    deviant()
        .args(["fit", "-d", "pca", "--label", "label", "--out"])
        .arg(ws.path("m"))
        .arg(&nan)
        .assert()
        .failure()
        .stderr(contains("nan.csv: line 22, column `b`").and(contains("--impute")));
    deviant()
        .args(["fit", "-d", "pca", "--label", "label", "--impute", "--out"])
        .arg(ws.path("m"))
        .arg(&nan)
        .assert()
        .success();
}

#[test]
fn unknown_and_missing_columns_at_scoring_are_named() {
    let ws = Workspace::new();
    let model = ws.fitted_model();
    let extra = ws.write("extra.csv", "a,b,c,proto,extra,label\n0,0,0,tcp,5,0\n");
    deviant()
        .arg("score")
        .arg(&model)
        .arg(&extra)
        .assert()
        .failure()
        .stderr(contains("unknown column `extra`").and(contains("--ignore extra")));
    assert_eq!(
        score_file(&ws, &model, &extra, &["--ignore", "extra"]).len(),
        1
    );
    let missing = ws.write("missing.csv", "a,c,proto\n0,0,tcp\n");
    deviant()
        .arg("score")
        .arg(&model)
        .arg(&missing)
        .assert()
        .failure()
        .stderr(contains("column `b` is missing"));
}

#[test]
fn a_model_of_another_format_version_is_refused() {
    let ws = Workspace::new();
    let model = ws.fitted_model();
    let manifest = model.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("\"format_version\": 2"));
    std::fs::write(
        &manifest,
        text.replace("\"format_version\": 2", "\"format_version\": 99"),
    )
    .unwrap();
    let test = ws.write("test.csv", &table(5, 0, 9));
    deviant()
        .arg("score")
        .arg(&model)
        .arg(&test)
        .assert()
        .failure()
        .stderr(contains("format version 99").and(contains("retrain")));
}

#[test]
fn unknown_detectors_and_parameters_are_refused() {
    let ws = Workspace::new();
    let train = ws.write("train.csv", &table(20, 0, 10));
    deviant()
        .args(["fit", "-d", "nope", "--out"])
        .arg(ws.path("m"))
        .arg(&train)
        .assert()
        .failure()
        .stderr(
            contains("unknown detector `nope`")
                .and(contains("known: ae,").and(contains("iforest"))),
        );
    deviant()
        .args(["fit", "-d", "iforest", "--set", "trees=5", "--out"])
        .arg(ws.path("m"))
        .arg(&train)
        .assert()
        .failure()
        .stderr(contains("unknown field `trees`"));
    deviant()
        .args(["fit", "-d", "pca", "--threshold", "top:150", "--out"])
        .arg(ws.path("m"))
        .arg(&train)
        .assert()
        .failure()
        .stderr(contains("outside (0, 100)"));
}

#[test]
fn bench_perf_times_a_detector_and_exports_its_rows() {
    let ws = Workspace::new();
    let (rows, json) = (ws.path("rows.npy"), ws.path("perf.json"));
    deviant()
        .args([
            "bench",
            "perf",
            "--rows",
            "600",
            "--features",
            "7",
            "--score-repeats",
            "1",
        ])
        .args([
            "--set",
            "training.epochs=2",
            "--set",
            "hidden=[4,2]",
            "--export",
        ])
        .arg(&rows)
        .arg("--json")
        .arg(&json)
        .assert()
        .success();
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(record["rows"], 600);
    assert_eq!(record["epoch_seconds"].as_array().unwrap().len(), 2);
    assert!(record["score_rows_per_second"].as_f64().unwrap() > 0.0);
    assert!(record["single_row_rows_per_second"].as_f64().unwrap() > 0.0);
    assert!(record["peak_rss_bytes"].as_u64().unwrap() > 0);
    // Layers 7-4-2-4-7: 2 × (28 + 8 + 8 + 28) FLOPs per row forward.
    assert_eq!(record["forward_flops_per_row"], 144.0);
    let rate = record["matmul_flops_per_second"].as_f64().unwrap();
    let floor = record["floor_epoch_seconds"].as_f64().unwrap();
    assert!((floor - 3.0 * 144.0 * 600.0 / rate).abs() <= 1e-9 * floor.max(1.0));
    // An .npy header, then 600 × 7 little-endian f32 values.
    let bytes = std::fs::read(&rows).unwrap();
    assert!(bytes.starts_with(b"\x93NUMPY"));
    assert!(bytes.len() > 600 * 7 * 4);
}

/// Writes `X` (rows × 3) and `y` into an `.npz`; every `anomaly_every`-th row is an anomaly
/// lying far from the others.
fn write_npz(path: &Path, rows: usize, anomaly_every: usize) -> PathBuf {
    use ndarray_npy::NpzWriter;
    let x = ndarray::Array2::from_shape_fn((rows, 3), |(i, j)| {
        let anomaly = anomaly_every > 0 && i % anomaly_every == anomaly_every - 1;
        let base = ((i * 13 + j * 7) % 17) as f64 / 17.0;
        if anomaly { base + 5.0 } else { base }
    });
    let y = ndarray::Array1::from_shape_fn(rows, |i| {
        i64::from(anomaly_every > 0 && i % anomaly_every == anomaly_every - 1)
    });
    let mut npz = NpzWriter::new(std::fs::File::create(path).unwrap());
    npz.add_array("X", &x).unwrap();
    npz.add_array("y", &y).unwrap();
    npz.finish().unwrap();
    path.to_path_buf()
}

#[test]
fn npz_files_train_and_score_with_y_as_the_label() {
    let ws = Workspace::new();
    let train = write_npz(&ws.path("train.npz"), 200, 10);
    let test = write_npz(&ws.path("test.npz"), 50, 5);
    let model = ws.path("model");
    deviant()
        .args(["fit", "-d", "iforest", "--out"])
        .arg(&model)
        .arg(&train)
        .assert()
        .success()
        .stdout(contains("trained iforest on 180 rows x 3 features"));
    deviant()
        .arg("eval")
        .arg(&model)
        .arg(&test)
        .assert()
        .success()
        .stdout(contains("rows: 50 (10 anomalies)").and(contains("roc_auc              1.0000")));
    let rows = score_file(&ws, &model, &test, &[]);
    assert_eq!(
        (rows.len(), rows[0].0, rows[49].0),
        (50, 1, 50),
        "row numbers from 1"
    );
}

#[test]
fn bench_adbench_chooses_a_learner_by_cv_and_labels_a_share_of_anomalies() {
    let ws = Workspace::new();
    let sets = ws.path("sets");
    std::fs::create_dir_all(sets.join("npz")).unwrap();
    write_npz(&sets.join("npz/1_alpha.npz"), 600, 10);
    let json = ws.path("cv.json");
    deviant()
        .args([
            "bench",
            "adbench",
            "--detectors",
            "gbt,logistic,iforest",
            "--seeds",
            "1,",
        ])
        .args(["--cv-folds", "2", "--data"])
        .arg(&sets)
        .arg("--json")
        .arg(&json)
        .assert()
        .success()
        .stdout(contains("Best supervised learner by 2-fold CV").and(contains("| alpha |")));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let chosen = &report["chosen_by_cv"][0];
    assert!(
        ["gbt", "logistic"].contains(&chosen["detector"].as_str().unwrap()),
        "{chosen}"
    );
    assert!(chosen["test_roc_auc"].as_f64().unwrap() > 0.9, "{chosen}");
    deviant()
        .args(["bench", "adbench", "--detectors", "gbt", "--seeds", "1,"])
        .args(["--labelled-anomalies", "0.05", "--data"])
        .arg(&sets)
        .assert()
        .success()
        .stdout(contains("| alpha |"));
    for (flags, message) in [
        (["--detectors", "gbt", "--cv-folds", "1"], "2 folds or more"),
        (
            ["--detectors", "iforest", "--cv-folds", "3"],
            "name some with --detectors",
        ),
        (
            ["--detectors", "gbt", "--labelled-anomalies", "2"],
            "share in (0, 1]",
        ),
    ] {
        deviant()
            .args(["bench", "adbench", "--seeds", "1,"])
            .args(flags)
            .arg("--data")
            .arg(&sets)
            .assert()
            .failure()
            .stderr(contains(message));
    }
}

#[test]
fn bench_adbench_runs_every_detector_on_every_set_or_says_why_not() {
    let ws = Workspace::new();
    let sets = ws.path("sets");
    std::fs::create_dir_all(sets.join("npz")).unwrap();
    write_npz(&sets.join("npz/1_alpha.npz"), 300, 10);
    write_npz(&sets.join("npz/2_beta.npz"), 1_500, 20);
    std::fs::write(
        sets.join("reference_aucroc.md"),
        "## ADBench\n\n| dataset | IForest | DAGMM |\n|---|---|---|\n| alpha | 0.99 | 0.5 |\n",
    )
    .unwrap();
    let json = ws.path("adbench.json");
    let markdown = ws.path("adbench.md");
    deviant()
        .args([
            "bench",
            "adbench",
            "--detectors",
            "iforest,ae",
            "--seeds",
            "2",
            "--published",
        ])
        .args(["--set", "ae.training.epochs=2", "--data"])
        .arg(&sets)
        .arg("--json")
        .arg(&json)
        .arg("--markdown")
        .arg(&markdown)
        .arg("--report")
        .arg(ws.path("adbench-report"))
        .assert()
        .success()
        .stdout(
            contains("| dataset | iforest | ae |")
                .and(contains("| alpha | 1.0000 (0.9900) |"))
                .and(contains("| iforest | 2 |"))
                .and(contains("| 1 of 1 |")),
        );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["records"].as_array().unwrap().len(), 2 * 2 * 2);
    assert_eq!(report["per_dataset"].as_array().unwrap().len(), 2 * 2);
    assert_eq!(report["overall"][0]["detector"], "iforest");
    assert_eq!(report["overall"][0]["datasets"], 2);
    assert!(report["overall"][0]["mean_rank"].as_f64().unwrap() >= 1.0);
    assert_eq!(report["per_dataset"][0]["published"], 0.99);
    assert!(
        std::fs::read_to_string(&markdown)
            .unwrap()
            .contains("| detector | sets | ROC AUC |")
    );
    let html = std::fs::read_to_string(ws.path("adbench-report/report.html")).unwrap();
    assert!(html.contains("Over all sets") && html.contains("within ±0.02 of ADBench"));
    for set in ["alpha", "beta"] {
        let roc =
            std::fs::read_to_string(ws.path(&format!("adbench-report/roc-{set}.svg"))).unwrap();
        assert_eq!(
            roc.matches(r#"class="curve""#).count(),
            2,
            "iforest and ae on {set}"
        );
    }

    // Training far past the budget is cancelled; the run is listed as skipped.
    deviant()
        .args(["bench", "adbench", "--detectors", "ae", "--seeds", "1"])
        .args([
            "--set",
            "ae.training.epochs=1000000",
            "--set",
            "ae.training.patience=0",
        ])
        .args(["--datasets", "alpha", "--budget", "1", "--data"])
        .arg(&sets)
        .assert()
        .success()
        .stdout(contains("| alpha | skipped |"))
        .stdout(contains(
            "alpha / ae / seed 1: the fit ran past its budget of 1 s",
        ));

    // Every trial's model is saved, and `deviant score` loads it.
    deviant()
        .args(["bench", "adbench", "--detectors", "iforest", "--seeds", "1"])
        .args(["--datasets", "alpha", "--data"])
        .arg(&sets)
        .arg("--save-models")
        .arg(ws.path("models"))
        .assert()
        .success();
    deviant()
        .arg("score")
        .arg(ws.path("models/alpha/iforest-seed1"))
        .arg(sets.join("npz/1_alpha.npz"))
        .arg("--out")
        .arg(ws.path("alpha-scores.csv"))
        .assert()
        .success()
        .stderr(contains("scored 300 rows"));

    deviant()
        .args(["bench", "adbench", "--datasets", "gamma", "--data"])
        .arg(&sets)
        .assert()
        .failure()
        .stderr(contains("no set `gamma`"));
}

/// NSL-KDD-shaped lines: 41 features (symbolic ones at 1–3), the label, the difficulty.
/// Attacks (every `attack_every`-th row) have large byte counts and the `S0` flag.
fn nsl_rows(rows: usize, attack_every: usize) -> String {
    let mut text = String::new();
    for i in 0..rows {
        let attack = i % attack_every == 0;
        let mut fields: Vec<String> = (0..41).map(|j| ((i * 7 + j * 3) % 5).to_string()).collect();
        fields[1] = ["tcp", "udp"][i % 2].into();
        fields[2] = ["http", "smtp", "private"][i % 3].into();
        fields[3] = if attack { "S0" } else { "SF" }.into();
        if attack {
            fields[4] = (90_000 + i).to_string();
            fields[22] = "500".into();
        }
        fields.push(if attack { "neptune" } else { "normal" }.into());
        fields.push("18".into());
        writeln!(text, "{}", fields.join(",")).unwrap();
    }
    text
}

#[test]
fn nslkdd_data_and_bench_from_a_folder_of_release_files() {
    let ws = Workspace::new();
    let data = ws.path("nsl");
    std::fs::create_dir(&data).unwrap();
    deviant()
        .args(["data", "nslkdd", "--out"])
        .arg(ws.path("out"))
        .arg("--data-dir")
        .arg(&data)
        .assert()
        .failure()
        .stderr(contains("KDDTrain+_20Percent.txt").and(contains("--data-dir FOLDER")));
    for (name, rows) in [
        ("KDDTrain+_20Percent.txt", 500),
        ("KDDTest+.txt", 200),
        ("KDDTest-21.txt", 100),
    ] {
        std::fs::write(data.join(name), nsl_rows(rows, 4)).unwrap();
    }
    deviant()
        .args(["data", "nslkdd", "--out"])
        .arg(ws.path("out"))
        .arg("--data-dir")
        .arg(&data)
        .assert()
        .success()
        .stdout(contains("test-21.csv").and(contains("100 rows,     25 anomalies")));
    let json = ws.path("nsl.json");
    deviant()
        .args([
            "bench",
            "nslkdd",
            "--detectors",
            "iforest,ecod,gbt",
            "--seeds",
            "1",
            "--data-dir",
        ])
        .arg(&data)
        .arg("--json")
        .arg(&json)
        .arg("--report")
        .arg(ws.path("report"))
        .assert()
        .success()
        .stdout(
            contains("| nsl-kdd test+ | nslkdd | ecod | no |")
                .and(contains("| nsl-kdd test-21 |"))
                .and(contains("| nsl-kdd test+ | nslkdd | gbt | yes |"))
                .and(contains("train ROC AUC")),
        );
    for file in [
        "report.html",
        "roc-nsl-kdd-test.svg",
        "pr-nsl-kdd-test-21.svg",
        "detector-iforest.html",
        "detector-ecod.html",
    ] {
        assert!(ws.path("report").join(file).is_file(), "{file}");
    }
    let roc = std::fs::read_to_string(ws.path("report").join("roc-nsl-kdd-test-21.svg")).unwrap();
    assert_eq!(
        roc.matches(r#"class="curve""#).count(),
        3,
        "one curve per detector"
    );
    let records: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 3 * 2, "three detectors × two test files");
    for r in records {
        assert_eq!(r["threshold_rule"], "best-f1 on validation");
        assert!(r["roc_auc"].as_f64().unwrap() > 0.75, "{r}");
    }

    // `--scaling` replaces the protocol's min-max: KNN distances, and so its threshold,
    // grow when the 0–4 columns keep their range.
    let knn_threshold = |scaling: &str| -> f64 {
        let json = ws.path(&format!("knn-{scaling}.json"));
        deviant()
            .args(["bench", "nslkdd", "--detectors", "knn", "--seeds", "1"])
            .args(["--scaling", scaling, "--data-dir"])
            .arg(&data)
            .arg("--json")
            .arg(&json)
            .assert()
            .success();
        let records: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        records[0]["threshold"].as_f64().unwrap()
    };
    let (min_max, unscaled) = (knn_threshold("minmax"), knn_threshold("none"));
    assert!(unscaled > 2.0 * min_max, "{unscaled} vs {min_max}");
    deviant()
        .args(["bench", "nslkdd", "--scaling", "zscore", "--data-dir"])
        .arg(&data)
        .assert()
        .failure()
        .stderr(contains("not one of standard, minmax, none"));
}

#[test]
fn serve_answers_on_a_socket_and_guards_its_token() {
    let ws = Workspace::new();
    deviant()
        .args(["serve", "--no-auth", "--addr", "0.0.0.0:0", "--home"])
        .arg(ws.path("home"))
        .assert()
        .failure()
        .stderr(contains("--no-auth is only allowed on a loopback address"));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("deviant"))
        .args(["serve", "--addr", &addr, "--home"])
        .arg(ws.path("home"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .take(3)
            .map(Result::unwrap)
            .collect::<Vec<_>>()
    });
    let started = std::time::Instant::now();
    let health = loop {
        match http(&addr, "GET", "/api/v1/health", None) {
            Ok(answer) => break answer,
            Err(_) if started.elapsed().as_secs() < 30 => {
                std::thread::sleep(std::time::Duration::from_millis(100))
            }
            Err(e) => panic!("the server never answered: {e}"),
        }
    };
    let unauthorised = http(&addr, "GET", "/api/v1/runs", None).unwrap();
    let lines = lines.join().unwrap();
    let token = lines[2].trim().to_string();
    let authorised = http(&addr, "GET", "/api/v1/runs", Some(&token)).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(health.0, 200, "{health:?}");
    assert!(lines[1].starts_with("API token"), "{lines:?}");
    assert_eq!(unauthorised.0, 401);
    assert_eq!(authorised, (200, "[]".to_string()));
}

/// A sine with a phase per row; class 2 rows carry a spike.
fn ucr_text(rows: usize) -> String {
    let mut text = String::new();
    for i in 0..rows {
        let anomaly = i % 4 == 3;
        let class = if anomaly {
            "2.0000000e+00"
        } else {
            "1.0000000e+00"
        };
        let values: Vec<String> = (0..16)
            .map(|t| {
                let v = (i as f32 * 0.3 + t as f32 * 0.4).sin();
                let v = if anomaly && t == 8 { v + 4.0 } else { v };
                format!("{v:.6e}")
            })
            .collect();
        writeln!(text, "  {class}  {}", values.join("  ")).unwrap();
    }
    text
}

#[test]
fn bench_ecg5000_trains_on_class_one_and_reports_each_detector() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("ecg")).unwrap();
    ws.write("ecg/ECG5000_TRAIN.txt", &ucr_text(120));
    let json = ws.path("ecg.json");
    deviant()
        .args([
            "bench",
            "ecg5000",
            "--detectors",
            "pca,seq2seq",
            "--seeds",
            "1",
        ])
        .args(["--set", "seq2seq.training.epochs=2", "--data-dir"])
        .arg(ws.path("ecg"))
        .arg("--json")
        .arg(&json)
        .assert()
        .success()
        .stdout(
            contains("| ecg5000 | ecg5000 | pca | no | 1 |").and(contains("| seq2seq | no | 1 |")),
        );
    let records: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert!(
        records[0]["roc_auc"].as_f64().unwrap() > 0.9,
        "{}",
        records[0]
    );

    deviant()
        .args(["bench", "ecg5000", "--data-dir"])
        .arg(ws.path("nowhere"))
        .assert()
        .failure()
        .stderr(contains("ECG5000_TRAIN.txt").and(contains("--data-dir")));
}

#[test]
fn bench_nab_scores_points_beside_the_rolling_zscore() {
    let ws = Workspace::new();
    let root = ws.path("nab");
    std::fs::create_dir_all(root.join("data/cat")).unwrap();
    std::fs::create_dir_all(root.join("labels")).unwrap();
    let series = |spike: bool| -> String {
        let mut text = String::from("timestamp,value\n");
        for t in 0..300 {
            let v = (t as f32 * 0.3).sin()
                + if spike && (150..156).contains(&t) {
                    5.0
                } else {
                    0.0
                };
            writeln!(text, "2014-01-01 {:02}:{:02}:00,{v}", t / 60, t % 60).unwrap();
        }
        text
    };
    std::fs::write(root.join("data/cat/spiky.csv"), series(true)).unwrap();
    std::fs::write(root.join("data/cat/calm.csv"), series(false)).unwrap();
    std::fs::write(
        root.join("labels/combined_windows.json"),
        r#"{"cat/spiky.csv": [["2014-01-01 02:28:00.000000", "2014-01-01 02:38:00.000000"]],
            "cat/calm.csv": []}"#,
    )
    .unwrap();
    let json = ws.path("nab.json");
    deviant()
        .args([
            "bench",
            "nab",
            "--detectors",
            "pca",
            "--window",
            "8",
            "--data",
        ])
        .arg(&root)
        .arg("--json")
        .arg(&json)
        .assert()
        .success()
        .stdout(
            contains("| file | points | anomalous | rolling z-score | pca |")
                .and(contains("| cat/spiky.csv | 300 | 11 |")),
        )
        .stderr(contains("cat/calm.csv: no labelled anomaly"));
    let records: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["detector"], "rolling z-score");
    assert!(
        records[0]["roc_auc"].as_f64().unwrap() > 0.5,
        "{}",
        records[0]
    );
    assert!(
        records[1]["roc_auc"].as_f64().unwrap() > 0.8,
        "{}",
        records[1]
    );
}

#[test]
fn bench_mnist_takes_each_chosen_digit_as_normal() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("digits")).unwrap();
    // Digit d lights column d of the 8 × 8 grid (plus a little per-row texture).
    let mut text = String::new();
    for i in 0..90 {
        let digit = i % 3;
        let pixels: Vec<String> = (0..64)
            .map(|p| {
                let on = p % 8 == digit * 3;
                (if on { 16 } else { (i + p) % 3 }).to_string()
            })
            .collect();
        writeln!(text, "{},{digit}", pixels.join(",")).unwrap();
    }
    ws.write("digits/digits.csv", &text);
    let json = ws.path("mnist.json");
    deviant()
        .args(["bench", "mnist", "--images", "digits", "--digits", "0,2"])
        .args(["--detectors", "pca,conv_ae", "--seeds", "1"])
        .args(["--set", "conv_ae.training.epochs=3", "--data-dir"])
        .arg(ws.path("digits"))
        .arg("--json")
        .arg(&json)
        .assert()
        .success()
        .stdout(
            contains("| digits digit 0 | digits | pca | no | 1 |")
                .and(contains("| digits digit 2 | digits | conv_ae | no | 1 |")),
        );
    let records: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 2 * 2);
    assert!(
        records[0]["roc_auc"].as_f64().unwrap() > 0.9,
        "{}",
        records[0]
    );

    deviant()
        .args([
            "bench",
            "mnist",
            "--images",
            "digits",
            "--digits",
            "12",
            "--data-dir",
        ])
        .arg(ws.path("digits"))
        .assert()
        .failure()
        .stderr(contains("12 is not a digit"));
}

/// `select` with a few labels: a model directory `score` and `eval` read, the leaderboard
/// as JSON, a report of why, and a separate labelled table that only measures.
#[test]
fn select_chooses_a_model_that_score_and_eval_read() {
    let ws = Workspace::new();
    let data = ws.write("data.csv", &table(600, 10, 4));
    let test = ws.write("test.csv", &table(200, 5, 5));
    let (model, board, report) = (ws.path("model"), ws.path("board.json"), ws.path("why"));
    deviant()
        .args([
            "select",
            "--label",
            "label",
            "--labelled-share",
            "0.3",
            "--budget",
            "60s",
        ])
        .args(["--no-deep", "--out"])
        .arg(&model)
        .arg("--json")
        .arg(&board)
        .arg("--report")
        .arg(&report)
        .arg("--test")
        .arg(&test)
        .arg(&data)
        .assert()
        .success()
        .stdout(
            contains("candidates compete")
                .and(contains("test ("))
                .and(contains("chose")),
        );
    let board: serde_json::Value = serde_json::from_slice(&std::fs::read(&board).unwrap()).unwrap();
    assert_eq!(board["strategy"], "labelled rows");
    let attempts = board["attempts"].as_array().unwrap();
    assert!(attempts.iter().any(|a| a["chosen"] == true));
    assert!(
        attempts.iter().all(|a| a["config"]["kind"] != "realnvp"),
        "--no-deep"
    );
    assert!(report.join("report.html").is_file());
    let rows = score_file(&ws, &model, &test, &[]);
    assert_eq!(rows.len(), 200);
    deviant()
        .arg("eval")
        .arg(&model)
        .arg(&test)
        .assert()
        .success()
        .stdout(contains("roc_auc"));

    // A partly labelled file: rows with an empty label cell only train, the others choose.
    let text = std::fs::read_to_string(&data).unwrap();
    let mut partly = String::new();
    for (i, line) in text.lines().enumerate() {
        let keep = i == 0 || i % 3 == 0;
        let line = if keep {
            line
        } else {
            line.rsplit_once(',').unwrap().0
        };
        writeln!(partly, "{line}{}", if keep { "" } else { "," }).unwrap();
    }
    let partly = ws.write("partly.csv", &partly);
    let partly_board = ws.path("partly.json");
    deviant()
        .args(["select", "--label", "label", "--no-deep", "--budget", "30s"])
        .args(["--labelled-share", "0.5", "--json"])
        .arg(&partly_board)
        .arg("--out")
        .arg(ws.path("partly-model"))
        .arg(&partly)
        .assert()
        .success();
    let board: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&partly_board).unwrap()).unwrap();
    assert_eq!(board["strategy"], "labelled rows");

    // The data file as its own test table: the test rows would be the rows it chose on.
    deviant()
        .args([
            "select",
            "--label",
            "label",
            "--no-deep",
            "--budget",
            "30s",
            "--out",
        ])
        .arg(ws.path("leaky"))
        .arg("--test")
        .arg(&data)
        .arg(&data)
        .assert()
        .code(2)
        .stderr(contains("is a report row and also a"));
    assert!(!ws.path("leaky").exists());

    // A budget without a unit it knows is refused before any work.
    deviant()
        .args(["select", "--budget", "5d", "--out"])
        .arg(ws.path("never"))
        .arg(&data)
        .assert()
        .code(2)
        .stderr(contains("the unit must be s, m or h"));
    assert!(!ws.path("never").exists());
}

/// The NDJSON objects of a stream's output, in order.
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn stream_scores_stdin_like_score_and_reports_bad_rows_without_stopping() {
    let ws = Workspace::new();
    let model = ws.fitted_model();
    let rows = table(30, 6, 9);
    let test = ws.write("test.csv", &rows);
    let batch = score_file(&ws, &model, &test, &[]);
    // The same rows through stdin, with a bad cell and a ragged row among them.
    let mut lines: Vec<&str> = rows.lines().collect();
    lines.insert(3, "0.1,oops,0.2,tcp,0");
    lines.insert(8, "0.1,0.2");
    let output = deviant()
        .args(["stream"])
        .arg(&model)
        .args(["--from", "-", "--max-batch", "7"])
        .write_stdin(lines.join("\n") + "\n")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let scored = json_lines(&String::from_utf8(output.stdout).unwrap());
    assert_eq!(scored.len(), 30);
    for (row, (_, score, flag)) in scored.iter().zip(&batch) {
        assert!((row["score"].as_f64().unwrap() - score).abs() < 1e-5 * score.abs().max(1.0));
        assert_eq!(row["is_anomaly"].as_bool().unwrap(), *flag == 1);
        assert!(row["top"].as_array().is_some_and(|t| t.len() == 3), "{row}");
    }
    let stderr = String::from_utf8(output.stderr).unwrap();
    let refused: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(refused.len(), 2, "{stderr}");
    assert_eq!(refused[0]["line"], 4);
    assert!(refused[0]["error"].as_str().unwrap().contains("column `b`"));
    assert_eq!(refused[1]["line"], 9);
    assert!(refused[1]["error"].as_str().unwrap().contains("2 fields"));
    assert!(stderr.contains("scored 30 rows"), "{stderr}");

    // NDJSON, with an id column echoed, an unknown column and a non-object refused.
    let input = "{\"id\":\"a\",\"a\":0.1,\"b\":0.1,\"c\":0.2,\"proto\":\"tcp\"}\n\
                 {\"id\":\"b\",\"a\":0.1,\"b\":0.1,\"c\":0.2,\"proto\":\"tcp\",\"zz\":1}\n\
                 [1,2]\n";
    let output = deviant()
        .arg("stream")
        .arg(&model)
        .args(["--id", "id", "--explain", "0"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(output.status.success());
    let scored = json_lines(&String::from_utf8(output.stdout).unwrap());
    assert_eq!(scored.len(), 1);
    assert_eq!(scored[0]["id"], "a");
    assert!(scored[0].get("top").is_none());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("\"id\":\"b\"") && stderr.contains("unknown column `zz`"));
    assert!(stderr.contains("expected a JSON object"), "{stderr}");
}

#[test]
fn stream_refuses_a_per_batch_threshold_and_a_model_of_other_columns() {
    let ws = Workspace::new();
    let train = ws.write("train.csv", &table(200, 0, 5));
    let model = ws.path("top");
    deviant()
        .args([
            "fit",
            "-d",
            "pca",
            "--threshold",
            "top:5",
            "--label",
            "label",
            "--out",
        ])
        .arg(&model)
        .arg(&train)
        .assert()
        .success();
    deviant()
        .arg("stream")
        .arg(&model)
        .write_stdin(table(5, 0, 1))
        .assert()
        .code(2)
        .stderr(contains("top:5"));
    let model = ws.fitted_model();
    deviant()
        .arg("stream")
        .arg(&model)
        .write_stdin("a,b,label\n1,2,0\n")
        .assert()
        .code(2)
        .stderr(contains("column `c` is missing"));
}

#[test]
fn stream_follows_a_growing_file_and_stops_cleanly_on_sigterm() {
    let ws = Workspace::new();
    let model = ws.fitted_model();
    let rows = table(20, 0, 3);
    let mut lines = rows.lines();
    let first: Vec<&str> = lines.by_ref().take(11).collect();
    let input = ws.write("growing.csv", &(first.join("\n") + "\n"));
    let out = ws.path("scores.ndjson");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("deviant"))
        .args(["--quiet", "stream"])
        .arg(&model)
        .arg("--from")
        .arg(&input)
        .arg("--follow")
        .arg("--to")
        .arg(&out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let count = |path: &Path| {
        std::fs::read_to_string(path)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let wait_for = |n: usize| {
        let started = std::time::Instant::now();
        while count(&out) < n {
            assert!(
                started.elapsed().as_secs() < 30,
                "{} of {n} rows",
                count(&out)
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    wait_for(10);
    let rest: Vec<&str> = lines.collect();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .unwrap();
    std::io::Write::write_all(&mut file, (rest.join("\n") + "\n").as_bytes()).unwrap();
    wait_for(20);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let lines: Vec<u64> = json_lines(&std::fs::read_to_string(&out).unwrap())
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, (2..=21).collect::<Vec<u64>>());
}

#[test]
fn stream_learns_online_reports_drift_and_refits_a_new_model_version() {
    let ws = Workspace::new();
    let train = ws.write("train.csv", &table(400, 0, 1));
    let model = ws.path("hst");
    deviant()
        .args([
            "fit",
            "-d",
            "hst",
            "--set",
            "window=100",
            "--label",
            "label",
        ])
        .args(["--threshold", "contamination:0.05", "--out"])
        .arg(&model)
        .arg(&train)
        .assert()
        .success();
    // 600 normal rows, then 600 rows moved far off: drift, then a new normal.
    let mut text = table(600, 0, 2);
    for line in table(600, 0, 3).lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let shifted: Vec<String> = f[..3]
            .iter()
            .map(|v| (v.parse::<f64>().unwrap() + 3.0).to_string())
            .collect();
        writeln!(text, "{},{},{}", shifted.join(","), f[3], f[4]).unwrap();
    }
    let input = ws.write("shift.csv", &text);
    let (status, versions) = (ws.path("status.json"), ws.path("versions"));
    let output = deviant()
        .arg("stream")
        .arg(&model)
        .arg("--from")
        .arg(&input)
        .args([
            "--max-batch",
            "50",
            "--drift-window",
            "200",
            "--refit-rows",
            "300",
        ])
        .arg("--refit-to")
        .arg(&versions)
        .arg("--status")
        .arg(&status)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&status).unwrap()).unwrap();
    assert_eq!(status["rows"], 1200);
    assert_eq!(status["finished"], true);
    let events = status["drift_events"].as_array().unwrap();
    let rows: Vec<u64> = events.iter().map(|e| e["row"].as_u64().unwrap()).collect();
    assert!(rows.iter().any(|r| (600..=1000).contains(r)), "{events:?}");
    assert!(
        rows.iter().all(|&r| r > 400),
        "a false alarm among the normal rows: {events:?}"
    );
    assert!(stderr.contains("drift at row"), "{stderr}");
    let refit = versions.join("v1");
    assert!(refit.join("manifest.json").is_file(), "{stderr}");
    // The refit is a model like any other, and it finds the moved rows normal.
    let scored = json_lines(&String::from_utf8(output.stdout).unwrap());
    let late_flags = scored[1100..]
        .iter()
        .filter(|r| r["is_anomaly"] == true)
        .count();
    assert!(late_flags < 50, "{late_flags} of the last 100 rows flagged");
    deviant()
        .arg("score")
        .arg(&refit)
        .arg(&input)
        .assert()
        .success();
}

#[test]
fn stream_gathers_points_of_each_series_into_windows_for_a_seq2seq_model() {
    let ws = Workspace::new();
    let wave = |t: usize| (t as f64 / 3.0).sin();
    let mut windows = (0..8)
        .map(|j| format!("x{j}"))
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    for start in 0..292 {
        let row: Vec<String> = (start..start + 8).map(|t| wave(t).to_string()).collect();
        windows += &(row.join(",") + "\n");
    }
    let train = ws.write("windows.csv", &windows);
    let model = ws.path("seq2seq");
    deviant()
        .args([
            "fit",
            "-d",
            "seq2seq",
            "--set",
            "hidden=8",
            "--set",
            "training.epochs=5",
        ])
        .args(["--threshold", "contamination:0.05", "--out"])
        .arg(&model)
        .arg(&train)
        .assert()
        .success();
    // Two hosts' points interleaved; host b jumps at t = 40; one point of a is bad.
    let mut points = String::new();
    for t in 0..60 {
        writeln!(points, "{{\"host\": \"a\", \"v\": {}}}", wave(t)).unwrap();
        let jump = if t == 40 { 5.0 } else { 0.0 };
        writeln!(points, "{{\"host\": \"b\", \"v\": {}}}", wave(t) + jump).unwrap();
    }
    points += "{\"host\": \"a\", \"v\": \"x\"}\n";
    let output = deviant()
        .arg("stream")
        .arg(&model)
        .args(["--windows", "v", "--series-key", "host", "--explain", "0"])
        .write_stdin(points)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let scored = json_lines(&String::from_utf8(output.stdout).unwrap());
    assert_eq!(
        scored.len(),
        2 * (60 - 7),
        "one score per point that completes a window"
    );
    let top = |host: &str| {
        scored
            .iter()
            .filter(|r| r["series"] == host)
            .map(|r| r["score"].as_f64().unwrap())
            .fold(f64::MIN, f64::max)
    };
    assert!(top("b") > 2.0 * top("a"), "b {} a {}", top("b"), top("a"));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("column `v` is not a finite number"),
        "{stderr}"
    );
    // A model of other columns is refused at start.
    deviant()
        .arg("stream")
        .arg(&model)
        .args(["--windows", "v,w,z"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(contains("whole number of steps"));
}

#[test]
fn serve_over_tls_answers_https_and_its_session_cookie_is_secure() {
    let ws = Workspace::new();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = ws.write("cert.pem", &certified.cert.pem());
    let key = ws.write("key.pem", &certified.signing_key.serialize_pem());
    deviant()
        .args(["serve", "--tls-cert"])
        .arg(&cert)
        .arg("--home")
        .arg(ws.path("home"))
        .assert()
        .failure()
        .stderr(contains("--tls-key"));

    let port = common::free_port();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("deviant"))
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--tls-cert",
        ])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .arg("--home")
        .arg(ws.path("home"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let banner = lines.next().unwrap().unwrap();
    lines.next();
    let token = lines.next().unwrap().unwrap().trim().to_string();
    let trusted = ureq::tls::Certificate::from_pem(certified.cert.pem().as_bytes())
        .unwrap()
        .to_owned();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![
            trusted,
        ])))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let base = format!("https://localhost:{port}");
    let started = std::time::Instant::now();
    let health = loop {
        match agent.get(format!("{base}/api/v1/health")).call() {
            Ok(response) => break response,
            Err(_) if started.elapsed().as_secs() < 30 => {
                std::thread::sleep(std::time::Duration::from_millis(100))
            }
            Err(e) => panic!("no HTTPS answer: {e}"),
        }
    };
    let signed_in = agent
        .post(format!("{base}/login"))
        .send_form([("token", token.as_str())])
        .unwrap();
    let plain = http(&format!("127.0.0.1:{port}"), "GET", "/api/v1/health", None);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(banner.contains("https://"), "{banner}");
    assert_eq!(health.status(), 200);
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // Plain HTTP on the TLS port gets no answer from the API.
    assert!(plain.map_or(true, |(status, _)| status != 200));
}
