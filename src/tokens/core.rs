//! The refresh protocol's decisions, and nothing else: no I/O, no clock, no
//! async. One [`Desk`] per user of a store (or per lineage of tokens held
//! without a store) takes an [`Event`] and answers the [`Action`]s to
//! perform; the [driver](super::driver) performs them and feeds their
//! outcomes back. The [scaling guide](crate::guide::scaling) describes the
//! protocol; the model check (`model.rs`) explores every interleaving of it.
//!
//! The desk is generic over the token (`T`), a grant's unverified answer
//! (`R`) and an error (`E`), so that the model check runs this very code on
//! small stand-ins.

mod vocabulary;

pub(crate) use vocabulary::{Action, Answer, Caller, Event, Limits, Rules, Versioned, Wait};
use vocabulary::{Flight, LeaseState, Pending, Phase};

/// The refresh state of one user (with a store) or one lineage of tokens
/// (without).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Desk<T, R, E> {
    rules: Rules,
    limits: Limits,
    store: bool,
    /// The newest token this process knows here.
    newest: Option<Versioned<T>>,
    /// A token this process holds and the store does not: verified, newer
    /// than the stored token of version `base`, and not written (yet).
    pending: Option<Pending<T, E>>,
    flight: Option<Flight<T, R, E>>,
    timers: u64,
}

type Out<T, R, E> = Vec<Action<T, R, E>>;

impl<T, R, E> Desk<T, R, E>
where
    T: Clone + PartialEq,
    R: Clone,
    E: Clone,
{
    pub(crate) fn new(rules: Rules, limits: Limits, store: bool) -> Self {
        Desk {
            rules,
            limits,
            store,
            newest: None,
            pending: None,
            flight: None,
            timers: 0,
        }
    }

    /// The newest token known here.
    pub(crate) fn newest(&self) -> Option<&Versioned<T>> {
        self.newest.as_ref()
    }

    /// True while a refresh is under way (in the foreground or not).
    pub(crate) fn in_flight(&self) -> bool {
        self.flight.is_some()
    }

    /// True while a grant, its verification or its commit is under way:
    /// this desk may hold a token no one else has.
    pub(crate) fn mid_refresh(&self) -> bool {
        matches!(
            self.flight.as_ref().map(|f| &f.phase),
            Some(Phase::Granting | Phase::Verifying { .. } | Phase::Committing { .. })
        )
    }

    /// True while the desk believes it holds the store's lease.
    #[cfg(test)]
    pub(crate) fn holds_lease(&self) -> bool {
        self.flight
            .as_ref()
            .is_some_and(|f| f.lease == LeaseState::Held)
    }

    /// The token this desk holds that is newer than the store's: a
    /// verified token being written, or one the store did not take.
    pub(crate) fn unstored(&self) -> Option<&T> {
        match self.flight.as_ref().map(|f| &f.phase) {
            Some(Phase::Committing { token, .. }) => Some(token),
            _ => self.pending.as_ref().map(|p| &p.token),
        }
    }

    /// True when `a` is newer than `b`.
    fn newer(&self, a: &Versioned<T>, b: &Versioned<T>) -> bool {
        if self.rules.versions {
            a.version > b.version
        } else {
            a.token != b.token
        }
    }

    /// Takes `seen` as the newest known if it is newer (a token stored
    /// after the one a pending token was refreshed from ends the pending).
    fn learn(&mut self, seen: Versioned<T>) {
        if self.pending.as_ref().is_some_and(|p| seen.version > p.base) {
            self.pending = None;
        }
        if self.newest.as_ref().is_none_or(|n| self.newer(&seen, n)) {
            self.newest = Some(seen);
        }
    }

    fn timer(&mut self, wait: Wait, flight: &mut Flight<T, R, E>, out: &mut Out<T, R, E>) {
        self.timers += 1;
        flight.timer = Some(self.timers);
        out.push(Action::Sleep {
            timer: self.timers,
            wait,
        });
    }

    /// Decides what to do about `event`.
    pub(crate) fn step(&mut self, event: Event<T, R, E>) -> Out<T, R, E> {
        let mut out = Vec::new();
        match event {
            Event::Need {
                caller,
                seen,
                carry,
            } => self.need(caller, seen, carry, &mut out),
            Event::Observed(seen) => self.learn(seen),
            event => {
                if let Some(flight) = self.flight.take() {
                    self.flight = self.advance(flight, event, &mut out);
                }
            }
        }
        if self.flight.is_none() {
            // Timers are told apart within a flight; a new one counts anew.
            self.timers = 0;
        }
        out
    }

    fn need(
        &mut self,
        caller: Caller,
        seen: Versioned<T>,
        carry: Option<T>,
        out: &mut Out<T, R, E>,
    ) {
        // A token the store did not take is newer than the one it was
        // refreshed from: the caller goes on with it (and hears why).
        if let Some(p) = &self.pending
            && p.base >= seen.version
            && p.token != seen.token
        {
            let token = Versioned::new(p.token.clone(), p.base);
            let error = p.error.clone();
            out.push(Action::Reply(caller, Answer::Unstored { token, error }));
            return;
        }
        if let Some(newest) = &self.newest
            && self.newer(newest, &seen)
        {
            out.push(Action::Reply(caller, Answer::Token(newest.clone())));
            return;
        }
        self.learn(seen.clone());
        if let Some(flight) = &mut self.flight {
            match &flight.settled {
                Some(answer) => out.push(Action::Reply(caller, answer.clone())),
                None => flight.waiters.push(caller),
            }
            return;
        }
        let phase = if self.store {
            out.push(Action::AcquireLease);
            Phase::Leasing { polls: 0 }
        } else {
            out.push(Action::Grant(seen.token.clone()));
            Phase::Granting
        };
        self.flight = Some(Flight {
            from: seen,
            carry,
            waiters: vec![caller],
            lease: LeaseState::None,
            base: 0,
            phase,
            timer: None,
            settled: None,
            refusal: None,
        });
    }

    /// Answers every caller waiting on `flight`.
    fn answer(flight: &mut Flight<T, R, E>, answer: Answer<T, E>, out: &mut Out<T, R, E>) {
        for caller in flight.waiters.drain(..) {
            out.push(Action::Reply(caller, answer.clone()));
        }
    }

    /// Answers the callers now, and tells later ones the same, while the
    /// flight goes on in the background.
    fn settle(flight: &mut Flight<T, R, E>, answer: Answer<T, E>, out: &mut Out<T, R, E>) {
        if flight.settled.is_none() {
            Self::answer(flight, answer.clone(), out);
            flight.settled = Some(answer);
        }
    }

    /// Ends the flight's hold on the lease: released, or (`keep`) left to
    /// run out.
    fn end_lease(&self, flight: &mut Flight<T, R, E>, keep: bool, out: &mut Out<T, R, E>) {
        if flight.lease == LeaseState::None {
            return;
        }
        if self.rules.heartbeat {
            out.push(Action::StopHeartbeat);
        }
        if flight.lease == LeaseState::Held {
            out.push(if keep {
                Action::KeepLease
            } else {
                Action::Release
            });
        }
        flight.lease = LeaseState::None;
    }

    /// Ends the flight with `token`, found newer than the one it refreshes.
    fn adopt(
        &mut self,
        mut flight: Flight<T, R, E>,
        token: Versioned<T>,
        out: &mut Out<T, R, E>,
    ) -> Option<Flight<T, R, E>> {
        self.learn(token.clone());
        self.end_lease(&mut flight, false, out);
        Self::answer(&mut flight, Answer::Token(token), out);
        None
    }

    /// Ends the flight with `answer`, keeping the lease when a refresh may
    /// have happened under it.
    fn finish(
        &self,
        mut flight: Flight<T, R, E>,
        answer: Answer<T, E>,
        keep_lease: bool,
        out: &mut Out<T, R, E>,
    ) -> Option<Flight<T, R, E>> {
        self.end_lease(&mut flight, keep_lease, out);
        Self::answer(&mut flight, answer, out);
        None
    }

    /// The stored token when it is newer than the one the flight refreshes.
    fn moved(
        &self,
        flight: &Flight<T, R, E>,
        current: &Option<Versioned<T>>,
    ) -> Option<Versioned<T>> {
        current
            .as_ref()
            .filter(|c| self.newer(c, &flight.from))
            .cloned()
    }

    fn advance(
        &mut self,
        mut f: Flight<T, R, E>,
        event: Event<T, R, E>,
        out: &mut Out<T, R, E>,
    ) -> Option<Flight<T, R, E>> {
        match (f.phase.clone(), event) {
            (_, Event::LeaseLost) => {
                if f.lease == LeaseState::Held {
                    f.lease = LeaseState::Lost;
                }
                Some(f)
            }
            (phase, Event::Cancelled(error)) => {
                if let Phase::Committing { token, .. } = &phase {
                    // This process keeps the token it was given.
                    self.pending = Some(Pending {
                        token: token.clone(),
                        base: f.base,
                        error: error.clone(),
                    });
                }
                let unsure = matches!(
                    phase,
                    Phase::Granting | Phase::Verifying { .. } | Phase::Committing { .. }
                );
                let answer = if unsure {
                    Answer::Unsure(error)
                } else {
                    Answer::Failed(error)
                };
                self.finish(f, answer, unsure, out)
            }
            (phase, Event::Timer(id)) => {
                if f.timer != Some(id) {
                    return Some(f);
                }
                f.timer = None;
                match phase {
                    Phase::LeaseWait { polls } => {
                        f.phase = Phase::Leasing { polls };
                        out.push(Action::AcquireLease);
                    }
                    Phase::Grace { .. } => out.push(Action::Load),
                    Phase::Verifying { raw, .. } => out.push(Action::Verify(raw)),
                    Phase::Committing { token, .. } => out.push(Action::Commit {
                        expected: f.base,
                        token,
                    }),
                    _ => {}
                }
                Some(f)
            }

            // Taking the lease.
            (Phase::Leasing { .. }, Event::LeaseTaken { current, took_over }) => {
                f.lease = LeaseState::Held;
                f.base = current.as_ref().map_or(0, |c| c.version);
                if let Some(newer) = self.moved(&f, &current) {
                    return self.adopt(f, newer, out);
                }
                if self.rules.heartbeat {
                    out.push(Action::StartHeartbeat);
                }
                if let Some(token) = f.carry.take() {
                    f.phase = Phase::Committing {
                        token: token.clone(),
                        tries: 1,
                    };
                    out.push(Action::Commit {
                        expected: f.base,
                        token,
                    });
                } else if took_over && self.rules.versions {
                    // The last holder let its lease run out: it died, or it
                    // is cut off from the store and may still write the
                    // token it got. Give it time to.
                    f.phase = Phase::Grace { polls: 0 };
                    self.timer(Wait::Grace(0), &mut f, out);
                } else {
                    f.phase = Phase::Granting;
                    out.push(Action::Grant(f.from.token.clone()));
                }
                Some(f)
            }
            (Phase::Leasing { polls }, Event::LeaseHeld { current }) => {
                if let Some(newer) = self.moved(&f, &current) {
                    return self.adopt(f, newer, out);
                }
                let polls = polls + 1;
                if polls > self.limits.lease_polls {
                    return self.finish(f, Answer::LeaseHeld, false, out);
                }
                f.phase = Phase::LeaseWait { polls };
                self.timer(Wait::Poll(polls), &mut f, out);
                Some(f)
            }
            (Phase::Leasing { .. }, Event::LeaseFailed(error)) => {
                self.finish(f, Answer::Failed(error), false, out)
            }

            // Waiting for the token of a holder that let its lease run out.
            (Phase::Grace { polls }, Event::Loaded(current)) => {
                if let Some(newer) = self.moved(&f, &current) {
                    return self.adopt(f, newer, out);
                }
                let polls = polls + 1;
                if polls >= self.limits.grace_polls {
                    f.phase = Phase::Fencing;
                    out.push(Action::Renew);
                } else {
                    f.phase = Phase::Grace { polls };
                    self.timer(Wait::Grace(polls), &mut f, out);
                }
                Some(f)
            }
            (Phase::Grace { .. }, Event::LoadFailed(error)) => {
                self.finish(f, Answer::Failed(error), false, out)
            }
            (Phase::Fencing, Event::Renewed(held)) => {
                if held && f.lease == LeaseState::Held {
                    f.phase = Phase::Granting;
                    out.push(Action::Grant(f.from.token.clone()));
                } else {
                    // The lease went to another process meanwhile: ask for
                    // it again (its holder's token shows up, or it runs out).
                    self.end_lease(&mut f, false, out);
                    f.phase = Phase::Leasing { polls: 0 };
                    out.push(Action::AcquireLease);
                }
                Some(f)
            }

            // The grant.
            (Phase::Granting, Event::Granted(raw)) => {
                f.phase = Phase::Verifying {
                    raw: raw.clone(),
                    tries: 1,
                };
                out.push(Action::Verify(raw));
                Some(f)
            }
            (Phase::Granting, Event::Refused(error)) => {
                if self.store && self.rules.versions {
                    // Another process may have written a newer token (or
                    // an operator a new one): the store says.
                    f.refusal = Some(error);
                    f.phase = Phase::CheckingRefusal;
                    out.push(Action::Load);
                    Some(f)
                } else {
                    self.finish(f, Answer::Reauthorize(error), false, out)
                }
            }
            (Phase::Granting, Event::GrantUnsure(error)) => {
                self.finish(f, Answer::Unsure(error), true, out)
            }
            (Phase::Granting, Event::GrantFailed(error)) => {
                self.finish(f, Answer::Failed(error), false, out)
            }

            // Verifying the granted token.
            (Phase::Verifying { .. }, Event::Verified(token)) => {
                if self.store {
                    f.phase = Phase::Committing {
                        token: token.clone(),
                        tries: 1,
                    };
                    out.push(Action::Commit {
                        expected: f.base,
                        token,
                    });
                    Some(f)
                } else {
                    let fresh = Versioned::new(token, f.from.version + 1);
                    self.learn(fresh.clone());
                    self.finish(f, Answer::Token(fresh), false, out)
                }
            }
            (Phase::Verifying { raw, tries }, Event::VerifyFailed { error, retryable }) => {
                let limit = self.limits.verify_tries + self.limits.background_tries;
                if !retryable || tries >= limit {
                    return self.finish(f, Answer::Unsure(error), true, out);
                }
                if tries >= self.limits.verify_tries {
                    Self::settle(&mut f, Answer::Unsure(error), out);
                }
                f.phase = Phase::Verifying {
                    raw,
                    tries: tries + 1,
                };
                self.timer(Wait::Backoff(tries), &mut f, out);
                Some(f)
            }

            // Writing the new token.
            (Phase::Committing { token, .. }, Event::Committed(version)) => {
                let fresh = Versioned::new(token, version);
                // The store's version is the authority, even below a
                // version this process knew (a store put back from a backup).
                self.newest = Some(fresh.clone());
                self.pending = None;
                // The commit ended the lease.
                if self.rules.heartbeat && f.lease != LeaseState::None {
                    out.push(Action::StopHeartbeat);
                }
                f.lease = LeaseState::None;
                Self::answer(&mut f, Answer::Token(fresh), out);
                None
            }
            (Phase::Committing { token, .. }, Event::Conflict(current, error)) => {
                match current {
                    // Something newer was written meanwhile (a token saved after
                    // a reauthorization): it wins.
                    Some(current) => {
                        self.pending = None;
                        self.adopt(f, current, out)
                    }
                    // The user's token was removed from the store (on
                    // purpose): it is not written back; the callers get it.
                    None => {
                        self.pending = Some(Pending {
                            token: token.clone(),
                            base: f.base,
                            error: error.clone(),
                        });
                        let token = Versioned::new(token, f.base);
                        self.finish(f, Answer::Unstored { token, error }, false, out)
                    }
                }
            }
            (Phase::Committing { token, tries }, Event::CommitFailed(error)) => {
                // Versions are the store's: the new token keeps the version
                // it was refreshed from until the store takes it.
                let unstored = Versioned::new(token.clone(), f.base);
                if tries >= self.limits.commit_tries {
                    // The callers go on with the new token, and hear why
                    // the store does not have it.
                    Self::settle(
                        &mut f,
                        Answer::Unstored {
                            token: unstored.clone(),
                            error: error.clone(),
                        },
                        out,
                    );
                }
                if tries >= self.limits.commit_tries + self.limits.background_tries {
                    self.pending = Some(Pending {
                        token: token.clone(),
                        base: f.base,
                        error: error.clone(),
                    });
                    return self.finish(
                        f,
                        Answer::Unstored {
                            token: unstored,
                            error,
                        },
                        true,
                        out,
                    );
                }
                f.phase = Phase::Committing {
                    token,
                    tries: tries + 1,
                };
                self.timer(Wait::Backoff(tries), &mut f, out);
                Some(f)
            }

            // Checking a refusal against the store.
            (Phase::CheckingRefusal, Event::Loaded(current)) => {
                if let Some(newer) = self.moved(&f, &current) {
                    return self.adopt(f, newer, out);
                }
                match f.refusal.take() {
                    Some(error) => self.finish(f, Answer::Reauthorize(error), false, out),
                    None => Some(f),
                }
            }
            (Phase::CheckingRefusal, Event::LoadFailed(error)) => {
                // Unchecked, a refusal is not reported: the store may hold
                // a newer token.
                self.finish(f, Answer::Failed(error), false, out)
            }

            // Anything else is out of turn (a late answer): ignored.
            _ => Some(f),
        }
    }
}

#[cfg(test)]
mod tests;
