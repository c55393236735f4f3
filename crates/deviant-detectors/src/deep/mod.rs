//! Deep detectors on burn 0.22: one folder per detector, all trained by [`train`]'s one loop.

pub mod ae;
pub mod tensor;
pub mod train;
