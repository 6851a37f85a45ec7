//! Black-box tests of the built `todo-api` binary: real process, real HTTP.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::support::{SECRET, TestUser, postgres};

const BIN: &str = env!("CARGO_BIN_EXE_todo-api");

/// The binary, with only the environment given (no inherited DATABASE_URL, no
/// `.env`: it runs in an empty directory of cargo's scratch space).
fn command(env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("empty-cwd");
    std::fs::create_dir_all(&dir).unwrap();
    cmd.env_clear()
        .current_dir(dir)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied());
    cmd
}

struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(database_url: &str) -> Self {
        let mut child = command(&[
            ("DATABASE_URL", database_url),
            ("BETTER_AUTH_SECRET", SECRET),
            ("PORT", "0"),
            ("RUST_LOG", "info"),
        ])
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

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then the exit code.
    fn terminate(mut self) -> (i32, Vec<String>) {
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
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn data_survives_a_restart_and_sigterm_exits_cleanly() {
    let database = postgres::server().create_database().await;
    let alice = TestUser::new("alice");
    let http = reqwest::Client::new();

    let server = Server::start(&database.url);
    let (status, task) = json_of(
        http.post(server.url("/api/alice/tasks"))
            .bearer_auth(&alice.token)
            .json(&json!({"title": "Survive"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{task}");
    let (code, log) = server.terminate();
    assert_eq!(code, 0, "SIGTERM is a clean exit: {log:?}");

    let server = Server::start(&database.url);
    let (status, tasks) = json_of(
        http.get(server.url("/api/alice/tasks"))
            .bearer_auth(&alice.token)
            .send()
            .await
            .unwrap(),
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
async fn in_flight_requests_finish_after_sigterm() {
    let database = postgres::server().create_database().await;
    let alice = TestUser::new("alice");
    let server = Server::start(&database.url);
    let http = reqwest::Client::new();
    let url = server.url("/api/alice/tasks");
    let requests: Vec<_> = (0..20)
        .map(|i| {
            let request = http
                .post(&url)
                .bearer_auth(&alice.token)
                .json(&json!({"title": format!("in flight {i}")}));
            tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (code, _) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert_eq!(code, 0);
    for request in requests {
        // A request either completed (201) or was never accepted (connection
        // refused); none is cut off half-way.
        if let Ok(status) = request.await.unwrap() {
            assert_eq!(status, 201);
        }
    }
}

#[test]
fn a_missing_or_invalid_variable_stops_start_up_with_one_line_naming_it() {
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("BETTER_AUTH_SECRET", SECRET)], "NEON_DB_URL"),
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
            &[
                ("DATABASE_URL", "postgres://h/db"),
                ("BETTER_AUTH_SECRET", SECRET),
                ("PORT", "http"),
            ],
            "PORT",
        ),
        (
            &[
                ("DATABASE_URL", "postgres://h/db"),
                ("BETTER_AUTH_SECRET", "short"),
            ],
            "BETTER_AUTH_SECRET",
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

#[test]
fn an_unreachable_database_at_start_up_fails_without_leaking_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://app:hunter2@127.0.0.1:{port}/tasks");
    let out = command(&[("DATABASE_URL", &url), ("BETTER_AUTH_SECRET", SECRET)])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("could not migrate the database"), "{all}");
    assert!(!all.contains("hunter2") && !all.contains(&url), "{all}");
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

#[tokio::test(flavor = "multi_thread")]
async fn the_migrate_command_applies_migrations_and_is_idempotent() {
    let database = postgres::server().create_database().await;
    for _ in 0..2 {
        let out = command(&[
            ("DATABASE_URL", &database.url),
            ("BETTER_AUTH_SECRET", SECRET),
        ])
        .arg("migrate")
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let server = Server::start(&database.url);
    let alice = TestUser::new("alice");
    let (status, _) = json_of(
        reqwest::Client::new()
            .get(server.url("/api/alice/tasks"))
            .bearer_auth(&alice.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
}
