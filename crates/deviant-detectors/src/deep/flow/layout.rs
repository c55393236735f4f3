//! The constants a flow's layers are built around, derived from the transform and the input
//! width alone (so they are rebuilt on load, never saved).

use burn::prelude::*;
use burn::tensor::TensorData;

use super::{FlowConfig, Transform};

/// Which features each coupling passes through, or each MADE's connectivity masks.
pub(crate) struct Layout {
    pub transform: Transform,
    /// Couplings: per layer `[1, n]`, 1 on the features the layer passes through unchanged
    /// (and conditions on), 0 on those it transforms. Layers alternate odd and even features.
    pub passed: Vec<Tensor<2>>,
    /// MAF: per layer, one `[d_in, d_out]` 0/1 mask per conditioner layer. Layers alternate
    /// the natural and the reversed feature order.
    pub made: Vec<Vec<Tensor<2>>>,
}

impl Layout {
    pub fn new(transform: Transform, n: usize, config: &FlowConfig, device: &Device) -> Self {
        let matrix = |rows: usize, cols: usize, keep: &dyn Fn(usize, usize) -> bool| {
            let values: Vec<f32> = (0..rows * cols)
                .map(|k| f32::from(u8::from(keep(k / cols, k % cols))))
                .collect();
            Tensor::<2>::from_data(TensorData::new(values, [rows, cols]), device)
        };
        let mut layout = Self {
            transform,
            passed: Vec::new(),
            made: Vec::new(),
        };
        for layer in 0..config.layers {
            match transform {
                Transform::RealNvp | Transform::Spline => {
                    layout
                        .passed
                        .push(matrix(1, n, &|_, i| (i + layer) % 2 == 0))
                }
                Transform::Maf => {
                    // MADE degrees: feature i is the degree-th in this layer's order; a hidden
                    // unit of degree m sees features of degree ≤ m; an output for a feature of
                    // degree d sees hidden units of degree < d.
                    let input: Vec<usize> = (0..n)
                        .map(|i| if layer % 2 == 0 { i + 1 } else { n - i })
                        .collect();
                    let mut previous = input.clone();
                    let mut masks = Vec::new();
                    for &width in &config.hidden {
                        let degrees: Vec<usize> =
                            (0..width).map(|k| 1 + k % (n - 1).max(1)).collect();
                        masks.push(matrix(previous.len(), width, &|r, c| {
                            degrees[c] >= previous[r]
                        }));
                        previous = degrees;
                    }
                    masks.push(matrix(previous.len(), 2 * n, &|r, c| {
                        input[c % n] > previous[r]
                    }));
                    layout.made.push(masks);
                }
            }
        }
        layout
    }
}

/// Each layer's conditioner widths, input first: it reads all `n` features (masked) and
/// returns a shift and a log scale per feature, or a spline's 3·bins − 1 parameters.
pub(crate) fn conditioner_widths(
    transform: Transform,
    n: usize,
    config: &FlowConfig,
) -> Vec<usize> {
    let per_feature = match transform {
        Transform::RealNvp | Transform::Maf => 2,
        Transform::Spline => 3 * config.bins - 1,
    };
    [&[n], config.hidden.as_slice(), &[n * per_feature]].concat()
}
