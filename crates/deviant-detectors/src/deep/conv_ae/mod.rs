//! Convolutional autoencoder for images: each row is one image, `channels × height × width`
//! values (channel-major, rows of pixels in order). Images are zero-padded to sides that are
//! multiples of 4; two stride-2 convolutions encode, a dense code sits between, two
//! transposed convolutions decode, and the output is cropped back. The score is the mean
//! squared pixel error.

mod config;
mod model;

pub use config::ConvAeConfig;
pub use model::ConvAutoencoder;
