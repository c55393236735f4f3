//! The charts: each function returns one complete SVG document.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use deviant_core::detector::EpochRecord;
use deviant_core::metrics::{Confusion, PrPoint, RocPoint, quantile};
use deviant_core::{Error, Result};

use crate::chart::{
    ANOMALY_COLOUR, Axis, Frame, HEIGHT, LegendEntry, MARK_COLOUR, Mark, NORMAL_COLOUR,
    REFERENCE_COLOUR, Scale, WIDTH, stroke, thin_points,
};
use crate::svg::{Svg, escape, px};

mod bars;
pub use bars::{horizontal_bars, metric_bars, value_histogram};

/// Curves are thinned to points at least this many pixels apart.
const CURVE_RESOLUTION: f64 = 0.5;

/// The score axis of histograms and threshold curves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ScoreScale {
    /// Logarithmic when every score is positive and they span more than two decades
    /// (reconstruction errors usually do); symmetric-logarithmic when scores of any sign
    /// have a tail far longer than their bulk (DAGMM energies); else linear.
    #[default]
    Auto,
    Linear,
    Log,
}

impl FromStr for ScoreScale {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "linear" => Ok(Self::Linear),
            "log" => Ok(Self::Log),
            other => Err(Error::config(
                "score scale",
                format!("`{other}` is not one of auto, linear, log"),
            )),
        }
    }
}

impl fmt::Display for ScoreScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Linear => "linear",
            Self::Log => "log",
        })
    }
}

impl ScoreScale {
    /// The scale to draw `scores` on; a log scale of non-positive scores is an error.
    pub fn resolve(self, scores: &[f32]) -> Result<Scale> {
        let lowest = scores.iter().copied().fold(f32::INFINITY, f32::min);
        match self {
            Self::Linear => Ok(Scale::Linear),
            Self::Log if lowest > 0.0 => Ok(Scale::Log),
            Self::Log => Err(Error::config(
                "score scale",
                format!(
                    "a log scale needs positive scores, and this detector's lowest is {lowest}; \
                     use the linear scale"
                ),
            )),
            Self::Auto => {
                let highest = f64::from(scores.iter().copied().fold(f32::NEG_INFINITY, f32::max));
                let bulk = quantile(scores, 0.75) - quantile(scores, 0.25);
                Ok(
                    if lowest > 0.0
                        && quantile(scores, 0.99) / quantile(scores, 0.01).max(f64::MIN_POSITIVE)
                            > 100.0
                    {
                        Scale::Log
                    } else if bulk > 0.0 && highest - f64::from(lowest) > 100.0 * bulk {
                        Scale::SymLog {
                            width: 10f64.powf((bulk.log10() + 1e-9).floor()),
                        }
                    } else {
                        Scale::Linear
                    },
                )
            }
        }
    }
}

/// How the score histogram is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistogramOptions {
    pub bins: usize,
    pub scale: ScoreScale,
    /// Row counts on a log axis, so that a small class stays visible beside a large one.
    pub log_counts: bool,
}

impl Default for HistogramOptions {
    fn default() -> Self {
        Self {
            bins: 50,
            scale: ScoreScale::Auto,
            log_counts: false,
        }
    }
}

/// How an axis label says its scale.
fn scale_note(scale: Scale) -> &'static str {
    match scale {
        Scale::Linear => "",
        Scale::Log => ", log scale",
        Scale::SymLog { .. } => ", symmetric log scale",
    }
}

fn score_label(scale: Scale) -> String {
    format!(
        "anomaly score (higher = more anomalous{})",
        scale_note(scale)
    )
}

fn threshold_entry(threshold: f64) -> LegendEntry {
    let label = if threshold.is_finite() {
        format!("threshold {}", short(threshold))
    } else {
        "threshold: none (nothing flagged)".into()
    };
    LegendEntry::new(label, MARK_COLOUR, Mark::Dashed)
}

/// A number in at most four significant digits.
pub fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    if (1e-3..1e5).contains(&v.abs()) {
        let decimals = (3 - (v.abs().log10() + 1e-9).floor() as i32).max(0) as usize;
        let text = format!("{v:.decimals$}");
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').into()
        } else {
            text
        }
    } else {
        let text = format!("{v:.3e}");
        let (mantissa, exponent) = text.split_once('e').expect("scientific notation");
        format!(
            "{}e{exponent}",
            mantissa.trim_end_matches('0').trim_end_matches('.')
        )
    }
}

fn class_name(label: u8) -> &'static str {
    if label == 0 { "normal" } else { "anomaly" }
}

/// Scores by class on shared bins, the threshold marked. Each class gets exactly
/// `options.bins` bars (`<rect class="bar" data-class=… data-bin=…>`), empty ones zero high.
pub fn score_histogram(
    scores: &[f32],
    labels: &[u8],
    threshold: f64,
    options: &HistogramOptions,
) -> Result<String> {
    if scores.is_empty() || scores.len() != labels.len() {
        return Err(Error::input(
            "the score histogram",
            format!(
                "it needs one label per score, got {} scores and {} labels",
                scores.len(),
                labels.len()
            ),
        ));
    }
    if options.bins == 0 {
        return Err(Error::config("bins", "must be at least 1"));
    }
    let scale = options.scale.resolve(scores)?;
    let (lo, hi) = scores
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &s| {
            (l.min(f64::from(s)), h.max(f64::from(s)))
        });
    let x = Axis::scaled(score_label(scale), lo, hi, scale);
    let mut counts = [vec![0u64; options.bins], vec![0u64; options.bins]];
    for (&s, &label) in scores.iter().zip(labels) {
        let bin = (x.fraction(f64::from(s)) * options.bins as f64).floor() as usize;
        counts[usize::from(label != 0)][bin.min(options.bins - 1)] += 1;
    }
    let highest = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let y = if options.log_counts {
        Axis::log("rows (log scale)", 0.5, highest * 1.5)
    } else {
        Axis::nice_linear("rows", 0.0, highest * 1.05)
    };
    let frame = Frame::new("Score distribution by class", x, y);
    let mut svg = frame.start();
    let base = frame.py(frame.y.lo);
    let mut legend = Vec::new();
    for (class, colour) in [(0u8, NORMAL_COLOUR), (1, ANOMALY_COLOUR)] {
        let own = &counts[usize::from(class)];
        let total: u64 = own.iter().sum();
        svg.open_group(&format!(
            r#"class="bars" data-class="{}""#,
            class_name(class)
        ));
        for (bin, &count) in own.iter().enumerate() {
            let x0 = frame.px(frame.x.value_at(bin as f64 / options.bins as f64));
            let x1 = frame.px(frame.x.value_at((bin + 1) as f64 / options.bins as f64));
            let top = if count == 0 {
                base
            } else {
                frame.py(count as f64)
            };
            svg.rect(
                x0,
                top,
                x1 - x0,
                base - top,
                &format!(
                    r#"class="bar" data-class="{}" data-bin="{bin}" data-count="{count}" fill="{colour}" fill-opacity="0.55""#,
                    class_name(class)
                ),
            );
        }
        svg.close_group();
        legend.push(LegendEntry::new(
            format!("{} ({total} rows)", class_name(class)),
            colour,
            Mark::Swatch,
        ));
    }
    if threshold.is_finite() {
        let tx = frame.px(threshold);
        svg.line(
            tx,
            frame.py(frame.y.hi),
            tx,
            base,
            &format!(
                r#"class="threshold" data-value="{threshold}" {}"#,
                stroke(MARK_COLOUR, Mark::Dashed, 2.0)
            ),
        );
    }
    legend.push(threshold_entry(threshold));
    frame.legend_above(&mut svg, &legend);
    Ok(svg.finish("Score distribution by class"))
}

/// One named curve of an overlay chart, with an optional operating-point marker.
#[derive(Debug, Clone)]
pub struct Curve {
    pub name: String,
    pub colour: String,
    /// Data coordinates, in drawing order.
    pub points: Vec<(f64, f64)>,
    pub marker: Option<(f64, f64)>,
}

impl Curve {
    /// A ROC curve, marked where `at` (the confusion at the chosen threshold) sits on it.
    pub fn roc(name: String, colour: &str, points: &[RocPoint], at: Option<&Confusion>) -> Self {
        Self {
            name,
            colour: colour.into(),
            points: points.iter().map(|p| (p.fpr, p.tpr)).collect(),
            marker: at.map(|c| {
                let fpr = c.fp as f64 / (c.fp + c.tn).max(1) as f64;
                (fpr, c.recall())
            }),
        }
    }

    /// A precision–recall curve as steps (each threshold's precision holds back to the
    /// previous recall, as average precision counts it; straight lines between thresholds
    /// would promise precisions no threshold gives), marked at the chosen threshold.
    pub fn pr(name: String, colour: &str, points: &[PrPoint], at: Option<&Confusion>) -> Self {
        let mut steps = Vec::with_capacity(points.len() * 2);
        for (i, p) in points.iter().enumerate() {
            if i > 0 {
                steps.push((points[i - 1].recall, p.precision));
            }
            steps.push((p.recall, p.precision));
        }
        Self {
            name,
            colour: colour.into(),
            points: steps,
            marker: at
                .filter(|c| c.tp + c.fp > 0)
                .map(|c| (c.recall(), c.precision())),
        }
    }
}

fn draw_curves(frame: &Frame, svg: &mut Svg, curves: &[Curve]) {
    for curve in curves {
        let pixels: Vec<(f64, f64)> = curve
            .points
            .iter()
            .map(|&(x, y)| (frame.px(x), frame.py(y)))
            .collect();
        let name = escape(&curve.name);
        let colour = escape(&curve.colour);
        svg.polyline(
            &thin_points(pixels, CURVE_RESOLUTION),
            &format!(
                r#"class="curve" data-series="{name}" {}"#,
                stroke(&colour, Mark::Line, 2.0)
            ),
        );
        if let Some((x, y)) = curve.marker {
            svg.circle(
                frame.px(x),
                frame.py(y),
                5.0,
                &format!(
                    r#"class="operating-point" data-series="{name}" fill="{colour}" stroke="white" stroke-width="1.5""#
                ),
            );
        }
    }
}

fn curve_legend(curves: &[Curve]) -> Vec<LegendEntry> {
    curves
        .iter()
        .map(|c| LegendEntry::new(c.name.clone(), &c.colour, Mark::Line))
        .collect()
}

/// ROC curves (one or an overlay) with the chance diagonal.
pub fn roc_chart(title: &str, curves: &[Curve]) -> String {
    let frame = Frame::new(
        title,
        Axis::linear(
            "false positive rate (share of normal rows flagged)",
            0.0,
            1.0,
        ),
        Axis::linear("true positive rate (recall)", 0.0, 1.0),
    );
    let mut svg = frame.start();
    svg.line(
        frame.px(0.0),
        frame.py(0.0),
        frame.px(1.0),
        frame.py(1.0),
        &format!(
            r#"class="chance" {}"#,
            stroke(REFERENCE_COLOUR, Mark::Dashed, 1.0)
        ),
    );
    draw_curves(&frame, &mut svg, curves);
    let mut legend = curve_legend(curves);
    legend.push(LegendEntry::new("chance", REFERENCE_COLOUR, Mark::Dashed));
    frame.legend_inside(&mut svg, &legend, false);
    svg.finish(title)
}

/// Precision–recall curves with the no-skill line at the anomaly share `prevalence`.
pub fn pr_chart(title: &str, curves: &[Curve], prevalence: f64) -> String {
    let frame = Frame::new(
        title,
        Axis::linear("recall (share of anomalies flagged)", 0.0, 1.0),
        Axis::linear(
            "precision (share of flagged rows that are anomalies)",
            0.0,
            1.0,
        ),
    );
    let mut svg = frame.start();
    svg.line(
        frame.px(0.0),
        frame.py(prevalence),
        frame.px(1.0),
        frame.py(prevalence),
        &format!(
            r#"class="no-skill" data-value="{prevalence}" {}"#,
            stroke(REFERENCE_COLOUR, Mark::Dashed, 1.0)
        ),
    );
    draw_curves(&frame, &mut svg, curves);
    let mut legend = curve_legend(curves);
    legend.push(LegendEntry::new(
        format!("no skill (anomaly share {})", short(prevalence)),
        REFERENCE_COLOUR,
        Mark::Dashed,
    ));
    if frame.legend_fits_above(&legend) {
        frame.legend_above(&mut svg, &legend);
    } else {
        frame.legend_inside(&mut svg, &legend, true);
    }
    svg.finish(title)
}

/// Precision, recall and F1 of flagging `score >= t`, against t, the chosen threshold marked.
pub fn threshold_chart(points: &[PrPoint], threshold: f64, scale: Scale) -> Result<String> {
    let points: Vec<&PrPoint> = points
        .iter()
        .filter(|p| scale != Scale::Log || p.threshold > 0.0)
        .collect();
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
            (l.min(p.threshold), h.max(p.threshold))
        });
    if points.is_empty() {
        return Err(Error::input("the threshold chart", "no thresholds to draw"));
    }
    let label = format!(
        "threshold (rows scoring at least this are flagged{})",
        scale_note(scale)
    );
    let x = Axis::scaled(label, lo, hi, scale);
    let title = "Precision, recall and F1 by threshold";
    let frame = Frame::new(title, x, Axis::linear("value", 0.0, 1.0));
    let mut svg = frame.start();
    fn f1(p: &PrPoint) -> f64 {
        let s = p.precision + p.recall;
        if s == 0.0 {
            0.0
        } else {
            2.0 * p.precision * p.recall / s
        }
    }
    let curve = |name: &str, colour: &str, value: fn(&PrPoint) -> f64| Curve {
        name: name.into(),
        colour: colour.into(),
        points: points.iter().map(|p| (p.threshold, value(p))).collect(),
        marker: None,
    };
    let curves = [
        curve("precision", NORMAL_COLOUR, |p| p.precision),
        curve("recall", ANOMALY_COLOUR, |p| p.recall),
        curve("F1", "#228833", f1),
    ];
    draw_curves(&frame, &mut svg, &curves);
    if threshold.is_finite() {
        let tx = frame.px(threshold);
        svg.line(
            tx,
            frame.py(1.0),
            tx,
            frame.py(0.0),
            &format!(
                r#"class="threshold" data-value="{threshold}" {}"#,
                stroke(MARK_COLOUR, Mark::Dashed, 2.0)
            ),
        );
    }
    let mut legend = curve_legend(&curves);
    legend.push(threshold_entry(threshold));
    frame.legend_above(&mut svg, &legend);
    Ok(svg.finish(title))
}

/// The 2 × 2 confusion matrix: counts, and each cell's share of its actual class.
pub fn confusion_chart(c: &Confusion) -> String {
    let title = "Confusion matrix at the chosen threshold";
    let mut svg = Svg::new(WIDTH, HEIGHT);
    svg.text(
        WIDTH / 2.0,
        26.0,
        title,
        r#"class="chart-title" text-anchor="middle" font-size="15" font-weight="bold""#,
    );
    let (cell, left, top) = (140.0, 220.0, 90.0);
    let labels = ["normal", "anomaly"];
    for (j, name) in labels.iter().enumerate() {
        svg.text(
            left + cell * (j as f64 + 0.5),
            top - 10.0,
            &format!("flagged {name}"),
            r##"class="tick" text-anchor="middle" font-size="13" fill="#222222""##,
        );
    }
    let rows = [[c.tn, c.fp], [c.fn_, c.tp]];
    let names = [
        ["true negative", "false positive"],
        ["false negative", "true positive"],
    ];
    for (i, row) in rows.iter().enumerate() {
        let total = row.iter().sum::<u64>().max(1) as f64;
        let y = top + cell * i as f64;
        svg.text(
            left - 12.0,
            y + cell / 2.0 + 4.0,
            &format!("actual {}", labels[i]),
            r##"class="tick" text-anchor="end" font-size="13" fill="#222222""##,
        );
        for (j, &count) in row.iter().enumerate() {
            let share = count as f64 / total;
            let x = left + cell * j as f64;
            // Correct cells in the normal colour, errors in the anomaly colour, by share.
            let colour = if i == j {
                NORMAL_COLOUR
            } else {
                ANOMALY_COLOUR
            };
            svg.rect(
                x,
                y,
                cell,
                cell,
                &format!(
                    r#"class="cell" data-actual="{}" data-flagged="{}" data-count="{count}" fill="{colour}" fill-opacity="{}" stroke="white" stroke-width="2""#,
                    labels[i],
                    labels[j],
                    px(0.08 + 0.85 * share)
                ),
            );
            let ink = if share > 0.55 { "white" } else { "#222222" };
            svg.text(
                x + cell / 2.0,
                y + cell / 2.0 - 8.0,
                &count.to_string(),
                &format!(r#"text-anchor="middle" font-size="18" font-weight="bold" fill="{ink}""#),
            );
            svg.text(
                x + cell / 2.0,
                y + cell / 2.0 + 12.0,
                &format!("{:.1} % of {} rows", share * 100.0, labels[i]),
                &format!(r#"text-anchor="middle" font-size="11" fill="{ink}""#),
            );
            svg.text(
                x + cell / 2.0,
                y + cell / 2.0 + 28.0,
                names[i][j],
                &format!(r#"text-anchor="middle" font-size="11" fill="{ink}""#),
            );
        }
    }
    svg.finish(title)
}

/// One chart per named loss (the total "loss" first): training per epoch, and validation
/// dashed where a validation split was held out. Returns (loss name, SVG).
pub fn loss_charts(history: &[EpochRecord]) -> Vec<(String, String)> {
    let mut names: Vec<String> = history
        .iter()
        .flat_map(|e| e.train.keys().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    names.sort_by_key(|n| n != "loss");
    names
        .into_iter()
        .map(|name| {
            let train: Vec<(f64, f64)> = history
                .iter()
                .filter_map(|e| e.train.get(&name).map(|&v| (e.epoch as f64, v)))
                .collect();
            let valid: Vec<(f64, f64)> = history
                .iter()
                .filter_map(|e| {
                    e.valid
                        .as_ref()
                        .and_then(|v| v.get(&name))
                        .map(|&v| (e.epoch as f64, v))
                })
                .collect();
            let all = train.iter().chain(&valid);
            let (x_hi, y_lo, y_hi) = all.fold(
                (1.0f64, f64::INFINITY, f64::NEG_INFINITY),
                |(x, l, h), &(e, v)| (x.max(e), l.min(v), h.max(v)),
            );
            let title = match name.as_str() {
                "loss" => "Training loss per epoch".to_string(),
                // A classifier's share of rows on the right side of 0 (mlp_classifier).
                "accuracy" => "Accuracy per epoch".to_string(),
                _ => format!("Loss term \u{201c}{name}\u{201d} per epoch"),
            };
            let first_epoch = history.first().map_or(0.0, |e| e.epoch as f64);
            // A log axis when the first epochs would flatten the rest of the curve.
            let y = if y_lo > 0.0 && y_hi / y_lo > 30.0 {
                Axis::log(format!("{name} (mean over batches, log scale)"), y_lo, y_hi)
            } else {
                Axis::nice_linear(format!("{name} (mean over batches)"), y_lo, y_hi)
            };
            let frame = Frame::new(&title, Axis::integer("epoch", first_epoch, x_hi), y);
            let mut svg = frame.start();
            let mut curves = vec![Curve {
                name: "training".into(),
                colour: NORMAL_COLOUR.into(),
                points: train,
                marker: None,
            }];
            if !valid.is_empty() {
                curves.push(Curve {
                    name: "validation".into(),
                    colour: ANOMALY_COLOUR.into(),
                    points: valid,
                    marker: None,
                });
            }
            draw_curves(&frame, &mut svg, &curves);
            frame.legend_above(&mut svg, &curve_legend(&curves));
            (name, svg.finish(&title))
        })
        .collect()
}
