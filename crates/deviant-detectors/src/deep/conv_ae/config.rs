use deviant_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::catalogue::{About, Entry, Layout, ParamRange, log_int};
use crate::check::positive;
use crate::deep::train::LoopConfig;

/// Convolutional autoencoder hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConvAeConfig {
    /// Image channels (1 for grey levels).
    pub channels: usize,
    /// Image height in pixels; `null` for square images (height = width).
    pub height: Option<usize>,
    /// Feature maps of the two convolutions.
    pub filters: [usize; 2],
    /// Size of the dense code between encoder and decoder.
    pub latent: usize,
    pub learning_rate: f64,
    pub training: LoopConfig,
}

impl Default for ConvAeConfig {
    fn default() -> Self {
        Self {
            channels: 1,
            height: None,
            filters: [16, 32],
            latent: 32,
            learning_rate: 1e-3,
            training: LoopConfig {
                epochs: 30,
                batch_size: 64,
                ..LoopConfig::default()
            },
        }
    }
}

/// The shape of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ImageShape {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl ConvAeConfig {
    pub(crate) fn check(&self) -> Result<()> {
        if self.channels == 0 || self.latent == 0 || self.filters.contains(&0) {
            return Err(Error::config(
                "channels",
                "channels, filters and latent must be at least 1",
            ));
        }
        positive("learning_rate", self.learning_rate)?;
        self.training.validate()
    }

    /// The image shape of rows of `n_features` values.
    pub(crate) fn shape(&self, n_features: usize) -> Result<ImageShape> {
        if !n_features.is_multiple_of(self.channels) {
            return Err(Error::config(
                "channels",
                format!(
                    "{} channels do not divide rows of {n_features} values",
                    self.channels
                ),
            ));
        }
        let pixels = n_features / self.channels;
        let (height, width) = match self.height {
            Some(h) if h > 0 && pixels.is_multiple_of(h) => (h, pixels / h),
            Some(h) => {
                return Err(Error::config(
                    "height",
                    format!("{h} rows of pixels do not divide {pixels} pixels per channel"),
                ));
            }
            None => {
                let side = (pixels as f64).sqrt().round() as usize;
                if side * side != pixels {
                    return Err(Error::config(
                        "height",
                        format!("{pixels} pixels per channel is not a square image; set `height`"),
                    ));
                }
                (side, side)
            }
        };
        Ok(ImageShape {
            channels: self.channels,
            height,
            width,
        })
    }
}

impl Entry for ConvAeConfig {
    const ABOUT: About = About::deep("convolutional autoencoder for images (rows = channels x height x width pixels); score = mean squared pixel error").only(&[Layout::Images]);
    const SEARCH: &'static [ParamRange] = &[log_int("latent", 8, 64)];
}
