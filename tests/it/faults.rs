//! The fault matrix (docs/reliability.md): each fault injected through the
//! sandbox's fault API, the SDK's documented outcome, and the library
//! checked on the server side: every acknowledged file stored exactly once,
//! nothing stored when the SDK reports a failure, except where the error
//! says the push may have been stored.

use crate::support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use digime::sandbox::{Fault, FaultBody, RequestRecord};
use digime::secrecy::ExposeSecret;
use digime::{Account, DigiMe, DigiMeBuilder, ErrorKind, FileDescriptor, PushOutcome};
use support::{APP, Env, USER, sha256_hex};

const IMPORT: &str = "permission-access/import";
const ACCOUNTS_PATH: &str = "permission-access/accounts";
const TOKEN: &str = "oauth/token";

/// An SDK on the same sandbox with other settings.
fn sdk_with(env: &Env, configure: impl FnOnce(DigiMeBuilder) -> DigiMeBuilder) -> DigiMe {
    configure(
        DigiMe::builder()
            .application_id(APP)
            .base_url(&env.sandbox.base_url()),
    )
    .build()
    .expect("sdk builds")
}

async fn push(sdk: &DigiMe, env: &Env, bytes: &[u8]) -> digime::Result<PushOutcome> {
    push_with(sdk, env, &env.token, bytes).await
}

async fn push_with(
    sdk: &DigiMe,
    env: &Env,
    token: &digime::UserAccessToken,
    bytes: &[u8],
) -> digime::Result<PushOutcome> {
    sdk.push(&env.contract, token)
        .library()
        .file(bytes.to_vec(), "record.json")
        .descriptor(
            FileDescriptor::builder()
                .mime_type("application/json")
                .accounts(vec![Account::new("acc-1")])
                .build(),
        )
        .send()
        .await
}

/// The requests the sandbox saw on `path`.
fn requests_to(env: &Env, path: &str) -> Vec<RequestRecord> {
    env.sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

fn statuses(env: &Env, path: &str) -> Vec<u16> {
    requests_to(env, path).iter().map(|r| r.status).collect()
}

/// The library holds exactly these files, each once.
fn assert_library(env: &Env, expected: &[&[u8]]) {
    let mut stored: Vec<String> = env
        .sandbox
        .library(USER)
        .iter()
        .map(|e| e.sha256.clone())
        .collect();
    let mut wanted: Vec<String> = expected.iter().map(|b| sha256_hex(b)).collect();
    stored.sort();
    wanted.sort();
    assert_eq!(
        stored, wanted,
        "the library holds each acknowledged file exactly once"
    );
}

/// The attempts the sandbox verified carried distinct nonces. (A fault
/// answered before the handler runs records no nonce; see
/// `every_retry_signs_a_fresh_jwt` for a retry checked end to end.)
fn assert_fresh_jwts(records: &[RequestRecord]) {
    let nonces: Vec<_> = records.iter().filter_map(|r| r.nonce.clone()).collect();
    let distinct: HashSet<_> = nonces.iter().collect();
    assert_eq!(distinct.len(), nonces.len(), "each attempt has its own JWT");
}

fn assert_not_stored_error(err: &digime::Error) {
    assert!(!err.may_have_been_stored(), "{err:?}");
    assert!(!err.to_string().contains("may have been stored"), "{err}");
}

fn assert_may_have_been_stored(err: &digime::Error) {
    assert!(err.may_have_been_stored(), "{err:?}");
    assert!(err.to_string().contains("may have been stored"), "{err}");
    assert!(
        !err.to_string().contains("retry_ambiguous_pushes"),
        "a fact, no advice: {err}"
    );
}

// ---- 503 once ----

#[tokio::test]
async fn every_retry_signs_a_fresh_jwt() {
    let env = Env::new().await;
    // The handler runs (and records the nonce as seen) before the 503: a
    // retry that reused the JWT would be refused as a replay.
    env.sandbox
        .inject_fault(Fault::with_status(ACCOUNTS_PATH, 503).after_handling());
    env.sdk
        .read_accounts(&env.contract, &env.token)
        .await
        .expect("retried with a new JWT");
    let records = requests_to(&env, ACCOUNTS_PATH);
    assert_eq!(
        records.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![503, 200]
    );
    let nonces: HashSet<_> = records
        .iter()
        .map(|r| r.nonce.clone().expect("nonce"))
        .collect();
    assert_eq!(nonces.len(), 2);
    let stamps: Vec<i64> = records
        .iter()
        .map(|r| r.claims["timestamp"].as_i64().expect("timestamp"))
        .collect();
    assert!(stamps[1] > stamps[0], "a new timestamp: {stamps:?}");
}

#[tokio::test]
async fn a_503_once_is_retried_with_a_fresh_jwt_and_stored_once() {
    let env = Env::new().await;
    env.sandbox.inject_fault(Fault::with_status(IMPORT, 503));
    let outcome = push(&env.sdk, &env, b"{\"n\":1}")
        .await
        .expect("retried to success");
    assert_eq!(outcome.status(), 200);
    assert_eq!(statuses(&env, IMPORT), vec![503, 200]);
    assert_fresh_jwts(&requests_to(&env, IMPORT));
    assert_library(&env, &[b"{\"n\":1}"]);
}

#[tokio::test]
async fn a_503_on_every_attempt_fails_after_max_retries_and_stores_nothing() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 503).times(3));
    let err = push(&env.sdk, &env, b"x").await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Server, Some(503)));
    assert_eq!(err.code(), Some("ServiceUnavailable"));
    assert_not_stored_error(&err);
    assert_eq!(
        statuses(&env, IMPORT),
        vec![503, 503, 503],
        "1 + max_retries (2) attempts"
    );
    assert_library(&env, &[]);

    // max_retries(0): one attempt only.
    let once = sdk_with(&env, |b| b.max_retries(0));
    env.sandbox.inject_fault(Fault::with_status(IMPORT, 503));
    push(&once, &env, b"y").await.unwrap_err();
    assert_eq!(requests_to(&env, IMPORT).len(), 4);
    assert_library(&env, &[]);
}

// ---- 503 with Retry-After ----

#[tokio::test]
async fn a_503_with_retry_after_waits_as_asked_then_stores_once() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 503).with_retry_after(1));
    let started = Instant::now();
    push(&env.sdk, &env, b"after")
        .await
        .expect("retried after 1 s");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let records = requests_to(&env, IMPORT);
    assert_eq!(
        records.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![503, 200]
    );
    let gap = records[1]
        .received_at
        .duration_since(records[0].received_at)
        .unwrap()
        .as_millis();
    assert!(gap >= 1000, "the retry came {gap} ms after the 503");
    assert_library(&env, &[b"after"]);
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_is_returned_not_waited() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 503).with_retry_after(120));
    let started = Instant::now();
    let err = push(&env.sdk, &env, b"later").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.status(), Some(503));
    assert_eq!(
        err.server().and_then(|s| s.retry_after()),
        Some(Duration::from_secs(120)),
        "the caller learns when to come back"
    );
    assert_not_stored_error(&err);
    assert_eq!(requests_to(&env, IMPORT).len(), 1);
    assert_library(&env, &[]);
}

// ---- 429 ----

#[tokio::test]
async fn a_429_is_retried_and_stored_once() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 429).times(2));
    push(&env.sdk, &env, b"busy")
        .await
        .expect("retried past two 429s");
    assert_eq!(statuses(&env, IMPORT), vec![429, 429, 200]);
    assert_fresh_jwts(&requests_to(&env, IMPORT));
    assert_library(&env, &[b"busy"]);
}

#[tokio::test]
async fn a_429_on_the_token_endpoint_is_retried_too() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 401).with_code("InvalidToken"));
    env.sandbox
        .inject_fault(Fault::with_status(TOKEN, 429).with_retry_after(0));
    let outcome = push(&env.sdk, &env, b"t")
        .await
        .expect("refresh retried, push resent");
    assert!(outcome.token_refreshed());
    assert_eq!(statuses(&env, TOKEN), vec![429, 200]);
    assert_eq!(env.sandbox.refresh_count(), 1);
    assert_library(&env, &[b"t"]);
}

// ---- 500 on a push ----

#[tokio::test]
async fn a_500_on_a_push_is_not_retried_and_says_it_may_have_been_stored() {
    let env = Env::new().await;
    env.sandbox.inject_fault(Fault::with_status(IMPORT, 500));
    let err = push(&env.sdk, &env, b"five hundred").await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Server, Some(500)));
    assert_may_have_been_stored(&err);
    assert_eq!(statuses(&env, IMPORT), vec![500], "never sent twice");
    // This 500 came before the server stored anything.
    assert_library(&env, &[]);
}

#[tokio::test]
async fn a_500_after_the_server_stored_the_push_leaves_exactly_one_copy() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 500).after_handling());
    let err = push(&env.sdk, &env, b"stored then 500").await.unwrap_err();
    assert_may_have_been_stored(&err);
    assert_eq!(requests_to(&env, IMPORT).len(), 1);
    assert_library(&env, &[b"stored then 500"]);
}

#[tokio::test]
async fn a_500_is_retried_when_the_caller_opts_in() {
    let env = Env::new().await;
    let sdk = sdk_with(&env, |b| b.retry_ambiguous_pushes(true));
    env.sandbox.inject_fault(Fault::with_status(IMPORT, 500));
    push(&sdk, &env, b"opt in").await.expect("retried");
    assert_eq!(statuses(&env, IMPORT), vec![500, 200]);
    assert_library(&env, &[b"opt in"]);

    // Opting in is at-least-once: a 500 after storing gives a duplicate.
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 500).after_handling());
    push(&sdk, &env, b"twice").await.expect("retried");
    assert_library(&env, &[b"opt in", b"twice", b"twice"]);

    // And when every attempt fails, the error still says so.
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 500).times(3));
    let err = push(&sdk, &env, b"never").await.unwrap_err();
    assert_may_have_been_stored(&err);
}

// ---- gateways: 502 and 504 may come after the push was stored ----

#[tokio::test]
async fn a_502_or_504_after_the_server_stored_the_push_is_never_resent() {
    let env = Env::new().await;
    for status in [502u16, 504] {
        env.sandbox
            .inject_fault(Fault::with_status(IMPORT, status).after_handling());
    }
    for (status, bytes) in [(502u16, b"gw502"), (504, b"gw504")] {
        let err = push(&env.sdk, &env, bytes).await.unwrap_err();
        assert_eq!(
            (err.kind(), err.status()),
            (ErrorKind::Server, Some(status))
        );
        assert_may_have_been_stored(&err);
    }
    assert_eq!(statuses(&env, IMPORT), vec![502, 504], "one attempt each");
    assert_library(&env, &[b"gw502", b"gw504"]);
}

#[tokio::test]
async fn an_unclassified_5xx_is_ambiguous() {
    let env = Env::new().await;
    for status in [501u16, 507, 599] {
        env.sandbox.inject_fault(Fault::with_status(IMPORT, status));
        let err = push(&env.sdk, &env, b"odd").await.unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert_may_have_been_stored(&err);
    }
    assert_eq!(statuses(&env, IMPORT), vec![501, 507, 599]);
}

// ---- ambiguity sticks ----

#[tokio::test]
async fn ambiguity_sticks_when_a_later_attempt_fails_cleanly() {
    let env = Env::new().await;
    let sdk = sdk_with(&env, |b| b.retry_ambiguous_pushes(true));
    // Stored, then answered 502; the two resends get 429 and 503.
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 502).after_handling());
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 429).with_retry_after(0));
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 503).with_retry_after(0));
    let err = push(&sdk, &env, b"sticky").await.unwrap_err();
    assert_eq!(err.status(), Some(503), "the last attempt's answer");
    assert_may_have_been_stored(&err);
    assert_eq!(statuses(&env, IMPORT), vec![502, 429, 503]);
    assert_library(&env, &[b"sticky"]);
}

/// The next push is stored, then answered 500; its resend is refused with
/// 401 `InvalidToken`, which makes the SDK refresh.
fn stored_then_refused(env: &Env) {
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 500).after_handling());
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 401).with_code("InvalidToken"));
}

#[tokio::test]
async fn ambiguity_sticks_across_a_refresh() {
    let env = Env::new().await;
    let sdk = sdk_with(&env, |b| b.retry_ambiguous_pushes(true));
    // After the refresh, every attempt gets 503.
    stored_then_refused(&env);
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 503).with_retry_after(0).times(3));
    let err = push(&sdk, &env, b"across").await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_may_have_been_stored(&err);
    assert!(
        err.user_access_token().is_some(),
        "the new token is handed back"
    );
    assert_eq!(statuses(&env, IMPORT), vec![500, 401, 503, 503, 503]);
    assert_library(&env, &[b"across"]);
}

#[tokio::test]
async fn a_refresh_refused_after_an_ambiguous_attempt_still_says_may_have_been_stored() {
    let env = Env::new().await;
    let sdk = sdk_with(&env, |b| b.retry_ambiguous_pushes(true));
    stored_then_refused(&env);
    env.sandbox
        .inject_fault(Fault::with_status(TOKEN, 401).with_code("InvalidToken"));
    let err = push(&sdk, &env, b"then refused").await.unwrap_err();
    assert!(err.is_reauthorization_required(), "{err:?}");
    assert_may_have_been_stored(&err);
    assert_library(&env, &[b"then refused"]);
}

// ---- connection failures ----

#[tokio::test]
async fn a_push_that_cannot_connect_is_resent_and_certainly_not_stored() {
    let env = Env::new().await;
    // A port nothing listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let sdk = DigiMe::builder()
        .application_id(APP)
        .base_url(&format!("http://127.0.0.1:{port}/v1.7/"))
        .build()
        .unwrap();
    let err = push(&sdk, &env, b"nowhere").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert_not_stored_error(&err);
}

// ---- DELETE user: idempotent ----

#[tokio::test]
async fn delete_user_is_resent_after_a_500_or_a_lost_connection() {
    let env = Env::new().await;
    push(&env.sdk, &env, b"to delete").await.unwrap();
    env.sandbox
        .inject_fault(Fault::with_status("user", 500).for_method("DELETE"));
    env.sandbox
        .inject_fault(Fault::dropping_connection("user").for_method("DELETE"));
    env.sdk
        .delete_user(&env.contract, &env.token)
        .await
        .expect("resent until it succeeds");
    assert_eq!(statuses(&env, "user"), vec![500, 0, 204]);
    assert_library(&env, &[]);
}

#[tokio::test]
async fn a_500_on_a_read_is_retried() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(ACCOUNTS_PATH, 500));
    let accounts = env
        .sdk
        .read_accounts(&env.contract, &env.token)
        .await
        .expect("GET retried on 5xx");
    assert_eq!(accounts.accounts().len(), 2);
    assert_eq!(statuses(&env, ACCOUNTS_PATH), vec![500, 200]);
    assert_fresh_jwts(&requests_to(&env, ACCOUNTS_PATH));
}

// ---- the connection dropped before the response ----

#[tokio::test]
async fn a_dropped_connection_on_a_push_is_not_retried_and_may_have_been_stored() {
    let env = Env::new().await;
    env.sandbox.inject_fault(Fault::dropping_connection(IMPORT));
    let err = push(&env.sdk, &env, b"dropped").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert_may_have_been_stored(&err);
    assert_eq!(statuses(&env, IMPORT), vec![0], "one attempt, dropped");
    assert_library(&env, &[]);
}

#[tokio::test]
async fn a_connection_dropped_after_storing_leaves_exactly_one_copy() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::dropping_connection(IMPORT).after_handling());
    let err = push(&env.sdk, &env, b"stored, never heard")
        .await
        .unwrap_err();
    assert_may_have_been_stored(&err);
    assert_eq!(requests_to(&env, IMPORT).len(), 1);
    assert_library(&env, &[b"stored, never heard"]);
}

#[tokio::test]
async fn a_dropped_connection_is_retried_for_a_read_and_for_an_opted_in_push() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::dropping_connection(ACCOUNTS_PATH));
    env.sdk
        .read_accounts(&env.contract, &env.token)
        .await
        .expect("GET retried after a drop");
    assert_eq!(statuses(&env, ACCOUNTS_PATH), vec![0, 200]);

    let sdk = sdk_with(&env, |b| b.retry_ambiguous_pushes(true));
    env.sandbox.inject_fault(Fault::dropping_connection(IMPORT));
    push(&sdk, &env, b"again").await.expect("opted in: retried");
    assert_eq!(statuses(&env, IMPORT), vec![0, 200]);
    assert_library(&env, &[b"again"]);
}

// ---- the refresh: resent only after "not handled" ----

#[tokio::test]
async fn a_refresh_is_resent_after_a_503() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 401).with_code("InvalidToken"));
    env.sandbox
        .inject_fault(Fault::with_status(TOKEN, 503).with_retry_after(0));
    let outcome = push(&env.sdk, &env, b"t503")
        .await
        .expect("refresh resent, push resent");
    assert!(outcome.token_refreshed());
    assert_eq!(statuses(&env, TOKEN), vec![503, 200]);
    assert_library(&env, &[b"t503"]);
}

fn assert_refresh_may_have_happened(err: &digime::Error, attempted_with: &digime::UserAccessToken) {
    use digime::secrecy::ExposeSecret;
    assert!(err.refresh_may_have_happened(), "{err:?}");
    assert!(
        err.to_string().contains("the refresh may have happened"),
        "{err}"
    );
    let carried = err.user_access_token().expect("the token to store");
    assert_eq!(
        carried.refresh_token().value().expose_secret(),
        attempted_with.refresh_token().value().expose_secret(),
        "the token the refresh was attempted with"
    );
    // The push itself got a 401: it was not stored.
    assert_not_stored_error(err);
}

#[tokio::test]
async fn a_refresh_that_lost_its_connection_is_not_resent_and_says_it_may_have_happened() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 401).with_code("InvalidToken"));
    env.sandbox.inject_fault(Fault::dropping_connection(TOKEN));
    let err = push(&env.sdk, &env, b"r").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert_refresh_may_have_happened(&err, &env.token);
    assert_eq!(statuses(&env, TOKEN), vec![0], "not sent again");
    assert_library(&env, &[]);
    // This drop came before the sandbox handled the refresh: the token it
    // carries still works.
    assert_eq!(env.sandbox.refresh_count(), 0);
    let token = err.user_access_token().unwrap();
    let outcome = push_with(&env.sdk, &env, token, b"r")
        .await
        .expect("the old token still works");
    assert!(!outcome.token_refreshed());
    assert_library(&env, &[b"r"]);
}

#[tokio::test]
async fn a_refresh_answered_502_after_it_happened_is_reported_not_resent() {
    for status in [500u16, 502, 504] {
        let env = Env::new().await;
        env.sandbox
            .inject_fault(Fault::with_status(IMPORT, 401).with_code("InvalidToken"));
        env.sandbox
            .inject_fault(Fault::with_status(TOKEN, status).after_handling());
        let err = push(&env.sdk, &env, b"spent").await.unwrap_err();
        assert_eq!(
            (err.kind(), err.status()),
            (ErrorKind::Server, Some(status)),
            "{err:?}"
        );
        assert_refresh_may_have_happened(&err, &env.token);
        assert_eq!(statuses(&env, TOKEN), vec![status], "not sent again");
        // It did happen: the old refresh token is spent, and the next call
        // says the user must be authorized again, rather than guessing.
        assert_eq!(env.sandbox.refresh_count(), 1);
        let next = push(&env.sdk, &env, b"spent").await.unwrap_err();
        assert!(next.is_reauthorization_required(), "{next:?}");
        assert_library(&env, &[]);
    }
}

#[tokio::test]
async fn an_explicit_refresh_follows_the_same_rule() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(TOKEN, 502).after_handling());
    let err = env
        .sdk
        .refresh(&env.contract, &env.token)
        .await
        .unwrap_err();
    assert!(err.refresh_may_have_happened(), "{err:?}");
    assert!(!err.may_have_been_stored());
    assert!(err.user_access_token().is_some());
    assert_eq!(statuses(&env, TOKEN), vec![502]);
}

// ---- a delay beyond the timeout ----

#[tokio::test]
async fn a_delay_beyond_the_timeout_fails_a_push_without_hanging_or_resending() {
    let env = Env::new().await;
    let sdk = sdk_with(&env, |b| b.timeout(Duration::from_millis(400)));
    env.sandbox
        .inject_fault(Fault::with_delay(IMPORT, Duration::from_millis(1500)));
    let started = Instant::now();
    let err = push(&sdk, &env, b"slow").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert_may_have_been_stored(&err);
    // Wait until the delayed request is over on the server side. The SDK
    // sent it once and did not send it again, so the library holds it at
    // most once. (The sandbox, like hyper generally, drops a request whose
    // client went away, so in practice nothing is stored here.)
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert!(requests_to(&env, IMPORT).len() <= 1, "not sent again");
    assert!(env.sandbox.library(USER).len() <= 1);
}

#[tokio::test]
async fn the_idle_timeout_catches_a_stalled_server() {
    let env = Env::new().await;
    let sdk = sdk_with(&env, |b| {
        b.read_timeout(Duration::from_millis(300)).max_retries(0)
    });
    env.sandbox
        .inject_fault(Fault::with_delay(IMPORT, Duration::from_secs(30)));
    let started = Instant::now();
    let err = push(&sdk, &env, b"stalled").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(err.is_timeout(), "{err:?}");
    assert_may_have_been_stored(&err);
}

#[tokio::test]
async fn a_delay_beyond_the_timeout_on_a_read_is_retried() {
    let env = Env::new().await;
    let sdk = sdk_with(&env, |b| b.timeout(Duration::from_millis(400)));
    env.sandbox
        .inject_fault(Fault::with_delay(ACCOUNTS_PATH, Duration::from_secs(3)));
    let started = Instant::now();
    sdk.read_accounts(&env.contract, &env.token)
        .await
        .expect("the second attempt is not delayed");
    // The timeout, a backoff of at most 0.2 s and a plain call take about
    // 0.65 s: well under the 3 s delay (with room for a busy machine), so
    // the second attempt went through at once.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        statuses(&env, ACCOUNTS_PATH),
        vec![200],
        "the abandoned attempt is never answered"
    );
}

#[tokio::test]
async fn a_delay_within_the_timeout_is_just_slow() {
    let env = Env::new().await;
    let sdk = sdk_with(&env, |b| b.timeout(Duration::from_secs(5)));
    env.sandbox
        .inject_fault(Fault::with_delay(IMPORT, Duration::from_millis(300)));
    push(&sdk, &env, b"patient")
        .await
        .expect("within the timeout");
    assert_eq!(statuses(&env, IMPORT), vec![200]);
    assert_library(&env, &[b"patient"]);
}

// ---- 401 InvalidToken ----

#[tokio::test]
async fn a_401_invalid_token_refreshes_once_and_resends() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 401).with_code("InvalidToken"));
    let outcome = push(&env.sdk, &env, b"refreshed")
        .await
        .expect("refreshed and resent");
    assert!(outcome.token_refreshed());
    assert_ne!(
        digime::secrecy::ExposeSecret::expose_secret(
            outcome.user_access_token().access_token().value()
        ),
        digime::secrecy::ExposeSecret::expose_secret(env.token.access_token().value()),
    );
    assert_eq!(env.sandbox.refresh_count(), 1);
    assert_eq!(statuses(&env, IMPORT), vec![401, 200]);
    assert_fresh_jwts(&requests_to(&env, IMPORT));
    assert_library(&env, &[b"refreshed"]);
}

#[tokio::test]
async fn a_bare_empty_401_is_treated_as_invalid_token() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 401).with_body(FaultBody::Empty));
    push(&env.sdk, &env, b"bare")
        .await
        .expect("refreshed and resent");
    assert_eq!(env.sandbox.refresh_count(), 1);
    assert_library(&env, &[b"bare"]);
}

// ---- a refresh rejected with InvalidToken ----

#[tokio::test]
async fn a_rejected_refresh_asks_for_reauthorization_and_stores_nothing() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 401).with_code("InvalidToken"));
    env.sandbox
        .inject_fault(Fault::with_status(TOKEN, 401).with_code("InvalidToken"));
    let err = push(&env.sdk, &env, b"nope").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReauthorizationRequired, "{err:?}");
    assert!(err.is_reauthorization_required());
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("InvalidToken"))
    );
    assert_not_stored_error(&err);
    assert_eq!(
        statuses(&env, TOKEN),
        vec![401],
        "a rejected refresh is not retried"
    );
    assert_eq!(requests_to(&env, IMPORT).len(), 1, "the push is not resent");
    assert_eq!(env.sandbox.refresh_count(), 0);
    assert_library(&env, &[]);
}

#[tokio::test]
async fn an_expired_refresh_token_asks_for_reauthorization() {
    let env = Env::new().await;
    env.sandbox.expire_access_token(USER);
    env.sandbox.expire_refresh_token(USER);
    let err = push(&env.sdk, &env, b"expired").await.unwrap_err();
    assert!(err.is_reauthorization_required(), "{err:?}");
    assert_library(&env, &[]);
}

// ---- a malformed JSON error body ----

#[tokio::test]
async fn a_malformed_json_error_body_keeps_the_status_and_is_not_retried() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 400).with_body(FaultBody::Malformed));
    let err = push(&env.sdk, &env, b"m").await.unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (ErrorKind::Server, Some(400)),
        "{err:?}"
    );
    assert_eq!(err.code(), None, "nothing readable in a broken body");
    assert!(err.to_string().contains("400"), "{err}");
    assert_not_stored_error(&err);
    assert_eq!(requests_to(&env, IMPORT).len(), 1);
    assert_library(&env, &[]);

    // A malformed body on a retryable status is still retried.
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 503).with_body(FaultBody::Malformed));
    push(&env.sdk, &env, b"m2").await.expect("retried");
    assert_library(&env, &[b"m2"]);
}

#[tokio::test]
async fn error_details_from_headers_only_are_kept() {
    let env = Env::new().await;
    env.sandbox.inject_fault(
        Fault::with_status(IMPORT, 403)
            .with_code("InsufficientScope")
            .with_message("read contract")
            .with_body(FaultBody::Headers),
    );
    let err = push(&env.sdk, &env, b"h").await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(403), Some("InsufficientScope"))
    );
    assert_eq!(
        err.server().and_then(|s| s.message()),
        Some("read contract")
    );
    assert!(err.server().and_then(|s| s.reference()).is_some());
    assert_library(&env, &[]);
}

// ---- an HTML error page ----

#[tokio::test]
async fn an_html_503_is_resent_and_an_html_502_is_ambiguous() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 503).with_body(FaultBody::Html));
    push(&env.sdk, &env, b"html")
        .await
        .expect("resent past the proxy page");
    assert_eq!(statuses(&env, IMPORT), vec![503, 200]);
    assert_library(&env, &[b"html"]);

    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 502).with_body(FaultBody::Html));
    let err = push(&env.sdk, &env, b"html502").await.unwrap_err();
    assert_eq!(
        (err.kind(), err.status(), err.code()),
        (ErrorKind::Server, Some(502), None)
    );
    assert!(!err.to_string().contains("<html"), "{err}");
    assert_may_have_been_stored(&err);
    assert_eq!(statuses(&env, IMPORT), vec![503, 200, 502]);
}

#[tokio::test]
async fn an_error_body_over_64_kib_keeps_its_status_and_names_the_cap() {
    let env = Env::new().await;
    let long = "x".repeat(70 * 1024);
    env.sandbox.inject_fault(
        Fault::with_status(IMPORT, 400)
            .with_body(FaultBody::Html)
            .with_message(long.clone()),
    );
    let err = push(&env.sdk, &env, b"big").await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::Server, Some(400)));
    assert!(err.to_string().contains("64 KiB"), "{err}");
    assert!(
        err.to_string().len() < 1024,
        "the body is not in the message"
    );
    assert_not_stored_error(&err);
    // On a status that is resent, it still is.
    env.sandbox.inject_fault(
        Fault::with_status(IMPORT, 503)
            .with_body(FaultBody::Html)
            .with_message(long),
    );
    push(&env.sdk, &env, b"big2").await.expect("resent");
    assert_library(&env, &[b"big2"]);
}

#[tokio::test]
async fn an_html_4xx_is_a_server_error_with_its_status() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 403).with_body(FaultBody::Html));
    let err = push(&env.sdk, &env, b"html403").await.unwrap_err();
    assert_eq!(
        (err.kind(), err.status(), err.code()),
        (ErrorKind::Server, Some(403), None)
    );
    assert!(
        !err.to_string().contains("<html"),
        "no HTML in the message: {err}"
    );
    assert_not_stored_error(&err);
    assert_eq!(requests_to(&env, IMPORT).len(), 1);
    assert_library(&env, &[]);
}

// ---- an empty 4xx ----

#[tokio::test]
async fn an_empty_4xx_is_a_server_error_with_its_status() {
    let env = Env::new().await;
    for status in [400u16, 404, 406] {
        env.sandbox
            .inject_fault(Fault::with_status(IMPORT, status).with_body(FaultBody::Empty));
        let err = push(&env.sdk, &env, b"empty").await.unwrap_err();
        assert_eq!(
            (err.kind(), err.status(), err.code()),
            (ErrorKind::Server, Some(status), None)
        );
        assert!(err.to_string().contains(&status.to_string()), "{err}");
        assert_not_stored_error(&err);
    }
    assert_eq!(statuses(&env, IMPORT), vec![400, 404, 406], "none retried");
    assert_library(&env, &[]);
}

// ---- the other calls ----

#[tokio::test]
async fn provider_pushes_follow_the_same_rules() {
    let env = Env::new().await;
    let send = || {
        env.sdk
            .push(&env.contract, &env.token)
            .provider()
            .standard(digime::Standard::Fhir)
            .version(digime::FhirVersion::Stu3)
            .account_id("acc-1")
            .data(serde_json::json!({"resourceType": "Bundle"}))
            .send()
    };
    let path = "permission-access/import/h:accountId/fhir/stu3";
    env.sandbox.inject_fault(Fault::with_status(path, 503));
    send().await.expect("503 retried");
    env.sandbox.inject_fault(Fault::with_status(path, 500));
    let err = send().await.unwrap_err();
    assert_may_have_been_stored(&err);
    assert_eq!(statuses(&env, path), vec![503, 200, 500]);
    assert_eq!(env.sandbox.provider_pushes(USER).len(), 1);
}

#[tokio::test]
async fn contract_details_retry_on_5xx() {
    let env = Env::new().await;
    env.sandbox
        .inject_fault(Fault::with_status("permission-access/contract", 500).times(2));
    env.sdk
        .contract_info(&env.contract)
        .await
        .expect("GET retried twice");
    assert_eq!(
        statuses(&env, "permission-access/contract"),
        vec![500, 500, 200]
    );
}

/// A token whose access token expires within the SDK's refresh skew: a
/// call refreshes it first, then sends, so a fault on the call's first
/// request comes after a refresh.
fn expiring_token(env: &Env) -> digime::UserAccessToken {
    env.sandbox
        .set_token_lifetimes(Duration::from_secs(5), Duration::from_secs(3600));
    let token = env
        .sandbox
        .mint_token(APP, support::CONTRACT, USER)
        .expect("a token");
    env.sandbox
        .set_token_lifetimes(Duration::from_secs(3600), Duration::from_secs(3600));
    token
}

/// The token `err` carries: a refreshed one, not `old`.
fn carries_a_new_token<'e>(
    err: &'e digime::Error,
    old: &digime::UserAccessToken,
) -> &'e digime::UserAccessToken {
    let new = err.user_access_token().expect("the refreshed token");
    assert_ne!(
        new.refresh_token().value().expose_secret(),
        old.refresh_token().value().expose_secret()
    );
    new
}

/// The refresh spent the old refresh token: an answer that then fails to
/// parse must still hand the new token back (issue #18).
#[tokio::test]
async fn read_accounts_that_cannot_parse_after_a_refresh_keeps_the_new_token() {
    let env = Env::new().await;
    let token = expiring_token(&env);
    env.sandbox.inject_fault(
        Fault::with_status("permission-access/accounts", 200).with_body(FaultBody::Malformed),
    );
    let err = env
        .sdk
        .read_accounts(&env.contract, &token)
        .await
        .expect_err("a body that does not parse");
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    let new = carries_a_new_token(&err, &token);
    let accounts = env.sdk.read_accounts(&env.contract, new).await;
    assert!(accounts.is_ok(), "the token carried works: {accounts:?}");
}

/// Onboarding refreshes first, then digi.me's JWT fails to verify: the
/// error carries the new token (issue #18).
#[tokio::test]
async fn onboard_whose_jwt_fails_to_verify_after_a_refresh_keeps_the_new_token() {
    let env = Env::new().await;
    let token = expiring_token(&env);
    env.sandbox.inject_fault(
        Fault::with_status("oauth/token/reference", 200).with_body(FaultBody::Unverifiable),
    );
    let err = env
        .sdk
        .onboard(&env.contract, &token)
        .callback("http://127.0.0.1:9/onboarded")
        .send()
        .await
        .expect_err("a JWT that does not verify");
    assert_eq!(err.kind(), ErrorKind::TokenVerification, "{err}");
    carries_a_new_token(&err, &token);
}
