//! Token stores: where the tokens of a fleet live, and how its processes
//! agree on one refresh per rotation.
//!
//! digi.me refresh tokens work once. When several processes push for the
//! same user and the access token expires, only one of them may spend the
//! refresh token: the others must adopt the token it got. A [`TokenStore`]
//! makes that possible. It holds each user's token under a key of your
//! choosing, and a short **lease** per user: the process that holds the
//! lease refreshes, writes the new token and releases the lease; the others
//! wait, read the new token and carry on.
//!
//! Open a session on a store with
//! [`DigiMe::session_from_store`](crate::DigiMe::session_from_store). The
//! store is read when the session opens, and used again only when the token
//! must be refreshed: a fleet pushing with fresh tokens makes no store round
//! trip per push.
//!
//! | store | for | the lease |
//! | --- | --- | --- |
//! | [`MemoryTokenStore`] | one process (tests, a single worker) | a mutex-guarded entry with an expiry |
//! | [`FileTokenStore`] | the processes of one machine (the CLI's default) | an OS file lock, released when the holder exits |
//! | `PostgresTokenStore` (feature `postgres`) | a fleet of hosts | a lease column, timed by the database's clock |
//!
//! Your own database fits too: implement [`TokenStore`] (object-safe, async,
//! `Send + Sync`).
//!
//! ## The refresh protocol
//!
//! When a session's token must be refreshed (it expires within the skew, or
//! digi.me answered `401 InvalidToken`), the SDK:
//!
//! 1. asks the store for the user's lease ([`TokenStore::acquire_lease`]);
//!    the answer carries the token stored now;
//! 2. if the stored token is another one than the session's (its refresh
//!    token differs), another process already rotated it: the SDK releases
//!    the lease and adopts the stored token, with no call to digi.me (a
//!    stored token this process already rotated away from is older: it is
//!    never adopted, and the newest token this process knows is written
//!    instead);
//! 3. else it refreshes with digi.me, cut off at 4/5 of the lease's time to
//!    live, and writes the new token while releasing the lease
//!    ([`TokenStore::commit`]);
//! 4. if the lease is held elsewhere, it waits a little and asks again: the
//!    holder's new token shows up in the answer, or the lease expires (its
//!    holder died) and this process takes it, finds the token unchanged and
//!    refreshes.
//!
//! What happens on each failure:
//!
//! - **the holder dies mid-refresh**: its lease expires after its time to
//!   live ([`DigiMeBuilder::lease_ttl`](crate::DigiMeBuilder::lease_ttl),
//!   30 s by default; a file lock is released at once); the next caller
//!   re-reads the token and, as it is unchanged, refreshes;
//! - **the refresh fails**: the lease is released and the error returned
//!   (when the refresh may have happened, the lease runs out on its own
//!   instead);
//! - **the store is unreachable**: the error is
//!   [`ErrorKind::TokenStore`](crate::ErrorKind::TokenStore), naming the
//!   store, and no refresh is made without the lease;
//! - **the new token cannot be written** (the store went away after the
//!   refresh, or its code panicked): the error carries the new token (the
//!   old one is spent), for you to keep; this process keeps it too, and the
//!   next call of a session of the store writes it there.
//!
//! A rotation this process made without the store (a call without a
//! session) is written to the store by the first session of the store that
//! meets the old token, before that session uses it.

mod file;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod protocol;

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;

pub use file::FileTokenStore;
pub use memory::MemoryTokenStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{PostgresTokenStore, PostgresTokenStoreBuilder};
pub(crate) use protocol::{refresh_through, write_through};

/// The PostgreSQL pool crate [`PostgresTokenStore::from_pool`] takes, at the
/// version this crate uses (feature `postgres`).
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use deadpool_postgres;

use crate::error::{Error, Result};
use crate::token::UserAccessToken;

/// Where user access tokens live, shared by every process that pushes for
/// the same users, with a per-user lease so that one process refreshes per
/// rotation.
///
/// The trait is object-safe (`Arc<dyn TokenStore>`), its methods return
/// boxed `Send` futures, and an implementation must be `Send + Sync`. Every
/// error should be an [`ErrorKind::TokenStore`](crate::ErrorKind::TokenStore)
/// naming the store; [`store_error`] makes one.
///
/// The contract, which the SDK's refresh protocol relies on:
///
/// - [`acquire_lease`](Self::acquire_lease) gives the lease to one caller at
///   a time: an unexpired lease held by someone else is
///   [`LeaseAttempt::Held`]. An expired one may be taken over. Both answers
///   carry the token stored now.
/// - [`commit`](Self::commit) writes the new token and releases the lease in
///   one atomic step, and fails if the lease was taken over meanwhile.
/// - [`release`](Self::release) releases without writing.
///
/// ```
/// # fn main() -> digime::Result<()> {
/// use std::sync::Arc;
/// use digime::store::{MemoryTokenStore, TokenStore};
/// let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
/// assert_eq!(store.describe(), "memory");
/// # Ok(()) }
/// ```
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// Names the store in errors and logs, such as
    /// `postgres://db.internal:5432/app` or `file:///var/lib/app/tokens`.
    /// Never a password.
    fn describe(&self) -> String;

    /// The token stored for `user`, if any.
    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Option<UserAccessToken>>>;

    /// Stores `token` for `user`, whatever was there (for putting a user's
    /// first token in, after authorization or by an operator).
    fn save<'a>(&'a self, user: &'a str, token: &'a UserAccessToken) -> BoxFuture<'a, Result<()>>;

    /// Tries to take `user`'s refresh lease for `ttl`, and reads the token
    /// stored now.
    fn acquire_lease<'a>(
        &'a self,
        user: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<LeaseAttempt>>;

    /// Writes `token` as `lease`'s user's token and releases the lease, in
    /// one step. Fails when the lease was lost (it expired and someone else
    /// took it).
    fn commit<'a>(&'a self, lease: Lease, token: &'a UserAccessToken) -> BoxFuture<'a, Result<()>>;

    /// Releases `lease` without writing anything.
    fn release(&self, lease: Lease) -> BoxFuture<'_, Result<()>>;
}

/// The answer to [`TokenStore::acquire_lease`].
///
/// ```
/// use digime::store::LeaseAttempt;
/// # fn f(attempt: LeaseAttempt) {
/// match attempt {
///     LeaseAttempt::Acquired { lease, current } => { let _ = (lease, current); /* refresh, then commit */ }
///     LeaseAttempt::Held { current, retry_after } => { let _ = (current, retry_after); /* wait, or adopt */ }
///     _ => {}
/// }
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum LeaseAttempt {
    /// The caller holds the lease now.
    Acquired {
        /// The lease: give it back to [`TokenStore::commit`] or
        /// [`TokenStore::release`].
        lease: Lease,
        /// The token stored now, read under the lease.
        current: Option<UserAccessToken>,
    },
    /// Someone else holds an unexpired lease.
    Held {
        /// The token stored now.
        current: Option<UserAccessToken>,
        /// A hint for when to ask again (the lease's remaining time, or a
        /// short poll interval).
        retry_after: Duration,
    },
}

/// A user's refresh lease, held by one caller until it commits or releases
/// it, or until it expires.
///
/// A store identifies its leases by [`id`](Self::id) (random, from the
/// system's CSPRNG). A store whose lease is an OS resource (a file lock)
/// keeps it in the lease with [`hold`](Self::hold): dropping the lease
/// drops the resource.
///
/// ```
/// # fn main() -> digime::Result<()> {
/// use std::time::Duration;
/// let lease = digime::store::Lease::new("patient-42", Duration::from_secs(30))?;
/// assert_eq!(lease.user(), "patient-42");
/// assert_eq!(lease.id().len(), 32);
/// # Ok(()) }
/// ```
pub struct Lease {
    user: String,
    id: String,
    expires_at: SystemTime,
    guard: Option<Box<dyn Any + Send + Sync>>,
}

impl Lease {
    /// A new lease on `user` for `ttl`, with a fresh random id.
    ///
    /// Errors: [`ErrorKind::Crypto`](crate::ErrorKind) when the system's
    /// random source fails.
    ///
    /// ```
    /// let a = digime::store::Lease::new("u", std::time::Duration::from_secs(1)).unwrap();
    /// let b = digime::store::Lease::new("u", std::time::Duration::from_secs(1)).unwrap();
    /// assert_ne!(a.id(), b.id());
    /// ```
    pub fn new(user: impl Into<String>, ttl: Duration) -> Result<Self> {
        let now = SystemTime::now();
        // A lease too long for the clock lasts as long as the clock can say.
        let expires_at = now
            .checked_add(ttl)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
        Ok(Lease::with_id(
            user,
            crate::signer::nonce::nonce()?,
            expires_at,
        ))
    }

    /// A lease with an id and an expiry the store chose.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// let lease = digime::store::Lease::with_id("u", "id-1", SystemTime::now() + Duration::from_secs(5));
    /// assert_eq!(lease.id(), "id-1");
    /// ```
    pub fn with_id(user: impl Into<String>, id: impl Into<String>, expires_at: SystemTime) -> Self {
        Lease {
            user: user.into(),
            id: id.into(),
            expires_at,
            guard: None,
        }
    }

    /// Keeps `guard` (such as a locked file) for as long as the lease lives.
    ///
    /// ```
    /// # let lease = digime::store::Lease::with_id("u", "id", std::time::SystemTime::now());
    /// let lease = lease.hold(String::from("a resource"));
    /// assert_eq!(lease.guard::<String>().map(String::as_str), Some("a resource"));
    /// ```
    pub fn hold(mut self, guard: impl Any + Send + Sync) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }

    /// The guard kept with [`hold`](Self::hold), if it is a `T`.
    ///
    /// ```
    /// # let lease = digime::store::Lease::with_id("u", "id", std::time::SystemTime::now());
    /// assert!(lease.guard::<String>().is_none());
    /// ```
    pub fn guard<T: Any>(&self) -> Option<&T> {
        self.guard.as_ref()?.downcast_ref()
    }

    /// The user whose token the lease guards.
    ///
    /// ```
    /// # let lease = digime::store::Lease::with_id("u", "id", std::time::SystemTime::now());
    /// assert_eq!(lease.user(), "u");
    /// ```
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The lease's id: what a store compares to know the lease is still
    /// this caller's.
    ///
    /// ```
    /// # let lease = digime::store::Lease::with_id("u", "id", std::time::SystemTime::now());
    /// assert_eq!(lease.id(), "id");
    /// ```
    pub fn id(&self) -> &str {
        &self.id
    }

    /// When the lease expires (by this machine's clock).
    ///
    /// ```
    /// # let lease = digime::store::Lease::new("u", std::time::Duration::from_secs(5)).unwrap();
    /// assert!(lease.expires_at() > std::time::SystemTime::now());
    /// ```
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("user", &self.user)
            .field("id", &self.id)
            .field("expires_at", &self.expires_at)
            .field("guard", &self.guard.is_some())
            .finish()
    }
}

/// An [`ErrorKind::TokenStore`](crate::ErrorKind::TokenStore) error naming
/// `store` and saying what failed, for [`TokenStore`] implementations.
///
/// ```
/// let err = digime::store::store_error("redis://cache:6379", "the connection was refused");
/// assert_eq!(err.kind(), digime::ErrorKind::TokenStore);
/// assert!(err.to_string().contains("redis://cache:6379"));
/// ```
pub fn store_error(store: impl fmt::Display, what: impl fmt::Display) -> Error {
    Error::token_store(store, what)
}

/// Opens the store a URL names: `file:///path/to/dir` (a
/// [`FileTokenStore`] on that directory, created if missing) or, with the
/// `postgres` feature, `postgres://…` (a `PostgresTokenStore`, its table
/// created if missing).
///
/// Errors: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
/// naming `token_store` for a URL it does not take;
/// [`ErrorKind::TokenStore`](crate::ErrorKind::TokenStore) when the store
/// cannot be opened.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> digime::Result<()> {
/// let dir = std::env::temp_dir().join("digime-doc-store");
/// let store = digime::store::open(&format!("file://{}", dir.display())).await?;
/// assert!(store.describe().starts_with("file://"));
/// let err = digime::store::open("ftp://example.com").await.unwrap_err();
/// assert_eq!(err.field(), Some("token_store"));
/// # Ok(()) }
/// ```
pub async fn open(url: &str) -> Result<Arc<dyn TokenStore>> {
    if let Some(path) = url.strip_prefix("file://") {
        if path.is_empty() {
            return Err(Error::invalid_input(
                "token_store",
                "a file:// URL needs a directory, such as file:///var/lib/app/tokens",
            ));
        }
        return Ok(Arc::new(FileTokenStore::new(path)?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            return Ok(Arc::new(PostgresTokenStore::connect(url).await?));
        }
        #[cfg(not(feature = "postgres"))]
        return Err(Error::invalid_input(
            "token_store",
            "a postgres:// store needs the crate's `postgres` feature",
        ));
    }
    Err(Error::invalid_input(
        "token_store",
        "must be a file://DIR or postgres:// URL",
    ))
}

/// A session's store and the user it holds the token of.
#[derive(Clone, Debug)]
pub(crate) struct SessionStore {
    pub(crate) store: Arc<dyn TokenStore>,
    pub(crate) user: String,
}
