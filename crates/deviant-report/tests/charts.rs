//! The charts read back as geometry: parse the SVG, map pixels to data through the plot
//! area's declared domain, and check that what is drawn is what the numbers say.

use std::collections::BTreeMap;

use deviant_core::detector::EpochRecord;
use deviant_core::metrics::{Confusion, Evaluation, pr_curve, roc_curve};
use deviant_core::record::{ColumnImportance, EvalRecord};
use deviant_report::charts::{
    Curve, HistogramOptions, ScoreScale, confusion_chart, horizontal_bars, loss_charts,
    metric_bars, pr_chart, roc_chart, score_histogram, threshold_chart, value_histogram,
};
use deviant_report::{
    ChartOptions, ComparisonReport, EvalReport, ExplainedRow, Scale, ScoredRun, ScoredSplit,
};
use roxmltree::{Document, Node};

/// The plot area's pixel box and the data domain it shows.
struct Area {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    x_domain: (f64, f64),
    y_domain: (f64, f64),
    x_scale: String,
    y_scale: String,
}

fn attr(node: Node, name: &str) -> f64 {
    node.attribute(name)
        .unwrap_or_else(|| panic!("no {name} on {node:?}"))
        .parse()
        .unwrap()
}

fn pair(text: &str) -> (f64, f64) {
    let mut it = text.split(' ').map(|v| v.parse::<f64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

fn by_class<'a>(doc: &'a Document, class: &str) -> Vec<Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| n.attribute("class") == Some(class))
        .collect()
}

impl Area {
    fn of(doc: &Document) -> Self {
        let rect = by_class(doc, "plot-area")[0];
        Self {
            x: attr(rect, "x"),
            y: attr(rect, "y"),
            w: attr(rect, "width"),
            h: attr(rect, "height"),
            x_domain: pair(rect.attribute("data-x").unwrap()),
            y_domain: pair(rect.attribute("data-y").unwrap()),
            x_scale: rect.attribute("data-x-scale").unwrap().into(),
            y_scale: rect.attribute("data-y-scale").unwrap().into(),
        }
    }

    /// The value at `fraction` of an axis whose scale is named as in `data-x-scale`.
    fn unmap(fraction: f64, (lo, hi): (f64, f64), scale: &str) -> f64 {
        let width = |s: &str| -> f64 { s.strip_prefix("symlog:").unwrap().parse().unwrap() };
        let forward = |v: f64| match scale {
            "linear" => v,
            "log" => v.ln(),
            s => v.signum() * (v.abs() / width(s)).ln_1p(),
        };
        let t = forward(lo) + fraction * (forward(hi) - forward(lo));
        match scale {
            "linear" => t,
            "log" => t.exp(),
            s => t.signum() * width(s) * t.abs().exp_m1(),
        }
    }

    fn data_x(&self, px: f64) -> f64 {
        Self::unmap((px - self.x) / self.w, self.x_domain, &self.x_scale)
    }

    fn data_y(&self, py: f64) -> f64 {
        Self::unmap(
            (self.y + self.h - py) / self.h,
            self.y_domain,
            &self.y_scale,
        )
    }
}

fn points(node: Node) -> Vec<(f64, f64)> {
    node.attribute("points")
        .unwrap()
        .split(' ')
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

/// Scores where anomalies tend to score higher, over several decades (like reconstruction
/// errors), with labels.
fn sample() -> (Vec<f32>, Vec<u8>) {
    let mut scores = Vec::new();
    let mut labels = Vec::new();
    for i in 0..400u32 {
        let anomaly = i % 5 == 0;
        let jitter = ((i * 37) % 100) as f32 / 100.0;
        scores.push(if anomaly {
            0.05 * 10f32.powf(jitter * 2.0)
        } else {
            0.001 * 10f32.powf(jitter * 2.0)
        });
        labels.push(u8::from(anomaly));
    }
    (scores, labels)
}

/// Every text must fit the canvas, by the same width estimate the layout uses, so labels
/// do not run off the edge.
fn assert_text_inside(svg: &str) {
    let doc = Document::parse(svg).unwrap();
    let root = doc.root_element();
    let width = attr(root, "width");
    let height = attr(root, "height");
    for text in doc.descendants().filter(|n| n.has_tag_name("text")) {
        if text.attribute("transform").is_some() {
            continue; // the rotated y label, placed by the frame
        }
        let content = text.text().unwrap_or("");
        let size: f64 = text
            .attribute("font-size")
            .map_or(12.0, |s| s.parse().unwrap());
        let w = content.chars().count() as f64 * size * 0.62;
        let x = attr(text, "x");
        let (start, end) = match text.attribute("text-anchor") {
            Some("middle") => (x - w / 2.0, x + w / 2.0),
            Some("end") => (x - w, x),
            _ => (x, x + w),
        };
        assert!(
            start >= 0.0 && end <= width,
            "`{content}` spans {start:.0}..{end:.0} of {width}"
        );
        let y = attr(text, "y");
        assert!(y > size * 0.7 && y <= height, "`{content}` at y {y}");
    }
}

#[test]
fn roc_curve_runs_from_origin_to_one_one() {
    let (scores, labels) = sample();
    let evaluation = Evaluation::new(&scores, &labels, 0.05).unwrap();
    let svg = roc_chart(
        "ROC",
        &[Curve::roc(
            "ae".into(),
            "#4477AA",
            &roc_curve(&scores, &labels).unwrap(),
            Some(&evaluation.confusion),
        )],
    );
    let doc = Document::parse(&svg).unwrap();
    let area = Area::of(&doc);
    let curve = points(by_class(&doc, "curve")[0]);
    let (first, last) = (curve[0], *curve.last().unwrap());
    assert!(close(area.data_x(first.0), 0.0, 1e-3) && close(area.data_y(first.1), 0.0, 1e-3));
    assert!(close(area.data_x(last.0), 1.0, 1e-3) && close(area.data_y(last.1), 1.0, 1e-3));
    // The dot sits at the threshold's (false positive rate, recall).
    let dot = by_class(&doc, "operating-point")[0];
    let c = evaluation.confusion;
    assert!(close(
        area.data_x(attr(dot, "cx")),
        c.fp as f64 / (c.fp + c.tn) as f64,
        1e-3
    ));
    assert!(close(area.data_y(attr(dot, "cy")), c.recall(), 1e-3));
    assert_text_inside(&svg);
}

#[test]
fn long_curves_are_thinned_but_keep_their_ends() {
    let n = 200_000;
    let scores: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let labels: Vec<u8> = (0..n).map(|i| u8::from(i % 3 == 0)).collect();
    let svg = roc_chart(
        "ROC",
        &[Curve::roc(
            "x".into(),
            "#4477AA",
            &roc_curve(&scores, &labels).unwrap(),
            None,
        )],
    );
    assert!(svg.len() < 200_000, "{} bytes", svg.len());
    let doc = Document::parse(&svg).unwrap();
    let area = Area::of(&doc);
    let curve = points(by_class(&doc, "curve")[0]);
    let last = *curve.last().unwrap();
    assert!(close(area.data_x(last.0), 1.0, 1e-3) && close(area.data_y(last.1), 1.0, 1e-3));
}

#[test]
fn histogram_has_one_bar_per_bin_and_class_and_marks_the_threshold() {
    let (scores, labels) = sample();
    for (scale, expected) in [(ScoreScale::Linear, "linear"), (ScoreScale::Auto, "log")] {
        let options = HistogramOptions {
            bins: 20,
            scale,
            log_counts: false,
        };
        let threshold = 0.04;
        let svg = score_histogram(&scores, &labels, threshold, &options).unwrap();
        let doc = Document::parse(&svg).unwrap();
        let area = Area::of(&doc);
        assert_eq!(area.x_scale, expected, "{scale}");
        let bars = by_class(&doc, "bar");
        for (class, label) in [("normal", 0u8), ("anomaly", 1)] {
            let own: Vec<_> = bars
                .iter()
                .filter(|b| b.attribute("data-class") == Some(class))
                .collect();
            assert_eq!(own.len(), 20, "{class} bars");
            let total: f64 = own.iter().map(|b| attr(**b, "data-count")).sum();
            let expected = labels.iter().filter(|&&l| l == label).count() as f64;
            assert_eq!(total, expected, "{class} rows");
            // Heights read back as counts.
            for bar in own {
                let top = area.data_y(attr(*bar, "y"));
                assert!(close(top, attr(*bar, "data-count"), 0.05), "{top}");
            }
        }
        // Bars tile the plot area from edge to edge.
        let first = bars.iter().find(|b| b.attribute("data-bin") == Some("0"));
        assert!(close(attr(*first.unwrap(), "x"), area.x, 0.01));
        let marker = by_class(&doc, "threshold")[0];
        assert!(close(
            area.data_x(attr(marker, "x1")) / threshold,
            1.0,
            1e-3
        ));
        assert_text_inside(&svg);
    }
}

#[test]
fn heavy_tails_of_either_sign_get_a_symmetric_log_axis() {
    // Like DAGMM energies: a bulk around zero, some negative, a tail in the thousands.
    let scores: Vec<f32> = (0..1000)
        .map(|i| match i % 10 {
            0 => 50.0 * (1 + i % 70) as f32,
            _ => (i % 37) as f32 / 20.0 - 0.5,
        })
        .collect();
    let labels: Vec<u8> = (0..1000).map(|i| u8::from(i % 10 == 0)).collect();
    let threshold = 20.0;
    let svg = score_histogram(&scores, &labels, threshold, &HistogramOptions::default()).unwrap();
    let doc = Document::parse(&svg).unwrap();
    let area = Area::of(&doc);
    assert!(area.x_scale.starts_with("symlog:"), "{}", area.x_scale);
    let marker = by_class(&doc, "threshold")[0];
    assert!(close(area.data_x(attr(marker, "x1")), threshold, 0.01));
    // The bulk is no longer squeezed into one bin.
    let busy = by_class(&doc, "bar")
        .iter()
        .filter(|b| b.attribute("data-class") == Some("normal") && attr(**b, "data-count") > 0.0)
        .count();
    assert!(busy >= 5, "{busy} bins hold the normal rows");
    assert_text_inside(&svg);
}

#[test]
fn histogram_log_scale_refuses_non_positive_scores() {
    let options = HistogramOptions {
        scale: ScoreScale::Log,
        ..HistogramOptions::default()
    };
    let err = score_histogram(&[-1.0, 2.0], &[0, 1], 0.0, &options).unwrap_err();
    assert!(err.to_string().contains("linear"), "{err}");
    // Auto falls back to linear for them.
    assert_eq!(
        ScoreScale::Auto.resolve(&[-1.0, 2.0]).unwrap(),
        Scale::Linear
    );
}

#[test]
fn log_count_axis_keeps_small_classes_visible() {
    let (scores, labels) = sample();
    let options = HistogramOptions {
        log_counts: true,
        ..HistogramOptions::default()
    };
    let svg = score_histogram(&scores, &labels, 0.04, &options).unwrap();
    let doc = Document::parse(&svg).unwrap();
    let area = Area::of(&doc);
    assert_eq!(area.y_scale, "log");
    let bar = by_class(&doc, "bar")
        .into_iter()
        .find(|b| attr(*b, "data-count") == 1.0);
    if let Some(bar) = bar {
        assert!(attr(bar, "height") > 10.0, "one row should still show");
    }
}

#[test]
fn pr_chart_draws_no_skill_at_the_anomaly_share() {
    let (scores, labels) = sample();
    let svg = pr_chart(
        "PR",
        &[Curve::pr(
            "ae".into(),
            "#4477AA",
            &pr_curve(&scores, &labels).unwrap(),
            None,
        )],
        0.2,
    );
    let doc = Document::parse(&svg).unwrap();
    let area = Area::of(&doc);
    let line = by_class(&doc, "no-skill")[0];
    assert!(close(area.data_y(attr(line, "y1")), 0.2, 1e-3));
    assert_text_inside(&svg);
}

#[test]
fn pr_legends_too_wide_for_the_top_move_inside() {
    let (scores, labels) = sample();
    let points = pr_curve(&scores, &labels).unwrap();
    let curves: Vec<Curve> = ["iforest", "ecod", "pca", "knn", "deep_svdd"]
        .iter()
        .map(|name| Curve::pr(format!("{name} (AP 0.5000)"), "#4477AA", &points, None))
        .collect();
    let svg = pr_chart("PR", &curves, 0.2);
    let doc = Document::parse(&svg).unwrap();
    let area = Area::of(&doc);
    let legend = by_class(&doc, "legend")[0];
    let frame = legend.children().find(|n| n.has_tag_name("rect")).unwrap();
    assert!(attr(frame, "y") > area.y, "legend inside the plot area");
    assert_text_inside(&svg);
}

#[test]
fn threshold_chart_marks_the_chosen_threshold() {
    let (scores, labels) = sample();
    let pr = pr_curve(&scores, &labels).unwrap();
    for scale in [Scale::Linear, Scale::Log] {
        let svg = threshold_chart(&pr, 0.03, scale).unwrap();
        let doc = Document::parse(&svg).unwrap();
        let area = Area::of(&doc);
        assert_eq!(by_class(&doc, "curve").len(), 3);
        let marker = by_class(&doc, "threshold")[0];
        assert!(close(area.data_x(attr(marker, "x1")) / 0.03, 1.0, 1e-3));
        assert_text_inside(&svg);
    }
}

#[test]
fn confusion_cells_carry_the_counts() {
    let c = Confusion {
        tp: 90,
        fp: 5,
        tn: 895,
        fn_: 10,
    };
    let svg = confusion_chart(&c);
    let doc = Document::parse(&svg).unwrap();
    let cell = |actual: &str, flagged: &str| {
        by_class(&doc, "cell")
            .into_iter()
            .find(|n| {
                n.attribute("data-actual") == Some(actual)
                    && n.attribute("data-flagged") == Some(flagged)
            })
            .map(|n| attr(n, "data-count"))
            .unwrap()
    };
    assert_eq!(cell("anomaly", "anomaly"), 90.0);
    assert_eq!(cell("normal", "anomaly"), 5.0);
    assert_eq!(cell("normal", "normal"), 895.0);
    assert_eq!(cell("anomaly", "normal"), 10.0);
    assert!(svg.contains(">895<"));
    assert_text_inside(&svg);
}

#[test]
fn metric_bars_reach_their_values() {
    let svg = metric_bars("Metrics", &[("F1", 0.75), ("recall", 0.5)]);
    let doc = Document::parse(&svg).unwrap();
    let area = Area::of(&doc);
    for bar in by_class(&doc, "bar") {
        let top = area.data_y(attr(bar, "y"));
        assert!(close(top, attr(bar, "data-value"), 1e-3), "{top}");
    }
    assert_text_inside(&svg);
}

#[test]
fn horizontal_bars_list_the_first_item_on_top() {
    let items = vec![
        ("service=ecr_i".to_string(), 3.0),
        ("src_bytes".to_string(), 1.0),
    ];
    let svg = horizontal_bars("Why", "contribution", &items, "#EE6677");
    let doc = Document::parse(&svg).unwrap();
    let area = Area::of(&doc);
    let bars = by_class(&doc, "bar");
    let y_of = |name: &str| {
        let bar = bars
            .iter()
            .find(|b| b.attribute("data-feature") == Some(name))
            .unwrap();
        attr(*bar, "y")
    };
    assert!(y_of("service=ecr_i") < y_of("src_bytes"));
    let widest = bars
        .iter()
        .find(|b| b.attribute("data-feature") == Some("service=ecr_i"))
        .unwrap();
    let end = area.data_x(attr(*widest, "x") + attr(*widest, "width"));
    assert!(close(end, 3.0, 1e-3), "{end}");
    assert_text_inside(&svg);
}

fn history(names: &[&str], epochs: usize) -> Vec<EpochRecord> {
    (1..=epochs)
        .map(|epoch| {
            let losses: BTreeMap<String, f64> = names
                .iter()
                .map(|n| (n.to_string(), 1.0 / epoch as f64))
                .collect();
            EpochRecord {
                epoch,
                train: losses.clone(),
                valid: Some(losses),
                seconds: 0.5,
            }
        })
        .collect()
}

#[test]
fn value_histograms_span_their_bins() {
    let bins = [(0.0, 2.0, 3), (2.0, 4.0, 0), (4.0, 6.0, 9)];
    let svg = value_histogram("bytes", "bytes", &bins);
    let doc = Document::parse(&svg).unwrap();
    let area = Area::of(&doc);
    assert_eq!((area.x_domain.0, area.x_domain.1), (0.0, 6.0));
    let bars = by_class(&doc, "bar");
    assert_eq!(bars.len(), 3);
    assert!(close(area.data_y(attr(bars[2], "y")), 9.0, 1e-6));
    assert_text_inside(&svg);
}

#[test]
fn loss_charts_draw_every_named_loss_per_epoch() {
    let charts = loss_charts(&history(&["energy", "loss", "reconstruction"], 7));
    let names: Vec<&str> = charts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["loss", "energy", "reconstruction"]);
    for (_, svg) in &charts {
        let doc = Document::parse(svg).unwrap();
        let area = Area::of(&doc);
        let curves = by_class(&doc, "curve");
        assert_eq!(curves.len(), 2, "training and validation");
        let train = points(curves[0]);
        assert_eq!(train.len(), 7);
        assert!(close(area.data_x(train[6].0), 7.0, 1e-6));
        assert!(close(area.data_y(train[6].1), 1.0 / 7.0, 1e-3));
        assert_text_inside(svg);
    }
    assert!(loss_charts(&[]).is_empty());
}

fn explained() -> Vec<ExplainedRow> {
    vec![ExplainedRow {
        row: "line 7".into(),
        score: 2.5,
        label: Some(1),
        contributions: vec![("a".into(), 0.5), ("b".into(), 2.0)],
    }]
}

#[test]
fn eval_report_is_one_self_contained_page_plus_svgs_and_metrics() {
    let (scores, labels) = sample();
    let evaluation = Evaluation::new(&scores, &labels, 0.04).unwrap();
    let history = history(&["loss"], 3);
    let rows = explained();
    let column = |name: &str, drop: f64| ColumnImportance {
        column: name.into(),
        roc_auc_drop: drop,
        std: 0.01,
        own: Some(drop),
    };
    let importance = vec![
        (
            "train".to_string(),
            vec![column("bytes", 0.3), column("port", 0.01)],
        ),
        (
            "test".to_string(),
            vec![column("bytes", 0.2), column("port", 0.02)],
        ),
    ];
    let report = EvalReport {
        title: "deviant evaluation".into(),
        facts: vec![("model".into(), "<ae>".into())],
        split: ScoredSplit {
            name: "ae",
            colour: "#4477AA",
            scores: &scores,
            labels: &labels,
            evaluation: &evaluation,
            history: &history,
            explained: &rows,
        },
        importance: &importance,
        classes: &[],
        options: ChartOptions::default(),
    };
    let files = report.render().unwrap();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"importance-train.svg") && names.contains(&"importance-test.svg"),
        "{names:?}"
    );
    for expected in [
        "report.html",
        "metrics.json",
        "histogram.svg",
        "roc.svg",
        "pr.svg",
        "threshold.svg",
        "confusion.svg",
        "metrics.svg",
        "loss.svg",
        "anomaly-1.svg",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let html = String::from_utf8(files[0].1.clone()).unwrap();
    let svg_files = names.iter().filter(|n| n.ends_with(".svg")).count();
    assert_eq!(
        html.matches("<svg ").count(),
        svg_files,
        "every chart inline"
    );
    assert!(!html.contains("src=") && !html.contains("<link") && !html.contains("http://e"));
    assert!(html.contains("&lt;ae&gt;"), "facts are escaped");
    let metrics: serde_json::Value =
        serde_json::from_slice(&files.iter().find(|(n, _)| n == "metrics.json").unwrap().1)
            .unwrap();
    assert_eq!(metrics["evaluation"]["roc_auc"], evaluation.roc_auc);
    assert_eq!(metrics["rows"], 400);
    assert_eq!(metrics["anomalies"], 80);
    for (name, bytes) in &files {
        if name.ends_with(".svg") {
            assert_text_inside(std::str::from_utf8(bytes).unwrap());
        }
    }
}

fn record(detector: &str, seed: u64, auc: f64) -> EvalRecord {
    EvalRecord {
        dataset: "kddcup99".into(),
        detector: detector.into(),
        kind: detector.into(),
        params: serde_json::Value::Null,
        protocol: "cloudera".into(),
        seed,
        roc_auc: auc,
        average_precision: auc,
        precision: 0.9,
        recall: 0.9,
        f1: 0.9,
        f2: 0.9,
        accuracy: 0.9,
        threshold: 0.1,
        threshold_rule: "best-f1 on validation".into(),
        fit_seconds: 1.0,
        epochs: 0,
        epoch_seconds: 0.0,
        final_loss: None,
        score_seconds: 0.1,
        peak_rss_bytes: 0,
        supervised: false,
        train: None,
    }
}

#[test]
fn comparison_report_overlays_every_detector() {
    let (scores, labels) = sample();
    let records = vec![
        record("ae", 1, 0.95),
        record("ae", 2, 0.97),
        record("pca", 1, 0.90),
        record("pca", 2, 0.92),
    ];
    let runs: Vec<ScoredRun> = ["ae", "pca"]
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let shifted: Vec<f32> = scores.iter().map(|s| s * (1.0 + i as f32)).collect();
            ScoredRun {
                detector: kind.to_string(),
                dataset: "kddcup99".into(),
                seed: 1,
                evaluation: Evaluation::new(&shifted, &labels, 0.04).unwrap(),
                scores: shifted,
                labels: labels.clone(),
                history: Vec::new(),
                explained: explained(),
            }
        })
        .collect();
    let report = ComparisonReport {
        title: "comparison".into(),
        facts: Vec::new(),
        summaries: Vec::new(),
        records: &records,
        runs: &runs,
        detector_charts: true,
        options: ChartOptions::default(),
    };
    let files = report.render().unwrap();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "report.html",
            "roc-kddcup99.svg",
            "pr-kddcup99.svg",
            "detector-ae.html",
            "detector-pca.html"
        ]
    );
    let roc = std::str::from_utf8(&files[1].1).unwrap();
    let doc = Document::parse(roc).unwrap();
    let series: Vec<&str> = by_class(&doc, "curve")
        .iter()
        .map(|c| c.attribute("data-series").unwrap())
        .collect();
    assert_eq!(series.len(), 2);
    assert!(series[0].starts_with("ae") && series[1].starts_with("pca"));
    let html = std::str::from_utf8(&files[0].1).unwrap();
    // The best mean ROC AUC (ae, 0.96) is the highlighted row, linked to its page.
    let best = html.split(r#"<tr class="best">"#).nth(1).unwrap();
    assert!(
        best.contains(r#"<a href="detector-ae.html">ae</a>"#),
        "{best}"
    );
    assert!(best.contains("0.9600 ± 0.0141"));
    // The leaderboard has a column saying who used labels, and sorts by any column.
    assert!(html.contains("<th>labels</th>") && html.contains("sort by this column"));
    let page = std::str::from_utf8(&files[3].1).unwrap();
    assert!(page.contains("Why line 7 scores 2.5"));
    for (name, bytes) in &files {
        if name.ends_with(".svg") {
            assert_text_inside(std::str::from_utf8(bytes).unwrap());
        }
    }
}
