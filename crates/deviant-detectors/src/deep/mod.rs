//! Deep detectors on burn 0.22: one folder per detector, all trained by [`train`]'s one loop,
//! built from [`mlp::Mlp`] stacks and fitted, scored, saved and loaded by
//! [`detector::DeepDetector`].

pub mod aae;
pub mod adversarial;
pub mod ae;
pub mod alad;
pub mod bigan;
pub mod conv_ae;
pub mod dagmm;
pub mod detector;
pub mod flow;
pub mod mlp;
pub mod seq2seq;
pub mod svdd;
pub mod tensor;
pub mod train;
pub mod vae;
