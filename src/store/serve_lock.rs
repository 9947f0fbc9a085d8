//! The single-node lock of a SQLite store (DAEMON-030): `retrovue serve` holds an exclusive OS
//! lock on `<db file>.serve.lock` for its life, so a second daemon on the same file is refused
//! instead of silently sharing it. Other commands never take it (DAEMON-031).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::store::{parse_url, DatabaseUrl, StoreError, StoreResult};

/// Held while the daemon serves a SQLite store; the OS drops the lock with the file (or the
/// process, even on `kill -9`).
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
    pub path: PathBuf,
}

/// The lock file of a SQLite database file.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_os_string();
    name.push(".serve.lock");
    PathBuf::from(name)
}

/// Take the serve lock of `url`'s SQLite file (None for PostgreSQL, which is shared by design).
/// Held by another process → bad input naming the database, the lock file and the holder's pid.
pub fn lock_for_serve(url: &str) -> StoreResult<Option<ServeLock>> {
    let DatabaseUrl::Sqlite(db) = parse_url(url)? else {
        return Ok(None);
    };
    if db
        .parent()
        .is_some_and(|p| !p.as_os_str().is_empty() && !p.is_dir())
    {
        // Opening the store names the missing directory (STORE-001); no lock to take.
        return Ok(None);
    }
    let path = lock_path(&db);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| {
            let problem = format!("cannot open the serve lock {}: {e}", path.display());
            if e.kind() == std::io::ErrorKind::NotFound {
                StoreError::bad(problem)
            } else {
                StoreError::backend(problem)
            }
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let holder = match text.trim().parse::<u32>() {
                Ok(pid) => format!("pid {pid}"),
                Err(_) => "pid unknown".to_string(),
            };
            return Err(StoreError::bad(format!(
                "database {} is already served by another retrovue serve ({holder}; lock {}): \
                 SQLite is single-node, use PostgreSQL to share a store",
                db.display(),
                path.display()
            )));
        }
        Err(TryLockError::Error(e)) => {
            return Err(StoreError::backend(format!(
                "cannot lock {}: {e}",
                path.display()
            )))
        }
    }
    // Ours now: say who holds it.
    let written = file
        .set_len(0)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .and_then(|_| writeln!(file, "{}", std::process::id()))
        .and_then(|_| file.flush());
    if let Err(e) = written {
        log::warn!("serve lock {}: cannot write the pid: {e}", path.display());
    }
    Ok(Some(ServeLock { _file: file, path }))
}

#[cfg(test)]
mod tests {
    use super::*;

    // contract: DAEMON-030
    #[test]
    fn a_second_lock_on_one_file_is_refused_naming_the_holder() {
        let dir = std::env::temp_dir().join(format!("rv-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("a.db").display());
        let first = lock_for_serve(&url).unwrap().expect("a SQLite lock");
        let err = lock_for_serve(&url).unwrap_err();
        assert_eq!(err.kind, crate::store::StoreErrorKind::BadInput);
        assert!(
            err.message.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.message.contains("a.db.serve.lock"), "{err}");
        drop(first);
        let again = lock_for_serve(&url).unwrap();
        assert!(again.is_some(), "the lock is free once dropped");
        assert!(lock_for_serve("postgres://x/y").unwrap().is_none());
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
