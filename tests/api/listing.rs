//! 1.1's listing: filters, multi-key sort, cursor and offset paging with
//! `Link`, `X-Total-Count`, and a clear 422 for every bad parameter.

use chrono::{Duration, Utc};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestUser, backend_tests, next_of};

/// Every page from `query` on, following `Link`; the titles in order.
async fn follow(app: &TestApp, user: &TestUser, query: &str) -> (Vec<String>, usize) {
    let mut path = format!("{}{query}", user.tasks_path());
    let (mut titles, mut pages) = (Vec::new(), 0);
    loop {
        let reply = app
            .send(poem::http::Method::GET, &path, Some(&user.token), None)
            .await;
        reply.expect(200);
        pages += 1;
        titles.extend(titles_of(&reply.body));
        match next_of(&reply) {
            Some(next) => path = next,
            None => return (titles, pages),
        }
        assert!(pages < 100, "paging must end");
    }
}

fn titles_of(body: &Value) -> Vec<String> {
    body.as_array()
        .expect("a bare array")
        .iter()
        .map(|task| task["title"].as_str().unwrap().to_owned())
        .collect()
}

/// Seven tasks covering every priority, tags, both kinds of due date and none.
async fn seed(app: &TestApp, user: &TestUser) {
    for task in [
        json!({"title": "a", "priority": "high", "tags": ["work"], "due": {"date": "2026-06-16"}}),
        json!({"title": "b", "priority": "low", "tags": ["home", "work"]}),
        json!({"title": "c", "priority": "high", "due": {"datetime": "2026-06-15T23:30", "time_zone": "America/New_York"}}),
        json!({"title": "d", "tags": ["home"], "due": {"date": "2026-06-15"}}),
        json!({"title": "e", "priority": "medium", "description": "Été 100% fini_ok \\o/"}),
        json!({"title": "f", "priority": "high", "due": {"datetime": "2026-06-16T08:00:00Z"}}),
        json!({"title": "G", "priority": "none", "tags": ["work"]}),
    ] {
        app.create_task(user, task).await.expect(201);
    }
}

backend_tests! {
    async fn filters_combine_with_and(app: TestApp) {
        let alice = TestUser::new("alice");
        seed(&app, &alice).await;
        let titles = |query: &'static str| {
            let app = &app;
            let alice = &alice;
            async move {
                let mut titles = app.titles(alice, query).await;
                titles.sort();
                titles
            }
        };
        assert_eq!(titles("?priority=high").await, ["a", "c", "f"]);
        assert_eq!(titles("?priority=high&priority=low").await, ["a", "b", "c", "f"]);
        assert_eq!(titles("?tag=work").await, ["G", "a", "b"]);
        assert_eq!(titles("?tag=WORK&tag=%20home").await, ["b"], "all of, normalised");
        assert_eq!(titles("?tag=work&priority=high").await, ["a"]);
        assert_eq!(titles("?due=none").await, ["G", "b", "e"]);
        assert_eq!(titles("?due=any").await, ["a", "c", "d", "f"]);
        // 23:30 on 15 June in New York is 03:30 on 16 June in UTC.
        assert_eq!(
            titles("?due_from=2026-06-15&due_to=2026-06-16&tz=America/New_York").await,
            ["c", "d"]
        );
        assert_eq!(titles("?due_from=2026-06-15&due_to=2026-06-16").await, ["d"]);
        assert_eq!(
            titles("?due_from=2026-06-16T03:00:00Z&due_to=2026-06-16T08:00:00Z").await,
            ["a", "c"],
            "instants bound timed tasks by instant and all-day ones by date"
        );
        app.complete_task(&alice, 1, None).await.expect(200);
        assert_eq!(titles("?status=pending&tag=work").await, ["G", "b"]);
    }

    async fn search_ignores_case_in_unicode_and_takes_wildcards_literally(app: TestApp) {
        let alice = TestUser::new("alice");
        seed(&app, &alice).await;
        for (search, expected) in [
            ("ÉTÉ", vec!["e"]),
            ("e\u{301}té", vec!["e"]),
            ("%", vec!["e"]),
            ("_", vec!["e"]),
            ("\\", vec!["e"]),
            ("  g ", vec!["G"]),
            ("100% f", vec!["e"]),
            ("1_0", vec![]),
            ("  ", vec!["a", "b", "c", "d", "e", "f", "G"]),
        ] {
            let encoded = utf8_percent_encode(search, NON_ALPHANUMERIC);
            let mut titles = app.titles(&alice, &format!("?search={encoded}&sort=title")).await;
            titles.sort();
            let mut expected: Vec<String> = expected.into_iter().map(str::to_owned).collect();
            expected.sort();
            assert_eq!(titles, expected, "search={search}");
        }
    }

    async fn due_windows_are_relative_to_today_in_the_time_zone(app: TestApp) {
        let alice = TestUser::new("alice");
        let today = Utc::now().date_naive();
        let day = |days: i64| (today + Duration::days(days)).to_string();
        let long_ago = (Utc::now() - Duration::days(2)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        for (title, due) in [
            ("yesterday", json!({"date": day(-1)})),
            ("two days ago", json!({"datetime": long_ago})),
            ("today", json!({"date": day(0)})),
            ("in three days", json!({"date": day(3)})),
            ("in a week", json!({"date": day(7)})),
            ("never", json!(null)),
        ] {
            app.create_task(&alice, json!({"title": title, "due": due})).await.expect(201);
        }
        let sorted = |mut titles: Vec<String>| {
            titles.sort();
            titles
        };
        assert_eq!(
            sorted(app.titles(&alice, "?due=overdue").await),
            ["two days ago", "yesterday"]
        );
        assert_eq!(app.titles(&alice, "?due=today").await, ["today"]);
        assert_eq!(
            sorted(app.titles(&alice, "?due=week").await),
            ["in three days", "today"]
        );
        assert_eq!(app.titles(&alice, "?due=none").await, ["never"]);
    }

    async fn a_multi_key_sort_orders_by_each_key_then_id(app: TestApp) {
        let alice = TestUser::new("alice");
        seed(&app, &alice).await;
        assert_eq!(
            app.titles(&alice, "?sort=priority,title").await,
            ["a", "c", "f", "e", "b", "G", "d"]
        );
        // By local date; all-day before timed on a date; no due date last,
        // in either direction; `id` breaks ties in the first key's direction.
        assert_eq!(
            app.titles(&alice, "?sort=due").await,
            ["d", "c", "a", "f", "b", "e", "G"]
        );
        assert_eq!(
            app.titles(&alice, "?sort=due:desc").await,
            ["f", "a", "c", "d", "G", "e", "b"]
        );
        assert_eq!(
            app.titles(&alice, "?sort=priority:asc,due:desc,title:desc").await,
            ["d", "G", "b", "e", "f", "a", "c"]
        );
        app.complete_task(&alice, 1, None).await.expect(200);
        assert_eq!(
            app.titles(&alice, "?sort=status,title&priority=high").await,
            ["c", "f", "a"]
        );
        // v1's parameters keep their meaning.
        assert_eq!(
            app.titles(&alice, "?sort=title&order=desc").await,
            ["f", "e", "d", "c", "b", "a", "G"]
        );
        assert_eq!(
            app.titles(&alice, "?sort=created_at&order=asc").await,
            ["a", "b", "c", "d", "e", "f", "G"]
        );
    }

    async fn cursors_walk_every_order_across_ties_and_null_blocks(app: TestApp) {
        let alice = TestUser::new("alice");
        seed(&app, &alice).await;
        for sort in [
            "created",
            "title:desc",
            "priority",
            "due",
            "due:desc",
            "status,priority:asc,due",
            "updated,title",
        ] {
            let whole = app.titles(&alice, &format!("?sort={sort}")).await;
            for limit in [1, 2, 3, 7] {
                let (titles, pages) = follow(&app, &alice, &format!("?sort={sort}&limit={limit}")).await;
                assert_eq!(titles, whole, "sort={sort} limit={limit}");
                assert_eq!(pages, 7usize.div_ceil(limit), "sort={sort} limit={limit}");
            }
        }
        // Filters travel with the cursor.
        let (titles, _) = follow(&app, &alice, "?tag=work&sort=title&limit=1").await;
        assert_eq!(titles, ["G", "a", "b"]);
    }

    async fn offset_pages_and_the_total(app: TestApp) {
        let alice = TestUser::new("alice");
        seed(&app, &alice).await;
        let reply = app.list(&alice, "?sort=title&limit=3&offset=3&include_total=true").await;
        assert_eq!(titles_of(&reply.expect(200).body), ["c", "d", "e"]);
        assert_eq!(reply.header("x-total-count"), Some("7"));
        let next = next_of(&reply).unwrap();
        assert!(next.ends_with("&offset=6"), "{next}");
        assert!(next.contains("include_total=true"), "{next}");
        let (titles, pages) = follow(&app, &alice, "?sort=title&limit=3&offset=0").await;
        assert_eq!((titles.len(), pages), (7, 3));
        let reply = app.list(&alice, "?tag=work&include_total=true&limit=1").await;
        assert_eq!(reply.header("x-total-count"), Some("3"));
        let past_the_end = app.list(&alice, "?offset=50&include_total=true").await;
        assert_eq!(past_the_end.body, json!([]));
        assert_eq!(past_the_end.header("x-total-count"), Some("7"));
        assert_eq!(past_the_end.header("link"), None);
        // Without paging parameters and fewer than 500 tasks: everything, no Link.
        let all = app.list(&alice, "").await;
        assert_eq!(titles_of(&all.body).len(), 7);
        assert_eq!((all.header("link"), all.header("x-total-count")), (None, None));
    }

    async fn a_cursor_only_fits_the_request_it_came_from(app: TestApp) {
        let alice = TestUser::new("alice");
        seed(&app, &alice).await;
        let first = app.list(&alice, "?sort=title&limit=2&tag=work").await;
        let next = next_of(&first).unwrap();
        let cursor = next.split("cursor=").nth(1).unwrap().to_owned();
        for query in [
            format!("?sort=title&limit=2&cursor={cursor}"),
            format!("?sort=title:desc&limit=2&tag=work&cursor={cursor}"),
            format!("?sort=title&limit=2&tag=work&cursor=x{cursor}"),
            format!("?sort=title&limit=2&tag=work&cursor={}", &cursor[1..]),
            "?cursor=%00".to_owned(),
        ] {
            let reply = app.list(&alice, &query).await;
            assert_eq!(reply.invalid_fields(), ["cursor"], "{query}");
        }
        // Another limit is fine: only filters and order are bound.
        let reply = app.list(&alice, &format!("?sort=title&limit=5&tag=work&cursor={cursor}")).await;
        assert_eq!(titles_of(&reply.expect(200).body), ["b"]);
        // Another user cannot read through a cursor: it only says where to start.
        let bob = TestUser::new("bob");
        let reply = app.list(&bob, &format!("?sort=title&limit=2&tag=work&cursor={cursor}")).await;
        assert_eq!(reply.expect(200).body, json!([]));
    }

    async fn bad_listing_parameters_are_422_naming_them(app: TestApp) {
        let alice = TestUser::new("alice");
        for (query, fields) in [
            ("?limit=0", vec!["limit"]),
            ("?limit=501", vec!["limit"]),
            ("?limit=x", vec!["limit"]),
            ("?offset=100001", vec!["offset"]),
            ("?offset=-1", vec!["offset"]),
            ("?offset=1&cursor=abc", vec!["cursor"]),
            ("?tz=Mars/Base", vec!["tz"]),
            ("?due_from=2026-02-30", vec!["due_from"]),
            ("?due_to=tomorrow", vec!["due_to"]),
            ("?sort=title,title", vec!["sort"]),
            ("?sort=a,b,c,d,e", vec!["sort"]),
            ("?sort=created,priority,due,title,status", vec!["sort"]),
            ("?sort=title:sideways", vec!["sort"]),
            ("?sort=title,due&order=asc", vec!["order"]),
            ("?include_total=maybe", vec!["include_total"]),
            ("?search=a%00b", vec!["search"]),
            ("?tag=a,b", vec!["tag"]),
            ("?tag=", vec!["tag"]),
            ("?tz=Nowhere&tag=a,b&sort=nope&due_to=x", vec!["tz", "tag", "due_to", "sort"]),
        ] {
            let reply = app.list(&alice, query).await;
            assert_eq!(reply.invalid_fields(), fields, "{query}");
        }
        let many: String = (0..21).map(|i| format!("&tag=t{i}")).collect();
        assert_eq!(app.list(&alice, &format!("?{many}")).await.invalid_fields(), ["tag"]);
        let long = format!("?search={}", "x".repeat(201));
        assert_eq!(app.list(&alice, &long).await.invalid_fields(), ["search"]);
        let ok = format!("?search={}", "x".repeat(200));
        app.list(&alice, &ok).await.expect(200);
        // Tasks of another user never show, whatever the filters.
        let bob = TestUser::new("bob");
        seed(&app, &bob).await;
        assert!(app.titles(&alice, "?due=any&search=a").await.is_empty());
    }
}
