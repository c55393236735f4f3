//! Atomic writes: everything deviant saves is written beside its destination, then renamed.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A sibling path used while writing `path`.
pub fn temp_sibling(path: &Path) -> PathBuf {
    path.with_file_name(format!(".{}.tmp-{}", file_name(path), std::process::id()))
}

/// Writes a file through `write`, then renames it into place, so readers never see half of it.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = temp_sibling(path);
    let result = (|| {
        let mut out = BufWriter::new(fs::File::create(&tmp)?);
        write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Fills a fresh directory through `fill`, then puts it at `dir`, replacing an older one. A
/// crash at any point leaves `dir` as the old directory or the new one, never neither nor
/// a mix; what a crashed write left beside it is removed by the next write.
pub fn write_dir_atomic(dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    remove_leftovers(dir);
    let tmp = temp_sibling(dir);
    fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
    if let Err(e) = fill(&tmp) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(kept(dir, e));
    }
    fault_point("dir-filled");
    if let Err(e) = replace_dir(&tmp, dir) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(kept(dir, Error::io(dir, e)));
    }
    fault_point("dir-replaced");
    let _ = fs::remove_dir_all(&tmp);
    Ok(())
}

/// `error`, saying that whatever was at `dir` is still there when writing failed for lack of
/// space.
fn kept(dir: &Path, error: Error) -> Error {
    match error {
        Error::Io { reason, .. }
            if matches!(
                reason.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::FileTooLarge
            ) =>
        {
            let message = format!(
                "{reason}; nothing was written (what was there is kept): free space on its \
                 disk (or raise the file-size limit) and save again"
            );
            Error::io(dir, std::io::Error::new(reason.kind(), message))
        }
        other => other,
    }
}

/// Puts the filled `tmp` at `dir`; afterwards `tmp` holds the old directory, if any. On
/// Linux the two are exchanged in one step; elsewhere (or on file systems that cannot) the
/// old one is first moved aside, so a crash in between leaves `dir` missing until the next
/// write puts a new one there.
fn replace_dir(tmp: &Path, dir: &Path) -> std::io::Result<()> {
    if !dir.exists() {
        return fs::rename(tmp, dir);
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use rustix::io::Errno;
        match renameat_with(CWD, tmp, CWD, dir, RenameFlags::EXCHANGE) {
            Ok(()) => return Ok(()),
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let aside = dir.with_file_name(format!(".{}.old-{}", file_name(dir), std::process::id()));
    fs::rename(dir, &aside)?;
    fs::rename(tmp, dir)?;
    fs::rename(&aside, tmp)
}

/// Removes what writes of `dir` that crashed left beside it (`.NAME.tmp-PID`,
/// `.NAME.old-PID`).
fn remove_leftovers(dir: &Path) {
    let name = file_name(dir);
    let parent = match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => parent,
        None => Path::new("."),
    };
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let entry_name = entry.file_name().to_string_lossy().into_owned();
        let leftover = [".tmp-", ".old-"]
            .iter()
            .any(|tag| entry_name.starts_with(&format!(".{name}{tag}")));
        if leftover {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// For crash tests: when the environment variable `DEVIANT_FAULT` names this point, the
/// process dies here at once, as under `kill -9` (no destructor runs, nothing is flushed,
/// and no core is dumped).
pub fn fault_point(name: &str) {
    if std::env::var_os("DEVIANT_FAULT").is_some_and(|v| v == name) {
        #[cfg(target_os = "linux")]
        {
            use rustix::process::{Signal, getpid, kill_process};
            let _ = kill_process(getpid(), Signal::KILL);
        }
        std::process::abort();
    }
}

/// Writes `bytes` atomically.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |out| out.write_all(bytes))
}
