//! A run in progress, and what the checks share: saving, reading and
//! leasing through the store under test, in the run's own users.

use std::time::{Duration, Instant, UNIX_EPOCH};

use secrecy::ExposeSecret;

use crate::error::Error;
use crate::store::{CommitOutcome, Lease, LeaseAttempt, StoredToken, TokenStore};
use crate::token::{Token, UserAccessToken};

use super::{Check, Violation};

pub(super) type Checked<T = ()> = Result<T, Violation>;

/// A run in progress: the store, the settings, the check running.
pub(super) struct Ctx<'s> {
    pub(super) store: &'s dyn TokenStore,
    pub(super) ttl: Duration,
    pub(super) tasks: usize,
    /// Random, so that runs never share a user.
    pub(super) run: String,
    pub(super) check: Check,
    /// Numbers the tokens the run makes.
    pub(super) serial: u64,
}

/// A long lease: one the kit never lets expire.
pub(super) const LONG: Duration = Duration::from_secs(60);

impl Ctx<'_> {
    pub(super) fn user(&self, name: &str) -> String {
        format!("digime-conformance-{}-{}-{name}", self.run, self.check)
    }

    /// A new token, its refresh value `t<n>` (shown in messages: the
    /// kit's tokens hold no secret).
    pub(super) fn token(&mut self) -> UserAccessToken {
        self.serial += 1;
        let expiry = UNIX_EPOCH + Duration::from_secs(4_102_444_800 + self.serial);
        UserAccessToken::new(
            Token::new(format!("access-{}-{}", self.run, self.serial), expiry),
            Token::new(format!("t{}", self.serial), expiry),
            Some(format!("conformance-{}", self.run)),
            None,
        )
    }

    pub(super) fn violation(&self, message: impl Into<String>) -> Violation {
        Violation {
            check: self.check,
            store: self.store.describe(),
            message: message.into(),
            source: None,
        }
    }

    pub(super) fn ensure(&self, ok: bool, message: impl FnOnce() -> String) -> Checked {
        if ok {
            Ok(())
        } else {
            Err(self.violation(message()))
        }
    }

    /// A store call's error as a violation.
    pub(super) fn failed(&self, call: &str, e: Error) -> Violation {
        Violation {
            check: self.check,
            store: self.store.describe(),
            message: format!("{call} failed: {e}"),
            source: Some(e),
        }
    }

    pub(super) fn lease(&self, user: &str, ttl: Duration) -> Checked<Lease> {
        Lease::new(user, ttl).map_err(|e| self.failed("Lease::new", e))
    }

    /// Awaits the store's `call`, its error as a violation.
    pub(super) async fn call<T>(
        &self,
        call: &str,
        future: impl Future<Output = crate::Result<T>>,
    ) -> Checked<T> {
        future.await.map_err(|e| self.failed(call, e))
    }

    pub(super) async fn load(&self, user: &str) -> Checked<Option<StoredToken>> {
        self.call("load", self.store.load(user)).await
    }

    /// Loads `user`'s token and checks it is `token` at `version`.
    pub(super) async fn expect_stored(
        &self,
        user: &str,
        token: &UserAccessToken,
        version: u64,
    ) -> Checked {
        let stored = self.load(user).await?;
        self.ensure(is(&stored, token, version), || {
            format!(
                "load answered {}, expected {} at version {version}",
                show(&stored),
                refresh(token)
            )
        })
    }

    pub(super) async fn save(
        &self,
        user: &str,
        token: &UserAccessToken,
    ) -> Checked<crate::store::Saved> {
        self.call("save", self.store.save(user, token)).await
    }

    /// Saves `token` and checks the version and `already_rotated`.
    pub(super) async fn expect_save(
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

    pub(super) async fn acquire(&self, user: &str, ttl: Duration) -> Checked<LeaseAttempt> {
        self.call("acquire_lease", self.store.acquire_lease(user, ttl))
            .await
    }

    /// Takes the lease, which must be free: the lease, the token stored and
    /// `took_over`.
    pub(super) async fn acquired(
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
    pub(super) async fn held(
        &self,
        user: &str,
        when: &str,
    ) -> Checked<(Option<StoredToken>, Duration)> {
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

    pub(super) async fn renew(&self, lease: &Lease, ttl: Duration) -> Checked<bool> {
        self.call("renew_lease", self.store.renew_lease(lease, ttl))
            .await
    }

    pub(super) async fn commit(
        &self,
        lease: &Lease,
        expected: u64,
        token: &UserAccessToken,
    ) -> Checked<CommitOutcome> {
        self.call("commit", self.store.commit(lease, expected, token))
            .await
    }

    /// Commits and checks the commit landed at `expected + 1`.
    pub(super) async fn expect_committed(
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
    pub(super) async fn expect_conflict(
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

    pub(super) async fn release(&self, lease: &Lease) -> Checked {
        self.call("release", self.store.release(lease)).await
    }

    /// Sleeps past the kit's lease TTL, counted from `from`.
    pub(super) async fn past_ttl(&self, from: Instant) {
        let until = from + self.ttl + self.ttl / 4;
        tokio::time::sleep_until(until.into()).await;
    }
}

/// `stored` is `token` at `version`, field for field.
pub(super) fn is(stored: &Option<StoredToken>, token: &UserAccessToken, version: u64) -> bool {
    stored.as_ref().is_some_and(|s| {
        s.version == version
            && serde_json::to_value(&s.token).ok() == serde_json::to_value(token).ok()
    })
}

/// A kit token by its refresh value (`t<n>`).
pub(super) fn refresh(token: &UserAccessToken) -> String {
    token.refresh_token().value().expose_secret().to_owned()
}

pub(super) fn show(stored: &Option<StoredToken>) -> String {
    match stored {
        Some(s) => format!("{} at version {}", refresh(&s.token), s.version),
        None => "nothing".to_owned(),
    }
}

pub(super) fn show_outcome(outcome: &CommitOutcome) -> String {
    match outcome {
        CommitOutcome::Committed(v) => format!("Committed({v})"),
        CommitOutcome::Conflict(stored) => format!("Conflict({})", show(stored)),
    }
}
