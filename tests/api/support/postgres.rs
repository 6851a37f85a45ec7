//! Where the tests' PostgreSQL comes from: the server named by
//! `TEST_DATABASE_URL` (or `NEON_DB_URL`, `DATABASE_URL`) when set, otherwise a
//! throwaway cluster this process starts on a free loopback port and a
//! watcher process removes when this process ends, however it ends.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// A PostgreSQL server the tests may create databases on.
pub struct PgServer {
    /// URL of its `postgres` database, for CREATE/DROP DATABASE.
    admin_url: String,
}

static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();

/// The tests' PostgreSQL server, or `None` when there is none to be had.
///
/// Without one, the PostgreSQL half of the suite is skipped with a reason
/// printed once, straight to the terminal (the SQLite half still runs). With
/// `CI=true` nothing is skipped: a missing PostgreSQL fails the test.
pub fn server() -> Option<&'static PgServer> {
    static SKIP_NOTICE: std::sync::Once = std::sync::Once::new();
    let server = SERVER.get_or_init(|| match external_url() {
        Some(url) => Ok(PgServer { admin_url: url }),
        None => start_throwaway_cluster(),
    });
    match server {
        Ok(server) => Some(server),
        Err(why) if std::env::var("CI").is_ok_and(|ci| ci == "true") => panic!("{why}"),
        Err(why) => {
            SKIP_NOTICE.call_once(|| {
                use std::io::Write;
                // Not `eprintln!`: the test harness would capture it.
                let _ = writeln!(
                    std::io::stderr(),
                    "\nSKIPPING the PostgreSQL tests: {why}\n"
                );
            });
            super::skips::record(NO_POSTGRES);
            None
        }
    }
}

fn external_url() -> Option<String> {
    ["TEST_DATABASE_URL", "NEON_DB_URL", "DATABASE_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// A cluster of the test's own, or `None` (reason printed) where PostgreSQL
/// cannot be started here; never `None` under `CI=true`.
pub fn own_cluster(configure: impl FnOnce(&Path) -> Result<(), String>) -> Option<Cluster> {
    match Cluster::start(configure) {
        Ok(cluster) => Some(cluster),
        Err(why) => skip_or_fail(NO_POSTGRES, &why),
    }
}

/// Appends `settings` (lines of `name = value`) to the cluster's
/// `postgresql.conf`, for `own_cluster`'s `configure`.
pub fn append_settings(data: &Path, settings: &str) -> Result<(), String> {
    use std::io::Write;
    let mut conf = std::fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .map_err(|e| e.to_string())?;
    writeln!(conf, "{settings}").map_err(|e| e.to_string())
}

/// What the skip summary says when PostgreSQL cannot be had.
const NO_POSTGRES: &str = "no PostgreSQL server";

/// Skips outside CI, printing `why` to the terminal and counting the skip
/// under `missing` (a few words, e.g. "no pgbouncer") for the summary line
/// printed at exit; fails under `CI=true`.
pub fn skip_or_fail<T>(missing: &str, why: &str) -> Option<T> {
    assert!(!std::env::var("CI").is_ok_and(|ci| ci == "true"), "{why}");
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\nSKIPPING: {why}\n");
    super::skips::record(missing);
    None
}

/// One fresh, empty database; dropped (with its connections) when this is dropped.
pub struct TestDatabase {
    pub url: String,
    name: String,
}

impl PgServer {
    pub async fn create_database(&self) -> TestDatabase {
        let name = format!("todo_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(&self.admin_url)
            .await
            .unwrap_or_else(|err| panic!("cannot connect to the test PostgreSQL: {err}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("CREATE DATABASE");
        TestDatabase {
            url: with_database(&self.admin_url, &name),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(server) = server() else { return };
        let admin_url = server.admin_url.clone();
        let name = self.name.clone();
        // Drop runs outside any async context we could borrow: use a thread
        // with its own small runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(mut admin) = AsyncPgConnection::establish(&admin_url).await {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut admin)
                            .await;
                }
            });
        })
        .join();
    }
}

/// Replaces the database name (the path) of a postgres:// URL, keeping any query.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|i| start + i))
        .unwrap_or(base.len());
    let mut out = format!("{}/{database}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

fn start_throwaway_cluster() -> Result<PgServer, String> {
    let cluster = Cluster::start(|_| Ok(()))?;
    let admin_url = cluster.url("postgres");
    // The shared cluster lives as long as the test process; the reaper removes it.
    std::mem::forget(cluster);
    Ok(PgServer { admin_url })
}

/// A PostgreSQL cluster of a test's own, on a free loopback port: it can be
/// stopped and started again (same port, same data), and is removed on drop
/// (or by its reaper if the test process dies).
pub struct Cluster {
    pub port: u16,
    pub dir: PathBuf,
    data: PathBuf,
    bin: PathBuf,
    as_root: bool,
    /// Commits are flushed before they are acknowledged (see `durable`).
    durable: bool,
}

impl Cluster {
    /// initdb, then `configure(data_dir)` (to write certificates, `pg_hba.conf`,
    /// `postgresql.auto.conf` …), then start.
    pub fn start(configure: impl FnOnce(&Path) -> Result<(), String>) -> Result<Self, String> {
        let bin = find_pg_bin().ok_or_else(|| {
            "PostgreSQL server binaries (initdb, pg_ctl) not found: install PostgreSQL \
             (Debian/Ubuntu: `apt-get install postgresql`) or set TEST_DATABASE_URL \
             to a server the tests may create databases on"
                .to_owned()
        })?;
        let dir = std::env::temp_dir().join(format!(
            "todo-api-pg-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let cluster = Self {
            port: free_port()?,
            data: dir.join("data"),
            dir,
            bin,
            as_root: is_root(),
            durable: false,
        };
        // From here on, Drop cleans up whatever fails.
        let pwfile = cluster.dir.join("pwfile");
        std::fs::write(&pwfile, "postgres\n").map_err(|e| e.to_string())?;
        cluster.chown()?;
        run(cluster
            .pg("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .arg("-D")
            .arg(&cluster.data))?;
        configure(&cluster.data)?;
        cluster.chown()?;
        spawn_reaper(&cluster.bin, &cluster.dir, &cluster.data, cluster.as_root)?;
        cluster.start_again()?;
        Ok(cluster)
    }

    /// URL of one database, as the `postgres` superuser (password `postgres`).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:postgres@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// From now on (restarts included) a commit is acknowledged only once its
    /// WAL is written out, as on a production server: what the durability
    /// tests need. `fsync` stays off: they kill processes, not the machine,
    /// and the kernel keeps what was written.
    pub fn make_durable(&mut self) -> Result<(), String> {
        self.durable = true;
        self.stop_immediately()?;
        self.start_again()
    }

    /// Starts the (stopped) cluster again on its port.
    pub fn start_again(&self) -> Result<(), String> {
        // Durability settings off unless asked: this cluster lives for one
        // test run, and a crash of the machine is no test's concern.
        let commit = if self.durable {
            "-c synchronous_commit=on"
        } else {
            "-c synchronous_commit=off -c full_page_writes=off"
        };
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off {commit} -c max_connections=300",
            self.port,
            self.dir.display()
        );
        run(self
            .pg("pg_ctl")
            .args(["start", "-w", "-t", "30", "-o", &options, "-l"])
            .arg(self.dir.join("log"))
            .arg("-D")
            .arg(&self.data))
    }

    /// Stops the cluster (`fast`: open connections are cut, as in an outage).
    pub fn stop(&self) -> Result<(), String> {
        run(self
            .pg("pg_ctl")
            .args(["stop", "-w", "-m", "fast", "-D"])
            .arg(&self.data))
    }

    /// Stops the cluster as a crash would (`immediate`: no checkpoint, the
    /// next start replays the WAL).
    pub fn stop_immediately(&self) -> Result<(), String> {
        run(self
            .pg("pg_ctl")
            .args(["stop", "-w", "-m", "immediate", "-D"])
            .arg(&self.data))
    }

    /// Runs `sql` in `database` with psql over the cluster's socket; the
    /// output unaligned, one row per line.
    pub fn sql(&self, database: &str, sql: &str) -> Result<String, String> {
        let out = self
            .pg("psql")
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-h"])
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-d", database, "-c", sql])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn pg(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_root {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    /// PostgreSQL refuses to run as root: the cluster belongs to `postgres`.
    fn chown(&self) -> Result<(), String> {
        if self.as_root {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&self.dir))?;
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .pg("pg_ctl")
            .args(["stop", "-m", "immediate", "-D"])
            .arg(&self.data)
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A detached shell that waits for this test process to exit, then stops the
/// cluster and deletes its directory — even after a panic or a kill.
fn spawn_reaper(bin: &Path, dir: &Path, data: &Path, as_root: bool) -> Result<(), String> {
    let pg_ctl = bin.join("pg_ctl");
    let stop = if as_root {
        format!(
            "runuser -u postgres -- {} stop -m immediate -D {}",
            pg_ctl.display(),
            data.display()
        )
    } else {
        format!(
            "{} stop -m immediate -D {}",
            pg_ctl.display(),
            data.display()
        )
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null && [ -d {dir} ]; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    use std::os::unix::process::CommandExt;
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|e| format!("starting the cluster reaper: {e}"))
}

fn find_pg_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    // Debian keeps the server tools out of PATH, one folder per major version.
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    if let Some(newest) = versions.pop() {
        return Some(newest);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
    })
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("running {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn database_urls_keep_their_query() {
    assert_eq!(
        with_database("postgres://u:p@h:5/postgres?sslmode=require", "x"),
        "postgres://u:p@h:5/x?sslmode=require"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}
