//! Finding data files locally, or downloading them with resume, retries and a checksum check.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use deviant_core::{Error, Progress, Result};
use sha2::{Digest, Sha256};

/// A public file with its expected digest.
#[derive(Debug, Clone, Copy)]
pub struct RemoteFile {
    pub name: &'static str,
    pub url: &'static str,
    pub sha256: &'static str,
}

/// Lowercase hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn verify(path: &Path, expected: &str) -> Result<()> {
    let found = sha256_file(path)?;
    if found == expected {
        Ok(())
    } else {
        Err(Error::format(
            path.display(),
            format!(
                "sha256 is {found} but {expected} was expected; the file is damaged or a \
                 different version: delete it and try again"
            ),
        ))
    }
}

/// Where a dataset's files are looked for, in order: `data_dir` alone if given, else
/// `$DEVIANT_DATA_DIR` and `$DEVIANT_DATASETS/<shared_folder>` (those that are set).
pub fn dataset_dirs(data_dir: Option<&Path>, shared_folder: &str) -> Vec<PathBuf> {
    if let Some(dir) = data_dir {
        return vec![dir.to_path_buf()];
    }
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("DEVIANT_DATA_DIR") {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("DEVIANT_DATASETS") {
        dirs.push(PathBuf::from(dir).join(shared_folder));
    }
    dirs
}

/// The first of `dirs` holding one of `names` (tried in order in each folder); the error
/// names the files, the folders looked in and `flag` as the remedy.
pub fn find_file(dirs: &[PathBuf], names: &[&str], flag: &str) -> Result<PathBuf> {
    dirs.iter()
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|path| path.is_file())
        .ok_or_else(|| not_found(&names.join(" or "), dirs, flag))
}

/// The first of `dirs` that is a folder; the error says where it looked and names `flag`.
pub fn find_dir(dirs: &[PathBuf], what: &str, flag: &str) -> Result<PathBuf> {
    dirs.iter()
        .find(|dir| dir.is_dir())
        .cloned()
        .ok_or_else(|| not_found(what, dirs, flag))
}

fn not_found(what: &str, dirs: &[PathBuf], flag: &str) -> Error {
    let looked = if dirs.is_empty() {
        "nowhere: no DEVIANT_DATA_DIR or DEVIANT_DATASETS is set".to_string()
    } else {
        let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        dirs.join(", ")
    };
    Error::config(
        flag.trim_start_matches('-').replace('-', "_"),
        format!("{what} not found (looked in {looked}); pass its folder with {flag}"),
    )
}

/// The first of `dirs` holding `file` (checked against its digest), or `file` downloaded into
/// `download_dir`. Offline, the error names the file and the `--data-dir` remedy.
pub fn find_or_download(
    file: &RemoteFile,
    dirs: &[PathBuf],
    download_dir: &Path,
    progress: &dyn Progress,
) -> Result<PathBuf> {
    for dir in dirs {
        let path = dir.join(file.name);
        if path.is_file() {
            verify(&path, file.sha256)?;
            return Ok(path);
        }
    }
    let dest = download_dir.join(file.name);
    download(file.url, &dest, file.sha256, progress).map_err(|e| match e {
        Error::Download { url, reason } => Error::Download {
            url,
            reason: format!(
                "{reason}; without network access, put {} (sha256 {}) into a folder and pass \
                 --data-dir FOLDER (looked in: {})",
                file.name,
                file.sha256,
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        other => other,
    })?;
    Ok(dest)
}

const ATTEMPTS: usize = 3;

/// Downloads `url` to `dest` through `dest.part`, resuming a partial file with an HTTP range
/// request, retrying up to three times, and renaming it into place only when its sha256
/// matches.
pub fn download(url: &str, dest: &Path, sha256: &str, progress: &dyn Progress) -> Result<()> {
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let part = dest.with_file_name(format!(
        "{}.part",
        dest.file_name().unwrap_or_default().to_string_lossy()
    ));
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_body(Some(Duration::from_secs(60)))
            .build(),
    );
    let name = dest
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut last_error = String::new();
    for attempt in 1..=ATTEMPTS {
        match fetch_once(&agent, url, &part, &name, progress) {
            Ok(()) => {
                progress.finish();
                if let Err(e) = verify(&part, sha256) {
                    let _ = fs::remove_file(&part);
                    return Err(Error::Download {
                        url: url.into(),
                        reason: e.to_string(),
                    });
                }
                return fs::rename(&part, dest).map_err(|e| Error::io(dest, e));
            }
            Err(FetchError::Fatal(reason)) => {
                last_error = reason;
                break;
            }
            Err(FetchError::Retry(reason)) => {
                last_error = format!("{reason} (attempt {attempt} of {ATTEMPTS})");
                progress.message(&last_error);
                if attempt < ATTEMPTS {
                    std::thread::sleep(Duration::from_millis(200 * attempt as u64));
                }
            }
        }
    }
    progress.finish();
    Err(Error::Download {
        url: url.into(),
        reason: last_error,
    })
}

enum FetchError {
    Retry(String),
    Fatal(String),
}

/// One request: resumes from what `part` already holds when the server allows it.
fn fetch_once(
    agent: &ureq::Agent,
    url: &str,
    part: &Path,
    name: &str,
    progress: &dyn Progress,
) -> std::result::Result<(), FetchError> {
    let have = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let mut request = agent.get(url);
    if have > 0 {
        request = request.header("Range", format!("bytes={have}-"));
    }
    let response = request.call().map_err(|e| match e {
        ureq::Error::StatusCode(code) if (400..500).contains(&code) && code != 416 => {
            FetchError::Fatal(format!("the server answered HTTP {code}"))
        }
        other => FetchError::Retry(other.to_string()),
    })?;
    let resumed = response.status().as_u16() == 206;
    let remaining: Option<u64> = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let start = if resumed { have } else { 0 };
    progress.begin(
        &format!("download {name}"),
        remaining.map_or(0, |r| r + start),
    );
    progress.advance(start);
    let io_err = |e: std::io::Error| FetchError::Retry(format!("{}: {e}", part.display()));
    let mut out = OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(part)
        .map_err(io_err)?;
    let mut body = response.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut received = 0u64;
    loop {
        let n = body
            .read(&mut buf)
            .map_err(|e| FetchError::Retry(e.to_string()))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(io_err)?;
        received += n as u64;
        progress.advance(n as u64);
    }
    out.sync_all().map_err(io_err)?;
    if remaining.is_some_and(|r| received < r) {
        return Err(FetchError::Retry(format!(
            "the connection closed after {received} of {} bytes",
            remaining.unwrap_or(0)
        )));
    }
    Ok(())
}
