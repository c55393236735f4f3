//! Bar charts: metric bars, horizontal bars and value histograms.

use super::*;

/// Vertical bars of metrics in [0, 1], each labelled with its value.
pub fn metric_bars(title: &str, metrics: &[(&str, f64)]) -> String {
    let names: Vec<String> = metrics.iter().map(|(n, _)| (*n).to_string()).collect();
    let frame = Frame::new(
        title,
        Axis::categories("metric", names),
        // Headroom above 1 for the value labels.
        Axis::linear("value (0 to 1)", 0.0, 1.1),
    );
    let mut svg = frame.start();
    for (i, &(name, value)) in metrics.iter().enumerate() {
        let x0 = frame.px(i as f64 + 0.2);
        let x1 = frame.px(i as f64 + 0.8);
        let top = frame.py(value);
        svg.rect(
            x0,
            top,
            x1 - x0,
            frame.py(0.0) - top,
            &format!(
                r#"class="bar" data-metric="{}" data-value="{value}" fill="{NORMAL_COLOUR}""#,
                escape(name)
            ),
        );
        svg.text(
            (x0 + x1) / 2.0,
            top - 5.0,
            &format!("{value:.3}"),
            r##"class="value" text-anchor="middle" font-size="12" fill="#222222""##,
        );
    }
    svg.finish(title)
}

/// Horizontal bars, one per named value, the first on top (per-feature contributions,
/// value counts).
pub fn horizontal_bars(
    title: &str,
    value_label: &str,
    items: &[(String, f64)],
    colour: &str,
) -> String {
    const LONGEST: usize = 28;
    // Reversed so the first item is drawn at the top.
    let names: Vec<String> = items
        .iter()
        .rev()
        .map(|(n, _)| {
            if n.chars().count() > LONGEST {
                format!("{}…", n.chars().take(LONGEST - 1).collect::<String>())
            } else {
                n.clone()
            }
        })
        .collect();
    let (lo, hi) = items
        .iter()
        .fold((0.0f64, 0.0f64), |(l, h), (_, v)| (l.min(*v), h.max(*v)));
    let frame = Frame::new(
        title,
        Axis::nice_linear(value_label, lo, hi),
        Axis::categories("", names),
    );
    let mut svg = frame.start();
    let n = items.len();
    for (i, (name, value)) in items.iter().enumerate() {
        let slot = (n - 1 - i) as f64;
        let (y0, y1) = (frame.py(slot + 0.8), frame.py(slot + 0.2));
        let (x0, x1) = (frame.px(value.min(0.0)), frame.px(value.max(0.0)));
        svg.rect(
            x0,
            y0,
            x1 - x0,
            y1 - y0,
            &format!(
                r#"class="bar" data-feature="{}" data-value="{value}" fill="{}""#,
                escape(name),
                escape(colour)
            ),
        );
    }
    svg.finish(title)
}

/// Counts of values in bins `(low, high, count)` over a numeric axis (a column's histogram).
pub fn value_histogram(title: &str, value_label: &str, bins: &[(f64, f64, u64)]) -> String {
    let lo = bins.first().map_or(0.0, |b| b.0);
    let hi = bins.last().map_or(1.0, |b| b.1);
    let highest = bins.iter().map(|b| b.2).max().unwrap_or(1).max(1) as f64;
    let frame = Frame::new(
        title,
        Axis::linear(value_label, lo, hi),
        Axis::nice_linear("rows", 0.0, highest * 1.05),
    );
    let mut svg = frame.start();
    let base = frame.py(0.0);
    for (i, &(low, high, count)) in bins.iter().enumerate() {
        let (x0, x1) = (frame.px(low), frame.px(high));
        let top = frame.py(count as f64);
        svg.rect(
            x0,
            top,
            (x1 - x0 - 1.0).max(1.0),
            base - top,
            &format!(
                r#"class="bar" data-bin="{i}" data-count="{count}" fill="{NORMAL_COLOUR}" fill-opacity="0.8""#
            ),
        );
    }
    svg.finish(title)
}
