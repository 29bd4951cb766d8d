//! The token protocol under faults: a slow commit past the lease's time to
//! live, a lease lost mid-refresh, refusals checked against the store, a
//! key set out of reach after a grant, an early refresh whose write failed,
//! mixed callers, a hung store, the file store after an ambiguous refresh,
//! an old token put back, and a dropped runtime. Each is a path that once
//! sent a user back through consent (or could have) while a valid token
//! existed; the "processes" here are separate clients sharing a store.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use digime::sandbox::{Fault, FaultBody};
use digime::secrecy::ExposeSecret;
use digime::store::{FileTokenStore, LeaseAttempt, MemoryTokenStore, TokenStore};
use digime::{
    Account, DigiMe, ErrorKind, FileDescriptor, PushOutcome, UserAccessToken, UserSession,
};
use support::rigged::Rigged;
use support::{ACCOUNTS, APP, CONTRACT, Env, USER};

fn descriptor() -> FileDescriptor {
    FileDescriptor::builder()
        .mime_type("text/plain")
        .accounts(vec![Account::new("acc-1")])
        .build()
}

fn refresh_value(token: &UserAccessToken) -> String {
    token.refresh_token().value().expose_secret().to_owned()
}

/// A process of its own: a client with nothing in memory, and a lease time
/// to live of `ttl`.
fn process(env: &Env, ttl: Duration) -> DigiMe {
    DigiMe::builder()
        .application_id(APP)
        .base_url(&env.sandbox.base_url())
        .lease_ttl(ttl)
        .build()
        .unwrap()
}

/// The refresh grants digi.me received.
fn grants(env: &Env) -> usize {
    env.sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path == "oauth/token" && r.claims["grant_type"] == "refresh_token")
        .count()
}

async fn push(session: &UserSession, name: &str) -> digime::Result<PushOutcome> {
    session
        .push()
        .library()
        .file(name.as_bytes().to_vec(), name.to_owned())
        .descriptor(descriptor())
        .send()
        .await
}

/// Waits until `done` holds, for at most `within`.
async fn until(within: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "not within {within:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Two sessions of `store`, each in a process of its own.
async fn two_processes(
    env: &Env,
    store: &Arc<Rigged>,
    ttl: Duration,
) -> (UserSession, UserSession) {
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let store: Arc<dyn TokenStore> = store.clone();
        sessions.push(
            process(env, ttl)
                .session_from_store(&env.contract, store, USER)
                .await
                .unwrap(),
        );
    }
    let b = sessions.pop().unwrap();
    (sessions.pop().unwrap(), b)
}

/// A's write of the new token stalls past the lease's time to live: its
/// heartbeat keeps the lease, so B waits for the token instead of taking
/// the lease and spending the old refresh token (which digi.me would refuse:
/// "authorize the user again" while A holds the valid token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_commit_past_the_lease_ttl_strands_no_one() {
    let env = Env::new().await;
    let store = Arc::new(Rigged::memory());
    store.save(USER, &env.token).await.unwrap();
    let ttl = Duration::from_millis(600);
    let (a, b) = two_processes(&env, &store, ttl).await;
    // Longer than the lease lives, shorter than a store call may take.
    store.knobs.commit_delay_ms.store(900, Ordering::SeqCst);
    env.sandbox.expire_access_token(USER);
    let first = tokio::spawn(async move { push(&a, "a.txt").await });
    until(Duration::from_secs(5), || {
        store.commits.load(Ordering::SeqCst) > 0
    })
    .await;
    let second = push(&b, "b.txt").await.expect("B adopts A's token");
    let first = first.await.unwrap().expect("A's push succeeds");
    assert_eq!(env.sandbox.refresh_count(), 1, "one refresh");
    assert_eq!(grants(&env), 1, "B never spent the old refresh token");
    assert_eq!(
        refresh_value(first.user_access_token()),
        refresh_value(second.user_access_token())
    );
    assert!(
        store.renewals.load(Ordering::SeqCst) >= 2,
        "the lease was renewed while the commit stalled"
    );
    assert_eq!(env.sandbox.library(USER).len(), 2);
}

/// A's lease runs out while its grant is out (its renewals fail: A is cut
/// off from the store). B takes the lease over and waits for the token A
/// may still write, rather than refreshing at once and being refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_lost_mid_refresh_ends_in_the_holders_token() {
    let env = Env::new().await;
    let store = Arc::new(Rigged::memory());
    store.save(USER, &env.token).await.unwrap();
    let ttl = Duration::from_millis(600);
    let (a, b) = two_processes(&env, &store, ttl).await;
    store.knobs.renewals_fail.store(true, Ordering::SeqCst);
    env.sandbox
        .inject_fault(Fault::with_delay("oauth/token", Duration::from_millis(900)));
    env.sandbox.expire_access_token(USER);
    let first = tokio::spawn(async move { push(&a, "a.txt").await });
    until(Duration::from_secs(5), || {
        store.leases.load(Ordering::SeqCst) > 0
    })
    .await;
    // B asks once A's lease has run out.
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    let second = push(&b, "b.txt").await.expect("B adopts A's token");
    let first = first.await.unwrap().expect("A's push succeeds");
    assert_eq!(grants(&env), 1, "the old refresh token was spent once");
    assert_eq!(
        refresh_value(first.user_access_token()),
        refresh_value(second.user_access_token())
    );
    assert_eq!(env.sandbox.library(USER).len(), 2);
}

/// A long-lived session is told to reauthorize (the user's refresh token
/// ran out). The user consents again, and another process puts the new
/// token into the store: the session's next call adopts it, no restart.
#[tokio::test]
async fn a_session_told_to_reauthorize_recovers_from_the_store() {
    let env = Env::new().await;
    let store = Arc::new(MemoryTokenStore::new());
    store.save(USER, &env.token).await.unwrap();
    let session = env
        .sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    let hooks = Arc::new(AtomicUsize::new(0));
    let seen = hooks.clone();
    session.on_access_token_change(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
    });
    env.sandbox.expire_refresh_token(USER);
    env.sandbox.expire_access_token(USER);
    for _ in 0..2 {
        let err = push(&session, "x.txt").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ReauthorizationRequired, "{err:?}");
    }
    // The reauthorization, done elsewhere: a new token in the store.
    let fresh = env.sandbox.mint_token(APP, CONTRACT, USER).unwrap();
    let saved = store.save(USER, &fresh).await.unwrap();
    assert!(!saved.already_rotated);
    let outcome = push(&session, "after.txt")
        .await
        .expect("the session adopts the stored token");
    assert_eq!(
        refresh_value(outcome.user_access_token()),
        refresh_value(&fresh)
    );
    assert_eq!(
        refresh_value(&session.user_access_token()),
        refresh_value(&fresh)
    );
    assert_eq!(hooks.load(Ordering::SeqCst), 1);
    assert_eq!(env.sandbox.library(USER).len(), 1);
}

/// A 401 without digi.me's error code on the refresh grant (from a proxy in
/// front of digi.me) is not a refusal of the refresh token: the caller is
/// not told to reauthorize, and the next call refreshes.
#[tokio::test]
async fn a_bare_401_on_the_refresh_is_not_a_refusal() {
    let env = Env::new().await;
    env.sandbox.expire_access_token(USER);
    env.sandbox
        .inject_fault(Fault::with_status("oauth/token", 401).with_body(FaultBody::Html));
    let err = env
        .sdk
        .push(&env.contract, &env.token)
        .library()
        .file(b"x".to_vec(), "x.txt")
        .descriptor(descriptor())
        .send()
        .await
        .unwrap_err();
    assert_ne!(err.kind(), ErrorKind::ReauthorizationRequired, "{err:?}");
    let outcome = env
        .sdk
        .push(&env.contract, &env.token)
        .library()
        .file(b"y".to_vec(), "y.txt")
        .descriptor(descriptor())
        .send()
        .await
        .expect("the next call refreshes");
    assert!(outcome.token_refreshed());
    assert_eq!(env.sandbox.refresh_count(), 1);
}

/// digi.me answered the refresh, and the key set that verifies the new
/// token stays out of reach for longer than a call waits: the caller hears
/// the refresh may have happened, but the token is kept and verified in
/// the background, and the next call gets it, with no second grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_granted_while_the_key_set_is_out_of_reach_is_kept() {
    let env = Env::new().await;
    // A new client: its key set cache is empty.
    let sdk = process(&env, Duration::from_secs(30));
    env.sandbox.expire_access_token(USER);
    // Three verifications of three fetches each.
    env.sandbox
        .inject_fault(Fault::with_status("jwks/oauth", 503).times(9));
    let session = sdk.session(&env.contract, env.token.clone());
    let err = push(&session, "x.txt").await.unwrap_err();
    assert!(err.refresh_may_have_happened(), "{err:?}");
    assert_eq!(grants(&env), 1);
    let started = Instant::now();
    let outcome = loop {
        match push(&session, "x.txt").await {
            Ok(outcome) => break outcome,
            Err(err) => {
                assert!(err.refresh_may_have_happened(), "{err:?}");
                assert!(started.elapsed() < Duration::from_secs(20), "{err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(outcome.token_refreshed());
    assert_eq!(
        grants(&env),
        1,
        "the granted token was kept, not granted again"
    );
    assert_eq!(env.sandbox.library(USER).len(), 1);
}

/// An early refresh (the access token expires within the skew) whose write
/// to the store fails: the call pushes with the new token and says the store
/// did not take it; the SDK writes it later.
#[tokio::test]
async fn an_early_refresh_whose_write_failed_pushes_with_the_new_token() {
    let env = Env::new().await;
    env.sandbox
        .set_token_lifetimes(Duration::from_secs(20), Duration::from_secs(3600));
    let token = env.sandbox.mint_token(APP, CONTRACT, USER).unwrap();
    let store = Arc::new(Rigged::memory());
    store.save(USER, &token).await.unwrap();
    let session = env
        .sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    store.knobs.commit_failures.store(3, Ordering::SeqCst);
    let outcome = push(&session, "x.txt").await.expect("the push is stored");
    assert!(outcome.token_refreshed());
    assert!(outcome.token_store_error().is_some(), "the outcome says so");
    let fresh = outcome.user_access_token().clone();
    assert_ne!(refresh_value(&fresh), refresh_value(&token));
    // The push went out with the new token: no 401 on the way.
    assert!(env.sandbox.requests().iter().all(|r| r.status != 401));
    session.flush(Duration::from_secs(10)).await.unwrap();
    let stored = store.load(USER).await.unwrap().unwrap();
    assert_eq!(refresh_value(&stored.token), refresh_value(&fresh));
    assert_eq!(grants(&env), 1);
}

/// A call without a store for a token a session of the store holds: its
/// refresh goes through the store's lease, and the store gets the new token.
#[tokio::test]
async fn a_call_without_the_store_refreshes_through_it() {
    let env = Env::new().await;
    let store = Arc::new(Rigged::memory());
    store.save(USER, &env.token).await.unwrap();
    let session = env
        .sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    env.sandbox
        .inject_fault(Fault::with_delay("oauth/token", Duration::from_millis(300)));
    env.sandbox.expire_access_token(USER);
    let plain = {
        let (sdk, contract, token) = (env.sdk.clone(), env.contract.clone(), env.token.clone());
        tokio::spawn(async move {
            sdk.push(&contract, &token)
                .library()
                .file(b"plain".to_vec(), "plain.txt")
                .descriptor(descriptor())
                .send()
                .await
        })
    };
    until(Duration::from_secs(5), || {
        store.leases.load(Ordering::SeqCst) > 0
    })
    .await;
    let ours = push(&session, "session.txt").await.unwrap();
    let plain = plain.await.unwrap().unwrap();
    assert_eq!(grants(&env), 1);
    assert_eq!(
        store.leases.load(Ordering::SeqCst),
        1,
        "one refresh, under the lease"
    );
    let stored = store.load(USER).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(
        refresh_value(&stored.token),
        refresh_value(plain.user_access_token())
    );
    assert_eq!(
        refresh_value(&stored.token),
        refresh_value(ours.user_access_token())
    );
}

/// A store that never answers: the call ends in a store error after a
/// bounded time, and nothing is refreshed without the lease.
#[tokio::test]
async fn a_hung_store_ends_in_a_store_error_and_no_refresh() {
    let env = Env::new().await;
    let store = Arc::new(Rigged::memory());
    store.save(USER, &env.token).await.unwrap();
    let sdk = process(&env, Duration::from_millis(600));
    let session = sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    store.knobs.lease_hangs.store(true, Ordering::SeqCst);
    env.sandbox.expire_access_token(USER);
    let started = Instant::now();
    let err = push(&session, "x.txt").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenStore, "{err:?}");
    assert!(err.to_string().contains("rigged memory"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(grants(&env), 0);
}

/// An ambiguous refresh on the file store (digi.me may have spent the
/// refresh token; the answer is a 502): the lease is kept until it runs out,
/// so that no other process spends the same refresh token meanwhile.
#[tokio::test]
async fn the_file_store_keeps_its_lease_after_an_ambiguous_refresh() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(FileTokenStore::new(dir.path()).unwrap());
    store.save(USER, &env.token).await.unwrap();
    let ttl = Duration::from_millis(800);
    let session = process(&env, ttl)
        .session_from_store(&env.contract, store, USER)
        .await
        .unwrap();
    env.sandbox
        .inject_fault(Fault::with_status("oauth/token", 502).after_handling());
    env.sandbox.expire_access_token(USER);
    let err = push(&session, "x.txt").await.unwrap_err();
    assert!(err.refresh_may_have_happened(), "{err:?}");
    // Another process's handle on the same files finds the lease held...
    let other = FileTokenStore::new(dir.path()).unwrap();
    let held = other.acquire_lease(USER, ttl).await.unwrap();
    assert!(matches!(held, LeaseAttempt::Held { .. }), "{held:?}");
    // ...until it runs out.
    tokio::time::sleep(ttl).await;
    match other.acquire_lease(USER, ttl).await.unwrap() {
        LeaseAttempt::Acquired { took_over, .. } => assert!(took_over),
        held => panic!("the lease ran out: {held:?}"),
    }
}

/// An operator puts back a token older than the stored one (a backup): the
/// store takes it at a new version and says the token was already rotated
/// away (the CLI's `token put` warns).
#[tokio::test]
async fn an_old_token_put_back_is_flagged() {
    let env = Env::new().await;
    let store = Arc::new(MemoryTokenStore::new());
    assert_eq!(store.save(USER, &env.token).await.unwrap().version, 1);
    let session = env
        .sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    session.refresh().await.unwrap();
    let saved = store.save(USER, &env.token).await.unwrap();
    assert!(saved.already_rotated, "{saved:?}");
    assert_eq!(saved.version, 3);
}

/// The runtime a refresh started on is dropped while its grant is out: the
/// refresh runs on regardless, and a call on another runtime gets its token,
/// with no second grant.
#[test]
fn a_dropped_runtime_does_not_cancel_a_refresh() {
    let server = tokio::runtime::Runtime::new().unwrap();
    let env = server.block_on(Env::new());
    env.sandbox
        .inject_fault(Fault::with_delay("oauth/token", Duration::from_millis(400)));
    env.sandbox.expire_access_token(USER);
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (sdk, contract, token) = (env.sdk.clone(), env.contract.clone(), env.token.clone());
    first.spawn(async move {
        let _ = sdk
            .push(&contract, &token)
            .library()
            .file(b"first".to_vec(), "first.txt")
            .descriptor(descriptor())
            .send()
            .await;
    });
    // Dropped while the grant is out (digi.me answers after 400 ms).
    first.block_on(async { tokio::time::sleep(Duration::from_millis(150)).await });
    drop(first);
    let second = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = second
        .block_on(async {
            env.sdk
                .push(&env.contract, &env.token)
                .library()
                .file(b"second".to_vec(), "second.txt")
                .descriptor(descriptor())
                .send()
                .await
        })
        .expect("the refresh went on, and this push gets its token");
    assert!(outcome.token_refreshed());
    assert_eq!(grants(&env), 1);
    assert_eq!(env.sandbox.refresh_count(), 1);
    drop(server);
}

/// Two stores that describe themselves alike (two memory stores; two
/// tables of one database) hold different users under the same key: each
/// session refreshes through its own store, and each user's pushes land in
/// their own library.
#[tokio::test]
async fn two_stores_with_one_name_keep_their_users_apart() {
    let env = Env::new().await;
    env.sandbox.create_user("user-2", ACCOUNTS).unwrap();
    let token2 = env.sandbox.mint_token(APP, CONTRACT, "user-2").unwrap();
    let store1 = Arc::new(MemoryTokenStore::new());
    let store2 = Arc::new(MemoryTokenStore::new());
    assert_eq!(store1.describe(), store2.describe());
    store1.save("u", &env.token).await.unwrap();
    store2.save("u", &token2).await.unwrap();
    let s1 = env
        .sdk
        .session_from_store(&env.contract, store1.clone(), "u")
        .await
        .unwrap();
    let s2 = env
        .sdk
        .session_from_store(&env.contract, store2.clone(), "u")
        .await
        .unwrap();
    env.sandbox.expire_access_token("user-2");
    push(&s2, "for-user-2.txt").await.unwrap();
    let in1 = store1.load("u").await.unwrap().unwrap();
    assert_eq!(in1.version, 1, "store 1 untouched");
    assert_eq!(refresh_value(&in1.token), refresh_value(&env.token));
    assert_eq!(store2.load("u").await.unwrap().unwrap().version, 2);
    push(&s1, "for-user-1.txt").await.unwrap();
    assert_eq!(env.sandbox.library(USER).len(), 1);
    assert_eq!(env.sandbox.library("user-2").len(), 1);
}

/// A session without a store, made before a session of a store with the
/// same token: its refresh goes through the store too, so the store's
/// session adopts the new token instead of spending the old one.
#[tokio::test]
async fn a_storeless_session_made_first_refreshes_through_the_store() {
    let env = Env::new().await;
    let plain = env.sdk.session(&env.contract, env.token.clone());
    let store = Arc::new(MemoryTokenStore::new());
    store.save(USER, &env.token).await.unwrap();
    let stored = env
        .sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    env.sandbox.expire_access_token(USER);
    push(&plain, "plain.txt").await.expect("the storeless push");
    push(&stored, "stored.txt")
        .await
        .expect("the store's session is not told to reauthorize");
    assert_eq!(grants(&env), 1, "one refresh token, spent once");
    assert_eq!(store.load(USER).await.unwrap().unwrap().version, 2);
}

/// A refresh without a store is under way when a session of a store opens
/// on the same token: the store's session joins it and writes its result to
/// the store, rather than refreshing the same token under the lease.
#[tokio::test]
async fn a_store_session_joins_a_refresh_made_without_the_store() {
    let env = Env::new().await;
    let store = Arc::new(MemoryTokenStore::new());
    store.save(USER, &env.token).await.unwrap();
    env.sandbox
        .inject_fault(Fault::with_delay("oauth/token", Duration::from_millis(300)));
    let plain = {
        let (sdk, contract, token) = (env.sdk.clone(), env.contract.clone(), env.token.clone());
        tokio::spawn(async move { sdk.refresh(&contract, &token).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let session = env
        .sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    let fresh = session
        .refresh()
        .await
        .expect("the session joins the refresh");
    let theirs = plain.await.unwrap().unwrap();
    assert_eq!(refresh_value(&fresh), refresh_value(&theirs));
    assert_eq!(grants(&env), 1);
    let stored = store.load(USER).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(refresh_value(&stored.token), refresh_value(&theirs));
}

/// `flush` waits for a token granted while the key set was out of reach:
/// until it is verified and written, a process must not exit as if all were
/// stored (the CLI would then drop the only copy of the new token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_waits_for_a_token_pending_verification() {
    let env = Env::new().await;
    // A new client: its key set cache is empty.
    let sdk = process(&env, Duration::from_secs(30));
    let store = Arc::new(MemoryTokenStore::new());
    store.save(USER, &env.token).await.unwrap();
    let session = sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    env.sandbox.expire_access_token(USER);
    // Three verifications of three fetches, then two more tries' worth.
    env.sandbox
        .inject_fault(Fault::with_status("jwks/oauth", 503).times(15));
    let err = push(&session, "x.txt").await.unwrap_err();
    assert!(err.refresh_may_have_happened(), "{err:?}");
    let early = session.flush(Duration::from_millis(100)).await.unwrap_err();
    assert!(early.refresh_may_have_happened(), "{early:?}");
    session
        .flush(Duration::from_secs(20))
        .await
        .expect("the token is verified and written");
    let stored = store.load(USER).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_ne!(refresh_value(&stored.token), refresh_value(&env.token));
    assert_eq!(grants(&env), 1);
}

/// A process about to exit calls `flush`: it returns only once the lease
/// is given back, whether the refresh succeeded or was refused. Otherwise
/// the next process (the next CLI command) waits for the lease to run out:
/// 30 s with the default time to live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_waits_until_the_lease_is_given_back() {
    for refused in [false, true] {
        let env = Env::new().await;
        let store = Arc::new(Rigged::memory());
        store.save(USER, &env.token).await.unwrap();
        store.knobs.release_delay_ms.store(300, Ordering::SeqCst);
        let shared: Arc<dyn TokenStore> = store.clone();
        let session = process(&env, Duration::from_secs(30))
            .session_from_store(&env.contract, shared, USER)
            .await
            .unwrap();
        env.sandbox.expire_access_token(USER);
        if refused {
            env.sandbox.expire_refresh_token(USER);
            let err = push(&session, "a.txt").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ReauthorizationRequired, "{err:?}");
        } else {
            push(&session, "a.txt").await.unwrap();
        }
        assert_eq!(grants(&env), 1);
        session.flush(Duration::from_secs(5)).await.unwrap();
        // A commit ends the lease; a refusal gives it back by a release.
        let releases = store.releases.load(Ordering::SeqCst);
        assert_eq!(releases, usize::from(refused));
        assert_eq!(
            store.released.load(Ordering::SeqCst),
            releases,
            "flush returned before the lease was given back (refused: {refused})"
        );
        let next = store
            .inner
            .acquire_lease(USER, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(
            matches!(next, LeaseAttempt::Acquired { .. }),
            "the next process finds the lease free (refused: {refused})"
        );
    }
}
