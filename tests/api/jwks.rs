//! Better Auth-style tokens checked against a JWKS: the attack suite, key
//! caching and refetching, and what clients see when the keys are unreachable.
//! The JWKS here is served by the test itself with keys it generates, so every
//! attack can be forged; `better_auth.rs` runs the real Better Auth.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use poem::{
    EndpointExt, Route, Server, get, handler,
    listener::{Acceptor, Listener, TcpListener},
    web::{Data, Json},
};
use serde_json::{Value, json};
use todo_api::auth::{AuthError, JwksSettings, TokenVerifier};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Backend, Reply, SECRET, TestApp, now, sign};

const ISSUER: &str = "http://127.0.0.1:3000";

/// A signing key and its public JWK.
struct TestKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
    /// The raw public key bytes (for the HS256-with-the-public-key attack).
    public: Vec<u8>,
}

impl TestKey {
    fn ed25519(kid: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let public = pair.public_key().as_ref().to_vec();
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(&public), "kid": kid, "alg": "EdDSA"}),
            public,
        }
    }

    fn p256(kid: &str) -> Self {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let public = pair.public_key().as_ref().to_vec(); // 0x04 || X || Y
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&public[1..33]), "y": URL_SAFE_NO_PAD.encode(&public[33..]), "kid": kid, "alg": "ES256"}),
            public,
        }
    }

    /// A token with these claims, signed by this key, with `kid` in its header.
    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.to_owned());
        header.typ = None;
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }
}

fn claims(sub: &str) -> Value {
    json!({"sub": sub, "iss": ISSUER, "aud": ISSUER, "iat": now(), "exp": now() + 900, "email": format!("{sub}@example.com")})
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

/// A JWKS endpoint on a loopback port, counting its requests.
struct JwksServer {
    addr: SocketAddr,
    state: Arc<Published>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

struct Published {
    set: Value,
    hits: AtomicUsize,
}

#[handler]
fn jwks(published: Data<&Arc<Published>>) -> Json<Value> {
    published.hits.fetch_add(1, Ordering::SeqCst);
    Json(published.set.clone())
}

impl JwksServer {
    async fn start(keys: &[&TestKey], addr: SocketAddr) -> Self {
        let set = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
        let state = Arc::new(Published {
            set,
            hits: AtomicUsize::new(0),
        });
        let acceptor = TcpListener::bind(addr).into_acceptor().await.unwrap();
        let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Route::new()
            .at("/api/auth/jwks", get(jwks))
            .data(Arc::clone(&state));
        tokio::spawn(
            Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
                app,
                async move {
                    let _ = stopped.await;
                },
                Some(Duration::from_millis(100)),
            ),
        );
        Self {
            addr,
            state,
            stop: Some(stop),
        }
    }

    fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

fn settings(addr: SocketAddr, min_refetch: Duration) -> JwksSettings {
    JwksSettings {
        url: format!("http://{addr}/api/auth/jwks"),
        issuer: ISSUER.to_owned(),
        audience: ISSUER.to_owned(),
        min_refetch,
        fetch_timeout: Duration::from_secs(2),
    }
}

/// The app with both paths configured: the shared secret and this JWKS.
async fn app_with_jwks(addr: SocketAddr, min_refetch: Duration) -> TestApp {
    let verifier =
        TokenVerifier::with_shared_secret(SECRET, 0).and_jwks(settings(addr, min_refetch), 0);
    TestApp::spawn_with(Backend::Sqlite, verifier)
        .await
        .unwrap()
}

async fn list_as(app: &TestApp, user: &str, token: &str) -> Reply {
    app.send(
        poem::http::Method::GET,
        &format!("/api/{user}/tasks"),
        Some(token),
        None,
    )
    .await
}

#[track_caller]
fn expect_401(reply: &Reply, case: &str) {
    assert_eq!(reply.status, 401, "{case}: {}", reply.body);
    assert!(
        reply
            .header("www-authenticate")
            .unwrap()
            .contains("invalid_token"),
        "{case}"
    );
}

fn unsigned(header: Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[tokio::test]
async fn valid_eddsa_and_es256_tokens_pass_and_the_shared_secret_still_works() {
    let (ed, ec) = (TestKey::ed25519("ed-1"), TestKey::p256("ec-1"));
    let server = JwksServer::start(&[&ed, &ec], "127.0.0.1:0".parse().unwrap()).await;
    let app = app_with_jwks(server.addr, Duration::from_secs(5)).await;
    list_as(&app, "alice", &ed.sign(&claims("alice")))
        .await
        .expect(200);
    list_as(&app, "alice", &ec.sign(&claims("alice")))
        .await
        .expect(200);
    list_as(
        &app,
        "alice",
        &sign(&json!({"sub": "alice", "exp": now() + 60}), SECRET),
    )
    .await
    .expect(200);
    // A Better Auth token for one user does not open another's tasks.
    list_as(&app, "bob", &ed.sign(&claims("alice")))
        .await
        .expect_problem(403);
    assert_eq!(server.hits(), 1, "one fetch serves every known kid");
}

#[tokio::test]
async fn every_forged_or_invalid_jwks_token_is_rejected() {
    let (ed, ec) = (TestKey::ed25519("real-ed"), TestKey::p256("real-ec"));
    let server = JwksServer::start(&[&ed, &ec], "127.0.0.1:0".parse().unwrap()).await;
    let app = app_with_jwks(server.addr, Duration::from_secs(5)).await;
    let good = ed.sign(&claims("alice"));
    list_as(&app, "alice", &good).await.expect(200);

    let attacker = TestKey::ed25519("attacker");
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(with(claims("alice"), "sub", json!("bob")).to_string());
    let tampered = parts.join(".");
    let hs256_with_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(ed.kid.clone());
        jsonwebtoken::encode(
            &header,
            &claims("alice"),
            &EncodingKey::from_secret(&ed.public),
        )
        .unwrap()
    };
    let hs256_with_ec_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(ec.kid.clone());
        jsonwebtoken::encode(
            &header,
            &claims("alice"),
            &EncodingKey::from_secret(&ec.public),
        )
        .unwrap()
    };
    let cases = [
        (
            "expired",
            ed.sign(&with(claims("alice"), "exp", json!(now() - 60))),
        ),
        (
            "not yet valid",
            ed.sign(&with(claims("alice"), "nbf", json!(now() + 300))),
        ),
        (
            "wrong issuer",
            ed.sign(&with(claims("alice"), "iss", json!("https://evil.example"))),
        ),
        (
            "wrong audience",
            ed.sign(&with(
                claims("alice"),
                "aud",
                json!("https://other.example"),
            )),
        ),
        ("no issuer", ed.sign(&without(claims("alice"), "iss"))),
        ("no audience", ed.sign(&without(claims("alice"), "aud"))),
        ("no exp", ed.sign(&without(claims("alice"), "exp"))),
        ("no sub", ed.sign(&without(claims("alice"), "sub"))),
        ("tampered payload", tampered),
        ("unknown kid", ed.sign_as("no-such-kid", &claims("alice"))),
        ("no kid", {
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = None;
            jsonwebtoken::encode(&header, &claims("alice"), &ed.encoding).unwrap()
        }),
        (
            "a key from another JWKS with a real kid",
            attacker.sign_as(&ed.kid, &claims("alice")),
        ),
        (
            "ES256 header on the EdDSA key's kid",
            ec.sign_as(&ed.kid, &claims("alice")),
        ),
        (
            "alg none",
            unsigned(json!({"alg": "none", "kid": ed.kid}), &claims("alice")),
        ),
        ("a crit header", {
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(ed.kid.clone());
            header.crit = Some(vec!["exp".to_owned()]);
            jsonwebtoken::encode(&header, &claims("alice"), &ed.encoding).unwrap()
        }),
        (
            "HS256 signed with the Ed25519 public key",
            hs256_with_public_key,
        ),
        (
            "HS256 signed with the P-256 public key",
            hs256_with_ec_public_key,
        ),
    ];
    for (case, token) in cases {
        expect_401(&list_as(&app, "alice", &token).await, case);
    }
}

#[tokio::test]
async fn a_maximum_lifetime_holds_for_better_auth_tokens_and_hs256_alike() {
    let ed = TestKey::ed25519("k");
    let server = JwksServer::start(&[&ed], "127.0.0.1:0".parse().unwrap()).await;
    let verifier = TokenVerifier::with_shared_secret(SECRET, 0)
        .and_jwks(settings(server.addr, Duration::from_secs(5)), 0)
        .and_max_ttl(Some(3600));
    let app = TestApp::spawn_with(Backend::Sqlite, verifier)
        .await
        .unwrap();
    // Better Auth's own 15 minutes, and the hackathon pattern's hour.
    list_as(&app, "alice", &ed.sign(&claims("alice")))
        .await
        .expect(200);
    let hour = sign(&json!({"sub": "alice", "exp": now() + 3600}), SECRET);
    list_as(&app, "alice", &hour).await.expect(200);

    let week = now() + 7 * 24 * 3600;
    let long_lived = [
        ("EdDSA", ed.sign(&with(claims("alice"), "exp", json!(week)))),
        ("HS256", sign(&json!({"sub": "alice", "exp": week}), SECRET)),
    ];
    for (case, token) in long_lived {
        let reply = list_as(&app, "alice", &token).await;
        expect_401(&reply, case);
        let detail = reply.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("lifetime exceeds JWT_MAX_TTL_SECS"),
            "{case}: {detail}"
        );
    }
}

#[tokio::test]
async fn a_flood_of_unknown_kids_does_not_flood_better_auth() {
    let ed = TestKey::ed25519("only");
    let server = JwksServer::start(&[&ed], "127.0.0.1:0".parse().unwrap()).await;
    let app = app_with_jwks(server.addr, Duration::from_secs(5)).await;
    let floods = (0..200).map(|i| {
        let token = ed.sign_as(&format!("random-kid-{i}"), &claims("alice"));
        let app = &app;
        async move { list_as(app, "alice", &token).await }
    });
    for reply in futures::future::join_all(floods).await {
        expect_401(&reply, "unknown kid");
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        server.hits() <= 2,
        "200 unknown kids caused {} JWKS fetches",
        server.hits()
    );
    list_as(&app, "alice", &ed.sign(&claims("alice")))
        .await
        .expect(200);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_and_the_old_one_keeps_working() {
    let old = TestKey::ed25519("key-1");
    let new = TestKey::ed25519("key-2");
    let first = JwksServer::start(&[&old], "127.0.0.1:0".parse().unwrap()).await;
    let addr = first.addr;
    let app = app_with_jwks(addr, Duration::from_millis(100)).await;
    list_as(&app, "alice", &old.sign(&claims("alice")))
        .await
        .expect(200);
    first.stop().await;
    // Better Auth rotates: the new key signs, the old one stays published.
    let rotated = JwksServer::start(&[&old, &new], addr).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    list_as(&app, "alice", &new.sign(&claims("alice")))
        .await
        .expect(200);
    list_as(&app, "alice", &old.sign(&claims("alice")))
        .await
        .expect(200);
    assert_eq!(rotated.hits(), 1, "one refetch for the new kid");
}

#[tokio::test]
async fn unreachable_keys_are_a_503_until_better_auth_is_up_then_cached_keys_ride_out_an_outage() {
    let ed = TestKey::ed25519("k");
    // Reserve a port with nothing listening: Better Auth is not up yet.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = app_with_jwks(addr, Duration::from_millis(100)).await;
    let token = ed.sign(&claims("alice"));

    let reply = list_as(&app, "alice", &token).await;
    reply.expect_problem(503);
    assert!(reply.header("retry-after").is_some());
    // HS256 tokens do not depend on Better Auth.
    list_as(
        &app,
        "alice",
        &sign(&json!({"sub": "alice", "exp": now() + 60}), SECRET),
    )
    .await
    .expect(200);

    let server = JwksServer::start(&[&ed], addr).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    list_as(&app, "alice", &token).await.expect(200);

    // Better Auth goes down again: known keys keep verifying.
    server.stop().await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    list_as(&app, "alice", &token).await.expect(200);
    list_as(&app, "alice", &ed.sign_as("unknown", &claims("alice")))
        .await
        .expect_problem(503);
}

#[tokio::test]
async fn without_jwks_settings_asymmetric_tokens_are_refused_and_without_a_secret_hs256_is() {
    let ed = TestKey::ed25519("k");
    let server = JwksServer::start(&[&ed], "127.0.0.1:0".parse().unwrap()).await;
    let secret_only = TestApp::spawn(Backend::Sqlite).await.unwrap();
    expect_401(
        &list_as(&secret_only, "alice", &ed.sign(&claims("alice"))).await,
        "EdDSA without JWKS",
    );
    let jwks_only =
        TokenVerifier::default().and_jwks(settings(server.addr, Duration::from_secs(5)), 0);
    let jwks_only = TestApp::spawn_with(Backend::Sqlite, jwks_only)
        .await
        .unwrap();
    let hs256 = sign(&json!({"sub": "alice", "exp": now() + 60}), SECRET);
    expect_401(
        &list_as(&jwks_only, "alice", &hs256).await,
        "HS256 without a secret",
    );
    list_as(&jwks_only, "alice", &ed.sign(&claims("alice")))
        .await
        .expect(200);
}

/// A JWKS endpoint that answers one request with far more than any key set:
/// `head`, then, when `endless`, 64 KiB chunks until the client hangs up. Its
/// task returns how many body bytes it got to send.
async fn oversized_jwks(
    head: &'static str,
    endless: bool,
) -> (SocketAddr, tokio::task::JoinHandle<usize>) {
    const CHUNK: usize = 64 * 1024;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0; 4096];
        let _ = stream.read(&mut request).await;
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut sent = 0;
        if endless {
            let chunk = format!("{CHUNK:x}\r\n{}\r\n", " ".repeat(CHUNK));
            // Paced: a client that reads to the end would hold a few hundred
            // MB by its timeout, not fill the machine's memory at loopback speed.
            while stream.write_all(chunk.as_bytes()).await.is_ok() {
                sent += CHUNK;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        } else {
            // The announced body never comes: wait for the client to hang up.
            let _ = stream.read(&mut request).await;
        }
        sent
    });
    (addr, task)
}

/// Fetches from `addr` through a verifier that would wait 10 s for the body;
/// returns how long the refusal took.
async fn refused_fetch_time(addr: SocketAddr) -> Duration {
    let settings = JwksSettings {
        fetch_timeout: Duration::from_secs(10),
        ..settings(addr, Duration::from_secs(60))
    };
    let verifier = TokenVerifier::default().and_jwks(settings, 0);
    let token = TestKey::ed25519("k").sign(&claims("alice"));
    let started = Instant::now();
    assert_eq!(
        verifier.verify(&token).await,
        Err(AuthError::KeysUnavailable),
        "an oversized JWKS is a failed fetch"
    );
    started.elapsed()
}

#[tokio::test]
async fn an_endless_jwks_is_abandoned_at_the_size_limit_not_read_to_the_end() {
    let (addr, server) = oversized_jwks(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        true,
    )
    .await;
    let took = refused_fetch_time(addr).await;
    assert!(took < Duration::from_secs(3), "refused after {took:?}");
    let sent = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the client hung up")
        .unwrap();
    // 256 KiB were wanted; socket buffers account for the rest.
    assert!(
        sent < 10 * 1024 * 1024,
        "{sent} bytes went out before the client hung up"
    );
}

#[tokio::test]
async fn a_jwks_announced_over_the_size_limit_is_refused_before_its_body() {
    let (addr, server) = oversized_jwks(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1073741824\r\n\r\n",
        false,
    )
    .await;
    // The body never comes: only the Content-Length can have refused it.
    let took = refused_fetch_time(addr).await;
    assert!(took < Duration::from_secs(3), "refused after {took:?}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the client hung up")
        .unwrap();
}
