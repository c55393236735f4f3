//! Meta-features of a training matrix: what the selection's corpus compares datasets by.
//! All are unchanged by scaling a column, so min-max and standard scaling give the same.

use ndarray::{Array2, ArrayView2, s};

/// The names of [`meta_features`]' values, in order; the corpus file repeats them and a
/// corpus with other names is refused.
pub const META_FEATURES: &[&str] = &[
    "log_rows",
    "log_features",
    "log_rows_per_feature",
    "binary_share",
    "discrete_share",
    "mean_abs_skew",
    "mean_log_kurtosis",
    "mean_abs_correlation",
    "top_component_share",
    "outlying_share",
];

/// At most this many rows are read, evenly spaced, so the cost is bounded.
const SAMPLE_ROWS: usize = 5000;
/// Correlations are taken over at most this many columns.
const SAMPLE_COLUMNS: usize = 64;

/// The [`META_FEATURES`] of `x`.
pub fn meta_features(x: ArrayView2<f32>) -> Vec<f64> {
    let (n, d) = x.dim();
    let step = n.div_ceil(SAMPLE_ROWS).max(1);
    let rows = x.slice(s![..;step, ..]).mapv(f64::from);
    let m = rows.nrows().max(1) as f64;

    let mut binary = 0usize;
    let mut discrete = 0usize;
    let mut skews = Vec::new();
    let mut kurtoses = Vec::new();
    let mut outlying = 0.0;
    for column in rows.columns() {
        let mut values: Vec<f64> = column.to_vec();
        values.sort_by(f64::total_cmp);
        values.dedup();
        binary += usize::from(values.len() <= 2);
        discrete += usize::from(values.len() < 10);
        let mean = column.sum() / m;
        let centred = column.mapv(|v| v - mean);
        let var = centred.mapv(|v| v * v).sum() / m;
        if var <= f64::EPSILON {
            continue;
        }
        let sd = var.sqrt();
        skews.push((centred.mapv(|v| v.powi(3)).sum() / m / sd.powi(3)).abs());
        kurtoses.push((centred.mapv(|v| v.powi(4)).sum() / m / (var * var)).ln_1p());
        outlying += centred.iter().filter(|v| v.abs() > 3.0 * sd).count() as f64 / m;
    }
    let varying = skews.len().max(1) as f64;
    let (correlation, top_share) = correlation_summary(&rows);
    vec![
        (n.max(1) as f64).ln(),
        (d.max(1) as f64).ln(),
        (n.max(1) as f64 / d.max(1) as f64).ln(),
        binary as f64 / d.max(1) as f64,
        discrete as f64 / d.max(1) as f64,
        (skews.iter().sum::<f64>() / varying).ln_1p(),
        kurtoses.iter().sum::<f64>() / varying,
        correlation,
        top_share,
        outlying / varying,
    ]
}

/// The mean absolute correlation between columns, and the share of the correlation
/// matrix's trace in its largest eigenvalue (by power iteration), over the varying columns.
fn correlation_summary(rows: &Array2<f64>) -> (f64, f64) {
    let m = rows.nrows().max(1) as f64;
    let standardised: Vec<_> = rows
        .columns()
        .into_iter()
        .filter_map(|c| {
            let mean = c.sum() / m;
            let sd = (c.mapv(|v| (v - mean).powi(2)).sum() / m).sqrt();
            (sd > f64::EPSILON).then(|| c.mapv(|v| (v - mean) / sd))
        })
        .take(SAMPLE_COLUMNS)
        .collect();
    let k = standardised.len();
    if k < 2 {
        return (0.0, 1.0);
    }
    let mut z = Array2::zeros((rows.nrows(), k));
    for (j, c) in standardised.iter().enumerate() {
        z.column_mut(j).assign(c);
    }
    let corr = z.t().dot(&z) / m;
    let off_diagonal: f64 = corr.iter().map(|v| v.abs()).sum::<f64>() - k as f64;
    let mean_abs = off_diagonal / (k * (k - 1)) as f64;
    let mut v = ndarray::Array1::from_elem(k, 1.0 / (k as f64).sqrt());
    let mut eigen = 0.0;
    for _ in 0..50 {
        let next = corr.dot(&v);
        eigen = next.mapv(|x| x * x).sum().sqrt();
        if eigen <= f64::EPSILON {
            break;
        }
        v = next / eigen;
    }
    (mean_abs, eigen / corr.diag().sum().max(f64::EPSILON))
}

/// Each column's standard deviation over `rows` (1 where it does not vary).
pub fn spreads(rows: &[&[f64]]) -> Vec<f64> {
    let n = rows.len().max(1) as f64;
    let width = rows.first().map_or(0, |r| r.len());
    (0..width)
        .map(|j| {
            let mean = rows.iter().map(|r| r[j]).sum::<f64>() / n;
            let var = rows.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / n;
            if var > 0.0 { var.sqrt() } else { 1.0 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_a_column_changes_no_meta_feature() {
        let x = Array2::from_shape_fn((500, 4), |(i, j)| {
            let t = (i as f32 * 0.37).sin();
            t * (j as f32 + 1.0) + ((i * 13 + j * 7) % 11) as f32 * 0.1
        });
        let mut scaled = x.clone();
        scaled.column_mut(2).mapv_inplace(|v| 100.0 * v + 5.0);
        let (a, b) = (meta_features(x.view()), meta_features(scaled.view()));
        assert_eq!(a.len(), META_FEATURES.len());
        for (name, (u, v)) in META_FEATURES.iter().zip(a.iter().zip(&b)) {
            assert!((u - v).abs() < 1e-3, "{name}: {u} vs {v}");
        }
        assert!(a.iter().all(|v| v.is_finite()), "{a:?}");
    }
}
