//! What reaches the log. Even at `RUST_LOG=trace`, no task content and no
//! token: a log is read by more people than the database.

use serde_json::json;

use crate::{
    binary::{Server, scratch_dir},
    support::{SECRET, TestUser, postgres},
};

/// `text` as the comma-separated bytes Rust's `Debug` prints for a byte
/// slice, the form in which a statement's parameters would be logged.
fn as_debug_bytes(text: &str) -> String {
    text.bytes()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn at_trace_no_task_content_or_token_is_logged(env: &[(&str, &str)]) {
    let mut env = env.to_vec();
    env.push(("BETTER_AUTH_SECRET", SECRET));
    let server = Server::start_at(&scratch_dir(), &env, "trace");
    let alice = TestUser::new("alice");
    let http = reqwest::Client::new();
    let (title, description) = ("Ticket to Lisbon", "passport number X1234567");
    let created = http
        .post(server.url("/api/alice/tasks"))
        .bearer_auth(&alice.token)
        .json(&json!({"title": title, "description": description}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let listed = http
        .get(server.url("/api/alice/tasks"))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert!(listed.text().await.unwrap().contains(title));
    // The same through the MCP tools.
    let (mcp_title, mcp_description) = ("Visit to Dr Almeida", "blood test results");
    for (id, tool, arguments) in [
        (
            1,
            "add_task",
            json!({"user_id": "alice", "title": mcp_title, "description": mcp_description}),
        ),
        (2, "list_tasks", json!({"user_id": "alice"})),
    ] {
        let answer = http
            .post(server.url("/mcp"))
            .bearer_auth(&alice.token)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": {"name": tool, "arguments": arguments}}))
            .send()
            .await
            .unwrap();
        let answer = answer.text().await.unwrap();
        assert!(answer.contains(mcp_title), "{tool}: {answer}");
    }

    let (code, log) = server.terminate();
    assert_eq!(code, 0);
    let log = log.join("\n");
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the server really logged below info:\n{log}"
    );
    for secret in [title, description, mcp_title, mcp_description, &alice.token] {
        assert!(!log.contains(secret), "{secret:?} reached the log");
        assert!(
            !log.contains(&as_debug_bytes(secret)),
            "{secret:?} reached the log as bytes"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_at_trace_no_task_content_or_token_is_logged() {
    at_trace_no_task_content_or_token_is_logged(&[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_at_trace_no_task_content_or_token_is_logged() {
    let Some(server) = postgres::server() else {
        return;
    };
    let database = server.create_database().await;
    at_trace_no_task_content_or_token_is_logged(&[("DATABASE_URL", &database.url)]).await;
}

/// `X-Request-Id`: a sane one is returned and on the request's log line, a
/// forged or oversized one is replaced by a UUID, none gets a UUID; every
/// response has one, errors included. With `LOG_FORMAT=json` each line is a
/// JSON object whose span carries the id.
#[tokio::test]
async fn request_ids_are_returned_and_on_every_line_of_their_request() {
    for format in ["text", "json"] {
        let server = Server::start(
            &scratch_dir(),
            &[("BETTER_AUTH_SECRET", SECRET), ("LOG_FORMAT", format)],
        );
        let alice = TestUser::new("alice");
        let http = reqwest::Client::new();
        let id_of = async |path: &str, sent: Option<&str>| {
            let mut request = http.get(server.url(path)).bearer_auth(&alice.token);
            if let Some(sent) = sent {
                request = request.header("x-request-id", sent);
            }
            let response = request.send().await.unwrap();
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(
            id_of("/api/alice/tasks", Some("client-7f3a")).await,
            "client-7f3a"
        );
        assert_eq!(
            id_of("/api/bob/tasks", Some("forbidden-1")).await,
            "forbidden-1"
        );
        let long = "x".repeat(129);
        for forged in [Some("a\"b=c"), Some(long.as_str()), None] {
            let id = id_of("/api/alice/tasks", forged).await;
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{forged:?} → {id}");
        }
        let (code, log) = server.terminate();
        assert_eq!(code, 0);
        let lines: Vec<&String> = log
            .iter()
            .filter(|line| line.contains("todo_api::request"))
            .collect();
        assert_eq!(lines.len(), 5, "one line per request:\n{log:?}");
        for (line, id) in lines.iter().zip(["client-7f3a", "forbidden-1"]) {
            match format {
                "json" => {
                    let line: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
                    assert_eq!(line["span"]["request_id"], id, "{line}");
                    assert_eq!(line["target"], "todo_api::request");
                }
                _ => assert!(line.contains(&format!("request_id={id}")), "{line}"),
            }
        }
        if format == "json" {
            for line in &log {
                serde_json::from_str::<serde_json::Value>(line)
                    .unwrap_or_else(|err| panic!("not JSON ({err}): {line}"));
            }
        }
    }
}
