//! Sessions opened from a token store: the store is read when the session
//! opens and written when the token is refreshed, never on the way of a
//! push; the refresh runs under the store's lease; bad input names the
//! field.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use digime::secrecy::ExposeSecret;
use digime::store::{FileTokenStore, MemoryTokenStore, TokenStore};
use digime::{Account, ErrorKind, FileDescriptor, UserAccessToken};
use support::rigged::Rigged;
use support::{Env, USER};

fn descriptor() -> FileDescriptor {
    FileDescriptor::builder()
        .mime_type("text/plain")
        .accounts(vec![Account::new("acc-1")])
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_is_touched_to_load_and_to_refresh_never_per_push() {
    let env = Env::new().await;
    let store = Arc::new(Rigged::memory());
    store.save(USER, &env.token).await.unwrap();
    let session = env
        .sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    assert_eq!(store.calls(), 1, "one load");

    let push = |i: usize| {
        let session = session.clone();
        async move {
            session
                .push()
                .library()
                .file(format!("n{i}").into_bytes(), "n.txt")
                .descriptor(descriptor())
                .send()
                .await
        }
    };
    for i in 0..20 {
        push(i).await.unwrap();
    }
    assert_eq!(store.calls(), 1, "no store round trip per push");

    // An expiry under 20 concurrent pushes: one lease, one commit.
    env.sandbox.expire_access_token(USER);
    let pushes: Vec<_> = (20..40).map(|i| tokio::spawn(push(i))).collect();
    for p in pushes {
        p.await.unwrap().unwrap();
    }
    assert_eq!(store.leases.load(Ordering::SeqCst), 1);
    assert_eq!(store.calls(), 3, "load, lease, commit");
    assert_eq!(env.sandbox.refresh_count(), 1);
    let stored = store.load(USER).await.unwrap().unwrap();
    assert_eq!(stored.version, 2, "one write after the first");
    let stored = stored.token;
    assert_eq!(
        stored.refresh_token().value().expose_secret(),
        session
            .user_access_token()
            .refresh_token()
            .value()
            .expose_secret(),
        "the store holds the new token"
    );
    assert_eq!(env.sandbox.library(USER).len(), 40);
}

#[tokio::test]
async fn a_session_adopts_a_token_another_process_rotated_in_the_store() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(FileTokenStore::new(dir.path()).unwrap());
    store.save(USER, &env.token).await.unwrap();
    let ours = env
        .sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    // "Another process": another SDK, its own memory, the same directory.
    let other_sdk = digime::DigiMe::builder()
        .application_id(support::APP)
        .base_url(&env.sandbox.base_url())
        .build()
        .unwrap();
    let theirs = other_sdk
        .session_from_store(
            &env.contract,
            Arc::new(FileTokenStore::new(dir.path()).unwrap()),
            USER,
        )
        .await
        .unwrap();
    let rotated = theirs.refresh().await.unwrap();
    // Our copy's access token was revoked by that refresh: our push meets a
    // 401, finds the rotation in the store and carries on, no refresh of its own.
    let outcome = ours
        .push()
        .library()
        .file(b"after".to_vec(), "after.txt")
        .descriptor(descriptor())
        .send()
        .await
        .expect("the push adopts the stored token");
    assert!(outcome.token_refreshed());
    assert_eq!(
        outcome
            .user_access_token()
            .refresh_token()
            .value()
            .expose_secret(),
        rotated.refresh_token().value().expose_secret()
    );
    assert_eq!(env.sandbox.refresh_count(), 1);
    assert_eq!(ours.refresh_count(), 1);
}

#[tokio::test]
async fn a_missing_user_or_an_empty_key_names_the_field() {
    let env = Env::new().await;
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let err = env
        .sdk
        .session_from_store(&env.contract, store.clone(), "nobody")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.field(), Some("user"));
    assert!(err.to_string().contains("nobody"), "{err}");
    let err = env
        .sdk
        .session_from_store(&env.contract, store, "")
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("user"));
}

fn refresh_value(token: &UserAccessToken) -> String {
    token.refresh_token().value().expose_secret().to_owned()
}

/// A second process: its own client, with nothing in memory.
fn another_process(env: &Env) -> digime::DigiMe {
    digime::DigiMe::builder()
        .application_id(support::APP)
        .base_url(&env.sandbox.base_url())
        .build()
        .unwrap()
}

/// A push of a small file named `name` through `session`.
async fn push_named(
    session: &digime::UserSession,
    name: &'static str,
) -> digime::Result<digime::PushOutcome> {
    session
        .push()
        .library()
        .file(name.as_bytes().to_vec(), name)
        .descriptor(descriptor())
        .send()
        .await
}

/// The store fails (or panics) when the new token is written, more often
/// than a refresh tries: the push goes on with the new token and says the
/// store did not take it; the SDK keeps trying, and the store gets it, so
/// that another process finds it there instead of spending the old refresh
/// token.
async fn a_token_the_store_did_not_take(panics: bool) {
    let env = Env::new().await;
    let store = Arc::new(Rigged::memory());
    store.save(USER, &env.token).await.unwrap();
    let session = env
        .sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    store.knobs.commit_failures.store(4, Ordering::SeqCst);
    store.knobs.commit_panics.store(panics, Ordering::SeqCst);
    env.sandbox.expire_access_token(USER);
    let outcome = push_named(&session, "x.txt")
        .await
        .expect("the push goes on with the new token");
    let err = outcome
        .token_store_error()
        .expect("the outcome says the store did not take the token");
    assert_eq!(err.kind(), ErrorKind::TokenStore, "{err:?}");
    let fresh = outcome.user_access_token().clone();
    assert!(outcome.token_refreshed());
    assert_ne!(refresh_value(&fresh), refresh_value(&env.token));
    assert_eq!(env.sandbox.library(USER).len(), 1);
    // The SDK keeps writing it in the background, and the store gets it.
    session
        .flush(Duration::from_secs(10))
        .await
        .expect("the token reaches the store");
    let stored = store.load(USER).await.unwrap().unwrap();
    assert_eq!(refresh_value(&stored.token), refresh_value(&fresh));
    assert_eq!(stored.version, 2);
    assert_eq!(env.sandbox.refresh_count(), 1);
    // Another process finds the new token in the store; when it expires,
    // it refreshes that one, and nobody has to authorize again.
    let theirs = another_process(&env)
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    env.sandbox.expire_access_token(USER);
    push_named(&theirs, "theirs.txt")
        .await
        .expect("the other process refreshes the stored token");
    assert_eq!(env.sandbox.refresh_count(), 2);
    assert_eq!(env.sandbox.library(USER).len(), 2);
}

#[tokio::test]
async fn a_refreshed_token_the_store_did_not_take_is_handed_back_kept_and_written_later() {
    a_token_the_store_did_not_take(false).await;
}

#[tokio::test]
async fn a_store_that_panics_while_writing_the_new_token_loses_nothing() {
    a_token_the_store_did_not_take(true).await;
}

/// A refresh made by a call without a store (`sdk.push(&contract, &token)`)
/// reaches the store as soon as a session of the store meets the old token:
/// otherwise another process would load the spent token from the store.
#[tokio::test]
async fn a_rotation_made_without_the_store_is_written_to_it() {
    let env = Env::new().await;
    let store = Arc::new(MemoryTokenStore::new());
    store.save(USER, &env.token).await.unwrap();
    // A refresh without the store, while the old access token still works.
    let fresh = env.sdk.refresh(&env.contract, &env.token).await.unwrap();
    let session = env
        .sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    push_named(&session, "session.txt")
        .await
        .expect("the session adopts the rotation");
    assert!(
        !env.sandbox.library(USER).is_empty(),
        "the session's push is stored"
    );
    // The session wrote the rotated token to the store before its push, and
    // pushed with it: its old access token was never sent (no 401).
    let refused = env
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.status == 401)
        .count();
    assert_eq!(refused, 0, "the session pushed with the rotated token");
    assert_eq!(env.sandbox.refresh_count(), 1);
    assert_eq!(
        refresh_value(&store.load(USER).await.unwrap().unwrap().token),
        refresh_value(&fresh),
        "the store holds the rotated token"
    );
    // Another process pushes with the stored token, no refresh of its own.
    let theirs = another_process(&env)
        .session_from_store(&env.contract, store, USER)
        .await
        .unwrap();
    push_named(&theirs, "theirs.txt")
        .await
        .expect("the stored token works");
    assert_eq!(env.sandbox.refresh_count(), 1);
    assert_eq!(env.sandbox.library(USER).len(), 2);
}

/// The store lags behind this process (it did not take a token this process
/// rotated to) when a session holding an even older token must refresh: the
/// session gets the newest token and the store is brought up to date, with
/// no refresh of the spent token (which digi.me would refuse, sending the
/// user back through consent).
#[tokio::test]
async fn a_lagging_store_is_brought_up_to_date_without_spending_an_old_token() {
    let env = Env::new().await;
    let store = Arc::new(Rigged::memory());
    store.save(USER, &env.token).await.unwrap();
    // This process's first session holds T0.
    let first = env
        .sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    // Another process rotates T0 to T1, and the store takes T1.
    let theirs = another_process(&env)
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    env.sandbox.expire_access_token(USER);
    push_named(&theirs, "theirs").await.unwrap();
    // This process's second session loads T1 and rotates it to T2, which
    // the store fails to take (for a while): it still holds T1.
    let second = env
        .sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    store.knobs.commit_failures.store(5, Ordering::SeqCst);
    env.sandbox.expire_access_token(USER);
    let outcome = push_named(&second, "second").await.unwrap();
    assert!(outcome.token_store_error().is_some());
    let t2 = outcome.user_access_token().clone();
    assert_eq!(env.sandbox.refresh_count(), 2);
    // The first session, still on T0, must refresh: it gets T2; T0 is not
    // sent to digi.me again.
    push_named(&first, "first")
        .await
        .expect("the first session goes on with the newest token");
    assert_eq!(env.sandbox.refresh_count(), 2);
    assert_eq!(
        refresh_value(&first.user_access_token()),
        refresh_value(&t2)
    );
    first.flush(Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        refresh_value(&store.load(USER).await.unwrap().unwrap().token),
        refresh_value(&t2)
    );
}
