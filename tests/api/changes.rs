//! 1.3 change feed and event stream, in-process on both backends: every
//! kind of change, paging, the snapshot, refusals, and a randomised run of
//! concurrent writers whose feed, applied by readers that read while they
//! write, ends with exactly the server's state.

use std::{cell::RefCell, collections::BTreeMap, time::Duration};

use poem::http::Method;
use serde_json::{Value, json};

use crate::support::{
    Reply, TestApp, TestUser, backend_tests,
    events::{Event, Events},
    id_of,
};

fn changes_path(user: &TestUser, query: &str) -> String {
    format!("/api/{}/changes{query}", user.id)
}

async fn get(app: &TestApp, user: &TestUser, path: &str) -> Reply {
    app.send(Method::GET, path, Some(&user.token), None).await
}

async fn send(app: &TestApp, user: &TestUser, method: Method, path: &str) -> Reply {
    app.send(method, path, Some(&user.token), None).await
}

/// The path of a `Link: <path>; rel="next"`.
fn next_link(reply: &Reply) -> Option<String> {
    let link = reply.header("link")?;
    let start = link.find('<')? + 1;
    let end = link.find('>')?;
    assert!(link.ends_with("rel=\"next\""), "{link}");
    Some(link[start..end].to_owned())
}

fn kinds(changes: &Value) -> Vec<(i64, String)> {
    changes
        .as_array()
        .expect("a bare array")
        .iter()
        .map(|c| {
            (
                c["seq"].as_i64().unwrap(),
                c["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A copy of a user's tasks kept by applying the feed: id → task.
#[derive(Clone, Debug, Default, PartialEq)]
struct Copy(BTreeMap<i64, Value>);

impl Copy {
    fn apply(&mut self, change: &Value) {
        if change["type"] == "purged" {
            assert!(change.get("task").is_none(), "{change}");
            self.0
                .remove(&change["task_id"].as_i64().expect("a purge names its task"));
        } else {
            assert!(change.get("task_id").is_none(), "{change}");
            let task = change["task"].clone();
            assert_eq!(task["version"], change["seq"], "{change}");
            self.0.insert(id_of(&task), task);
        }
    }
}

/// Every task of the user, live and trashed, as the task routes show them.
async fn server_state(app: &TestApp, user: &TestUser) -> Copy {
    let mut copy = Copy::default();
    for first in [user.tasks_path(), format!("/api/{}/trash", user.id)] {
        let mut path = Some(format!("{first}?limit=500"));
        while let Some(next) = path {
            let reply = get(app, user, &next).await;
            reply.expect(200);
            for task in reply.body.as_array().unwrap() {
                copy.0.insert(id_of(task), task.clone());
            }
            path = next_link(&reply);
        }
    }
    copy
}

/// Reads the feed from `since` on (0: the snapshot first), following
/// `Link` to the end, applying every change; the position it ends at (0
/// while the user has no change yet). The log's numbers must grow (they may
/// skip one: a write that waited for the same task's row takes a second);
/// `seen` collects them, to compare with the whole log at the end.
#[allow(clippy::too_many_arguments)]
async fn sync(
    app: &TestApp,
    user: &TestUser,
    copy: &mut Copy,
    mut since: i64,
    limit: u32,
    seen: &mut Vec<i64>,
    handover: &mut Option<i64>,
    on_page: &mut dyn FnMut(i64, &Copy),
) -> i64 {
    let mut path = Some(changes_path(user, &format!("?since={since}&limit={limit}")));
    let mut in_snapshot = since == 0;
    while let Some(next) = path {
        let reply = get(app, user, &next).await;
        reply.expect(200);
        for change in reply.body.as_array().unwrap() {
            let seq = change["seq"].as_i64().unwrap();
            if !in_snapshot {
                assert!(seq > since, "the log goes back from {since}: {change}");
                since = seq;
                seen.push(seq);
            }
            copy.apply(change);
        }
        if !in_snapshot && !reply.body.as_array().unwrap().is_empty() {
            on_page(since, copy);
        }
        path = next_link(&reply);
        if in_snapshot
            && let Some(link) = &path
            && !link.contains("after=")
        {
            // The snapshot's last page hands over to the log after it.
            let position = link
                .split("since=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap();
            since = position.parse().unwrap();
            *handover = Some(since);
            in_snapshot = false;
        }
    }
    since
}

/// Every change number in the user's log after `since` (> 0).
async fn log_after(app: &TestApp, user: &TestUser, since: i64) -> Vec<i64> {
    let mut seen = Vec::new();
    sync(
        app,
        user,
        &mut Copy::default(),
        since,
        500,
        &mut seen,
        &mut None,
        &mut |_, _| {},
    )
    .await;
    seen
}

backend_tests! {
    async fn every_write_is_a_change_in_commit_order_with_the_task_as_it_became(app: TestApp) {
        let alice = TestUser::new("alice");
        let bob = TestUser::new("bob");
        let a = id_of(&app.new_task(&alice, "a").await);
        app.update_task(&alice, a, json!({"title": "a2"})).await.expect(200);
        app.complete_task(&alice, a, None).await.expect(200);
        app.complete_task(&alice, a, None).await.expect(200);
        app.delete_task(&alice, a).await.expect(204);
        send(&app, &alice, Method::POST, &format!("{}/restore", alice.task_path(a))).await.expect(200);
        app.delete_task(&alice, a).await.expect(204);
        send(&app, &alice, Method::DELETE, &format!("/api/alice/trash/{a}")).await.expect(204);
        // A failed write is no change; another user's are not in the feed.
        app.update_task(&alice, a, json!({"title": "gone"})).await.expect(404);
        app.new_task(&bob, "bob's").await;

        let feed = get(&app, &alice, &changes_path(&alice, "?since=1")).await;
        feed.expect(200);
        assert_eq!(feed.header("cache-control"), Some("private, no-cache"));
        assert_eq!(next_link(&feed), None);
        assert_eq!(
            kinds(&feed.body),
            [(2, "updated"), (3, "completed"), (4, "uncompleted"), (5, "trashed"), (6, "restored"), (7, "trashed"), (8, "purged")]
                .map(|(seq, kind)| (seq, kind.to_owned()))
        );
        let changes = feed.body.as_array().unwrap();
        assert_eq!(changes[0]["task"]["title"], "a2");
        assert_eq!(changes[1]["task"]["completed"], true);
        assert!(changes[3]["task"]["trashed_at"].is_string());
        assert!(changes[4]["task"]["trashed_at"].is_null());
        assert_eq!(changes[5]["task"]["version"], 7);
        // A purge shows only which task is gone.
        assert_eq!(
            changes[6].as_object().unwrap().keys().collect::<Vec<_>>(),
            ["at", "seq", "task_id", "type"]
        );
        assert_eq!(changes[6]["task_id"], a);
        for change in changes {
            assert!(change["at"].as_str().unwrap().ends_with('Z'), "{change}");
        }
        // Up to date: an empty page.
        let empty = get(&app, &alice, &changes_path(&alice, "?since=8")).await;
        assert_eq!(empty.expect(200).body, json!([]));
    }

    async fn pages_follow_link_and_a_snapshot_hands_over_to_the_log(app: TestApp) {
        let alice = TestUser::new("alice");
        let ids: Vec<i64> = {
            let mut ids = Vec::new();
            for title in ["a", "b", "c", "d", "e"] {
                ids.push(id_of(&app.new_task(&alice, title).await));
            }
            ids
        };
        app.delete_task(&alice, ids[1]).await.expect(204);
        app.complete_task(&alice, ids[0], None).await.expect(200);

        // The log, two at a time.
        let first = get(&app, &alice, &changes_path(&alice, "?since=1&limit=2")).await;
        assert_eq!(kinds(&first.expect(200).body).iter().map(|k| k.0).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(next_link(&first).as_deref(), Some("/api/alice/changes?since=3&limit=2"));

        // The snapshot: each task once, by version, trashed ones as such.
        let mut snapshot = Vec::new();
        let mut path = Some(changes_path(&alice, "?limit=2"));
        let mut links = Vec::new();
        while let Some(next) = path {
            let reply = get(&app, &alice, &next).await;
            reply.expect(200);
            if links.is_empty() && next.contains("after") {
                links.push(next.clone());
            }
            snapshot.extend(kinds(&reply.body));
            path = next_link(&reply);
            if path.as_deref().is_some_and(|p| !p.contains("after")) {
                // The last snapshot page links to the log after it.
                assert_eq!(path.as_deref(), Some("/api/alice/changes?since=7&limit=2"));
                let after = get(&app, &alice, path.as_deref().unwrap()).await;
                assert_eq!(after.expect(200).body, json!([]));
                assert_eq!(next_link(&after), None);
                break;
            }
        }
        assert_eq!(
            snapshot,
            [(3, "created"), (4, "created"), (5, "created"), (6, "trashed"), (7, "created")]
                .map(|(seq, kind)| (seq, kind.to_owned()))
        );
        assert_eq!(links, ["/api/alice/changes?since=0&after=4.4&limit=2"]);

        // A user who never wrote: an empty snapshot, no link.
        let nobody = TestUser::new("nobody");
        let empty = get(&app, &nobody, &changes_path(&nobody, "")).await;
        assert_eq!((empty.expect(200).body.clone(), next_link(&empty)), (json!([]), None));
    }

    async fn a_position_the_feed_cannot_serve_is_refused_clearly(app: TestApp) {
        let alice = TestUser::new("alice");
        for _ in 0..3 {
            app.new_task(&alice, "t").await;
        }
        for (query, field) in [
            ("?since=4", "since"),
            ("?since=-1", "since"),
            ("?since=abc", "since"),
            ("?since=1.5", "since"),
            ("?since=99999999999999999999", "since"),
            ("?since=2&after=1.1", "after"),
            ("?since=0&after=x", "after"),
            ("?since=0&after=1.2.3", "after"),
            ("?limit=0", "limit"),
            ("?limit=501", "limit"),
        ] {
            let reply = get(&app, &alice, &changes_path(&alice, query)).await;
            reply.expect_problem(422);
            assert_eq!(reply.invalid_fields(), [field], "{query}: {}", reply.body);
        }
        let ahead = get(&app, &alice, &changes_path(&alice, "?since=4")).await;
        assert!(ahead.body["detail"].as_str().unwrap().contains("last change (3)"), "{}", ahead.body);

        // The retention deleted the first changes: older positions are gone.
        let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
        let deleted = todo_api::db::tasks::forget_changes_before(&app.db, tomorrow).await.unwrap();
        assert_eq!(deleted, 3);
        app.new_task(&alice, "after the clean-up").await;
        let gone = get(&app, &alice, &changes_path(&alice, "?since=2")).await;
        assert!(gone.expect_problem(410)["detail"].as_str().unwrap().contains("since=0"));
        let kept = get(&app, &alice, &changes_path(&alice, "?since=3")).await;
        assert_eq!(kinds(&kept.expect(200).body), [(4, "created".to_owned())]);
        // The snapshot still has everything.
        let snapshot = get(&app, &alice, &changes_path(&alice, "")).await;
        assert_eq!(snapshot.expect(200).body.as_array().unwrap().len(), 4);
        // Events from a forgotten position: 410 before any stream.
        let bearer = format!("Bearer {}", alice.token);
        let stream = app
            .open("/api/alice/events", &[("authorization", &bearer), ("last-event-id", "1")])
            .await;
        assert_eq!(stream.status(), 410);
    }

    async fn a_stream_resumes_after_last_event_id_then_goes_live(app: TestApp) {
        let alice = TestUser::new("alice");
        let bob = TestUser::new("bob");
        let a = id_of(&app.new_task(&alice, "a").await);
        app.new_task(&alice, "b").await;
        app.complete_task(&alice, a, None).await.expect(200);
        let bearer = format!("Bearer {}", alice.token);

        let response = app
            .open("/api/alice/events", &[("authorization", &bearer), ("last-event-id", "1")])
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers().get("content-type").unwrap(),
            "text/event-stream"
        );
        let mut events = Events::of_poem(response);
        let wait = Duration::from_secs(10);
        let missed = events.collect_until(wait, |e| e.len() == 2).await;
        assert_eq!(ids_and_kinds(&missed), [(2, "created"), (3, "completed")]);
        // The data is the feed's change, byte for byte.
        let feed = get(&app, &alice, &changes_path(&alice, "?since=1")).await;
        let feed_changes: Vec<String> = feed
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(missed.iter().map(|e| e.json().to_string()).collect::<Vec<_>>(), feed_changes);
        assert!(!missed[0].data.contains('\n'));

        // Live: another user's write is not shown, the owner's is.
        app.new_task(&bob, "not alice's").await;
        app.delete_task(&alice, a).await.expect(204);
        let live = events.collect_until(wait, |e| !e.is_empty()).await;
        assert_eq!(ids_and_kinds(&live), [(4, "trashed")]);

        // `since` works like Last-Event-ID; Last-Event-ID wins over it.
        let both = app
            .open(
                "/api/alice/events?since=1",
                &[("authorization", &bearer), ("last-event-id", "3")],
            )
            .await;
        let mut both = Events::of_poem(both);
        assert_eq!(ids_and_kinds(&both.collect_until(wait, |e| !e.is_empty()).await), [(4, "trashed")]);
        // No position: from the next change on.
        let fresh = app.open("/api/alice/events", &[("authorization", &bearer)]).await;
        let mut fresh = Events::of_poem(fresh);
        app.new_task(&alice, "c").await;
        assert_eq!(ids_and_kinds(&fresh.collect_until(wait, |e| !e.is_empty()).await), [(5, "created")]);
        // since=0: the snapshot, then live.
        let snap = app.open("/api/alice/events?since=0", &[("authorization", &bearer)]).await;
        let mut snap = Events::of_poem(snap);
        let snapshot = snap.collect_until(wait, |e| e.len() == 3).await;
        assert_eq!(ids_and_kinds(&snapshot), [(2, "created"), (4, "trashed"), (5, "created")]);
        app.new_task(&alice, "d").await;
        assert_eq!(ids_and_kinds(&snap.collect_until(wait, |e| !e.is_empty()).await), [(6, "created")]);
    }

    async fn streams_are_refused_clearly_and_limited_per_user(app: TestApp) {
        let alice = TestUser::new("alice");
        app.new_task(&alice, "a").await;
        let bearer = format!("Bearer {}", alice.token);
        for (header, field) in [("abc", "Last-Event-ID"), ("-1", "Last-Event-ID"), ("1.0", "Last-Event-ID"), ("2", "Last-Event-ID")] {
            let response = app
                .open("/api/alice/events", &[("authorization", &bearer), ("last-event-id", header)])
                .await;
            let reply = Reply::read(response).await;
            reply.expect_problem(422);
            assert_eq!(reply.invalid_fields(), [field], "{header}: {}", reply.body);
        }
        let ahead = Reply::read(app.open("/api/alice/events?since=9", &[("authorization", &bearer)]).await).await;
        assert_eq!(ahead.expect_problem(422)["errors"][0]["field"], "since");
        let unauthenticated = Reply::read(app.open("/api/alice/events", &[]).await).await;
        unauthenticated.expect_problem(401);
        let bob = TestUser::new("bob");
        let foreign = Reply::read(
            app.open("/api/alice/events", &[("authorization", &format!("Bearer {}", bob.token))]).await,
        )
        .await;
        foreign.expect_problem(403);

        // Five streams at once; a sixth waits for one to close.
        let mut open = Vec::new();
        for _ in 0..5 {
            let response = app.open("/api/alice/events", &[("authorization", &bearer)]).await;
            assert_eq!(response.status(), 200);
            open.push(response);
        }
        let refused = Reply::read(app.open("/api/alice/events", &[("authorization", &bearer)]).await).await;
        refused.expect_problem(429);
        assert_eq!(refused.header("retry-after"), Some("10"));
        let others = app
            .open("/api/bob/events", &[("authorization", &format!("Bearer {}", bob.token))])
            .await;
        assert_eq!(others.status(), 200, "the limit is per user");
        drop(open.pop());
        let again = app.open("/api/alice/events", &[("authorization", &bearer)]).await;
        assert_eq!(again.status(), 200);
    }

    async fn concurrent_writers_feed_readers_that_end_with_exactly_the_servers_state(app: TestApp) {
        const WRITERS: u64 = 4;
        const OPS: usize = 500;
        let alice = TestUser::new("alice");
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        println!("random seed {seed}");
        let known: RefCell<Vec<i64>> = RefCell::new(Vec::new());
        let done = std::cell::Cell::new(0);
        let writers = (0..WRITERS).map(|writer| {
            let (app, alice, known, done) = (&app, &alice, &known, &done);
            async move {
                let mut rng = Rng(seed ^ (writer + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                for op in 0..OPS {
                    let pick = {
                        let known = known.borrow();
                        (!known.is_empty()).then(|| known[rng.below(known.len())])
                    };
                    match (rng.below(100), pick) {
                        (0..25, _) | (_, None) => {
                            let task = app.new_task(alice, &format!("w{writer} op{op}")).await;
                            known.borrow_mut().push(id_of(&task));
                        }
                        (25..45, Some(id)) => {
                            app.update_task(alice, id, json!({"title": format!("w{writer} edit{op}"), "priority": "high"})).await;
                        }
                        (45..65, Some(id)) => {
                            app.complete_task(alice, id, None).await;
                        }
                        (65..78, Some(id)) => {
                            app.delete_task(alice, id).await;
                        }
                        (78..90, Some(id)) => {
                            send(app, alice, Method::POST, &format!("{}/restore", alice.task_path(id))).await;
                        }
                        (90..99, Some(id)) => {
                            send(app, alice, Method::DELETE, &format!("/api/alice/trash/{id}")).await;
                        }
                        _ => {
                            send(app, alice, Method::DELETE, "/api/alice/trash").await;
                        }
                    }
                    if op % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                done.set(done.get() + 1);
            }
        });
        // A reader of the log from the start, while they write, keeping
        // copies of its state at random points to replay from later.
        let replay_points: RefCell<BTreeMap<i64, Copy>> = RefCell::new(BTreeMap::new());
        let log_reader = async {
            let mut rng = Rng(seed ^ 0xABCD);
            let mut copy = Copy::default();
            let (mut since, mut seen, mut handover) = (0, Vec::new(), None);
            let (mut pages, mut pick) = (0usize, Rng(seed ^ 0x5EED));
            loop {
                let writers_done = done.get() == WRITERS;
                // Replay points: a reservoir of 8 of the log pages it read.
                let limit = 1 + rng.below(60) as u32;
                let mut keep = |seq: i64, copy: &Copy| {
                    pages += 1;
                    let mut points = replay_points.borrow_mut();
                    if points.len() < 8 {
                        points.insert(seq, copy.clone());
                    } else if pick.below(pages) < 8 {
                        let drop = *points.keys().nth(pick.below(8)).unwrap();
                        points.remove(&drop);
                        points.insert(seq, copy.clone());
                    }
                };
                since = sync(&app, &alice, &mut copy, since, limit, &mut seen, &mut handover, &mut keep).await;
                if writers_done {
                    break;
                }
                tokio::task::yield_now().await;
            }
            (copy, since, handover.expect("the reader reached the log"), seen)
        };
        // A reader that starts from the snapshot, in small pages, mid-writes.
        let snapshot_reader = async {
            while known.borrow().len() < 40 {
                tokio::task::yield_now().await;
            }
            let (mut copy, mut seen) = (Copy::default(), Vec::new());
            let mut handover = None;
            let mut since = sync(&app, &alice, &mut copy, 0, 7, &mut seen, &mut handover, &mut |_, _| {}).await;
            let handover = handover.expect("the snapshot handed over to the log");
            while done.get() < WRITERS {
                since = sync(&app, &alice, &mut copy, since, 50, &mut seen, &mut None, &mut |_, _| {}).await;
                tokio::task::yield_now().await;
            }
            sync(&app, &alice, &mut copy, since, 500, &mut seen, &mut None, &mut |_, _| {}).await;
            (copy, handover, seen)
        };
        let ((), (log_copy, final_seq, log_start, log_seen), (snapshot_copy, snapshot_start, snapshot_seen)) = futures::join!(
            futures::future::join_all(writers).map_unit(),
            log_reader,
            snapshot_reader
        );
        let server = server_state(&app, &alice).await;
        assert!(server.0.len() > 10, "the run left tasks: {}", server.0.len());
        assert!(final_seq > WRITERS as i64 * OPS as i64 / 2, "{final_seq} changes");
        // Each reader saw every change after its start, once, in order.
        same_changes(&log_seen, &log_after(&app, &alice, log_start).await, "the log reader");
        same_changes(&snapshot_seen, &log_after(&app, &alice, snapshot_start).await, "the snapshot reader");
        assert_eq!(log_copy, server, "the log reader's copy");
        assert_eq!(snapshot_copy, server, "the snapshot reader's copy");
        // Replays from random points reach the same state.
        let points = replay_points.into_inner();
        assert!(points.len() >= 3, "{} replay points", points.len());
        let mut rng = Rng(seed ^ 0x1234);
        for (seq, copy) in &points {
            let (mut copy, mut seen) = (copy.clone(), Vec::new());
            let end = sync(&app, &alice, &mut copy, *seq, 1 + rng.below(200) as u32, &mut seen, &mut None, &mut |_, _| {}).await;
            assert_eq!(end, final_seq);
            same_changes(&seen, &log_after(&app, &alice, *seq).await, "a replay");
            assert_eq!(copy, server, "replayed from {seq}");
        }
        println!(
            "{} changes from {WRITERS} writers x {OPS} operations; {} tasks left; the log, the snapshot and {} replays agree",
            final_seq,
            server.0.len(),
            points.len()
        );
    }
}

/// Whether a reader saw exactly the log's numbers; says where not, briefly.
#[track_caller]
fn same_changes(seen: &[i64], log: &[i64], who: &str) {
    if seen != log {
        let at = seen
            .iter()
            .zip(log)
            .position(|(a, b)| a != b)
            .unwrap_or(seen.len().min(log.len()));
        panic!(
            "{who} saw {} changes, the log has {}; first difference at {at}: {:?} against {:?}",
            seen.len(),
            log.len(),
            &seen[at.saturating_sub(2)..(at + 3).min(seen.len())],
            &log[at.saturating_sub(2)..(at + 3).min(log.len())],
        );
    }
}

fn ids_and_kinds(events: &[Event]) -> Vec<(i64, &str)> {
    events
        .iter()
        .map(|e| {
            let kind = e.event.as_deref().unwrap();
            assert_eq!(e.json()["type"], kind);
            assert_eq!(e.json()["seq"], e.seq());
            (e.seq(), kind)
        })
        .collect()
}

/// A small deterministic generator (xorshift64*): the seed is printed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

trait MapUnit: Sized {
    fn map_unit(self) -> futures::future::Map<Self, fn(Vec<()>)>;
}

impl<F: std::future::Future<Output = Vec<()>>> MapUnit for F {
    fn map_unit(self) -> futures::future::Map<Self, fn(Vec<()>)> {
        use futures::FutureExt;
        self.map(drop as fn(Vec<()>))
    }
}
