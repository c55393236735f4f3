//! One digit normal, every other digit an anomaly.

use std::path::Path;
use std::sync::Arc;

use deviant_core::split::{rng, split_stratified};
use deviant_core::{Dataset, Error, Progress, Result};
use deviant_data::Scaling;
use deviant_data::download::{dataset_dirs, find_file};
use deviant_data::images::{read_digits_csv, read_idx_images, read_idx_labels};
use ndarray::{Array1, Array2, Axis};

use super::matrix_splits;
use crate::protocol::{Protocol, Splits};

/// Share of the images that trains (the rest tests), stratified by digit.
const TRAIN_SHARE: f64 = 0.8;

/// Which images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSet {
    /// MNIST's 10,000 test images, 28 × 28 (`t10k-images-idx3-ubyte.gz` and labels).
    Mnist,
    /// scikit-learn's 1,797 digits, 8 × 8 (`digits.csv.gz`).
    Digits,
}

impl ImageSet {
    pub fn name(self) -> &'static str {
        match self {
            ImageSet::Mnist => "mnist",
            ImageSet::Digits => "digits",
        }
    }
}

impl std::str::FromStr for ImageSet {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mnist" => Ok(ImageSet::Mnist),
            "digits" => Ok(ImageSet::Digits),
            _ => Err(Error::config(
                "images",
                format!("`{s}` is neither mnist nor digits"),
            )),
        }
    }
}

/// The images as rows of pixels in [0, 1], each with its digit.
struct Images {
    x: Array2<f32>,
    digits: Vec<u8>,
}

/// The image set with `normal` as the normal digit: per seed the images split 80/20
/// stratified by digit; the detector trains on the normal digit's training images and scores
/// the whole test part. Pixels are used unscaled.
pub struct DigitImages {
    set: ImageSet,
    images: Arc<Images>,
    normal: u8,
    dataset: String,
}

impl DigitImages {
    /// One protocol per digit in `normals` (all ten when empty), sharing the images read from
    /// `data_dir`, `$DEVIANT_DATA_DIR` or the set's folder under `$DEVIANT_DATASETS`.
    pub fn load(set: ImageSet, data_dir: Option<&Path>, normals: &[u8]) -> Result<Vec<Self>> {
        if let Some(d) = normals.iter().find(|&&d| d > 9) {
            return Err(Error::config("digits", format!("{d} is not a digit 0–9")));
        }
        let dirs = dataset_dirs(
            data_dir,
            match set {
                ImageSet::Mnist => "images/mnist-test",
                ImageSet::Digits => "images/sklearn-digits",
            },
        );
        let find = |names: &[&str]| find_file(&dirs, names, "--data-dir");
        let (x, digits) = match set {
            ImageSet::Mnist => {
                let x = read_idx_images(&find(&[
                    "t10k-images-idx3-ubyte.gz",
                    "t10k-images-idx3-ubyte",
                ])?)?;
                let path = find(&["t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte"])?;
                let y = read_idx_labels(&path)?;
                if x.nrows() != y.len() {
                    return Err(Error::format(
                        path.display(),
                        format!("{} images but {} labels", x.nrows(), y.len()),
                    ));
                }
                (x, y)
            }
            ImageSet::Digits => read_digits_csv(&find(&["digits.csv.gz", "digits.csv"])?)?,
        };
        let images = Arc::new(Images { x, digits });
        let normals: Vec<u8> = match normals.is_empty() {
            true => (0..10).collect(),
            false => normals.to_vec(),
        };
        Ok(normals
            .into_iter()
            .map(|normal| DigitImages {
                set,
                images: images.clone(),
                normal,
                dataset: format!("{} digit {normal}", set.name()),
            })
            .collect())
    }
}

impl Protocol for DigitImages {
    fn name(&self) -> &str {
        self.set.name()
    }

    fn dataset(&self) -> &str {
        &self.dataset
    }

    fn splits(&self, seed: u64, _progress: &dyn Progress) -> Result<Splits> {
        let Images { x, digits } = self.images.as_ref();
        let all: Vec<usize> = (0..x.nrows()).collect();
        let (train, test) = split_stratified(&all, digits, TRAIN_SHARE, &mut rng(seed));
        let own: Vec<usize> = train
            .into_iter()
            .filter(|&i| digits[i] == self.normal)
            .collect();
        let labels: Array1<u8> = test
            .iter()
            .map(|&i| u8::from(digits[i] != self.normal))
            .collect();
        Ok(matrix_splits(
            &Dataset::new(x.select(Axis(0), &own), None),
            vec![(
                self.dataset.clone(),
                Dataset::new(x.select(Axis(0), &test), Some(labels)),
            )],
            Scaling::None,
            None,
        ))
    }
}
