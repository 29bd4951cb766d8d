//! The protocol's vocabulary: what a desk hears ([`Event`]), does
//! ([`Action`]) and answers ([`Answer`]), and the state of a refresh in flight.

/// A token and the version it is known at: the store's version with a
/// store, the number of rotations seen without one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Versioned<T> {
    pub(crate) token: T,
    pub(crate) version: u64,
}

impl<T> Versioned<T> {
    pub(crate) fn new(token: T, version: u64) -> Self {
        Versioned { token, version }
    }
}

/// Who asked: the driver's id for a waiting caller.
pub(crate) type Caller = u64;

/// Which rules a desk follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Rules {
    /// The lease is renewed while its holder works.
    pub(crate) heartbeat: bool,
    /// Newer means a higher version; a refusal is checked against the
    /// store; a lease taken over waits for its old holder's token.
    pub(crate) versions: bool,
}

impl Rules {
    /// The protocol's rules.
    pub(crate) const PROTOCOL: Rules = Rules {
        heartbeat: true,
        versions: true,
    };
}

/// How long each wait may go on, counted in attempts (the driver spaces
/// them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Limits {
    /// How many times a lease held elsewhere is asked for again.
    pub(crate) lease_polls: u32,
    /// How many times the store is read, after taking over a lease its
    /// holder let run out, for the token that holder may still write.
    pub(crate) grace_polls: u32,
    /// Verifications of a granted token before the callers hear of it.
    pub(crate) verify_tries: u32,
    /// Commits of a new token before the callers get it unstored.
    pub(crate) commit_tries: u32,
    /// Further verifications or commits, in the background, after that.
    pub(crate) background_tries: u32,
}

/// What happened, for a desk to decide on.
#[derive(Clone, Debug)]
pub(crate) enum Event<T, R, E> {
    /// A caller needs a token newer than `seen`: its access token expires
    /// or was refused, or it asks for a refresh. `carry` is a token this
    /// process rotated `seen` to without the store: written, not refreshed.
    Need {
        caller: Caller,
        seen: Versioned<T>,
        carry: Option<T>,
    },
    /// The store was read outside a flight (a session opened on it).
    Observed(Versioned<T>),
    /// The lease is this desk's; `current` is stored now.
    LeaseTaken {
        current: Option<Versioned<T>>,
        took_over: bool,
    },
    /// Someone else holds the lease.
    LeaseHeld { current: Option<Versioned<T>> },
    /// Taking the lease failed (the store failed or did not answer in time).
    LeaseFailed(E),
    /// A renewal before the grant: whether the lease is still this desk's
    /// (`false` too when the store could not say).
    Renewed(bool),
    /// digi.me answered the refresh grant with a new token, not yet verified.
    Granted(R),
    /// digi.me refused the refresh token.
    Refused(E),
    /// The grant may have happened, and its answer is lost.
    GrantUnsure(E),
    /// The grant certainly did not happen.
    GrantFailed(E),
    /// The granted token verified.
    Verified(T),
    /// The granted token did not verify: for a passing reason (`retryable`,
    /// such as the key set out of reach) or for good.
    VerifyFailed { error: E, retryable: bool },
    /// The new token is stored, at this version; the lease ended with it.
    Committed(u64),
    /// The store's version moved: this is stored now, and nothing was
    /// written. The error says so, for when nothing is stored any more.
    Conflict(Option<Versioned<T>>, E),
    /// Writing failed (it may still have landed).
    CommitFailed(E),
    /// The store was read.
    Loaded(Option<Versioned<T>>),
    /// Reading the store failed.
    LoadFailed(E),
    /// A [`Sleep`](Action::Sleep) ended.
    Timer(u64),
    /// A renewal found the lease someone else's.
    LeaseLost,
    /// The driver was dropped (its runtime went away) mid-flight; the error
    /// says so.
    Cancelled(E),
}

/// What the driver does next.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Action<T, R, E> {
    AcquireLease,
    /// Renew the lease now, to know it is still held before a grant.
    Renew,
    Grant(T),
    Verify(R),
    Commit {
        expected: u64,
        token: T,
    },
    Load,
    Sleep {
        timer: u64,
        wait: Wait,
    },
    StartHeartbeat,
    StopHeartbeat,
    Release,
    /// Let the lease run out rather than release it: a refresh may have
    /// happened under it.
    KeepLease,
    Reply(Caller, Answer<T, E>),
}

/// What a [`Sleep`](Action::Sleep) waits for (the driver picks the time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Wait {
    /// The `n`th wait for a lease held elsewhere.
    Poll(u32),
    /// The `n`th wait for an old holder's token.
    Grace(u32),
    /// The `n`th wait before trying a verification or a commit again.
    Backoff(u32),
}

/// What a caller hears.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Answer<T, E> {
    /// A newer token, stored (or, without a store, the newest).
    Token(Versioned<T>),
    /// A new token the store did not take (yet): use it, and hear why.
    Unstored { token: Versioned<T>, error: E },
    /// digi.me refused the refresh token, and the store holds nothing newer.
    Reauthorize(E),
    /// The refresh may have happened; nothing newer is known.
    Unsure(E),
    /// Nothing was refreshed; the token is as it was.
    Failed(E),
    /// The lease stayed held elsewhere for longer than a refresh takes.
    LeaseHeld,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum LeaseState {
    None,
    Held,
    /// A renewal found it taken: never released by this desk.
    Lost,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Phase<T, R> {
    /// Asking for the lease (held elsewhere `polls` times so far).
    Leasing { polls: u32 },
    /// Waiting to ask again for a lease held elsewhere.
    LeaseWait { polls: u32 },
    /// Waiting (or reading) for an old holder's token after a takeover.
    Grace { polls: u32 },
    /// Renewing the lease before the grant: a desk that lost its lease
    /// while it waited never grants.
    Fencing,
    /// The refresh grant is out.
    Granting,
    /// Verifying (or waiting to verify again) a granted token.
    Verifying { raw: R, tries: u32 },
    /// Writing (or waiting to write again) a new token.
    Committing { token: T, tries: u32 },
    /// Reading the store after a refusal.
    CheckingRefusal,
}

/// One refresh, from a token to a newer one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Flight<T, R, E> {
    /// The token being refreshed.
    pub(super) from: Versioned<T>,
    /// A rotation of `from` made here without the store, to write instead.
    pub(super) carry: Option<T>,
    pub(super) waiters: Vec<Caller>,
    pub(super) lease: LeaseState,
    /// The store's version read with the lease: what a commit expects.
    pub(super) base: u64,
    pub(super) phase: Phase<T, R>,
    /// The timer the flight waits for.
    pub(super) timer: Option<u64>,
    /// What the callers were told while work goes on in the background;
    /// later callers are told the same.
    pub(super) settled: Option<Answer<T, E>>,
    /// The refusal under check.
    pub(super) refusal: Option<E>,
}

/// A new token the store did not take.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Pending<T, E> {
    pub(super) token: T,
    /// The version of the token it was refreshed from.
    pub(super) base: u64,
    /// Why the store does not have it.
    pub(super) error: E,
}
