//! [`MemoryTokenStore`]: tokens in this process's memory.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::{Lease, LeaseAttempt, TokenStore};
use crate::error::{Error, Result};
use crate::token::UserAccessToken;

/// Tokens in this process's memory, with leases that expire.
///
/// For one process: tests, a single worker, or a cache in front of your own
/// storage. Processes do not share it; for those, use a [`FileTokenStore`](super::FileTokenStore)
/// (one machine) or `PostgresTokenStore` (a fleet).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> digime::Result<()> {
/// use digime::store::{MemoryTokenStore, TokenStore};
/// use digime::{Token, UserAccessToken};
/// let store = MemoryTokenStore::new();
/// let expiry = std::time::SystemTime::now();
/// let token = UserAccessToken::new(Token::new("a", expiry), Token::new("r", expiry), None, None);
/// store.save("patient-42", &token).await?;
/// assert!(store.load("patient-42").await?.is_some());
/// assert!(store.load("someone-else").await?.is_none());
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    users: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Default)]
struct Entry {
    token: Option<UserAccessToken>,
    /// The lease's id and when it expires.
    lease: Option<(String, Instant)>,
}

impl MemoryTokenStore {
    /// An empty store.
    ///
    /// ```
    /// let store = digime::store::MemoryTokenStore::new();
    /// # let _ = store;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    fn users(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // Every update below leaves the map consistent: a panic elsewhere
        // while it was locked changes nothing.
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TokenStore for MemoryTokenStore {
    fn describe(&self) -> String {
        "memory".to_owned()
    }

    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Option<UserAccessToken>>> {
        let token = self.users().get(user).and_then(|e| e.token.clone());
        Box::pin(async move { Ok(token) })
    }

    fn save<'a>(&'a self, user: &'a str, token: &'a UserAccessToken) -> BoxFuture<'a, Result<()>> {
        self.users().entry(user.to_owned()).or_default().token = Some(token.clone());
        Box::pin(async { Ok(()) })
    }

    fn acquire_lease<'a>(
        &'a self,
        user: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<LeaseAttempt>> {
        Box::pin(async move {
            let lease = Lease::new(user, ttl)?;
            let mut users = self.users();
            let entry = users.entry(user.to_owned()).or_default();
            let now = Instant::now();
            if let Some((_, until)) = &entry.lease
                && *until > now
            {
                return Ok(LeaseAttempt::Held {
                    current: entry.token.clone(),
                    retry_after: *until - now,
                });
            }
            let until = now
                .checked_add(ttl)
                .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
            entry.lease = Some((lease.id().to_owned(), until));
            Ok(LeaseAttempt::Acquired {
                lease,
                current: entry.token.clone(),
            })
        })
    }

    fn commit<'a>(&'a self, lease: Lease, token: &'a UserAccessToken) -> BoxFuture<'a, Result<()>> {
        let mut users = self.users();
        let entry = users.entry(lease.user().to_owned()).or_default();
        let result = if entry.lease.as_ref().is_some_and(|(id, _)| id == lease.id()) {
            entry.token = Some(token.clone());
            entry.lease = None;
            Ok(())
        } else {
            Err(Error::token_store(
                "memory",
                format!(
                    "the refresh lease of user `{}` expired and was taken by another caller",
                    lease.user()
                ),
            ))
        };
        Box::pin(async move { result })
    }

    fn release(&self, lease: Lease) -> BoxFuture<'_, Result<()>> {
        let mut users = self.users();
        if let Some(entry) = users.get_mut(lease.user())
            && entry.lease.as_ref().is_some_and(|(id, _)| id == lease.id())
        {
            entry.lease = None;
        }
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Token;

    fn token(refresh: &str) -> UserAccessToken {
        UserAccessToken::new(
            Token::from_unix_secs("a", 1),
            Token::from_unix_secs(refresh, 2),
            None,
            None,
        )
    }

    #[tokio::test]
    async fn one_lease_at_a_time_and_commit_writes_and_releases() {
        let store = MemoryTokenStore::new();
        store.save("u", &token("r0")).await.unwrap();
        let LeaseAttempt::Acquired { lease, current } = store
            .acquire_lease("u", Duration::from_secs(30))
            .await
            .unwrap()
        else {
            panic!("the first caller gets the lease");
        };
        assert!(current.is_some());
        let LeaseAttempt::Held { retry_after, .. } = store
            .acquire_lease("u", Duration::from_secs(30))
            .await
            .unwrap()
        else {
            panic!("the second caller waits");
        };
        assert!(retry_after <= Duration::from_secs(30));
        store.commit(lease, &token("r1")).await.unwrap();
        let LeaseAttempt::Acquired { current, .. } = store
            .acquire_lease("u", Duration::from_secs(30))
            .await
            .unwrap()
        else {
            panic!("the lease was released by the commit");
        };
        use secrecy::ExposeSecret;
        assert_eq!(
            current.unwrap().refresh_token().value().expose_secret(),
            "r1"
        );
    }

    #[tokio::test]
    async fn an_expired_lease_is_taken_over_and_the_old_holder_cannot_commit() {
        let store = MemoryTokenStore::new();
        let LeaseAttempt::Acquired { lease: old, .. } = store
            .acquire_lease("u", Duration::from_millis(1))
            .await
            .unwrap()
        else {
            panic!("acquired");
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(matches!(
            store
                .acquire_lease("u", Duration::from_secs(30))
                .await
                .unwrap(),
            LeaseAttempt::Acquired { .. }
        ));
        let err = store.commit(old, &token("r1")).await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::TokenStore);
        assert!(store.load("u").await.unwrap().is_none(), "nothing written");
    }
}
