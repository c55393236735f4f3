//! The experiment engine under every command: the saved [`Model`], protocols that yield
//! seeded [`Splits`] with roles, [`run_trial`] under a budget, and [`Study`] over protocols ×
//! configurations × seeds.
//!
//! The rule "a threshold or a choice is never made on the rows it is reported on" is kept
//! here, once: a trial fits on the fit rows, chooses its threshold on the threshold rows and
//! only scores the report rows.
//!
//! ```no_run
//! use deviant_detectors::AnyConfig;
//! use deviant_engine::protocols::Adbench;
//! use deviant_engine::{NoObserver, Study};
//!
//! let protocol = Adbench::open("cardio", "cardio.npz".as_ref())?;
//! let configs = vec![AnyConfig::from_params("iforest", &serde_json::json!({}))?];
//! let study = Study::new(vec![&protocol], &configs, &[1, 2, 3]);
//! let result = study.run(&mut NoObserver)?;
//! println!("{} records", result.records.len());
//! # Ok::<(), deviant_core::Error>(())
//! ```

pub mod classes;
pub mod crossval;
pub mod importance;
pub mod model;
pub mod protocol;
pub mod protocols;
pub mod select;
pub mod study;
pub mod trial;

pub use model::{Manifest, Model, Scored, TrainSpec, TrainingInfo};
pub use protocol::{FitTable, Protocol, ReportSet, Splits};
pub use study::{NoObserver, Observer, Study, StudyResult, config_labels};
pub use trial::{TestResult, Trial, TrialOutcome, run_trial};
