//! How a flight advances: the events any phase takes (a lost lease, a
//! cancellation, a timer), then one function per phase. An event out of turn
//! (a late answer) is ignored.

use super::vocabulary::{
    Action, Answer, Event, Flight, LeaseState, Pending, Phase, Versioned, Wait,
};
use super::{Desk, Out};

/// What a phase's function answers: the flight, or `None` once it ended.
type Next<T, R, E> = Option<Flight<T, R, E>>;

impl<T, R, E> Desk<T, R, E>
where
    T: Clone + PartialEq,
    R: Clone,
    E: Clone,
{
    pub(super) fn advance(
        &mut self,
        mut f: Flight<T, R, E>,
        event: Event<T, R, E>,
        out: &mut Out<T, R, E>,
    ) -> Next<T, R, E> {
        match (f.phase.clone(), event) {
            (_, Event::LeaseLost) => {
                if f.lease == LeaseState::Held {
                    f.lease = LeaseState::Lost;
                }
                Some(f)
            }
            (phase, Event::Cancelled(error)) => self.cancelled(f, phase, error, out),
            (phase, Event::Timer(id)) => Self::timer_fired(f, phase, id, out),
            (Phase::Leasing { polls }, event) => self.leasing(f, polls, event, out),
            (Phase::Grace { polls }, event) => self.grace(f, polls, event, out),
            (Phase::Fencing, Event::Renewed(held)) => self.fenced(f, held, out),
            (Phase::Granting, event) => self.granting(f, event, out),
            (Phase::Verifying { raw, tries }, event) => self.verifying(f, raw, tries, event, out),
            (Phase::Committing { token, tries }, event) => {
                self.committing(f, token, tries, event, out)
            }
            (Phase::CheckingRefusal, event) => self.checking_refusal(f, event, out),
            // Anything else is out of turn (a late answer): ignored.
            _ => Some(f),
        }
    }

    /// The flight was cancelled (its runtime stopped): it ends, unsure
    /// when a refresh may have happened.
    fn cancelled(
        &mut self,
        f: Flight<T, R, E>,
        phase: Phase<T, R>,
        error: E,
        out: &mut Out<T, R, E>,
    ) -> Next<T, R, E> {
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

    /// The flight's timer fired: what it waited for is done again.
    fn timer_fired(
        mut f: Flight<T, R, E>,
        phase: Phase<T, R>,
        id: u64,
        out: &mut Out<T, R, E>,
    ) -> Next<T, R, E> {
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

    /// Taking the lease.
    fn leasing(
        &mut self,
        mut f: Flight<T, R, E>,
        polls: u32,
        event: Event<T, R, E>,
        out: &mut Out<T, R, E>,
    ) -> Next<T, R, E> {
        match event {
            Event::LeaseTaken { current, took_over } => {
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
            Event::LeaseHeld { current } => {
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
            Event::LeaseFailed(error) => self.finish(f, Answer::Failed(error), false, out),
            _ => Some(f),
        }
    }

    /// Waiting for the token of a holder that let its lease run out.
    fn grace(
        &mut self,
        mut f: Flight<T, R, E>,
        polls: u32,
        event: Event<T, R, E>,
        out: &mut Out<T, R, E>,
    ) -> Next<T, R, E> {
        match event {
            Event::Loaded(current) => {
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
            Event::LoadFailed(error) => self.finish(f, Answer::Failed(error), false, out),
            _ => Some(f),
        }
    }

    /// The lease renewed (or not) before the grant.
    fn fenced(
        &mut self,
        mut f: Flight<T, R, E>,
        held: bool,
        out: &mut Out<T, R, E>,
    ) -> Next<T, R, E> {
        if held && f.lease == LeaseState::Held {
            f.phase = Phase::Granting;
            out.push(Action::Grant(f.from.token.clone()));
        } else {
            // The lease went to another process meanwhile: ask for it
            // again (its holder's token shows up, or it runs out).
            self.end_lease(&mut f, false, out);
            f.phase = Phase::Leasing { polls: 0 };
            out.push(Action::AcquireLease);
        }
        Some(f)
    }

    /// The grant.
    fn granting(
        &mut self,
        mut f: Flight<T, R, E>,
        event: Event<T, R, E>,
        out: &mut Out<T, R, E>,
    ) -> Next<T, R, E> {
        match event {
            Event::Granted(raw) => {
                f.phase = Phase::Verifying {
                    raw: raw.clone(),
                    tries: 1,
                };
                out.push(Action::Verify(raw));
                Some(f)
            }
            Event::Refused(error) if self.store && self.rules.versions => {
                // Another process may have written a newer token (or an
                // operator a new one): the store says.
                f.refusal = Some(error);
                f.phase = Phase::CheckingRefusal;
                out.push(Action::Load);
                Some(f)
            }
            Event::Refused(error) => self.finish(f, Answer::Reauthorize(error), false, out),
            Event::GrantUnsure(error) => self.finish(f, Answer::Unsure(error), true, out),
            Event::GrantFailed(error) => self.finish(f, Answer::Failed(error), false, out),
            _ => Some(f),
        }
    }

    /// Verifying the granted token.
    fn verifying(
        &mut self,
        mut f: Flight<T, R, E>,
        raw: R,
        tries: u32,
        event: Event<T, R, E>,
        out: &mut Out<T, R, E>,
    ) -> Next<T, R, E> {
        match event {
            Event::Verified(token) if self.store => {
                f.phase = Phase::Committing {
                    token: token.clone(),
                    tries: 1,
                };
                out.push(Action::Commit {
                    expected: f.base,
                    token,
                });
                Some(f)
            }
            Event::Verified(token) => {
                let fresh = Versioned::new(token, f.from.version + 1);
                self.learn(fresh.clone());
                self.finish(f, Answer::Token(fresh), false, out)
            }
            Event::VerifyFailed { error, retryable } => {
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
            _ => Some(f),
        }
    }

    /// Writing the new token.
    fn committing(
        &mut self,
        mut f: Flight<T, R, E>,
        token: T,
        tries: u32,
        event: Event<T, R, E>,
        out: &mut Out<T, R, E>,
    ) -> Next<T, R, E> {
        match event {
            Event::Committed(version) => {
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
            // Something newer was written meanwhile (a token saved after a
            // reauthorization): it wins.
            Event::Conflict(Some(current), _) => {
                self.pending = None;
                self.adopt(f, current, out)
            }
            // The user's token was removed from the store (on purpose): it
            // is not written back; the callers get it.
            Event::Conflict(None, error) => {
                self.pending = Some(Pending {
                    token: token.clone(),
                    base: f.base,
                    error: error.clone(),
                });
                let token = Versioned::new(token, f.base);
                self.finish(f, Answer::Unstored { token, error }, false, out)
            }
            Event::CommitFailed(error) => self.commit_failed(f, token, tries, error, out),
            _ => Some(f),
        }
    }

    /// A commit failed: tried again later, the callers told in time.
    fn commit_failed(
        &mut self,
        mut f: Flight<T, R, E>,
        token: T,
        tries: u32,
        error: E,
        out: &mut Out<T, R, E>,
    ) -> Next<T, R, E> {
        // Versions are the store's: the new token keeps the version it was
        // refreshed from until the store takes it.
        let unstored = Versioned::new(token.clone(), f.base);
        if tries >= self.limits.commit_tries {
            // The callers go on with the new token, and hear why the store
            // does not have it.
            let answer = Answer::Unstored {
                token: unstored.clone(),
                error: error.clone(),
            };
            Self::settle(&mut f, answer, out);
        }
        if tries >= self.limits.commit_tries + self.limits.background_tries {
            self.pending = Some(Pending {
                token: token.clone(),
                base: f.base,
                error: error.clone(),
            });
            let answer = Answer::Unstored {
                token: unstored,
                error,
            };
            return self.finish(f, answer, true, out);
        }
        f.phase = Phase::Committing {
            token,
            tries: tries + 1,
        };
        self.timer(Wait::Backoff(tries), &mut f, out);
        Some(f)
    }

    /// Checking a refusal against the store.
    fn checking_refusal(
        &mut self,
        mut f: Flight<T, R, E>,
        event: Event<T, R, E>,
        out: &mut Out<T, R, E>,
    ) -> Next<T, R, E> {
        match event {
            Event::Loaded(current) => {
                if let Some(newer) = self.moved(&f, &current) {
                    return self.adopt(f, newer, out);
                }
                match f.refusal.take() {
                    Some(error) => self.finish(f, Answer::Reauthorize(error), false, out),
                    None => Some(f),
                }
            }
            // Unchecked, a refusal is not reported: the store may hold a
            // newer token.
            Event::LoadFailed(error) => self.finish(f, Answer::Failed(error), false, out),
            _ => Some(f),
        }
    }
}
