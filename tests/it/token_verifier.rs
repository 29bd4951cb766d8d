//! The verifier of server JWTs, against a hostile token server: only PS512,
//! only a `jku` on the API origin, keys cached by `kid`, and every forgery
//! refused with a clear error.

use std::sync::Arc;

use crate::support;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use axum::Json;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use digime::{ContractDetails, DigiMe, ErrorKind, Token, UserAccessToken};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

struct Hostile {
    base: String,
    origin: String,
    key_pem: String,
    public_pem: String,
    other_key_pem: String,
    token: Arc<std::sync::Mutex<String>>,
    jwks_fetches: Arc<AtomicUsize>,
}

async fn hostile() -> Hostile {
    let key_pem = support::key_pem().to_owned();
    let other_key_pem = support::other_key_pem().to_owned();
    let public_pem = ContractDetails::new("k", &key_pem)
        .unwrap()
        .public_key_pem();
    let token = Arc::new(std::sync::Mutex::new(String::new()));
    let jwks_fetches = Arc::new(AtomicUsize::new(0));
    let (t, f, p) = (token.clone(), jwks_fetches.clone(), public_pem.clone());
    let p2 = public_pem.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let port = addr.port();
    let app = axum::Router::new()
        .route(
            "/v1.7/oauth/token",
            post(move || {
                let t = t.lock().unwrap().clone();
                async move { Json(serde_json::json!({ "token": t })) }
            }),
        )
        .route(
            "/v1.7/jwks/redirect",
            get(move || {
                let to = format!("http://localhost:{port}/v1.7/jwks/oauth");
                async move { axum::response::Redirect::temporary(&to) }
            }),
        )
        .route(
            "/v1.7/jwks/huge",
            get(move || {
                let p = p2.clone();
                // A valid key set, padded past 64 KiB.
                let padding: Vec<_> = (0..200)
                    .map(|i| serde_json::json!({ "kid": format!("pad-{i}"), "pem": "x".repeat(400) }))
                    .collect();
                async move {
                    let mut keys = vec![serde_json::json!({ "kid": "k1", "pem": p })];
                    keys.extend(padding);
                    Json(serde_json::json!({ "keys": keys }))
                }
            }),
        )
        .route(
            "/v1.7/jwks/oauth",
            get(move || {
                f.fetch_add(1, Ordering::SeqCst);
                let p = p.clone();
                async move { Json(serde_json::json!({ "keys": [{ "kid": "k1", "pem": p }] })) }
            }),
        );

    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Hostile {
        base: format!("http://{addr}/v1.7/"),
        origin: format!("http://{addr}"),
        key_pem,
        public_pem,
        other_key_pem,
        token,
        jwks_fetches,
    }
}

fn payload() -> serde_json::Value {
    serde_json::json!({
        "access_token": { "value": "new-access", "expires_on": 4_000_000_000u64 },
        "refresh_token": { "value": "new-refresh", "expires_on": 4_000_000_000u64 },
        "sub": "user-1",
        "consentid": "consent-1",
        "token_type": "Bearer"
    })
}

fn sign(
    alg: Algorithm,
    key: &EncodingKey,
    jku: &str,
    kid: &str,
    claims: &serde_json::Value,
) -> String {
    let mut header = Header::new(alg);
    header.jku = Some(jku.to_string());
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

async fn refresh_with(h: &Hostile, token: String) -> digime::Result<UserAccessToken> {
    *h.token.lock().unwrap() = token;
    let sdk = DigiMe::builder()
        .application_id("app")
        .base_url(&h.base)
        .max_retries(0)
        .build()
        .unwrap();
    let contract = ContractDetails::new("c", include_str!("support/keys/rsa2048.pem")).unwrap();
    let old = expired_token();
    sdk.refresh(&contract, &old).await
}

/// A token long expired: the refresh grant is the only way on.
fn expired_token() -> UserAccessToken {
    UserAccessToken::new(
        Token::new("old", UNIX_EPOCH + Duration::from_secs(1)),
        Token::new("old-r", UNIX_EPOCH + Duration::from_secs(2)),
        None,
        None,
    )
}

fn assert_rejected(result: digime::Result<UserAccessToken>, what: &str) {
    let err = result.expect_err(what);
    assert_eq!(err.kind(), ErrorKind::TokenVerification, "{what}: {err:?}");
    // digi.me answered the refresh with success: it happened, whatever its
    // token holds, and the error must not hide that.
    assert!(err.refresh_may_have_happened(), "{what}: {err:?}");
    assert!(err.user_access_token().is_some(), "{what}: {err:?}");
}

#[tokio::test]
async fn a_good_token_verifies_and_one_fetch_serves_many() {
    let h = hostile().await;
    let key = EncodingKey::from_rsa_pem(h.key_pem.as_bytes()).unwrap();
    let jku = format!("{}jwks/oauth", h.base);
    let good = sign(Algorithm::PS512, &key, &jku, "k1", &payload());
    *h.token.lock().unwrap() = good;
    let sdk = DigiMe::builder()
        .application_id("app")
        .base_url(&h.base)
        .build()
        .unwrap();
    let contract = ContractDetails::new("c", include_str!("support/keys/rsa2048.pem")).unwrap();
    let old = expired_token();
    for _ in 0..5 {
        let t = sdk.refresh(&contract, &old).await.expect("verifies");
        assert_eq!(t.user_id(), Some("user-1"));
        assert_eq!(t.consent_id(), Some("consent-1"));
        assert_eq!(
            t.access_token().expires_at(),
            UNIX_EPOCH + Duration::from_secs(4_000_000_000)
        );
    }
    assert_eq!(
        h.jwks_fetches.load(Ordering::SeqCst),
        1,
        "keys are cached by kid"
    );
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let h = hostile().await;
    let key = EncodingKey::from_secret(h.public_pem.as_bytes());
    let jku = format!("{}jwks/oauth", h.base);
    assert_rejected(
        refresh_with(&h, sign(Algorithm::HS256, &key, &jku, "k1", &payload())).await,
        "alg confusion",
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let h = hostile().await;
    let header = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&serde_json::json!({"alg":"none","typ":"JWT","jku": format!("{}jwks/oauth", h.base),"kid":"k1"})).unwrap(),
    );
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload()).unwrap());
    assert_rejected(
        refresh_with(&h, format!("{header}.{body}.")).await,
        "alg none",
    );
}

#[tokio::test]
async fn a_foreign_jku_is_never_fetched() {
    let h = hostile().await;
    let key = EncodingKey::from_rsa_pem(h.key_pem.as_bytes()).unwrap();
    // The same server under another name: another origin.
    let foreign = h.origin.replace("127.0.0.1", "localhost") + "/v1.7/jwks/oauth";
    let token = sign(Algorithm::PS512, &key, &foreign, "k1", &payload());
    let err = refresh_with(&h, token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenVerification);
    assert!(err.to_string().contains("origin"), "{err}");
    let token = sign(
        Algorithm::PS512,
        &key,
        "https://evil.example/jwks",
        "k1",
        &payload(),
    );
    assert_rejected(refresh_with(&h, token).await, "foreign host");
    assert_eq!(h.jwks_fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_unknown_kid_is_refused() {
    let h = hostile().await;
    let key = EncodingKey::from_rsa_pem(h.key_pem.as_bytes()).unwrap();
    let jku = format!("{}jwks/oauth", h.base);
    let err = refresh_with(
        &h,
        sign(Algorithm::PS512, &key, &jku, "k-unknown", &payload()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenVerification);
    assert!(err.to_string().contains("k-unknown"), "{err}");
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let h = hostile().await;
    let key = EncodingKey::from_rsa_pem(h.key_pem.as_bytes()).unwrap();
    let jku = format!("{}jwks/oauth", h.base);
    let good = sign(Algorithm::PS512, &key, &jku, "k1", &payload());
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    let mut evil = payload();
    evil["sub"] = "someone-else".into();
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&evil).unwrap());
    assert_rejected(refresh_with(&h, parts.join(".")).await, "tampered");
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_refused() {
    let h = hostile().await;
    let other = EncodingKey::from_rsa_pem(h.other_key_pem.as_bytes()).unwrap();
    let jku = format!("{}jwks/oauth", h.base);
    assert_rejected(
        refresh_with(&h, sign(Algorithm::PS512, &other, &jku, "k1", &payload())).await,
        "other key",
    );
}

#[tokio::test]
async fn a_key_set_redirect_off_the_origin_is_not_followed() {
    let h = hostile().await;
    let key = EncodingKey::from_rsa_pem(h.key_pem.as_bytes()).unwrap();
    // On the API origin, but it redirects to another origin.
    let jku = format!("{}jwks/redirect", h.base);
    let err = refresh_with(&h, sign(Algorithm::PS512, &key, &jku, "k1", &payload()))
        .await
        .expect_err("a redirected key set is refused");
    assert_ne!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
    assert_eq!(
        h.jwks_fetches.load(Ordering::SeqCst),
        0,
        "the redirect was not followed"
    );
}

#[tokio::test]
async fn an_allowed_key_set_origin_is_trusted_and_only_that_one() {
    let h = hostile().await;
    let key = EncodingKey::from_rsa_pem(h.key_pem.as_bytes()).unwrap();
    // The same server under another name: another origin, allowed.
    let other_origin = h.origin.replace("127.0.0.1", "localhost");
    let jku = format!("{other_origin}/v1.7/jwks/oauth");
    *h.token.lock().unwrap() = sign(Algorithm::PS512, &key, &jku, "k1", &payload());
    let contract = ContractDetails::new("c", include_str!("support/keys/rsa2048.pem")).unwrap();
    let allowing = DigiMe::builder()
        .application_id("app")
        .base_url(&h.base)
        .allow_key_set_origin(&other_origin)
        .max_retries(0)
        .build()
        .unwrap();
    let token = allowing
        .refresh(&contract, &expired_token())
        .await
        .expect("a jku on an allowed origin verifies");
    assert_eq!(token.user_id(), Some("user-1"));
    assert_eq!(h.jwks_fetches.load(Ordering::SeqCst), 1);

    // The default stays pinned to the API origin.
    let pinned = DigiMe::builder()
        .application_id("app")
        .base_url(&h.base)
        .max_retries(0)
        .build()
        .unwrap();
    let err = pinned
        .refresh(&contract, &expired_token())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenVerification);
    // Another port on the allowed host is another origin: refused (a new
    // client: the first one remembers the rotation it made).
    let elsewhere = "http://localhost:1/v1.7/jwks/oauth";
    *h.token.lock().unwrap() = sign(Algorithm::PS512, &key, elsewhere, "k9", &payload());
    let allowing = DigiMe::builder()
        .application_id("app")
        .base_url(&h.base)
        .allow_key_set_origin(&other_origin)
        .max_retries(0)
        .build()
        .unwrap();
    let err = allowing
        .refresh(&contract, &expired_token())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenVerification, "{err:?}");
    assert!(err.to_string().contains("allowed"), "{err}");
    assert_eq!(h.jwks_fetches.load(Ordering::SeqCst), 1, "never fetched");
}

#[tokio::test]
async fn a_key_set_over_64_kib_is_refused_naming_the_cap() {
    let h = hostile().await;
    let key = EncodingKey::from_rsa_pem(h.key_pem.as_bytes()).unwrap();
    let jku = format!("{}jwks/huge", h.base);
    let err = refresh_with(&h, sign(Algorithm::PS512, &key, &jku, "k1", &payload()))
        .await
        .expect_err("a key set over the cap is not read");
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err:?}");
    assert!(err.to_string().contains("64 KiB"), "{err}");
    assert!(err.refresh_may_have_happened(), "{err:?}");
}
