//! A minimal SVG writer: the few elements the charts use, with escaped text.
//!
//! Charts are generated as plain SVG rather than through a plotting crate so that every
//! element can carry a `class` and `data-*` attributes (tests read the geometry back, the
//! dashboard can style them) and no font or graphics library is needed to build.

use std::fmt::Write;

/// Escapes text for use in XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A coordinate in pixels, to 0.01 px.
pub(crate) fn px(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// One SVG document under construction. `attrs` arguments are ready-made attribute text
/// (`class="bar" fill="#4477AA"`); any user-supplied value in them must go through
/// [`escape`].
pub(crate) struct Svg {
    width: f64,
    height: f64,
    body: String,
}

impl Svg {
    pub fn new(width: f64, height: f64) -> Self {
        let mut svg = Self {
            width,
            height,
            body: String::new(),
        };
        svg.rect(
            0.0,
            0.0,
            width,
            height,
            r#"class="background" fill="white""#,
        );
        svg
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, attrs: &str) {
        let _ = writeln!(
            self.body,
            r#"<rect x="{}" y="{}" width="{}" height="{}" {attrs}/>"#,
            px(x),
            px(y),
            px(w.max(0.0)),
            px(h.max(0.0))
        );
    }

    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, attrs: &str) {
        let _ = writeln!(
            self.body,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" {attrs}/>"#,
            px(x1),
            px(y1),
            px(x2),
            px(y2)
        );
    }

    pub fn polyline(&mut self, points: &[(f64, f64)], attrs: &str) {
        let mut list = String::with_capacity(points.len() * 14);
        for (i, &(x, y)) in points.iter().enumerate() {
            if i > 0 {
                list.push(' ');
            }
            let _ = write!(list, "{},{}", px(x), px(y));
        }
        let _ = writeln!(
            self.body,
            r#"<polyline points="{list}" fill="none" {attrs}/>"#
        );
    }

    pub fn circle(&mut self, x: f64, y: f64, r: f64, attrs: &str) {
        let _ = writeln!(
            self.body,
            r#"<circle cx="{}" cy="{}" r="{}" {attrs}/>"#,
            px(x),
            px(y),
            px(r)
        );
    }

    /// Text at (x, y) (the baseline); `text` is escaped here.
    pub fn text(&mut self, x: f64, y: f64, text: &str, attrs: &str) {
        let _ = writeln!(
            self.body,
            r#"<text x="{}" y="{}" {attrs}>{}</text>"#,
            px(x),
            px(y),
            escape(text)
        );
    }

    /// Opens a `<g>`; [`Svg::close_group`] closes it.
    pub fn open_group(&mut self, attrs: &str) {
        let _ = writeln!(self.body, "<g {attrs}>");
    }

    pub fn close_group(&mut self) {
        self.body.push_str("</g>\n");
    }

    pub fn finish(self, title: &str) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" font-family=\"{FONT}\" role=\"img\">\n<title>{}</title>\n{}</svg>\n",
            escape(title),
            self.body,
            w = px(self.width),
            h = px(self.height),
        )
    }
}

/// Fonts that render alike on Linux (DejaVu), macOS and Windows.
pub(crate) const FONT: &str = "DejaVu Sans, Verdana, Arial, sans-serif";

/// An upper estimate of the rendered width of `text` at `size` px: DejaVu Sans and Verdana
/// average about 0.6 em per character, wide glyphs up to 0.7 em.
pub(crate) fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.62
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"a<b & "c"'"#), "a&lt;b &amp; &quot;c&quot;&#39;");
    }

    #[test]
    fn pixels_are_short() {
        assert_eq!(px(12.0), "12");
        assert_eq!(px(12.345), "12.35");
        assert_eq!(px(-0.001), "0");
        assert_eq!(px(0.5), "0.5");
    }
}
