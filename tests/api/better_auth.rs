//! End to end with the real Better Auth: the `better-auth` npm package runs in
//! Node (`tests/e2e/better-auth/server.mjs`: memory adapter, email+password,
//! `jwt()` plugin). Users sign up through its own HTTP handler, fetch their JWTs
//! from `/api/auth/token`, and drive this server with them.
//!
//! Needs `node` and `npm install` in that folder (`.ci/run` does both). Without
//! them the test is skipped with a printed reason — never under `CI=true`.

use std::{
    io::{BufRead, BufReader},
    process::{Child, ChildStdin, Command, Stdio},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use poem::http::Method;
use serde_json::{Value, json};
use todo_api::auth::{JwksSettings, TokenVerifier};

use crate::support::{Backend, TestApp, id_of, postgres::skip_or_fail};

const HARNESS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/better-auth");

/// A running Better Auth, stopped when dropped (and by itself if we die: it
/// exits when its stdin closes).
struct BetterAuth {
    child: Child,
    _stdin: ChildStdin,
    url: String,
    http: reqwest::Client,
}

impl Drop for BetterAuth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why Better Auth cannot run here, if it cannot.
fn unavailable() -> Option<String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|out| out.status.success()) {
        return Some("`node` is not installed (Node.js 20+ is needed)".to_owned());
    }
    let installed = std::path::Path::new(HARNESS).join("node_modules/better-auth/package.json");
    if !installed.is_file() {
        return Some(format!(
            "better-auth is not installed: run `npm install` in {HARNESS}"
        ));
    }
    None
}

impl BetterAuth {
    /// `None` (with the reason printed) when Node or the package is missing.
    fn start(alg: &str) -> Option<Self> {
        if let Some(why) = unavailable() {
            return skip_or_fail(
                "Better Auth not installed",
                &format!("the Better Auth end-to-end test: {why}"),
            );
        }
        let mut child = Command::new("node")
            .args(["server.mjs", "--alg", alg])
            .current_dir(HARNESS)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the Better Auth harness");
        let stdin = child.stdin.take().unwrap();
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .expect("the harness's ready line");
        let ready: Value = serde_json::from_str(&ready)
            .unwrap_or_else(|_| panic!("harness did not start: {ready:?}"));
        Some(Self {
            child,
            _stdin: stdin,
            url: ready["url"].as_str().unwrap().to_owned(),
            http: reqwest::Client::new(),
        })
    }

    /// The settings this server needs for this Better Auth (iss = aud = its origin).
    fn settings(&self) -> JwksSettings {
        JwksSettings {
            url: format!("{}/api/auth/jwks", self.url),
            issuer: self.url.clone(),
            audience: self.url.clone(),
            min_refetch: Duration::ZERO,
            fetch_timeout: Duration::from_secs(5),
        }
    }

    /// Signs a user up through Better Auth's own endpoint; returns the user id
    /// and the session cookie.
    async fn sign_up(&self, name: &str) -> (String, String) {
        let response = self
            .http
            .post(format!("{}/api/auth/sign-up/email", self.url))
            .header("origin", &self.url)
            .json(&json!({"email": format!("{name}@example.com"), "password": "correct horse battery", "name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "sign-up of {name}");
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("better-auth.session_token="))
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned();
        let body: Value = response.json().await.unwrap();
        (body["user"]["id"].as_str().unwrap().to_owned(), cookie)
    }

    /// The user's JWT, as `authClient.token()` gets it.
    async fn token(&self, cookie: &str) -> String {
        let response = self
            .http
            .get(format!("{}/api/auth/token", self.url))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    async fn rotate(&self) -> Vec<String> {
        let response = self
            .http
            .post(format!("{}/test/rotate", self.url))
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        serde_json::from_value(body["kids"].clone()).unwrap()
    }

    async fn public_key_material(&self) -> Vec<u8> {
        let jwks: Value = self
            .http
            .get(format!("{}/api/auth/jwks", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let key = &jwks["keys"][0];
        let field = key["x"].as_str().or(key["n"].as_str()).unwrap();
        URL_SAFE_NO_PAD.decode(field).unwrap()
    }
}

fn header_of(token: &str) -> jsonwebtoken::Header {
    jsonwebtoken::decode_header(token).unwrap()
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> crate::support::Reply {
    app.send(method, path, Some(token), body).await
}

/// The whole story for one algorithm.
async fn better_auth_tokens_drive_the_api(alg: &str, expected: Algorithm) {
    let Some(better_auth) = BetterAuth::start(alg) else {
        return;
    };
    let verifier = TokenVerifier::default().and_jwks(better_auth.settings(), 0);
    let app = TestApp::spawn_with(Backend::Sqlite, verifier)
        .await
        .unwrap();

    let (alice, alice_cookie) = better_auth.sign_up("alice").await;
    let (bob, bob_cookie) = better_auth.sign_up("bob").await;
    let (alice_token, bob_token) = (
        better_auth.token(&alice_cookie).await,
        better_auth.token(&bob_cookie).await,
    );
    assert_eq!(
        header_of(&alice_token).alg,
        expected,
        "Better Auth signs with {alg}"
    );
    let alice_tasks = format!("/api/{alice}/tasks");
    let bob_tasks = format!("/api/{bob}/tasks");

    // Create and list with a real token.
    let created = call(
        &app,
        Method::POST,
        &alice_tasks,
        &alice_token,
        Some(json!({"title": "From Better Auth"})),
    )
    .await;
    created.expect(201);
    assert_eq!(created.body["user_id"], alice.as_str());
    let id = id_of(&created.body);
    let listed = call(&app, Method::GET, &alice_tasks, &alice_token, None).await;
    assert_eq!(listed.expect(200).body.as_array().unwrap().len(), 1);

    // Isolation between two real users.
    assert_eq!(
        call(&app, Method::GET, &bob_tasks, &bob_token, None)
            .await
            .expect(200)
            .body,
        json!([])
    );
    call(
        &app,
        Method::GET,
        &format!("{bob_tasks}/{id}"),
        &bob_token,
        None,
    )
    .await
    .expect_problem(404);
    call(&app, Method::GET, &bob_tasks, &alice_token, None)
        .await
        .expect_problem(403);

    // Real tokens, tampered with.
    let mut parts: Vec<String> = alice_token.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["sub"] = json!(bob);
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = parts.join(".");
    call(&app, Method::GET, &bob_tasks, &tampered, None)
        .await
        .expect_problem(401);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = header_of(&alice_token).kid;
    let hs256 = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(&better_auth.public_key_material().await),
    )
    .unwrap();
    call(&app, Method::GET, &bob_tasks, &hs256, None)
        .await
        .expect_problem(401);
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": header.kid}).to_string()),
        parts[1]
    );
    call(&app, Method::GET, &bob_tasks, &none, None)
        .await
        .expect_problem(401);

    // Key rotation: a new kid appears; old tokens still verify meanwhile.
    let old_kid = header_of(&alice_token).kid.unwrap();
    let kids = better_auth.rotate().await;
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&old_kid));
    let new_token = better_auth.token(&alice_cookie).await;
    let new_kid = header_of(&new_token).kid.unwrap();
    assert_ne!(new_kid, old_kid, "Better Auth signs with the new key");
    call(&app, Method::GET, &alice_tasks, &new_token, None)
        .await
        .expect(200);
    call(&app, Method::GET, &alice_tasks, &alice_token, None)
        .await
        .expect(200);
}

#[tokio::test]
async fn better_auth_eddsa_tokens() {
    better_auth_tokens_drive_the_api("EdDSA", Algorithm::EdDSA).await;
}

#[tokio::test]
async fn better_auth_es256_tokens() {
    better_auth_tokens_drive_the_api("ES256", Algorithm::ES256).await;
}

#[tokio::test]
async fn better_auth_rs256_tokens() {
    better_auth_tokens_drive_the_api("RS256", Algorithm::RS256).await;
}

#[tokio::test]
async fn better_auth_ps256_tokens() {
    better_auth_tokens_drive_the_api("PS256", Algorithm::PS256).await;
}
