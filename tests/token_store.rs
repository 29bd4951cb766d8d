//! Sessions opened from a token store: the store is read when the session
//! opens and written when the token is refreshed, never on the way of a
//! push; the refresh runs under the store's lease; bad input names the
//! field.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use digime::secrecy::ExposeSecret;
use digime::store::{FileTokenStore, Lease, LeaseAttempt, MemoryTokenStore, TokenStore};
use digime::{Account, ErrorKind, FileDescriptor, UserAccessToken};
use futures_util::future::BoxFuture;
use support::{Env, USER};

/// A store that counts every call made to it.
#[derive(Debug, Default)]
struct Counting {
    inner: MemoryTokenStore,
    calls: AtomicUsize,
    leases: AtomicUsize,
}

impl TokenStore for Counting {
    fn describe(&self) -> String {
        "counting".into()
    }
    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, digime::Result<Option<UserAccessToken>>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.load(user)
    }
    fn save<'a>(
        &'a self,
        user: &'a str,
        token: &'a UserAccessToken,
    ) -> BoxFuture<'a, digime::Result<()>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.save(user, token)
    }
    fn acquire_lease<'a>(
        &'a self,
        user: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, digime::Result<LeaseAttempt>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.leases.fetch_add(1, Ordering::SeqCst);
        self.inner.acquire_lease(user, ttl)
    }
    fn commit<'a>(
        &'a self,
        lease: Lease,
        token: &'a UserAccessToken,
    ) -> BoxFuture<'a, digime::Result<()>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.commit(lease, token)
    }
    fn release(&self, lease: Lease) -> BoxFuture<'_, digime::Result<()>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.release(lease)
    }
}

fn descriptor() -> FileDescriptor {
    FileDescriptor::builder()
        .mime_type("text/plain")
        .accounts(vec![Account::new("acc-1")])
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_is_touched_to_load_and_to_refresh_never_per_push() {
    let env = Env::new().await;
    let store = Arc::new(Counting::default());
    store.save(USER, &env.token).await.unwrap();
    store.calls.store(0, Ordering::SeqCst);
    let session = env
        .sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    assert_eq!(store.calls.load(Ordering::SeqCst), 1, "one load");

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
    assert_eq!(
        store.calls.load(Ordering::SeqCst),
        1,
        "no store round trip per push"
    );

    // An expiry under 20 concurrent pushes: one lease, one commit.
    env.sandbox.expire_access_token(USER);
    let pushes: Vec<_> = (20..40).map(|i| tokio::spawn(push(i))).collect();
    for p in pushes {
        p.await.unwrap().unwrap();
    }
    assert_eq!(store.leases.load(Ordering::SeqCst), 1);
    assert_eq!(store.calls.load(Ordering::SeqCst), 3, "load, lease, commit");
    assert_eq!(env.sandbox.refresh_count(), 1);
    let stored = store.load(USER).await.unwrap().unwrap();
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

/// A store that loses its connection right when the new token is written.
#[derive(Debug, Default)]
struct CommitFails {
    inner: MemoryTokenStore,
}

impl TokenStore for CommitFails {
    fn describe(&self) -> String {
        "flaky".into()
    }
    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, digime::Result<Option<UserAccessToken>>> {
        self.inner.load(user)
    }
    fn save<'a>(
        &'a self,
        user: &'a str,
        token: &'a UserAccessToken,
    ) -> BoxFuture<'a, digime::Result<()>> {
        self.inner.save(user, token)
    }
    fn acquire_lease<'a>(
        &'a self,
        user: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, digime::Result<LeaseAttempt>> {
        self.inner.acquire_lease(user, ttl)
    }
    fn commit<'a>(
        &'a self,
        lease: Lease,
        _token: &'a UserAccessToken,
    ) -> BoxFuture<'a, digime::Result<()>> {
        let released = self.inner.release(lease);
        Box::pin(async move {
            released.await?;
            Err(digime::store::store_error(
                "flaky",
                "the connection was lost",
            ))
        })
    }
    fn release(&self, lease: Lease) -> BoxFuture<'_, digime::Result<()>> {
        self.inner.release(lease)
    }
}

#[tokio::test]
async fn a_refreshed_token_the_store_did_not_take_is_handed_back_and_kept() {
    let env = Env::new().await;
    let store = Arc::new(CommitFails::default());
    store.save(USER, &env.token).await.unwrap();
    let session = env
        .sdk
        .session_from_store(&env.contract, store.clone(), USER)
        .await
        .unwrap();
    env.sandbox.expire_access_token(USER);
    let push = || {
        session
            .push()
            .library()
            .file(b"x".to_vec(), "x.txt")
            .descriptor(descriptor())
            .send()
    };
    let err = push().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenStore, "{err:?}");
    assert!(
        err.token_refreshed(),
        "the new token travels with the error"
    );
    let fresh = err.user_access_token().unwrap().clone();
    assert_ne!(
        fresh.refresh_token().value().expose_secret(),
        env.token.refresh_token().value().expose_secret()
    );
    // This process keeps the new token: the next push uses it, and the old
    // refresh token is not spent a second time.
    push().await.expect("the next push adopts the kept token");
    assert_eq!(env.sandbox.refresh_count(), 1);
    assert_eq!(env.sandbox.library(USER).len(), 1);
}
