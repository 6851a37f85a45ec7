//! `/mcp`, the MCP server for AI agents: the HTTP gate in-process on both
//! backends, then the official TypeScript MCP SDK client (tests/e2e/mcp) in
//! Node against two instances of the binary on one database, PostgreSQL and
//! SQLite, in both protocol eras the SDK speaks.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use poem::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    binary::{Server, scratch_dir},
    ecosystem::{installed, npm, report, run_ok},
    support::{self, SECRET, TestApp, TestUser, backend_tests},
};

/// A JSON-RPC request to `/mcp` as `token`, with `Host: host`.
pub(crate) async fn call(
    app: &TestApp,
    token: Option<&str>,
    host: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let mut headers = vec![
        ("host", host.to_owned()),
        ("content-type", "application/json".to_owned()),
        ("accept", "application/json, text/event-stream".to_owned()),
        ("mcp-protocol-version", "2025-11-25".to_owned()),
    ];
    if let Some(token) = token {
        headers.push(("authorization", format!("Bearer {token}")));
    }
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let reply = app
        .send_raw(Method::POST, "/mcp", &headers, body.to_string())
        .await;
    (reply.status, reply.body)
}

pub(crate) fn tool_call(name: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
           "params": {"name": name, "arguments": arguments}})
}

backend_tests! {
    async fn a_request_without_an_acceptable_token_is_the_rest_401_before_any_mcp(app: TestApp) {
        let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        for (token, challenge) in [
            (None, "Bearer"),
            (Some("not-a-jwt"), r#"Bearer error="invalid_token""#),
        ] {
            let mut headers = vec![("host", "localhost"), ("content-type", "application/json")];
            let bearer = token.map(|token| format!("Bearer {token}"));
            if let Some(bearer) = &bearer {
                headers.push(("authorization", bearer));
            }
            // Even a body that is not JSON-RPC: the token is checked first.
            for body in [list.to_string(), "{".to_owned()] {
                let reply = app.send_raw(Method::POST, "/mcp", &headers, body).await;
                reply.expect_problem(401);
                assert_eq!(reply.header("www-authenticate"), Some(challenge));
            }
        }
    }

    async fn a_tool_acts_for_the_token_subject_only(app: TestApp) {
        let alice = TestUser::new("alice");
        let bob = TestUser::new("bob");
        let task = app.new_task(&alice, "alice's").await;
        let id = task["id"].as_i64().unwrap();
        let (status, body) = call(
            &app,
            Some(&bob.token),
            "localhost",
            &tool_call("delete_task", json!({"user_id": "alice", "task_id": id})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["result"]["isError"], true, "{body}");
        let text = body["result"]["content"][0]["text"].as_str().unwrap();
        assert!(text.contains("not the signed-in user"), "{text}");
        app.get_task(&alice, id).await.expect(200);

        let (_, body) = call(
            &app,
            Some(&alice.token),
            "localhost",
            &tool_call("delete_task", json!({"user_id": "alice", "task_id": id})),
        )
        .await;
        assert_eq!(body["result"]["isError"], false, "{body}");
        assert_eq!(body["result"]["structuredContent"]["title"], "alice's");
        app.get_task(&alice, id).await.expect(404);
    }

    async fn only_the_configured_hosts_are_answered(app: TestApp) {
        let alice = TestUser::new("alice");
        let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        let (status, body) = call(&app, Some(&alice.token), "localhost", &list).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["result"]["tools"].as_array().map(Vec::len), Some(5));
        // A page on another name that resolves to this server (DNS rebinding).
        let (status, _) = call(&app, Some(&alice.token), "attacker.example", &list).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    async fn the_rest_body_limit_holds_and_other_methods_are_refused(app: TestApp) {
        let alice = TestUser::new("alice");
        let huge = tool_call(
            "add_task",
            json!({"user_id": "alice", "title": "x".repeat(todo_api::api::MAX_BODY_BYTES)}),
        );
        let (status, _) = call(&app, Some(&alice.token), "localhost", &huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let bearer = format!("Bearer {}", alice.token);
        // Stateless: no stream to open, no session to end.
        for method in [Method::GET, Method::DELETE] {
            let reply = app
                .send_raw(
                    method.clone(),
                    "/mcp",
                    &[("host", "localhost"), ("authorization", &bearer), ("accept", "text/event-stream")],
                    "",
                )
                .await;
            assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        }
        // Nothing was created.
        assert_eq!(app.list(&alice, "").await.body, json!([]));
    }
}

/// tests/e2e/mcp, installed: its folder, or the skip-or-fail verdict.
fn sdk_suite() -> Option<PathBuf> {
    installed(
        "tests/e2e/mcp",
        "node_modules/@modelcontextprotocol/client",
        "npm ci",
    )
}

/// The SDK suite (in `dir`) against two instances of one deployment on
/// `env`'s database, started one after the other (the second finds the schema
/// migrated), behind the suite's round-robin "load balancer"; then SIGTERM
/// ends each with exit code 0 and neither logged an error (a tool call the
/// SDK could not serve would have).
async fn drive_two_instances(dir: PathBuf, backend: &str, env: &[(&str, &str)]) {
    let first = Server::start(&scratch_dir(), env);
    let second = Server::start(&scratch_dir(), env);
    let urls = [first.url(""), second.url("")];
    let summary = tokio::task::spawn_blocking(move || run_sdk_suite(&dir, &urls))
        .await
        .unwrap();
    for server in [first, second] {
        let (code, log) = server.terminate();
        assert_eq!(code, 0, "{}", log.join("\n"));
        let errors: Vec<&String> = log.iter().filter(|line| line.contains("ERROR")).collect();
        assert!(errors.is_empty(), "errors logged: {errors:?}");
    }
    report(&format!(
        "MCP TypeScript SDK, {backend}, 2 instances: {summary}"
    ));
}

/// The suite in `dir` against `urls`; its summary lines.
fn run_sdk_suite(dir: &Path, urls: &[String]) -> String {
    let alice = TestUser::new("alice");
    let bob = TestUser::new("bob");
    let mut command: Command = npm(dir, &["test"]);
    command
        .env("TODO_API_URL", &urls[0])
        .env("TODO_API_URLS", urls.join(","))
        .env("TODO_API_USER", &alice.id)
        .env("TODO_API_TOKEN", &alice.token)
        .env("TODO_API_OTHER_USER", &bob.id)
        .env("TODO_API_OTHER_TOKEN", &bob.token);
    let output = run_ok(&mut command);
    let summary: Vec<&str> = output
        .lines()
        .filter(|line| {
            ["# pass", "# fail", "# fuzz"]
                .iter()
                .any(|start| line.starts_with(start))
        })
        .collect();
    summary.join(", ")
}

#[tokio::test]
async fn the_typescript_mcp_sdk_drives_two_instances_on_postgres() {
    let Some(dir) = sdk_suite() else {
        return;
    };
    let Some(pg) = support::postgres::server() else {
        return;
    };
    let database = pg.create_database().await;
    let env = [
        ("NEON_DB_URL", database.url.as_str()),
        ("BETTER_AUTH_SECRET", SECRET),
    ];
    drive_two_instances(dir, "PostgreSQL", &env).await;
}

#[tokio::test]
async fn the_typescript_mcp_sdk_drives_two_instances_on_sqlite() {
    let Some(dir) = sdk_suite() else {
        return;
    };
    let file = support::sqlite::TestFile::new();
    let path = file.path.display().to_string();
    drive_two_instances(
        dir,
        "SQLite",
        &[("SQLITE_PATH", &path), ("BETTER_AUTH_SECRET", SECRET)],
    )
    .await;
}
