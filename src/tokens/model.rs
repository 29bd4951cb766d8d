//! The model check of the refresh protocol: [`Desk::step`], the very code
//! the driver runs, in every interleaving of a few processes with several
//! tasks each, a versioned store with a lease, digi.me, and faults at every
//! step. The [scaling guide](crate::guide::scaling) states the properties,
//! the bounds and what the model leaves out.
//!
//! Tokens are small numbers: digi.me hands them out in increasing order, so
//! a larger number is a newer token.

use std::collections::BTreeSet;

use stateright::{Checker, Model, Property};

use super::core::{Action, Answer, Desk, Event, Limits, Rules, Versioned, Wait};

type Tok = u8;
type Ans = Answer<Tok, ()>;
type Act = Action<Tok, Tok, ()>;

/// The faults the environment may inject, each at most once per run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Faults {
    /// A process crashes (anywhere, its lease left to run out).
    pub(super) crash: bool,
    /// digi.me grants, and the answer is lost.
    pub(super) lost_answer: bool,
    /// A store call fails with no effect (the store out of reach).
    pub(super) store_down: bool,
    /// A commit lands, and its answer is lost.
    pub(super) commit_lost: bool,
    /// A live holder's lease runs out (its renewals fail).
    pub(super) lease_lost: bool,
    /// A verification fails for a passing reason (the key set out of reach).
    pub(super) verify: bool,
    /// An operator saves a newly authorized token (after a refusal).
    pub(super) reauthorize: bool,
}

impl Faults {
    pub(super) const ALL: Faults = Faults {
        crash: true,
        lost_answer: true,
        store_down: true,
        commit_lost: true,
        lease_lost: true,
        verify: true,
        reauthorize: true,
    };
}

#[derive(Clone, Debug)]
pub(super) struct World {
    pub(super) procs: usize,
    pub(super) tasks: usize,
    pub(super) rules: Rules,
    pub(super) limits: Limits,
    pub(super) faults: Faults,
    /// How many faults one run may have.
    pub(super) budget: u8,
}

/// The outstanding I/O of a process's desk (at most one at a time).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Io {
    Lease,
    Renew,
    Grant(Tok),
    Verify(Tok),
    Commit { expected: u64, token: Tok },
    Load,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Task {
    /// About to need a newer token than `seen` (its access token expired);
    /// `retry` after a failure (once).
    Ready {
        seen: Versioned<Tok>,
        retry: bool,
    },
    Waiting {
        seen: Versioned<Tok>,
        retry: bool,
    },
    Finished(Ans),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Proc {
    alive: bool,
    desk: Desk<Tok, Tok, ()>,
    tasks: Vec<Task>,
    io: Option<Io>,
    timer: Option<(u64, Wait)>,
    heartbeat: bool,
    /// Tokens digi.me granted to this process, with the token each was
    /// rotated from.
    received: BTreeSet<(Tok, Tok)>,
    /// Tokens this process handed to its callers.
    handed: BTreeSet<Tok>,
    /// A newer token was found stored while this process held one unstored.
    superseded: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Store {
    token: Tok,
    version: u64,
    /// The holder, and whether the lease ran out.
    lease: Option<(usize, bool)>,
    /// Every token the store held.
    history: BTreeSet<Tok>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct State {
    procs: Vec<Proc>,
    store: Store,
    /// digi.me's only live refresh token, and the next it hands out.
    live: Tok,
    next: Tok,
    /// Spent tokens whose successor was lost (its answer lost, or its
    /// receiver crashed before writing it): P1 and P2 excuse these.
    lost: BTreeSet<Tok>,
    faults_used: u8,
    /// The faults used so far (a bit each).
    used: u8,
    /// A caller was told to reauthorize.
    refused: bool,
    /// Violations, recorded as they happen.
    p1: bool,
    p2: bool,
    p3: bool,
}

/// The bit of a fault in [`State::used`].
fn bit(name: &str) -> u8 {
    match name {
        "crash" => 1,
        "lost_answer" => 2,
        "store_down" => 4,
        "commit_lost" => 8,
        "lease_lost" => 16,
        "verify" => 32,
        _ => 64,
    }
}

/// A step of the environment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Step {
    Need(usize, usize),
    /// Deliver process `p`'s I/O; `fault` picks the faulty outcome.
    Io(usize, bool),
    Timer(usize),
    /// The lease of a holder that stopped renewing (or died) runs out.
    Expire,
    /// The lease of a live, renewing holder runs out (fault).
    LoseLease,
    /// Process `p`'s heartbeat finds its lease taken.
    Notice(usize),
    /// Process `p` crashes; `reached` when its last request reached its
    /// peer first.
    Crash(usize, bool),
    Reauthorize,
}

impl State {
    fn fault(&mut self, name: &'static str) {
        self.faults_used += 1;
        self.used |= bit(name);
    }

    fn used(&self, name: &str) -> bool {
        self.used & bit(name) != 0
    }

    /// True when the live token is in the store or held by a live process.
    fn live_somewhere(&self) -> bool {
        self.store.token == self.live
            || self.procs.iter().any(|p| {
                p.alive
                    && (p.desk.newest().is_some_and(|n| n.token == self.live)
                        || p.desk.unstored() == Some(&self.live)
                        || p.tasks.iter().any(|t| match t {
                            Task::Finished(Answer::Token(v))
                            | Task::Finished(Answer::Unstored { token: v, .. }) => {
                                v.token == self.live
                            }
                            _ => false,
                        }))
            })
    }

    fn stored(&self) -> Option<Versioned<Tok>> {
        (self.store.version > 0).then(|| Versioned::new(self.store.token, self.store.version))
    }

    /// The store takes `token` at the next version.
    fn write(&mut self, token: Tok) -> u64 {
        if token < self.store.token {
            self.p3 = true;
        }
        self.store.token = token;
        self.store.version += 1;
        self.store.history.insert(token);
        self.store.version
    }
}

impl World {
    fn limit(&self) -> u32 {
        self.limits.lease_polls
    }

    fn can_fault(&self, state: &State, name: &'static str, on: bool) -> bool {
        on && state.faults_used < self.budget && !state.used(name)
    }

    /// Feeds `event` to process `p`'s desk and performs what it decides.
    fn feed(&self, state: &mut State, p: usize, event: Event<Tok, Tok, ()>) {
        let actions = state.procs[p].desk.step(event);
        for action in actions {
            self.act(state, p, action);
        }
    }

    fn act(&self, state: &mut State, p: usize, action: Act) {
        let io = |io| Some(io);
        match action {
            Action::AcquireLease => state.procs[p].io = io(Io::Lease),
            Action::Renew => state.procs[p].io = io(Io::Renew),
            Action::Grant(t) => state.procs[p].io = io(Io::Grant(t)),
            Action::Verify(r) => state.procs[p].io = io(Io::Verify(r)),
            Action::Commit { expected, token } => {
                state.procs[p].io = io(Io::Commit { expected, token })
            }
            Action::Load => state.procs[p].io = io(Io::Load),
            Action::Sleep { timer, wait } => state.procs[p].timer = Some((timer, wait)),
            Action::StartHeartbeat => state.procs[p].heartbeat = true,
            Action::StopHeartbeat => state.procs[p].heartbeat = false,
            Action::Release => {
                if matches!(state.store.lease, Some((h, _)) if h == p) {
                    state.store.lease = None;
                }
            }
            Action::KeepLease => state.procs[p].heartbeat = false,
            Action::Reply(caller, answer) => {
                let task = caller as usize;
                let (seen, retry) = match &state.procs[p].tasks[task] {
                    Task::Waiting { seen, retry } => (seen.clone(), *retry),
                    other => panic!("a reply to a task that is not waiting: {other:?}"),
                };
                if let Answer::Reauthorize(()) = answer {
                    state.refused = true;
                    if state.live_somewhere() {
                        state.p2 = true;
                    }
                }
                state.procs[p].tasks[task] = match &answer {
                    Answer::Token(v) | Answer::Unstored { token: v, .. } => {
                        state.procs[p].handed.insert(v.token);
                        Task::Finished(answer)
                    }
                    _ if !retry => Task::Ready { seen, retry: true },
                    _ => Task::Finished(answer),
                };
            }
        }
    }

    /// Whether process `p`'s timer may fire now. Two timing assumptions,
    /// stated in the scaling guide: a taker of an abandoned lease waits
    /// longer than a live holder needs to write its token once the store is
    /// reachable (grace), and a waiter's patience outlasts a live holder's
    /// work (the last poll).
    fn timer_may_fire(&self, state: &State, p: usize) -> bool {
        match state.procs[p].timer {
            None => false,
            Some((_, Wait::Grace(_))) => !state
                .procs
                .iter()
                .enumerate()
                .any(|(q, other)| q != p && other.alive && other.desk.mid_refresh()),
            Some((_, Wait::Poll(n))) if n >= self.limit() => match state.store.lease {
                Some((h, false)) => !state.procs[h].alive || !state.procs[h].heartbeat,
                _ => true,
            },
            Some(_) => true,
        }
    }
}

impl Model for World {
    type State = State;
    type Action = Step;

    fn init_states(&self) -> Vec<State> {
        let start = Versioned::new(0, 1);
        let procs = (0..self.procs)
            .map(|_| {
                let mut desk = Desk::new(self.rules, self.limits, true);
                desk.step(Event::Observed(start.clone()));
                Proc {
                    alive: true,
                    desk,
                    tasks: vec![
                        Task::Ready {
                            seen: start.clone(),
                            retry: false
                        };
                        self.tasks
                    ],
                    io: None,
                    timer: None,
                    heartbeat: false,
                    received: BTreeSet::new(),
                    handed: BTreeSet::new(),
                    superseded: false,
                }
            })
            .collect();
        vec![State {
            procs,
            store: Store {
                token: 0,
                version: 1,
                lease: None,
                history: BTreeSet::from([0]),
            },
            live: 0,
            next: 1,
            lost: BTreeSet::new(),
            faults_used: 0,
            used: 0,
            refused: false,
            p1: false,
            p2: false,
            p3: false,
        }]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Step>) {
        for (p, proc) in state.procs.iter().enumerate() {
            if !proc.alive {
                continue;
            }
            for (t, task) in proc.tasks.iter().enumerate() {
                if matches!(task, Task::Ready { .. }) {
                    actions.push(Step::Need(p, t));
                }
            }
            if let Some(io) = &proc.io {
                actions.push(Step::Io(p, false));
                let faulty = match io {
                    Io::Lease | Io::Load | Io::Renew => {
                        self.can_fault(state, "store_down", self.faults.store_down)
                    }
                    Io::Grant(t) => {
                        *t == state.live
                            && self.can_fault(state, "lost_answer", self.faults.lost_answer)
                    }
                    Io::Verify(_) => self.can_fault(state, "verify", self.faults.verify),
                    Io::Commit { .. } => {
                        self.can_fault(state, "store_down", self.faults.store_down)
                            || self.can_fault(state, "commit_lost", self.faults.commit_lost)
                    }
                };
                if faulty {
                    actions.push(Step::Io(p, true));
                }
            }
            if self.timer_may_fire(state, p) {
                actions.push(Step::Timer(p));
            }
            if proc.heartbeat && proc.desk.holds_lease() && state.store.lease != Some((p, false)) {
                actions.push(Step::Notice(p));
            }
            if self.can_fault(state, "crash", self.faults.crash) {
                actions.push(Step::Crash(p, false));
                if proc.io.is_some() {
                    actions.push(Step::Crash(p, true));
                }
            }
        }
        if let Some((h, false)) = state.store.lease {
            let holder = &state.procs[h];
            if !holder.alive || !holder.heartbeat {
                actions.push(Step::Expire);
            } else if self.can_fault(state, "lease_lost", self.faults.lease_lost) {
                actions.push(Step::LoseLease);
            }
        }
        if state.refused && self.can_fault(state, "reauthorize", self.faults.reauthorize) {
            actions.push(Step::Reauthorize);
        }
    }

    fn next_state(&self, last: &State, step: Step) -> Option<State> {
        let mut s = last.clone();
        match step {
            Step::Need(p, t) => {
                let Task::Ready { seen, retry } = s.procs[p].tasks[t].clone() else {
                    return None;
                };
                s.procs[p].tasks[t] = Task::Waiting {
                    seen: seen.clone(),
                    retry,
                };
                self.feed(
                    &mut s,
                    p,
                    Event::Need {
                        caller: t as u64,
                        seen,
                        carry: None,
                    },
                );
            }
            Step::Io(p, fault) => {
                let io = s.procs[p].io.take()?;
                let event = self.deliver(&mut s, p, io, fault);
                self.feed(&mut s, p, event);
            }
            Step::Timer(p) => {
                let (id, _) = s.procs[p].timer.take()?;
                self.feed(&mut s, p, Event::Timer(id));
            }
            Step::Notice(p) => self.feed(&mut s, p, Event::LeaseLost),
            Step::Expire => {
                if let Some((h, false)) = s.store.lease {
                    s.store.lease = Some((h, true));
                }
            }
            Step::LoseLease => {
                s.fault("lease_lost");
                if let Some((h, false)) = s.store.lease {
                    s.store.lease = Some((h, true));
                }
            }
            Step::Crash(p, reached) => {
                s.fault("crash");
                if reached && let Some(io) = s.procs[p].io.clone() {
                    // Its last request did what it does; the answer is lost.
                    let _ = self.deliver(&mut s, p, io, false);
                }
                let proc = &mut s.procs[p];
                proc.alive = false;
                proc.io = None;
                proc.timer = None;
                // A token it got and did not write is lost with it: the
                // token it was rotated from is spent for good.
                for (from, to) in proc.received.clone() {
                    if !s.store.history.contains(&to) {
                        s.lost.insert(from);
                    }
                }
            }
            Step::Reauthorize => {
                s.fault("reauthorize");
                let fresh = s.next;
                s.next += 1;
                s.live = fresh;
                s.write(fresh);
            }
        }
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always(
                "P1: no refresh of a spent refresh token (but after a loss)",
                |_, s: &State| !s.p1,
            ),
            Property::always(
                "P2: no reauthorization while a live token exists (but after a loss)",
                |_, s: &State| !s.p2,
            ),
            Property::always("P3: the store never goes back", |_, s: &State| !s.p3),
            Property::always(
                "P4: a new token is written or handed to a caller",
                |_, s: &State| {
                    s.procs.iter().all(|p| {
                        !p.alive
                            || p.desk.in_flight()
                            || p.superseded
                            || p.received
                                .iter()
                                .all(|(_, t)| s.store.history.contains(t) || p.handed.contains(t))
                    })
                },
            ),
            Property::eventually(
                "eventually: every caller gets a token (healthy store, no loss)",
                |_, s: &State| {
                    s.faults_used > 0
                        || s.procs.iter().all(|p| {
                            p.tasks
                                .iter()
                                .all(|t| matches!(t, Task::Finished(Answer::Token(_))))
                        })
                },
            ),
        ]
    }
}

/// The bounds of the model check that runs in CI.
pub(super) fn limits() -> Limits {
    Limits {
        lease_polls: 2,
        grace_polls: 2,
        verify_tries: 1,
        commit_tries: 1,
        background_tries: 2,
    }
}

pub(super) fn check(world: World) -> (usize, Vec<&'static str>) {
    let checker = world.checker().threads(2).spawn_bfs().join();
    let found: Vec<&'static str> = checker.discoveries().into_keys().collect();
    (checker.unique_state_count(), found)
}

mod deliver;
#[cfg(test)]
mod tests;
