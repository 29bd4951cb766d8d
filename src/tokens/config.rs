//! The protocol's settings and waits, from the SDK's lease time to live.

use std::time::Duration;

use super::core::{Limits, Rules, Wait};

/// The protocol's settings, from the SDK's lease time to live.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    pub(crate) rules: Rules,
    pub(crate) limits: Limits,
    pub(crate) lease_ttl: Duration,
    /// The longest a call to the store may take (a renewal: a third of the
    /// lease's time to live).
    pub(crate) store_timeout: Duration,
}

/// How often a held lease is asked for again at first, and for how long.
const POLL: Duration = Duration::from_millis(5);
const FAST_POLLS: u32 = 50;
const MAX_POLL: Duration = Duration::from_millis(100);
/// How many times the store is read during a grace period.
const GRACE_POLLS: u32 = 10;
/// The first wait before a verification or a commit is tried again, and
/// the longest.
const BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Verifications and commits tried before the callers hear of a failure,
/// and then in the background (about five minutes at the longest wait).
const TRIES: u32 = 3;
const BACKGROUND_TRIES: u32 = 150;

impl Config {
    pub(crate) fn new(lease_ttl: Duration) -> Self {
        let store_timeout = lease_ttl.clamp(Duration::from_secs(1), Duration::from_secs(10));
        let mut config = Config {
            rules: Rules::PROTOCOL,
            limits: Limits {
                lease_polls: 0,
                grace_polls: GRACE_POLLS,
                verify_tries: TRIES,
                commit_tries: TRIES,
                background_tries: BACKGROUND_TRIES,
            },
            lease_ttl,
            store_timeout,
        };
        // Ask for a held lease for as long as a holder may take, twice over.
        let mut polls = 0;
        let mut waited = Duration::ZERO;
        while waited < config.patience() && polls < 100_000 {
            polls += 1;
            waited += config.wait(Wait::Poll(polls));
        }
        config.limits.lease_polls = polls;
        config
    }

    /// How long a caller waits for a lease held elsewhere: long enough for a
    /// holder to finish, or for a dead holder's lease to run out, twice.
    pub(crate) fn patience(&self) -> Duration {
        self.lease_ttl
            .saturating_mul(2)
            .saturating_add(Duration::from_secs(5))
    }

    /// How often a held lease is renewed, and the longest a renewal may
    /// take: a quarter of its time to live, so that a renewal that fails
    /// (and is tried again at once) still leaves the lease time to spare.
    pub(crate) fn heartbeat_every(&self) -> Duration {
        (self.lease_ttl / 4).max(Duration::from_millis(10))
    }

    /// How long a wait lasts.
    pub(crate) fn wait(&self, wait: Wait) -> Duration {
        match wait {
            Wait::Poll(n) if n <= FAST_POLLS => POLL,
            Wait::Poll(n) => POLL
                .saturating_mul(1 << (n - FAST_POLLS).min(16))
                .min(MAX_POLL),
            Wait::Grace(_) => self.lease_ttl / GRACE_POLLS,
            Wait::Backoff(n) => BACKOFF
                .saturating_mul(1 << n.saturating_sub(1).min(16))
                .min(MAX_BACKOFF),
        }
    }
}
