//! Axes, the framed plot area every chart draws into, legends and colours.
//!
//! The plot area is written as `<rect class="plot-area" data-x="lo hi" data-y="lo hi"
//! data-x-scale="linear|log" …>`, so a reader of the SVG (the tests, the dashboard) can map
//! any pixel back to data coordinates.

use serde::{Deserialize, Serialize};

use crate::svg::{Svg, escape, px, text_width};

pub const WIDTH: f64 = 640.0;
pub const HEIGHT: f64 = 420.0;
const TITLE_SIZE: f64 = 15.0;
const LABEL_SIZE: f64 = 13.0;
const TICK_SIZE: f64 = 11.0;
const LEGEND_SIZE: f64 = 12.0;

/// The colour of normal rows in every chart.
pub const NORMAL_COLOUR: &str = "#4477AA";
/// The colour of anomalous rows in every chart.
pub const ANOMALY_COLOUR: &str = "#EE6677";
/// Threshold markers and reference lines.
pub const MARK_COLOUR: &str = "#222222";
pub(crate) const REFERENCE_COLOUR: &str = "#888888";
/// Detector colours in comparisons: Paul Tol's colour-blind-safe "bright" scheme.
const PALETTE: [&str; 7] = [
    "#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB",
];

/// The colour of the `i`-th detector of a comparison, the same on every page of it.
pub fn series_colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// How an axis maps values to positions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    Linear,
    Log,
    /// sign(v) · ln(1 + |v| / width): linear near zero, logarithmic in both tails, for
    /// heavy-tailed values of either sign (DAGMM energies, SVM decision values).
    SymLog {
        width: f64,
    },
}

impl Scale {
    fn name(self) -> String {
        match self {
            Scale::Linear => "linear".into(),
            Scale::Log => "log".into(),
            Scale::SymLog { width } => format!("symlog:{width}"),
        }
    }

    /// Where `v` lies along the scale, up to an affine map.
    fn forward(self, v: f64) -> f64 {
        match self {
            Scale::Linear => v,
            Scale::Log => v.ln(),
            Scale::SymLog { width } => v.signum() * (v.abs() / width).ln_1p(),
        }
    }

    fn inverse(self, t: f64) -> f64 {
        match self {
            Scale::Linear => t,
            Scale::Log => t.exp(),
            Scale::SymLog { width } => t.signum() * width * t.abs().exp_m1(),
        }
    }
}

/// One axis: its label (with units), its domain and scale, or named categories.
#[derive(Debug, Clone)]
pub struct Axis {
    pub label: String,
    pub lo: f64,
    pub hi: f64,
    pub scale: Scale,
    /// Category names at positions 0.5, 1.5, … (bar charts); `lo..hi` is then `0..n`.
    categories: Option<Vec<String>>,
    /// Ticks only at whole numbers (epochs).
    integer: bool,
}

impl Axis {
    /// A linear axis over exactly `lo..hi` (widened when they are equal).
    pub fn linear(label: impl Into<String>, lo: f64, hi: f64) -> Self {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            (lo - pad, hi + pad)
        };
        Self {
            label: label.into(),
            lo,
            hi,
            scale: Scale::Linear,
            categories: None,
            integer: false,
        }
    }

    /// A linear axis with ticks at whole numbers only.
    pub fn integer(label: impl Into<String>, lo: f64, hi: f64) -> Self {
        Self {
            integer: true,
            ..Self::linear(label, lo, hi)
        }
    }

    /// A linear axis over `lo..hi` widened to whole tick steps.
    pub fn nice_linear(label: impl Into<String>, lo: f64, hi: f64) -> Self {
        let mut axis = Self::linear(label, lo, hi);
        let step = linear_step(axis.lo, axis.hi);
        axis.lo = (axis.lo / step).floor() * step;
        axis.hi = (axis.hi / step).ceil() * step;
        axis
    }

    /// A log axis over exactly `lo..hi`; both must be positive.
    pub fn log(label: impl Into<String>, lo: f64, hi: f64) -> Self {
        debug_assert!(lo > 0.0, "log axis from {lo}");
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo / 2.0, hi * 2.0)
        };
        Self {
            label: label.into(),
            lo,
            hi,
            scale: Scale::Log,
            categories: None,
            integer: false,
        }
    }

    /// An axis of `scale` over exactly `lo..hi`.
    pub fn scaled(label: impl Into<String>, lo: f64, hi: f64, scale: Scale) -> Self {
        match scale {
            Scale::Log => Self::log(label, lo, hi),
            other => Self {
                scale: other,
                ..Self::linear(label, lo, hi)
            },
        }
    }

    /// Named categories, the first at the low end.
    pub fn categories(label: impl Into<String>, names: Vec<String>) -> Self {
        Self {
            label: label.into(),
            lo: 0.0,
            hi: names.len().max(1) as f64,
            scale: Scale::Linear,
            categories: Some(names),
            integer: false,
        }
    }

    /// The position of `v` along the axis: 0 at `lo`, 1 at `hi`.
    pub fn fraction(&self, v: f64) -> f64 {
        let f = |v| self.scale.forward(v);
        (f(v) - f(self.lo)) / (f(self.hi) - f(self.lo))
    }

    /// The value at `fraction` of the way from `lo` to `hi`.
    pub fn value_at(&self, fraction: f64) -> f64 {
        let (lo, hi) = (self.scale.forward(self.lo), self.scale.forward(self.hi));
        self.scale.inverse(lo + fraction * (hi - lo))
    }

    /// Tick positions with their labels.
    fn ticks(&self) -> Vec<(f64, String)> {
        if let Some(names) = &self.categories {
            return names
                .iter()
                .enumerate()
                .map(|(i, n)| (i as f64 + 0.5, n.clone()))
                .collect();
        }
        match self.scale {
            Scale::Linear => linear_ticks(self.lo, self.hi, if self.integer { 1.0 } else { 0.0 }),
            Scale::SymLog { width } => {
                // Zero and ± powers of ten from the linear width out.
                let mut ticks = vec![0.0];
                let mut k = (width.log10() + 1e-9).ceil() as i32;
                while 10f64.powi(k) <= self.lo.abs().max(self.hi.abs()) {
                    ticks.extend([10f64.powi(k), -(10f64.powi(k))]);
                    k += 1;
                }
                ticks.retain(|&v| v >= self.lo && v <= self.hi);
                ticks.sort_by(f64::total_cmp);
                if ticks.len() < 3 {
                    return linear_ticks(self.lo, self.hi, 0.0);
                }
                ticks
                    .into_iter()
                    .map(|v| (v, format_tick(v, v.abs().max(width))))
                    .collect()
            }
            Scale::Log => {
                let first = (self.lo.log10() - 1e-9).ceil() as i32;
                let last = (self.hi.log10() + 1e-9).floor() as i32;
                if last - first < 3 {
                    // Few powers of ten inside: 1, 2 and 5 times them, or evenly spaced
                    // values when even those are too few.
                    let ticks: Vec<(f64, String)> = (first - 1..=last)
                        .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(k)))
                        .filter(|&v| v >= self.lo * (1.0 - 1e-9) && v <= self.hi * (1.0 + 1e-9))
                        .map(|v| (v, format_tick(v, v)))
                        .collect();
                    return if ticks.len() >= 3 {
                        ticks
                    } else {
                        linear_ticks(self.lo, self.hi, 0.0)
                    };
                }
                let stride = ((last - first + 1) as usize).div_ceil(8);
                (first..=last)
                    .step_by(stride)
                    .map(|k| {
                        let v = 10f64.powi(k);
                        (v, format_tick(v, v))
                    })
                    .collect()
            }
        }
    }
}

/// Ticks at whole multiples of a round step of at least `min_step`, with their labels.
fn linear_ticks(lo: f64, hi: f64, min_step: f64) -> Vec<(f64, String)> {
    let step = linear_step(lo, hi).max(min_step);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            (v, format_tick(v, step))
        })
        .collect()
}

/// A tick step of 1, 2 or 5 times a power of ten giving about six ticks.
fn linear_step(lo: f64, hi: f64) -> f64 {
    let raw = (hi - lo) / 6.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let normalised = raw / magnitude;
    let factor = match normalised {
        n if n < 1.5 => 1.0,
        n if n < 3.5 => 2.0,
        n if n < 7.5 => 5.0,
        _ => 10.0,
    };
    factor * magnitude
}

/// A tick label precise enough to tell ticks `step` apart, in scientific notation for
/// very large or very small values.
pub fn format_tick(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let scientific = v.abs() >= 1e5 || v.abs() < 1e-3 || step.abs() < 1e-4;
    if scientific {
        let digits = (decade(v) - decade(step)).clamp(0, 6);
        let text = format!("{v:.*e}", digits as usize);
        match text.split_once('e') {
            Some((mantissa, exponent)) if mantissa.contains('.') => {
                let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
                format!("{mantissa}e{exponent}")
            }
            _ => text,
        }
    } else {
        let decimals = (-decade(step)).max(0) as usize;
        format!("{v:.decimals$}")
    }
}

/// ⌊log₁₀ |v|⌋, robust to the rounding of exact powers of ten.
fn decade(v: f64) -> i32 {
    (v.abs().log10() + 1e-9).floor() as i32
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Line,
    Dashed,
    Swatch,
}

pub struct LegendEntry {
    pub label: String,
    pub colour: String,
    pub mark: Mark,
}

impl LegendEntry {
    pub fn new(label: impl Into<String>, colour: &str, mark: Mark) -> Self {
        Self {
            label: label.into(),
            colour: colour.into(),
            mark,
        }
    }
}

/// Line attributes for a mark.
pub fn stroke(colour: &str, mark: Mark, width: f64) -> String {
    let dash = if mark == Mark::Dashed {
        r#" stroke-dasharray="6 4""#
    } else {
        ""
    };
    format!(r#"stroke="{colour}" stroke-width="{}"{dash}"#, px(width))
}

/// A titled chart with two axes, its plot area placed so the tick labels fit.
pub struct Frame {
    pub x: Axis,
    pub y: Axis,
    title: String,
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    x_ticks: Vec<(f64, String)>,
    y_ticks: Vec<(f64, String)>,
}

impl Frame {
    pub fn new(title: impl Into<String>, x: Axis, y: Axis) -> Self {
        Self::sized(title, x, y, WIDTH, HEIGHT)
    }

    pub fn sized(title: impl Into<String>, x: Axis, y: Axis, width: f64, height: f64) -> Self {
        let y_ticks = y.ticks();
        let y_labels = y_ticks
            .iter()
            .map(|(_, t)| text_width(t, TICK_SIZE))
            .fold(0.0, f64::max);
        let left = 12.0 + LABEL_SIZE + 10.0 + y_labels + 8.0;
        let mut x_ticks = x.ticks();
        let last_label = x_ticks
            .last()
            .map_or(0.0, |(_, t)| text_width(t, TICK_SIZE));
        let right = width - (last_label / 2.0 + 8.0).max(24.0);
        // Drop every other x tick until the labels have room.
        let widest = x_ticks
            .iter()
            .map(|(_, t)| text_width(t, TICK_SIZE))
            .fold(0.0, f64::max);
        while x.categories.is_none()
            && x_ticks.len() > 2
            && (widest + 12.0) * x_ticks.len() as f64 > right - left
        {
            x_ticks = x_ticks.into_iter().step_by(2).collect();
        }
        Self {
            x,
            y,
            title: title.into(),
            width,
            height,
            left,
            right,
            top: 58.0,
            bottom: height - (TICK_SIZE + 8.0 + LABEL_SIZE + 18.0),
            x_ticks,
            y_ticks,
        }
    }

    /// The x pixel of data value `v`, held inside the plot area.
    pub fn px(&self, v: f64) -> f64 {
        self.left + self.x.fraction(v).clamp(0.0, 1.0) * (self.right - self.left)
    }

    /// The y pixel of data value `v`, held inside the plot area.
    pub fn py(&self, v: f64) -> f64 {
        self.bottom - self.y.fraction(v).clamp(0.0, 1.0) * (self.bottom - self.top)
    }

    pub fn plot_width(&self) -> f64 {
        self.right - self.left
    }

    pub fn plot_height(&self) -> f64 {
        self.bottom - self.top
    }

    /// A new SVG with the title, grid, ticks, axis labels and the plot area drawn.
    pub fn start(&self) -> Svg {
        let mut svg = Svg::new(self.width, self.height);
        svg.text(
            self.width / 2.0,
            26.0,
            &self.title,
            &format!(
                r#"class="chart-title" text-anchor="middle" font-size="{TITLE_SIZE}" font-weight="bold""#
            ),
        );
        svg.rect(
            self.left,
            self.top,
            self.plot_width(),
            self.plot_height(),
            &format!(
                r##"class="plot-area" data-x="{} {}" data-y="{} {}" data-x-scale="{}" data-y-scale="{}" fill="#FCFCFC" stroke="#999999""##,
                self.x.lo,
                self.x.hi,
                self.y.lo,
                self.y.hi,
                self.x.scale.name(),
                self.y.scale.name(),
            ),
        );
        let tick_attrs = format!(r##"class="tick" font-size="{TICK_SIZE}" fill="#333333""##);
        for (v, label) in &self.y_ticks {
            let y = self.py(*v);
            if self.y.categories.is_none() {
                svg.line(
                    self.left,
                    y,
                    self.right,
                    y,
                    r##"class="grid" stroke="#E4E4E4""##,
                );
            }
            svg.text(
                self.left - 6.0,
                y + TICK_SIZE * 0.35,
                label,
                &format!(r#"{tick_attrs} text-anchor="end""#),
            );
        }
        for (v, label) in &self.x_ticks {
            let x = self.px(*v);
            if self.x.categories.is_none() {
                svg.line(
                    x,
                    self.top,
                    x,
                    self.bottom,
                    r##"class="grid" stroke="#E4E4E4""##,
                );
            }
            svg.text(
                x,
                self.bottom + TICK_SIZE + 6.0,
                label,
                &format!(r#"{tick_attrs} text-anchor="middle""#),
            );
        }
        let label_attrs = format!(r##"font-size="{LABEL_SIZE}" fill="#222222""##);
        svg.text(
            (self.left + self.right) / 2.0,
            self.height - 12.0,
            &self.x.label,
            &format!(r#"class="axis-label x" text-anchor="middle" {label_attrs}"#),
        );
        let (cx, cy) = (12.0 + LABEL_SIZE, (self.top + self.bottom) / 2.0);
        svg.text(
            cx,
            cy,
            &self.y.label,
            &format!(
                r#"class="axis-label y" text-anchor="middle" transform="rotate(-90 {} {})" {label_attrs}"#,
                px(cx),
                px(cy)
            ),
        );
        svg
    }

    /// A boxed legend in a bottom corner of the plot area: bottom-right is empty on ROC
    /// charts, bottom-left on precision–recall charts.
    pub fn legend_inside(&self, svg: &mut Svg, entries: &[LegendEntry], left: bool) {
        if entries.is_empty() {
            return;
        }
        let row = LEGEND_SIZE + 6.0;
        let width = entries
            .iter()
            .map(|e| text_width(&e.label, LEGEND_SIZE))
            .fold(0.0, f64::max)
            + 40.0;
        let height = row * entries.len() as f64 + 8.0;
        let x = if left {
            self.left + 10.0
        } else {
            self.right - 10.0 - width
        };
        let y = self.bottom - 10.0 - height;
        svg.open_group(r#"class="legend""#);
        svg.rect(
            x,
            y,
            width,
            height,
            r##"fill="white" fill-opacity="0.9" stroke="#BBBBBB""##,
        );
        for (i, entry) in entries.iter().enumerate() {
            let cy = y + 4.0 + row * (i as f64 + 0.5);
            let colour = escape(&entry.colour);
            match entry.mark {
                Mark::Swatch => svg.rect(
                    x + 8.0,
                    cy - 5.0,
                    20.0,
                    10.0,
                    &format!(r#"fill="{colour}" fill-opacity="0.7""#),
                ),
                mark => svg.line(x + 8.0, cy, x + 28.0, cy, &stroke(&colour, mark, 2.0)),
            }
            svg.text(
                x + 34.0,
                cy + LEGEND_SIZE * 0.35,
                &entry.label,
                &format!(r##"class="legend-label" font-size="{LEGEND_SIZE}" fill="#222222""##),
            );
        }
        svg.close_group();
    }

    /// Whether [`Frame::legend_above`] has room for `entries` in one row.
    pub fn legend_fits_above(&self, entries: &[LegendEntry]) -> bool {
        let width: f64 = entries
            .iter()
            .map(|e| 26.0 + text_width(&e.label, LEGEND_SIZE) + 18.0)
            .sum();
        width - 18.0 <= self.plot_width()
    }

    /// A legend in one row between the title and the plot area, where it covers no data.
    pub fn legend_above(&self, svg: &mut Svg, entries: &[LegendEntry]) {
        let y = self.top - 12.0;
        let mut x = self.left;
        svg.open_group(r#"class="legend""#);
        for entry in entries {
            let colour = escape(&entry.colour);
            match entry.mark {
                Mark::Swatch => svg.rect(
                    x,
                    y - 5.0,
                    20.0,
                    10.0,
                    &format!(r#"fill="{colour}" fill-opacity="0.7""#),
                ),
                mark => svg.line(x, y, x + 20.0, y, &stroke(&colour, mark, 2.0)),
            }
            svg.text(
                x + 26.0,
                y + LEGEND_SIZE * 0.35,
                &entry.label,
                &format!(r##"class="legend-label" font-size="{LEGEND_SIZE}" fill="#222222""##),
            );
            x += 26.0 + text_width(&entry.label, LEGEND_SIZE) + 18.0;
        }
        svg.close_group();
    }
}

/// Drops points closer than `min_step` pixels (city-block) to the last one kept, keeping the
/// first and last: curves over hundreds of thousands of thresholds stay small.
pub fn thin_points(points: Vec<(f64, f64)>, min_step: f64) -> Vec<(f64, f64)> {
    let Some(&last) = points.last() else {
        return points;
    };
    let mut kept: Vec<(f64, f64)> = Vec::new();
    for p in points {
        match kept.last() {
            Some(&(x, y)) if (p.0 - x).abs() + (p.1 - y).abs() < min_step => {}
            _ => kept.push(p),
        }
    }
    if kept.last() != Some(&last) {
        kept.push(last);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_numbers() {
        let axis = Axis::linear("x", 0.0, 1.0);
        let labels: Vec<String> = axis.ticks().into_iter().map(|(_, l)| l).collect();
        assert_eq!(labels, ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let axis = Axis::nice_linear("x", 0.13, 7.9);
        assert_eq!((axis.lo, axis.hi), (0.0, 8.0));
    }

    #[test]
    fn log_ticks_are_powers_of_ten() {
        let axis = Axis::log("x", 1e-4, 10.0);
        let labels: Vec<String> = axis.ticks().into_iter().map(|(_, l)| l).collect();
        assert_eq!(labels, ["1e-4", "0.001", "0.01", "0.1", "1", "10"]);
        // Less than a decade still gets ticks.
        assert!(Axis::log("x", 0.3, 0.9).ticks().len() >= 2);
    }

    #[test]
    fn tick_labels_switch_to_scientific_far_from_one() {
        assert_eq!(format_tick(250000.0, 50000.0), "2.5e5");
        assert_eq!(format_tick(0.00002, 0.00001), "2e-5");
        assert_eq!(format_tick(12.0, 2.0), "12");
    }

    #[test]
    fn thinning_keeps_both_ends() {
        let points: Vec<(f64, f64)> = (0..1000).map(|i| (i as f64 * 0.01, 0.0)).collect();
        let thin = thin_points(points, 0.5);
        assert_eq!(thin.first(), Some(&(0.0, 0.0)));
        assert_eq!(thin.last(), Some(&(9.99, 0.0)));
        assert!(thin.len() < 30, "{}", thin.len());
    }
}
