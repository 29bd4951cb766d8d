//! The driver: performs what a [desk](super::core::Desk) decides (the grant,
//! the verification, the store's calls, the waits, the heartbeat) and feeds
//! the outcomes back. It decides nothing itself.
//!
//! Flights run on a runtime of their own (one thread, started on first use),
//! with an HTTP client of their own, so that no caller can cancel a refresh
//! half-way: not by dropping its future, and not by dropping its runtime.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, MutexGuard, OnceLock};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::oneshot;
use tracing::Instrument;

use super::Tokens;
use super::config::Config;
use super::core::{Action, Answer, Event, Versioned, Wait};
use super::desks::{DeskCell, Raw, Slot, Tok, TokenAnswer};
use super::grant::{Granted, grant, may_pass, verify_token};
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::store::{CommitOutcome, Lease, LeaseAttempt, SessionStore, StoredToken, TokenStore};

/// A newer token, and, when the store did not take it, the store's error.
#[derive(Debug)]
pub(crate) struct Fresh {
    pub(crate) token: Versioned<Tok>,
    pub(crate) unstored: Option<Error>,
}

/// What the driver performs for a flight, one at a time.
enum Io {
    Lease,
    Renew,
    Grant(Tok),
    Verify(Raw),
    Commit { expected: u64, token: Tok },
    Load,
    Sleep { timer: u64, wait: Wait },
}

impl DeskCell {
    /// A token newer than `seen`: the newest known here, or the result of
    /// the refresh under way, or of one started now.
    pub(crate) async fn need(
        self: &Arc<Self>,
        tokens: &Arc<Tokens>,
        contract: &ContractDetails,
        seen: Versioned<Tok>,
    ) -> Result<Fresh> {
        // A rotation of `seen` this process made (or is making) without the
        // store: the store gets its result (under the lease), rather than a
        // refresh of its own.
        let mut carry = None;
        if self.store.is_some()
            && let Some((other, version)) = tokens.storeless_rotation(self, &seen.token)
        {
            let theirs = Versioned::new(seen.token.clone(), version);
            match Box::pin(other.need(tokens, contract, theirs)).await {
                Ok(fresh) => carry = Some(fresh.token.token),
                Err(err) => {
                    tracing::debug!(error = %err, "a refresh made without the store failed")
                }
            }
        }
        let (tx, rx) = oneshot::channel();
        let io = {
            let mut slot = self.lock();
            let caller = slot.caller(tx);
            if !slot.desk.in_flight() {
                slot.contract = Some(contract.clone());
                slot.from = Some(seen.token.clone());
            }
            let actions = slot.desk.step(Event::Need {
                caller,
                seen: seen.clone(),
                carry,
            });
            self.apply(tokens, slot, actions)
        };
        if let Some(io) = io {
            spawn(drive(tokens.clone(), self.clone(), io).in_current_span());
        }
        let answer = rx.await.unwrap_or_else(|_| Answer::Unsure(cancelled()));
        self.answer(tokens, answer, &seen)
    }

    /// The caller's result for `answer`.
    fn answer(
        &self,
        tokens: &Arc<Tokens>,
        answer: TokenAnswer,
        seen: &Versioned<Tok>,
    ) -> Result<Fresh> {
        match answer {
            Answer::Token(token) => Ok(Fresh {
                token,
                unstored: None,
            }),
            Answer::Unstored { token, error } => Ok(Fresh {
                token,
                unstored: Some(error),
            }),
            Answer::Unsure(err) if !err.refresh_may_have_happened() => {
                Err(err.mark_refresh_may_have_happened((*seen.token.0).clone()))
            }
            Answer::Reauthorize(err) | Answer::Unsure(err) | Answer::Failed(err) => Err(err),
            Answer::LeaseHeld => {
                let (store, user) = self.names();
                Err(Error::token_store(
                    store,
                    format!(
                        "the refresh lease of user `{user}` stayed held by another process for \
                         over {} s",
                        tokens.config().patience().as_secs()
                    ),
                ))
            }
        }
    }

    /// The store's name and the user, for messages.
    pub(crate) fn names(&self) -> (String, String) {
        match &self.store {
            Some(s) => (s.store.describe(), s.user.clone()),
            None => ("-".to_owned(), "-".to_owned()),
        }
    }

    /// Feeds `event` to the desk and performs what needs no waiting; the
    /// flight's next I/O, if any, is returned for its driver.
    fn feed(self: &Arc<Self>, tokens: &Arc<Tokens>, event: Event<Tok, Raw, Error>) -> Option<Io> {
        let mut slot = self.lock();
        let actions = slot.desk.step(event);
        self.apply(tokens, slot, actions)
    }

    /// Renews the lease every TTL/4 while the flight holds it.
    fn start_heartbeat(self: &Arc<Self>, tokens: &Arc<Tokens>, slot: &mut Slot) {
        if let (Some(store), Some(lease)) = (&self.store, &slot.lease) {
            let beat = heartbeat(
                tokens.clone(),
                self.clone(),
                store.store.clone(),
                lease.clone(),
            );
            slot.heartbeat = Some(spawn(beat));
        }
    }

    /// Gives the lease back, in the background (`flush` waits for it).
    fn release(self: &Arc<Self>, tokens: &Arc<Tokens>, slot: &mut Slot) {
        if let (Some(store), Some(lease)) = (&self.store, slot.lease.take()) {
            let deadline = tokens.config().store_timeout;
            let store = store.store.clone();
            let cell = self.clone();
            slot.releasing += 1;
            spawn(async move {
                let released = within(deadline, &*store, store.release(&lease)).await;
                if let Err(err) = released {
                    tracing::warn!(error = %err, "could not release the refresh lease; it will run out");
                }
                cell.lock().releasing -= 1;
            });
        }
    }

    /// Performs the actions that need no waiting (answers, the heartbeat,
    /// releasing the lease) and returns the one I/O the flight waits for.
    fn apply(
        self: &Arc<Self>,
        tokens: &Arc<Tokens>,
        mut slot: MutexGuard<'_, Slot>,
        actions: Vec<Action<Tok, Raw, Error>>,
    ) -> Option<Io> {
        let mut io = None;
        let mut learnt = Vec::new();
        let mut replies = Vec::new();
        for action in actions {
            let next = match action {
                Action::Reply(caller, answer) => {
                    if let Answer::Token(v) | Answer::Unstored { token: v, .. } = &answer {
                        learnt.push(v.clone());
                    }
                    if let Some(tx) = slot.senders.remove(&caller) {
                        replies.push((tx, answer));
                    }
                    None
                }
                Action::StartHeartbeat => {
                    self.start_heartbeat(tokens, &mut slot);
                    None
                }
                Action::StopHeartbeat => {
                    if let Some(beat) = slot.heartbeat.take() {
                        beat.abort();
                    }
                    None
                }
                Action::Release => {
                    self.release(tokens, &mut slot);
                    None
                }
                Action::KeepLease => {
                    if slot.lease.take().is_some() {
                        tracing::warn!(
                            "the refresh may have happened: the lease is left to run out"
                        );
                    }
                    None
                }
                Action::AcquireLease => Some(Io::Lease),
                Action::Renew => Some(Io::Renew),
                Action::Grant(t) => Some(Io::Grant(t)),
                Action::Verify(raw) => Some(Io::Verify(raw)),
                Action::Commit { expected, token } => Some(Io::Commit { expected, token }),
                Action::Load => Some(Io::Load),
                Action::Sleep { timer, wait } => Some(Io::Sleep { timer, wait }),
            };
            if next.is_some() {
                debug_assert!(io.is_none(), "a desk asks for one I/O at a time");
                io = next;
            }
        }
        // The routes are written with the desk unlocked: the registry is
        // never locked while a desk is waited for. And before the callers
        // hear the answer: a caller that goes on with the new token at once
        // must find it routed to this desk, or a desk of its own would
        // refresh it a second time.
        drop(slot);
        for token in learnt {
            tokens.remember(self, &token);
        }
        for (tx, answer) in replies {
            // A caller that gave up is fine: the desk keeps the token.
            let _ = tx.send(answer);
        }
        io
    }
}

/// Answers a flight's callers when its driver is dropped half-way (its
/// runtime shut down): the desk then knows the flight ended.
struct Cancel {
    cell: Option<Arc<DeskCell>>,
    tokens: Arc<Tokens>,
}

impl Drop for Cancel {
    fn drop(&mut self) {
        if let Some(cell) = self.cell.take() {
            tracing::warn!("a token refresh was cancelled with its runtime");
            let _ = cell.feed(&self.tokens, Event::Cancelled(cancelled()));
        }
    }
}

/// The error of a flight cancelled half-way.
fn cancelled() -> Error {
    Error::invalid_response("the token refresh was cancelled (the runtime it ran on shut down)")
}

/// Runs one flight: performs each I/O its desk asks for, until it asks for
/// none.
async fn drive(tokens: Arc<Tokens>, cell: Arc<DeskCell>, mut io: Io) {
    let mut cancel = Cancel {
        cell: Some(cell.clone()),
        tokens: tokens.clone(),
    };
    loop {
        let event = perform(&tokens, &cell, io).await;
        match cell.feed(&tokens, event) {
            Some(next) => io = next,
            None => break,
        }
    }
    cancel.cell = None;
}

/// Performs `io`, and says what came of it.
async fn perform(tokens: &Arc<Tokens>, cell: &DeskCell, io: Io) -> Event<Tok, Raw, Error> {
    let config = tokens.config();
    let store = cell.store.as_ref();
    match io {
        Io::Sleep { timer, wait } => {
            tokio::time::sleep(config.wait(wait)).await;
            Event::Timer(timer)
        }
        Io::Grant(from) => perform_grant(tokens, cell, from).await,
        Io::Verify(raw) => perform_verify(tokens, cell, raw).await,
        Io::Lease => perform_lease(config, cell, store).await,
        Io::Renew => perform_renew(config, cell, store).await,
        Io::Commit { expected, token } => {
            perform_commit(config, cell, store, expected, token).await
        }
        Io::Load => perform_load(config, store).await,
    }
}

/// The refresh grant of `from`.
async fn perform_grant(tokens: &Arc<Tokens>, cell: &DeskCell, from: Tok) -> Event<Tok, Raw, Error> {
    let Some(contract) = cell.lock().contract.clone() else {
        return Event::GrantFailed(Error::invalid_response("no contract for the refresh"));
    };
    match grant(
        tokens.transport(),
        &tokens.transport().flight_http,
        &contract,
        &from.0,
    )
    .await
    {
        Granted::Answer(jwt) => Event::Granted(Arc::new(jwt)),
        Granted::Refused(err) => Event::Refused(err),
        Granted::Unsure(err) => {
            Event::GrantUnsure(err.mark_refresh_may_have_happened((*from.0).clone()))
        }
        Granted::Failed(err) => Event::GrantFailed(err),
    }
}

/// The verification of a grant's answer.
async fn perform_verify(tokens: &Arc<Tokens>, cell: &DeskCell, raw: Raw) -> Event<Tok, Raw, Error> {
    let from = cell.lock().from.clone();
    match verify_token(tokens.transport(), &tokens.transport().flight_http, &raw).await {
        Ok(mut fresh) => {
            if let Some(from) = &from {
                fresh.inherit_identity(&from.0);
            }
            tracing::info!(
                user = fresh.user_id().unwrap_or("-"),
                "access token refreshed"
            );
            Event::Verified(Tok(Arc::new(fresh)))
        }
        Err(err) => {
            let retryable = may_pass(&err);
            let err = match from {
                Some(from) => err.mark_refresh_may_have_happened((*from.0).clone()),
                None => err,
            };
            Event::VerifyFailed {
                error: err,
                retryable,
            }
        }
    }
}

/// Asking the store for the lease.
async fn perform_lease(
    config: &Config,
    cell: &DeskCell,
    store: Option<&SessionStore>,
) -> Event<Tok, Raw, Error> {
    let Some(s) = store else {
        return Event::LeaseFailed(Error::invalid_response("no token store"));
    };
    let attempt = within(
        config.store_timeout,
        &*s.store,
        s.store.acquire_lease(&s.user, config.lease_ttl),
    )
    .await;
    match attempt {
        Ok(LeaseAttempt::Acquired {
            lease,
            current,
            took_over,
        }) => {
            cell.lock().lease = Some(lease);
            Event::LeaseTaken {
                current: current.map(versioned),
                took_over,
            }
        }
        Ok(LeaseAttempt::Held { current, .. }) => Event::LeaseHeld {
            current: current.map(versioned),
        },
        Err(err) => Event::LeaseFailed(err),
    }
}

/// Renewing the lease before the grant.
async fn perform_renew(
    config: &Config,
    cell: &DeskCell,
    store: Option<&SessionStore>,
) -> Event<Tok, Raw, Error> {
    let lease = cell.lock().lease.clone();
    let (Some(s), Some(lease)) = (store, lease) else {
        return Event::Renewed(false);
    };
    match renew(config, &*s.store, &lease).await {
        Ok(held) => Event::Renewed(held),
        Err(err) => {
            tracing::warn!(error = %err, "could not renew the refresh lease before the refresh");
            Event::Renewed(false)
        }
    }
}

/// Writing the new token, on version `expected`.
async fn perform_commit(
    config: &Config,
    cell: &DeskCell,
    store: Option<&SessionStore>,
    expected: u64,
    token: Tok,
) -> Event<Tok, Raw, Error> {
    let Some(s) = store else {
        return Event::CommitFailed(Error::invalid_response("no token store"));
    };
    // The lease, or (lost to a slow step) one that names the user:
    // a commit compares versions, it does not need the lease.
    let lease = cell
        .lock()
        .lease
        .clone()
        .unwrap_or_else(|| Lease::with_id(&s.user, "", std::time::SystemTime::now()));
    let committed = within(
        config.store_timeout,
        &*s.store,
        s.store.commit(&lease, expected, &token.0),
    )
    .await;
    match committed {
        Ok(CommitOutcome::Committed(version)) => {
            cell.lock().lease = None;
            Event::Committed(version)
        }
        Ok(CommitOutcome::Conflict(current)) => Event::Conflict(
            current.map(versioned),
            Error::token_store(
                s.store.describe(),
                format!("the token of user `{}` was removed meanwhile", s.user),
            ),
        ),
        Err(err) => {
            tracing::error!(error = %err, "the store did not take the refreshed token (yet)");
            Event::CommitFailed(err)
        }
    }
}

/// Reading the store.
async fn perform_load(config: &Config, store: Option<&SessionStore>) -> Event<Tok, Raw, Error> {
    let Some(s) = store else {
        return Event::LoadFailed(Error::invalid_response("no token store"));
    };
    match within(config.store_timeout, &*s.store, s.store.load(&s.user)).await {
        Ok(current) => Event::Loaded(current.map(versioned)),
        Err(err) => Event::LoadFailed(err),
    }
}

/// A stored token as the desks hold it.
pub(crate) fn versioned(stored: StoredToken) -> Versioned<Tok> {
    Versioned::new(Tok(Arc::new(stored.token)), stored.version)
}

/// Runs a store's call with a deadline, turning a panic in the store's own
/// code into its error too.
async fn within<T>(
    deadline: Duration,
    store: &dyn TokenStore,
    call: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(deadline, AssertUnwindSafe(call).catch_unwind()).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(Error::token_store(
            store.describe(),
            "the store's code panicked",
        )),
        Err(_) => Err(Error::token_store(
            store.describe(),
            format!("did not answer within {} ms", deadline.as_millis()),
        )),
    }
}

/// One renewal of `lease` for another time to live, within the heartbeat's
/// period: `Ok(false)` when the lease was taken over.
async fn renew(config: &Config, store: &dyn TokenStore, lease: &Lease) -> Result<bool> {
    let renewal = store.renew_lease(lease, config.lease_ttl);
    within(config.heartbeat_every(), store, renewal).await
}

/// Renews `lease` every quarter of its time to live, until stopped or lost;
/// a renewal that fails is tried again at once, once.
async fn heartbeat(
    tokens: Arc<Tokens>,
    cell: Arc<DeskCell>,
    store: Arc<dyn TokenStore>,
    lease: Lease,
) {
    let config = tokens.config();
    loop {
        tokio::time::sleep(config.heartbeat_every()).await;
        for attempt in 1..=2 {
            match renew(config, &*store, &lease).await {
                Ok(true) => break,
                Ok(false) => {
                    tracing::warn!("the refresh lease was lost to another process");
                    let _ = cell.feed(&tokens, Event::LeaseLost);
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, attempt, "could not renew the refresh lease")
                }
            }
        }
    }
}

/// Spawns `task` on the flights' runtime (else on the caller's).
fn spawn(task: impl Future<Output = ()> + Send + 'static) -> tokio::task::AbortHandle {
    match flights() {
        Some(handle) => handle.spawn(task).abort_handle(),
        None => tokio::spawn(task).abort_handle(),
    }
}

/// The flights' runtime: one thread, for the life of the process.
fn flights() -> Option<&'static tokio::runtime::Handle> {
    static FLIGHTS: OnceLock<Option<tokio::runtime::Handle>> = OnceLock::new();
    FLIGHTS
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            let started = std::thread::Builder::new()
                .name("digime-token-flights".to_owned())
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    match runtime {
                        Ok(runtime) => {
                            let _ = tx.send(Some(runtime.handle().clone()));
                            runtime.block_on(std::future::pending::<()>());
                        }
                        Err(err) => {
                            tracing::error!(error = %err, "cannot start the token flights' runtime");
                            let _ = tx.send(None);
                        }
                    }
                });
            match started {
                Ok(_) => rx.recv().ok().flatten(),
                Err(err) => {
                    tracing::error!(error = %err, "cannot start the token flights' thread");
                    None
                }
            }
        })
        .as_ref()
}
