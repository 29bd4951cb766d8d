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

mod advance;
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
}

#[cfg(test)]
mod tests;
