//! The registry behind `deviant serve`: uploaded datasets, training runs and their models,
//! under one home folder.
//!
//! ```text
//! HOME/deviant.db          SQLite: datasets, runs, settings (schema version in user_version)
//! HOME/datasets/ID/data.*  the uploaded file, under a generated name, and summary.json
//! HOME/models/RUN_ID/      the saved Model of a finished run
//! HOME/runs/RUN_ID/         what a run measured beyond its metrics (test scores)
//! ```
//!
//! Files are written atomically by their writers; a run that was queued or running when the
//! server stopped is marked failed when the store is opened again, and what a crash left
//! behind (a dataset folder no row names, a model folder of a run without a model) is
//! removed then, so nothing half-written is ever served.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use deviant_core::{Error, Result};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

/// The database schema this build reads and writes.
const SCHEMA_VERSION: i64 = 1;

fn db_error(e: rusqlite::Error) -> Error {
    Error::internal(format!("registry database: {e}"))
}

/// Seconds since the Unix epoch, as every record stores times.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A fresh random identifier: 16 lower-case hex digits.
pub fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Whether `id` has the shape [`new_id`] gives; anything else is refused before it reaches a
/// path or a query.
pub fn is_id(id: &str) -> bool {
    id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// One column of an uploaded table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnInfo {
    pub name: String,
    /// "numeric" or "categorical", as inferred.
    pub kind: String,
}

/// An uploaded table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRecord {
    pub id: String,
    /// The name the user gave (or the uploaded file's name); shown, never used as a path.
    pub name: String,
    /// The stored file's name inside the dataset folder (`data.csv`, `data.tsv`, …).
    pub file: String,
    pub bytes: u64,
    pub rows: u64,
    pub columns: Vec<ColumnInfo>,
    pub created_unix: i64,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl RunStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            other => {
                return Err(Error::internal(format!(
                    "unknown run status `{other}` in the registry"
                )));
            }
        })
    }

    /// Whether the run will not change any more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// A training run: what was asked, where it is, and what it measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    pub dataset_id: String,
    pub detector: String,
    /// The request as given (detector config, label, shares, threshold rule, seed).
    pub request: serde_json::Value,
    pub status: RunStatus,
    pub error: Option<String>,
    pub created_unix: i64,
    pub started_unix: Option<i64>,
    pub finished_unix: Option<i64>,
    pub fit_seconds: Option<f64>,
    /// Metrics and threshold on the held-out test rows, when the dataset is labelled.
    pub metrics: Option<serde_json::Value>,
    /// Per-epoch losses (deep detectors).
    pub history: Option<serde_json::Value>,
    /// Whether a saved model exists for the run.
    pub has_model: bool,
}

impl RunRecord {
    /// A run just queued: nothing started, measured or saved yet.
    pub fn queued(
        id: String,
        dataset_id: String,
        detector: String,
        request: serde_json::Value,
    ) -> Self {
        Self {
            id,
            dataset_id,
            detector,
            request,
            status: RunStatus::Queued,
            error: None,
            created_unix: now_unix(),
            started_unix: None,
            finished_unix: None,
            fit_seconds: None,
            metrics: None,
            history: None,
            has_model: false,
        }
    }
}

/// The registry: one SQLite database and the files beside it.
pub struct Store {
    home: PathBuf,
    db: Connection,
}

impl Store {
    /// Opens (creating when needed) the registry under `home`, migrates its schema, and marks
    /// runs that were interrupted by a stop as failed.
    pub fn open(home: &Path) -> Result<Self> {
        for dir in [
            home.to_path_buf(),
            home.join("datasets"),
            home.join("models"),
        ] {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        let path = home.join("deviant.db");
        let db = Connection::open(&path).map_err(db_error)?;
        db.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_error)?;
        let store = Self {
            home: home.to_path_buf(),
            db,
        };
        store.migrate(&path)?;
        store
            .db
            .execute(
                "UPDATE runs SET status = 'failed', finished_unix = ?1,
                 error = 'interrupted: the server stopped while the run was queued or running'
                 WHERE status IN ('queued', 'running')",
                params![now_unix()],
            )
            .map_err(db_error)?;
        store.remove_unregistered()?;
        Ok(store)
    }

    /// SQLite's own check of the database file: `Ok` when it reports no problem.
    pub fn integrity_check(&self) -> Result<()> {
        let report: Vec<String> = self
            .db
            .prepare("PRAGMA integrity_check")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(db_error)?;
        match report.as_slice() {
            [ok] if ok == "ok" => Ok(()),
            problems => Err(Error::internal(format!(
                "registry database: the integrity check found {}",
                problems.join("; ")
            ))),
        }
    }

    /// Removes the dataset, model and run folders that no registry row accounts for: what an
    /// upload, a training run or a save that a crash cut short left on disk.
    fn remove_unregistered(&self) -> Result<()> {
        let ids = |sql: &str| -> Result<std::collections::HashSet<String>> {
            let mut statement = self.db.prepare(sql).map_err(db_error)?;
            let rows = statement.query_map([], |r| r.get(0)).map_err(db_error)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_error)
        };
        let datasets = ids("SELECT id FROM datasets")?;
        let runs = ids("SELECT id FROM runs")?;
        let models = ids("SELECT id FROM runs WHERE has_model")?;
        for (folder, keep) in [
            ("datasets", &datasets),
            ("runs", &runs),
            ("models", &models),
        ] {
            let Ok(entries) = std::fs::read_dir(self.home.join(folder)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !keep.contains(&name) {
                    let path = entry.path();
                    let removed = match entry.file_type().is_ok_and(|t| t.is_dir()) {
                        true => std::fs::remove_dir_all(&path),
                        false => std::fs::remove_file(&path),
                    };
                    removed.map_err(|e| Error::io(&path, e))?;
                }
            }
        }
        Ok(())
    }

    fn migrate(&self, path: &Path) -> Result<()> {
        let version: i64 = self
            .db
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db_error)?;
        if version > SCHEMA_VERSION {
            return Err(Error::Version {
                path: path.to_path_buf(),
                found: version as u32,
                expected: SCHEMA_VERSION as u32,
            });
        }
        if version < 1 {
            self.db
                .execute_batch(
                    "BEGIN;
                     CREATE TABLE datasets (
                         id TEXT PRIMARY KEY, name TEXT NOT NULL, file TEXT NOT NULL,
                         bytes INTEGER NOT NULL, rows INTEGER NOT NULL,
                         columns_json TEXT NOT NULL, created_unix INTEGER NOT NULL);
                     CREATE TABLE runs (
                         id TEXT PRIMARY KEY, dataset_id TEXT NOT NULL, detector TEXT NOT NULL,
                         request_json TEXT NOT NULL, status TEXT NOT NULL, error TEXT,
                         created_unix INTEGER NOT NULL, started_unix INTEGER,
                         finished_unix INTEGER, fit_seconds REAL, metrics_json TEXT,
                         history_json TEXT, has_model INTEGER NOT NULL DEFAULT 0);
                     CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                     PRAGMA user_version = 1;
                     COMMIT;",
                )
                .map_err(db_error)?;
        }
        Ok(())
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The folder of dataset `id`.
    pub fn dataset_dir(&self, id: &str) -> PathBuf {
        debug_assert!(is_id(id));
        self.home.join("datasets").join(id)
    }

    /// The model folder of run `id`.
    pub fn model_dir(&self, id: &str) -> PathBuf {
        debug_assert!(is_id(id));
        self.home.join("models").join(id)
    }

    /// The folder of run `id`'s measurements.
    pub fn run_dir(&self, id: &str) -> PathBuf {
        debug_assert!(is_id(id));
        self.home.join("runs").join(id)
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.db
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db_error)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.db
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(db_error)?;
        Ok(())
    }

    pub fn insert_dataset(&self, d: &DatasetRecord) -> Result<()> {
        let columns = serde_json::to_string(&d.columns).expect("columns serialise");
        self.db
            .execute(
                "INSERT INTO datasets (id, name, file, bytes, rows, columns_json, created_unix)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    d.id,
                    d.name,
                    d.file,
                    d.bytes as i64,
                    d.rows as i64,
                    columns,
                    d.created_unix
                ],
            )
            .map_err(db_error)?;
        Ok(())
    }

    fn dataset_from_row(row: &Row<'_>) -> rusqlite::Result<DatasetRecord> {
        let columns: String = row.get(5)?;
        Ok(DatasetRecord {
            id: row.get(0)?,
            name: row.get(1)?,
            file: row.get(2)?,
            bytes: row.get::<_, i64>(3)? as u64,
            rows: row.get::<_, i64>(4)? as u64,
            columns: serde_json::from_str(&columns).unwrap_or_default(),
            created_unix: row.get(6)?,
        })
    }

    /// Every dataset, newest first.
    pub fn datasets(&self) -> Result<Vec<DatasetRecord>> {
        let mut statement = self
            .db
            .prepare(
                "SELECT id, name, file, bytes, rows, columns_json, created_unix FROM datasets
                 ORDER BY created_unix DESC, rowid DESC",
            )
            .map_err(db_error)?;
        let rows = statement
            .query_map([], Self::dataset_from_row)
            .map_err(db_error)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db_error)
    }

    pub fn dataset(&self, id: &str) -> Result<Option<DatasetRecord>> {
        self.db
            .query_row(
                "SELECT id, name, file, bytes, rows, columns_json, created_unix FROM datasets
                 WHERE id = ?1",
                [id],
                Self::dataset_from_row,
            )
            .optional()
            .map_err(db_error)
    }

    /// Removes a dataset and its file; runs trained on it (and their models) stay.
    pub fn delete_dataset(&self, id: &str) -> Result<bool> {
        let removed = self
            .db
            .execute("DELETE FROM datasets WHERE id = ?1", [id])
            .map_err(db_error)?;
        if removed > 0 {
            let dir = self.dataset_dir(id);
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            }
        }
        Ok(removed > 0)
    }

    /// Registers a queued run.
    pub fn insert_run(&self, r: &RunRecord) -> Result<()> {
        self.db
            .execute(
                "INSERT INTO runs (id, dataset_id, detector, request_json, status, created_unix)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    r.id,
                    r.dataset_id,
                    r.detector,
                    r.request.to_string(),
                    r.status.as_str(),
                    r.created_unix
                ],
            )
            .map_err(db_error)?;
        Ok(())
    }

    /// Marks a queued run as running.
    pub fn start_run(&self, id: &str) -> Result<()> {
        self.db
            .execute(
                "UPDATE runs SET status = 'running', started_unix = ?2 WHERE id = ?1",
                params![id, now_unix()],
            )
            .map_err(db_error)?;
        Ok(())
    }

    /// Records a finished run; `has_model` only after its model folder is in place.
    pub fn finish_run(&self, id: &str, outcome: &RunOutcome) -> Result<()> {
        self.db
            .execute(
                "UPDATE runs SET status = ?2, error = ?3, finished_unix = ?4, fit_seconds = ?5,
                 metrics_json = ?6, history_json = ?7, has_model = ?8 WHERE id = ?1",
                params![
                    id,
                    outcome.status.as_str(),
                    outcome.error,
                    now_unix(),
                    outcome.fit_seconds,
                    outcome.metrics.as_ref().map(|m| m.to_string()),
                    outcome.history.as_ref().map(|h| h.to_string()),
                    outcome.has_model
                ],
            )
            .map_err(db_error)?;
        Ok(())
    }

    fn run_from_row(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
        let json = |i: usize| -> rusqlite::Result<Option<serde_json::Value>> {
            let text: Option<String> = row.get(i)?;
            Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
        };
        let status: String = row.get(4)?;
        Ok(RunRecord {
            id: row.get(0)?,
            dataset_id: row.get(1)?,
            detector: row.get(2)?,
            request: json(3)?.unwrap_or_default(),
            status: RunStatus::parse(&status).unwrap_or(RunStatus::Failed),
            error: row.get(5)?,
            created_unix: row.get(6)?,
            started_unix: row.get(7)?,
            finished_unix: row.get(8)?,
            fit_seconds: row.get(9)?,
            metrics: json(10)?,
            history: json(11)?,
            has_model: row.get(12)?,
        })
    }

    const RUN_COLUMNS: &str = "id, dataset_id, detector, request_json, status, error,
        created_unix, started_unix, finished_unix, fit_seconds, metrics_json, history_json,
        has_model";

    /// Every run, newest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>> {
        let mut statement = self
            .db
            .prepare(&format!(
                "SELECT {} FROM runs ORDER BY created_unix DESC, rowid DESC",
                Self::RUN_COLUMNS
            ))
            .map_err(db_error)?;
        let rows = statement
            .query_map([], Self::run_from_row)
            .map_err(db_error)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db_error)
    }

    pub fn run(&self, id: &str) -> Result<Option<RunRecord>> {
        self.db
            .query_row(
                &format!("SELECT {} FROM runs WHERE id = ?1", Self::RUN_COLUMNS),
                [id],
                Self::run_from_row,
            )
            .optional()
            .map_err(db_error)
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub status: RunStatus,
    pub error: Option<String>,
    pub fit_seconds: Option<f64>,
    pub metrics: Option<serde_json::Value>,
    pub history: Option<serde_json::Value>,
    pub has_model: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(id: &str) -> DatasetRecord {
        DatasetRecord {
            id: id.into(),
            name: "traffic.csv".into(),
            file: "data.csv".into(),
            bytes: 10,
            rows: 2,
            columns: vec![ColumnInfo {
                name: "bytes".into(),
                kind: "numeric".into(),
            }],
            created_unix: 1,
        }
    }

    fn run(id: &str, dataset_id: &str) -> RunRecord {
        RunRecord::queued(
            id.into(),
            dataset_id.into(),
            "pca".into(),
            serde_json::json!({"detector": {"kind": "pca"}}),
        )
    }

    #[test]
    fn ids_are_checked_before_use() {
        assert!(is_id(&new_id()));
        assert!(!is_id("../../etc/passwd"));
        assert!(!is_id("ABCDEF0123456789"));
        assert!(!is_id("abc"));
    }

    #[test]
    fn datasets_round_trip_and_delete_with_their_files() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(home.path()).unwrap();
        let id = new_id();
        std::fs::create_dir_all(store.dataset_dir(&id)).unwrap();
        std::fs::write(store.dataset_dir(&id).join("data.csv"), "bytes\n1\n").unwrap();
        store.insert_dataset(&dataset(&id)).unwrap();
        assert_eq!(store.dataset(&id).unwrap(), Some(dataset(&id)));
        assert_eq!(store.datasets().unwrap().len(), 1);
        assert!(store.delete_dataset(&id).unwrap());
        assert!(!store.dataset_dir(&id).exists());
        assert!(!store.delete_dataset(&id).unwrap());
        assert_eq!(store.dataset(&id).unwrap(), None);
    }

    #[test]
    fn runs_move_through_their_states_and_interrupted_ones_fail_on_reopen() {
        let home = tempfile::tempdir().unwrap();
        let (done, interrupted) = (new_id(), new_id());
        {
            let store = Store::open(home.path()).unwrap();
            store.insert_run(&run(&done, "d")).unwrap();
            store.start_run(&done).unwrap();
            assert_eq!(
                store.run(&done).unwrap().unwrap().status,
                RunStatus::Running
            );
            store
                .finish_run(
                    &done,
                    &RunOutcome {
                        status: RunStatus::Succeeded,
                        error: None,
                        fit_seconds: Some(1.5),
                        metrics: Some(serde_json::json!({"roc_auc": 0.9})),
                        history: None,
                        has_model: true,
                    },
                )
                .unwrap();
            store.insert_run(&run(&interrupted, "d")).unwrap();
            store.start_run(&interrupted).unwrap();
        }
        let store = Store::open(home.path()).unwrap();
        let finished = store.run(&done).unwrap().unwrap();
        assert_eq!(finished.status, RunStatus::Succeeded);
        assert_eq!(finished.metrics.unwrap()["roc_auc"], 0.9);
        assert!(finished.has_model);
        let failed = store.run(&interrupted).unwrap().unwrap();
        assert_eq!(failed.status, RunStatus::Failed);
        assert!(failed.error.unwrap().contains("interrupted"));
        assert_eq!(store.runs().unwrap().len(), 2);
    }

    #[test]
    fn a_database_from_a_newer_deviant_is_refused() {
        let home = tempfile::tempdir().unwrap();
        drop(Store::open(home.path()).unwrap());
        let db = Connection::open(home.path().join("deviant.db")).unwrap();
        db.execute_batch("PRAGMA user_version = 99;").unwrap();
        drop(db);
        let err = Store::open(home.path()).err().unwrap();
        assert!(err.to_string().contains("99"), "{err}");
    }

    #[test]
    fn settings_are_upserted() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(home.path()).unwrap();
        assert_eq!(store.setting("token").unwrap(), None);
        store.set_setting("token", "a").unwrap();
        store.set_setting("token", "b").unwrap();
        assert_eq!(store.setting("token").unwrap().as_deref(), Some("b"));
    }
}
