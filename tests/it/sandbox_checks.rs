//! The sandbox's checks: every enforcement check gets a wrong request and
//! the documented status and code, plus the happy paths, the PKCE flow,
//! refresh rotation, faults, the control API and the binary.
//!
//! Requests are made with raw `reqwest` and hand-signed JWTs, so these tests
//! check the sandbox against the wire protocol, not against the SDK.
#![cfg(feature = "sandbox")]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use digime::UserAccessToken;
use digime::sandbox::{Fault, FaultBody, Sandbox};
use digime::secrecy::ExposeSecret;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{Map, Value, json};

const APP: &str = "app-1";
const CONTRACT: &str = "contract-1";
const USER: &str = "user-1";

/// The contract key (generated once for the whole test binary).
/// The accounts of an API answer, read as the SDK's model (what
/// `Sandbox::accounts` returns).
fn typed(accounts: &[Value]) -> Vec<digime::models::ServiceAccount> {
    serde_json::from_value(Value::Array(accounts.to_vec())).expect("accounts")
}

fn key_pem() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| digime::sandbox::generate_private_key_pem().unwrap())
}

/// Another key, never registered.
fn other_key_pem() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| digime::sandbox::generate_private_key_pem().unwrap())
}

fn public_pem(private: &str) -> String {
    digime::ContractDetails::new("x", private)
        .unwrap()
        .public_key_pem()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn nonce() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("N{:031}", N.fetch_add(1, Ordering::Relaxed))
}

fn sign_with(pem: &str, alg: Algorithm, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn sign(claims: &Value) -> String {
    sign_with(key_pem(), Algorithm::PS512, claims)
}

struct Env {
    sb: Sandbox,
    http: reqwest::Client,
    token: UserAccessToken,
}

impl Env {
    async fn new() -> Self {
        Self::with(Sandbox::builder()).await
    }

    async fn with(builder: digime::sandbox::SandboxBuilder) -> Self {
        let sb = builder.start().await.unwrap();
        sb.register_contract(APP, CONTRACT, &public_pem(key_pem()))
            .unwrap();
        sb.create_user(USER, &["acc-1", "acc-2"]).unwrap();
        let token = sb.mint_token(APP, CONTRACT, USER).unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self { sb, http, token }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sb.base_url())
    }

    fn access(&self) -> String {
        self.token
            .access_token()
            .value()
            .expose_secret()
            .to_string()
    }

    fn refresh(&self) -> String {
        self.token
            .refresh_token()
            .value()
            .expose_secret()
            .to_string()
    }

    /// Valid common claims, plus `extra`.
    fn claims(&self, extra: Value) -> Value {
        let base = json!({
            "client_id": format!("{APP}_{CONTRACT}"),
            "nonce": nonce(),
            "timestamp": now_ms(),
        });
        merged(base, extra)
    }

    fn user_claims(&self) -> Value {
        self.claims(json!({"access_token": self.access()}))
    }

    async fn get(&self, path: &str, jwt: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(jwt)
            .send()
            .await
            .unwrap()
    }

    async fn accounts_with(&self, claims: &Value) -> reqwest::Response {
        self.get("permission-access/accounts", &sign(claims)).await
    }

    fn descriptor(&self, metadata: Value) -> String {
        sign(&json!({ "metadata": metadata }))
    }

    async fn import(
        &self,
        descriptor: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        self.import_as(&sign(&self.user_claims()), descriptor, content_type, body)
            .await
    }

    async fn import_as(
        &self,
        bearer: &str,
        descriptor: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        self.http
            .post(self.url("permission-access/import"))
            .bearer_auth(bearer)
            .header("Content-Type", content_type)
            .header("FileDescriptor", descriptor)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn provider(
        &self,
        path: &str,
        account: Option<&str>,
        content_type: &str,
        body: &str,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.url(path))
            .bearer_auth(sign(&self.user_claims()))
            .header("Content-Type", content_type)
            .body(body.to_string());
        if let Some(account) = account {
            req = req.header("accountId", account);
        }
        req.send().await.unwrap()
    }

    async fn token_grant(&self, extra: Value) -> reqwest::Response {
        self.http
            .post(self.url("oauth/token"))
            .bearer_auth(sign(&self.claims(extra)))
            .send()
            .await
            .unwrap()
    }
}

fn good_metadata() -> Value {
    json!({"mimeType": "application/pdf", "accounts": [{"accountId": "acc-1"}], "tags": ["t"], "reference": ["r"]})
}

/// Asserts the status, the code in the body and in `X-Error-Code`, and a
/// reference in both; returns the message.
async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(resp.status().as_u16(), status, "status for {code}");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(header("x-error-code").as_deref(), Some(code));
    let reference = header("x-error-reference").expect("X-Error-Reference");
    assert!(!reference.is_empty());
    let message = header("x-error-message").expect("X-Error-Message");
    let body: Value = resp.json_as().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["reference"], reference.as_str());
    assert_eq!(body["error"]["message"], message.as_str());
    message
}

// ---------------------------------------------------------------- Bearer JWT

#[tokio::test]
async fn missing_or_malformed_authorization_is_406_validation_errors() {
    let env = Env::new().await;
    let r = env
        .http
        .get(env.url("permission-access/contract"))
        .send()
        .await
        .unwrap();
    expect_error(r, 406, "ValidationErrors").await;
    let r = env
        .http
        .get(env.url("permission-access/contract"))
        .header("Authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    expect_error(r, 406, "ValidationErrors").await;
    for junk in ["not-a-jwt", "a.b.c", "eyJhbGciOiJQUzUxMiJ9.!!!.sig"] {
        let r = env.get("permission-access/contract", junk).await;
        expect_error(r, 406, "ValidationErrors").await;
    }
}

#[tokio::test]
async fn non_ps512_algorithms_are_406_validation_errors() {
    let env = Env::new().await;
    for alg in [Algorithm::RS256, Algorithm::RS512, Algorithm::PS256] {
        let jwt = sign_with(key_pem(), alg, &env.claims(json!({})));
        let r = env.get("permission-access/contract", &jwt).await;
        expect_error(r, 406, "ValidationErrors").await;
    }
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &env.claims(json!({})),
        &EncodingKey::from_secret(b"secret"),
    )
    .unwrap();
    let r = env.get("permission-access/contract", &hs).await;
    expect_error(r, 406, "ValidationErrors").await;
}

#[tokio::test]
async fn a_signature_by_another_key_is_406_validation_errors() {
    let env = Env::new().await;
    let jwt = sign_with(other_key_pem(), Algorithm::PS512, &env.claims(json!({})));
    let r = env.get("permission-access/contract", &jwt).await;
    expect_error(r, 406, "ValidationErrors").await;
}

#[tokio::test]
async fn an_unknown_client_id_is_403_invalid_client() {
    let env = Env::new().await;
    for client_id in ["app-1_other", "other_contract-1", "app-1contract-1"] {
        let jwt = sign(&env.claims(json!({ "client_id": client_id })));
        let r = env.get("permission-access/contract", &jwt).await;
        expect_error(r, 403, "InvalidClient").await;
    }
    let r = env
        .get(
            "permission-access/contract",
            &sign(&env.claims(json!({"client_id": null}))),
        )
        .await;
    expect_error(r, 406, "ValidationErrors").await;
}

#[tokio::test]
async fn malformed_nonce_or_timestamp_claims_are_406_validation_errors() {
    let env = Env::new().await;
    let cases = [
        json!({"nonce": null}),
        json!({"nonce": "short"}),
        json!({"nonce": "0123456789012345678901234567890-"}),
        json!({"nonce": "012345678901234567890123456789012"}),
        json!({"nonce": 12345}),
        json!({"timestamp": null}),
        json!({"timestamp": "1700000000000"}),
    ];
    for extra in cases {
        let r = env
            .get(
                "permission-access/contract",
                &sign(&env.claims(extra.clone())),
            )
            .await;
        let msg = expect_error(r, 406, "ValidationErrors").await;
        let field = extra.as_object().unwrap().keys().next().unwrap().clone();
        assert!(msg.contains(&field), "{msg} should name {field}");
    }
}

#[tokio::test]
async fn a_reused_nonce_is_406_invalid_request() {
    let env = Env::new().await;
    let claims = env.claims(json!({}));
    let r = env.get("permission-access/contract", &sign(&claims)).await;
    assert_eq!(r.status(), 200);
    // Same nonce, new signature (PSS is randomised): still a replay.
    let r = env.get("permission-access/contract", &sign(&claims)).await;
    expect_error(r, 406, "InvalidRequest").await;
}

#[tokio::test]
async fn a_nonce_is_recorded_only_after_the_signature_verifies() {
    let env = Env::new().await;
    let claims = env.claims(json!({}));
    let forged = sign_with(other_key_pem(), Algorithm::PS512, &claims);
    let r = env.get("permission-access/contract", &forged).await;
    expect_error(r, 406, "ValidationErrors").await;
    let r = env.get("permission-access/contract", &sign(&claims)).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_timestamp_off_by_more_than_five_minutes_is_406_invalid_request() {
    let env = Env::new().await;
    for offset in [-6 * 60_000i64, 6 * 60_000] {
        let ts = now_ms() as i64 + offset;
        let r = env
            .get(
                "permission-access/contract",
                &sign(&env.claims(json!({ "timestamp": ts }))),
            )
            .await;
        expect_error(r, 406, "InvalidRequest").await;
    }
    let ts = now_ms() - 4 * 60_000;
    let r = env
        .get(
            "permission-access/contract",
            &sign(&env.claims(json!({ "timestamp": ts }))),
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn bad_access_tokens_are_401_invalid_token() {
    let env = Env::new().await;
    // Missing.
    let r = env.accounts_with(&env.claims(json!({}))).await;
    expect_error(r, 401, "InvalidToken").await;
    // Unknown.
    let r = env
        .accounts_with(&env.claims(json!({"access_token": "nope"})))
        .await;
    expect_error(r, 401, "InvalidToken").await;
    // Issued to another contract of the same key.
    env.sb
        .register_contract(APP, "contract-2", &public_pem(key_pem()))
        .unwrap();
    let other = env.sb.mint_token(APP, "contract-2", USER).unwrap();
    let r = env
        .accounts_with(
            &env.claims(json!({"access_token": other.access_token().value().expose_secret()})),
        )
        .await;
    expect_error(r, 401, "InvalidToken").await;
    // Valid, then expired.
    let r = env.accounts_with(&env.user_claims()).await;
    assert_eq!(r.status(), 200);
    env.sb.expire_access_token(USER);
    let r = env.accounts_with(&env.user_claims()).await;
    expect_error(r, 401, "InvalidToken").await;
}

#[tokio::test]
async fn short_token_lifetimes_expire_by_themselves() {
    let env = Env::new().await;
    // The first call must land within the lifetime: 1.5 s leaves a busy
    // machine ample room (it takes milliseconds). The sleep only has to
    // outlast the lifetime, which a sleep always does.
    env.sb
        .set_token_lifetimes(Duration::from_millis(1500), Duration::from_secs(60));
    let token = env.sb.mint_token(APP, CONTRACT, USER).unwrap();
    let claims =
        |e: &Env| e.claims(json!({"access_token": token.access_token().value().expose_secret()}));
    assert_eq!(env.accounts_with(&claims(&env)).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    expect_error(env.accounts_with(&claims(&env)).await, 401, "InvalidToken").await;
}

// ---------------------------------------------------------------- library import

#[tokio::test]
async fn import_stores_the_file_with_size_sha256_and_descriptor() {
    let env = Env::new().await;
    let r = env
        .import(
            &env.descriptor(good_metadata()),
            "application/octet-stream",
            b"%PDF-1.7 hello".to_vec(),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json_as().await.unwrap();
    assert_eq!(body["status"], "delivered");
    assert!(body["expires"].as_u64().unwrap() > now_ms() / 1000);
    let lib = env.sb.library(USER);
    assert_eq!(lib.len(), 1);
    let e = &lib[0];
    assert_eq!(e.mime_type, "application/pdf");
    assert_eq!(e.size, 14);
    assert_eq!(e.sha256, sha256_hex(b"%PDF-1.7 hello"));
    assert_eq!(e.descriptor, good_metadata());
    assert_eq!(e.bytes.as_deref(), Some(&b"%PDF-1.7 hello"[..]));
    assert_eq!(e.contract_id, CONTRACT);
}

#[tokio::test]
async fn import_needs_octet_stream() {
    let env = Env::new().await;
    for ct in ["application/json", "text/plain", ""] {
        let r = env
            .import(&env.descriptor(good_metadata()), ct, b"x".to_vec())
            .await;
        let msg = expect_error(r, 406, "ValidationErrors").await;
        assert!(msg.contains("Content-Type"), "{msg}");
    }
    assert!(env.sb.library(USER).is_empty());
}

#[tokio::test]
async fn the_file_descriptor_must_be_a_jwt_of_the_same_key_with_only_metadata() {
    let env = Env::new().await;
    let other = sign_with(
        other_key_pem(),
        Algorithm::PS512,
        &json!({"metadata": good_metadata()}),
    );
    let rs256 = sign_with(
        key_pem(),
        Algorithm::RS256,
        &json!({"metadata": good_metadata()}),
    );
    let extra = sign(&json!({"metadata": good_metadata(), "iat": 1}));
    let none = sign(&json!({"meta": good_metadata()}));
    for descriptor in [
        other.as_str(),
        rs256.as_str(),
        extra.as_str(),
        none.as_str(),
        "garbage",
    ] {
        let r = env
            .import(descriptor, "application/octet-stream", b"x".to_vec())
            .await;
        let msg = expect_error(r, 406, "ValidationErrors").await;
        assert!(msg.contains("FileDescriptor"), "{msg}");
    }
    // Missing altogether.
    let r = env
        .http
        .post(env.url("permission-access/import"))
        .bearer_auth(sign(&env.user_claims()))
        .header("Content-Type", "application/octet-stream")
        .body("x")
        .send()
        .await
        .unwrap();
    expect_error(r, 406, "ValidationErrors").await;
    assert!(env.sb.library(USER).is_empty());
}

#[tokio::test]
async fn the_metadata_schema_is_checked_and_errors_name_the_field() {
    let env = Env::new().await;
    let cases = [
        (json!({"accounts": [{"accountId": "a"}]}), "mimeType"),
        (
            json!({"mimeType": "", "accounts": [{"accountId": "a"}]}),
            "mimeType",
        ),
        (
            json!({"mimeType": 7, "accounts": [{"accountId": "a"}]}),
            "mimeType",
        ),
        (json!({"mimeType": "text/plain"}), "accounts"),
        (
            json!({"mimeType": "text/plain", "accounts": []}),
            "accounts",
        ),
        (
            json!({"mimeType": "text/plain", "accounts": {"accountId": "a"}}),
            "accounts",
        ),
        (
            json!({"mimeType": "text/plain", "accounts": [{"id": "a"}]}),
            "accounts[0].accountId",
        ),
        (
            json!({"mimeType": "text/plain", "accounts": [{"accountId": "a"}, {"accountId": 3}]}),
            "accounts[1].accountId",
        ),
        (
            json!({"mimeType": "text/plain", "accounts": ["a"]}),
            "accounts[0].accountId",
        ),
        (
            json!({"mimeType": "text/plain", "accounts": [{"accountId": "a"}], "tags": ["x", null]}),
            "tags",
        ),
        (
            json!({"mimeType": "text/plain", "accounts": [{"accountId": "a"}], "tags": "x"}),
            "tags",
        ),
        (
            json!({"mimeType": "text/plain", "accounts": [{"accountId": "a"}], "reference": [1]}),
            "reference",
        ),
        (json!("not an object"), "metadata"),
    ];
    for (metadata, field) in cases {
        let r = env
            .import(
                &env.descriptor(metadata.clone()),
                "application/octet-stream",
                b"x".to_vec(),
            )
            .await;
        let msg = expect_error(r, 406, "ValidationErrors").await;
        assert!(
            msg.contains(field),
            "{metadata}: `{msg}` should name {field}"
        );
    }
    assert!(env.sb.library(USER).is_empty());
}

#[tokio::test]
async fn a_read_contract_may_not_push() {
    let env = Env::new().await;
    env.sb
        .register_read_contract(APP, "reader", &public_pem(key_pem()))
        .unwrap();
    let token = env.sb.mint_token(APP, "reader", USER).unwrap();
    let claims = json!({
        "client_id": format!("{APP}_reader"), "nonce": nonce(), "timestamp": now_ms(),
        "access_token": token.access_token().value().expose_secret(),
    });
    let r = env
        .import_as(
            &sign(&claims),
            &env.descriptor(good_metadata()),
            "application/octet-stream",
            b"x".to_vec(),
        )
        .await;
    expect_error(r, 403, "InsufficientScope").await;
    let claims = json!({
        "client_id": format!("{APP}_reader"), "nonce": nonce(), "timestamp": now_ms(),
        "access_token": token.access_token().value().expose_secret(),
    });
    let r = env
        .http
        .post(env.url("permission-access/import/h:accountId/fhir/stu3"))
        .bearer_auth(sign(&claims))
        .header("accountId", "acc-1")
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "InsufficientScope").await;
    assert!(env.sb.library(USER).is_empty());
}

#[tokio::test]
async fn a_multi_megabyte_import_is_streamed_hashed_and_capped() {
    let env = Env::with(Sandbox::builder().keep_bytes_up_to(1 << 20)).await;
    let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let chunks = 96; // 6 MiB
    let mut whole = Vec::with_capacity(chunk.len() * chunks);
    for _ in 0..chunks {
        whole.extend_from_slice(&chunk);
    }
    let stream = futures_util::stream::iter(
        (0..chunks).map(move |_| Ok::<_, std::io::Error>(bytes::Bytes::from(chunk.clone()))),
    );
    let r = env
        .http
        .post(env.url("permission-access/import"))
        .bearer_auth(sign(&env.user_claims()))
        .header("Content-Type", "application/octet-stream")
        .header("FileDescriptor", env.descriptor(good_metadata()))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let lib = env.sb.library(USER);
    assert_eq!(lib[0].size, whole.len() as u64);
    assert_eq!(lib[0].sha256, sha256_hex(&whole));
    assert!(lib[0].bytes.is_none(), "over the 1 MiB cap: bytes not kept");
    let record = env
        .sb
        .requests()
        .into_iter()
        .find(|r| r.path == "permission-access/import")
        .unwrap();
    assert_eq!(record.body_size, Some(whole.len() as u64));
    assert_eq!(
        record.body_sha256.as_deref(),
        Some(sha256_hex(&whole).as_str())
    );
}

// ---------------------------------------------------------------- provider import

#[tokio::test]
async fn provider_import_checks_standard_version_account_type_and_body() {
    let env = Env::new().await;
    let ok = "permission-access/import/h:accountId/fhir/stu3";
    let cases: [(&str, Option<&str>, &str, &str, &str); 8] = [
        (
            "permission-access/import/h:accountId/hl7/stu3",
            Some("acc-1"),
            "application/json",
            "{}",
            "standard",
        ),
        (
            "permission-access/import/h:accountId/fhir/r4",
            Some("acc-1"),
            "application/json",
            "{}",
            "version",
        ),
        (ok, None, "application/json", "{}", "accountId"),
        (
            ok,
            Some("acc-unknown"),
            "application/json",
            "{}",
            "accountId",
        ),
        (ok, Some("acc-1"), "text/plain", "{}", "Content-Type"),
        (ok, Some("acc-1"), "application/json", "[1,2]", "body"),
        (ok, Some("acc-1"), "application/json", "\"x\"", "body"),
        (ok, Some("acc-1"), "application/json", "{not json", "body"),
    ];
    for (path, account, ct, body, field) in cases {
        let r = env.provider(path, account, ct, body).await;
        let msg = expect_error(r, 406, "ValidationErrors").await;
        assert!(
            msg.contains(field),
            "{path} {body}: `{msg}` should name {field}"
        );
    }
    assert!(env.sb.provider_pushes(USER).is_empty());

    let bundle = r#"{"resourceType":"Bundle","type":"collection","entry":[]}"#;
    for version in ["stu3", "3.0.2"] {
        let path = format!("permission-access/import/h:accountId/fhir/{version}");
        let r = env
            .provider(&path, Some("acc-2"), "application/json", bundle)
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json_as::<Value>().await.unwrap()["status"], "delivered");
    }
    let pushes = env.sb.provider_pushes(USER);
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[0].account_id, "acc-2");
    assert_eq!(
        (pushes[0].standard.as_str(), pushes[0].version.as_str()),
        ("fhir", "stu3")
    );
    assert_eq!(pushes[1].version, "3.0.2");
    assert_eq!(pushes[0].sha256, sha256_hex(bundle.as_bytes()));
    assert_eq!(pushes[0].body["resourceType"], "Bundle");
}

// ---------------------------------------------------------------- other endpoints

#[tokio::test]
async fn contract_info_accounts_and_delete_user() {
    let env = Env::new().await;
    let r = env
        .get("permission-access/contract", &sign(&env.claims(json!({}))))
        .await;
    assert_eq!(r.status(), 200);
    let c: Value = r.json_as().await.unwrap();
    assert_eq!(c["id"], CONTRACT);
    assert_eq!(c["accessType"], "w");
    assert_eq!(c["application"]["id"], APP);
    for field in [
        "certificate",
        "certificateContractSchemaVersion",
        "partnerId",
        "type",
    ] {
        assert!(c[field].is_string(), "{field}");
    }
    assert!(c["expirationDate"].is_number());
    assert!(c["application"]["status"].is_number());

    let r = env.accounts_with(&env.user_claims()).await;
    assert_eq!(r.status(), 200);
    let accounts: Vec<Value> = r.json_as().await.unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0]["id"], "acc-1");
    assert_eq!(accounts[0]["reference"], "ref-acc-1");
    assert_eq!(accounts[0]["type"], "USER");
    for f in [
        "createdDate",
        "updatedDate",
        "serviceGroupId",
        "serviceTypeId",
        "sourceId",
    ] {
        assert!(accounts[0][f].is_number(), "{f}");
    }
    for f in [
        "serviceGroupName",
        "serviceTypeName",
        "serviceTypeReference",
    ] {
        assert!(accounts[0][f].is_string(), "{f}");
    }
    assert_eq!(env.sb.accounts(USER), typed(&accounts));

    let r = env
        .import(
            &env.descriptor(good_metadata()),
            "application/octet-stream",
            b"x".to_vec(),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(env.sb.library(USER).len(), 1);
    let r = env
        .http
        .delete(env.url("user"))
        .bearer_auth(sign(&env.user_claims()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(env.sb.library(USER).is_empty());
    // The token is gone with the library.
    expect_error(
        env.accounts_with(&env.user_claims()).await,
        401,
        "InvalidToken",
    )
    .await;
    let r = env
        .http
        .delete(env.url("user"))
        .bearer_auth(sign(&env.claims(json!({}))))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "InvalidToken").await;
}

#[tokio::test]
async fn unknown_routes_get_the_error_shape() {
    let env = Env::new().await;
    let r = env.http.get(env.url("nope")).send().await.unwrap();
    expect_error(r, 404, "NotFound").await;
}

// ---------------------------------------------------------------- authorization

fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(nonce());
    let challenge = URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
    (verifier, challenge)
}

fn agent() -> Value {
    json!({"agent": {"sdk": {"name": "rust", "version": "0.1.0", "meta": {}}}, "actions": {}})
}

/// Verifies a server JWT through the key set at its `jku`.
async fn verify_server_jwt(env: &Env, jwt: &str) -> Value {
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, Algorithm::PS512);
    let jku = header.jku.expect("jku");
    assert_eq!(jku, env.url("jwks/oauth"));
    let kid = header.kid.expect("kid");
    let set: Value = env
        .http
        .get(&jku)
        .send()
        .await
        .unwrap()
        .json_as()
        .await
        .unwrap();
    let pem = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("kid in the key set")["pem"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    let mut v = jsonwebtoken::Validation::new(Algorithm::PS512);
    v.required_spec_claims.clear();
    v.validate_aud = false;
    jsonwebtoken::decode::<Value>(jwt, &DecodingKey::from_rsa_pem(pem.as_bytes()).unwrap(), &v)
        .unwrap()
        .claims
}

async fn authorize(env: &Env, challenge: &str, extra: Value) -> reqwest::Response {
    let claims = env.claims(json!({
        "redirect_uri": "https://app.example/callback?x=1",
        "state": "state-123",
        "response_mode": "query",
        "response_type": "code",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }));
    let claims = merged(claims, extra);
    env.http
        .post(env.url("oauth/authorize"))
        .bearer_auth(sign(&claims))
        .json_body(&agent())
        .send()
        .await
        .unwrap()
}

/// authorize → onboard; returns the callback query.
async fn consent(env: &Env, challenge: &str, extra: Value) -> Map<String, Value> {
    let r = authorize(env, challenge, extra).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json_as().await.unwrap();
    assert!(body["session"]["key"].is_string());
    assert!(body["session"]["expiry"].as_u64().unwrap() > now_ms());
    let claims = verify_server_jwt(env, body["token"].as_str().unwrap()).await;
    let code = claims["preauthorization_code"].as_str().unwrap();
    let onboard = format!(
        "{}authorize?code={code}&sourceType=push",
        env.sb.onboard_url()
    );
    let r = env.http.get(&onboard).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("https://app.example/callback?x=1&"),
        "{location}"
    );
    // The preauthorization code is single-use.
    let again = env.http.get(&onboard).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(
        again.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

#[tokio::test]
async fn the_pkce_flow_issues_a_verified_token_for_a_new_account() {
    let env = Env::new().await;
    let (verifier, challenge) = pkce();
    let q = consent(&env, &challenge, json!({})).await;
    assert_eq!(q["success"], "true");
    assert_eq!(q["state"], "state-123");
    let code = q["code"].as_str().unwrap();
    let r = env
        .token_grant(
            json!({"grant_type": "authorization_code", "code": code, "code_verifier": verifier}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json_as().await.unwrap();
    let payload = verify_server_jwt(&env, body["token"].as_str().unwrap()).await;
    assert_eq!(payload["token_type"], "Bearer");
    assert!(payload["consentid"].is_string());
    let user = payload["sub"].as_str().unwrap().to_string();
    assert!(payload["access_token"]["expires_on"].as_u64().unwrap() > now_ms() / 1000);
    assert!(payload["refresh_token"]["value"].is_string());
    let access = payload["access_token"]["value"].as_str().unwrap();

    // The account reference in the callback is the new account's reference.
    let r = env
        .accounts_with(&env.claims(json!({ "access_token": access })))
        .await;
    let accounts: Vec<Value> = r.json_as().await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["reference"], q["accountReference"]);
    assert_eq!(env.sb.accounts(&user), typed(&accounts));

    // The authorization code is single-use.
    let r = env
        .token_grant(
            json!({"grant_type": "authorization_code", "code": code, "code_verifier": verifier}),
        )
        .await;
    expect_error(r, 406, "InvalidRequest").await;

    // Authorizing again with the access token links to the same user.
    let (_, challenge2) = pkce();
    let q2 = consent(&env, &challenge2, json!({ "access_token": access })).await;
    assert_eq!(q2["success"], "true");
    assert_eq!(env.sb.accounts(&user).len(), 2);
}

#[tokio::test]
async fn a_wrong_code_verifier_or_unknown_code_is_406_invalid_request() {
    let env = Env::new().await;
    let (_, challenge) = pkce();
    let q = consent(&env, &challenge, json!({})).await;
    let code = q["code"].as_str().unwrap();
    let (wrong_verifier, _) = pkce();
    let r = env
        .token_grant(json!({"grant_type": "authorization_code", "code": code, "code_verifier": wrong_verifier}))
        .await;
    expect_error(r, 406, "InvalidRequest").await;
    let r = env
        .token_grant(
            json!({"grant_type": "authorization_code", "code": "unknown", "code_verifier": "v"}),
        )
        .await;
    expect_error(r, 406, "InvalidRequest").await;
    let r = env.token_grant(json!({"grant_type": "password"})).await;
    expect_error(r, 406, "InvalidRequest").await;
    let r = env.token_grant(json!({})).await;
    expect_error(r, 406, "ValidationErrors").await;
}

#[tokio::test]
async fn authorize_checks_the_body_redirect_uri_and_pkce_claims() {
    let env = Env::new().await;
    let (_, challenge) = pkce();
    // No agent.sdk.name.
    let r = env
        .http
        .post(env.url("oauth/authorize"))
        .bearer_auth(sign(&env.claims(json!({
            "redirect_uri": "https://app.example/cb", "state": "s", "response_mode": "query",
            "response_type": "code", "code_challenge": challenge, "code_challenge_method": "S256"}))))
        .json_body(&json!({"agent": {"sdk": {}}}))
        .send()
        .await
        .unwrap();
    let msg = expect_error(r, 406, "ValidationErrors").await;
    assert!(msg.contains("agent.sdk.name"), "{msg}");
    for uri in [json!("not a url"), json!("ftp://x/cb"), json!(null)] {
        let r = authorize(&env, &challenge, json!({ "redirect_uri": uri })).await;
        expect_error(r, 400, "InvalidRedirectUri").await;
    }
    for extra in [
        json!({"code_challenge_method": "plain"}),
        json!({"response_type": "token"}),
        json!({"response_mode": "fragment"}),
        json!({"code_challenge": "short"}),
        json!({"code_challenge": null}),
    ] {
        let r = authorize(&env, &challenge, extra).await;
        expect_error(r, 406, "ValidationErrors").await;
    }
    let r = authorize(&env, &challenge, json!({"access_token": "unknown"})).await;
    expect_error(r, 401, "InvalidToken").await;
}

#[tokio::test]
async fn a_configured_consent_failure_redirects_with_the_error_code() {
    let env = Env::new().await;
    env.sb
        .set_consent_failure(Some("ServiceAuthorizationError".into()));
    let (_, challenge) = pkce();
    let q = consent(&env, &challenge, json!({})).await;
    assert_eq!(q["success"], "false");
    assert_eq!(q["errorCode"], "ServiceAuthorizationError");
    assert_eq!(q["state"], "state-123");
    assert!(!q.contains_key("code"));
    let r = env
        .http
        .get(format!("{}authorize?code=unknown", env.sb.onboard_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

// ---------------------------------------------------------------- refresh

#[tokio::test]
async fn the_refresh_grant_rotates_and_the_old_tokens_die() {
    let env = Env::new().await;
    let r = env
        .token_grant(json!({"grant_type": "refresh_token", "refresh_token": env.refresh()}))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json_as().await.unwrap();
    let payload = verify_server_jwt(&env, body["token"].as_str().unwrap()).await;
    assert_eq!(payload["sub"], USER);
    let new_access = payload["access_token"]["value"].as_str().unwrap();
    assert_ne!(new_access, env.access());
    assert_eq!(env.sb.refresh_count(), 1);

    // The old refresh token is spent; the old access token is gone.
    let r = env
        .token_grant(json!({"grant_type": "refresh_token", "refresh_token": env.refresh()}))
        .await;
    expect_error(r, 401, "InvalidToken").await;
    expect_error(
        env.accounts_with(&env.user_claims()).await,
        401,
        "InvalidToken",
    )
    .await;
    let r = env
        .accounts_with(&env.claims(json!({ "access_token": new_access })))
        .await;
    assert_eq!(r.status(), 200);

    // Unknown and expired refresh tokens.
    let r = env
        .token_grant(json!({"grant_type": "refresh_token", "refresh_token": "nope"}))
        .await;
    expect_error(r, 401, "InvalidToken").await;
    env.sb.expire_refresh_token(USER);
    let new_refresh = payload["refresh_token"]["value"].as_str().unwrap();
    let r = env
        .token_grant(json!({"grant_type": "refresh_token", "refresh_token": new_refresh}))
        .await;
    expect_error(r, 401, "InvalidToken").await;
    assert_eq!(env.sb.refresh_count(), 1);
}

// ---------------------------------------------------------------- account lifecycle

/// `POST oauth/token/reference` with valid claims plus `extra` (a `null`
/// removes a claim), and `body`.
async fn token_reference(env: &Env, extra: Value, body: &Value) -> reqwest::Response {
    let claims = env.claims(json!({
        "access_token": env.access(),
        "redirect_uri": "https://app.example/lifecycle",
        "state": "state-l",
    }));
    let claims = merged(claims, extra);
    env.http
        .post(env.url("oauth/token/reference"))
        .bearer_auth(sign(&claims))
        .json_body(body)
        .send()
        .await
        .unwrap()
}

/// The body without `actions`, as the SDKs send it without session options.
fn bare_agent() -> Value {
    json!({"agent": {"sdk": {"name": "rust", "version": "0.1.0", "meta": {}}}})
}

/// A reference code from a successful call, and the answer's body.
async fn reference_code(env: &Env, extra: Value, body: &Value) -> (String, Value) {
    let r = token_reference(env, extra, body).await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json_as().await.unwrap();
    let claims = verify_server_jwt(env, answer["token"].as_str().unwrap()).await;
    (
        claims["reference_code"].as_str().unwrap().to_string(),
        answer,
    )
}

/// Opens a consent page; returns the status and, for a redirect, the
/// callback's query.
async fn open_page(env: &Env, page: &str) -> (u16, Map<String, Value>) {
    let r = env
        .http
        .get(format!("{}{page}", env.sb.onboard_url()))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    if status != 302 {
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{page}: a bad link gets an HTML page"
        );
        return (status, Map::new());
    }
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let query = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    (status, query)
}

#[tokio::test]
async fn an_expired_refresh_token_says_so_on_every_try() {
    let env = Env::new().await;
    env.sb.expire_refresh_token(USER);
    for _ in 0..2 {
        let r = env
            .token_grant(json!({"grant_type": "refresh_token", "refresh_token": env.refresh()}))
            .await;
        let msg = expect_error(r, 401, "InvalidToken").await;
        assert!(msg.contains("expired"), "{msg}");
    }
    assert_eq!(env.sb.refresh_count(), 0);
}

#[tokio::test]
async fn the_reference_call_checks_the_token_callback_state_pkce_and_body() {
    let env = Env::new().await;
    let (_, challenge) = pkce();
    let body = bare_agent();
    for (extra, status, code) in [
        (json!({"access_token": null}), 401, "InvalidToken"),
        (json!({"access_token": "unknown"}), 401, "InvalidToken"),
        (json!({"redirect_uri": null}), 400, "InvalidRedirectUri"),
        (
            json!({"redirect_uri": "not a url"}),
            400,
            "InvalidRedirectUri",
        ),
        (
            json!({"redirect_uri": "ftp://x/cb"}),
            400,
            "InvalidRedirectUri",
        ),
        (json!({"state": 7}), 406, "ValidationErrors"),
        (
            json!({"code_challenge": challenge}),
            406,
            "ValidationErrors",
        ),
        (
            json!({"code_challenge_method": "S256"}),
            406,
            "ValidationErrors",
        ),
        (
            json!({"code_challenge": challenge, "code_challenge_method": "plain"}),
            406,
            "ValidationErrors",
        ),
        (
            json!({"code_challenge": "short", "code_challenge_method": "S256"}),
            406,
            "ValidationErrors",
        ),
    ] {
        let r = token_reference(&env, extra.clone(), &body).await;
        assert_eq!(r.status().as_u16(), status, "{extra}");
        expect_error(r, status, code).await;
    }
    let r = token_reference(&env, json!({}), &json!({"agent": {"sdk": {}}})).await;
    let msg = expect_error(r, 406, "ValidationErrors").await;
    assert!(msg.contains("agent.sdk.name"), "{msg}");
    let with_bad_actions = json!({"agent": {"sdk": {"name": "x"}}, "actions": "pull"});
    let r = token_reference(&env, json!({}), &with_bad_actions).await;
    let msg = expect_error(r, 406, "ValidationErrors").await;
    assert!(msg.contains("actions"), "{msg}");

    // Without `actions`, no session; with them, one. A missing state is fine.
    let (_, answer) = reference_code(&env, json!({"state": null}), &body).await;
    assert!(answer.get("session").is_none(), "{answer}");
    let (_, answer) = reference_code(&env, json!({}), &agent()).await;
    assert!(answer["session"]["key"].is_string(), "{answer}");
}

#[tokio::test]
async fn a_lapsed_access_token_is_accepted_for_reauthorization_only() {
    let env = Env::new().await;
    let (verifier, challenge) = pkce();
    let pkce_claims = json!({"code_challenge": challenge, "code_challenge_method": "S256"});
    // Expired access token, live refresh token: not lapsed, refused.
    env.sb.expire_access_token(USER);
    let r = token_reference(&env, pkce_claims.clone(), &bare_agent()).await;
    expect_error(r, 401, "InvalidToken").await;
    // Once the refresh token has run out too, it is lapsed: only the call
    // with a code challenge takes it.
    env.sb.expire_refresh_token(USER);
    let r = token_reference(&env, json!({}), &bare_agent()).await;
    expect_error(r, 401, "InvalidToken").await;
    expect_error(
        env.accounts_with(&env.user_claims()).await,
        401,
        "InvalidToken",
    )
    .await;
    let (code, _) = reference_code(&env, pkce_claims, &bare_agent()).await;

    // The user-reauth page takes it once.
    let (status, q) = open_page(
        &env,
        &format!("user-reauth?code={code}&lng=nl&triggerQuery=true"),
    )
    .await;
    assert_eq!(status, 302);
    assert_eq!(q["success"], "true");
    assert_eq!(q["state"], "state-l");
    let auth_code = q["code"].as_str().unwrap().to_string();
    let (status, _) = open_page(&env, &format!("user-reauth?code={code}")).await;
    assert_eq!(status, 400, "single use");

    // The exchange needs the verifier, and gives the same user a new pair.
    let (wrong, _) = pkce();
    let r = env
        .token_grant(
            json!({"grant_type": "authorization_code", "code": auth_code, "code_verifier": wrong}),
        )
        .await;
    expect_error(r, 406, "InvalidRequest").await;
    let (_, challenge2) = pkce();
    let (code2, _) = reference_code(
        &env,
        json!({"code_challenge": challenge2, "code_challenge_method": "S256"}),
        &bare_agent(),
    )
    .await;
    let (_, q) = open_page(&env, &format!("user-reauth?code={code2}")).await;
    let r = env
        .token_grant(json!({"grant_type": "authorization_code", "code": q["code"], "code_verifier": verifier}))
        .await;
    expect_error(r, 406, "InvalidRequest").await; // bound to challenge2's verifier
    let (verifier3, challenge3) = pkce();
    let (code3, _) = reference_code(
        &env,
        json!({"code_challenge": challenge3, "code_challenge_method": "S256"}),
        &bare_agent(),
    )
    .await;
    let (_, q) = open_page(&env, &format!("user-reauth?code={code3}")).await;
    let r = env
        .token_grant(json!({"grant_type": "authorization_code", "code": q["code"], "code_verifier": verifier3}))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json_as().await.unwrap();
    let payload = verify_server_jwt(&env, body["token"].as_str().unwrap()).await;
    assert_eq!(payload["sub"], USER, "the same user");
    let fresh = payload["access_token"]["value"].as_str().unwrap();
    let r = env
        .accounts_with(&env.claims(json!({ "access_token": fresh })))
        .await;
    assert_eq!(r.status(), 200);
    // The lapsed pair is over: neither the old access nor the old refresh
    // token opens anything.
    let r = token_reference(
        &env,
        json!({"code_challenge": challenge3, "code_challenge_method": "S256"}),
        &bare_agent(),
    )
    .await;
    expect_error(r, 401, "InvalidToken").await;
    let r = env
        .token_grant(json!({"grant_type": "refresh_token", "refresh_token": env.refresh()}))
        .await;
    expect_error(r, 401, "InvalidToken").await;
}

#[tokio::test]
async fn the_user_reauth_page_needs_a_reference_code_with_a_challenge() {
    let env = Env::new().await;
    let (code, _) = reference_code(&env, json!({}), &bare_agent()).await;
    let (status, _) = open_page(&env, &format!("user-reauth?code={code}")).await;
    assert_eq!(status, 400);
    for page in ["user-reauth", "user-reauth?code=unknown"] {
        assert_eq!(open_page(&env, page).await.0, 400, "{page}");
    }
    let (_, challenge) = pkce();
    let (code, _) = reference_code(
        &env,
        json!({"code_challenge": challenge, "code_challenge_method": "S256"}),
        &bare_agent(),
    )
    .await;
    let (status, _) = open_page(&env, &format!("user-reauth?code={code}&triggerQuery=yes")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_onboard_page_checks_its_query_and_adds_an_account() {
    let env = Env::new().await;
    let scope = "%257B%2522dataType%2522%253A%255B%2522medical%2522%255D%257D";
    let bad = [
        "",
        "&sourceType=both",
        "&sourceType=push&service=abc",
        "&sourceType=push&triggerQuery=1",
        "&sourceType=push&sampleDataAutoOnboard=yes",
        "&sourceType=push&includeSampleDataOnlySources=no",
        // Encoded once only: JSON after the query's own decoding.
        "&sourceType=push&sourcesScope=%7B%22dataType%22%3A%5B%5D%7D",
        "&sourceType=push&sourcesScope=%257B%2522other%2522%253A1%257D",
    ];
    for query in bad {
        let (code, _) = reference_code(&env, json!({}), &bare_agent()).await;
        let (status, _) = open_page(&env, &format!("onboard?code={code}{query}")).await;
        assert_eq!(status, 400, "{query}");
    }
    assert_eq!(
        open_page(&env, "onboard?code=unknown&sourceType=push")
            .await
            .0,
        400
    );
    let (code, _) = reference_code(&env, json!({}), &bare_agent()).await;
    let (status, q) = open_page(
        &env,
        &format!("onboard?code={code}&sourceType=push&service=42&lng=nl&sourcesScope={scope}&sampleDataAutoOnboard=true&includeSampleDataOnlySources=false&triggerQuery=false"),
    )
    .await;
    assert_eq!(status, 302);
    assert_eq!(q["success"], "true");
    assert_eq!(q["state"], "state-l");
    assert!(!q.contains_key("code"), "nothing to exchange");
    let accounts = env.sb.accounts(USER);
    assert_eq!(accounts.len(), 3);
    let new = accounts
        .iter()
        .find(|a| a.reference.as_deref() == q["accountReference"].as_str())
        .expect("the callback's reference is the new account's");
    assert_eq!(new.service_type_id, Some(42));
    // Single use.
    assert_eq!(
        open_page(&env, &format!("onboard?code={code}&sourceType=push"))
            .await
            .0,
        400
    );
    // A refused consent.
    env.sb.set_consent_failure(Some("ConsentDeclined".into()));
    let (code, _) = reference_code(&env, json!({}), &bare_agent()).await;
    let (_, q) = open_page(&env, &format!("onboard?code={code}&sourceType=pull")).await;
    assert_eq!(q["success"], "false");
    assert_eq!(q["errorCode"], "ConsentDeclined");
    assert_eq!(env.sb.accounts(USER).len(), 3);
}

#[tokio::test]
async fn post_reference_takes_only_client_claims_and_a_known_account() {
    let env = Env::new().await;
    let post = |claims: Value, body: Value| {
        env.http
            .post(env.url("reference"))
            .bearer_auth(sign(&claims))
            .json_body(&body)
            .send()
    };
    let good = json!({"type": "accountId", "value": "acc-1"});
    let r = post(env.user_claims(), good.clone()).await.unwrap();
    let msg = expect_error(r, 406, "ValidationErrors").await;
    assert!(msg.contains("access_token"), "{msg}");
    for body in [
        json!({"type": "cloudId", "value": "acc-1"}),
        json!({"type": "accountId"}),
        json!({"type": "accountId", "value": ""}),
        json!({"type": "accountId", "value": "no-such-account"}),
        json!("accountId"),
    ] {
        let r = post(env.claims(json!({})), body.clone()).await.unwrap();
        expect_error(r, 406, "ValidationErrors").await;
    }
    let r = post(env.claims(json!({})), good).await.unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json_as().await.unwrap();
    assert!(answer["id"].as_str().unwrap().starts_with("accref-"));
}

#[tokio::test]
async fn the_reauthorize_page_needs_an_account_reference_of_the_user() {
    let env = Env::new().await;
    env.sb.create_user("someone-else", &["their-acc"]).unwrap();
    let account_ref = |account: &'static str| {
        let env = &env;
        async move {
            let r = env
                .http
                .post(env.url("reference"))
                .bearer_auth(sign(&env.claims(json!({}))))
                .json_body(&json!({"type": "accountId", "value": account}))
                .send()
                .await
                .unwrap();
            let answer: Value = r.json_as().await.unwrap();
            answer["id"].as_str().unwrap().to_string()
        }
    };
    let (code, _) = reference_code(&env, json!({}), &bare_agent()).await;
    assert_eq!(
        open_page(&env, &format!("reauthorize?code={code}")).await.0,
        400
    );
    let (code, _) = reference_code(&env, json!({}), &bare_agent()).await;
    assert_eq!(
        open_page(&env, &format!("reauthorize?code={code}&accountRef=nope"))
            .await
            .0,
        400
    );
    let theirs = account_ref("their-acc").await;
    let (code, _) = reference_code(&env, json!({}), &bare_agent()).await;
    assert_eq!(
        open_page(
            &env,
            &format!("reauthorize?code={code}&accountRef={theirs}")
        )
        .await
        .0,
        400
    );
    let ours = account_ref("acc-2").await;
    let (code, _) = reference_code(&env, json!({}), &bare_agent()).await;
    let (status, q) = open_page(
        &env,
        &format!("reauthorize?code={code}&accountRef={ours}&lng=en"),
    )
    .await;
    assert_eq!(status, 302);
    assert_eq!(q["success"], "true");
    assert_eq!(q["accountReference"], "ref-acc-2");
    assert_eq!(q["state"], "state-l");
}

#[tokio::test]
async fn revoke_checks_the_account_and_the_redirect_then_revokes_on_the_page() {
    let env = Env::new().await;
    let revoke = |claims: Value, account: Option<&str>, redirect: Option<&str>| {
        let mut req = env
            .http
            .get(env.url("permission-access/revoke/h:accountId"))
            .bearer_auth(sign(&claims));
        if let Some(account) = account {
            req = req.header("accountId", account);
        }
        if let Some(redirect) = redirect {
            req = req.header("redirectUri", redirect);
        }
        req.send()
    };
    let back = Some("https://app.example/revoked");
    let r = revoke(env.claims(json!({})), Some("acc-1"), back)
        .await
        .unwrap();
    expect_error(r, 401, "InvalidToken").await;
    let r = revoke(env.user_claims(), None, back).await.unwrap();
    expect_error(r, 406, "ValidationErrors").await;
    let r = revoke(env.user_claims(), Some("not-theirs"), back)
        .await
        .unwrap();
    expect_error(r, 406, "ValidationErrors").await;
    for redirect in [None, Some("not a url"), Some("ftp://x/y")] {
        let r = revoke(env.user_claims(), Some("acc-1"), redirect)
            .await
            .unwrap();
        expect_error(r, 400, "InvalidRedirectUri").await;
    }
    let r = revoke(env.user_claims(), Some("acc-1"), back)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json_as().await.unwrap();
    let location = answer["location"].as_str().unwrap();
    let page = location
        .strip_prefix(&env.sb.onboard_url())
        .expect("on the onboard site");
    let (status, q) = open_page(&env, page).await;
    assert_eq!(status, 302);
    assert_eq!(q["accountReference"], "ref-acc-1");
    assert_eq!(open_page(&env, page).await.0, 400, "single use");
    let acc = |env: &Env| {
        env.sb
            .accounts(USER)
            .into_iter()
            .find(|a| a.id == "acc-1")
            .unwrap()
    };
    assert!(!acc(&env).access_token_status.unwrap().authorized);
    let r = env
        .provider(
            "permission-access/import/h:accountId/fhir/stu3",
            Some("acc-1"),
            "application/json",
            "{}",
        )
        .await;
    expect_error(r, 403, "ServiceAuthorizationError").await;
}

#[tokio::test]
async fn delete_account_checks_the_account_then_removes_it() {
    let env = Env::new().await;
    let delete = |claims: Value, account: Option<&str>| {
        let mut req = env
            .http
            .delete(env.url("permission-access/service/h:accountId"))
            .bearer_auth(sign(&claims));
        if let Some(account) = account {
            req = req.header("accountId", account);
        }
        req.send()
    };
    let r = delete(env.claims(json!({})), Some("acc-1")).await.unwrap();
    expect_error(r, 401, "InvalidToken").await;
    let r = delete(env.user_claims(), None).await.unwrap();
    expect_error(r, 406, "ValidationErrors").await;
    let r = delete(env.user_claims(), Some("not-theirs")).await.unwrap();
    expect_error(r, 406, "ValidationErrors").await;
    let r = delete(env.user_claims(), Some("acc-1")).await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());
    let ids: Vec<String> = env.sb.accounts(USER).into_iter().map(|a| a.id).collect();
    assert_eq!(ids, ["acc-2"]);
    let r = env
        .provider(
            "permission-access/import/h:accountId/fhir/stu3",
            Some("acc-1"),
            "application/json",
            "{}",
        )
        .await;
    expect_error(r, 406, "ValidationErrors").await;
    let r = delete(env.user_claims(), Some("acc-1")).await.unwrap();
    expect_error(r, 406, "ValidationErrors").await;
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn a_503_fault_with_retry_after_then_normal_service() {
    let env = Env::new().await;
    env.sb.inject_fault(
        Fault::with_status("permission-access/accounts", 503)
            .with_retry_after(1)
            .times(2),
    );
    for _ in 0..2 {
        let r = env.accounts_with(&env.user_claims()).await;
        assert_eq!(r.headers()["retry-after"], "1");
        expect_error(r, 503, "ServiceUnavailable").await;
    }
    assert_eq!(env.accounts_with(&env.user_claims()).await.status(), 200);
    // Sub-paths match; other paths and methods do not.
    env.sb
        .inject_fault(Fault::with_status("permission-access/import", 500).for_method("POST"));
    assert_eq!(env.accounts_with(&env.user_claims()).await.status(), 200);
    let r = env
        .provider(
            "permission-access/import/h:accountId/fhir/stu3",
            Some("acc-1"),
            "application/json",
            "{}",
        )
        .await;
    expect_error(r, 500, "InternalServerError").await;
    let faults: Vec<_> = env
        .sb
        .requests()
        .into_iter()
        .filter_map(|r| r.fault)
        .collect();
    assert_eq!(faults, ["status", "status", "status"]);
}

#[tokio::test]
async fn fault_bodies_take_every_shape() {
    let env = Env::new().await;
    let path = "permission-access/contract";
    let get = || env.get(path, "irrelevant");
    env.sb
        .inject_fault(Fault::with_status(path, 502).with_body(FaultBody::Html));
    let r = get().await;
    assert_eq!(r.status(), 502);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.headers().get("x-error-code").is_none());
    assert!(r.text().await.unwrap().contains("<html>"));

    env.sb
        .inject_fault(Fault::with_status(path, 500).with_body(FaultBody::Malformed));
    let r = get().await;
    assert_eq!(r.status(), 500);
    assert!(serde_json::from_str::<Value>(&r.text().await.unwrap()).is_err());

    env.sb
        .inject_fault(Fault::with_status(path, 404).with_body(FaultBody::Empty));
    let r = get().await;
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("x-error-code").is_none());
    assert!(r.bytes().await.unwrap().is_empty());

    env.sb.inject_fault(
        Fault::with_status(path, 409)
            .with_code("Conflict")
            .with_message("only headers")
            .with_body(FaultBody::Headers),
    );
    let r = get().await;
    assert_eq!(r.headers()["x-error-code"], "Conflict");
    assert_eq!(r.headers()["x-error-message"], "only headers");
    assert!(r.bytes().await.unwrap().is_empty());

    env.sb.inject_fault(Fault::with_status(path, 503));
    env.sb.clear_faults();
    expect_error(get().await, 406, "ValidationErrors").await;
}

#[tokio::test]
async fn a_delay_fault_holds_the_response() {
    let env = Env::new().await;
    env.sb.inject_fault(Fault::with_delay(
        "permission-access/accounts",
        Duration::from_millis(400),
    ));
    let start = Instant::now();
    let r = env.accounts_with(&env.user_claims()).await;
    assert_eq!(r.status(), 200);
    assert!(start.elapsed() >= Duration::from_millis(400));
    let start = Instant::now();
    assert_eq!(env.accounts_with(&env.user_claims()).await.status(), 200);
    assert!(start.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn a_drop_fault_closes_the_connection_without_a_response() {
    let env = Env::new().await;
    env.sb
        .inject_fault(Fault::dropping_connection("permission-access/import"));
    let result = env
        .http
        .post(env.url("permission-access/import"))
        .bearer_auth(sign(&env.user_claims()))
        .header("Content-Type", "application/octet-stream")
        .header("FileDescriptor", env.descriptor(good_metadata()))
        .body(b"x".to_vec())
        .send()
        .await;
    let err = result.expect_err("the connection is dropped");
    assert!(
        err.is_request() || err.is_connect() || err.to_string().contains("connection"),
        "{err:?}"
    );
    assert!(env.sb.library(USER).is_empty(), "dropped before handling");
    let record = env.sb.requests().pop().unwrap();
    assert_eq!(
        (record.status, record.fault.as_deref()),
        (0, Some("drop_connection"))
    );

    // After handling: stored, but the client never hears.
    env.sb
        .inject_fault(Fault::dropping_connection("permission-access/import").after_handling());
    let result = env
        .http
        .post(env.url("permission-access/import"))
        .bearer_auth(sign(&env.user_claims()))
        .header("Content-Type", "application/octet-stream")
        .header("FileDescriptor", env.descriptor(good_metadata()))
        .body(b"y".to_vec())
        .send()
        .await;
    assert!(result.is_err(), "the connection is dropped after handling");
    assert_eq!(env.sb.library(USER).len(), 1, "stored before the drop");
}

// ---------------------------------------------------------------- control API

#[tokio::test]
async fn the_http_control_api_drives_everything() {
    let sb = Sandbox::start().await.unwrap();
    let http = reqwest::Client::new();
    let control = |p: &str| format!("{}{p}", sb.base_url().replace("/v1.7/", "/sandbox/"));

    // A contract with a generated key, and a user with accounts.
    let r = http
        .post(control("contracts"))
        .json_body(&json!({"app_id": "a", "contract_id": "c"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json_as().await.unwrap();
    assert_eq!(created["client_id"], "a_c");
    let private = created["private_key_pem"].as_str().unwrap().to_string();
    let r = http
        .post(control("contracts"))
        .json_body(&json!({"app_id": "a", "contract_id": "r", "public_key_pem": public_pem(&private), "access_type": "r"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .post(control("users"))
        .json_body(&json!({"user_id": "u", "accounts": ["x-1", "x-2"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let user: Value = r.json_as().await.unwrap();
    assert_eq!(user["accounts"][1]["reference"], "ref-x-2");
    assert_eq!(
        http.get(control("users/u/accounts"))
            .send()
            .await
            .unwrap()
            .json_as::<Value>()
            .await
            .unwrap(),
        user["accounts"]
    );

    // Mint a token over HTTP: the stored token shape.
    let r = http
        .post(control("users/u/token"))
        .json_body(&json!({"app_id": "a", "contract_id": "c"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token: UserAccessToken = r.json_as().await.unwrap();
    assert_eq!(token.user_id(), Some("u"));
    let access = token.access_token().value().expose_secret().to_string();

    let signed = |extra: Value| {
        let mut c = json!({"client_id": "a_c", "nonce": nonce(), "timestamp": now_ms()});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        sign_with(&private, Algorithm::PS512, &c)
    };
    let r = http
        .post(format!("{}permission-access/import", sb.base_url()))
        .bearer_auth(signed(json!({ "access_token": access })))
        .header("Content-Type", "application/octet-stream")
        .header(
            "FileDescriptor",
            sign_with(
                &private,
                Algorithm::PS512,
                &json!({"metadata": good_metadata()}),
            ),
        )
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!(
            "{}permission-access/import/h:accountId/fhir/stu3",
            sb.base_url()
        ))
        .bearer_auth(signed(json!({ "access_token": access })))
        .header("Content-Type", "application/json")
        .header("accountId", "x-1")
        .body(r#"{"resourceType":"Patient"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let library: Value = http
        .get(control("users/u/library"))
        .send()
        .await
        .unwrap()
        .json_as()
        .await
        .unwrap();
    assert_eq!(library[0]["mimeType"], "application/pdf");
    assert_eq!(library[0]["size"], 3);
    assert_eq!(library[0]["sha256"], sha256_hex(b"abc"));
    assert_eq!(library[0]["descriptor"], good_metadata());
    let provider: Value = http
        .get(control("users/u/provider"))
        .send()
        .await
        .unwrap()
        .json_as()
        .await
        .unwrap();
    assert_eq!(provider[0]["accountId"], "x-1");
    assert_eq!(provider[0]["standard"], "fhir");
    assert_eq!(provider[0]["version"], "stu3");
    assert_eq!(
        provider[0]["sha256"],
        sha256_hex(br#"{"resourceType":"Patient"}"#)
    );
    let r = http
        .get(control("users/nobody/library"))
        .send()
        .await
        .unwrap();
    expect_error(r, 404, "NotFound").await;

    // Faults over HTTP.
    let r = http
        .post(control("faults"))
        .json_body(&json!({"path": "permission-access/accounts", "count": 1, "status": 503, "retry_after": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let accounts = |extra: Value| {
        http.get(format!("{}permission-access/accounts", sb.base_url()))
            .bearer_auth(signed(extra))
            .send()
    };
    let r = accounts(json!({ "access_token": access })).await.unwrap();
    assert_eq!(r.headers()["retry-after"], "1");
    expect_error(r, 503, "ServiceUnavailable").await;
    for bad in [
        json!({"path": "x"}),
        json!({"status": 503}),
        json!({"path": "x", "status": 503, "drop_connection": true}),
        json!({"path": "x", "bogus": 1}),
    ] {
        let r = http
            .post(control("faults"))
            .json_body(&bad)
            .send()
            .await
            .unwrap();
        expect_error(r, 400, "InvalidSandboxRequest").await;
    }
    http.post(control("faults"))
        .json_body(&json!({"path": "permission-access/accounts", "drop_connection": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        http.delete(control("faults"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        accounts(json!({ "access_token": access }))
            .await
            .unwrap()
            .status(),
        200
    );

    // Expire the access token, then the refresh token.
    let r = http
        .post(control("users/u/expire-access-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    expect_error(
        accounts(json!({ "access_token": access })).await.unwrap(),
        401,
        "InvalidToken",
    )
    .await;
    http.post(control("users/u/expire-refresh-token"))
        .send()
        .await
        .unwrap();
    let r = http
        .post(format!("{}oauth/token", sb.base_url()))
        .bearer_auth(signed(json!({"grant_type": "refresh_token", "refresh_token": token.refresh_token().value().expose_secret()})))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "InvalidToken").await;

    // Lifetimes and consent failure.
    let r = http
        .post(control("token-lifetimes"))
        .json_body(&json!({"access_secs": 1, "refresh_secs": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(control("users/u/token"))
        .json_body(&json!({"app_id": "a", "contract_id": "c"}))
        .send()
        .await
        .unwrap();
    let short: UserAccessToken = r.json_as().await.unwrap();
    assert!(short.access_token().expires_at() <= SystemTime::now() + Duration::from_secs(2));
    let r = http
        .post(control("consent"))
        .json_body(&json!({"failure": "Declined"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The request log, with secrets redacted.
    let log: Vec<Value> = http
        .get(control("requests"))
        .send()
        .await
        .unwrap()
        .json_as()
        .await
        .unwrap();
    let text = serde_json::to_string(&log).unwrap();
    assert!(
        !text.contains(&access),
        "the access token leaked into the log"
    );
    assert!(
        log.iter().any(|r| r["path"] == "permission-access/import"
            && r["claims"]["access_token"] == "[redacted]")
    );
    assert!(log.iter().any(|r| r["path"] == "/sandbox/faults"));
    assert_eq!(
        http.delete(control("requests"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let log: Vec<Value> = http
        .get(control("requests"))
        .send()
        .await
        .unwrap()
        .json_as()
        .await
        .unwrap();
    assert_eq!(
        log.len(),
        1,
        "only the DELETE is logged after the clear: {log:?}"
    );
    assert_eq!(log[0]["method"], "DELETE");
    sb.shutdown().await;
}

#[tokio::test]
async fn the_request_log_records_claims_nonce_headers_and_status() {
    let env = Env::new().await;
    let claims = env.user_claims();
    let r = env.accounts_with(&claims).await;
    assert_eq!(r.status(), 200);
    let rec = env
        .sb
        .requests()
        .into_iter()
        .find(|r| r.path == "permission-access/accounts")
        .unwrap();
    assert_eq!(rec.method, "GET");
    assert_eq!(rec.status, 200);
    assert_eq!(rec.code, None);
    assert_eq!(rec.nonce.as_deref(), claims["nonce"].as_str());
    assert_eq!(rec.claims["access_token"], "[redacted]");
    assert_eq!(rec.claims["client_id"], format!("{APP}_{CONTRACT}"));
    assert!(rec.headers.iter().any(|h| h == "authorization"));
    let debug = format!("{:?}", env.sb.requests());
    assert!(!debug.contains(&env.access()));
}

#[tokio::test]
async fn the_request_log_records_the_content_length_even_when_a_fault_answered_first() {
    let env = Env::new().await;
    let descriptor =
        env.descriptor(json!({"mimeType": "text/plain", "accounts": [{"accountId": "acc-1"}]}));
    env.sb
        .inject_fault(Fault::with_status("permission-access/import", 503));
    let r = env
        .import(&descriptor, "application/octet-stream", vec![1u8; 37])
        .await;
    assert_eq!(r.status(), 503);
    let r = env
        .import(&descriptor, "application/octet-stream", vec![1u8; 41])
        .await;
    assert_eq!(r.status(), 200);
    let imports: Vec<_> = env
        .sb
        .requests()
        .into_iter()
        .filter(|r| r.path == "permission-access/import")
        .map(|r| (r.status, r.content_length, r.body_size))
        .collect();
    // The fault answered before the body was read: its size is unknown,
    // its announced length is not.
    assert_eq!(
        imports,
        vec![(503, Some(37), None), (200, Some(41), Some(41))]
    );
    let r = env.accounts_with(&env.user_claims()).await;
    assert_eq!(r.status(), 200);
    let get = env.sb.requests().pop().unwrap();
    assert_eq!(get.content_length, None, "a GET sends no length");
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let env = Env::new().await;
    let url = env.url("jwks/oauth");
    assert_eq!(env.http.get(&url).send().await.unwrap().status(), 200);
    env.sb.shutdown().await;
    let fresh = reqwest::Client::new();
    assert!(fresh.get(&url).send().await.is_err());
}

// ---------------------------------------------------------------- the binary
// (built with the feature `sandbox-bin` only)

#[cfg(feature = "sandbox-bin")]
#[tokio::test]
async fn the_binary_serves_and_writes_the_token_file() {
    use std::io::BufRead;
    let dir = std::env::temp_dir().join(format!("digime-sandbox-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem_path = dir.join("public.pem");
    std::fs::write(&pem_path, public_pem(key_pem())).unwrap();
    let token_path = dir.join("token.json");
    let _ = std::fs::remove_file(&token_path);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_digime-sandbox"))
        .args(["--port", "0", "--app-id", APP])
        .arg("--contract")
        .arg(format!("{CONTRACT}={}", pem_path.display()))
        .args([
            "--user",
            USER,
            "--accounts",
            "acc-1,acc-2",
            "--user",
            "user-2",
        ])
        .arg("--token-out")
        .arg(&token_path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        line
    })
    .await
    .unwrap();
    let base = line
        .trim()
        .strip_prefix("digime sandbox listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with("/v1.7/"),
        "{base}"
    );

    let text = std::fs::read_to_string(&token_path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let token: UserAccessToken = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&token).unwrap(), text);
    assert_eq!(token.user_id(), Some(USER));
    let claims = json!({
        "client_id": format!("{APP}_{CONTRACT}"), "nonce": nonce(), "timestamp": now_ms(),
        "access_token": token.access_token().value().expose_secret(),
    });
    let r = reqwest::Client::new()
        .get(format!("{base}permission-access/accounts"))
        .bearer_auth(sign(&claims))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let accounts: Vec<Value> = r.json_as().await.unwrap();
    assert_eq!(accounts.len(), 2);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "sandbox-bin")]
#[test]
fn the_binary_rejects_bad_flags_and_documents_them() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_digime-sandbox"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--port",
        "--app-id",
        "--contract",
        "--user",
        "--accounts",
        "--token-out",
        "NOT FOR PRODUCTION",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_digime-sandbox"))
        .args(["--port", "0", "--contract", "no-equals-sign"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_digime-sandbox"))
        .args(["--port", "0", "--token-out", "/tmp/never.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

// ---------------------------------------------------------------- helpers

/// `base` with `extra`'s claims set (a `null` removes one).
fn merged(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(c), Value::Object(e)) = (&mut base, extra) {
        for (k, v) in e {
            if v.is_null() {
                c.remove(&k);
            } else {
                c.insert(k, v);
            }
        }
    }
    base
}

/// JSON without reqwest's `json` feature.
trait JsonResponse {
    async fn json_as<T: serde::de::DeserializeOwned>(self) -> reqwest::Result<T>;
}

impl JsonResponse for reqwest::Response {
    async fn json_as<T: serde::de::DeserializeOwned>(self) -> reqwest::Result<T> {
        let bytes = self.bytes().await?;
        Ok(serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "not the expected JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        }))
    }
}

trait JsonRequest {
    fn json_body<T: serde::Serialize>(self, value: &T) -> Self;
}

impl JsonRequest for reqwest::RequestBuilder {
    fn json_body<T: serde::Serialize>(self, value: &T) -> Self {
        self.header("Content-Type", "application/json")
            .body(serde_json::to_vec(value).unwrap())
    }
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

fn sha256_hex(bytes: &[u8]) -> String {
    sha256(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
