//! The checks configs run on their fields, each error naming the field; and the layer-width
//! stacks the deep configs build from their hidden widths.

use deviant_core::{Error, Result};

pub fn at_least_one(field: &str, value: usize) -> Result<()> {
    match value {
        0 => Err(Error::config(field, "must be at least 1")),
        _ => Ok(()),
    }
}

pub fn positive(field: &str, value: f64) -> Result<()> {
    match value > 0.0 && value.is_finite() {
        true => Ok(()),
        false => Err(Error::config(field, "must be positive")),
    }
}

pub fn non_negative(field: &str, value: f64) -> Result<()> {
    match value >= 0.0 && value.is_finite() {
        true => Ok(()),
        false => Err(Error::config(field, "must be zero or positive")),
    }
}

/// A dropout rate or other share that must lie in [0, 1).
pub fn below_one(field: &str, value: f64) -> Result<()> {
    match (0.0..1.0).contains(&value) {
        true => Ok(()),
        false => Err(Error::config(field, format!("{value} is outside [0, 1)"))),
    }
}

/// Hidden layer widths: none may be 0.
pub fn widths(field: &str, widths: &[usize]) -> Result<()> {
    match widths.contains(&0) {
        true => Err(Error::config(field, "layer widths must be at least 1")),
        false => Ok(()),
    }
}

/// `first`, the `hidden` widths, then `last`: the widths of a dense stack.
pub fn stack<'a>(
    first: usize,
    hidden: impl IntoIterator<Item = &'a usize>,
    last: usize,
) -> Vec<usize> {
    let mut widths = vec![first];
    widths.extend(hidden);
    widths.push(last);
    widths
}
