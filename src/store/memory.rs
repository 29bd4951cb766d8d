//! [`MemoryTokenStore`]: tokens in this process's memory.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::{
    CommitOutcome, Lease, LeaseAttempt, ROTATED_KEPT, Saved, StoredToken, TokenStore, capped,
    refresh_fingerprint,
};
use crate::error::Result;
use crate::token::UserAccessToken;

/// Tokens in this process's memory, with versions and leases that expire.
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
/// assert_eq!(store.save("patient-42", &token).await?.version, 1);
/// assert_eq!(store.load("patient-42").await?.map(|s| s.version), Some(1));
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
    version: u64,
    /// The lease's id and when it expires.
    lease: Option<(String, Instant)>,
    /// Fingerprints of the refresh tokens rotated away from, newest last.
    rotated: VecDeque<String>,
}

impl Entry {
    fn current(&self) -> Option<StoredToken> {
        self.token
            .clone()
            .map(|token| StoredToken::new(token, self.version))
    }

    /// Writes `token` at the next version; a commit (`rotation`) also
    /// remembers the token it replaces as rotated away from. A save does
    /// not: it may put back any token, on purpose.
    fn write(&mut self, token: &UserAccessToken, rotation: bool) -> u64 {
        if rotation && let Some(old) = &self.token {
            self.rotated.push_back(refresh_fingerprint(old));
            if self.rotated.len() > ROTATED_KEPT {
                self.rotated.pop_front();
            }
        }
        self.token = Some(token.clone());
        self.version += 1;
        self.version
    }

    fn holds(&self, lease: &Lease) -> bool {
        self.lease.as_ref().is_some_and(|(id, _)| id == lease.id())
    }
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

    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Option<StoredToken>>> {
        let current = self.users().get(user).and_then(Entry::current);
        Box::pin(async move { Ok(current) })
    }

    fn save<'a>(
        &'a self,
        user: &'a str,
        token: &'a UserAccessToken,
    ) -> BoxFuture<'a, Result<Saved>> {
        let mut users = self.users();
        let entry = users.entry(user.to_owned()).or_default();
        let already_rotated = entry.rotated.contains(&refresh_fingerprint(token));
        let version = entry.write(token, false);
        Box::pin(async move { Ok(Saved::new(version, already_rotated)) })
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
            let took_over = match &entry.lease {
                Some((_, until)) if *until > now => {
                    return Ok(LeaseAttempt::Held {
                        current: entry.current(),
                        retry_after: *until - now,
                    });
                }
                Some(_) => true,
                None => false,
            };
            entry.lease = Some((lease.id().to_owned(), now + capped(ttl)));
            Ok(LeaseAttempt::Acquired {
                lease,
                current: entry.current(),
                took_over,
            })
        })
    }

    fn renew_lease<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        let mut users = self.users();
        let renewed = match users.get_mut(lease.user()) {
            Some(entry) if entry.holds(lease) => {
                entry.lease = Some((lease.id().to_owned(), Instant::now() + capped(ttl)));
                true
            }
            _ => false,
        };
        Box::pin(async move { Ok(renewed) })
    }

    fn commit<'a>(
        &'a self,
        lease: &'a Lease,
        expected: u64,
        token: &'a UserAccessToken,
    ) -> BoxFuture<'a, Result<CommitOutcome>> {
        let mut users = self.users();
        let entry = users.entry(lease.user().to_owned()).or_default();
        let outcome = if entry.version == expected {
            if entry.holds(lease) {
                entry.lease = None;
            }
            CommitOutcome::Committed(entry.write(token, true))
        } else {
            CommitOutcome::Conflict(entry.current())
        };
        Box::pin(async move { Ok(outcome) })
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<()>> {
        let mut users = self.users();
        if let Some(entry) = users.get_mut(lease.user())
            && entry.holds(lease)
        {
            entry.lease = None;
        }
        Box::pin(async { Ok(()) })
    }
}
