//! The conformance kit: checks that a [`TokenStore`] keeps the contract the
//! SDK's refresh protocol relies on (feature `store-conformance`).
//!
//! Implement [`TokenStore`] on your own database (DynamoDB, Redis, MySQL…),
//! then run [`check`] against it in your tests, on the database your
//! fleet will use. The kit runs every [`Check`] in turn and stops at the
//! first broken promise, with a [`Violation`] that says what the store
//! answered and what the contract expects. The memory, file and PostgreSQL
//! stores of this crate pass it in its CI.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use digime::store::MemoryTokenStore;
//! use digime::store::conformance::Kit;
//!
//! let store = MemoryTokenStore::new(); // your store here
//! let report = Kit::new().lease_ttl(Duration::from_millis(100)).check(&store).await?;
//! assert_eq!(report.checks().len(), digime::store::conformance::Check::ALL.len());
//! # Ok(()) }
//! ```
//!
//! What the kit needs:
//!
//! - **A Tokio runtime** with its timer (it sleeps past lease expiries).
//! - **Its own user keys.** Each run writes under fresh random keys that
//!   start with `digime-conformance-`, so it can run against a shared
//!   database, beside other runs. It leaves those users behind (the trait
//!   has no delete): a few rows per run.
//! - **About eight lease TTLs** of run time ([`Kit::lease_ttl`], 400 ms by
//!   default), plus the store's own round trips. A store whose calls take a
//!   good part of a TTL cannot be judged on lease timing: the kit says so,
//!   and a longer TTL fixes it.
//!
//! Racing calls are polled concurrently from one task (a `join_all`), so
//! they race wherever the store awaits: on its connections, its pool, its
//! blocking threads.

use std::time::{Duration, Instant};

mod checks;
mod ctx;
mod report;

use super::TokenStore;
use checks::*;
use ctx::Ctx;
pub use report::{Check, Report, Violation};

/// Checks `store` with the kit's defaults: see [`Kit::check`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let report = digime::store::conformance::check(&digime::store::MemoryTokenStore::new()).await?;
/// println!("{report}");
/// # Ok(()) }
/// ```
pub async fn check(store: &dyn TokenStore) -> Result<Report, Violation> {
    Kit::new().check(store).await
}

/// The kit's settings.
///
/// ```
/// use std::time::Duration;
/// let kit = digime::store::conformance::Kit::new()
///     .lease_ttl(Duration::from_millis(500))
///     .tasks(16);
/// # let _ = kit;
/// ```
#[derive(Debug, Clone)]
#[must_use = "a kit checks nothing until `.check(store)` is awaited"]
pub struct Kit {
    lease_ttl: Duration,
    tasks: usize,
}

impl Default for Kit {
    fn default() -> Self {
        Kit {
            lease_ttl: Duration::from_millis(400),
            tasks: 8,
        }
    }
}

impl Kit {
    /// The defaults: leases of 400 ms where the kit waits for one to
    /// expire, and 8 racing calls.
    ///
    /// ```
    /// let kit = digime::store::conformance::Kit::new();
    /// # let _ = kit;
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The time to live of the leases the kit lets expire (at least 50 ms).
    /// Make it several times a call's round trip to the store.
    ///
    /// ```
    /// let kit = digime::store::conformance::Kit::new().lease_ttl(std::time::Duration::from_secs(1));
    /// # let _ = kit;
    /// ```
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl.max(Duration::from_millis(50));
        self
    }

    /// How many calls race in the concurrency checks (at least 2).
    ///
    /// ```
    /// let kit = digime::store::conformance::Kit::new().tasks(32);
    /// # let _ = kit;
    /// ```
    pub fn tasks(mut self, tasks: usize) -> Self {
        self.tasks = tasks.max(2);
        self
    }

    /// Runs every [`Check`] on `store`, in the order of [`Check::ALL`].
    ///
    /// Errors: the first [`Violation`]. A store call that fails is one too
    /// (its error is the violation's [`source`](std::error::Error::source)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use digime::store::conformance::Kit;
    /// let store = digime::store::MemoryTokenStore::new();
    /// let report = Kit::new().lease_ttl(std::time::Duration::from_millis(100)).check(&store).await?;
    /// assert!(report.elapsed() >= std::time::Duration::from_millis(100));
    /// # Ok(()) }
    /// ```
    pub async fn check(&self, store: &dyn TokenStore) -> Result<Report, Violation> {
        let started = Instant::now();
        let run = crate::signer::nonce::random_alnum(10).map_err(|e| Violation {
            check: Check::Versions,
            store: store.describe(),
            message: "the system's random source failed".to_owned(),
            source: Some(e),
        })?;
        let mut ctx = Ctx {
            store,
            ttl: self.lease_ttl,
            tasks: self.tasks,
            run,
            check: Check::Versions,
            serial: 0,
        };
        for &check in Check::ALL {
            ctx.check = check;
            match check {
                Check::Versions => versions(&mut ctx).await?,
                Check::CompareAndSet => compare_and_set(&mut ctx).await?,
                Check::CommitWithoutLease => commit_without_lease(&mut ctx).await?,
                Check::AlreadyRotated => already_rotated(&mut ctx).await?,
                Check::LeaseExclusive => lease_exclusive(&mut ctx).await?,
                Check::Release => release(&mut ctx).await?,
                Check::ExpiryAndTakeover => expiry_and_takeover(&mut ctx).await?,
                Check::Renewal => renewal(&mut ctx).await?,
                Check::ConcurrentWrites => concurrent_writes(&mut ctx).await?,
                Check::ConcurrentLeases => concurrent_leases(&mut ctx).await?,
            }
        }
        Ok(Report {
            store: store.describe(),
            checks: Check::ALL.to_vec(),
            elapsed: started.elapsed(),
        })
    }
}
