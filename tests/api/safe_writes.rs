//! 1.2 safe writes, on both backends: versions and ETags, conditional
//! requests (RFC 9110 §13), idempotency keys, the trash.

use poem::http::Method;
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, TestUser, backend_tests, id_of};

/// A request with a bearer token, extra headers and an optional JSON body.
async fn send(
    app: &TestApp,
    user: &TestUser,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let bearer = format!("Bearer {}", user.token);
    let mut all = vec![("authorization", bearer.as_str())];
    if body.is_some() {
        all.push(("content-type", "application/json"));
    }
    all.extend_from_slice(headers);
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    app.send_raw(method, path, &all, body).await
}

/// A request to refuse: method, path, the one header, body, the field named.
type Case<'a> = (Method, &'a str, (&'a str, &'a str), Option<Value>, &'a str);

fn version(task: &Value) -> i64 {
    task["version"].as_i64().expect("a task has a version")
}

fn trash_path(user: &TestUser) -> String {
    format!("/api/{}/trash", user.id)
}

fn restore_path(user: &TestUser, id: i64) -> String {
    format!("{}/restore", user.task_path(id))
}

backend_tests! {
    async fn every_write_takes_the_users_next_change_number_shown_as_version_and_etag(app: TestApp) {
        let (alice, bob) = (TestUser::new("alice"), TestUser::new("bob"));
        let created = app.create_task(&alice, json!({"title": "a"})).await;
        created.expect(201);
        assert_eq!(version(&created.body), 1);
        assert_eq!(created.header("etag"), Some("\"1\""));
        assert_eq!(created.header("cache-control"), Some("private, no-cache"));
        let id = id_of(&created.body);
        // Another user's numbers are their own.
        assert_eq!(version(&app.new_task(&bob, "b").await), 1);

        let updated = app.update_task(&alice, id, json!({"title": "a2"})).await;
        assert_eq!((version(&updated.expect(200).body), updated.header("etag")), (2, Some("\"2\"")));
        let toggled = app.complete_task(&alice, id, None).await;
        assert_eq!(version(&toggled.expect(200).body), 3);
        let other = app.new_task(&alice, "c").await;
        assert_eq!(version(&other), 4, "the counter is the user's, not the task's");
        let trashed = app.delete_task(&alice, id).await;
        assert_eq!(trashed.expect(204).header("etag"), Some("\"5\""));
        let restored = send(&app, &alice, Method::POST, &restore_path(&alice, id), &[], None).await;
        assert_eq!(version(&restored.expect(200).body), 6);
        assert_eq!(restored.body["title"], "a2", "restored as it was");
        let read = app.get_task(&alice, id).await;
        assert_eq!((version(&read.body), read.header("etag")), (6, Some("\"6\"")));
        // A write that finds nothing takes no number.
        app.update_task(&alice, 999_999, json!({"title": "x"})).await.expect_problem(404);
        assert_eq!(version(&app.update_task(&alice, id, json!({"title": "a3"})).await.body), 7);
    }

    async fn a_stale_if_match_is_412_with_the_current_etag_and_changes_nothing(app: TestApp) {
        let alice = TestUser::new("alice");
        let task = app.new_task(&alice, "draft").await;
        let id = id_of(&task);
        let path = alice.task_path(id);
        let complete = format!("{path}/complete");
        // Tab 1 saves; tab 2 still holds version 1.
        let saved = send(&app, &alice, Method::PUT, &path, &[("if-match", "\"1\"")], Some(json!({"title": "tab 1"}))).await;
        saved.expect(200);
        for (method, target, body) in [
            (Method::PUT, &path, Some(json!({"title": "tab 2"}))),
            (Method::PATCH, &complete, None),
            (Method::DELETE, &path, None),
        ] {
            let refused = send(&app, &alice, method.clone(), target, &[("if-match", "\"1\"")], body).await;
            let detail = refused.expect_problem(412)["detail"].as_str().unwrap().to_owned();
            assert_eq!(refused.header("etag"), Some("\"2\""), "{method}: the current version");
            assert!(detail.contains("changed since you read it"), "{detail}");
        }
        let now = app.get_task(&alice, id).await;
        assert_eq!((now.body["title"].as_str(), now.body["completed"].as_bool()), (Some("tab 1"), Some(false)));
        // A weak tag never matches (strong comparison); a list may name the current one; * matches.
        send(&app, &alice, Method::PUT, &path, &[("if-match", "W/\"2\"")], Some(json!({"title": "w"}))).await.expect_problem(412);
        send(&app, &alice, Method::PUT, &path, &[("if-match", "\"7\", \"2\"")], Some(json!({"title": "listed"}))).await.expect(200);
        send(&app, &alice, Method::PATCH, &complete, &[("if-match", "*")], None).await.expect(200);
        // A double-clicked toggle sent with the version it was clicked on cannot undo itself.
        let etag = app.get_task(&alice, id).await.header("etag").unwrap().to_owned();
        send(&app, &alice, Method::PATCH, &complete, &[("if-match", &etag)], None).await.expect(200);
        send(&app, &alice, Method::PATCH, &complete, &[("if-match", &etag)], None).await.expect_problem(412);
        // 404 comes before 412, also for `*`.
        let missing = alice.task_path(999_999);
        send(&app, &alice, Method::PUT, &missing, &[("if-match", "\"1\"")], Some(json!({"title": "x"}))).await.expect_problem(404);
        send(&app, &alice, Method::DELETE, &missing, &[("if-match", "*")], None).await.expect_problem(404);
    }

    async fn if_none_match_answers_304_for_one_task_and_for_an_unchanged_list(app: TestApp) {
        let alice = TestUser::new("alice");
        let id = id_of(&app.new_task(&alice, "read me").await);
        let path = alice.task_path(id);
        let fresh = send(&app, &alice, Method::GET, &path, &[("if-none-match", "\"1\"")], None).await;
        assert_eq!((fresh.status.as_u16(), fresh.header("etag"), fresh.raw.len()), (304, Some("\"1\""), 0));
        send(&app, &alice, Method::GET, &path, &[("if-none-match", "W/\"1\"")], None).await.expect(304);
        send(&app, &alice, Method::GET, &path, &[("if-none-match", "\"0\", \"1\"")], None).await.expect(304);
        send(&app, &alice, Method::GET, &path, &[("if-none-match", "\"2\"")], None).await.expect(200);

        let tasks = alice.tasks_path();
        let list = app.list(&alice, "?sort=title").await;
        let etag = list.expect(200).header("etag").expect("a list has a weak ETag").to_owned();
        assert!(etag.starts_with("W/\""), "{etag}");
        let sorted = format!("{tasks}?sort=title");
        send(&app, &alice, Method::GET, &sorted, &[("if-none-match", &etag)], None).await.expect(304);
        // Another query of the same tasks has another tag.
        let other = app.list(&alice, "?sort=created").await;
        assert_ne!(other.header("etag"), Some(etag.as_str()));
        // Any write of the user's — here to another task — changes it.
        app.new_task(&alice, "another").await;
        let changed = send(&app, &alice, Method::GET, &sorted, &[("if-none-match", &etag)], None).await;
        assert_eq!(changed.expect(200).body.as_array().unwrap().len(), 2);
        // Answers that move with the clock get no ETag.
        for query in ["?due=today", "?due=overdue", "?due=week"] {
            assert_eq!(app.list(&alice, query).await.expect(200).header("etag"), None, "{query}");
        }
        assert!(app.list(&alice, "?due=none").await.header("etag").is_some());
        // An empty page's tag holds while it stays empty.
        let empty = app.list(&alice, "?status=completed").await;
        let empty_tag = empty.header("etag").unwrap().to_owned();
        app.new_task(&alice, "a third").await;
        let still = format!("{tasks}?status=completed");
        send(&app, &alice, Method::GET, &still, &[("if-none-match", &empty_tag)], None).await.expect(304);
        app.complete_task(&alice, id, None).await.expect(200);
        send(&app, &alice, Method::GET, &still, &[("if-none-match", &empty_tag)], None).await.expect(200);
    }

    async fn a_hundred_concurrent_puts_with_one_if_match_give_one_200_and_99_412(app: TestApp) {
        let alice = TestUser::new("alice");
        let id = id_of(&app.new_task(&alice, "contended").await);
        let path = alice.task_path(id);
        let puts = (0..100).map(|i| {
            let (app, alice, path) = (&app, &alice, &path);
            async move {
                send(app, alice, Method::PUT, path, &[("if-match", "\"1\"")], Some(json!({"title": format!("writer {i}")})))
                    .await
            }
        });
        let replies = futures::future::join_all(puts).await;
        let ok: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
        let refused = replies.iter().filter(|r| r.status == 412).count();
        assert_eq!((ok.len(), refused), (1, 99), "statuses: {:?}", replies.iter().map(|r| r.status.as_u16()).collect::<Vec<_>>());
        let stored = app.get_task(&alice, id).await;
        assert_eq!(stored.body["title"], ok[0].body["title"], "the one 200 is what is stored");
        assert!(replies.iter().filter(|r| r.status == 412).all(|r| r.header("etag") == stored.header("etag")));
    }

    async fn an_idempotency_key_replays_the_first_answer_and_refuses_another_request(app: TestApp) {
        let (alice, bob) = (TestUser::new("alice"), TestUser::new("bob"));
        let tasks = alice.tasks_path();
        let key = [("idempotency-key", "3f1c-retry")];
        let first = send(&app, &alice, Method::POST, &tasks, &key, Some(json!({"title": "once", "tags": ["a", "b"]}))).await;
        first.expect(201);
        assert_eq!(first.header("idempotent-replayed"), None);
        // The same request (its JSON keys in another order), quoted key: the same answer.
        let quoted = [("idempotency-key", "\"3f1c-retry\"")];
        let again = send(&app, &alice, Method::POST, &tasks, &quoted, Some(json!({"tags": ["a", "b"], "title": "once"}))).await;
        assert_eq!((again.status.as_u16(), again.header("idempotent-replayed")), (201, Some("true")));
        assert_eq!(again.raw, first.raw, "the stored body, byte for byte");
        for header in ["location", "etag", "content-type", "cache-control"] {
            assert_eq!(again.header(header), first.header(header), "{header}");
        }
        assert_eq!(app.titles(&alice, "").await, ["once"], "one task");
        // The key with another request: 422 naming the header.
        let other = send(&app, &alice, Method::POST, &tasks, &key, Some(json!({"title": "twice"}))).await;
        assert_eq!(other.invalid_fields(), ["Idempotency-Key"]);
        let elsewhere = send(&app, &alice, Method::PUT, &alice.task_path(id_of(&first.body)), &key, Some(json!({"title": "once"}))).await;
        assert_eq!(elsewhere.invalid_fields(), ["Idempotency-Key"]);
        // Keys are the user's: bob's same key is a request of his own.
        send(&app, &bob, Method::POST, &bob.tasks_path(), &key, Some(json!({"title": "bob's"}))).await.expect(201);
        assert_eq!(app.titles(&alice, "").await, ["once"]);
    }

    async fn every_write_with_a_key_happens_once_however_often_it_is_retried(app: TestApp) {
        let alice = TestUser::new("alice");
        let id = id_of(&app.new_task(&alice, "t").await);
        let path = alice.task_path(id);
        let complete = format!("{path}/complete");
        let mut versions = Vec::new();
        for _ in 0..3 {
            // A toggle sent three times toggles once.
            let reply = send(&app, &alice, Method::PATCH, &complete, &[("idempotency-key", "toggle-1")], None).await;
            versions.push(version(&reply.expect(200).body));
            assert_eq!(reply.body["completed"], true);
        }
        assert_eq!(versions, [2, 2, 2]);
        for _ in 0..2 {
            send(&app, &alice, Method::PUT, &path, &[("idempotency-key", "put-1"), ("if-match", "\"2\"")], Some(json!({"title": "u"})))
                .await
                .expect(200);
        }
        for _ in 0..2 {
            let trashed = send(&app, &alice, Method::DELETE, &path, &[("idempotency-key", "del-1")], None).await;
            assert_eq!(trashed.expect(204).header("etag"), Some("\"4\""));
        }
        for _ in 0..2 {
            send(&app, &alice, Method::POST, &restore_path(&alice, id), &[("idempotency-key", "res-1")], None).await.expect(200);
        }
        app.delete_task(&alice, id).await.expect(204);
        let purge = format!("{}/{id}", trash_path(&alice));
        for _ in 0..2 {
            send(&app, &alice, Method::DELETE, &purge, &[("idempotency-key", "purge-1")], None).await.expect(204);
        }
        // A 4xx outcome is stored too: the replay says 404, marked.
        let gone = send(&app, &alice, Method::GET, &path, &[], None).await;
        gone.expect_problem(404);
        let missing = send(&app, &alice, Method::PUT, &path, &[("idempotency-key", "put-404")], Some(json!({"title": "x"}))).await;
        missing.expect_problem(404);
        let replayed = send(&app, &alice, Method::PUT, &path, &[("idempotency-key", "put-404")], Some(json!({"title": "x"}))).await;
        assert_eq!((replayed.status.as_u16(), replayed.header("idempotent-replayed")), (404, Some("true")));
        // A request refused for its own input stores nothing: fixed, it runs.
        let bad = send(&app, &alice, Method::POST, &alice.tasks_path(), &[("idempotency-key", "fix-me")], Some(json!({"title": ""}))).await;
        bad.expect_problem(422);
        send(&app, &alice, Method::POST, &alice.tasks_path(), &[("idempotency-key", "fix-me")], Some(json!({"title": "fixed"})))
            .await
            .expect(201);
    }

    async fn fifty_parallel_retries_of_one_create_make_exactly_one_task(app: TestApp) {
        let alice = TestUser::new("alice");
        let tasks = alice.tasks_path();
        let retries = (0..50).map(|_| {
            let (app, alice, tasks) = (&app, &alice, &tasks);
            async move {
                send(app, alice, Method::POST, tasks, &[("idempotency-key", "flaky-phone-1")], Some(json!({"title": "buy milk"}))).await
            }
        });
        let replies = futures::future::join_all(retries).await;
        let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
        for reply in &replies {
            match reply.status.as_u16() {
                201 => {}
                409 => assert_eq!(reply.header("retry-after"), Some("1")),
                other => panic!("a retry answered {other}: {}", reply.body),
            }
        }
        assert!(!created.is_empty());
        assert!(created.iter().all(|r| r.raw == created[0].raw), "every 201 is the same task");
        assert_eq!(created.iter().filter(|r| r.header("idempotent-replayed").is_none()).count(), 1, "one ran");
        assert_eq!(app.titles(&alice, "").await, ["buy milk"], "exactly one task");
        let after = send(&app, &alice, Method::POST, &tasks, &[("idempotency-key", "flaky-phone-1")], Some(json!({"title": "buy milk"}))).await;
        assert_eq!((after.status.as_u16(), after.header("idempotent-replayed")), (201, Some("true")));
    }

    async fn a_trashed_task_is_404_on_every_task_route_and_only_in_the_trash(app: TestApp) {
        let alice = TestUser::new("alice");
        let kept = app.new_task(&alice, "kept").await;
        let id = id_of(&app.new_task(&alice, "trashed").await);
        let etag = app.delete_task(&alice, id).await.expect(204).header("etag").unwrap().to_owned();
        for (method, path, body) in crate::support::every_task_route(&alice.id, id) {
            let reply = send(&app, &alice, method.clone(), &path, &[], body).await;
            match (method.as_str(), path.ends_with("/tasks")) {
                ("GET", true) => assert_eq!(reply.expect(200).body.as_array().unwrap().len(), 1),
                ("POST", true) => { reply.expect(201); }
                _ => { reply.expect_problem(404); }
            }
        }
        for (method, path) in [(Method::PUT, alice.task_path(id)), (Method::PATCH, format!("{}/complete", alice.task_path(id))), (Method::DELETE, alice.task_path(id))] {
            let body = (method == Method::PUT).then(|| json!({"title": "x"}));
            send(&app, &alice, method, &path, &[("if-match", &etag)], body).await.expect_problem(404);
        }
        assert!(app.titles(&alice, "?search=trashed").await.is_empty());
        // The trash lists it, with when; a live task cannot be restored or purged.
        let trash = send(&app, &alice, Method::GET, &trash_path(&alice), &[], None).await;
        let listed = trash.expect(200).body.as_array().unwrap().clone();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0]["id"].as_i64(), listed[0]["title"].as_str()), (Some(id), Some("trashed")));
        assert!(listed[0]["trashed_at"].is_string());
        let kept_id = id_of(&kept);
        send(&app, &alice, Method::POST, &restore_path(&alice, kept_id), &[], None).await.expect_problem(404);
        send(&app, &alice, Method::DELETE, &format!("{}/{kept_id}", trash_path(&alice)), &[], None).await.expect_problem(404);
        // Another user sees none of it.
        let bob = TestUser::new("bob");
        assert_eq!(send(&app, &bob, Method::GET, &trash_path(&bob), &[], None).await.expect(200).body, json!([]));
        send(&app, &bob, Method::POST, &restore_path(&bob, id), &[], None).await.expect_problem(404);
        // Restore checks If-Match against the trashed version.
        send(&app, &alice, Method::POST, &restore_path(&alice, id), &[("if-match", "\"1\"")], None).await.expect_problem(412);
        let restored = send(&app, &alice, Method::POST, &restore_path(&alice, id), &[("if-match", &etag)], None).await;
        assert_eq!(restored.expect(200).body["trashed_at"], Value::Null);
        assert_eq!(app.titles(&alice, "?sort=title").await, ["kept", "trashed", "x"]);
    }

    async fn the_trash_pages_newest_first_and_purges_one_or_all(app: TestApp) {
        let alice = TestUser::new("alice");
        let mut ids = Vec::new();
        for i in 0..5 {
            let id = id_of(&app.new_task(&alice, &format!("t{i}")).await);
            app.delete_task(&alice, id).await.expect(204);
            ids.push(id);
        }
        let mut path = format!("{}?limit=2", trash_path(&alice));
        let mut seen = Vec::new();
        loop {
            let page = send(&app, &alice, Method::GET, &path, &[], None).await;
            seen.extend(page.expect(200).body.as_array().unwrap().iter().map(id_of));
            match page.header("link") {
                Some(link) => path = link[1..link.find('>').unwrap()].to_owned(),
                None => break,
            }
        }
        ids.reverse();
        assert_eq!(seen, ids, "most recently trashed first, every one once");
        send(&app, &alice, Method::DELETE, &format!("{}/{}", trash_path(&alice), ids[0]), &[], None).await.expect(204);
        send(&app, &alice, Method::POST, &restore_path(&alice, ids[0]), &[], None).await.expect_problem(404);
        send(&app, &alice, Method::DELETE, &trash_path(&alice), &[], None).await.expect(204);
        assert_eq!(send(&app, &alice, Method::GET, &trash_path(&alice), &[], None).await.body, json!([]));
        send(&app, &alice, Method::DELETE, &trash_path(&alice), &[], None).await.expect(204);
    }

    async fn malformed_conditional_headers_and_keys_are_a_422_naming_them(app: TestApp) {
        let alice = TestUser::new("alice");
        let id = id_of(&app.new_task(&alice, "t").await);
        let path = alice.task_path(id);
        let tasks = alice.tasks_path();
        let long = "k".repeat(256);
        let cases: Vec<Case> = vec![
            (Method::PUT, &path, ("if-match", "12"), Some(json!({"title": "x"})), "If-Match"),
            (Method::PUT, &path, ("if-match", "\"12"), Some(json!({"title": "x"})), "If-Match"),
            (Method::DELETE, &path, ("if-match", ""), None, "If-Match"),
            (Method::POST, &tasks, ("idempotency-key", &long), Some(json!({"title": "x"})), "Idempotency-Key"),
            (Method::POST, &tasks, ("idempotency-key", "two words"), Some(json!({"title": "x"})), "Idempotency-Key"),
            (Method::POST, &tasks, ("idempotency-key", "clé"), Some(json!({"title": "x"})), "Idempotency-Key"),
            (Method::POST, &tasks, ("idempotency-key", ""), Some(json!({"title": "x"})), "Idempotency-Key"),
            // If-Match where no write could honour it: refused, not ignored.
            (Method::GET, &path, ("if-match", "\"1\""), None, "If-Match"),
            (Method::GET, &tasks, ("if-match", "*"), None, "If-Match"),
            (Method::POST, &tasks, ("if-match", "\"1\""), Some(json!({"title": "x"})), "If-Match"),
        ];
        for (method, target, header, body, field) in cases {
            let reply = send(&app, &alice, method.clone(), target, &[header], body).await;
            assert_eq!(reply.status, 422, "{method} {target} {header:?}: {}", reply.body);
            assert_eq!(reply.invalid_fields(), [field], "{method} {target} {header:?}");
        }
        assert_eq!(app.titles(&alice, "").await, ["t"], "nothing was written");
        // A malformed If-None-Match is ignored: a read's full answer is never wrong.
        for target in [&path, &tasks] {
            send(&app, &alice, Method::GET, target, &[("if-none-match", "nope")], None).await.expect(200);
        }
        let task = app.get_task(&alice, id).await;
        assert_eq!(version(&task.body), 1);
        // 401 and 403 come first.
        let anonymous = app.send_raw(Method::PUT, &path, &[("if-match", "12")], "").await;
        anonymous.expect_problem(401);
        let bob = TestUser::new("bob");
        send(&app, &bob, Method::GET, &path, &[("if-match", "1")], None).await.expect_problem(403);
    }
}
