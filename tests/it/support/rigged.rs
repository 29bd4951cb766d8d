//! A token store with faults on demand, around a real one: it counts its
//! calls, and can make commits slow or failing (or panicking), hang the
//! lease, or fail the renewals of a lease (its holder cut off from the
//! store, so that the lease runs out while the holder works).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use digime::UserAccessToken;
use digime::store::{
    CommitOutcome, Lease, LeaseAttempt, MemoryTokenStore, Saved, StoredToken, TokenStore,
};
use futures_util::future::BoxFuture;

/// The faults, set at any time by the test.
#[derive(Debug, Default)]
pub struct Knobs {
    /// Commits wait this long (ms) before they are made.
    pub commit_delay_ms: AtomicU64,
    /// The next this-many commits fail (nothing written).
    pub commit_failures: AtomicUsize,
    /// Failing commits panic instead.
    pub commit_panics: AtomicBool,
    /// Taking the lease never answers.
    pub lease_hangs: AtomicBool,
    /// Renewals fail (the lease then runs out while its holder works).
    pub renewals_fail: AtomicBool,
    /// Releases wait this long (ms) before they are made.
    pub release_delay_ms: AtomicU64,
}

/// A store with [`Knobs`], counting its calls.
#[derive(Debug)]
pub struct Rigged {
    pub inner: Arc<dyn TokenStore>,
    pub knobs: Arc<Knobs>,
    pub loads: AtomicUsize,
    pub leases: AtomicUsize,
    pub renewals: AtomicUsize,
    pub commits: AtomicUsize,
    pub releases: AtomicUsize,
    /// Releases made (after their delay).
    pub released: AtomicUsize,
}

impl Rigged {
    pub fn new(inner: Arc<dyn TokenStore>) -> Self {
        Rigged {
            inner,
            knobs: Arc::default(),
            loads: AtomicUsize::new(0),
            leases: AtomicUsize::new(0),
            renewals: AtomicUsize::new(0),
            commits: AtomicUsize::new(0),
            releases: AtomicUsize::new(0),
            released: AtomicUsize::new(0),
        }
    }

    pub fn memory() -> Self {
        Rigged::new(Arc::new(MemoryTokenStore::new()))
    }

    /// Every call made so far.
    pub fn calls(&self) -> usize {
        [
            &self.loads,
            &self.leases,
            &self.renewals,
            &self.commits,
            &self.releases,
        ]
        .iter()
        .map(|c| c.load(Ordering::SeqCst))
        .sum()
    }
}

impl TokenStore for Rigged {
    fn describe(&self) -> String {
        format!("rigged {}", self.inner.describe())
    }

    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, digime::Result<Option<StoredToken>>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(user)
    }

    fn save<'a>(
        &'a self,
        user: &'a str,
        token: &'a UserAccessToken,
    ) -> BoxFuture<'a, digime::Result<Saved>> {
        self.inner.save(user, token)
    }

    fn acquire_lease<'a>(
        &'a self,
        user: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, digime::Result<LeaseAttempt>> {
        self.leases.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if self.knobs.lease_hangs.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            self.inner.acquire_lease(user, ttl).await
        })
    }

    fn renew_lease<'a>(
        &'a self,
        lease: &'a Lease,
        ttl: Duration,
    ) -> BoxFuture<'a, digime::Result<bool>> {
        self.renewals.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if self.knobs.renewals_fail.load(Ordering::SeqCst) {
                return Err(digime::Error::token_store(
                    self.describe(),
                    "the store is out of reach",
                ));
            }
            self.inner.renew_lease(lease, ttl).await
        })
    }

    fn commit<'a>(
        &'a self,
        lease: &'a Lease,
        expected: u64,
        token: &'a UserAccessToken,
    ) -> BoxFuture<'a, digime::Result<CommitOutcome>> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let delay = self.knobs.commit_delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            let fail = self
                .knobs
                .commit_failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if fail {
                if self.knobs.commit_panics.load(Ordering::SeqCst) {
                    panic!("a bug in the store's own code");
                }
                return Err(digime::Error::token_store(
                    self.describe(),
                    "the connection was lost",
                ));
            }
            self.inner.commit(lease, expected, token).await
        })
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, digime::Result<()>> {
        self.releases.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let delay = self.knobs.release_delay_ms.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let released = self.inner.release(lease).await;
            self.released.fetch_add(1, Ordering::SeqCst);
            released
        })
    }
}
