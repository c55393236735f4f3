//! The monotone rational-quadratic spline of Durkan et al. (2019), elementwise on
//! `[-bound, bound]` with identity tails (boundary derivatives fixed at 1, so the tails join
//! smoothly).

use burn::prelude::*;
use burn::tensor::Int;
use burn::tensor::activation::{softmax, softplus};

/// Smallest bin width, height and knot derivative, so no bin collapses.
const MIN_BIN: f64 = 1e-3;
const MIN_DERIVATIVE: f64 = 1e-3;

/// Knot positions `[B, n, bins + 1]` from unnormalised sizes `[B, n, bins]`, spanning
/// `[-bound, bound]`, with the bin sizes recomputed as their differences.
fn knots(raw: Tensor<3>, bound: f64) -> (Tensor<3>, Tensor<3>) {
    let [b, n, bins] = raw.dims();
    let sizes = softmax(raw, 2) * (1.0 - MIN_BIN * bins as f64) + MIN_BIN;
    let start = Tensor::<3>::zeros([b, n, 1], &sizes.device());
    let knots = Tensor::cat(vec![start, sizes.cumsum(2)], 2) * (2.0 * bound) - bound;
    let sizes = knots.clone().narrow(2, 1, bins) - knots.clone().narrow(2, 0, bins);
    (knots, sizes)
}

/// Index `[B, n, 1]` of the bin of `[B, n, bins + 1]` knots each value of `v` falls in.
fn bin_of(v: Tensor<2>, knots: &Tensor<3>) -> Tensor<3, Int> {
    let [b, n, k] = knots.dims();
    let ge = v
        .unsqueeze_dim::<3>(2)
        .expand([b, n, k])
        .greater_equal(knots.clone());
    (ge.int().sum_dim(2) - 1).clamp(0, k as i64 - 2)
}

/// `t[..., index]` as `[B, n]`.
fn pick(t: &Tensor<3>, index: &Tensor<3, Int>) -> Tensor<2> {
    t.clone().gather(2, index.clone()).squeeze_dim(2)
}

/// Applies the spline (or its inverse) with parameters `params` `[B, n, 3·bins − 1]`
/// (widths, heights, interior derivatives) to `x` `[B, n]`. Returns the values and, going
/// forward, log |dy/dx| per element (zeros for the inverse, which only tests need).
pub fn rational_quadratic(
    x: Tensor<2>,
    params: Tensor<3>,
    bins: usize,
    bound: f64,
    inverse: bool,
) -> (Tensor<2>, Tensor<2>) {
    let [b, n, _] = params.dims();
    let device = x.device();
    let (x_knots, widths) = knots(params.clone().narrow(2, 0, bins), bound);
    let (y_knots, heights) = knots(params.clone().narrow(2, bins, bins), bound);
    // Boundary derivatives of exactly 1: softplus(c) + MIN_DERIVATIVE = 1.
    let edge = ((1.0 - MIN_DERIVATIVE).exp() - 1.0).ln();
    let edge = Tensor::<3>::full([b, n, 1], edge, &device);
    let derivatives = softplus(
        Tensor::cat(
            vec![edge.clone(), params.narrow(2, 2 * bins, bins - 1), edge],
            2,
        ),
        1.0,
    ) + MIN_DERIVATIVE;

    let inside = x.clone().abs().lower_elem(bound);
    let v = x.clone().clamp(-bound, bound);
    let bin = bin_of(v.clone(), if inverse { &y_knots } else { &x_knots });
    let (x0, width) = (pick(&x_knots, &bin), pick(&widths, &bin));
    let (y0, height) = (pick(&y_knots, &bin), pick(&heights, &bin));
    let d0 = pick(&derivatives, &bin);
    let d1 = pick(&derivatives, &(bin + 1));
    let slope = height.clone() / width.clone();
    let bend = d0.clone() + d1.clone() - slope.clone() * 2.0;

    if inverse {
        let dy = v - y0;
        let a = height.clone() * (slope.clone() - d0.clone()) + dy.clone() * bend.clone();
        let bq = height * d0 - dy.clone() * bend;
        let c = -(slope * dy);
        let root = (bq.clone().square() - a * c.clone() * 4.0)
            .clamp_min(0.0)
            .sqrt();
        let theta = c * 2.0 / (-bq - root);
        let out = theta * width + x0;
        return (x.mask_where(inside, out), Tensor::zeros([b, n], &device));
    }
    let theta = ((v - x0) / width).clamp(0.0, 1.0);
    let mix = theta.clone() * (-theta.clone() + 1.0);
    let numerator = height * (slope.clone() * theta.clone().square() + d0.clone() * mix.clone());
    let denominator = slope.clone() + bend * mix.clone();
    let out = y0 + numerator / denominator.clone();
    let derivative = slope.clone().square()
        * (d1 * theta.clone().square() + slope * mix * 2.0 + d0 * (-theta + 1.0).square());
    let log_derivative = derivative.log() - denominator.log() * 2.0;
    let zeros = Tensor::zeros([b, n], &device);
    (
        x.mask_where(inside.clone(), out),
        zeros.mask_where(inside, log_derivative),
    )
}
