//! Getting data into deviant: CSV/TSV (optionally gzipped) and NPZ readers, schema inference,
//! the fitted [`Preprocessor`], dataset recipes such as [`kdd99`], and checked downloads.

pub mod adbench;
pub mod download;
pub mod excel;
pub mod images;
pub mod json;
pub mod kdd99;
pub mod npz;
pub mod nslkdd;
pub mod numpy_random;
pub mod parquet;
pub mod preprocess;
pub mod series;
pub mod summary;
pub mod table;

pub use preprocess::{PreprocessOptions, Preprocessor, Scaling};
pub use table::{
    Header, JsonCells, ReadLimits, ReadOptions, SchemaOptions, Table, TableBuilder, TableReader,
    expanded_bytes, infer_schema, schema_options_for_label,
};
