//! Every way a token can be wrong is a 401 with `WWW-Authenticate: Bearer`,
//! and the checks run in the contract's order: 401 → 403 → 422 → 404.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use poem::http::Method;
use serde_json::{Value, json};

use crate::support::{
    Backend, Reply, SECRET, TestApp, TestUser, backend_tests, every_task_route, now, sign,
};

/// A refused token: 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
#[track_caller]
fn expect_401(reply: &Reply) {
    assert_eq!(challenge(reply), r#"Bearer error="invalid_token""#);
}

/// No bearer token at all: 401 with a bare `WWW-Authenticate: Bearer`, no
/// error code (RFC 6750 §3.1).
#[track_caller]
fn expect_401_without_credentials(reply: &Reply) {
    assert_eq!(challenge(reply), "Bearer");
}

#[track_caller]
fn challenge(reply: &Reply) -> &str {
    reply.expect_problem(401);
    reply
        .header("www-authenticate")
        .expect("a 401 carries WWW-Authenticate")
}

fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn valid_claims() -> Value {
    json!({"sub": "alice", "exp": now() + 600})
}

/// Every kind of bad token, named.
fn bad_tokens() -> Vec<(&'static str, String)> {
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &valid_claims(),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let good = sign(&valid_claims(), SECRET);
    let (head, _) = good.rsplit_once('.').unwrap();
    let tampered_claims =
        URL_SAFE_NO_PAD.encode(json!({"sub": "alice", "exp": now() + 99999}).to_string());
    let tampered = format!(
        "{}.{tampered_claims}.{}",
        head.split('.').next().unwrap(),
        good.rsplit('.').next().unwrap()
    );
    let with_crit = {
        let mut header = Header::new(Algorithm::HS256);
        header.crit = Some(vec!["exp".to_owned()]);
        jsonwebtoken::encode(
            &header,
            &valid_claims(),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    };
    vec![
        ("garbage", "not-a-jwt".to_owned()),
        ("empty segments", "..".to_owned()),
        (
            "expired",
            sign(&json!({"sub": "alice", "exp": now() - 60}), SECRET),
        ),
        (
            "not yet valid",
            sign(
                &json!({"sub": "alice", "exp": now() + 600, "nbf": now() + 300}),
                SECRET,
            ),
        ),
        (
            "wrong key",
            sign(&valid_claims(), "another-secret-of-the-right-length-123"),
        ),
        (
            "alg none",
            unsigned(&json!({"alg": "none", "typ": "JWT"}), &valid_claims()),
        ),
        (
            "alg None",
            unsigned(&json!({"alg": "None", "typ": "JWT"}), &valid_claims()),
        ),
        ("HS512 with the right secret", hs512),
        ("a crit header", with_crit),
        ("no sub", sign(&json!({"exp": now() + 600}), SECRET)),
        (
            "empty sub",
            sign(&json!({"sub": "", "exp": now() + 600}), SECRET),
        ),
        ("no exp", sign(&json!({"sub": "alice"}), SECRET)),
        (
            "exp not a number",
            sign(&json!({"sub": "alice", "exp": "soon"}), SECRET),
        ),
        (
            "sub not a string",
            sign(&json!({"sub": 42, "exp": now() + 600}), SECRET),
        ),
        (
            "sub longer than 255 bytes",
            sign(&json!({"sub": "x".repeat(256), "exp": now() + 600}), SECRET),
        ),
        (
            "sub with NUL",
            sign(&json!({"sub": "alice\0", "exp": now() + 600}), SECRET),
        ),
        ("tampered payload", tampered),
        (
            "oversized",
            sign(
                &json!({"sub": "alice", "exp": now() + 600, "pad": "x".repeat(9000)}),
                SECRET,
            ),
        ),
    ]
}

backend_tests! {
    async fn every_bad_token_is_rejected_with_401_on_every_route(app: TestApp) {
        for (name, token) in bad_tokens() {
            for (method, path, body) in every_task_route("alice", 1) {
                let reply = app.send(method.clone(), &path, Some(&token), body).await;
                assert_eq!(
                    reply.status, 401,
                    "{name}: {method} {path} answered {}",
                    reply.body
                );
                expect_401(&reply);
            }
        }
    }

    async fn missing_or_non_bearer_credentials_are_401(app: TestApp) {
        let token = TestUser::new("alice").token;
        let cases = [
            vec![],
            vec![("authorization", "".to_owned())],
            vec![("authorization", "Bearer".to_owned())],
            vec![("authorization", "Bearer ".to_owned())],
            vec![("authorization", format!("Basic {token}"))],
            vec![("authorization", format!("Token {token}"))],
            vec![("authorization", token.clone())],
        ];
        for headers in cases {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let reply = app
                .send_raw(Method::GET, "/api/alice/tasks", &headers, "")
                .await;
            assert_eq!(reply.status, 401, "{headers:?}");
            expect_401_without_credentials(&reply);
        }
    }

    async fn the_bearer_scheme_name_is_case_insensitive(app: TestApp) {
        let token = TestUser::new("alice").token;
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let auth = format!("{scheme} {token}");
            app.send_raw(
                Method::GET,
                "/api/alice/tasks",
                &[("authorization", &auth)],
                "",
            )
            .await
            .expect(200);
        }
    }

    async fn a_small_clock_skew_is_tolerated_only_when_configured(app: TestApp) {
        // The suite's app has zero leeway: a token expired a second ago is refused.
        let token = sign(&json!({"sub": "alice", "exp": now() - 1}), SECRET);
        expect_401(
            &app.send(Method::GET, "/api/alice/tasks", Some(&token), None)
                .await,
        );
        let verifier = todo_api::auth::TokenVerifier::with_shared_secret(SECRET, 30);
        assert!(verifier.verify(&token).await.is_ok(), "30 s of leeway accepts it");
    }

    async fn a_sub_of_255_bytes_owns_tasks_and_a_longer_one_or_nul_is_refused(app: TestApp) {
        let tasks_path =
            |user: &str| format!("/api/{}/tasks", utf8_percent_encode(user, NON_ALPHANUMERIC));
        // 127 two-byte characters and one more byte: 255 bytes of UTF-8.
        let longest = format!("{}a", "é".repeat(127));
        let token = sign(&json!({"sub": longest, "exp": now() + 600}), SECRET);
        let path = tasks_path(&longest);
        let created = app
            .send(Method::POST, &path, Some(&token), Some(json!({"title": "mine"})))
            .await;
        assert_eq!(created.expect(201).body["user_id"], longest.as_str());
        let listed = app.send(Method::GET, &path, Some(&token), None).await;
        assert_eq!(listed.expect(200).body.as_array().unwrap().len(), 1);

        // A few KiB of `sub` used to overflow PostgreSQL's index entries (500),
        // and its text cannot hold NUL at all.
        let refused = [
            ("é".repeat(128), "the token's `sub` is longer than 255 bytes"),
            ("x".repeat(4000), "the token's `sub` is longer than 255 bytes"),
            ("alice\0".to_owned(), "the token's `sub` contains a NUL character"),
        ];
        for (sub, why) in refused {
            let token = sign(&json!({"sub": sub, "exp": now() + 600}), SECRET);
            let reply = app
                .send(Method::POST, &tasks_path(&sub), Some(&token), Some(json!({"title": "t"})))
                .await;
            expect_refusal(&reply, why);
        }
    }

    async fn extra_claims_from_a_frontend_are_ignored(app: TestApp) {
        let token = sign(
            &json!({"sub": "alice", "exp": now() + 600, "iat": now(), "email": "a@example.com", "name": "Alice", "aud": "whatever", "iss": "http://localhost:3000"}),
            SECRET,
        );
        app.send(Method::GET, "/api/alice/tasks", Some(&token), None)
            .await
            .expect(200);
    }

    async fn checks_run_in_the_order_401_403_422_404(app: TestApp) {
        let alice = TestUser::new("alice");
        let bad_body = Some(json!({"title": ""}));
        let put = |path: &str, token: Option<String>| {
            let app = &app;
            let path = path.to_owned();
            let body = bad_body.clone();
            async move { app.send(Method::PUT, &path, token.as_deref(), body).await }
        };
        // No token, wrong user, invalid id and invalid body all at once: 401.
        expect_401_without_credentials(&put("/api/bob/tasks/not-a-number", None).await);
        // A valid token for another user, invalid id and body: 403.
        put("/api/bob/tasks/not-a-number", Some(alice.token.clone()))
            .await
            .expect_problem(403);
        // The right user, an invalid id and body: 422.
        put("/api/alice/tasks/not-a-number", Some(alice.token.clone()))
            .await
            .expect_problem(422);
        // The right user, a valid but unknown id, an invalid body: 422 before 404.
        put("/api/alice/tasks/12345", Some(alice.token.clone()))
            .await
            .expect_problem(422);
        // Everything valid but the task: 404.
        app.update_task(&alice, 12345, json!({"title": "fine"}))
            .await
            .expect_problem(404);
    }
}

/// `token` is refused with a 401 whose detail contains `why`.
#[track_caller]
fn expect_refusal(reply: &Reply, why: &str) {
    expect_401(reply);
    let detail = reply.body["detail"].as_str().unwrap();
    assert!(detail.contains(why), "{detail:?} does not say {why:?}");
}

// Tokens are refused before any query: one backend is enough for these.

#[tokio::test]
async fn a_claim_of_the_wrong_type_is_named_not_called_missing() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let cases = [
        (
            json!({"sub": "alice", "exp": "soon"}),
            "the token's `exp` claim is not a number",
        ),
        (
            json!({"sub": "alice", "exp": {"in": 600}}),
            "the token's `exp` claim is not a number",
        ),
        (
            json!({"sub": "alice", "exp": now() + 600, "nbf": "now"}),
            "the token's `nbf` claim is not a number",
        ),
        (
            json!({"sub": 42, "exp": now() + 600}),
            "the token's `sub` claim is not a string",
        ),
    ];
    for (claims, why) in cases {
        let token = sign(&claims, SECRET);
        expect_refusal(
            &app.send(Method::GET, "/api/alice/tasks", Some(&token), None)
                .await,
            why,
        );
    }
}

#[tokio::test]
async fn a_crit_header_is_refused_with_its_reason() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.crit = Some(vec!["b64".to_owned()]);
    let token = jsonwebtoken::encode(
        &header,
        &valid_claims(),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    expect_refusal(
        &app.send(Method::GET, "/api/alice/tasks", Some(&token), None)
            .await,
        "the token has a `crit` header",
    );
}

/// The problem's `detail` of `reply`.
#[track_caller]
fn detail(reply: &Reply) -> &str {
    reply.body["detail"]
        .as_str()
        .expect("a problem has a detail")
}

#[tokio::test]
async fn a_signed_token_whose_sub_is_missing_or_not_a_string_says_so() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let cases = [
        (
            json!({"exp": now() + 600}),
            "Invalid token: the token has no `sub` claim",
        ),
        (
            json!({"sub": 42, "exp": now() + 600}),
            "Invalid token: the token's `sub` claim is not a string",
        ),
        (
            json!({"sub": "", "exp": now() + 600}),
            "Invalid token: the token's `sub` claim is empty",
        ),
    ];
    for (claims, expected) in cases {
        // Correctly signed with the server's secret (HS256): only `sub` is wrong.
        let token = sign(&claims, SECRET);
        let reply = app
            .send(Method::GET, "/api/alice/tasks", Some(&token), None)
            .await;
        expect_401(&reply);
        assert_eq!(detail(&reply), expected, "claims: {claims}");
    }
}

/// The words frontends and FastAPI-style backends look for in `detail`.
#[tokio::test]
async fn details_use_the_words_clients_search_for() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let alice = TestUser::new("alice");

    let no_token = app.send(Method::GET, "/api/alice/tasks", None, None).await;
    expect_401_without_credentials(&no_token);
    assert_eq!(
        detail(&no_token),
        "Not authenticated: the request has no bearer token"
    );

    let expired = sign(&json!({"sub": "alice", "exp": now() - 60}), SECRET);
    let reply = app
        .send(Method::GET, "/api/alice/tasks", Some(&expired), None)
        .await;
    expect_401(&reply);
    assert_eq!(detail(&reply), "Token has expired");

    let reply = app
        .send(Method::GET, "/api/bob/tasks", Some(&alice.token), None)
        .await;
    reply.expect_problem(403);
    assert_eq!(
        detail(&reply),
        "Access denied: the user id in the path is not the token's subject"
    );

    let reply = app.get_task(&alice, 12345).await;
    reply.expect_problem(404);
    assert_eq!(detail(&reply), "Task not found");
}
