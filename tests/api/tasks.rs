//! The task routes do what the contract says.

use poem::http::Method;
use serde_json::json;

use crate::support::{FRONTEND, TestUser, backend_tests, id_of};

fn is_rfc3339_utc_micros(value: &serde_json::Value) -> bool {
    let text = value.as_str().unwrap_or_default();
    text.len() == "2026-11-24T09:30:00.123456Z".len()
        && text.ends_with('Z')
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

backend_tests! {
    async fn creating_a_task_returns_201_the_task_and_its_location(app: TestApp) {
        let alice = TestUser::new("alice");

        let reply = app
            .create_task(&alice, json!({"title": "  Buy milk  ", "description": "2 litres", "user_id": "mallory", "completed": true}))
            .await;

        reply.expect(201);
        let task = &reply.body;
        let id = id_of(task);
        assert_eq!(task["title"], "Buy milk", "the title is trimmed");
        assert_eq!(task["description"], "2 litres");
        assert_eq!(
            task["user_id"], "alice",
            "the owner comes from the token, not the body"
        );
        assert_eq!(task["completed"], false, "a new task is never completed");
        assert!(
            is_rfc3339_utc_micros(&task["created_at"]),
            "{}",
            task["created_at"]
        );
        assert_eq!(task["created_at"], task["updated_at"]);
        assert_eq!(
            reply.header("location"),
            Some(format!("/api/alice/tasks/{id}").as_str())
        );
        // Only what a path segment cannot hold is escaped (RFC 3986 §3.3).
        let odd = TestUser::new("demo-user.1~x:y@z é%");
        let escaped = "/api/demo-user.1~x:y@z%20%C3%A9%25/tasks";
        let created = app
            .send(Method::POST, escaped, Some(&odd.token), Some(json!({"title": "t"})))
            .await;
        created.expect(201);
        assert_eq!(
            created.header("location"),
            Some(format!("{escaped}/{}", id_of(&created.body)).as_str())
        );
        assert!(
            reply
                .header("content-type")
                .unwrap()
                .starts_with("application/json")
        );

        let fetched = app.get_task(&alice, id).await;
        fetched.expect(200);
        assert_eq!(&fetched.body, task);
    }

    async fn description_is_optional_and_null_when_absent(app: TestApp) {
        let alice = TestUser::new("alice");
        let task = app.new_task(&alice, "No description").await;
        assert!(task.as_object().unwrap().contains_key("description"));
        assert_eq!(task["description"], serde_json::Value::Null);
        let task = app
            .create_task(&alice, json!({"title": "t", "description": null}))
            .await;
        assert_eq!(
            task.expect(201).body["description"],
            serde_json::Value::Null
        );
    }

    async fn listing_is_a_bare_array_newest_first_by_default(app: TestApp) {
        let alice = TestUser::new("alice");
        assert_eq!(app.list(&alice, "").await.expect(200).body, json!([]));
        for title in ["first", "second", "third"] {
            app.new_task(&alice, title).await;
        }
        assert_eq!(app.titles(&alice, "").await, ["third", "second", "first"]);
        assert_eq!(
            app.titles(&alice, "?order=asc").await,
            ["first", "second", "third"]
        );
        assert_eq!(
            app.titles(&alice, "?sort=created&order=desc").await,
            ["third", "second", "first"]
        );
    }

    async fn listing_filters_by_status(app: TestApp) {
        let alice = TestUser::new("alice");
        let done = app.new_task(&alice, "done").await;
        app.new_task(&alice, "todo").await;
        app.complete_task(&alice, id_of(&done), None)
            .await
            .expect(200);

        assert_eq!(app.titles(&alice, "?status=completed").await, ["done"]);
        assert_eq!(app.titles(&alice, "?status=pending").await, ["todo"]);
        assert_eq!(app.titles(&alice, "?status=all").await, ["todo", "done"]);
    }

    async fn title_sort_is_ascending_by_default_and_ties_break_on_id(app: TestApp) {
        let alice = TestUser::new("alice");
        let b1 = id_of(&app.new_task(&alice, "b").await);
        app.new_task(&alice, "a").await;
        let b2 = id_of(&app.new_task(&alice, "b").await);
        app.new_task(&alice, "C").await;

        // Code-point order: upper case sorts before lower case, on every server locale.
        assert_eq!(
            app.titles(&alice, "?sort=title").await,
            ["C", "a", "b", "b"]
        );
        assert_eq!(
            app.titles(&alice, "?sort=title&order=desc").await,
            ["b", "b", "a", "C"]
        );

        let ids = |reply: &crate::support::Reply| -> Vec<i64> {
            reply
                .body
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["title"] == "b")
                .map(id_of)
                .collect()
        };
        assert_eq!(ids(&app.list(&alice, "?sort=title").await), [b1, b2]);
        assert_eq!(
            ids(&app.list(&alice, "?sort=title&order=desc").await),
            [b2, b1]
        );
    }

    async fn update_sort_puts_the_last_changed_task_first(app: TestApp) {
        let alice = TestUser::new("alice");
        let old = id_of(&app.new_task(&alice, "old").await);
        app.new_task(&alice, "new").await;
        app.update_task(&alice, old, json!({"title": "old, edited"}))
            .await
            .expect(200);
        assert_eq!(
            app.titles(&alice, "?sort=updated").await,
            ["old, edited", "new"]
        );
        assert_eq!(
            app.titles(&alice, "?sort=updated&order=asc").await,
            ["new", "old, edited"]
        );
    }

    async fn put_is_a_partial_update_and_null_clears_the_description(app: TestApp) {
        let alice = TestUser::new("alice");
        let created = app
            .create_task(&alice, json!({"title": "Write", "description": "draft"}))
            .await
            .body
            .clone();
        let id = id_of(&created);

        let renamed = app
            .update_task(&alice, id, json!({"title": " Write report "}))
            .await;
        renamed.expect(200);
        assert_eq!(renamed.body["title"], "Write report");
        assert_eq!(
            renamed.body["description"], "draft",
            "an absent field keeps its value"
        );
        assert_eq!(renamed.body["completed"], false);
        assert_eq!(renamed.body["created_at"], created["created_at"]);
        assert!(
            renamed.body["updated_at"].as_str() > created["updated_at"].as_str(),
            "updated_at moves"
        );

        let cleared = app
            .update_task(&alice, id, json!({"description": null}))
            .await;
        assert_eq!(
            cleared.expect(200).body["description"],
            serde_json::Value::Null
        );
        assert_eq!(cleared.body["title"], "Write report");

        let completed = app
            .update_task(&alice, id, json!({"completed": true, "user_id": "bob"}))
            .await;
        assert_eq!(completed.expect(200).body["completed"], true);
        assert_eq!(completed.body["user_id"], "alice");

        assert_eq!(
            app.get_task(&alice, id).await.body,
            completed.body,
            "the change is stored"
        );
    }

    async fn patch_complete_toggles_without_a_body_and_sets_with_one(app: TestApp) {
        let alice = TestUser::new("alice");
        let task = app.new_task(&alice, "Toggle me").await;
        let id = id_of(&task);

        let on = app.complete_task(&alice, id, None).await;
        assert_eq!(on.expect(200).body["completed"], true);
        assert!(on.body["updated_at"].as_str() > task["updated_at"].as_str());
        let off = app.complete_task(&alice, id, None).await;
        assert_eq!(off.expect(200).body["completed"], false);

        for _ in 0..2 {
            let set = app
                .complete_task(&alice, id, Some(json!({"completed": true})))
                .await;
            assert_eq!(
                set.expect(200).body["completed"],
                true,
                "setting is idempotent"
            );
        }
        let set = app
            .complete_task(&alice, id, Some(json!({"completed": false})))
            .await;
        assert_eq!(set.expect(200).body["completed"], false);
        let toggled = app.complete_task(&alice, id, Some(json!({}))).await;
        assert_eq!(
            toggled.expect(200).body["completed"],
            true,
            "a body without `completed` toggles"
        );
    }

    async fn concurrent_toggles_all_count(app: TestApp) {
        let alice = TestUser::new("alice");
        let id = id_of(&app.new_task(&alice, "raced").await);
        let toggles = (0..10).map(|_| app.complete_task(&alice, id, None));
        for reply in futures::future::join_all(toggles).await {
            reply.expect(200);
        }
        // Ten flips of `false` land on `false`: the flip happens in SQL, not read-then-write.
        assert_eq!(app.get_task(&alice, id).await.body["completed"], false);
    }

    async fn delete_answers_204_with_an_empty_body_then_404(app: TestApp) {
        let alice = TestUser::new("alice");
        let id = id_of(&app.new_task(&alice, "Short-lived").await);

        let deleted = app.delete_task(&alice, id).await;
        deleted.expect(204);
        assert!(deleted.raw.is_empty());
        app.get_task(&alice, id).await.expect_problem(404);
        app.delete_task(&alice, id).await.expect_problem(404);
        assert_eq!(app.list(&alice, "").await.body, json!([]));
    }

    async fn a_missing_task_is_404_on_every_single_task_route(app: TestApp) {
        let alice = TestUser::new("alice");
        for id in [0, -1, 999_999, i64::MAX] {
            app.get_task(&alice, id).await.expect_problem(404);
            app.update_task(&alice, id, json!({"title": "x"}))
                .await
                .expect_problem(404);
            app.delete_task(&alice, id).await.expect_problem(404);
            app.complete_task(&alice, id, None)
                .await
                .expect_problem(404);
        }
    }

    async fn a_trailing_slash_is_accepted_on_every_route(app: TestApp) {
        let alice = TestUser::new("alice");
        let id = id_of(&app.new_task(&alice, "slash").await);
        let path = format!("/api/alice/tasks/{id}/");
        app.send(Method::GET, "/api/alice/tasks/", Some(&alice.token), None)
            .await
            .expect(200);
        app.send(
            Method::POST,
            "/api/alice/tasks/",
            Some(&alice.token),
            Some(json!({"title": "t"})),
        )
        .await
        .expect(201);
        app.send(Method::GET, &path, Some(&alice.token), None)
            .await
            .expect(200);
        app.send(
            Method::PUT,
            &path,
            Some(&alice.token),
            Some(json!({"title": "u"})),
        )
        .await
        .expect(200);
        app.send(
            Method::PATCH,
            &format!("/api/alice/tasks/{id}/complete/"),
            Some(&alice.token),
            None,
        )
        .await
        .expect(200);
        app.send(Method::DELETE, &path, Some(&alice.token), None)
            .await
            .expect(204);
        app.send(Method::GET, "/health/", None, None)
            .await
            .expect(200);
    }

    async fn cors_preflight_needs_no_token_and_errors_carry_cors_headers(app: TestApp) {
        let preflight = app
            .send_raw(
                Method::OPTIONS,
                "/api/alice/tasks",
                &[
                    ("origin", FRONTEND),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "authorization, content-type",
                    ),
                ],
                "",
            )
            .await;
        preflight.expect(200);
        assert_eq!(
            preflight.header("access-control-allow-origin"),
            Some(FRONTEND)
        );
        let allowed = preflight
            .header("access-control-allow-headers")
            .unwrap()
            .to_lowercase();
        assert!(
            allowed.contains("authorization") && allowed.contains("content-type"),
            "{allowed}"
        );

        let unauthorized = app
            .send_raw(Method::GET, "/api/alice/tasks", &[("origin", FRONTEND)], "")
            .await;
        unauthorized.expect_problem(401);
        assert_eq!(
            unauthorized.header("access-control-allow-origin"),
            Some(FRONTEND),
            "the browser must be able to read the 401"
        );

        let created = app
            .send_raw(
                Method::POST,
                "/api/alice/tasks",
                &[
                    ("origin", FRONTEND),
                    (
                        "authorization",
                        &format!("Bearer {}", TestUser::new("alice").token),
                    ),
                    ("content-type", "application/json"),
                ],
                r#"{"title":"cors"}"#,
            )
            .await;
        created.expect(201);
        assert!(
            created
                .header("access-control-expose-headers")
                .unwrap()
                .to_lowercase()
                .contains("location")
        );
    }

    async fn an_unknown_origin_is_not_allowed(app: TestApp) {
        let preflight = app
            .send_raw(
                Method::OPTIONS,
                "/api/alice/tasks",
                &[
                    ("origin", "https://evil.example"),
                    ("access-control-request-method", "GET"),
                ],
                "",
            )
            .await;
        assert_ne!(
            preflight.header("access-control-allow-origin"),
            Some("https://evil.example")
        );
    }
}
