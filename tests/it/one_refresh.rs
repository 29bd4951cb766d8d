//! One refresh per refresh token inside one client, whichever path starts
//! it: every concurrent caller holding the token waits for the one refresh,
//! a later caller with a stale copy gets the rotated token, and every call
//! reports the refresh and fires its own hook once. Each count is read from
//! the sandbox's request log, not from the SDK.

use crate::support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use digime::sandbox::{Fault, RequestRecord};
use digime::secrecy::ExposeSecret;
use digime::{Account, DigiMe, ErrorKind, FileDescriptor, PushOutcome, UserAccessToken};
use support::{APP, Env, USER, sha256_hex};

/// The refresh grants digi.me received (answered or not).
fn refresh_grants(env: &Env) -> Vec<RequestRecord> {
    env.sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path == "oauth/token" && r.claims["grant_type"] == "refresh_token")
        .collect()
}

fn descriptor() -> FileDescriptor {
    FileDescriptor::builder()
        .mime_type("text/plain")
        .accounts(vec![Account::new("acc-1")])
        .build()
}

fn refresh_value(token: &UserAccessToken) -> String {
    token.refresh_token().value().expose_secret().to_owned()
}

/// A push of `body` from the caller's own copy of `token`, counting the
/// call's hook.
async fn push(
    sdk: &DigiMe,
    env: &Env,
    token: &UserAccessToken,
    body: Vec<u8>,
    hooks: Arc<AtomicUsize>,
) -> digime::Result<PushOutcome> {
    sdk.push(&env.contract, token)
        .library()
        .file(body, "row.txt")
        .descriptor(descriptor())
        .on_access_token_change(move |_| {
            hooks.fetch_add(1, Ordering::SeqCst);
        })
        .send()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_pushes_from_one_expired_token_make_one_refresh() {
    let env = Env::new().await;
    env.sandbox.expire_access_token(USER);
    let hooks = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (sdk, env_token, hooks) = (env.sdk.clone(), env.token.clone(), hooks.clone());
        let contract = env.contract.clone();
        tasks.push(tokio::spawn(async move {
            sdk.push(&contract, &env_token)
                .library()
                .file(format!("row {i}").into_bytes(), format!("row-{i}.txt"))
                .descriptor(descriptor())
                .on_access_token_change(move |_| {
                    hooks.fetch_add(1, Ordering::SeqCst);
                })
                .send()
                .await
        }));
    }
    let mut new_tokens = HashSet::new();
    for task in tasks {
        let outcome = task.await.unwrap().expect("every push succeeds");
        assert!(outcome.token_refreshed(), "each call reports the refresh");
        new_tokens.insert(refresh_value(outcome.user_access_token()));
    }
    assert_eq!(new_tokens.len(), 1, "every call got the same new token");
    assert!(!new_tokens.contains(&refresh_value(&env.token)));
    assert_eq!(
        hooks.load(Ordering::SeqCst),
        50,
        "each call's hook fired once"
    );

    let stored: HashSet<String> = env
        .sandbox
        .library(USER)
        .iter()
        .map(|e| e.sha256.clone())
        .collect();
    let expected: HashSet<String> = (0..50)
        .map(|i| sha256_hex(format!("row {i}").as_bytes()))
        .collect();
    assert_eq!(stored, expected, "50 files stored, each once");
    assert_eq!(env.sandbox.library(USER).len(), 50);
    assert_eq!(
        refresh_grants(&env).len(),
        1,
        "exactly one refresh reached digi.me"
    );

    // Later, a call with the same stale stored copy: no second refresh.
    let accounts = env
        .sdk
        .read_accounts(&env.contract, &env.token)
        .await
        .expect("the stale copy still works");
    assert!(accounts.token_refreshed());
    assert!(new_tokens.contains(&refresh_value(accounts.user_access_token())));
    assert_eq!(refresh_grants(&env).len(), 1);
    assert_eq!(env.sandbox.refresh_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_path_shares_the_one_refresh() {
    let env = Env::new().await;
    env.sandbox.expire_access_token(USER);
    let session = env.sdk.session(&env.contract, env.token.clone());
    let hooks = Arc::new(AtomicUsize::new(0));

    let (pushed, accounts, refreshed, via_session, session_accounts) = tokio::join!(
        push(
            &env.sdk,
            &env,
            &env.token,
            b"pushed".to_vec(),
            hooks.clone()
        ),
        env.sdk.read_accounts(&env.contract, &env.token),
        env.sdk.refresh(&env.contract, &env.token),
        session
            .push()
            .library()
            .file(b"via session".to_vec(), "s.txt")
            .descriptor(descriptor())
            .send(),
        session.read_accounts(),
    );
    let pushed = pushed.expect("push");
    let new = refresh_value(pushed.user_access_token());
    assert_eq!(
        refresh_value(accounts.expect("accounts").user_access_token()),
        new
    );
    assert_eq!(refresh_value(&refreshed.expect("refresh_token")), new);
    assert_eq!(
        refresh_value(via_session.expect("session push").user_access_token()),
        new
    );
    assert_eq!(
        refresh_value(
            session_accounts
                .expect("session accounts")
                .user_access_token()
        ),
        new
    );
    assert_eq!(refresh_value(&session.user_access_token()), new);
    assert_eq!(session.refresh_count(), 1);
    assert_eq!(hooks.load(Ordering::SeqCst), 1);
    assert_eq!(refresh_grants(&env).len(), 1);

    // delete_user with the stale copy: no second refresh either.
    env.sdk
        .delete_user(&env.contract, &env.token)
        .await
        .expect("delete with the stale copy");
    assert_eq!(refresh_grants(&env).len(), 1);
    assert!(
        env.sandbox.library(USER).is_empty(),
        "the library was deleted"
    );
}

#[tokio::test]
async fn a_late_caller_with_a_rotated_token_adopts_the_rotation_without_a_call() {
    let env = Env::new().await;
    let fresh = env.sdk.refresh(&env.contract, &env.token).await.unwrap();
    // The old access token was revoked by the refresh; the stale copy still
    // pushes, with the token it was rotated to, and says so.
    let hooks = Arc::new(AtomicUsize::new(0));
    let outcome = push(&env.sdk, &env, &env.token, b"late".to_vec(), hooks.clone())
        .await
        .expect("the late push succeeds");
    assert!(outcome.token_refreshed());
    assert_eq!(
        refresh_value(outcome.user_access_token()),
        refresh_value(&fresh)
    );
    assert_eq!(hooks.load(Ordering::SeqCst), 1);
    assert_eq!(refresh_grants(&env).len(), 1);
    // Not a single 401 on the way: the push went out with the new token.
    let rejected = env
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.path == "permission-access/import" && r.status == 401)
        .count();
    assert_eq!(rejected, 0);
    // A second rotation is followed too: the oldest copy reaches the newest token.
    let newest = env.sdk.refresh(&env.contract, &fresh).await.unwrap();
    let again = env.sdk.refresh(&env.contract, &env.token).await.unwrap();
    assert_eq!(refresh_value(&again), refresh_value(&newest));
    assert_eq!(refresh_grants(&env).len(), 2);
}

/// A refusal answers the callers of the refresh that met it, and only
/// them: nothing remembers it, so a later call asks again (a session with a
/// store reads the store first, where a newer token may be waiting).
#[tokio::test]
async fn a_refusal_answers_its_own_flight_only() {
    let env = Env::new().await;
    env.sandbox.expire_refresh_token(USER);
    env.sandbox.expire_access_token(USER);
    // Concurrent callers share the one refusal.
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let (sdk, contract, token) = (env.sdk.clone(), env.contract.clone(), env.token.clone());
            tokio::spawn(async move { sdk.refresh(&contract, &token).await })
        })
        .collect();
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ReauthorizationRequired);
    }
    assert_eq!(refresh_grants(&env).len(), 1, "one flight, one refusal");
    // A later call is not answered from memory: digi.me is asked again.
    let err = env
        .sdk
        .refresh(&env.contract, &env.token)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReauthorizationRequired);
    assert_eq!(
        refresh_grants(&env).len(),
        2,
        "the refusal was not remembered"
    );
}

#[tokio::test]
async fn a_panicking_hook_does_not_stop_the_next_refreshs_hook() {
    let env = Env::new().await;
    let session = env.sdk.session(&env.contract, env.token.clone());
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    session.on_access_token_change(move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("the first hook call fails");
        }
    });
    let first = session
        .refresh()
        .await
        .expect("the refresh succeeds despite the hook");
    assert_eq!(
        refresh_value(&session.user_access_token()),
        refresh_value(&first)
    );
    let second = session.refresh().await.expect("a second refresh");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the hook ran again after it panicked"
    );
    assert_eq!(
        refresh_value(&session.user_access_token()),
        refresh_value(&second)
    );

    // A push whose own hook panics still succeeds and hands the token back.
    env.sandbox.expire_access_token(USER);
    let outcome = env
        .sdk
        .push(&env.contract, &second)
        .library()
        .file(b"x".to_vec(), "x.txt")
        .descriptor(descriptor())
        .on_access_token_change(|_| panic!("a hook that always fails"))
        .send()
        .await
        .expect("the push succeeds");
    assert!(outcome.token_refreshed());
    assert_eq!(env.sandbox.library(USER).len(), 1);
}

#[tokio::test]
async fn a_refresh_whose_answer_is_lost_ends_in_a_clear_reauthorization() {
    // digi.me rotates the token, and the answer never arrives: the one case
    // no client can repair. The SDK must end in ReauthorizationRequired
    // rather than loop, and nothing is stored.
    let env = Env::new().await;
    env.sandbox.expire_access_token(USER);
    env.sandbox.inject_fault(Fault {
        path: "oauth/token".into(),
        drop_connection: true,
        after_handling: true,
        ..Fault::default()
    });
    let sdk = DigiMe::builder()
        .application_id(APP)
        .base_url(&env.sandbox.base_url())
        .build()
        .unwrap();
    // The call that lost the answer says the refresh may have happened, and
    // hands back the only token known: the old one.
    let hooks = Arc::new(AtomicUsize::new(0));
    let first = push(&sdk, &env, &env.token, b"lost".to_vec(), hooks.clone())
        .await
        .expect_err("the refresh's answer was lost");
    assert!(first.refresh_may_have_happened(), "{first:?}");
    assert!(!first.token_refreshed());
    assert_eq!(
        refresh_value(first.user_access_token().expect("the token to keep")),
        refresh_value(&env.token)
    );
    // The next call spends nothing new: digi.me refuses the old refresh
    // token, and the caller is told to reauthorize.
    let err = push(&sdk, &env, &env.token, b"lost".to_vec(), hooks)
        .await
        .expect_err("the old refresh token is spent");
    assert_eq!(err.kind(), ErrorKind::ReauthorizationRequired, "{err:?}");
    assert!(
        err.to_string()
            .starts_with("the refresh token was rejected"),
        "{err}"
    );
    assert!(env.sandbox.library(USER).is_empty());
    assert_eq!(env.sandbox.refresh_count(), 1, "digi.me rotated once");
}

/// After digi.me answered a refresh, the old refresh token is spent: a
/// passing failure to fetch the key set that verifies the new token (a 503,
/// a dropped connection) is tried again rather than losing that token.
#[tokio::test]
async fn a_key_set_hiccup_after_a_refresh_does_not_lose_the_new_token() {
    let env = Env::new().await;
    // A new client: its key set cache is empty.
    let sdk = DigiMe::builder()
        .application_id(APP)
        .base_url(&env.sandbox.base_url())
        .build()
        .unwrap();
    env.sandbox.expire_access_token(USER);
    env.sandbox
        .inject_fault(Fault::with_status("jwks/oauth", 503));
    env.sandbox
        .inject_fault(Fault::dropping_connection("jwks/oauth"));
    let hooks = Arc::new(AtomicUsize::new(0));
    let outcome = push(&sdk, &env, &env.token, b"x".to_vec(), hooks.clone())
        .await
        .expect("the key set is fetched again and the new token verified");
    assert_eq!(hooks.load(Ordering::SeqCst), 1);
    assert!(outcome.token_refreshed());
    assert_eq!(refresh_grants(&env).len(), 1);
    let jwks_fetches = env
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path == "jwks/oauth")
        .count();
    assert!(jwks_fetches >= 3, "{jwks_fetches} key set fetches");
}
