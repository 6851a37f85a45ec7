//! 1.1's task fields: priority, tags and due dates (time zones and DST), on
//! create and partial update, with every problem in one 422.

use serde_json::json;

use crate::support::{TestUser, backend_tests, id_of};

backend_tests! {
    async fn a_task_without_the_new_fields_gets_their_defaults(app: TestApp) {
        let alice = TestUser::new("alice");
        let task = app.new_task(&alice, "plain").await;
        assert_eq!(task["priority"], "none");
        assert_eq!(task["tags"], json!([]));
        assert_eq!(task["due"], json!(null));
        // A 1.0 update leaves them as they are.
        let id = id_of(&task);
        app.update_task(&alice, id, json!({"title": "renamed"}))
            .await
            .expect(200);
        let task = &app.get_task(&alice, id).await.body;
        assert_eq!((&task["priority"], &task["due"]), (&json!("none"), &json!(null)));
    }

    async fn priority_tags_and_a_wall_clock_due_are_stored_as_meant(app: TestApp) {
        let alice = TestUser::new("alice");
        let reply = app
            .create_task(
                &alice,
                json!({
                    "title": "taxes",
                    "priority": "high",
                    "tags": [" Home", "home", "ÉTÉ", "e\u{301}té"],
                    // 02:30 does not exist in New York that night: it is 03:30 EDT.
                    "due": {"datetime": "2026-03-08T02:30", "time_zone": "America/New_York"}
                }),
            )
            .await;
        let task = reply.expect(201).body.clone();
        assert_eq!(task["priority"], "high");
        assert_eq!(task["tags"], json!(["home", "été"]));
        assert_eq!(
            task["due"],
            json!({
                "date": "2026-03-08",
                "datetime": "2026-03-08T03:30:00",
                "time_zone": "America/New_York",
                "at": "2026-03-08T07:30:00.000000Z"
            })
        );
        assert_eq!(app.get_task(&alice, id_of(&task)).await.body, task);
    }

    async fn an_ambiguous_time_is_the_earlier_instant(app: TestApp) {
        let alice = TestUser::new("alice");
        let task = app
            .create_task(
                &alice,
                json!({"title": "t", "due": {"datetime": "2026-10-25T02:30:00", "time_zone": "Europe/Berlin"}}),
            )
            .await
            .expect(201)
            .body
            .clone();
        assert_eq!(task["due"]["datetime"], "2026-10-25T02:30:00");
        assert_eq!(task["due"]["at"], "2026-10-25T00:30:00.000000Z");
    }

    async fn an_all_day_date_is_the_same_date_for_every_viewer(app: TestApp) {
        let alice = TestUser::new("alice");
        let task = app
            .create_task(&alice, json!({"title": "t", "due": {"date": "2026-03-08"}}))
            .await
            .expect(201)
            .body
            .clone();
        assert_eq!(
            task["due"],
            json!({"date": "2026-03-08", "datetime": null, "time_zone": null, "at": null})
        );
        // From the first zone to greet a day to the last, 8 March is 8 March.
        for zone in ["Pacific/Kiritimati", "UTC", "Pacific/Pago_Pago"] {
            let query = format!("?due_from=2026-03-08&due_to=2026-03-09&tz={zone}");
            assert_eq!(app.titles(&alice, &query).await, ["t"], "{zone}");
            let query = format!("?due_from=2026-03-09&tz={zone}");
            assert!(app.titles(&alice, &query).await.is_empty(), "{zone}");
        }
    }

    async fn an_instant_is_kept_as_the_wall_clock_of_its_zone_or_utc(app: TestApp) {
        let alice = TestUser::new("alice");
        let in_tokyo = app
            .create_task(
                &alice,
                json!({"title": "t", "due": {"datetime": "2026-12-01T08:00:00Z", "time_zone": "Asia/Tokyo"}}),
            )
            .await
            .expect(201)
            .body
            .clone();
        assert_eq!(in_tokyo["due"]["datetime"], "2026-12-01T17:00:00");
        assert_eq!(in_tokyo["due"]["at"], "2026-12-01T08:00:00.000000Z");
        let utc = app
            .create_task(
                &alice,
                json!({"title": "t", "due": {"datetime": "2026-12-01T09:00+01:00"}}),
            )
            .await
            .expect(201)
            .body
            .clone();
        assert_eq!(
            utc["due"],
            json!({
                "date": "2026-12-01",
                "datetime": "2026-12-01T08:00:00",
                "time_zone": "UTC",
                "at": "2026-12-01T08:00:00.000000Z"
            })
        );
    }

    async fn a_partial_update_changes_clears_or_keeps_each_field(app: TestApp) {
        let alice = TestUser::new("alice");
        let task = app
            .create_task(
                &alice,
                json!({"title": "t", "priority": "low", "tags": ["a", "b"], "due": {"date": "2026-12-24"}}),
            )
            .await
            .expect(201)
            .body
            .clone();
        let id = id_of(&task);
        let update = |body| app.update_task(&alice, id, body);
        let after = update(json!({"priority": "medium"})).await.expect(200).body.clone();
        assert_eq!(after["priority"], "medium");
        assert_eq!((&after["tags"], &after["due"]), (&task["tags"], &task["due"]));
        // A response's `due` can be sent back as it is.
        let same = update(json!({"due": after["due"].clone()})).await.expect(200).body.clone();
        assert_eq!(same["due"], task["due"]);
        let cleared = update(json!({"tags": [], "due": null})).await.expect(200).body.clone();
        assert_eq!((&cleared["tags"], &cleared["due"]), (&json!([]), &json!(null)));
        assert_eq!(cleared["priority"], "medium");
        let reply = update(json!({"priority": null, "tags": null})).await;
        assert_eq!(reply.invalid_fields(), ["priority", "tags"]);
        let message = reply.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("\"none\""), "{message}");
    }

    async fn every_problem_with_the_new_fields_is_reported_and_nothing_is_stored(app: TestApp) {
        let alice = TestUser::new("alice");
        let too_many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        let reply = app
            .create_task(
                &alice,
                json!({
                    "title": "",
                    "priority": "urgent",
                    "tags": too_many,
                    "due": {"datetime": "2026-12-01T09:00", "time_zone": "Mars/Olympus_Mons"}
                }),
            )
            .await;
        assert_eq!(
            reply.invalid_fields(),
            ["title", "priority", "tags", "due.time_zone"]
        );
        for (due, field) in [
            (json!({"date": "2026-02-30"}), "due.date"),
            (json!({"date": "1899-12-31"}), "due.date"),
            (json!({"datetime": "2026-12-01T24:00", "time_zone": "UTC"}), "due.datetime"),
            (json!({"datetime": "2026-12-01T09:00:00.5Z"}), "due.datetime"),
            (json!({"datetime": "2026-12-01T09:00"}), "due.time_zone"),
            (json!({"time_zone": "UTC"}), "due"),
            (json!("2026-12-01"), "due"),
            (json!({"date": 20261201}), "due.date"),
        ] {
            let reply = app.create_task(&alice, json!({"title": "t", "due": due})).await;
            assert_eq!(reply.invalid_fields(), [field], "{due}");
        }
        for tags in [json!(["a,b"]), json!(["x".repeat(41)]), json!(["  "]), json!("a"), json!([1])] {
            let reply = app.create_task(&alice, json!({"title": "t", "tags": tags})).await;
            assert_eq!(reply.invalid_fields(), ["tags"], "{tags}");
        }
        assert!(app.titles(&alice, "").await.is_empty(), "nothing was stored");
    }
}
