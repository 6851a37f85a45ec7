//! Fair-use limits, on the binary and both backends: a user's burst, the 429
//! with `Retry-After` that is never too early, refill, users independent of
//! each other, the draft-10 headers, one /mcp call counted once, and the
//! per-address limit on failed authentications.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::json;

use crate::{
    binary::{Server, scratch_dir},
    support::{SECRET, TestUser, postgres},
};

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

async fn limits_hold(env: &[(&str, &str)]) {
    let mut env = env.to_vec();
    env.extend([
        ("BETTER_AUTH_SECRET", SECRET),
        ("RATE_LIMIT_PER_MINUTE", "60"),
        ("RATE_LIMIT_BURST", "5"),
        ("RATE_LIMIT_FAILURES_PER_MINUTE", "3"),
    ]);
    let server = Server::start(&scratch_dir(), &env);
    let http = reqwest::Client::new();
    let (alice, bob) = (TestUser::new("alice"), TestUser::new("bob"));
    let get = async |user: &TestUser| {
        http.get(server.url(&format!("/api/{}/tasks", user.id)))
            .bearer_auth(&user.token)
            .send()
            .await
            .unwrap()
    };

    // The burst: five requests (a write among them), each saying what is left.
    let created = http
        .post(server.url("/api/alice/tasks"))
        .bearer_auth(&alice.token)
        .json(&json!({"title": "counted"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(
        header(&created, "ratelimit-policy"),
        Some(r#""per-user";q=60;w=60"#)
    );
    assert_eq!(header(&created, "ratelimit"), Some(r#""per-user";r=4;t=1"#));
    for left in [3, 2, 1, 0] {
        let response = get(&alice).await;
        assert_eq!(response.status(), StatusCode::OK);
        let value = header(&response, "ratelimit").unwrap().to_owned();
        assert!(
            value.starts_with(&format!("\"per-user\";r={left};t=")),
            "{value}"
        );
    }
    // Past it: 429, problem JSON, Retry-After, the headers with nothing left.
    let limited = get(&alice).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = header(&limited, "retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert!(
        header(&limited, "ratelimit")
            .unwrap()
            .starts_with(r#""per-user";r=0;"#)
    );
    assert_eq!(
        header(&limited, "content-type"),
        Some("application/problem+json")
    );
    let problem: serde_json::Value = limited.json().await.unwrap();
    assert_eq!(problem["status"], 429);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("RATE_LIMIT_PER_MINUTE")
    );

    // Another user is not held up.
    assert_eq!(get(&bob).await.status(), StatusCode::OK);

    // Waiting exactly Retry-After is enough: never told too early.
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(get(&alice).await.status(), StatusCode::OK);

    // One /mcp call (a tool that runs a REST request inside) counts once.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let tool = http
        .post(server.url("/mcp"))
        .bearer_auth(&bob.token)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "list_tasks", "arguments": {"user_id": "bob"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(tool.status(), StatusCode::OK);
    assert!(
        header(&tool, "ratelimit")
            .unwrap()
            .starts_with(r#""per-user";r=4;"#)
    );
    let after = get(&bob).await;
    assert!(
        header(&after, "ratelimit")
            .unwrap()
            .starts_with(r#""per-user";r=3;"#)
    );

    // Failed authentications from one address: three 401s, then 429s; a
    // valid token from the same address still gets through.
    for _ in 0..3 {
        let refused = http
            .get(server.url("/api/alice/tasks"))
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(&refused, "ratelimit"),
            None,
            "not an authenticated response"
        );
    }
    let blocked = http
        .get(server.url("/api/alice/tasks"))
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        header(&blocked, "retry-after")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let problem: serde_json::Value = blocked.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("RATE_LIMIT_FAILURES_PER_MINUTE")
    );
    assert_eq!(get(&bob).await.status(), StatusCode::OK);

    let (code, _) = server.terminate();
    assert_eq!(code, 0);
}

#[tokio::test]
async fn limits_hold_on_sqlite() {
    limits_hold(&[]).await;
}

#[tokio::test]
async fn limits_hold_on_postgres() {
    let Some(pg) = postgres::server() else {
        return;
    };
    let database = pg.create_database().await;
    limits_hold(&[("DATABASE_URL", &database.url)]).await;
}

#[tokio::test]
async fn limits_can_be_turned_off() {
    let server = Server::start(
        &scratch_dir(),
        &[
            ("BETTER_AUTH_SECRET", SECRET),
            ("RATE_LIMIT_PER_MINUTE", "0"),
        ],
    );
    let alice = TestUser::new("alice");
    let response = reqwest::Client::new()
        .get(server.url("/api/alice/tasks"))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "ratelimit"), None);
    assert_eq!(header(&response, "ratelimit-policy"), None);
}
