//! [`UserSession`]: one user's token, shared by every call made for them,
//! optionally kept in a [`TokenStore`](crate::store::TokenStore).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::hook::{OnTokenChange, call_hook};
use crate::DigiMe;
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::store::{SessionStore, TokenStore};
use crate::token::UserAccessToken;
use crate::tokens::core::Versioned;
use crate::tokens::{DeskCell, Tok, versioned};

/// One user's token, shared by every call made for them.
///
/// A session holds the newest token it knows. Its calls refresh through the
/// SDK's token protocol, so concurrent calls share one refresh, and the session's
/// hook fires once per new token. [`user_access_token`](Self::user_access_token)
/// hands the newest token out for storage.
///
/// Opened with [`DigiMe::session_from_store`], the session keeps the user's
/// token in a [`TokenStore`]: refreshes then run under the store's lease, so
/// that every process sharing the store makes one refresh per rotation and
/// the others adopt it. The store is read when the session opens and
/// written when the token is refreshed, never on the way of a push.
///
/// It is `Clone + Send + Sync` (an `Arc` inside).
///
/// ```no_run
/// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
/// use digime::{Account, FileDescriptor};
/// let session = sdk.session(&contract, token);
/// session.on_access_token_change(|t| { /* persist t once per refresh */ let _ = t; });
/// let mut tasks = Vec::new();
/// for i in 0..10 {
///     let session = session.clone();
///     tasks.push(tokio::spawn(async move {
///         session.push().library()
///             .file(format!("row {i}").into_bytes(), format!("row-{i}.txt"))
///             .descriptor(FileDescriptor::builder().mime_type("text/plain").accounts(vec![Account::new("a")]).build())
///             .send().await
///     }));
/// }
/// for task in tasks { task.await.expect("task")?; }
/// let to_store = session.user_access_token();
/// # let _ = to_store; Ok(()) }
/// ```
#[derive(Clone)]
pub struct UserSession {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    sdk: DigiMe,
    contract: ContractDetails,
    current: RwLock<Versioned<Tok>>,
    /// Where the session's token is refreshed, for a session of a store
    /// (without one, the token's own desk, found at each refresh).
    desk: Option<Arc<DeskCell>>,
    /// Called once per new token. Kept behind a mutex so that hook calls
    /// never overlap and see tokens in order.
    on_change: Mutex<Option<OnTokenChange>>,
    refreshes: AtomicU64,
}

impl DigiMe {
    /// A shared session for one user, holding `token` in memory. See
    /// [`UserSession`].
    ///
    /// ```no_run
    /// # fn f(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) {
    /// let session = sdk.session(&contract, token);
    /// # let _ = session; }
    /// ```
    pub fn session(&self, contract: &ContractDetails, token: UserAccessToken) -> UserSession {
        let token = Arc::new(token);
        let (_, version) = self
            .tokens()
            .route(&self.transport().client_id(contract), &token);
        UserSession::new(
            self.clone(),
            contract.clone(),
            Versioned::new(Tok(token), version),
            None,
        )
    }

    /// A shared session for the user `user` of a [`TokenStore`]: the token
    /// is read from the store now, and every refresh goes through the store
    /// under its lease (see [`store`](crate::store)).
    ///
    /// Errors: [`ErrorKind::TokenStore`](crate::ErrorKind::TokenStore) when
    /// the store cannot be read; [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// naming `user` when it is empty or the store holds no token for it.
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails) -> digime::Result<()> {
    /// use std::sync::Arc;
    /// let store = Arc::new(digime::store::FileTokenStore::new("/var/lib/my-app/tokens")?);
    /// let session = sdk.session_from_store(&contract, store, "patient-42").await?;
    /// let accounts = session.read_accounts().await?;
    /// # let _ = accounts; Ok(()) }
    /// ```
    pub async fn session_from_store(
        &self,
        contract: &ContractDetails,
        store: Arc<dyn TokenStore>,
        user: impl Into<String>,
    ) -> Result<UserSession> {
        let user = user.into();
        crate::validate::identifier("user", &user)?;
        let loaded = store.load(&user).await?.ok_or_else(|| {
            Error::invalid_input(
                "user",
                format!(
                    "the token store {} holds no token for `{user}`",
                    store.describe()
                ),
            )
        })?;
        let loaded = versioned(loaded);
        let desk = self.tokens().store_desk(
            &self.transport().client_id(contract),
            &SessionStore { store, user },
            &loaded,
        );
        // The desk may know a newer token than the store gave (this process
        // rotated it): the session starts with the newest.
        let current = desk
            .newest()
            .filter(|n| n.version > loaded.version)
            .unwrap_or(loaded);
        Ok(UserSession::new(
            self.clone(),
            contract.clone(),
            current,
            Some(desk),
        ))
    }
}

impl UserSession {
    fn new(
        sdk: DigiMe,
        contract: ContractDetails,
        token: Versioned<Tok>,
        desk: Option<Arc<DeskCell>>,
    ) -> Self {
        UserSession {
            inner: Arc::new(SessionInner {
                sdk,
                contract,
                current: RwLock::new(token),
                desk,
                on_change: Mutex::new(None),
                refreshes: AtomicU64::new(0),
            }),
        }
    }

    /// The newest token: store it (a session opened from a store has
    /// already stored it).
    ///
    /// ```no_run
    /// # fn f(session: digime::UserSession) {
    /// let json = serde_json::to_string(&session.user_access_token()).unwrap();
    /// # let _ = json; }
    /// ```
    pub fn user_access_token(&self) -> UserAccessToken {
        Arc::unwrap_or_clone(self.current().token.0)
    }

    /// Sets the hook called once per new token the session adopts, whether
    /// this process refreshed it or another one did (through the store).
    /// Hook calls never overlap, so they see tokens in order. A hook that
    /// panics is logged and does not stop later calls to the hook.
    ///
    /// ```no_run
    /// # fn f(session: digime::UserSession) { session.on_access_token_change(|t| { let _ = t; }); }
    /// ```
    pub fn on_access_token_change(&self, hook: impl FnMut(&UserAccessToken) + Send + 'static) {
        *self
            .inner
            .on_change
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Box::new(hook));
    }

    /// Refreshes now and returns the new token. A refresh of the same token
    /// already running (here, or in another process sharing the store) is
    /// shared rather than repeated.
    ///
    /// ```no_run
    /// # async fn f(session: digime::UserSession) -> digime::Result<()> {
    /// let token = session.refresh().await?;
    /// # let _ = token; Ok(()) }
    /// ```
    pub async fn refresh(&self) -> Result<UserAccessToken> {
        let mut seen = self.current();
        let sdk = &self.inner.sdk;
        let desk = match &self.inner.desk {
            Some(desk) => desk.clone(),
            None => {
                let (desk, version) = sdk.inner.tokens.route(
                    &sdk.transport().client_id(&self.inner.contract),
                    &seen.token.0,
                );
                seen.version = version;
                desk
            }
        };
        let fresh = desk
            .need(sdk.tokens(), &self.inner.contract, seen.clone())
            .await?;
        self.adopt(&seen, &fresh.token);
        match fresh.unstored {
            // The token is refreshed and this session holds it; the store
            // did not take it (the SDK keeps trying in the background).
            Some(err) => Err(err.with_user_access_token(Arc::unwrap_or_clone(fresh.token.token.0))),
            None => Ok(Arc::unwrap_or_clone(self.current().token.0)),
        }
    }

    /// How many new tokens this session has adopted (its refreshes, and
    /// rotations made elsewhere that it took over).
    ///
    /// ```no_run
    /// # fn f(session: digime::UserSession) { assert!(session.refresh_count() <= 1); }
    /// ```
    pub fn refresh_count(&self) -> u64 {
        self.inner.refreshes.load(Ordering::SeqCst)
    }

    /// Waits, up to `within`, until no refresh of the session's token is
    /// under way, its newest token is in its store, and the store's lease
    /// is given back (a process that exits first leaves the lease to run
    /// out, and the next process waits for that). A refresh whose
    /// token the store failed to take goes on in the background (see the
    /// outcomes' `token_store_error()`), as does the verification of a
    /// token digi.me granted while its key set was out of reach: call this
    /// before a short-lived process exits, so that such a token is not lost
    /// with the process. A session without a store has nothing to wait
    /// for.
    ///
    /// Errors: [`ErrorKind::TokenStore`](crate::ErrorKind::TokenStore) when
    /// the new token is still not stored after `within` (the error carries
    /// it, [`Error::user_access_token`], for you to keep), or when a refresh
    /// is still under way ([`Error::refresh_may_have_happened`]).
    ///
    /// ```no_run
    /// # async fn f(session: digime::UserSession) -> digime::Result<()> {
    /// session.flush(std::time::Duration::from_secs(10)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn flush(&self, within: std::time::Duration) -> Result<()> {
        let Some(desk) = &self.inner.desk else {
            return Ok(());
        };
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let (busy, unstored, releasing) = {
                let slot = desk.lock();
                (
                    slot.desk.mid_refresh(),
                    slot.desk.unstored().map(|t| t.0.clone()),
                    slot.releasing > 0,
                )
            };
            let now = tokio::time::Instant::now();
            if (busy || releasing) && now < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
            if !busy && unstored.is_none() {
                // A release still out past the deadline: the lease runs out.
                return Ok(());
            }
            let (store, user) = desk.names();
            let err = Error::token_store(
                store,
                format!("the refreshed token of user `{user}` is not in the store (yet)"),
            );
            return Err(match unstored {
                Some(token) => err.with_user_access_token(Arc::unwrap_or_clone(token)),
                None => err.mark_refresh_may_have_happened(self.user_access_token()),
            });
        }
    }

    /// The SDK the session's calls go through.
    pub(crate) fn sdk(&self) -> &DigiMe {
        &self.inner.sdk
    }

    /// The contract the session's calls are made under.
    pub(crate) fn contract(&self) -> &ContractDetails {
        &self.inner.contract
    }

    /// The desk of the session's store, for a session of a store.
    pub(crate) fn store_desk(&self) -> Option<&Arc<DeskCell>> {
        self.inner.desk.as_ref()
    }

    pub(crate) fn current(&self) -> Versioned<Tok> {
        self.inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces `seen` by `newer` if the session still holds `seen` (or
    /// anything older than `newer`), and tells the hook.
    pub(crate) fn adopt(&self, seen: &Versioned<Tok>, newer: &Versioned<Tok>) {
        // The hook's lock is taken first, so that hook calls come in the
        // order the tokens were adopted.
        let mut hook = self
            .inner
            .on_change
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        {
            let mut current = self
                .inner
                .current
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if current.token == newer.token {
                // The same token, known at a newer version.
                current.version = current.version.max(newer.version);
                return;
            }
            let stale = current.token == seen.token || current.version < newer.version;
            if !stale {
                return;
            }
            *current = newer.clone();
        }
        self.inner.refreshes.fetch_add(1, Ordering::SeqCst);
        if let Some(hook) = hook.as_mut() {
            call_hook(hook, &newer.token.0);
        }
    }
}

impl fmt::Debug for UserSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UserSession");
        d.field("contract", &self.inner.contract)
            .field("token", &self.current().token)
            .field("refreshes", &self.refresh_count());
        if let Some(store) = self.inner.desk.as_ref().and_then(|d| d.store.as_ref()) {
            d.field("store", &store.store.describe())
                .field("user", &store.user);
        }
        d.finish()
    }
}
