//! 1.4: recurring tasks (RFC 5545 rules, advanced in place, DST-safe, in
//! the task's zone), the occurrences preview, and reminders fired once as
//! `reminder` changes, on both backends.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{TestApp, TestUser, backend_tests, id_of};

/// The user's changes after `since`.
async fn changes(app: &TestApp, user: &TestUser, since: i64) -> Vec<Value> {
    let reply = app
        .send(
            poem::http::Method::GET,
            &format!("/api/{}/changes?since={since}", user.id),
            Some(&user.token),
            None,
        )
        .await;
    reply.expect(200);
    reply.body.as_array().unwrap().clone()
}

async fn occurrences(app: &TestApp, user: &TestUser, id: i64, query: &str) -> Value {
    let reply = app
        .send(
            poem::http::Method::GET,
            &format!("/api/{}/tasks/{id}/occurrences{query}", user.id),
            Some(&user.token),
            None,
        )
        .await;
    reply.expect(200);
    reply.body.clone()
}

fn when(task: &Value) -> (String, String) {
    (
        task["due"]["datetime"].as_str().unwrap_or("").to_owned(),
        task["due"]["at"].as_str().unwrap_or("").to_owned(),
    )
}

/// An RFC 3339 instant `seconds` from now, to the second.
fn in_seconds(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

backend_tests! {
    async fn completing_a_weekly_task_moves_it_to_the_next_occurrence_in_place(app: TestApp) {
        let alice = TestUser::new("alice");
        let task = app
            .create_task(
                &alice,
                json!({
                    "title": "water the plants",
                    "due": {"datetime": "2026-03-05T08:00", "time_zone": "America/New_York"},
                    "recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=MO,TH"},
                    "reminders": [{"before": "PT15M"}]
                }),
            )
            .await
            .expect(201)
            .body
            .clone();
        let id = id_of(&task);
        assert_eq!(task["recurrence"], json!({"rrule": "FREQ=WEEKLY;BYDAY=MO,TH", "repeat_from": "due"}));
        assert_eq!(task["reminders"], json!([{"before": "PT15M", "at": "2026-03-05T12:45:00.000000Z"}]));
        let version = task["version"].as_i64().unwrap();

        // Thursday 5 March (EST) → Monday 9 March, after the spring change (EDT).
        let moved = app.complete_task(&alice, id, None).await.expect(200).body.clone();
        assert_eq!(moved["id"], task["id"]);
        assert_eq!(moved["completed"], false);
        assert_eq!(when(&moved), ("2026-03-09T08:00:00".into(), "2026-03-09T12:00:00.000000Z".into()));
        // The reminder moved with the due.
        assert_eq!(moved["reminders"][0]["at"], "2026-03-09T11:45:00.000000Z");
        // The feed says an occurrence was completed, with the task as it now is.
        let log = changes(&app, &alice, version).await;
        assert_eq!(log.len(), 1);
        assert_eq!(log[0]["type"], "completed");
        assert_eq!(log[0]["task"], moved);

        // `completed: true` does the same; `completed: false` changes nothing.
        let moved = app.complete_task(&alice, id, Some(json!({"completed": true}))).await.expect(200).body.clone();
        assert_eq!(moved["due"]["date"], "2026-03-12");
        let same = app.complete_task(&alice, id, Some(json!({"completed": false}))).await.expect(200).body.clone();
        assert_eq!(same, moved);
        let same = app.update_task(&alice, id, json!({"completed": false})).await.expect(200).body.clone();
        assert_eq!(same, moved);
        // A PUT with completed and another field does both.
        let put = app.update_task(&alice, id, json!({"completed": true, "title": "water them"})).await.expect(200).body.clone();
        assert_eq!((put["title"].as_str(), put["due"]["date"].as_str()), (Some("water them"), Some("2026-03-16")));
    }

    async fn a_daily_task_keeps_its_wall_clock_time_across_both_berlin_transitions(app: TestApp) {
        let alice = TestUser::new("alice");
        for (start, expected) in [
            // Spring: 09:00 CET is 08:00Z, 09:00 CEST is 07:00Z.
            ("2026-03-28T09:00", [("2026-03-29T09:00:00", "2026-03-29T07:00:00.000000Z"), ("2026-03-30T09:00:00", "2026-03-30T07:00:00.000000Z")]),
            // Autumn, and a time that happens twice that night (the earlier one).
            ("2026-10-24T02:30", [("2026-10-25T02:30:00", "2026-10-25T00:30:00.000000Z"), ("2026-10-26T02:30:00", "2026-10-26T01:30:00.000000Z")]),
        ] {
            let task = app
                .create_task(&alice, json!({
                    "title": "daily",
                    "due": {"datetime": start, "time_zone": "Europe/Berlin"},
                    "recurrence": {"rrule": "FREQ=DAILY"}
                }))
                .await
                .expect(201)
                .body
                .clone();
            let id = id_of(&task);
            for (datetime, at) in expected {
                let moved = app.complete_task(&alice, id, None).await.expect(200).body.clone();
                assert_eq!(when(&moved), (datetime.to_owned(), at.to_owned()), "from {start}");
            }
        }
    }

    async fn a_series_ends_and_the_task_completes_for_good(app: TestApp) {
        let alice = TestUser::new("alice");
        let task = app
            .create_task(&alice, json!({
                "title": "three times",
                "due": {"date": "2027-01-31"},
                "recurrence": {"rrule": "FREQ=MONTHLY;COUNT=3"}
            }))
            .await
            .expect(201)
            .body
            .clone();
        let id = id_of(&task);
        // The 31st: February and April are skipped.
        let dates: Vec<Value> = occurrences(&app, &alice, id, "").await.as_array().unwrap().iter().map(|d| d["date"].clone()).collect();
        assert_eq!(dates, [json!("2027-01-31"), json!("2027-03-31"), json!("2027-05-31")]);
        assert_eq!(app.complete_task(&alice, id, None).await.body["due"]["date"], "2027-03-31");
        assert_eq!(app.complete_task(&alice, id, None).await.body["due"]["date"], "2027-05-31");
        let version = app.get_task(&alice, id).await.body["version"].as_i64().unwrap();
        let last = app.complete_task(&alice, id, None).await.expect(200).body.clone();
        assert_eq!((last["completed"].as_bool(), last["due"]["date"].as_str()), (Some(true), Some("2027-05-31")));
        assert_eq!(changes(&app, &alice, version).await[0]["type"], "completed");
        assert_eq!(occurrences(&app, &alice, id, "").await, json!([]));
        // Un-completing it is an ordinary change now.
        let again = app.complete_task(&alice, id, Some(json!({"completed": false}))).await.expect(200).body.clone();
        assert_eq!(again["completed"], false);
    }

    async fn repeating_from_completion_counts_from_the_day_it_was_done(app: TestApp) {
        let alice = TestUser::new("alice");
        let task = app
            .create_task(&alice, json!({
                "title": "haircut",
                "due": {"datetime": "2026-01-10T18:00", "time_zone": "UTC"},
                "recurrence": {"rrule": "FREQ=DAILY;INTERVAL=3", "repeat_from": "completion"}
            }))
            .await
            .expect(201)
            .body
            .clone();
        let moved = app.complete_task(&alice, id_of(&task), None).await.expect(200).body.clone();
        let expected = (chrono::Utc::now().date_naive() + chrono::Days::new(3)).format("%Y-%m-%dT18:00:00").to_string();
        assert_eq!(moved["due"]["datetime"], expected.as_str());
        assert_eq!(moved["recurrence"]["repeat_from"], "completion");
    }

    async fn the_occurrences_preview_is_bounded_and_filtered(app: TestApp) {
        let alice = TestUser::new("alice");
        let task = app
            .create_task(&alice, json!({
                "title": "leap",
                "due": {"date": "2028-02-29"},
                "recurrence": {"rrule": "FREQ=YEARLY"}
            }))
            .await
            .expect(201)
            .body
            .clone();
        let id = id_of(&task);
        let dates = |list: Value| list.as_array().unwrap().iter().map(|d| d["date"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
        assert_eq!(dates(occurrences(&app, &alice, id, "?limit=3").await), ["2028-02-29", "2032-02-29", "2036-02-29"]);
        assert_eq!(dates(occurrences(&app, &alice, id, "?limit=2&from=2033-01-01").await), ["2036-02-29", "2040-02-29"]);
        assert_eq!(occurrences(&app, &alice, id, "").await.as_array().unwrap().len(), 10);
        assert_eq!(occurrences(&app, &alice, id, "?limit=100").await.as_array().unwrap().len(), 100);
        for query in ["?limit=101", "?limit=0", "?from=someday"] {
            let reply = app.send(poem::http::Method::GET, &format!("/api/alice/tasks/{id}/occurrences{query}"), Some(&alice.token), None).await;
            reply.expect_problem(422);
        }
        // Another user's task is not there; a one-off task has its due alone.
        let bob = TestUser::new("bob");
        app.send(poem::http::Method::GET, &format!("/api/bob/tasks/{id}/occurrences"), Some(&bob.token), None).await.expect_problem(404);
        let plain = app.create_task(&alice, json!({"title": "once", "due": {"date": "2027-01-01"}})).await.body.clone();
        assert_eq!(dates(occurrences(&app, &alice, id_of(&plain), "").await), ["2027-01-01"]);
    }

    async fn rules_outside_the_contract_are_a_clear_422_and_store_nothing(app: TestApp) {
        let alice = TestUser::new("alice");
        let due = json!({"datetime": "2027-01-01T09:00", "time_zone": "Europe/Berlin"});
        for (recurrence, field, words) in [
            (json!({"rrule": "FREQ=HOURLY"}), "recurrence.rrule", "more often than daily"),
            (json!({"rrule": "FREQ=SECONDLY;INTERVAL=1"}), "recurrence.rrule", "more often than daily"),
            (json!({"rrule": "FREQ=DAILY;BYHOUR=9,21"}), "recurrence.rrule", "BYHOUR"),
            (json!({"rrule": "FREQ=DAILY;COUNT=100000"}), "recurrence.rrule", "COUNT"),
            (json!({"rrule": "FREQ=DAILY;INTERVAL=5000"}), "recurrence.rrule", "INTERVAL"),
            (json!({"rrule": "FREQ=DAILY;UNTIL=20990101"}), "recurrence.rrule", "10 years"),
            (json!({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}), "recurrence.rrule", "no occurrence"),
            (json!({"rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31"}), "recurrence.rrule", "no occurrence"),
            (json!({"rrule": "FREQ=DAILY;UNTIL=20261231"}), "recurrence.rrule", "no occurrence"),
            (json!({"rrule": format!("FREQ=DAILY;BYMONTHDAY={}", "1,".repeat(200))}), "recurrence.rrule", "256"),
            (json!({"rrule": "DTSTART:20270101T000000Z\nRRULE:FREQ=DAILY"}), "recurrence.rrule", "RRULE"),
            (json!({"rrule": 7}), "recurrence.rrule", "string"),
            (json!({"rrule": "FREQ=DAILY", "repeat_from": "whenever"}), "recurrence.repeat_from", "completion"),
            (json!("FREQ=DAILY"), "recurrence", "object"),
        ] {
            let started = Instant::now();
            let reply = app
                .create_task(&alice, json!({"title": "t", "due": due, "recurrence": recurrence}))
                .await;
            let problem = reply.expect_problem(422);
            assert!(started.elapsed() < Duration::from_secs(2), "{recurrence} took {:?}", started.elapsed());
            assert_eq!(reply.invalid_fields(), [field], "{recurrence}: {problem}");
            assert!(problem["errors"][0]["message"].as_str().unwrap().contains(words), "{recurrence}: {problem}");
        }
        // A rule needs a due; a relative reminder needs a timed one.
        let reply = app.create_task(&alice, json!({"title": "t", "recurrence": {"rrule": "FREQ=DAILY"}})).await;
        reply.expect_problem(422);
        assert_eq!(reply.invalid_fields(), ["recurrence"]);
        let reply = app.create_task(&alice, json!({"title": "t", "due": {"date": "2027-01-01"}, "reminders": [{"before": "PT1H"}]})).await;
        reply.expect_problem(422);
        assert_eq!(reply.invalid_fields(), ["reminders"]);
        for reminders in [
            json!([{"before": "P1M"}]),
            json!([{"before": "PT15M"}, {"before": "PT16M"}, {"before": "PT17M"}, {"before": "PT18M"}, {"before": "PT19M"}, {"before": "PT20M"}]),
            json!([{"at": "2027-01-01T09:00"}]),
            json!([{}]),
            json!(null),
            json!({"before": "PT15M"}),
        ] {
            let reply = app.create_task(&alice, json!({"title": "t", "due": due, "reminders": reminders})).await;
            reply.expect_problem(422);
            assert_eq!(reply.invalid_fields(), ["reminders"], "{reminders}");
        }
        assert_eq!(app.list(&alice, "").await.body, json!([]));

        // On a stored task: clearing the due of a recurring one, or making it
        // all day under a relative reminder, is refused and changes nothing.
        let task = app
            .create_task(&alice, json!({"title": "t", "due": due, "recurrence": {"rrule": "FREQ=DAILY"}, "reminders": [{"before": "PT5M"}]}))
            .await
            .expect(201)
            .body
            .clone();
        let id = id_of(&task);
        let reply = app.update_task(&alice, id, json!({"due": null})).await;
        reply.expect_problem(422);
        assert_eq!(reply.invalid_fields(), ["recurrence", "reminders"]);
        let reply = app.update_task(&alice, id, json!({"due": {"date": "2027-01-02"}, "recurrence": null})).await;
        assert_eq!(reply.invalid_fields(), ["reminders"]);
        assert_eq!(app.get_task(&alice, id).await.body, task);
        // Clearing both works, and the task is a one-off again.
        let plain = app.update_task(&alice, id, json!({"due": null, "recurrence": null, "reminders": []})).await.expect(200).body.clone();
        assert_eq!((&plain["recurrence"], &plain["reminders"]), (&json!(null), &json!([])));
    }

    async fn a_reminder_fires_once_as_a_change_and_moves_with_its_due(app: TestApp) {
        let _poller = app.run_reminder_poller(Duration::from_secs(1));
        let alice = TestUser::new("alice");
        let task = app
            .create_task(&alice, json!({
                "title": "call mum",
                "due": {"datetime": in_seconds(3602), "time_zone": "Europe/Paris"},
                "reminders": [{"at": in_seconds(1)}, {"before": "PT1H"}]
            }))
            .await
            .expect(201)
            .body
            .clone();
        // A done task's reminder is skipped, not fired.
        let done = app
            .create_task(&alice, json!({"title": "done", "reminders": [{"at": in_seconds(1)}]}))
            .await
            .expect(201)
            .body
            .clone();
        app.complete_task(&alice, id_of(&done), None).await.expect(200);
        let version = task["version"].as_i64().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let reminders = loop {
            let fired: Vec<Value> = changes(&app, &alice, version)
                .await
                .into_iter()
                .filter(|change| change["type"] == "reminder")
                .collect();
            // The absolute one, and the one an hour before a due an hour away.
            if fired.len() >= 2 || Instant::now() > deadline {
                break fired;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(reminders.len(), 2, "{reminders:?}");
        assert!(reminders.iter().all(|r| r["task"]["id"] == task["id"]));
        let fired_for: Vec<_> = reminders.iter().map(|r| r["reminder"].clone()).collect();
        assert!(fired_for.contains(&task["reminders"][0]), "{fired_for:?}");
        assert!(fired_for.contains(&task["reminders"][1]), "{fired_for:?}");
        // A reminder change is no change of the task: its version is the same.
        assert_eq!(app.get_task(&alice, id_of(&task)).await.body["version"], task["version"]);
        // Nothing fires twice.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let again = changes(&app, &alice, version).await.into_iter().filter(|c| c["type"] == "reminder").count();
        assert_eq!(again, 2);

        // Moving the due moves a relative reminder, which then fires anew.
        let moved = app
            .update_task(&alice, id_of(&task), json!({"due": {"datetime": in_seconds(3602), "time_zone": "Europe/Paris"}}))
            .await
            .expect(200)
            .body
            .clone();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let fired = changes(&app, &alice, moved["version"].as_i64().unwrap()).await;
            if let Some(change) = fired.iter().find(|c| c["type"] == "reminder") {
                assert_eq!(change["reminder"], moved["reminders"][1]);
                break;
            }
            assert!(Instant::now() < deadline, "the moved reminder never fired");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
