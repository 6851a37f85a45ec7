//! Black-box tests of the built `todo-api` binary: real process, real HTTP.

use std::{
    io::{BufRead, BufReader, Read, Write},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::support::{SECRET, TestUser, postgres};

const BIN: &str = env!("CARGO_BIN_EXE_todo-api");

/// A new empty directory for one run of the binary (its working directory,
/// so no developer's `.env` or `./data` is picked up).
pub(crate) fn scratch_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("runs")
        .join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary in `dir`, with only the environment given: nothing inherited.
/// `PORT` is 0 (any free port) unless `env` says otherwise, so a run never
/// depends on port 8000 being free: the README's quick start has a developer
/// run `cargo test` while their `cargo run` server holds it.
pub(crate) fn command_in(dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .current_dir(dir)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PORT", "0")
        .envs(env.iter().copied());
    cmd
}

fn command(env: &[(&str, &str)]) -> Command {
    command_in(&scratch_dir(), env)
}

/// How a run of the binary that was meant to stop by itself ended.
#[derive(Debug)]
pub(crate) struct Exit {
    /// `None`: still running after the time allowed, and killed.
    pub(crate) code: Option<i32>,
    pub(crate) elapsed: Duration,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `cmd` until it exits or `within` has passed (then kills it): a
/// server that should have refused to start cannot hang the test.
pub(crate) fn run_to_exit(mut cmd: Command, within: Duration) -> Exit {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting todo-api");
    let read = |stream: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stream).read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Exit {
        code,
        elapsed: started.elapsed(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

impl Exit {
    /// A configuration error: exit code 2 within `limit`, one line on
    /// stderr naming `variable`; that line is returned.
    pub(crate) fn expect_config_error(&self, variable: &str, limit: Duration) -> &str {
        assert_eq!(self.code, Some(2), "exit code 2 (killed: None): {self:#?}");
        assert!(
            self.elapsed < limit,
            "took {:?}, more than {limit:?}: {self:#?}",
            self.elapsed
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "exactly one line: {self:#?}");
        assert!(
            lines[0].starts_with(&format!("todo-api: configuration error: {variable}: ")),
            "{variable} is named first: {self:#?}"
        );
        lines[0]
    }
}

/// The binary as an unprivileged user, for whom file permissions apply (they
/// do not to root, which the tests may run as): `nobody` through `setpriv`
/// when root, else the current user. `None` when that user cannot run it.
pub(crate) fn unprivileged_command_in(dir: &Path, env: &[(&str, &str)]) -> Option<Command> {
    if !postgres::is_root() {
        return Some(command_in(dir, env));
    }
    let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];
    let reachable = Command::new("setpriv")
        .args(nobody)
        .args(["test", "-x", BIN])
        .status()
        .is_ok_and(|status| status.success());
    if !reachable {
        return postgres::skip_or_fail(
            "no setpriv for an unprivileged user",
            &format!(
                "`nobody` cannot run {BIN} through setpriv (util-linux); the permission tests need it"
            ),
        );
    }
    let mut cmd = Command::new("setpriv");
    cmd.args(nobody)
        .arg(BIN)
        .env_clear()
        .current_dir(dir)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied());
    Some(cmd)
}

pub(crate) struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary on a free port and waits until it listens.
    pub(crate) fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_at(dir, env, "info")
    }

    /// The same, logging at `log_level` (`RUST_LOG`).
    pub(crate) fn start_at(dir: &Path, env: &[(&str, &str)], log_level: &str) -> Self {
        let mut env = env.to_vec();
        env.extend([("PORT", "0"), ("RUST_LOG", log_level)]);
        // The rate limits would turn the load and fault tests' bursts into
        // 429s: off unless a test sets them (tests/api/rate_limits.rs does).
        for limit in ["RATE_LIMIT_PER_MINUTE", "RATE_LIMIT_FAILURES_PER_MINUTE"] {
            if !env.iter().any(|(name, _)| *name == limit) {
                env.push((limit, "0"));
            }
        }
        let mut child = command_in(dir, &env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting todo-api");
        let log = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let base = loop {
            let found = log.lock().unwrap().iter().find_map(|line| {
                let rest = &line[line.find("listening on http://")? + "listening on ".len()..];
                Some(rest.split_whitespace().next()?.to_owned())
            });
            if let Some(base) = found {
                break base;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("todo-api exited with {status}: {:?}", log.lock().unwrap());
            }
            assert!(
                Instant::now() < deadline,
                "todo-api did not start: {:?}",
                log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self { child, base, log }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `host:port`, for raw TCP clients.
    pub(crate) fn address(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed so far.
    pub(crate) fn logs(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to `within` for a printed line containing `needle`.
    pub(crate) fn wait_for_log(&self, needle: &str, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(line) = self.logs().into_iter().find(|line| line.contains(needle)) {
                return Some(line);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The dev-mode token printed at start-up (after the banner is complete).
    pub(crate) fn dev_token(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let token = self.log.lock().unwrap().iter().find_map(|line| {
                let rest = line.split("Authorization: Bearer ").nth(1)?;
                Some(rest.split('"').next()?.to_owned())
            });
            if let Some(token) = token {
                return token;
            }
            assert!(
                Instant::now() < deadline,
                "no dev-mode token printed: {:?}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit code and everything it printed.
    pub(crate) fn terminate(mut self) -> (i32, Vec<String>) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(50));
                return (
                    status.code().unwrap_or(-1),
                    self.log.lock().unwrap().clone(),
                );
            }
            assert!(
                Instant::now() < deadline,
                "todo-api did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // What the server said is the first thing to read when a test
            // against it fails.
            let log = self.log.lock().map(|log| log.clone()).unwrap_or_default();
            let tail = &log[log.len().saturating_sub(40)..];
            let _ = writeln!(
                std::io::stderr(),
                "--- last lines of todo-api's output ---\n{}",
                tail.join("\n")
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn call(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Every task at `url` (a listing), following `Link` page by page: the
/// status of the first page that was not a 200, or 200 and the tasks.
pub(crate) async fn all_tasks(http: &reqwest::Client, url: &str, token: &str) -> (u16, Value) {
    let origin = url[..url.find("/api/").expect("a task listing URL")].to_owned();
    let mut next = url.to_owned();
    let mut tasks = Vec::new();
    loop {
        let response = http
            .get(&next)
            .bearer_auth(token)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let link = response
            .headers()
            .get("link")
            .and_then(|link| link.to_str().ok())
            .map(str::to_owned);
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status != 200 {
            return (status, body);
        }
        tasks.extend(body.as_array().cloned().unwrap_or_default());
        match link {
            Some(link) => next = format!("{origin}{}", &link[1..link.find('>').unwrap()]),
            None => return (200, Value::Array(tasks)),
        }
    }
}

/// Creates a task, stops the server with SIGTERM, starts it again on the same
/// database and finds the task; checks the request log on the way.
/// Two servers started at once on the same new SQLite file (two instances,
/// or a second terminal): one applies the migrations while the other waits,
/// then finds none pending; both serve the same tasks. Without the wait, the
/// second failed most times with "table tasks already exists".
#[tokio::test(flavor = "multi_thread")]
async fn two_servers_starting_at_once_on_a_new_sqlite_file_both_serve() {
    let alice = TestUser::new("alice");
    let http = reqwest::Client::new();
    for _ in 0..5 {
        let dir = scratch_dir();
        let env = [("SQLITE_PATH", "tasks.db"), ("BETTER_AUTH_SECRET", SECRET)];
        let servers: Vec<Server> = std::thread::scope(|scope| {
            let starting: Vec<_> = (0..2)
                .map(|_| scope.spawn(|| Server::start(&dir, &env)))
                .collect();
            starting
                .into_iter()
                .map(|server| server.join().expect("both servers start"))
                .collect()
        });
        let migrated = servers
            .iter()
            .filter(|server| {
                server
                    .logs()
                    .iter()
                    .any(|line| line.contains("applied migrations"))
            })
            .count();
        assert_eq!(migrated, 1, "exactly one server applies the migrations");
        let (status, task) = call(
            http.post(servers[0].url("/api/alice/tasks"))
                .bearer_auth(&alice.token)
                .json(&json!({"title": "seen by both"})),
        )
        .await;
        assert_eq!(status, 201, "{task}");
        let (status, tasks) = call(
            http.get(servers[1].url("/api/alice/tasks"))
                .bearer_auth(&alice.token),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(tasks, json!([task]));
    }
}

async fn data_survives_a_restart(env: &[(&str, &str)]) {
    let dir = scratch_dir();
    let alice = TestUser::new("alice");
    let http = reqwest::Client::new();

    let server = Server::start(&dir, env);
    let (status, task) = call(
        http.post(server.url("/api/alice/tasks"))
            .bearer_auth(&alice.token)
            .json(&json!({"title": "Survive"})),
    )
    .await;
    assert_eq!(status, 201, "{task}");
    let (code, log) = server.terminate();
    assert_eq!(code, 0, "SIGTERM is a clean exit: {log:?}");

    let server = Server::start(&dir, env);
    let (status, tasks) = call(
        http.get(server.url("/api/alice/tasks"))
            .bearer_auth(&alice.token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(tasks, json!([task]));

    let (code, log) = server.terminate();
    assert_eq!(code, 0);
    let request_lines: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("todo_api::request"))
        .collect();
    assert!(
        request_lines.iter().any(|l| l.contains("method=GET")
            && l.contains(r#"route="/api/{user_id}/tasks""#)
            && l.contains("status=200")
            && l.contains("latency_us=")),
        "one line per request with method, route template, status and latency: {request_lines:?}"
    );
    assert!(
        !log.iter().any(|l| l.contains(&alice.token)),
        "the token never reaches the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_data_survives_a_restart_and_sigterm_exits_cleanly() {
    let Some(server) = postgres::server() else {
        return;
    };
    let database = server.create_database().await;
    data_survives_a_restart(&[
        ("DATABASE_URL", &database.url),
        ("BETTER_AUTH_SECRET", SECRET),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_data_survives_a_restart_and_sigterm_exits_cleanly() {
    data_survives_a_restart(&[("SQLITE_PATH", "tasks.db"), ("BETTER_AUTH_SECRET", SECRET)]).await;
    data_survives_a_restart(&[
        ("DATABASE_URL", "sqlite://./nested/tasks.db"),
        ("BETTER_AUTH_SECRET", SECRET),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn zero_config_start_creates_the_sqlite_file_and_prints_a_working_dev_token() {
    let dir = scratch_dir();
    let http = reqwest::Client::new();
    let server = Server::start(&dir, &[]);
    assert!(
        dir.join("data/todo.db").is_file(),
        "./data/todo.db is created with its folder"
    );
    {
        let log = server.log.lock().unwrap();
        let first = log
            .iter()
            .take(3)
            .any(|l| l.contains("SQLite file ./data/todo.db"));
        assert!(
            first,
            "the database is named in the first log lines: {log:?}"
        );
    }
    let token = server.dev_token();
    let demo = "/api/demo-user/tasks";
    let (status, task) = call(
        http.post(server.url(demo))
            .bearer_auth(&token)
            .json(&json!({"title": "First task"})),
    )
    .await;
    assert_eq!(status, 201, "{task}");
    let (status, _) = call(http.get(server.url("/docs"))).await;
    assert_eq!(status, 200, "Swagger UI is served");
    let (code, _) = server.terminate();
    assert_eq!(code, 0);

    // A new run makes a new secret: the old token stops working, and the 401
    // says why and where the new one is; the data stays.
    let server = Server::start(&dir, &[]);
    let response = http
        .get(server.url(demo))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        401,
        "a dev token is valid only for the run that printed it"
    );
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    let problem: Value = response.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("from an earlier run of this dev-mode server")
            && detail.contains("printed in the terminal at start-up")
            && detail.contains("Token for the demo user"),
        "{detail}"
    );
    let (status, tasks) = call(http.get(server.url(demo)).bearer_auth(server.dev_token())).await;
    assert_eq!(status, 200);
    assert_eq!(tasks, json!([task]));
}

#[test]
fn dev_mode_is_refused_when_a_postgres_url_is_set() {
    for variable in ["DATABASE_URL", "NEON_DB_URL"] {
        let out = command(&[(variable, "postgres://app:hunter2@127.0.0.1:1/tasks")])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("BETTER_AUTH_SECRET is not set"), "{stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !stdout.contains("Bearer") && !stdout.contains("DEV MODE"),
            "no dev token: {stdout}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_command_signs_with_the_configured_secret_and_refuses_without_one() {
    let out = command(&[("BETTER_AUTH_SECRET", SECRET)])
        .args(["token", "--sub", "alice"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let verifier = todo_api::auth::TokenVerifier::with_shared_secret(SECRET, 0);
    assert_eq!(verifier.verify(&token).await.unwrap().as_str(), "alice");

    let out = command(&[])
        .args(["token", "--sub", "alice"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("BETTER_AUTH_SECRET is not set"));
    assert!(out.stdout.is_empty());
}

/// Starts writes, sends SIGTERM while they run: the accepted ones complete
/// (201 and stored), the process exits 0. SIGTERM goes a few milliseconds
/// after the writes start; on a loaded machine none may have been accepted
/// by then, which proves nothing, so the run is repeated with a longer wait
/// (each time a user of its own, and each time nothing but the 201s stored).
async fn in_flight_requests_finish_after_sigterm(env: &[(&str, &str)]) {
    for (attempt, wait_ms) in [5, 25, 100, 250].into_iter().enumerate() {
        if sigterm_during_writes(env, attempt, wait_ms).await > 0 {
            return;
        }
    }
    panic!("no request was in flight in any attempt: the test proved nothing");
}

/// One run of the scenario; how many writes completed.
async fn sigterm_during_writes(env: &[(&str, &str)], attempt: usize, wait_ms: u64) -> usize {
    let alice = TestUser::new(&format!("alice-{attempt}"));
    let dir = scratch_dir();
    let server = Server::start(&dir, env);
    let http = reqwest::Client::new();
    let url = server.url(&format!("/api/{}/tasks", alice.id));
    let requests: Vec<_> = (0..40)
        .map(|i| {
            let request = http
                .post(&url)
                .bearer_auth(&alice.token)
                .json(&json!({"title": format!("in flight {i}")}));
            tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(wait_ms)).await;
    let (code, _) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert_eq!(code, 0);
    let mut completed = 0;
    for request in requests {
        // A request either completed (201) or was never accepted (connection
        // refused); none is cut off half-way.
        if let Ok(status) = request.await.unwrap() {
            assert_eq!(status, 201);
            completed += 1;
        }
    }
    let server = Server::start(&dir, env);
    let (_, stored) = all_tasks(
        &http,
        &server.url(&format!("/api/{}/tasks", alice.id)),
        &alice.token,
    )
    .await;
    assert_eq!(
        stored.as_array().unwrap().len(),
        completed,
        "every 201 is stored, nothing else"
    );
    completed
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_in_flight_requests_finish_after_sigterm() {
    in_flight_requests_finish_after_sigterm(&[("BETTER_AUTH_SECRET", SECRET)]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_in_flight_requests_finish_after_sigterm() {
    let Some(cluster) = postgres::own_cluster(|_| Ok(())) else {
        return;
    };
    in_flight_requests_finish_after_sigterm(&[
        ("DATABASE_URL", &cluster.url("postgres")),
        ("BETTER_AUTH_SECRET", SECRET),
    ])
    .await;
}

#[test]
fn a_missing_or_invalid_variable_stops_start_up_with_one_line_naming_it() {
    let cases: [(&[(&str, &str)], &str); 11] = [
        (
            &[("BETTER_AUTH_URL", "auth.example.com")],
            "BETTER_AUTH_URL",
        ),
        (
            &[
                ("BETTER_AUTH_URL", "https://auth.example.com"),
                ("BETTER_AUTH_JWKS_URL", "file:///etc/passwd"),
            ],
            "BETTER_AUTH_JWKS_URL",
        ),
        (
            &[("DATABASE_URL", "postgres://u:hunter2@127.0.0.1:1/db")],
            "BETTER_AUTH_SECRET",
        ),
        (
            &[
                ("DATABASE_URL", "mysql://u:hunter2@h/db"),
                ("BETTER_AUTH_SECRET", SECRET),
            ],
            "DATABASE_URL",
        ),
        (
            &[("NEON_DB_URL", "hunter2"), ("BETTER_AUTH_SECRET", SECRET)],
            "NEON_DB_URL",
        ),
        (&[("BETTER_AUTH_SECRET", SECRET), ("PORT", "http")], "PORT"),
        (&[("BETTER_AUTH_SECRET", "short")], "BETTER_AUTH_SECRET"),
        (&[("CORS_ORIGINS", "localhost:3000")], "CORS_ORIGINS"),
        // URLs that cannot be used, found when the database is opened (after
        // the port is taken: any free one).
        (
            &[
                ("DATABASE_URL", "postgres://u:hunter2@127.0.0.1:notaport/db"),
                ("BETTER_AUTH_SECRET", SECRET),
                ("PORT", "0"),
            ],
            "DATABASE_URL",
        ),
        (
            &[
                (
                    "NEON_DB_URL",
                    "postgres://u:hunter2@127.0.0.1:1/db?sslmode=verify-full&sslrootcert=/nonexistent.pem",
                ),
                ("BETTER_AUTH_SECRET", SECRET),
                ("PORT", "0"),
            ],
            "NEON_DB_URL",
        ),
        (
            &[
                ("DATABASE_URL", "postgres://u:hunter2@127.0.0.1:1/db"),
                (
                    "NEON_DIRECT_URL",
                    "postgres://u:hunter2@127.0.0.1:1/db?sslmode=sometimes",
                ),
                ("BETTER_AUTH_SECRET", SECRET),
                ("PORT", "0"),
            ],
            "NEON_DIRECT_URL",
        ),
    ];
    for (env, variable) in cases {
        let out = command(env).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "exactly one line: {stderr}");
        assert!(lines[0].contains(variable), "{variable} is named: {stderr}");
        assert!(!stderr.contains("hunter2"));
    }
}

/// A second server started by mistake on a taken port says which variable
/// moves it, exits 2, and stops before it creates or migrates anything.
#[test]
fn a_port_in_use_is_a_configuration_error_found_before_the_database_is_touched() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = scratch_dir();
    let started = Instant::now();
    let out = command_in(&dir, &[("BETTER_AUTH_SECRET", SECRET), ("PORT", &port)])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("PORT") && stderr.contains(&port),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        !dir.join("data").exists(),
        "no SQLite file was created before the port was checked"
    );
}

#[test]
fn an_unreachable_database_at_start_up_fails_without_leaking_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://app:hunter2@127.0.0.1:{port}/tasks");
    // Start-up retries for DB_STARTUP_TIMEOUT_SECS, saying what it waits for.
    let started = Instant::now();
    let out = command(&[
        ("DATABASE_URL", &url),
        ("BETTER_AUTH_SECRET", SECRET),
        ("DB_STARTUP_TIMEOUT_SECS", "2"),
    ])
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "gave up after {:?}",
        started.elapsed()
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("waiting for the database"),
        "start-up says what it waits for: {all}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(
        lines[0].starts_with("todo-api: DATABASE_URL: the database is still unavailable after"),
        "names the variable: {stderr}"
    );
    assert_eq!(
        lines[0].matches("Connection refused").count(),
        1,
        "the cause is said once: {stderr}"
    );
    assert!(!all.contains("hunter2") && !all.contains(&url), "{all}");
}

/// What waiting cannot heal stops start-up at once (not after
/// DB_STARTUP_TIMEOUT_SECS, 60 s by default) with one line naming the
/// variable and what to change; what it can heal is waited for.
#[test]
fn a_postgres_that_refuses_for_good_stops_start_up_at_once_naming_the_variable() {
    let Some(cluster) = postgres::own_cluster(|data| {
        // Passwords over TCP, except for a role that does not exist (so the
        // server says so rather than "password authentication failed").
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhost all ghost 127.0.0.1/32 trust\n\
             host all all 127.0.0.1/32 scram-sha-256\n",
        )
        .map_err(|e| e.to_string())
    }) else {
        return;
    };
    for sql in [
        "CREATE ROLE app LOGIN PASSWORD 'app-pw'",
        "CREATE ROLE busy LOGIN PASSWORD 'busy-pw' CONNECTION LIMIT 0",
        "CREATE DATABASE tasks",
        "CREATE DATABASE locked",
        "REVOKE CONNECT ON DATABASE locked FROM PUBLIC",
        "CREATE DATABASE direct",
        "CREATE DATABASE busy OWNER busy",
    ] {
        cluster.sql("postgres", sql).unwrap();
    }
    let port = cluster.port;
    let url = |credentials: &str, database: &str| {
        format!("postgres://{credentials}@127.0.0.1:{port}/{database}")
    };
    let cases = [
        (
            vec![("DATABASE_URL", url("postgres:postgres", "nope"))],
            "DATABASE_URL",
            "database \"nope\" does not exist",
        ),
        (
            vec![("NEON_DB_URL", url("ghost:ghost-pw", "tasks"))],
            "NEON_DB_URL",
            "role \"ghost\" does not exist",
        ),
        (
            vec![("DATABASE_URL", url("app:wrong-pw", "tasks"))],
            "DATABASE_URL",
            "password authentication failed for user \"app\"",
        ),
        (
            vec![("DATABASE_URL", url("app:app-pw", "locked"))],
            "DATABASE_URL",
            "permission denied for database \"locked\"",
        ),
        // Connects, but may not create the tables (PostgreSQL 15+ grants no
        // CREATE on schema public).
        (
            vec![("DATABASE_URL", url("app:app-pw", "tasks"))],
            "DATABASE_URL",
            "permission denied for schema public",
        ),
        (
            vec![
                ("NEON_DB_URL", url("postgres:postgres", "tasks")),
                ("NEON_DIRECT_URL", url("postgres:postgres", "nope")),
            ],
            "NEON_DIRECT_URL",
            "database \"nope\" does not exist",
        ),
        // Migrations over NEON_DIRECT_URL work; the main URL does not.
        (
            vec![
                ("NEON_DB_URL", url("app:wrong-pw", "direct")),
                ("NEON_DIRECT_URL", url("postgres:postgres", "direct")),
            ],
            "NEON_DB_URL",
            "password authentication failed for user \"app\"",
        ),
    ];
    for (vars, variable, reason) in cases {
        let mut env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend([("BETTER_AUTH_SECRET", SECRET), ("PORT", "0")]);
        let exit = run_to_exit(command(&env), Duration::from_secs(10));
        let line = exit.expect_config_error(variable, Duration::from_secs(5));
        assert!(line.contains(reason), "{reason}: {line}");
        assert!(
            line.contains(&format!("127.0.0.1:{port}")),
            "the server is named: {line}"
        );
        assert!(line.contains(" — "), "says what to do: {line}");
        let all = format!("{}{}", exit.stdout, exit.stderr);
        assert!(
            !all.contains("wrong-pw") && !all.contains("app-pw") && !all.contains(":postgres@"),
            "no password: {all}"
        );
        assert!(!all.contains("waiting for the database"), "no retry: {all}");
    }

    // Too many connections (53300) can heal: start-up waits, and serves once
    // the limit is lifted.
    let busy = url("busy:busy-pw", "busy");
    let server = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(1500));
            cluster
                .sql("postgres", "ALTER ROLE busy CONNECTION LIMIT -1")
                .unwrap();
        });
        Server::start(
            &scratch_dir(),
            &[("DATABASE_URL", &busy), ("BETTER_AUTH_SECRET", SECRET)],
        )
    });
    let log = server.logs();
    assert!(
        log.iter()
            .any(|l| l.contains("waiting for the database") && l.contains("too many connections")),
        "waited for the connection limit: {log:?}"
    );
}

/// An SQLite path that cannot be used stops start-up at once with one line
/// naming its variable. It used to retry for DB_STARTUP_TIMEOUT_SECS (60 s)
/// a file that cannot be opened, or say "File exists" and exit 1.
#[test]
fn an_unusable_sqlite_path_stops_start_up_at_once_naming_it() {
    let dir = scratch_dir();
    std::fs::write(dir.join("blocker"), "a file").unwrap();
    std::fs::create_dir(dir.join("folder")).unwrap();
    std::fs::write(dir.join("garbage.db"), "not SQLite. ".repeat(100)).unwrap();
    let cases = [
        (
            "SQLITE_PATH",
            "blocker/tasks.db",
            "blocker is a file, not a folder",
        ),
        (
            "SQLITE_PATH",
            "blocker/sub/tasks.db",
            "blocker is a file, not a folder",
        ),
        ("SQLITE_PATH", "folder", "folder is a folder"),
        (
            "SQLITE_PATH",
            "garbage.db",
            "garbage.db is not an SQLite database",
        ),
        (
            "DATABASE_URL",
            "sqlite://garbage.db",
            "garbage.db is not an SQLite database",
        ),
    ];
    let limit = Duration::from_secs(5);
    for (variable, value, reason) in cases {
        let env = [
            (variable, value),
            ("BETTER_AUTH_SECRET", SECRET),
            ("PORT", "0"),
        ];
        let exit = run_to_exit(command_in(&dir, &env), Duration::from_secs(10));
        let line = exit.expect_config_error(variable, limit);
        assert!(line.contains(reason), "{value}: {line}");
    }

    // A folder this user may not write (root may write anywhere: the binary
    // runs as `nobody` then).
    let locked = scratch_dir();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    for (value, reason) in [
        ("tasks.db", "cannot open tasks.db"),
        ("sub/tasks.db", "cannot create the folder sub"),
    ] {
        let env = [
            ("SQLITE_PATH", value),
            ("BETTER_AUTH_SECRET", SECRET),
            ("PORT", "0"),
        ];
        let Some(cmd) = unprivileged_command_in(&locked, &env) else {
            return;
        };
        let exit = run_to_exit(cmd, Duration::from_secs(10));
        let line = exit.expect_config_error("SQLITE_PATH", limit);
        assert!(line.contains(reason), "{value}: {line}");
    }
}

/// SQLite opens a file it may only read read-only without a word: the server
/// used to start, say 200 on /ready, and answer every write 500. It now
/// refuses to start.
#[test]
fn a_sqlite_file_this_process_may_not_write_stops_start_up() {
    let dir = scratch_dir();
    let env = [
        ("SQLITE_PATH", "tasks.db"),
        ("BETTER_AUTH_SECRET", SECRET),
        ("PORT", "0"),
    ];
    let out = command_in(&dir, &env).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The folder may be written (SQLite's -wal and -shm files), the file not.
    std::fs::set_permissions(dir.join("tasks.db"), std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let Some(cmd) = unprivileged_command_in(&dir, &env) else {
        return;
    };
    let exit = run_to_exit(cmd, Duration::from_secs(10));
    let line = exit.expect_config_error("SQLITE_PATH", Duration::from_secs(5));
    assert!(line.contains("tasks.db is read-only"), "{line}");
}

#[test]
fn the_openapi_command_prints_the_committed_contract() {
    let out = command(&[]).arg("openapi").output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    assert!(
        String::from_utf8(out.stdout).unwrap() == committed,
        "`todo-api openapi` must print openapi.yaml"
    );
    let json = command(&[])
        .args(["openapi", "--format", "json"])
        .output()
        .unwrap();
    let spec: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(spec["openapi"], "3.0.0");
}

async fn migrate_is_idempotent_then_serves(env: &[(&str, &str)]) {
    let dir = scratch_dir();
    for _ in 0..2 {
        let out = command_in(&dir, env).arg("migrate").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let server = Server::start(&dir, env);
    let alice = TestUser::new("alice");
    let (status, _) = call(
        reqwest::Client::new()
            .get(server.url("/api/alice/tasks"))
            .bearer_auth(&alice.token),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_migrate_command_applies_migrations_and_is_idempotent() {
    migrate_is_idempotent_then_serves(&[("BETTER_AUTH_SECRET", SECRET)]).await;
    let Some(server) = postgres::server() else {
        return;
    };
    let database = server.create_database().await;
    migrate_is_idempotent_then_serves(&[
        ("DATABASE_URL", &database.url),
        ("BETTER_AUTH_SECRET", SECRET),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn start_up_does_not_wait_for_better_auth_and_its_tokens_get_503_meanwhile() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let better_auth = format!("http://{closed}");
    let server = Server::start(&scratch_dir(), &[("BETTER_AUTH_URL", &better_auth)]);
    let http = reqwest::Client::new();
    let (status, _) = call(http.get(server.url("/health"))).await;
    assert_eq!(status, 200);
    // An EdDSA token goes to the JWKS path, whose keys cannot be fetched.
    let token = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
    let response = http
        .get(server.url("/api/alice/tasks"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    // No shared secret is configured: HS256 tokens are not accepted at all.
    let (status, _) = call(
        http.get(server.url("/api/alice/tasks"))
            .bearer_auth(TestUser::new("alice").token),
    )
    .await;
    assert_eq!(status, 401);
    let log = server.terminate().1;
    assert!(
        !log.iter().any(|l| l.contains("DEV MODE")),
        "JWKS settings are token settings: no dev mode"
    );
}
