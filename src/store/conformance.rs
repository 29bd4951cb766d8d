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

use std::fmt;
use std::time::{Duration, Instant, UNIX_EPOCH};

use futures_util::future::join_all;
use secrecy::ExposeSecret;

use super::{CommitOutcome, Lease, LeaseAttempt, ROTATED_KEPT, StoredToken, TokenStore};
use crate::error::Error;
use crate::token::{Token, UserAccessToken};

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

/// One part of the contract the kit checks.
///
/// ```
/// use digime::store::conformance::Check;
/// assert_eq!(Check::CompareAndSet.to_string(), "compare_and_set");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// `load` of a user never written is `None`; the first `save` is
    /// version 1, each later `save` and each commit that lands one more;
    /// `load` gives back the token saved, field for field, and its version.
    Versions,
    /// `commit` lands only on the stored version (`0`: nothing stored),
    /// at that version plus one; on any other version (behind or ahead) it
    /// writes nothing and answers `Conflict` with the stored token and its
    /// version. A commit that lands ends its lease.
    CompareAndSet,
    /// A commit needs no lease: one made with a lease that expired and was
    /// taken over, or with a lease never acquired, lands if the version
    /// matches, and conflicts otherwise. It leaves the new holder's lease
    /// alone.
    CommitWithoutLease,
    /// `save` of a token whose refresh token the store replaced by commits
    /// (among the last [`ROTATED_KEPT`] replaced) says `already_rotated`;
    /// of a new token, it does not.
    AlreadyRotated,
    /// While a lease is held, `acquire_lease` answers `Held` with the
    /// stored token and a `retry_after` no longer than the lease's time to
    /// live.
    LeaseExclusive,
    /// `release` ends the lease (the next taker is not told it took one
    /// over); releasing or renewing a lease that was released changes
    /// nothing and renews nothing.
    Release,
    /// A lease that runs out is taken by the next caller, who is told
    /// `took_over`; a caller is not told so on a user with no lease, after
    /// a release (even once its time has passed), or after a commit.
    ExpiryAndTakeover,
    /// `renew_lease` keeps a lease past its first time to live; a lease
    /// renewed no more runs out; renewing a lease that was taken over, or
    /// that a commit ended, answers `false`.
    Renewal,
    /// Racing commits on one version: exactly one lands, and the others
    /// conflict with its token. Racing saves: each gets a version of its
    /// own.
    ConcurrentWrites,
    /// Racing `acquire_lease` calls: exactly one gets the lease, on a user
    /// the store never saw and on an expired lease alike.
    ConcurrentLeases,
}

impl Check {
    /// Every check, in the order the kit runs them.
    ///
    /// ```
    /// assert_eq!(digime::store::conformance::Check::ALL.len(), 10);
    /// ```
    pub const ALL: &'static [Check] = &[
        Check::Versions,
        Check::CompareAndSet,
        Check::CommitWithoutLease,
        Check::AlreadyRotated,
        Check::LeaseExclusive,
        Check::Release,
        Check::ExpiryAndTakeover,
        Check::Renewal,
        Check::ConcurrentWrites,
        Check::ConcurrentLeases,
    ];

    /// The check's name, as in user keys and messages.
    ///
    /// ```
    /// assert_eq!(digime::store::conformance::Check::Renewal.name(), "renewal");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Check::Versions => "versions",
            Check::CompareAndSet => "compare_and_set",
            Check::CommitWithoutLease => "commit_without_lease",
            Check::AlreadyRotated => "already_rotated",
            Check::LeaseExclusive => "lease_exclusive",
            Check::Release => "release",
            Check::ExpiryAndTakeover => "expiry_and_takeover",
            Check::Renewal => "renewal",
            Check::ConcurrentWrites => "concurrent_writes",
            Check::ConcurrentLeases => "concurrent_leases",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a run of the kit found: every check passed.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use digime::store::conformance::Kit;
/// let report = Kit::new().lease_ttl(std::time::Duration::from_millis(100))
///     .check(&digime::store::MemoryTokenStore::new()).await?;
/// assert!(report.to_string().starts_with("memory: 10 checks passed"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Report {
    store: String,
    checks: Vec<Check>,
    elapsed: Duration,
}

impl Report {
    /// The checks that passed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let report = digime::store::conformance::Kit::new().lease_ttl(std::time::Duration::from_millis(50))
    /// #     .check(&digime::store::MemoryTokenStore::new()).await?;
    /// assert!(report.checks().contains(&digime::store::conformance::Check::Renewal));
    /// # Ok(()) }
    /// ```
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// How long the run took.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let report = digime::store::conformance::Kit::new().lease_ttl(std::time::Duration::from_millis(50))
    /// #     .check(&digime::store::MemoryTokenStore::new()).await?;
    /// assert!(report.elapsed() < std::time::Duration::from_secs(60));
    /// # Ok(()) }
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} checks passed in {:.2?} (",
            self.store,
            self.checks.len(),
            self.elapsed
        )?;
        for (i, check) in self.checks.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{check}")?;
        }
        f.write_str(")")
    }
}

/// A promise of the contract the store broke, or a call that failed.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # use digime::store::conformance::{Check, Kit};
/// # let store = digime::store::MemoryTokenStore::new();
/// match Kit::new().check(&store).await {
///     Ok(report) => println!("{report}"),
///     Err(violation) => panic!("{} ({:?})", violation, violation.check()),
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Violation {
    check: Check,
    store: String,
    message: String,
    source: Option<Error>,
}

impl Violation {
    /// The check that failed.
    ///
    /// ```
    /// # fn f(v: digime::store::conformance::Violation) {
    /// println!("{}", v.check());
    /// # }
    /// ```
    pub fn check(&self) -> Check {
        self.check
    }

    /// What the store answered, and what the contract expects.
    ///
    /// ```
    /// # fn f(v: digime::store::conformance::Violation) {
    /// println!("{}", v.message());
    /// # }
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "token store {} fails the conformance check `{}`: {}",
            self.store, self.check, self.message
        )
    }
}

impl std::error::Error for Violation {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

type Checked<T = ()> = Result<T, Violation>;

/// A run in progress: the store, the settings, the check running.
struct Ctx<'s> {
    store: &'s dyn TokenStore,
    ttl: Duration,
    tasks: usize,
    /// Random, so that runs never share a user.
    run: String,
    check: Check,
    /// Numbers the tokens the run makes.
    serial: u64,
}

/// A long lease: one the kit never lets expire.
const LONG: Duration = Duration::from_secs(60);

impl Ctx<'_> {
    fn user(&self, name: &str) -> String {
        format!("digime-conformance-{}-{}-{name}", self.run, self.check)
    }

    /// A new token, its refresh value `t<n>` (shown in messages: the
    /// kit's tokens hold no secret).
    fn token(&mut self) -> UserAccessToken {
        self.serial += 1;
        let expiry = UNIX_EPOCH + Duration::from_secs(4_102_444_800 + self.serial);
        UserAccessToken::new(
            Token::new(format!("access-{}-{}", self.run, self.serial), expiry),
            Token::new(format!("t{}", self.serial), expiry),
            Some(format!("conformance-{}", self.run)),
            None,
        )
    }

    fn violation(&self, message: impl Into<String>) -> Violation {
        Violation {
            check: self.check,
            store: self.store.describe(),
            message: message.into(),
            source: None,
        }
    }

    fn ensure(&self, ok: bool, message: impl FnOnce() -> String) -> Checked {
        if ok {
            Ok(())
        } else {
            Err(self.violation(message()))
        }
    }

    /// A store call's error as a violation.
    fn failed(&self, call: &str, e: Error) -> Violation {
        Violation {
            check: self.check,
            store: self.store.describe(),
            message: format!("{call} failed: {e}"),
            source: Some(e),
        }
    }

    fn lease(&self, user: &str, ttl: Duration) -> Checked<Lease> {
        Lease::new(user, ttl).map_err(|e| self.failed("Lease::new", e))
    }

    /// Awaits the store's `call`, its error as a violation.
    async fn call<T>(
        &self,
        call: &str,
        future: impl Future<Output = crate::Result<T>>,
    ) -> Checked<T> {
        future.await.map_err(|e| self.failed(call, e))
    }

    async fn load(&self, user: &str) -> Checked<Option<StoredToken>> {
        self.call("load", self.store.load(user)).await
    }

    /// Loads `user`'s token and checks it is `token` at `version`.
    async fn expect_stored(&self, user: &str, token: &UserAccessToken, version: u64) -> Checked {
        let stored = self.load(user).await?;
        self.ensure(is(&stored, token, version), || {
            format!(
                "load answered {}, expected {} at version {version}",
                show(&stored),
                refresh(token)
            )
        })
    }

    async fn save(&self, user: &str, token: &UserAccessToken) -> Checked<super::Saved> {
        self.call("save", self.store.save(user, token)).await
    }

    /// Saves `token` and checks the version and `already_rotated`.
    async fn expect_save(
        &self,
        user: &str,
        token: &UserAccessToken,
        version: u64,
        already_rotated: bool,
    ) -> Checked {
        let saved = self.save(user, token).await?;
        self.ensure(
            saved.version == version && saved.already_rotated == already_rotated,
            || {
                format!(
                    "save of {} answered version {} (already_rotated: {}), expected version \
                     {version} (already_rotated: {already_rotated})",
                    refresh(token),
                    saved.version,
                    saved.already_rotated
                )
            },
        )
    }

    async fn acquire(&self, user: &str, ttl: Duration) -> Checked<LeaseAttempt> {
        self.call("acquire_lease", self.store.acquire_lease(user, ttl))
            .await
    }

    /// Takes the lease, which must be free: the lease, the token stored and
    /// `took_over`.
    async fn acquired(
        &self,
        user: &str,
        ttl: Duration,
        when: &str,
    ) -> Checked<(Lease, Option<StoredToken>, bool)> {
        match self.acquire(user, ttl).await? {
            LeaseAttempt::Acquired {
                lease,
                current,
                took_over,
            } => {
                self.ensure(lease.user() == user, || {
                    format!(
                        "acquire_lease {when} gave a lease on user `{}`, expected `{user}`",
                        lease.user()
                    )
                })?;
                Ok((lease, current, took_over))
            }
            LeaseAttempt::Held { retry_after, .. } => Err(self.violation(format!(
                "acquire_lease {when} answered Held (retry after {retry_after:?}), expected \
                 Acquired"
            ))),
        }
    }

    /// Asks for the lease, which must be held: the token stored and
    /// `retry_after`.
    async fn held(&self, user: &str, when: &str) -> Checked<(Option<StoredToken>, Duration)> {
        match self.acquire(user, LONG).await? {
            LeaseAttempt::Held {
                current,
                retry_after,
            } => Ok((current, retry_after)),
            LeaseAttempt::Acquired { took_over, .. } => Err(self.violation(format!(
                "acquire_lease {when} answered Acquired (took_over: {took_over}), expected Held"
            ))),
        }
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Checked<bool> {
        self.call("renew_lease", self.store.renew_lease(lease, ttl))
            .await
    }

    async fn commit(
        &self,
        lease: &Lease,
        expected: u64,
        token: &UserAccessToken,
    ) -> Checked<CommitOutcome> {
        self.call("commit", self.store.commit(lease, expected, token))
            .await
    }

    /// Commits and checks the commit landed at `expected + 1`.
    async fn expect_committed(
        &self,
        lease: &Lease,
        expected: u64,
        token: &UserAccessToken,
        when: &str,
    ) -> Checked {
        let outcome = self.commit(lease, expected, token).await?;
        self.ensure(
            matches!(outcome, CommitOutcome::Committed(v) if v == expected + 1),
            || {
                format!(
                    "commit of {} on version {expected} {when} answered {}, expected \
                     Committed({})",
                    refresh(token),
                    show_outcome(&outcome),
                    expected + 1
                )
            },
        )
    }

    /// Commits and checks the commit conflicted with `current` at
    /// `version`.
    async fn expect_conflict(
        &self,
        lease: &Lease,
        expected: u64,
        token: &UserAccessToken,
        current: &UserAccessToken,
        version: u64,
        when: &str,
    ) -> Checked {
        let outcome = self.commit(lease, expected, token).await?;
        self.ensure(
            matches!(&outcome, CommitOutcome::Conflict(stored) if is(stored, current, version)),
            || {
                format!(
                    "commit of {} on version {expected} {when} answered {}, expected a Conflict \
                     with {} at version {version}",
                    refresh(token),
                    show_outcome(&outcome),
                    refresh(current)
                )
            },
        )
    }

    async fn release(&self, lease: &Lease) -> Checked {
        self.call("release", self.store.release(lease)).await
    }

    /// Sleeps past the kit's lease TTL, counted from `from`.
    async fn past_ttl(&self, from: Instant) {
        let until = from + self.ttl + self.ttl / 4;
        tokio::time::sleep_until(until.into()).await;
    }
}

/// `stored` is `token` at `version`, field for field.
fn is(stored: &Option<StoredToken>, token: &UserAccessToken, version: u64) -> bool {
    stored.as_ref().is_some_and(|s| {
        s.version == version
            && serde_json::to_value(&s.token).ok() == serde_json::to_value(token).ok()
    })
}

/// A kit token by its refresh value (`t<n>`).
fn refresh(token: &UserAccessToken) -> String {
    token.refresh_token().value().expose_secret().to_owned()
}

fn show(stored: &Option<StoredToken>) -> String {
    match stored {
        Some(s) => format!("{} at version {}", refresh(&s.token), s.version),
        None => "nothing".to_owned(),
    }
}

fn show_outcome(outcome: &CommitOutcome) -> String {
    match outcome {
        CommitOutcome::Committed(v) => format!("Committed({v})"),
        CommitOutcome::Conflict(stored) => format!("Conflict({})", show(stored)),
    }
}

async fn versions(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let stored = ctx.load(&user).await?;
    ctx.ensure(stored.is_none(), || {
        format!("load of a user never written answered {}", show(&stored))
    })?;
    let (t1, t2, t3) = (ctx.token(), ctx.token(), ctx.token());
    ctx.expect_save(&user, &t1, 1, false).await?;
    ctx.expect_stored(&user, &t1, 1).await?;
    ctx.expect_save(&user, &t2, 2, false).await?;
    ctx.expect_stored(&user, &t2, 2).await?;
    let (lease, current, _) = ctx.acquired(&user, LONG, "on a free lease").await?;
    ctx.ensure(is(&current, &t2, 2), || {
        format!(
            "acquire_lease answered the stored token {}, expected {} at version 2",
            show(&current),
            refresh(&t2)
        )
    })?;
    ctx.expect_committed(&lease, 2, &t3, "with the lease")
        .await?;
    ctx.expect_stored(&user, &t3, 3).await
}

async fn compare_and_set(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let (t1, t2, stale) = (ctx.token(), ctx.token(), ctx.token());
    ctx.expect_save(&user, &t1, 1, false).await?;
    let (lease, _, _) = ctx.acquired(&user, LONG, "on a free lease").await?;
    for wrong in [0, 2, 7] {
        ctx.expect_conflict(&lease, wrong, &stale, &t1, 1, "while version 1 is stored")
            .await?;
    }
    ctx.expect_stored(&user, &t1, 1).await?;
    ctx.expect_committed(&lease, 1, &t2, "with the lease")
        .await?;
    ctx.expect_stored(&user, &t2, 2).await?;
    let (_, _, took_over) = ctx
        .acquired(
            &user,
            LONG,
            "after a commit that landed (it ends the lease)",
        )
        .await?;
    ctx.ensure(!took_over, || {
        "acquire_lease after a commit that landed answered took_over: true".to_owned()
    })?;
    ctx.expect_conflict(&lease, 1, &stale, &t2, 2, "a second time")
        .await?;
    // Version 0 is "nothing stored": it lands on a user never written, once.
    let fresh = ctx.user("fresh");
    let (n1, n2) = (ctx.token(), ctx.token());
    let lease = ctx.lease(&fresh, LONG)?;
    ctx.expect_committed(&lease, 0, &n1, "on a user never written")
        .await?;
    ctx.expect_stored(&fresh, &n1, 1).await?;
    ctx.expect_conflict(&lease, 0, &n2, &n1, 1, "on a user with a token")
        .await
}

async fn commit_without_lease(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let (t1, late, loser, t3, t4) = (
        ctx.token(),
        ctx.token(),
        ctx.token(),
        ctx.token(),
        ctx.token(),
    );
    ctx.expect_save(&user, &t1, 1, false).await?;
    let asked = Instant::now();
    let (first, _, _) = ctx.acquired(&user, ctx.ttl, "on a free lease").await?;
    ctx.past_ttl(asked).await;
    let (second, _, _) = ctx
        .acquired(&user, LONG, "once the first lease ran out")
        .await?;
    // The first holder, late, still lands: nothing moved since it read.
    ctx.expect_committed(&first, 1, &late, "with a lease taken over")
        .await?;
    ctx.held(&user, "after a late commit (the new holder's lease stays)")
        .await?;
    // The new holder read version 1 too: it conflicts with the late token.
    ctx.expect_conflict(&second, 1, &loser, &late, 2, "after the late commit")
        .await?;
    // A lease never acquired commits like any other.
    let never = ctx.lease(&user, LONG)?;
    ctx.expect_committed(&never, 2, &t3, "with a lease never acquired")
        .await?;
    ctx.expect_conflict(&never, 2, &t4, &t3, 3, "with a lease never acquired")
        .await?;
    ctx.expect_stored(&user, &t3, 3).await?;
    ctx.release(&second).await
}

async fn already_rotated(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let first = ctx.token();
    ctx.expect_save(&user, &first, 1, false).await?;
    // ROTATED_KEPT refreshes, each committed under its lease: `first` is
    // the oldest refresh token the store must remember.
    let mut version = 1;
    for _ in 0..ROTATED_KEPT {
        let next = ctx.token();
        let (lease, _, _) = ctx.acquired(&user, LONG, "between refreshes").await?;
        ctx.expect_committed(&lease, version, &next, "of a refresh")
            .await?;
        version += 1;
    }
    ctx.expect_save(&user, &first, version + 1, true).await?;
    let new = ctx.token();
    ctx.expect_save(&user, &new, version + 2, false).await
}

async fn lease_exclusive(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let t1 = ctx.token();
    ctx.expect_save(&user, &t1, 1, false).await?;
    let (lease, current, took_over) = ctx.acquired(&user, LONG, "on a free lease").await?;
    ctx.ensure(is(&current, &t1, 1) && !took_over, || {
        format!(
            "acquire_lease on a free lease answered {} (took_over: {took_over}), expected {} at \
             version 1 (took_over: false)",
            show(&current),
            refresh(&t1)
        )
    })?;
    for _ in 0..2 {
        let (current, retry_after) = ctx.held(&user, "while the lease is held").await?;
        ctx.ensure(is(&current, &t1, 1), || {
            format!(
                "acquire_lease answered Held with {}, expected {} at version 1",
                show(&current),
                refresh(&t1)
            )
        })?;
        ctx.ensure(retry_after <= LONG + Duration::from_secs(1), || {
            format!("retry_after is {retry_after:?}, longer than the lease's {LONG:?}")
        })?;
    }
    // A user with no token has a lease too.
    let fresh = ctx.user("fresh");
    let (other, current, _) = ctx
        .acquired(&fresh, LONG, "on a user never written")
        .await?;
    ctx.ensure(current.is_none(), || {
        format!(
            "acquire_lease on a user never written answered the token {}",
            show(&current)
        )
    })?;
    ctx.held(&fresh, "while the lease on a user without a token is held")
        .await?;
    ctx.release(&other).await?;
    ctx.release(&lease).await
}

async fn release(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let (first, _, _) = ctx.acquired(&user, LONG, "on a free lease").await?;
    ctx.release(&first).await?;
    let (second, _, took_over) = ctx.acquired(&user, LONG, "after a release").await?;
    ctx.ensure(!took_over, || {
        "acquire_lease after a release answered took_over: true".to_owned()
    })?;
    // The first lease is over: giving it back again ends nothing, and it
    // cannot be renewed.
    ctx.release(&first).await?;
    ctx.held(&user, "after a second release of a lease already released")
        .await?;
    let renewed = ctx.renew(&first, LONG).await?;
    ctx.ensure(!renewed, || {
        "renew_lease of a released lease answered true".to_owned()
    })?;
    ctx.release(&second).await?;
    // A lease released, then past its time: still no takeover.
    let asked = Instant::now();
    let (short, _, _) = ctx.acquired(&user, ctx.ttl, "after a release").await?;
    ctx.release(&short).await?;
    ctx.past_ttl(asked).await;
    let (last, _, took_over) = ctx
        .acquired(&user, LONG, "once a released lease's time passed")
        .await?;
    ctx.ensure(!took_over, || {
        "acquire_lease after a released lease's time passed answered took_over: true".to_owned()
    })?;
    ctx.release(&last).await
}

async fn expiry_and_takeover(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let asked = Instant::now();
    let (_, _, took_over) = ctx.acquired(&user, ctx.ttl, "on a new user").await?;
    ctx.ensure(!took_over, || {
        "acquire_lease on a user never leased answered took_over: true".to_owned()
    })?;
    ctx.past_ttl(asked).await;
    let (lease, _, took_over) = ctx
        .acquired(&user, LONG, "once a lease not given back ran out")
        .await?;
    ctx.ensure(took_over, || {
        "acquire_lease once a lease not given back ran out answered took_over: false".to_owned()
    })?;
    let token = ctx.token();
    ctx.expect_committed(&lease, 0, &token, "by the new holder")
        .await?;
    let (lease, _, took_over) = ctx.acquired(&user, LONG, "after a commit").await?;
    ctx.ensure(!took_over, || {
        "acquire_lease after a commit answered took_over: true".to_owned()
    })?;
    ctx.release(&lease).await
}

async fn renewal(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let ttl = ctx.ttl;
    let asked = Instant::now();
    let (first, _, _) = ctx.acquired(&user, ttl, "on a free lease").await?;
    tokio::time::sleep_until((asked + ttl / 2).into()).await;
    let renewing = Instant::now();
    let renewed = ctx.renew(&first, ttl).await?;
    ctx.ensure(renewed, || {
        "renew_lease of a lease held answered false".to_owned()
    })?;
    // Past the first time to live, within the renewed one.
    let past_first = (asked + ttl).max(Instant::now()) + ttl / 8;
    tokio::time::sleep_until(past_first.into()).await;
    let attempt = ctx.acquire(&user, LONG).await?;
    let answered = Instant::now();
    match attempt {
        LeaseAttempt::Held { .. } => {}
        LeaseAttempt::Acquired { .. } if answered >= renewing + ttl => {
            return Err(ctx.violation(format!(
                "the store answers too slowly to judge a renewal on leases of {ttl:?}: \
                 run the kit with a longer lease_ttl"
            )));
        }
        LeaseAttempt::Acquired { took_over, .. } => {
            return Err(ctx.violation(format!(
                "acquire_lease past the first time to live of a renewed lease answered Acquired \
                 (took_over: {took_over}): the renewal did not extend it"
            )));
        }
    }
    // Renewed no more, it runs out.
    ctx.past_ttl(answered).await;
    let (second, _, took_over) = ctx
        .acquired(&user, LONG, "once the renewed lease ran out")
        .await?;
    ctx.ensure(took_over, || {
        "acquire_lease once a renewed lease ran out answered took_over: false".to_owned()
    })?;
    let renewed = ctx.renew(&first, ttl).await?;
    ctx.ensure(!renewed, || {
        "renew_lease of a lease taken over answered true".to_owned()
    })?;
    let renewed = ctx.renew(&second, LONG).await?;
    ctx.ensure(renewed, || {
        "renew_lease of a lease held answered false".to_owned()
    })?;
    let token = ctx.token();
    ctx.expect_committed(&second, 0, &token, "by the new holder")
        .await?;
    let renewed = ctx.renew(&second, LONG).await?;
    ctx.ensure(!renewed, || {
        "renew_lease of a lease a commit ended answered true".to_owned()
    })
}

async fn concurrent_writes(ctx: &mut Ctx<'_>) -> Checked {
    let user = ctx.user("u");
    let t0 = ctx.token();
    ctx.expect_save(&user, &t0, 1, false).await?;
    let tokens: Vec<UserAccessToken> = (0..ctx.tasks).map(|_| ctx.token()).collect();
    let leases = tokens
        .iter()
        .map(|_| ctx.lease(&user, LONG))
        .collect::<Checked<Vec<Lease>>>()?;
    let outcomes = join_all(
        leases
            .iter()
            .zip(&tokens)
            .map(|(lease, token)| ctx.commit(lease, 1, token)),
    )
    .await
    .into_iter()
    .collect::<Checked<Vec<CommitOutcome>>>()?;
    let landed: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, CommitOutcome::Committed(_)))
        .map(|(i, _)| i)
        .collect();
    let [winner] = landed[..] else {
        return Err(ctx.violation(format!(
            "{} racing commits on version 1 landed {} times, expected exactly once ({})",
            ctx.tasks,
            landed.len(),
            outcomes
                .iter()
                .map(show_outcome)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    for (i, outcome) in outcomes.iter().enumerate() {
        let ok = match outcome {
            CommitOutcome::Committed(v) => *v == 2,
            CommitOutcome::Conflict(stored) => i != winner && is(stored, &tokens[winner], 2),
        };
        ctx.ensure(ok, || {
            format!(
                "of {} racing commits on version 1, {} landed; another answered {}, expected \
                 Committed(2) for it and a Conflict with it at version 2 for the others",
                ctx.tasks,
                refresh(&tokens[winner]),
                show_outcome(outcome)
            )
        })?;
    }
    ctx.expect_stored(&user, &tokens[winner], 2).await?;
    // Racing saves each write a version of their own.
    let saves: Vec<UserAccessToken> = (0..ctx.tasks).map(|_| ctx.token()).collect();
    let saved = join_all(saves.iter().map(|token| ctx.save(&user, token)))
        .await
        .into_iter()
        .collect::<Checked<Vec<_>>>()?;
    let mut versions: Vec<u64> = saved.iter().map(|s| s.version).collect();
    versions.sort_unstable();
    let expected: Vec<u64> = (3..3 + ctx.tasks as u64).collect();
    ctx.ensure(versions == expected, || {
        format!(
            "{} racing saves on version 2 answered versions {versions:?}, expected {expected:?}",
            ctx.tasks
        )
    })?;
    let last = ctx.load(&user).await?;
    let newest = saved
        .iter()
        .position(|s| s.version == 2 + ctx.tasks as u64)
        .map(|i| &saves[i]);
    ctx.ensure(
        newest.is_some_and(|t| is(&last, t, 2 + ctx.tasks as u64)),
        || {
            format!(
                "after {} racing saves, load answered {}, expected the save of the highest version",
                ctx.tasks,
                show(&last)
            )
        },
    )
}

async fn concurrent_leases(ctx: &mut Ctx<'_>) -> Checked {
    let ttl = ctx.ttl;
    let fresh = ctx.user("fresh");
    let asked = Instant::now();
    // The winner's lease is left to run out.
    race_for_lease(ctx, &fresh, ttl, "on a user the store never saw").await?;
    // The same race once that lease ran out: one takes it over.
    ctx.past_ttl(asked).await;
    let (won, took_over) = race_for_lease(ctx, &fresh, LONG, "on an expired lease").await?;
    ctx.ensure(took_over, || {
        "the winner of a race for an expired lease was told took_over: false".to_owned()
    })?;
    ctx.release(&won).await
}

/// `ctx.tasks` racing `acquire_lease` calls on `user`: exactly one must win.
/// The winner's lease and `took_over`.
async fn race_for_lease(
    ctx: &Ctx<'_>,
    user: &str,
    ttl: Duration,
    when: &str,
) -> Checked<(Lease, bool)> {
    let attempts = join_all((0..ctx.tasks).map(|_| ctx.acquire(user, ttl)))
        .await
        .into_iter()
        .collect::<Checked<Vec<LeaseAttempt>>>()?;
    let mut winners = Vec::new();
    for attempt in attempts {
        if let LeaseAttempt::Acquired {
            lease, took_over, ..
        } = attempt
        {
            winners.push((lease, took_over));
        }
    }
    let count = winners.len();
    match winners.pop() {
        Some(winner) if count == 1 => Ok(winner),
        _ => Err(ctx.violation(format!(
            "{} racing acquire_lease calls {when} gave the lease {count} times, expected exactly \
             once",
            ctx.tasks
        ))),
    }
}
