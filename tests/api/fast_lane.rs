//! The fast lane (`api::fast_lane`) answers a plain `GET` of one task byte
//! for byte as the `get_task` operation behind poem's router does: every
//! status it can give, every header but the request's own id and the date.
//! A query string sends a request the usual way (and changes nothing in the
//! answer), so the same request is asked both ways.

use poem::http::Method;
use serde_json::json;

use crate::support::{FRONTEND, Reply, SECRET, TestApp, TestUser, backend_tests, id_of, now, sign};

/// `path` as the fast lane answers it, then as the router does (with a
/// query), asserting the same status, headers and body; the answer.
async fn both_lanes(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Reply {
    let fast = app.send_raw(Method::GET, path, headers, "").await;
    let routed = app
        .send_raw(Method::GET, &format!("{path}?lane=router"), headers, "")
        .await;
    let shown = |reply: &Reply| {
        let mut headers: Vec<(String, String)> = reply
            .headers
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "x-request-id" | "date"))
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        (
            reply.status,
            headers,
            String::from_utf8_lossy(&reply.raw).into_owned(),
        )
    };
    assert_eq!(shown(&fast), shown(&routed), "GET {path} with {headers:?}");
    assert!(fast.header("x-request-id").is_some());
    fast
}

backend_tests! {
    async fn the_fast_lane_answers_as_the_router_does(app: TestApp) {
        let (alice, bob) = (TestUser::new("alice"), TestUser::new("bob"));
        let full = json!({
            "title": "timed \"quoted\" ünïcode",
            "description": "a\nb",
            "priority": "high",
            "tags": ["home", "errand"],
            "due": {"datetime": "2027-01-05T09:30", "time_zone": "Europe/Berlin"},
            "reminders": [{"before": "PT15M"}],
            "recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=TU"},
        });
        let task = id_of(&app.create_task(&alice, full).await.expect(201).body);
        let done = id_of(&app.new_task(&alice, "done").await);
        app.complete_task(&alice, done, None).await.expect(200);
        let trashed = id_of(&app.new_task(&alice, "trashed").await);
        app.delete_task(&alice, trashed).await.expect(204);
        let bobs = id_of(&app.new_task(&bob, "bob's").await);

        let bearer = |token: &str| format!("Bearer {token}");
        let alices = bearer(&alice.token);
        let auth = [("authorization", alices.as_str())];
        for id in [task, done] {
            let path = alice.task_path(id);
            let read = both_lanes(&app, &path, &auth).await;
            read.expect(200);
            let etag = read.header("etag").unwrap().to_owned();
            let weak = format!("W/{etag}");
            for (tags, status) in [
                (etag.as_str(), 304),
                (weak.as_str(), 304),
                ("*", 304),
                ("\"999\"", 200),
                ("not a tag list", 200),
            ] {
                let headers = [auth[0], ("if-none-match", tags)];
                both_lanes(&app, &path, &headers).await.expect(status);
            }
            let cors = [auth[0], ("origin", FRONTEND)];
            both_lanes(&app, &path, &cors).await.expect(200);
        }
        // Not found: in the trash, another user's, never made, zero.
        for id in [trashed, bobs, 999_999_999, 0] {
            both_lanes(&app, &alice.task_path(id), &auth).await.expect(404);
        }
        // The scheme's name is case-insensitive, on both lanes.
        let lower = format!("bearer {}", alice.token);
        let path = alice.task_path(task);
        both_lanes(&app, &path, &[("authorization", &lower)]).await.expect(200);
        // Another user's path: 403 with a valid token.
        both_lanes(&app, &bob.task_path(bobs), &auth).await.expect(403);

        // Every kind of refused credentials.
        let expired = sign(&json!({"sub": "alice", "exp": now() - 600}), SECRET);
        let other_key = sign(&json!({"sub": "alice", "exp": now() + 600}), "another secret");
        let no_sub = sign(&json!({"exp": now() + 600}), SECRET);
        let refused = [
            bearer(&expired),
            bearer(&other_key),
            bearer(&no_sub),
            bearer("not.a.token"),
            "Bearer ".to_owned(),
            "Basic YWxpY2U6cGFzcw==".to_owned(),
        ];
        let path = alice.task_path(task);
        both_lanes(&app, &path, &[]).await.expect(401);
        for credentials in &refused {
            both_lanes(&app, &path, &[("authorization", credentials)])
                .await
                .expect(401);
        }
    }
}
