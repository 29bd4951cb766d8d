//! Where each token is refreshed: a desk per user of a token store, a desk
//! per lineage of tokens held without one, and the route from every token
//! this process has seen (by a hash of its refresh token, never the value)
//! to its desk and version.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::SystemTime;

use aws_lc_rs::digest::{Context, SHA256};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::oneshot;

use super::config::Config;
use super::core::{Answer, Caller, Desk, Event, Versioned};
use crate::contract::ContractDetails;
use crate::store::{Lease, SessionStore};
use crate::sync::lock;
use crate::token::UserAccessToken;

/// A token as the desks hold it: shared, and compared by its refresh token.
#[derive(Clone)]
pub(crate) struct Tok(pub(crate) Arc<UserAccessToken>);

impl PartialEq for Tok {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || self.0.refresh_token().value().expose_secret()
                == other.0.refresh_token().value().expose_secret()
    }
}

impl fmt::Debug for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// digi.me's answer to a grant, not yet verified.
pub(crate) type Raw = Arc<SecretString>;

/// The answers a desk gives its callers.
pub(crate) type TokenAnswer = Answer<Tok, crate::Error>;

/// The most routes remembered at once.
const MAX_ROUTES: usize = 100_000;

/// SHA-256 of the `client_id` and a refresh token value: a token's route.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RouteKey([u8; 32]);

impl RouteKey {
    pub(crate) fn new(client_id: &str, token: &UserAccessToken) -> Self {
        let mut ctx = Context::new(&SHA256);
        ctx.update(client_id.as_bytes());
        ctx.update(&[0]);
        ctx.update(token.refresh_token().value().expose_secret().as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(ctx.finish().as_ref());
        RouteKey(key)
    }
}

/// One desk, and what its driver holds besides the decisions: the callers
/// waiting, the lease, the heartbeat.
pub(crate) struct DeskCell {
    /// The store and user of a store's desk.
    pub(crate) store: Option<SessionStore>,
    pub(crate) client_id: String,
    slot: Mutex<Slot>,
}

pub(crate) struct Slot {
    pub(crate) desk: Desk<Tok, Raw, crate::Error>,
    /// The contract of the flight under way (its grants are signed with it).
    pub(crate) contract: Option<ContractDetails>,
    /// The token the flight under way refreshes.
    pub(crate) from: Option<Tok>,
    pub(crate) senders: HashMap<Caller, oneshot::Sender<TokenAnswer>>,
    next_caller: Caller,
    pub(crate) lease: Option<Lease>,
    pub(crate) heartbeat: Option<tokio::task::AbortHandle>,
    /// Releases of the lease sent and not yet answered. A process that
    /// exits before they land leaves the lease to run out, and its next
    /// command waits for that: `UserSession::flush` waits for them.
    pub(crate) releasing: usize,
}

impl Slot {
    pub(crate) fn caller(&mut self, tx: oneshot::Sender<TokenAnswer>) -> Caller {
        self.next_caller += 1;
        self.senders.insert(self.next_caller, tx);
        self.next_caller
    }
}

impl fmt::Debug for DeskCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeskCell")
            .field("store", &self.store.as_ref().map(|s| s.store.describe()))
            .field("user", &self.store.as_ref().map(|s| s.user.as_str()))
            .finish_non_exhaustive()
    }
}

impl DeskCell {
    fn new(config: &Config, client_id: &str, store: Option<SessionStore>) -> Self {
        let desk = Desk::new(config.rules, config.limits, store.is_some());
        DeskCell {
            store,
            client_id: client_id.to_owned(),
            slot: Mutex::new(Slot {
                desk,
                contract: None,
                from: None,
                senders: HashMap::new(),
                next_caller: 0,
                lease: None,
                heartbeat: None,
                releasing: 0,
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Slot> {
        lock(&self.slot)
    }

    /// The newest token this desk knows.
    pub(crate) fn newest(&self) -> Option<Versioned<Tok>> {
        self.lock().desk.newest().cloned()
    }

    /// True when this desk is refreshing `token` now, or knows a newer one.
    pub(crate) fn moved_on(&self, token: &UserAccessToken) -> bool {
        let slot = self.lock();
        slot.desk.in_flight()
            || slot.desk.newest().is_some_and(|n| {
                n.token.0.refresh_token().value().expose_secret()
                    != token.refresh_token().value().expose_secret()
            })
    }
}

struct Route {
    desk: Arc<DeskCell>,
    version: u64,
    /// When the token's refresh token expires: no copy works after that.
    until: SystemTime,
}

/// Every desk of one [`DigiMe`](crate::DigiMe), and the routes to them.
#[derive(Default)]
pub(crate) struct Desks {
    /// By contract, store (its identity: two stores that describe
    /// themselves alike are still two) and user.
    stores: HashMap<(String, usize, String), Weak<DeskCell>>,
    routes: HashMap<RouteKey, Route>,
    order: VecDeque<RouteKey>,
}

impl Desks {
    /// The desk of `store`'s user for `client_id`, made if there is none.
    pub(crate) fn store_desk(
        &mut self,
        config: &Config,
        client_id: &str,
        store: &SessionStore,
    ) -> Arc<DeskCell> {
        // The address of the store's data: unique while the store lives,
        // and the desk (holding the store) keeps it alive.
        let identity = Arc::as_ptr(&store.store).cast::<()>() as usize;
        let key = (client_id.to_owned(), identity, store.user.clone());
        if let Some(desk) = self.stores.get(&key).and_then(Weak::upgrade) {
            return desk;
        }
        if self.stores.len() >= 1024 && self.stores.len().is_power_of_two() {
            self.stores.retain(|_, desk| desk.strong_count() > 0);
        }
        let desk = Arc::new(DeskCell::new(config, client_id, Some(store.clone())));
        self.stores.insert(key, Arc::downgrade(&desk));
        desk
    }

    /// The desk `token` was last seen at and its version there, or a new
    /// desk of its own (a lineage without a store).
    pub(crate) fn route(
        &mut self,
        config: &Config,
        client_id: &str,
        token: &Arc<UserAccessToken>,
    ) -> (Arc<DeskCell>, u64) {
        let key = RouteKey::new(client_id, token);
        if let Some(route) = self.routes.get(&key) {
            return (route.desk.clone(), route.version);
        }
        let desk = Arc::new(DeskCell::new(config, client_id, None));
        desk.lock()
            .desk
            .step(Event::Observed(Versioned::new(Tok(token.clone()), 0)));
        self.remember(client_id, &desk, token, 0);
        (desk, 0)
    }

    /// The desk `token` was seen at, and its version there, if any.
    pub(crate) fn seen_at(
        &self,
        client_id: &str,
        token: &UserAccessToken,
    ) -> Option<(Arc<DeskCell>, u64)> {
        self.routes
            .get(&RouteKey::new(client_id, token))
            .map(|r| (r.desk.clone(), r.version))
    }

    /// Routes `token` to `desk` at `version`.
    pub(crate) fn remember(
        &mut self,
        client_id: &str,
        desk: &Arc<DeskCell>,
        token: &UserAccessToken,
        version: u64,
    ) {
        let now = SystemTime::now();
        let until = token.refresh_token().expires_at();
        if until <= now {
            return;
        }
        let key = RouteKey::new(client_id, token);
        // A desk without a store that rotated this token away, or is
        // refreshing it now, keeps its route: a store's desk that meets the
        // token joins that refresh and writes its result to the store
        // (`Tokens::storeless_rotation`), never refreshes the token itself.
        if let Some(existing) = self.routes.get(&key)
            && existing.desk.store.is_none()
            && !Arc::ptr_eq(&existing.desk, desk)
            && existing.desk.moved_on(token)
        {
            return;
        }
        let route = Route {
            desk: desk.clone(),
            version,
            until,
        };
        if self.routes.insert(key, route).is_none() {
            self.order.push_back(key);
        }
        // The expired routes at the front go, then the oldest past the cap.
        while let Some(front) = self.order.front().copied() {
            let expired = self.routes.get(&front).is_none_or(|r| r.until <= now);
            if expired || self.order.len() > MAX_ROUTES {
                self.order.pop_front();
                self.routes.remove(&front);
            } else {
                break;
            }
        }
    }
}

impl fmt::Debug for Desks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Desks")
            .field("stores", &self.stores.len())
            .field("routes", &self.routes.len())
            .finish()
    }
}
