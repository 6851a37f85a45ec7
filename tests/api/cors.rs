//! CORS as the Fetch standard has it: the server's own origin is never
//! refused, an origin that is not allowed gets its answer without
//! `Access-Control-Allow-Origin` (the browser hides it from the page), and only
//! a preflight is refused, with problem JSON.

use std::time::Duration;

use poem::http::Method;
use serde_json::json;

use crate::{
    binary::{Server, scratch_dir},
    support::{FRONTEND, Reply, SECRET, TestApp, TestUser, backend_tests},
};

const EVIL: &str = "https://evil.example";

/// A preflight from `origin` for `method`, asking for `headers` when not empty.
async fn preflight(app: &TestApp, origin: &str, method: &str, headers: &str) -> Reply {
    let mut sent = vec![
        ("origin", origin),
        ("access-control-request-method", method),
    ];
    if !headers.is_empty() {
        sent.push(("access-control-request-headers", headers));
    }
    app.send_raw(Method::OPTIONS, "/api/alice/tasks", &sent, "")
        .await
}

backend_tests! {
    async fn a_frontend_can_read_the_paging_headers(app: TestApp) {
        let alice = TestUser::new("alice");
        app.new_task(&alice, "one").await;
        app.new_task(&alice, "two").await;
        let bearer = format!("Bearer {}", alice.token);
        let page = app
            .send_raw(
                Method::GET,
                "/api/alice/tasks?limit=1&include_total=true",
                &[("origin", FRONTEND), ("authorization", &bearer)],
                "",
            )
            .await;
        page.expect(200);
        assert!(page.header("link").is_some() && page.header("x-total-count").is_some());
        let exposed = page.header("access-control-expose-headers").unwrap();
        for header in ["link", "x-total-count", "location"] {
            assert!(exposed.split(", ").any(|h| h == header), "{exposed}");
        }
    }

    async fn a_write_from_the_servers_own_origin_is_not_refused(app: TestApp) {
        let alice = TestUser::new("alice");
        let bearer = format!("Bearer {}", alice.token);
        // What Swagger UI at http://127.0.0.1:8000/docs sends for "Try it out".
        let created = app
            .send_raw(
                Method::POST,
                "/api/alice/tasks",
                &[
                    ("host", "127.0.0.1:8000"),
                    ("origin", "http://127.0.0.1:8000"),
                    ("authorization", &bearer),
                    ("content-type", "application/json"),
                ],
                r#"{"title":"from /docs"}"#,
            )
            .await;
        created.expect(201);
        assert_eq!(
            created.header("access-control-allow-origin"),
            Some("http://127.0.0.1:8000")
        );

        // A default port may be written in Host and left out of Origin.
        app.send_raw(
            Method::DELETE,
            &format!("/api/alice/tasks/{}", created.body["id"]),
            &[
                ("host", "api.example.com:443"),
                ("origin", "https://api.example.com"),
                ("authorization", &bearer),
            ],
            "",
        )
        .await
        .expect(204);

        // Behind a reverse proxy that passes the browser's host on.
        for forwarded in [
            ("x-forwarded-host", "api.example.com"),
            ("forwarded", "for=192.0.2.60;proto=https;host=api.example.com"),
        ] {
            app.send_raw(
                Method::POST,
                "/api/alice/tasks",
                &[
                    ("host", "127.0.0.1:8000"),
                    forwarded,
                    ("origin", "https://api.example.com"),
                    ("authorization", &bearer),
                    ("content-type", "application/json"),
                ],
                r#"{"title":"through a proxy"}"#,
            )
            .await
            .expect(201);
        }

        // Another port is another origin.
        let other = app
            .send_raw(
                Method::GET,
                "/health",
                &[("host", "127.0.0.1:8000"), ("origin", "http://127.0.0.1:8001")],
                "",
            )
            .await;
        other.expect(200);
        assert_eq!(other.header("access-control-allow-origin"), None);
    }

    async fn a_request_from_an_origin_not_allowed_is_answered_without_allow_origin(app: TestApp) {
        let alice = TestUser::new("alice");
        for path in ["/health", "/openapi.json", "/docs"] {
            let reply = app
                .send_raw(Method::GET, path, &[("origin", EVIL)], "")
                .await;
            reply.expect(200);
            assert_eq!(reply.header("access-control-allow-origin"), None, "{path}");
            assert_eq!(reply.header("vary"), Some("Origin"), "{path}");
        }
        // Processed as usual (the browser would have asked first, and been
        // refused, because of the Authorization header): the page cannot read it.
        let created = app
            .send_raw(
                Method::POST,
                "/api/alice/tasks",
                &[
                    ("origin", EVIL),
                    ("authorization", &format!("Bearer {}", alice.token)),
                    ("content-type", "application/json"),
                ],
                r#"{"title":"t"}"#,
            )
            .await;
        created.expect(201);
        assert_eq!(created.header("access-control-allow-origin"), None);
        assert_eq!(created.header("access-control-expose-headers"), None);
    }

    async fn a_refused_preflight_is_a_403_problem(app: TestApp) {
        let refused = preflight(&app, EVIL, "POST", "authorization, content-type").await;
        let problem = refused.expect_problem(403);
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(EVIL) && detail.contains("CORS_ORIGINS"), "{detail}");
        assert_eq!(refused.header("access-control-allow-origin"), None);
        assert_eq!(refused.header("vary"), Some("Origin"));

        let refused = preflight(&app, FRONTEND, "TRACE", "").await;
        let detail = refused.expect_problem(403)["detail"].as_str().unwrap();
        assert!(detail.contains("TRACE"), "{detail}");

        // Every header asked for must be allowed, not just one of them.
        let refused = preflight(&app, FRONTEND, "PUT", "authorization, x-custom").await;
        let detail = refused.expect_problem(403)["detail"].as_str().unwrap();
        let refused = detail.split(';').next().unwrap();
        assert!(refused.contains("x-custom") && !refused.contains("authorization"), "{detail}");

        let allowed = preflight(&app, FRONTEND, "DELETE", "Authorization").await;
        allowed.expect(200);
        assert_eq!(allowed.header("access-control-allow-origin"), Some(FRONTEND));
        assert_eq!(allowed.header("access-control-allow-methods"), Some("GET, POST, PUT, PATCH, DELETE"));
        assert_eq!(allowed.header("access-control-allow-headers"), Some("authorization, content-type, idempotency-key, if-match, if-none-match, last-event-id, mcp-method, mcp-name, mcp-protocol-version"));
        assert_eq!(allowed.header("access-control-max-age"), Some("3600"));
        assert_eq!(allowed.header("vary"), Some("Origin"));
    }

    async fn an_options_request_that_is_no_preflight_reaches_the_routes(app: TestApp) {
        let reply = app
            .send_raw(Method::OPTIONS, "/api/alice/tasks", &[("origin", FRONTEND)], "")
            .await;
        reply.expect_problem(405);
        assert_eq!(reply.header("allow"), Some("GET, POST"));
        assert_eq!(reply.header("access-control-allow-origin"), Some(FRONTEND));
    }

    async fn every_response_varies_on_origin(app: TestApp) {
        let alice = TestUser::new("alice");
        for origin in [None, Some(FRONTEND), Some(EVIL)] {
            for (method, path, token) in [
                (Method::GET, "/health", None),
                (Method::GET, "/api/alice/tasks", Some(alice.token.as_str())),
                (Method::GET, "/api/alice/tasks", None),
                (Method::GET, "/nowhere", None),
            ] {
                let mut headers = Vec::new();
                let bearer = token.map(|t| format!("Bearer {t}"));
                if let Some(bearer) = &bearer {
                    headers.push(("authorization", bearer.as_str()));
                }
                if let Some(origin) = origin {
                    headers.push(("origin", origin));
                }
                let reply = app.send_raw(method.clone(), path, &headers, "").await;
                assert_eq!(
                    reply.header("vary"),
                    Some("Origin"),
                    "{method} {path} from {origin:?}: {}",
                    reply.status
                );
            }
        }
    }
}

/// The report's case, end to end: the binary with its default CORS_ORIGINS,
/// written to from its own origin as Swagger UI does; a refused preflight
/// logged with the origin and the variable that would allow it.
#[tokio::test(flavor = "multi_thread")]
async fn the_binary_with_default_settings_takes_writes_from_its_own_origin_and_logs_refusals() {
    let server = Server::start(&scratch_dir(), &[("BETTER_AUTH_SECRET", SECRET)]);
    let alice = TestUser::new("alice");
    let http = reqwest::Client::new();
    let own = server.url("");

    let created = http
        .post(server.url("/api/alice/tasks"))
        .header("origin", &own)
        .bearer_auth(&alice.token)
        .json(&json!({"title": "Try it out"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(
        created.headers()["access-control-allow-origin"]
            .to_str()
            .unwrap(),
        own
    );

    let refused = http
        .request(reqwest::Method::OPTIONS, server.url("/api/alice/tasks"))
        .header("origin", EVIL)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(
        refused.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );

    let line = server
        .wait_for_log(EVIL, Duration::from_secs(5))
        .unwrap_or_else(|| panic!("the refusal is not logged: {:?}", server.logs()));
    assert!(
        line.contains("INFO") && line.contains("CORS_ORIGINS"),
        "{line}"
    );
    assert!(
        !server.logs().iter().any(|l| l.contains(&alice.token)),
        "the token never reaches the log"
    );
}
