//! Series for the sequence detectors: sliding windows over a series, window scores mapped
//! back to points, the rolling z-score baseline, and readers for NAB streams (with their
//! label windows) and UCR sequence files such as ECG5000.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use deviant_core::{Error, Result};
use flate2::read::MultiGzDecoder;
use ndarray::{Array2, ArrayView2};

/// Windows of `length` steps taken every `stride` steps from a `[steps, channels]` series,
/// plus one ending at the last step so every point is covered. Rows hold the window's values
/// step by step (`[t0c0, t0c1, …]`), as the seq2seq detector reads them.
pub fn sliding_windows(
    series: ArrayView2<f32>,
    length: usize,
    stride: usize,
) -> Result<(Array2<f32>, Vec<usize>)> {
    let (steps, channels) = series.dim();
    if length == 0 || stride == 0 {
        return Err(Error::config(
            "window",
            "length and stride must be at least 1",
        ));
    }
    if steps < length {
        return Err(Error::config(
            "window",
            format!("the series has {steps} steps, fewer than the window length {length}"),
        ));
    }
    let mut starts: Vec<usize> = (0..=steps - length).step_by(stride).collect();
    if starts.last() != Some(&(steps - length)) {
        starts.push(steps - length);
    }
    let mut rows = Array2::zeros((starts.len(), length * channels));
    for (row, &start) in rows.rows_mut().into_iter().zip(&starts) {
        let window = series.slice(ndarray::s![start..start + length, ..]);
        for (cell, &value) in row.into_iter().zip(window.iter()) {
            *cell = value;
        }
    }
    Ok((rows, starts))
}

/// How a point's score is made from the windows that cover it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cover {
    Max,
    Mean,
}

impl std::str::FromStr for Cover {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "max" => Ok(Cover::Max),
            "mean" => Ok(Cover::Mean),
            _ => Err(Error::config(
                "cover",
                format!("`{s}` is not one of max, mean"),
            )),
        }
    }
}

/// Per-point scores of an `n_points` series from the scores of windows starting at `starts`.
pub fn point_scores(
    window_scores: &[f32],
    starts: &[usize],
    length: usize,
    n_points: usize,
    cover: Cover,
) -> Vec<f32> {
    let mut total = vec![0f64; n_points];
    let mut count = vec![0u32; n_points];
    let mut max = vec![f32::NEG_INFINITY; n_points];
    for (&score, &start) in window_scores.iter().zip(starts) {
        for t in start..(start + length).min(n_points) {
            total[t] += f64::from(score);
            count[t] += 1;
            max[t] = max[t].max(score);
        }
    }
    (0..n_points)
        .map(|t| match cover {
            Cover::Max => max[t],
            Cover::Mean => (total[t] / f64::from(count[t].max(1))) as f32,
        })
        .collect()
}

/// |x_t − mean| / std over the `window` points before t: the classic streaming baseline.
/// The first points, with fewer than two predecessors, score 0.
pub fn rolling_zscore(values: &[f32], window: usize) -> Vec<f32> {
    (0..values.len())
        .map(|t| {
            let past = &values[t.saturating_sub(window)..t];
            if past.len() < 2 {
                return 0.0;
            }
            let n = past.len() as f64;
            let mean = past.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = past
                .iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / n;
            ((f64::from(values[t]) - mean).abs() / (var.sqrt() + 1e-9)) as f32
        })
        .collect()
}

/// (v − mean) / std of one series, on itself (a constant series becomes zeros).
pub fn standardised(values: &[f32]) -> Vec<f32> {
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let std = (values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    values
        .iter()
        .map(|&v| ((f64::from(v) - mean) / std.max(1e-12)) as f32)
        .collect()
}

/// One NAB stream with per-point labels (1 inside a labelled anomaly window).
#[derive(Debug, Clone)]
pub struct NabSeries {
    /// `<category>/<file>.csv`, the key NAB's label files use.
    pub name: String,
    /// Each row's timestamp as written (`YYYY-MM-DD HH:MM:SS`), kept so results can be
    /// written beside the rows they score.
    pub timestamps: Vec<String>,
    pub values: Vec<f32>,
    pub labels: Vec<u8>,
    /// Each label window as inclusive `(first_row, last_row)`, in order, as NAB's scorer
    /// places it (see [`deviant_core::nab`]); a duplicated timestamp at a window's end is
    /// labelled 1 in `labels` but counts in the window only once here, as in NAB.
    pub windows: Vec<(usize, usize)>,
}

/// Every `data/<category>/*.csv` under a NAB folder, labelled from
/// `labels/combined_windows.json`; files without an entry there are refused.
pub fn read_nab(root: &Path) -> Result<Vec<NabSeries>> {
    let windows_path = root.join("labels").join("combined_windows.json");
    let text = std::fs::read_to_string(&windows_path).map_err(|e| Error::io(&windows_path, e))?;
    let windows: BTreeMap<String, Vec<[String; 2]>> = serde_json::from_str(&text).map_err(|e| {
        Error::format(
            windows_path.display(),
            format!("not NAB's label windows: {e}"),
        )
    })?;
    let data = root.join("data");
    let mut files = Vec::new();
    for category in std::fs::read_dir(&data).map_err(|e| Error::io(&data, e))? {
        let category = category.map_err(|e| Error::io(&data, e))?.path();
        if !category.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&category).map_err(|e| Error::io(&category, e))? {
            let file = file.map_err(|e| Error::io(&category, e))?.path();
            if file.extension().is_some_and(|e| e == "csv") {
                files.push(file);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::Empty {
            what: format!("{} (NAB series)", data.display()),
            remedy: "point --data at a NAB folder holding data/<category>/*.csv and labels/".into(),
        });
    }
    files
        .iter()
        .map(|path| {
            let category = path.parent().and_then(Path::file_name).unwrap_or_default();
            let name = format!(
                "{}/{}",
                category.to_string_lossy(),
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            let spans = windows.get(&name).ok_or_else(|| {
                Error::format(
                    windows_path.display(),
                    format!("no label windows for `{name}`; is the labels folder from the same NAB release?"),
                )
            })?;
            read_nab_file(path, name, spans)
        })
        .collect()
}

fn read_nab_file(path: &Path, name: String, spans: &[[String; 2]]) -> Result<NabSeries> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| Error::format(path.display(), e.to_string()))?;
    let (mut timestamps, mut values, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = record.map_err(|e| Error::format(path.display(), e.to_string()))?;
        let cell = |column: usize, label: &str| {
            record.get(column).ok_or_else(|| Error::Cell {
                file: path.display().to_string(),
                line,
                column: label.into(),
                reason: "missing; NAB rows are `timestamp,value`".into(),
            })
        };
        let timestamp = cell(0, "timestamp")?;
        let value: f32 = cell(1, "value")?.trim().parse().map_err(|_| Error::Cell {
            file: path.display().to_string(),
            line,
            column: "value".into(),
            reason: format!("`{}` is not a number", record.get(1).unwrap_or_default()),
        })?;
        // Timestamps share NAB's `YYYY-MM-DD HH:MM:SS` layout, so text order is time order.
        let inside = spans.iter().any(|[start, end]| {
            let (start, end) = (&start[..start.len().min(19)], &end[..end.len().min(19)]);
            timestamp >= start && timestamp <= end
        });
        timestamps.push(timestamp.to_owned());
        values.push(value);
        labels.push(u8::from(inside));
    }
    let windows = window_rows(&timestamps, spans).map_err(|reason| {
        Error::format(
            path.display(),
            format!("label windows of `{name}`: {reason}"),
        )
    })?;
    Ok(NabSeries {
        name,
        timestamps,
        values,
        labels,
        windows,
    })
}

/// The row range of each label window. NAB's scorer opens a window on the first row stamped
/// with its start and closes it on the first row stamped with its end, so this does the
/// same; a bound that stamps no row falls back to the first row at or after the start and
/// the last row before the end. Windows must come out in order and disjoint, as
/// [`deviant_core::nab`] scores them.
fn window_rows(
    timestamps: &[String],
    spans: &[[String; 2]],
) -> Result<Vec<(usize, usize)>, String> {
    let mut windows = Vec::with_capacity(spans.len());
    for [start, end] in spans {
        // Label files add `.ffffff` to the data files' `YYYY-MM-DD HH:MM:SS`.
        let (start, end) = (&start[..start.len().min(19)], &end[..end.len().min(19)]);
        let first = timestamps
            .iter()
            .position(|t| t == start)
            .or_else(|| timestamps.iter().position(|t| t.as_str() >= start));
        let last = timestamps
            .iter()
            .position(|t| t == end)
            .or_else(|| timestamps.iter().rposition(|t| t.as_str() < end));
        match (first, last) {
            (Some(first), Some(last)) if first <= last => windows.push((first, last)),
            _ => return Err(format!("the window {start} to {end} holds no row")),
        }
    }
    deviant_core::nab::check_windows(&windows, timestamps.len()).map_err(|e| e.to_string())?;
    Ok(windows)
}

/// A UCR-format file (optionally gzipped): one sequence per line, the class first, then the
/// values, separated by whitespace. Returns the sequences as rows and each row's class.
pub fn read_ucr(path: &Path) -> Result<(Array2<f32>, Vec<String>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        MultiGzDecoder::new(bytes.as_slice())
            .read_to_string(&mut text)
            .map_err(|e| Error::io(path, e))?;
        text
    } else {
        String::from_utf8(bytes).map_err(|_| Error::format(path.display(), "not UTF-8 text"))?
    };
    let (mut values, mut classes, mut width) = (Vec::new(), Vec::new(), None);
    for (i, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        if cells.is_empty() {
            continue;
        }
        let line_no = i as u64 + 1;
        let number = |column: usize| -> Result<f32> {
            cells[column]
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| Error::Cell {
                    file: path.display().to_string(),
                    line: line_no,
                    column: column.to_string(),
                    reason: format!("`{}` is not a finite number", cells[column]),
                })
        };
        let class = number(0)?;
        let n = cells.len() - 1;
        if *width.get_or_insert(n) != n || n == 0 {
            return Err(Error::Cell {
                file: path.display().to_string(),
                line: line_no,
                column: "length".into(),
                reason: format!("{n} values where earlier lines had {}", width.unwrap_or(0)),
            });
        }
        classes.push(format!("{class}"));
        for column in 1..=n {
            values.push(number(column)?);
        }
    }
    let width = width.ok_or_else(|| Error::Empty {
        what: path.display().to_string(),
        remedy: "a UCR file has one sequence per line".into(),
    })?;
    let rows = classes.len();
    Ok((
        Array2::from_shape_vec((rows, width), values).expect("every line has `width` values"),
        classes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn windows_cover_the_end_and_map_back_to_points() {
        let series = Array2::from_shape_fn((10, 2), |(t, c)| (t * 10 + c) as f32);
        let (rows, starts) = sliding_windows(series.view(), 4, 3).unwrap();
        assert_eq!(starts, vec![0, 3, 6]);
        assert_eq!(
            rows.row(1).to_vec(),
            vec![30., 31., 40., 41., 50., 51., 60., 61.]
        );
        let (_, starts) = sliding_windows(series.view(), 4, 4).unwrap();
        assert_eq!(starts, vec![0, 4, 6]);
        let points = point_scores(&[1.0, 5.0, 2.0], &starts, 4, 10, Cover::Max);
        assert_eq!(points, vec![1., 1., 1., 1., 5., 5., 5., 5., 2., 2.]);
        let points = point_scores(&[1.0, 5.0, 2.0], &starts, 4, 10, Cover::Mean);
        assert_eq!(points[6], 3.5);
        assert!(sliding_windows(series.view(), 11, 1).is_err());
    }

    #[test]
    fn zscore_flags_a_jump() {
        let mut values: Vec<f32> = (0..50).map(|t| (t as f32 * 0.5).sin()).collect();
        values[40] = 6.0;
        let z = rolling_zscore(&values, 20);
        let top = z
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(top, 40);
        assert_eq!(z[0], 0.0);
    }

    #[test]
    fn ucr_lines_must_have_one_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.txt");
        std::fs::write(&path, "1.0 0.5 0.25\n2.0 1 2\n\n").unwrap();
        let (x, classes) = read_ucr(&path).unwrap();
        assert_eq!(x, array![[0.5, 0.25], [1.0, 2.0]]);
        assert_eq!(classes, vec!["1", "2"]);
        std::fs::write(&path, "1.0 0.5 0.25\n2.0 1\n").unwrap();
        let err = read_ucr(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("1 values"), "{err}");
    }

    #[test]
    fn nab_points_inside_windows_are_labelled() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/cat")).unwrap();
        std::fs::create_dir_all(dir.path().join("labels")).unwrap();
        std::fs::write(
            dir.path().join("data/cat/a.csv"),
            "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,2\n2014-01-01 00:10:00,3\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("labels/combined_windows.json"),
            r#"{"cat/a.csv": [["2014-01-01 00:05:00.000000", "2014-01-01 00:10:00.000000"]]}"#,
        )
        .unwrap();
        let series = read_nab(dir.path()).unwrap();
        assert_eq!(series[0].name, "cat/a.csv");
        assert_eq!(series[0].labels, vec![0, 1, 1]);
        assert_eq!(series[0].values, vec![1.0, 2.0, 3.0]);
        assert_eq!(series[0].windows, vec![(1, 2)]);
        assert_eq!(series[0].timestamps[2], "2014-01-01 00:10:00");
    }

    #[test]
    fn nab_windows_end_on_the_first_row_stamped_with_their_end() {
        let stamps: Vec<String> = ["00:00", "00:05", "00:10", "00:10", "00:15", "00:20"]
            .iter()
            .map(|t| format!("2014-01-01 {t}:00"))
            .collect();
        let span = |a: &str, b: &str| {
            [
                format!("2014-01-01 {a}:00.000000"),
                format!("2014-01-01 {b}:00.000000"),
            ]
        };
        assert_eq!(
            window_rows(&stamps, &[span("00:05", "00:10")]),
            Ok(vec![(1, 2)])
        );
        // Bounds between rows take the rows inside them.
        assert_eq!(
            window_rows(&stamps, &[span("00:01", "00:14")]),
            Ok(vec![(1, 3)])
        );
        assert!(window_rows(&stamps, &[span("00:21", "00:30")]).is_err());
        assert!(window_rows(&stamps, &[span("00:10", "00:15"), span("00:15", "00:20")]).is_err());
    }
}
