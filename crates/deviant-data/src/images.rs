//! Image sets for the image detectors, as one row of pixels (scaled to [0, 1]) per image:
//! MNIST's IDX files and scikit-learn's 8 × 8 digits CSV.

use std::io::Read;
use std::path::Path;

use deviant_core::{Error, Result};
use flate2::read::MultiGzDecoder;
use ndarray::Array2;

/// A file's bytes, gunzipped when they start with the gzip magic.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| Error::io(path, e))?;
    Ok(out)
}

/// An unsigned-byte IDX file's dimensions and values, checked against the expected rank.
fn read_idx(path: &Path, rank: u8) -> Result<(Vec<usize>, Vec<u8>)> {
    let bytes = read_maybe_gz(path)?;
    let bad = |reason: String| Error::format(path.display(), reason);
    if bytes.len() < 4 || bytes[..3] != [0, 0, 8] || bytes[3] != rank {
        return Err(bad(format!(
            "not an IDX file of unsigned bytes with {rank} dimension(s) (MNIST's format)"
        )));
    }
    let header = 4 + 4 * rank as usize;
    let dims: Vec<usize> = bytes
        .get(4..header)
        .ok_or_else(|| bad("truncated header".into()))?
        .chunks(4)
        .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize)
        .collect();
    let expected: usize = dims.iter().product();
    let values = &bytes[header..];
    if values.len() != expected {
        return Err(bad(format!(
            "the header promises {expected} values but the file holds {}",
            values.len()
        )));
    }
    Ok((dims, values.to_vec()))
}

/// MNIST images (`*-images-idx3-ubyte[.gz]`) as rows of height × width pixels in [0, 1].
pub fn read_idx_images(path: &Path) -> Result<Array2<f32>> {
    let (dims, values) = read_idx(path, 3)?;
    let pixels: Vec<f32> = values.iter().map(|&v| f32::from(v) / 255.0).collect();
    Ok(Array2::from_shape_vec((dims[0], dims[1] * dims[2]), pixels).expect("sizes checked"))
}

/// MNIST labels (`*-labels-idx1-ubyte[.gz]`).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    Ok(read_idx(path, 1)?.1)
}

/// scikit-learn's digits (`digits.csv[.gz]`, no header): 64 pixel counts 0–16 then the digit.
pub fn read_digits_csv(path: &Path) -> Result<(Array2<f32>, Vec<u8>)> {
    let text = String::from_utf8(read_maybe_gz(path)?)
        .map_err(|_| Error::format(path.display(), "not UTF-8 text"))?;
    let (mut pixels, mut digits) = (Vec::new(), Vec::new());
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let cells: Vec<&str> = line.split(',').collect();
        let cell_error = |column: usize, reason: &str| Error::Cell {
            file: path.display().to_string(),
            line: i as u64 + 1,
            column: column.to_string(),
            reason: reason.into(),
        };
        if cells.len() != 65 {
            return Err(cell_error(
                cells.len(),
                "expected 64 pixels and the digit (65 columns)",
            ));
        }
        for (j, cell) in cells.iter().enumerate() {
            let value: f32 = cell
                .trim()
                .parse()
                .map_err(|_| cell_error(j, "not a number"))?;
            if j < 64 {
                pixels.push(value / 16.0);
            } else if (0.0..=9.0).contains(&value) && value.fract() == 0.0 {
                digits.push(value as u8);
            } else {
                return Err(cell_error(j, "the digit must be 0–9"));
            }
        }
    }
    let rows = digits.len();
    Ok((
        Array2::from_shape_vec((rows, 64), pixels).expect("64 pixels per line"),
        digits,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idx_files_are_checked_and_scaled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images");
        let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
        bytes.extend([0, 255, 51, 102]);
        std::fs::write(&path, &bytes).unwrap();
        let x = read_idx_images(&path).unwrap();
        assert_eq!(x.dim(), (2, 2));
        assert_eq!(x.row(0).to_vec(), vec![0.0, 1.0]);
        std::fs::write(&path, &bytes[..18]).unwrap();
        let err = read_idx_images(&path).unwrap_err().to_string();
        assert!(
            err.contains("promises 4 values") && err.contains("holds 2"),
            "{err}"
        );
        let err = read_idx_labels(&path).unwrap_err().to_string();
        assert!(err.contains("1 dimension"), "{err}");
    }

    #[test]
    fn digits_rows_need_65_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("digits.csv");
        let row: Vec<String> = (0..64)
            .map(|p| (p % 17).to_string())
            .chain(["7".into()])
            .collect();
        std::fs::write(&path, format!("{}\n", row.join(","))).unwrap();
        let (x, digits) = read_digits_csv(&path).unwrap();
        assert_eq!(digits, vec![7]);
        assert_eq!(x[[0, 16]], 1.0);
        std::fs::write(&path, "1,2,3\n").unwrap();
        let err = read_digits_csv(&path).unwrap_err().to_string();
        assert!(
            err.contains("line 1") && err.contains("65 columns"),
            "{err}"
        );
    }
}
