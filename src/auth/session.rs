//! [`UserSession`]: one user's token, shared by every call made for them,
//! with single-flight refresh.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use super::refresh::{OnTokenChange, TokenState, refresh};
use crate::DigiMe;
use crate::calls::AccountsOutcome;
use crate::contract::ContractDetails;
use crate::error::{Error, Result, ServerError};
use crate::push::PushBuilder;
use crate::token::UserAccessToken;

/// One user's token, shared by every call made for them.
///
/// Concurrent calls through a session share one refresh: when the access
/// token expires under 200 pushes in flight, digi.me sees one refresh call,
/// and the session's hook fires once. The session always holds the newest
/// token; [`user_access_token`](Self::user_access_token) hands it out for
/// storage.
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
    current: RwLock<Current>,
    /// Held while one refresh runs; the others wait for it and reuse its result.
    refresh_lock: tokio::sync::Mutex<()>,
    on_change: Mutex<Option<OnTokenChange>>,
    refreshes: AtomicU64,
}

struct Current {
    token: Arc<UserAccessToken>,
    generation: u64,
    /// Set when the refresh token was refused: every later call fails the
    /// same way without asking digi.me again.
    dead: Option<ServerError>,
}

impl DigiMe {
    /// A shared session for one user. See [`UserSession`].
    ///
    /// ```no_run
    /// # fn f(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) {
    /// let session = sdk.session(&contract, token);
    /// # let _ = session; }
    /// ```
    pub fn session(&self, contract: &ContractDetails, token: UserAccessToken) -> UserSession {
        UserSession {
            inner: Arc::new(SessionInner {
                sdk: self.clone(),
                contract: contract.clone(),
                current: RwLock::new(Current {
                    token: Arc::new(token),
                    generation: 0,
                    dead: None,
                }),
                refresh_lock: tokio::sync::Mutex::new(()),
                on_change: Mutex::new(None),
                refreshes: AtomicU64::new(0),
            }),
        }
    }
}

impl UserSession {
    /// The newest token: store it.
    ///
    /// ```no_run
    /// # fn f(session: digime::UserSession) {
    /// let json = serde_json::to_string(&session.user_access_token()).unwrap();
    /// # let _ = json; }
    /// ```
    pub fn user_access_token(&self) -> UserAccessToken {
        Arc::unwrap_or_clone(self.current().0)
    }

    /// Sets the hook called once per refresh, with the new token. It runs
    /// while the session holds its refresh lock, so it sees refreshes in
    /// order; it must not call `on_access_token_change` itself.
    ///
    /// ```no_run
    /// # fn f(session: digime::UserSession) { session.on_access_token_change(|t| { let _ = t; }); }
    /// ```
    pub fn on_access_token_change(&self, hook: impl FnMut(&UserAccessToken) + Send + 'static) {
        if let Ok(mut slot) = self.inner.on_change.lock() {
            *slot = Some(Box::new(hook));
        }
    }

    /// Starts a push for this user, with the session's token.
    ///
    /// ```no_run
    /// # fn f(session: digime::UserSession) { let _ = session.push().library(); }
    /// ```
    pub fn push(&self) -> PushBuilder {
        PushBuilder::new(
            self.inner.sdk.clone(),
            self.inner.contract.clone(),
            TokenState::shared(self.clone()),
        )
    }

    /// Reads the user's accounts with the session's token.
    ///
    /// ```no_run
    /// # async fn f(session: digime::UserSession) -> digime::Result<()> {
    /// let accounts = session.read_accounts().await?;
    /// # let _ = accounts; Ok(()) }
    /// ```
    pub async fn read_accounts(&self) -> Result<AccountsOutcome> {
        self.inner
            .sdk
            .read_accounts_with(&self.inner.contract, TokenState::shared(self.clone()))
            .await
    }

    /// Refreshes now (sharing a refresh already running), and returns the
    /// new token.
    ///
    /// ```no_run
    /// # async fn f(session: digime::UserSession) -> digime::Result<()> {
    /// let token = session.refresh().await?;
    /// # let _ = token; Ok(()) }
    /// ```
    pub async fn refresh(&self) -> Result<UserAccessToken> {
        let (_, generation) = self.current();
        self.refresh_from(generation).await?;
        Ok(self.user_access_token())
    }

    /// How many refresh calls this session has made.
    ///
    /// ```no_run
    /// # fn f(session: digime::UserSession) { assert!(session.refresh_count() <= 1); }
    /// ```
    pub fn refresh_count(&self) -> u64 {
        self.inner.refreshes.load(Ordering::SeqCst)
    }

    /// The SDK the session's calls go through.
    pub(crate) fn sdk(&self) -> &DigiMe {
        &self.inner.sdk
    }

    /// The contract the session's calls are made under.
    pub(crate) fn contract(&self) -> &ContractDetails {
        &self.inner.contract
    }

    pub(crate) fn current(&self) -> (Arc<UserAccessToken>, u64) {
        let c = self
            .inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        (c.token.clone(), c.generation)
    }

    /// Refreshes unless someone already did since generation `seen`.
    /// Returns the new token when this call ran the refresh.
    pub(crate) async fn refresh_from(&self, seen: u64) -> Result<Option<UserAccessToken>> {
        let _running = self.inner.refresh_lock.lock().await;
        let old = {
            let current = self
                .inner
                .current
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if current.generation != seen {
                return Ok(None);
            }
            if let Some(dead) = &current.dead {
                return Err(Error::reauthorization_required(dead.clone()));
            }
            current.token.clone()
        };
        match refresh(&self.inner.sdk, &self.inner.contract, &old).await {
            Ok(fresh) => {
                self.inner.refreshes.fetch_add(1, Ordering::SeqCst);
                {
                    // A poisoned lock still holds a usable token: never drop
                    // the new one (the old refresh token is spent).
                    let mut current = self
                        .inner
                        .current
                        .write()
                        .unwrap_or_else(PoisonError::into_inner);
                    current.token = Arc::new(fresh.clone());
                    current.generation += 1;
                }
                if let Ok(mut hook) = self.inner.on_change.lock()
                    && let Some(hook) = hook.as_mut()
                {
                    hook(&fresh);
                }
                Ok(Some(fresh))
            }
            Err(err) => {
                if let (true, Some(server)) = (err.is_reauthorization_required(), err.server()) {
                    let mut current = self
                        .inner
                        .current
                        .write()
                        .unwrap_or_else(PoisonError::into_inner);
                    current.dead = Some(server.clone());
                }
                Err(err)
            }
        }
    }
}

impl fmt::Debug for UserSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (token, generation) = self.current();
        f.debug_struct("UserSession")
            .field("contract", &self.inner.contract)
            .field("token", &token)
            .field("generation", &generation)
            .field("refreshes", &self.refresh_count())
            .finish()
    }
}
