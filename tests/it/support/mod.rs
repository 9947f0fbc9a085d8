//! Test support for the store: throwaway databases on both backends.
//!
//! PostgreSQL comes from the project itself: with `RETROVUE_TEST_DATABASE_URL` unset, the first
//! test that needs it starts one private cluster for the test process from the installed
//! `initdb`/`pg_ctl` (as the `postgres` user when running as root), listening only on a unix
//! socket in a temp dir. Every test gets its own fresh database, so tests run in parallel. A
//! watchdog process stops the cluster and deletes its directory when the test process exits,
//! however it exits.
#![allow(dead_code)]

pub mod daemon;
pub mod ts_check;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique short name for this process (socket paths must stay under ~100 bytes).
fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}{}-{n}-{nanos}", std::process::id())
}

/// Real-time media tests (ffmpeg encoders, engines paced on the clock, the browser playing)
/// take turns across the whole test binary, so they never starve each other on a small machine.
static REAL_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Hold the real-time turn for the rest of the test.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    REAL_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A temporary directory, deleted on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Creates an empty file (and its folders) at `relative`.
    pub fn touch(&self, relative: &str) -> PathBuf {
        self.write(relative, "")
    }

    /// Writes `text` to `relative`, creating folders.
    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The directory holding `initdb` and `pg_ctl`: PATH first, then the usual install places.
fn postgres_bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("RETROVUE_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut candidates: Vec<PathBuf> = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(PathBuf::from)
        .collect();
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.sort();
    versions.reverse();
    candidates.extend(versions);
    candidates.push(PathBuf::from("/usr/local/pgsql/bin"));
    for dir in candidates {
        if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
            // Debian's /usr/bin wrappers are not the real binaries; resolve symlinks.
            let initdb = std::fs::canonicalize(dir.join("initdb")).unwrap_or(dir.join("initdb"));
            return initdb.parent().unwrap().to_path_buf();
        }
    }
    panic!(
        "PostgreSQL tests need initdb and pg_ctl (install postgresql) or \
         RETROVUE_TEST_DATABASE_URL pointing at a server"
    );
}

/// Run a PostgreSQL tool, as `postgres` when we are root (initdb refuses root).
fn pg_command(bin: &Path, tool: &str, as_postgres: bool) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    }
}

/// A PostgreSQL server this test process started (initdb'd in a temp dir, unix socket only).
/// The shared one serves every test ([`fresh_postgres`]); a test that stops and starts its
/// database owns one ([`PgInstance::new`]).
pub struct PgInstance {
    /// `postgres://…` for the server, without the database name.
    pub base: String,
    pub user: String,
    bin: PathBuf,
    data: PathBuf,
    root: PathBuf,
    socket: PathBuf,
    as_postgres: bool,
}

impl PgInstance {
    /// initdb and start a new server; a watchdog stops it and deletes its files when this
    /// process exits, however it exits.
    pub fn new() -> PgInstance {
        let bin = postgres_bin_dir();
        let as_postgres = running_as_root();
        let root = std::env::temp_dir().join(unique("rvpg-"));
        std::fs::create_dir_all(&root).unwrap();
        let data = root.join("data");
        let socket = root.join("s");
        std::fs::create_dir_all(&socket).unwrap();
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(&root)
                .status()
                .unwrap();
            assert!(status.success(), "chown of {} failed", root.display());
        }
        let user = if as_postgres {
            "postgres".to_string()
        } else {
            std::env::var("USER").unwrap_or_else(|_| "postgres".to_string())
        };
        let out = pg_command(&bin, "initdb", as_postgres)
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", &user, "--no-sync", "-E", "UTF8"])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let host = socket.display().to_string().replace('/', "%2F");
        let instance = PgInstance {
            base: format!("postgres://{user}@{host}"),
            user,
            bin,
            data,
            root,
            socket,
            as_postgres,
        };
        instance.start();
        // The process-exit cleanup: a watchdog that outlives us by at most a second, then stops
        // the server and removes its files, even when this process is killed.
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf {root}",
            pid = std::process::id(),
            stop = instance.stop_command("immediate"),
            root = instance.root.display()
        );
        // Deliberately never waited for: the watchdog must outlive this process.
        let watchdog = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::mem::forget(watchdog);
        instance
    }

    fn stop_command(&self, mode: &str) -> String {
        let ctl = format!(
            "{} -D {} -m {mode} -w stop",
            self.bin.join("pg_ctl").display(),
            self.data.display()
        );
        if self.as_postgres {
            format!("runuser -u postgres -- {ctl}")
        } else {
            ctl
        }
    }

    /// Start the server (again), waiting until it accepts connections.
    pub fn start(&self) {
        let options = format!(
            "-k {} -c listen_addresses='' -c max_connections=200",
            self.socket.display()
        );
        let out = pg_command(&self.bin, "pg_ctl", self.as_postgres)
            .arg("-D")
            .arg(&self.data)
            .args(["-o", &options, "-l"])
            .arg(self.root.join("log"))
            .args(["-w", "start"])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start failed: {} (log in {})",
            String::from_utf8_lossy(&out.stderr),
            self.root.join("log").display()
        );
    }

    /// Stop the server (fast: connections are closed), waiting until it is down.
    pub fn stop(&self) {
        let out = Command::new("sh")
            .args(["-c", &self.stop_command("fast")])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new database on this server; its URL.
    pub fn create_database(&self) -> String {
        let name = unique("rv_").replace('-', "_");
        let admin = format!("{}/postgres", self.base);
        let mut client = postgres::Client::connect(&admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL {admin}: {e}"));
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        format!("{}/{name}", self.base)
    }
}

fn cluster() -> &'static PgInstance {
    static CLUSTER: OnceLock<PgInstance> = OnceLock::new();
    CLUSTER.get_or_init(PgInstance::new)
}

/// A fresh PostgreSQL database; dropped (best effort) with the guard.
pub struct PgDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

pub fn fresh_postgres() -> PgDatabase {
    let name = unique("rv_").replace('-', "_");
    let admin_url = match std::env::var("RETROVUE_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => format!("{}/postgres", cluster().base),
    };
    let mut client = postgres::Client::connect(&admin_url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL {admin_url}: {e}"));
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let url = with_database(&admin_url, &name);
    PgDatabase {
        url,
        admin_url,
        name,
    }
}

/// The same server URL with another database name.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

/// Run raw SQL against a test database of either backend (to tamper with it on purpose).
pub fn raw_sql(url: &str, sql: &str) {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch(sql).unwrap();
    } else {
        let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
        client.batch_execute(sql).unwrap();
    }
}

/// A throwaway database: a SQLite file in a temp dir, or a fresh PostgreSQL database.
pub enum TestDb {
    Sqlite { dir: TempDir, url: String },
    Postgres(PgDatabase),
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = TempDir::new("rvsq-");
        let url = format!("sqlite://{}", dir.join("retrovue.db").display());
        TestDb::Sqlite { dir, url }
    }

    pub fn postgres() -> TestDb {
        TestDb::Postgres(fresh_postgres())
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } => url,
            TestDb::Postgres(db) => &db.url,
        }
    }
}

/// `read`, tried again when interrupted. A socket read with a timeout fails with `Interrupted`
/// when this process is stopped and continued (signal(7)), which std's `read` passes on (CI
/// saw "Interrupted system call" end a stream test).
pub trait ReadSome {
    fn read_some(&mut self, buffer: &mut [u8]) -> std::io::Result<usize>;
}

impl<R: std::io::Read + ?Sized> ReadSome for R {
    fn read_some(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.read(buffer) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                result => return result,
            }
        }
    }
}

/// A raw HTTP/1.1 GET on its own connection: the answer's head is read, its body left on the
/// socket for the caller (a stream, a redirect's body).
pub struct RawAnswer {
    pub socket: std::net::TcpStream,
    pub status: u16,
    pub head: String,
}

/// `GET path` on a new connection to `addr` (reads time out after 20 s); an error when the
/// connection fails or closes before the head is complete.
pub fn try_raw_get(addr: &str, path: &str) -> std::io::Result<RawAnswer> {
    use std::io::Write;
    let mut socket = std::net::TcpStream::connect(addr)?;
    socket.set_read_timeout(Some(std::time::Duration::from_secs(20)))?;
    write!(
        socket,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if socket.read_some(&mut byte)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the connection closed within the head of {path}"),
            ));
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok(RawAnswer {
        socket,
        status,
        head,
    })
}

/// [`try_raw_get`], panicking with the path on a failure.
pub fn raw_get(addr: &str, path: &str) -> RawAnswer {
    try_raw_get(addr, path).unwrap_or_else(|e| panic!("GET {path} from {addr}: {e}"))
}

/// Each named `fn(&TestDb)` of the calling module as a test on SQLite (`sqlite::NAME`) and on
/// PostgreSQL (`postgres::NAME`).
#[macro_export]
macro_rules! on_each_backend {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $test() {
                    super::$test(&$crate::support::TestDb::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $test() {
                    super::$test(&$crate::support::TestDb::postgres());
                }
            )*
        }
    };
}
