//! Validation limits, at and past each boundary; every problem is listed.

use serde_json::json;

use crate::support::{TestUser, backend_tests, id_of};

backend_tests! {
    async fn title_length_is_checked_as_sent_at_and_past_200_then_trimmed(app: TestApp) {
        let alice = TestUser::new("alice");
        let at_limit = "t".repeat(200);
        app.create_task(&alice, json!({"title": at_limit}))
            .await
            .expect(201);
        // As JSON Schema's maxLength counts: the spaces count too, so a client
        // that validates against the contract agrees with the server.
        let padded = app
            .create_task(&alice, json!({"title": format!(" {at_limit}")}))
            .await;
        assert_eq!(padded.invalid_fields(), ["title"]);
        let inner = "t".repeat(198);
        let created = app
            .create_task(&alice, json!({"title": format!(" {inner} ")}))
            .await;
        assert_eq!(created.expect(201).body["title"], inner.as_str());
        // Characters, not bytes: 200 two-byte characters fit.
        app.create_task(&alice, json!({"title": "é".repeat(200)}))
            .await
            .expect(201);

        let too_long = app
            .create_task(&alice, json!({"title": "t".repeat(201)}))
            .await;
        assert_eq!(too_long.invalid_fields(), ["title"]);
        let single = app.create_task(&alice, json!({"title": "x"})).await;
        single.expect(201);

        let id = id_of(&single.body);
        assert_eq!(
            app.update_task(&alice, id, json!({"title": "t".repeat(201)}))
                .await
                .invalid_fields(),
            ["title"]
        );
        app.update_task(&alice, id, json!({"title": "t".repeat(200)}))
            .await
            .expect(200);
    }

    async fn blank_missing_null_and_non_string_titles_are_422(app: TestApp) {
        let alice = TestUser::new("alice");
        for body in [
            json!({}),
            json!({"title": ""}),
            json!({"title": "   \t\n"}),
            json!({"title": null}),
            json!({"title": 123}),
            json!({"title": true}),
            json!({"title": ["a"]}),
            json!({"title": {"a": 1}}),
        ] {
            let reply = app.create_task(&alice, body.clone()).await;
            assert_eq!(reply.invalid_fields(), ["title"], "{body}");
        }
        assert_eq!(
            app.list(&alice, "").await.body,
            json!([]),
            "nothing was stored"
        );
    }

    async fn an_update_must_name_a_known_field(app: TestApp) {
        // The contract says so with `anyOf` required title/description/completed.
        let alice = TestUser::new("alice");
        let id = id_of(&app.new_task(&alice, "t").await);
        for body in [json!({}), json!({"foo": 1}), json!({"user_id": "bob", "id": 9})] {
            let reply = app.update_task(&alice, id, body.clone()).await;
            assert_eq!(reply.invalid_fields(), ["body"], "{body}");
        }
    }

    async fn description_is_limited_to_1000_characters(app: TestApp) {
        let alice = TestUser::new("alice");
        let ok = app
            .create_task(
                &alice,
                json!({"title": "t", "description": "d".repeat(1000)}),
            )
            .await;
        ok.expect(201);
        let reply = app
            .create_task(
                &alice,
                json!({"title": "t", "description": "d".repeat(1001)}),
            )
            .await;
        assert_eq!(reply.invalid_fields(), ["description"]);
        let id = id_of(&ok.body);
        assert_eq!(
            app.update_task(&alice, id, json!({"description": "d".repeat(1001)}))
                .await
                .invalid_fields(),
            ["description"]
        );
        assert_eq!(
            app.update_task(&alice, id, json!({"description": 5}))
                .await
                .invalid_fields(),
            ["description"]
        );
        // An empty description is a description.
        assert_eq!(
            app.update_task(&alice, id, json!({"description": ""}))
                .await
                .expect(200)
                .body["description"],
            ""
        );
    }

    async fn nul_characters_are_a_validation_error_not_a_500(app: TestApp) {
        let alice = TestUser::new("alice");
        let reply = app
            .create_task(
                &alice,
                json!({"title": "a\u{0}b", "description": "c\u{0}d"}),
            )
            .await;
        assert_eq!(
            reply.invalid_fields(),
            ["title", "description"],
            "both problems are reported at once"
        );
        let id = id_of(&app.new_task(&alice, "clean").await);
        assert_eq!(
            app.update_task(&alice, id, json!({"title": "\u{0}"}))
                .await
                .invalid_fields(),
            ["title"]
        );
    }

    async fn every_invalid_field_of_an_update_is_listed(app: TestApp) {
        let alice = TestUser::new("alice");
        let id = id_of(&app.new_task(&alice, "t").await);
        let reply = app
            .update_task(
                &alice,
                id,
                json!({"title": null, "description": 1, "completed": "yes"}),
            )
            .await;
        assert_eq!(
            reply.invalid_fields(),
            ["title", "description", "completed"]
        );
        assert_eq!(
            app.get_task(&alice, id).await.body["title"],
            "t",
            "a rejected update changes nothing"
        );
    }

    async fn an_update_must_name_at_least_one_field(app: TestApp) {
        let alice = TestUser::new("alice");
        let id = id_of(&app.new_task(&alice, "t").await);
        assert_eq!(
            app.update_task(&alice, id, json!({}))
                .await
                .invalid_fields(),
            ["body"]
        );
        assert_eq!(
            app.update_task(&alice, id, json!({"user_id": "x", "id": 9}))
                .await
                .invalid_fields(),
            ["body"]
        );
    }

    async fn completed_must_be_a_boolean(app: TestApp) {
        let alice = TestUser::new("alice");
        let id = id_of(&app.new_task(&alice, "t").await);
        for value in [
            json!(null),
            json!("true"),
            json!(1),
            json!([true]),
            json!({"v": true}),
        ] {
            let reply = app
                .complete_task(&alice, id, Some(json!({"completed": value})))
                .await;
            assert_eq!(reply.invalid_fields(), ["completed"], "{value}");
        }
        assert_eq!(app.get_task(&alice, id).await.body["completed"], false);
    }

    async fn unknown_listing_values_are_422_naming_the_parameter_and_its_values(app: TestApp) {
        let alice = TestUser::new("alice");
        for (query, field, values) in [
            ("?status=done", "status", "all, pending, completed"),
            (
                "?sort=prio",
                "sort",
                "created, updated, title, priority, due, status",
            ),
            ("?due=later", "due", "overdue, today, week, none, any"),
            ("?priority=urgent", "priority", "none, low, medium, high"),
            ("?order=up", "order", "asc, desc"),
            ("?status=", "status", "all, pending, completed"),
            ("?status=ALL", "status", "all, pending, completed"),
        ] {
            let reply = app.list(&alice, query).await;
            assert_eq!(reply.invalid_fields(), [field], "{query}");
            let message = reply.body["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains(values), "{query}: {message}");
        }
    }

    async fn task_ids_must_be_64_bit_integers(app: TestApp) {
        let alice = TestUser::new("alice");
        for id in [
            "abc",
            "1.5",
            "9223372036854775808",
            "99999999999999999999999",
            "1e3",
            "%00",
        ] {
            let reply = app
                .send(
                    poem::http::Method::GET,
                    &format!("/api/alice/tasks/{id}"),
                    Some(&alice.token),
                    None,
                )
                .await;
            assert_eq!(reply.invalid_fields(), ["id"], "{id}");
        }
        app.get_task(&alice, i64::MAX).await.expect_problem(404);
        app.get_task(&alice, i64::MIN).await.expect_problem(404);
    }
}
