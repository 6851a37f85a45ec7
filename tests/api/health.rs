//! Probes, and what clients see when the database is gone.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use poem::{EndpointExt, http::Method, test::TestClient};
use todo_api::{
    api::{AppState, IdempotencySettings, Services},
    app::build_app,
    auth::TokenVerifier,
    db::{Database, PoolSettings},
};

use crate::support::{SECRET, TestUser, backend_tests};

backend_tests! {
    async fn health_and_ready_answer_without_a_token(app: TestApp) {
        let health = app.send(Method::GET, "/health", None, None).await;
        assert_eq!(
            health.expect(200).body,
            serde_json::json!({"status": "healthy"})
        );
        let ready = app.send(Method::GET, "/ready", None, None).await;
        assert_eq!(
            ready.expect(200).body,
            serde_json::json!({"status": "ready"})
        );
    }
}

#[tokio::test]
async fn an_unreachable_database_is_a_fast_503_with_retry_after_and_health_stays_200() {
    // Nothing listens on this port: a closed local port refuses at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let db = Database::postgres(
        &format!("postgres://postgres:hunter2@127.0.0.1:{port}/nowhere"),
        PoolSettings {
            max_size: 2,
            read_connections: 0,
            timeout: Duration::from_secs(2),
        },
    )
    .unwrap();
    let state = AppState::new(Services {
        db,
        verifier: Arc::new(TokenVerifier::with_shared_secret(SECRET, 0)),
        max_tasks_per_user: None,
        idempotency: IdempotencySettings::new(std::time::Duration::from_secs(24 * 3600)),
        live: todo_api::live::Live::new(Default::default()),
        reminders: Default::default(),
        limits: std::sync::Arc::new(todo_api::api::rate_limit::RateLimits::new(
            todo_api::api::rate_limit::RateLimitSettings {
                per_user: None,
                failures_per_address: None,
            },
        )),
        metrics: None,
    });
    let client =
        TestClient::new(build_app(state, &[], Duration::from_secs(30), &[]).map_to_response());
    let alice = TestUser::new("alice");

    let started = Instant::now();
    let reply = client
        .get("/api/alice/tasks")
        .header("authorization", format!("Bearer {}", alice.token))
        .send()
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered in {:?}",
        started.elapsed()
    );
    reply.assert_status(poem::http::StatusCode::SERVICE_UNAVAILABLE);
    reply.assert_header_exist("retry-after");
    reply.assert_content_type("application/problem+json");
    let body = reply.0.into_body().into_string().await.unwrap();
    for secret in ["hunter2", "postgres://", "nowhere", "SELECT"] {
        assert!(!body.contains(secret), "the 503 leaks {secret:?}: {body}");
    }

    let reply = client
        .post("/api/alice/tasks")
        .header("authorization", format!("Bearer {}", alice.token))
        .content_type("application/json")
        .body(r#"{"title":"x"}"#)
        .send()
        .await;
    reply.assert_status(poem::http::StatusCode::SERVICE_UNAVAILABLE);
    client
        .get("/ready")
        .send()
        .await
        .assert_status(poem::http::StatusCode::SERVICE_UNAVAILABLE);
    client.get("/health").send().await.assert_status_is_ok();
}
