//! What each I/O of a process in the model comes back with.

use super::*;

impl World {
    /// What process `p`'s I/O comes back with, and what it does to the
    /// store and to digi.me on the way.
    pub(super) fn deliver(
        &self,
        s: &mut State,
        p: usize,
        io: Io,
        fault: bool,
    ) -> Event<Tok, Tok, ()> {
        match io {
            Io::Lease => {
                if fault {
                    s.fault("store_down");
                    return Event::LeaseFailed(());
                }
                let current = s.stored();
                match s.store.lease {
                    Some((_, false)) => Event::LeaseHeld { current },
                    lease => {
                        let took_over = lease.is_some();
                        // (The old holder hears of it at its next renewal:
                        // Step::Notice.)
                        s.store.lease = Some((p, false));
                        Event::LeaseTaken { current, took_over }
                    }
                }
            }
            Io::Renew => {
                if fault {
                    s.fault("store_down");
                    return Event::Renewed(false);
                }
                Event::Renewed(matches!(s.store.lease, Some((h, false)) if h == p))
            }
            Io::Grant(t) => {
                if t != s.live {
                    if !s.lost.contains(&t) {
                        s.p1 = true;
                    }
                    return Event::Refused(());
                }
                let fresh = s.next;
                s.next += 1;
                s.live = fresh;
                if fault {
                    s.fault("lost_answer");
                    s.lost.insert(t);
                    return Event::GrantUnsure(());
                }
                s.procs[p].received.insert((t, fresh));
                Event::Granted(fresh)
            }
            Io::Verify(raw) => {
                if fault {
                    s.fault("verify");
                    return Event::VerifyFailed {
                        error: (),
                        retryable: true,
                    };
                }
                Event::Verified(raw)
            }
            Io::Commit { expected, token } => self.commit(s, p, expected, token, fault),
            Io::Load => {
                if fault {
                    s.fault("store_down");
                    return Event::LoadFailed(());
                }
                Event::Loaded(s.stored())
            }
        }
    }

    /// A commit of `token` at `expected`: lands (under the lease, or at the
    /// right version), conflicts, or is lost.
    fn commit(
        &self,
        s: &mut State,
        p: usize,
        expected: u64,
        token: Tok,
        fault: bool,
    ) -> Event<Tok, Tok, ()> {
        let down = fault && self.can_fault(s, "store_down", self.faults.store_down);
        if down {
            s.fault("store_down");
            return Event::CommitFailed(());
        }
        let mine = matches!(s.store.lease, Some((h, false)) if h == p);
        let lands = if self.rules.versions {
            s.store.version == expected
        } else {
            mine
        };
        if !lands {
            if fault {
                // (no fault on a commit that does not land)
                return Event::CommitFailed(());
            }
            if self.rules.versions {
                if s.store.token != token {
                    s.procs[p].superseded = true;
                }
                return Event::Conflict(s.stored(), ());
            }
            return Event::CommitFailed(());
        }
        let version = s.write(token);
        if matches!(s.store.lease, Some((h, _)) if h == p) {
            s.store.lease = None;
        }
        if fault {
            s.fault("commit_lost");
            return Event::CommitFailed(());
        }
        Event::Committed(version)
    }
}
