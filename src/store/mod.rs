//! Token stores: where the tokens of a fleet live.
//!
//! digi.me refresh tokens work once. When several processes push for the
//! same user and the access token expires, one of them refreshes and the
//! others adopt the token it got. A [`TokenStore`] holds each user's token
//! under a key of your choosing, with a **version** that grows by one at
//! every write, and a short **lease** per user that says who is refreshing
//! now. The SDK's refresh protocol (one state machine, model-checked) runs
//! over this contract; the [scaling guide](crate::guide::scaling) describes
//! it once, with its properties and its bounds.
//!
//! Open a session on a store with
//! [`DigiMe::session_from_store`](crate::DigiMe::session_from_store).
//!
//! | store | for | the lease |
//! | --- | --- | --- |
//! | [`MemoryTokenStore`] | one process (tests, a single worker) | an entry with an expiry |
//! | [`FileTokenStore`] | the processes of one machine (the CLI's default) | a stamp in a lock file, written under an OS file lock |
//! | `PostgresTokenStore` (feature `postgres`) | a fleet of hosts | a lease column, timed by the database's clock |
//!
//! Your own database fits too: implement [`TokenStore`], and check your
//! implementation with the conformance kit (`store::conformance`, feature
//! `store-conformance`).

#[cfg(feature = "store-conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "store-conformance")))]
pub mod conformance;
mod file;
mod memory;
mod open;
#[cfg(feature = "postgres")]
mod postgres;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;

pub use file::FileTokenStore;
pub use memory::MemoryTokenStore;
pub use open::open;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{PostgresTokenStore, PostgresTokenStoreBuilder};

/// The PostgreSQL pool crate [`PostgresTokenStore::from_pool`] takes, at the
/// version this crate uses (feature `postgres`).
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use deadpool_postgres;

use crate::error::Result;
use crate::token::UserAccessToken;

/// Where user access tokens live, shared by every process that pushes for
/// the same users: a versioned token per user, and a per-user lease.
///
/// The trait is object-safe (`Arc<dyn TokenStore>`), its methods return
/// boxed `Send` futures, and an implementation must be `Send + Sync`. Every
/// error should be an [`ErrorKind::TokenStore`](crate::ErrorKind::TokenStore)
/// naming the store; [`Error::token_store`](crate::Error::token_store) makes one. The SDK puts a deadline on
/// every call, so a call that hangs ends as such an error. A call must not
/// block its thread (the SDK's refreshes share one): do blocking work with
/// `tokio::task::spawn_blocking`, as [`FileTokenStore`] does.
///
/// The contract, which the SDK's refresh protocol relies on (the
/// conformance kit, feature `store-conformance`, checks every point):
///
/// - **Versions.** Each user's token has a version: `0` while nothing is
///   stored, then one more at every write ([`save`](Self::save) or a
///   [`commit`](Self::commit) that lands). A version never goes back.
///   *Newer* means a higher version, never "a different token".
/// - **Compare-and-set.** [`commit`](Self::commit) writes only when the
///   stored version is the one the caller read; otherwise it answers
///   [`CommitOutcome::Conflict`] with what is stored now. It does not need
///   the lease: a holder whose lease ran out may still commit, and lands
///   only if nothing moved meanwhile.
/// - **The lease is for liveness only.** [`acquire_lease`](Self::acquire_lease)
///   gives it to one caller at a time; an unexpired lease held by someone
///   else is [`LeaseAttempt::Held`], an expired one is taken over
///   (`took_over: true`). [`renew_lease`](Self::renew_lease) extends it while
///   its holder works; a commit that lands and [`release`](Self::release)
///   end it.
/// - **Rotations are remembered.** A commit that replaces a token records
///   its refresh token (by [`refresh_fingerprint`]) as rotated away from,
///   for the last 16 at least; a [`save`](Self::save) of such a token says
///   so ([`Saved::already_rotated`]).
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

    /// The token stored for `user` and its version, if any.
    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Option<StoredToken>>>;

    /// Stores `token` for `user`, whatever was there, at the next version
    /// (for a user's first token, a token after reauthorization, or an
    /// operator's `digime token put`).
    fn save<'a>(
        &'a self,
        user: &'a str,
        token: &'a UserAccessToken,
    ) -> BoxFuture<'a, Result<Saved>>;

    /// Tries to take `user`'s refresh lease for `ttl`, and reads the token
    /// stored now.
    fn acquire_lease<'a>(
        &'a self,
        user: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<LeaseAttempt>>;

    /// Extends `lease` to `ttl` from now, while its holder still holds it.
    /// `false` when the lease was lost (it ran out and someone took it, or
    /// it ended).
    fn renew_lease<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> BoxFuture<'a, Result<bool>>;

    /// Writes `token` as `lease`'s user's token if the stored version is
    /// still `expected` (`0`: nothing stored), at version `expected + 1`,
    /// and ends `lease` if it is still held. Else writes nothing and answers
    /// what is stored now.
    fn commit<'a>(
        &'a self,
        lease: &'a Lease,
        expected: u64,
        token: &'a UserAccessToken,
    ) -> BoxFuture<'a, Result<CommitOutcome>>;

    /// Ends `lease` without writing anything (if it is still held).
    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<()>>;
}

/// A stored token and its version.
///
/// ```
/// use digime::{Token, UserAccessToken};
/// use digime::store::StoredToken;
/// let at = std::time::SystemTime::now();
/// let stored = StoredToken::new(UserAccessToken::new(Token::new("a", at), Token::new("r", at), None, None), 3);
/// assert_eq!(stored.version, 3);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoredToken {
    /// The token.
    pub token: UserAccessToken,
    /// Its version: one more at every write, never going back.
    pub version: u64,
}

impl StoredToken {
    /// A token at `version`.
    ///
    /// ```
    /// # use digime::{Token, UserAccessToken};
    /// # let at = std::time::SystemTime::now();
    /// # let token = UserAccessToken::new(Token::new("a", at), Token::new("r", at), None, None);
    /// let stored = digime::store::StoredToken::new(token, 1);
    /// # let _ = stored;
    /// ```
    pub fn new(token: UserAccessToken, version: u64) -> Self {
        StoredToken { token, version }
    }
}

/// What [`TokenStore::save`] did.
///
/// ```
/// let saved = digime::store::Saved::new(4, false);
/// assert_eq!(saved.version, 4);
/// assert!(!saved.already_rotated);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Saved {
    /// The version the token was stored at.
    pub version: u64,
    /// The store had already rotated this token's refresh token away (the
    /// token is older than one it held, such as a backup put back): digi.me
    /// will refuse to refresh it, so the user will have to be reauthorized
    /// once its access token expires.
    pub already_rotated: bool,
}

impl Saved {
    /// A save at `version`.
    ///
    /// ```
    /// let saved = digime::store::Saved::new(1, false);
    /// # let _ = saved;
    /// ```
    pub fn new(version: u64, already_rotated: bool) -> Self {
        Saved {
            version,
            already_rotated,
        }
    }
}

/// The answer to [`TokenStore::commit`].
///
/// ```
/// use digime::store::CommitOutcome;
/// # fn f(outcome: CommitOutcome) {
/// match outcome {
///     CommitOutcome::Committed(version) => { let _ = version; /* the token is stored at `version` */ }
///     CommitOutcome::Conflict(current) => { let _ = current; /* something newer is stored: adopt it */ }
///     _ => {}
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CommitOutcome {
    /// The token was written, at this version.
    Committed(u64),
    /// The stored version was not the expected one: nothing was written.
    /// This is what is stored now.
    Conflict(Option<StoredToken>),
}

/// The answer to [`TokenStore::acquire_lease`].
///
/// ```
/// use digime::store::LeaseAttempt;
/// # fn f(attempt: LeaseAttempt) {
/// match attempt {
///     LeaseAttempt::Acquired { lease, current, took_over } => { let _ = (lease, current, took_over); }
///     LeaseAttempt::Held { current, retry_after } => { let _ = (current, retry_after); }
///     _ => {}
/// }
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum LeaseAttempt {
    /// The caller holds the lease now.
    Acquired {
        /// The lease: renew it while working; give it back to
        /// [`TokenStore::commit`] or [`TokenStore::release`].
        lease: Lease,
        /// The token stored now, read with the lease taken.
        current: Option<StoredToken>,
        /// The lease was taken over from a holder that let it run out (it
        /// died, or was cut off from the store, perhaps mid-refresh).
        took_over: bool,
    },
    /// Someone else holds an unexpired lease.
    Held {
        /// The token stored now.
        current: Option<StoredToken>,
        /// A hint for when to ask again (the lease's remaining time, or a
        /// short poll interval).
        retry_after: Duration,
    },
}

/// A user's refresh lease, held by one caller until it commits, releases,
/// or lets it run out.
///
/// A store identifies its leases by [`id`](Self::id) (random, from the
/// system's CSPRNG).
///
/// ```
/// # fn main() -> digime::Result<()> {
/// use std::time::Duration;
/// let lease = digime::store::Lease::new("patient-42", Duration::from_secs(30))?;
/// assert_eq!(lease.user(), "patient-42");
/// assert_eq!(lease.id().len(), 32);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    user: String,
    id: String,
    expires_at: SystemTime,
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
        Ok(Lease::with_id(
            user,
            crate::signer::nonce::nonce()?,
            SystemTime::now() + capped(ttl),
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
        }
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

    /// When the lease expires (by this machine's clock, as first granted).
    ///
    /// ```
    /// # let lease = digime::store::Lease::new("u", std::time::Duration::from_secs(5)).unwrap();
    /// assert!(lease.expires_at() > std::time::SystemTime::now());
    /// ```
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }
}

/// A time to live no longer than a century: `now + capped(ttl)` never
/// overflows a clock.
pub(crate) fn capped(ttl: Duration) -> Duration {
    ttl.min(Duration::from_secs(100 * 365 * 24 * 3600))
}

/// The fingerprint a store keeps of a refresh token it rotated away from:
/// lowercase hex SHA-256 of the refresh token's value (never the value).
///
/// ```
/// use digime::{Token, UserAccessToken};
/// let at = std::time::SystemTime::now();
/// let token = UserAccessToken::new(Token::new("a", at), Token::new("r", at), None, None);
/// let fp = digime::store::refresh_fingerprint(&token);
/// assert_eq!(fp.len(), 64);
/// assert!(!fp.contains('r') || fp.chars().all(|c| c.is_ascii_hexdigit()));
/// ```
pub fn refresh_fingerprint(token: &UserAccessToken) -> String {
    use secrecy::ExposeSecret;
    crate::hex::sha256_hex(token.refresh_token().value().expose_secret().as_bytes())
}

/// How many rotated-away-from fingerprints a store keeps per user, at the
/// least.
pub const ROTATED_KEPT: usize = 16;

/// A session's store and the user it holds the token of.
#[derive(Clone, Debug)]
pub(crate) struct SessionStore {
    pub(crate) store: Arc<dyn TokenStore>,
    pub(crate) user: String,
}
