//! Exact k-nearest-neighbour search, shared by KNN and LOF.
//!
//! Blocked brute force rather than a k-d or ball tree: squared distances for a block of
//! queries come from one matrix product (‖q‖² + ‖r‖² − 2 q·r), and tree indexes lose their
//! edge at the tens to thousands of columns tabular sets have.

use deviant_core::{Error, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis, s};
use rayon::prelude::*;

/// Queries per matrix product: 256 × 10,000 reference rows is 20 MB of f64 per thread.
const BLOCK: usize = 256;

/// The `k` nearest reference rows of each query, nearest first.
pub(crate) struct Neighbours {
    pub distances: Array2<f64>,
    pub indices: Array2<usize>,
}

/// Refuses a `k` the reference rows cannot supply (`k` neighbours besides the row itself).
pub(crate) fn check_k(k: usize, rows: usize, kind: &str) -> Result<()> {
    if k == 0 || k >= rows {
        return Err(Error::config(
            "k",
            format!(
                "{kind} with k = {k} needs more than k training rows, and there are {rows}; \
                 pass a k between 1 and {}",
                rows.saturating_sub(1).max(1)
            ),
        ));
    }
    Ok(())
}

/// With `skip_self`, `queries` are the reference rows themselves and each row's own index is
/// left out (duplicates of it still count, at distance 0). `keep_going` runs before each
/// block of queries; its error (a cancelled or over-budget fit) stops the search.
pub(crate) fn nearest(
    reference: ArrayView2<f32>,
    queries: ArrayView2<f32>,
    k: usize,
    skip_self: bool,
    keep_going: &(dyn Fn() -> Result<()> + Sync),
) -> Result<Neighbours> {
    let reference = reference.mapv(f64::from);
    let queries = queries.mapv(f64::from);
    let reference_norms = squared_norms(&reference);
    let blocks: Vec<(Array2<f64>, Array2<usize>)> = (0..queries.nrows())
        .step_by(BLOCK)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|start| {
            keep_going()?;
            let block = queries.slice(s![start..(start + BLOCK).min(queries.nrows()), ..]);
            let mut squared = block.dot(&reference.t()) * -2.0;
            squared += &reference_norms;
            let block_norms = squared_norms(&block.to_owned());
            let mut distances = Array2::zeros((block.nrows(), k));
            let mut indices = Array2::zeros((block.nrows(), k));
            let mut candidates: Vec<(f64, usize)> = Vec::with_capacity(reference.nrows());
            for (i, row) in squared.axis_iter(Axis(0)).enumerate() {
                candidates.clear();
                candidates.extend(
                    row.iter()
                        .enumerate()
                        .filter(|&(j, _)| !(skip_self && j == start + i))
                        .map(|(j, &d)| ((d + block_norms[i]).max(0.0), j)),
                );
                candidates.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
                candidates[..k].sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                for (c, &(d, j)) in candidates[..k].iter().enumerate() {
                    distances[[i, c]] = d.sqrt();
                    indices[[i, c]] = j;
                }
            }
            Ok((distances, indices))
        })
        .collect::<Result<_>>()?;
    let distances: Vec<ArrayView2<f64>> = blocks.iter().map(|b| b.0.view()).collect();
    let indices: Vec<ArrayView2<usize>> = blocks.iter().map(|b| b.1.view()).collect();
    // No queries means no blocks, which `concatenate` refuses.
    Ok(Neighbours {
        distances: ndarray::concatenate(Axis(0), &distances)
            .unwrap_or_else(|_| Array2::zeros((0, k))),
        indices: ndarray::concatenate(Axis(0), &indices).unwrap_or_else(|_| Array2::zeros((0, k))),
    })
}

/// For searches no one can cancel (scoring takes no context).
pub(crate) fn never_stop() -> Result<()> {
    Ok(())
}

fn squared_norms(x: &Array2<f64>) -> Array1<f64> {
    x.map_axis(Axis(1), |row| row.dot(&row))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn finds_the_same_neighbours_as_a_naive_search() {
        let reference = Array2::from_shape_fn((600, 3), |(i, j)| {
            ((i * (j + 3) * 7919) % 1000) as f32 / 100.0
        });
        let queries = reference.slice(s![..300, ..]).to_owned();
        let found = nearest(reference.view(), queries.view(), 4, true, &never_stop).unwrap();
        for q in 0..300 {
            let mut naive: Vec<(f64, usize)> = (0..600)
                .filter(|&j| j != q)
                .map(|j| {
                    let d: f64 = (0..3)
                        .map(|c| f64::from(reference[[j, c]] - queries[[q, c]]).powi(2))
                        .sum();
                    (d.sqrt(), j)
                })
                .collect();
            naive.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for (c, &(distance, _)) in naive.iter().take(4).enumerate() {
                assert!((found.distances[[q, c]] - distance).abs() < 1e-6, "row {q}");
            }
        }
    }

    #[test]
    fn own_row_is_skipped_but_duplicates_count() {
        let x = array![[0.0f32, 0.0], [0.0, 0.0], [3.0, 4.0]];
        let found = nearest(x.view(), x.view(), 1, true, &never_stop).unwrap();
        assert_eq!(found.indices.column(0).to_vec(), vec![1, 0, 0]);
        assert_eq!(found.distances.column(0).to_vec(), vec![0.0, 0.0, 5.0]);
    }

    #[test]
    fn k_must_leave_a_neighbour_besides_the_row() {
        assert!(check_k(5, 6, "knn").is_ok());
        let err = check_k(6, 6, "knn").unwrap_err().to_string();
        assert!(err.contains("between 1 and 5"), "{err}");
        assert!(check_k(0, 6, "knn").is_err());
    }
}
