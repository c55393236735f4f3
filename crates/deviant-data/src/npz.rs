//! NumPy `.npz` archives with a feature matrix `X` and labels `y` (ADBench's format).

use std::fs::File;
use std::path::Path;

use deviant_core::{Dataset, Error, Result};
use ndarray::{Array1, Array2, Dimension};
use ndarray_npy::{NpzReader, ReadableElement};

type Npz = NpzReader<File>;

/// Reads array `name`, whatever its numeric dtype, as `f64`.
fn read_any<D: Dimension>(npz: &mut Npz, name: &str, file: &str) -> Result<ndarray::Array<f64, D>> {
    fn attempt<T: ReadableElement + Copy + Into<f64>, D: Dimension>(
        npz: &mut Npz,
        name: &str,
    ) -> Option<ndarray::Array<f64, D>> {
        npz.by_name::<ndarray::OwnedRepr<T>, D>(name)
            .ok()
            .map(|a| a.mapv(Into::into))
    }
    fn attempt_i64<D: Dimension>(npz: &mut Npz, name: &str) -> Option<ndarray::Array<f64, D>> {
        npz.by_name::<ndarray::OwnedRepr<i64>, D>(name)
            .ok()
            .map(|a| a.mapv(|v| v as f64))
    }
    fn attempt_u64<D: Dimension>(npz: &mut Npz, name: &str) -> Option<ndarray::Array<f64, D>> {
        npz.by_name::<ndarray::OwnedRepr<u64>, D>(name)
            .ok()
            .map(|a| a.mapv(|v| v as f64))
    }
    fn attempt_bool<D: Dimension>(npz: &mut Npz, name: &str) -> Option<ndarray::Array<f64, D>> {
        npz.by_name::<ndarray::OwnedRepr<bool>, D>(name)
            .ok()
            .map(|a| a.mapv(|v| f64::from(u8::from(v))))
    }
    attempt::<f64, D>(npz, name)
        .or_else(|| attempt::<f32, D>(npz, name))
        .or_else(|| attempt_i64::<D>(npz, name))
        .or_else(|| attempt::<i32, D>(npz, name))
        .or_else(|| attempt::<i16, D>(npz, name))
        .or_else(|| attempt::<i8, D>(npz, name))
        .or_else(|| attempt_u64::<D>(npz, name))
        .or_else(|| attempt::<u32, D>(npz, name))
        .or_else(|| attempt::<u16, D>(npz, name))
        .or_else(|| attempt::<u8, D>(npz, name))
        .or_else(|| attempt_bool::<D>(npz, name))
        .ok_or_else(|| {
            let names = npz.names().unwrap_or_default().join(", ");
            Error::format(
                file,
                format!(
                    "no numeric array `{name}` of {} dimension(s) (arrays in the file: {names})",
                    D::NDIM.unwrap_or(0)
                ),
            )
        })
}

/// The `X` matrix and, when the file has it, the `y` vector of an `.npz` file, with their
/// shapes checked against each other.
fn read_arrays(path: &Path) -> Result<(Array2<f64>, Option<Array1<f64>>)> {
    let file = path.display().to_string();
    let handle = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut npz = NpzReader::new(handle).map_err(|e| Error::format(&file, e.to_string()))?;
    let x: Array2<f64> = read_any(&mut npz, "X", &file)?;
    let has_y = npz.names().unwrap_or_default().iter().any(|n| n == "y");
    let y: Option<Array1<f64>> = if has_y {
        Some(read_any(&mut npz, "y", &file)?)
    } else {
        None
    };
    if let Some(y) = &y
        && x.nrows() != y.len()
    {
        return Err(Error::format(
            &file,
            format!("`X` has {} rows but `y` has {} labels", x.nrows(), y.len()),
        ));
    }
    if x.is_empty() {
        return Err(Error::Empty {
            what: file,
            remedy: "`X` needs at least one row and one column".into(),
        });
    }
    Ok((x, y))
}

/// Reads `X` (rows × features) and `y` (1 = anomaly) from an `.npz` file.
pub fn read_npz(path: &Path) -> Result<Dataset> {
    let file = path.display().to_string();
    let (x, y) = read_arrays(path)?;
    let y = y.ok_or_else(|| Error::format(&file, "no array `y` of labels"))?;
    if let Some(((row, col), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::format(
            &file,
            format!("`X` row {row}, column {col} is {v}; anomaly scores need finite inputs"),
        ));
    }
    let labels = y.mapv(|v| u8::from(v != 0.0));
    Ok(Dataset::new(x.mapv(|v| v as f32), Some(labels)))
}

/// The name the table readers give column `j` of `X`.
pub fn feature_name(j: usize) -> String {
    format!("x{j}")
}

/// An `.npz` file as named columns, for the table readers: `x0`, `x1`, … from `X`, then `y`
/// when the file has labels.
pub fn read_npz_columns(path: &Path) -> Result<(Vec<String>, Vec<Vec<f64>>)> {
    let (x, y) = read_arrays(path)?;
    let mut names: Vec<String> = (0..x.ncols()).map(feature_name).collect();
    let mut columns: Vec<Vec<f64>> = x.columns().into_iter().map(|c| c.to_vec()).collect();
    if let Some(y) = y {
        names.push("y".into());
        columns.push(y.to_vec());
    }
    Ok((names, columns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use ndarray_npy::NpzWriter;

    #[test]
    fn reads_integer_features_and_labels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.npz");
        let mut w = NpzWriter::new(File::create(&path).unwrap());
        w.add_array("X", &array![[1i16, 2], [3, 4], [5, 6]])
            .unwrap();
        w.add_array("y", &array![0i64, 1, 0]).unwrap();
        w.finish().unwrap();
        let data = read_npz(&path).unwrap();
        assert_eq!(data.x, array![[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]]);
        assert_eq!(data.labels.unwrap().to_vec(), vec![0, 1, 0]);
    }

    #[test]
    fn missing_array_and_row_mismatch_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.npz");
        let mut w = NpzWriter::new(File::create(&path).unwrap());
        w.add_array("X", &array![[1.0f64], [2.0]]).unwrap();
        w.add_array("y", &array![0i32]).unwrap();
        w.finish().unwrap();
        assert!(
            read_npz(&path)
                .unwrap_err()
                .to_string()
                .contains("2 rows but `y` has 1")
        );
        let path = dir.path().join("noy.npz");
        let mut w = NpzWriter::new(File::create(&path).unwrap());
        w.add_array("X", &array![[1.0f64]]).unwrap();
        w.finish().unwrap();
        assert!(read_npz(&path).unwrap_err().to_string().contains("`y`"));
        let (names, columns) = read_npz_columns(&path).unwrap();
        assert_eq!((names, columns), (vec!["x0".to_string()], vec![vec![1.0]]));
    }
}
