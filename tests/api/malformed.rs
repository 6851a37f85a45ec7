//! Nothing a client sends causes a 500: malformed bodies, wrong content types,
//! huge inputs, unknown routes. Each gets a clear 4xx and changes nothing.

use poem::http::Method;
use serde_json::json;

use crate::support::{TestUser, backend_tests, id_of};

const JSON: (&str, &str) = ("content-type", "application/json");

fn auth(user: &TestUser) -> (&'static str, String) {
    ("authorization", format!("Bearer {}", user.token))
}

backend_tests! {
    async fn malformed_bodies_are_422_and_store_nothing(app: TestApp) {
        let alice = TestUser::new("alice");
        let (name, value) = auth(&alice);
        let bodies = [
            "{",
            "{\"title\": \"unterminated}",
            "not json",
            "[]",
            "[{\"title\": \"x\"}]",
            "\"title\"",
            "42",
            "null",
            "{\"title\": \"x\",}",
            "{\"title\": 1e999999}",
            "{\"title\": \"\\ud800\"}",
            "{\"title\": \"x\"} trailing",
        ];
        for body in bodies {
            let reply = app
                .send_raw(
                    Method::POST,
                    "/api/alice/tasks",
                    &[(name, &value), JSON],
                    body,
                )
                .await;
            assert_eq!(
                reply.invalid_fields(),
                ["body"],
                "{body:?} → {}",
                reply.body
            );
        }
        let reply = app
            .send_raw(
                Method::POST,
                "/api/alice/tasks",
                &[(name, &value), JSON],
                vec![0xff_u8, 0xfe, 0x00],
            )
            .await;
        assert_eq!(reply.invalid_fields(), ["body"]);
        assert_eq!(app.list(&alice, "").await.body, json!([]));
    }

    async fn an_empty_body_is_422_where_one_is_required(app: TestApp) {
        let alice = TestUser::new("alice");
        let (name, value) = auth(&alice);
        let id = id_of(&app.new_task(&alice, "t").await);
        for (method, path) in [
            (Method::POST, "/api/alice/tasks".to_owned()),
            (Method::PUT, format!("/api/alice/tasks/{id}")),
        ] {
            for headers in [
                vec![(name, value.as_str()), JSON],
                vec![(name, value.as_str())],
            ] {
                let reply = app.send_raw(method.clone(), &path, &headers, "").await;
                assert_eq!(
                    reply.invalid_fields(),
                    ["body"],
                    "{method} {path} {headers:?}"
                );
            }
        }
    }

    async fn a_body_that_is_not_json_is_415(app: TestApp) {
        let alice = TestUser::new("alice");
        let (name, value) = auth(&alice);
        let id = id_of(&app.new_task(&alice, "t").await);
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            None,
        ] {
            let mut headers = vec![(name, value.as_str())];
            if let Some(content_type) = content_type {
                headers.push(("content-type", content_type));
            }
            for (method, path) in [
                (Method::POST, "/api/alice/tasks".to_owned()),
                (Method::PUT, format!("/api/alice/tasks/{id}")),
                (Method::PATCH, format!("/api/alice/tasks/{id}/complete")),
            ] {
                let reply = app
                    .send_raw(
                        method.clone(),
                        &path,
                        &headers,
                        r#"{"title":"x","completed":true}"#,
                    )
                    .await;
                reply.expect_problem(415);
            }
        }
        let reply = app
            .send_raw(
                Method::POST,
                "/api/alice/tasks",
                &[
                    (name, &value),
                    ("content-type", "application/json; charset=utf-8"),
                ],
                r#"{"title":"ok"}"#,
            )
            .await;
        reply.expect(201);
    }

    async fn patch_complete_without_a_body_needs_no_content_type(app: TestApp) {
        let alice = TestUser::new("alice");
        let (name, value) = auth(&alice);
        let id = id_of(&app.new_task(&alice, "t").await);
        let path = format!("/api/alice/tasks/{id}/complete");
        let reply = app
            .send_raw(Method::PATCH, &path, &[(name, &value)], "")
            .await;
        assert_eq!(reply.expect(200).body["completed"], true);
        let reply = app
            .send_raw(
                Method::PATCH,
                &path,
                &[(name, &value), ("content-type", "text/plain")],
                "",
            )
            .await;
        assert_eq!(
            reply.expect(200).body["completed"],
            false,
            "an empty body is no body, whatever its type"
        );
    }

    async fn a_whitespace_body_is_a_body_and_changes_nothing(app: TestApp) {
        // Found by Schemathesis: a lone form feed (not JSON whitespace) once
        // counted as "no body" and toggled the task.
        let alice = TestUser::new("alice");
        let (name, value) = auth(&alice);
        let id = id_of(&app.new_task(&alice, "t").await);
        let path = format!("/api/alice/tasks/{id}/complete");
        for body in ["\u{c}", " ", "\n", "\t\r\n"] {
            let reply = app
                .send_raw(Method::PATCH, &path, &[(name, &value), JSON], body)
                .await;
            assert_eq!(reply.invalid_fields(), ["body"], "{body:?}");
            app.send_raw(
                Method::PATCH,
                &path,
                &[(name, &value), ("content-type", "text/plain")],
                body,
            )
            .await
            .expect_problem(415);
        }
        assert_eq!(app.get_task(&alice, id).await.body["completed"], false);
    }

    async fn a_body_over_the_limit_is_413(app: TestApp) {
        let alice = TestUser::new("alice");
        let (name, value) = auth(&alice);
        let huge = format!(
            r#"{{"title":"x","description":"{}"}}"#,
            "d".repeat(todo_api::api::MAX_BODY_BYTES)
        );
        let reply = app
            .send_raw(
                Method::POST,
                "/api/alice/tasks",
                &[(name, &value), JSON],
                huge,
            )
            .await;
        reply.expect_problem(413);
        assert_eq!(app.list(&alice, "").await.body, json!([]));
    }

    async fn huge_numbers_and_deep_nesting_are_4xx(app: TestApp) {
        let alice = TestUser::new("alice");
        let (name, value) = auth(&alice);
        let deep = format!(
            r#"{{"title":"x","extra":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let reply = app
            .send_raw(
                Method::POST,
                "/api/alice/tasks",
                &[(name, &value), JSON],
                deep,
            )
            .await;
        assert!(reply.status.is_client_error(), "{}", reply.status);
        let big = r#"{"title": 123456789012345678901234567890}"#;
        let reply = app
            .send_raw(
                Method::POST,
                "/api/alice/tasks",
                &[(name, &value), JSON],
                big,
            )
            .await;
        assert_eq!(reply.invalid_fields(), ["title"]);
    }

    async fn unknown_routes_and_methods_get_problem_json(app: TestApp) {
        let alice = TestUser::new("alice");
        app.send(Method::GET, "/nope", None, None)
            .await
            .expect_problem(404);
        app.send(
            Method::GET,
            "/api/alice/tasks/1/complete",
            Some(&alice.token),
            None,
        )
        .await
        .expect_problem(405);
        app.send(Method::DELETE, "/api/alice/tasks", Some(&alice.token), None)
            .await
            .expect_problem(405);
        // RFC 9110 §15.5.6: a 405 lists the route's methods (found by Schemathesis).
        for (method, path, allowed) in [
            (Method::DELETE, "/api/alice/tasks", "GET, POST"),
            (Method::OPTIONS, "/api/alice/tasks/", "GET, POST"),
            (Method::POST, "/api/alice/tasks/1", "DELETE, GET, PUT"),
            (Method::GET, "/api/alice/tasks/1/complete", "PATCH"),
            (Method::TRACE, "/health", "GET"),
        ] {
            let reply = app.send(method.clone(), path, Some(&alice.token), None).await;
            reply.expect_problem(405);
            assert_eq!(reply.header("allow"), Some(allowed), "{method} {path}");
        }
    }
}
