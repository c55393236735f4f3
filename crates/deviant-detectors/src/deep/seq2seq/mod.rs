//! LSTM encoder–decoder for sequences (in the spirit of Malhotra et al. 2016, "LSTM-based
//! encoder-decoder for multi-sensor anomaly detection"): each row is one window of a series,
//! `steps × channels` values step by step; the encoder's last state seeds a decoder fed the
//! code at every step, and the score is the window's mean squared reconstruction error.
//! Sliding windows and the mapping of window scores back to points live with the data
//! (`deviant_data::series`).

mod config;
mod model;

pub use config::Seq2seqConfig;
pub use model::Seq2seq;
