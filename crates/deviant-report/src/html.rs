//! Self-contained HTML pages: one file each, styles and charts inline, no scripts or
//! external assets, readable offline.

use std::fmt::Write;

use crate::svg::escape;

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif;
       margin: 0 auto; padding: 1.5rem; max-width: 1360px; color: #222; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 0.8rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 0.6rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.92rem; }
th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid #e4e4e4; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; margin: 0; }
dl.facts dt { color: #555; }
dl.facts dd { margin: 0; word-break: break-all; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 1rem; }
figure { margin: 0; border: 1px solid #e4e4e4; border-radius: 4px; padding: 0.4rem; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 0.85rem; color: #555; padding: 0.3rem 0.2rem 0; }
nav a { margin-right: 1rem; }
.note { color: #555; font-size: 0.9rem; }
";

/// An HTML page under construction.
pub(crate) struct Page {
    title: String,
    body: String,
}

impl Page {
    pub fn new(title: &str) -> Self {
        let mut page = Self {
            title: title.into(),
            body: String::new(),
        };
        let _ = writeln!(page.body, "<h1>{}</h1>", escape(title));
        page
    }

    pub fn heading(&mut self, text: &str, id: &str) {
        let _ = writeln!(
            self.body,
            r#"<h2 id="{}">{}</h2>"#,
            escape(id),
            escape(text)
        );
    }

    /// Raw, already-escaped HTML.
    pub fn raw(&mut self, html: &str) {
        self.body.push_str(html);
        self.body.push('\n');
    }

    pub fn paragraph(&mut self, text: &str) {
        let _ = writeln!(self.body, r#"<p class="note">{}</p>"#, escape(text));
    }

    pub fn facts(&mut self, facts: &[(String, String)]) {
        if facts.is_empty() {
            return;
        }
        self.body.push_str(r#"<dl class="facts">"#);
        for (key, value) in facts {
            let _ = write!(
                self.body,
                "<dt>{}</dt><dd>{}</dd>",
                escape(key),
                escape(value)
            );
        }
        self.body.push_str("</dl>\n");
    }

    /// A table of text cells; columns whose header is in `numeric` are right-aligned.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>], numeric: &[&str]) {
        self.raw(&table_html(header, rows, numeric, |_| false));
    }

    /// Charts in a grid, each inline with its caption.
    pub fn charts<'a>(&mut self, charts: impl IntoIterator<Item = (&'a str, &'a str)>) {
        self.body.push_str(r#"<div class="charts">"#);
        for (caption, svg) in charts {
            let _ = write!(
                self.body,
                "<figure>{svg}<figcaption>{}</figcaption></figure>",
                escape(caption)
            );
        }
        self.body.push_str("</div>\n");
    }

    pub fn finish(self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{}\
             <script>{SORT_SCRIPT}</script>\n</body>\n</html>\n",
            escape(&self.title),
            self.body
        )
    }
}

/// Click a table's column header to sort its rows by that column (numbers by value, the
/// leading number of "mean ± std" cells; again to reverse). Inline, so a report stays one
/// offline file.
const SORT_SCRIPT: &str = r#"
document.querySelectorAll("table").forEach((table) => {
  table.querySelectorAll("thead th").forEach((th, column) => {
    th.style.cursor = "pointer";
    th.title = "sort by this column";
    th.addEventListener("click", () => {
      const up = th.dataset.order !== "up";
      th.dataset.order = up ? "up" : "down";
      const value = (row) => {
        const text = row.cells[column] ? row.cells[column].textContent.trim() : "";
        const number = parseFloat(text);
        return Number.isNaN(number) ? text : number;
      };
      const body = table.tBodies[0];
      Array.from(body.rows)
        .sort((a, b) => {
          const [x, y] = [value(a), value(b)];
          const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
          return up ? order : -order;
        })
        .forEach((row) => body.appendChild(row));
    });
  });
});
"#;

/// A table; `highlight(row)` marks rows to set in bold. Cells are escaped here.
pub(crate) fn table_html(
    header: &[&str],
    rows: &[Vec<String>],
    numeric: &[&str],
    highlight: impl Fn(usize) -> bool,
) -> String {
    table_with(header, rows, numeric, highlight, |_, _, cell| escape(cell))
}

/// A table whose cells are rendered by `cell(row, column, text)` into HTML.
pub(crate) fn table_with(
    header: &[&str],
    rows: &[Vec<String>],
    numeric: &[&str],
    highlight: impl Fn(usize) -> bool,
    cell: impl Fn(usize, usize, &str) -> String,
) -> String {
    let class = |h: &str| {
        if numeric.contains(&h) {
            r#" class="num""#
        } else {
            ""
        }
    };
    let mut out = String::from("<table><thead><tr>");
    for h in header {
        let _ = write!(out, "<th{}>{}</th>", class(h), escape(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for (i, row) in rows.iter().enumerate() {
        out.push_str(if highlight(i) {
            r#"<tr class="best">"#
        } else {
            "<tr>"
        });
        for (j, text) in row.iter().enumerate() {
            let _ = write!(
                out,
                "<td{}>{}</td>",
                class(header.get(j).copied().unwrap_or("")),
                cell(i, j, text)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>");
    out
}

/// A file-name-safe form of `name`: ASCII letters, digits, `-` and `_`.
pub(crate) fn slug(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        "unnamed".into()
    } else {
        slug.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe_file_names() {
        assert_eq!(slug("nsl-kdd test+"), "nsl-kdd-test");
        assert_eq!(slug("../etc"), "etc");
        assert_eq!(slug("///"), "unnamed");
    }

    #[test]
    fn tables_escape_cells() {
        let html = table_html(&["a"], &[vec!["<b>".into()]], &[], |_| false);
        assert!(html.contains("<td>&lt;b&gt;</td>"), "{html}");
    }
}
