//! A local digi.me API for tests and development. **Not for production.**
//!
//! The sandbox is an HTTP server on `127.0.0.1` that implements every
//! endpoint of the digi.me write path and makes the same checks the real
//! service makes: PS512 Bearer JWTs verified with the registered contract's
//! key, `client_id`, nonce replay, timestamp window, access-token validity,
//! the FileDescriptor JWT and its schema, PKCE, single-use codes and
//! rotating refresh tokens. It keeps everything in memory: nothing is
//! persisted, nothing is protected, and its keys are generated at start.
//!
//! Its URLs mirror production: the base URL is `http://127.0.0.1:PORT/v1.7/`
//! and the onboard URL is `http://127.0.0.1:PORT/apps/saas/`.
//!
//! It is built on axum, served by its own `hyper_util` accept loop so that a
//! fault can close a connection without answering. It is controlled in
//! process with [`Sandbox`], or over HTTP under `/sandbox/...` (see
//! the [sandbox guide](crate::guide::sandbox)), and runs standalone as the `digime-sandbox` binary.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> digime::Result<()> {
//! use digime::sandbox::Sandbox;
//!
//! let sandbox = Sandbox::start().await?;
//! let contract = sandbox.generate_contract("my-app", "my-contract")?;
//! sandbox.create_user("user-1", &["acc-1"])?;
//! let token = sandbox.mint_token("my-app", "my-contract", "user-1")?;
//!
//! let sdk = digime::DigiMe::builder()
//!     .application_id("my-app")
//!     .base_url(&sandbox.base_url())
//!     .build()?;
//! # let _ = (sdk, contract, token);
//! // ... push with `sdk`, then check what arrived:
//! for entry in sandbox.library("user-1") {
//!     println!("{} {} {}", entry.mime_type, entry.size, entry.sha256);
//! }
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod control;
mod drain;
mod model;
mod routes;
mod server;
mod state;
mod util;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use drain::{DEFAULT_DRAIN_BYTES, DEFAULT_DRAIN_TIME};
pub use model::{Fault, FaultBody, LibraryEntry, ProviderEntry, RequestRecord};
pub use util::generate_private_key_pem;

use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::token::UserAccessToken;
use drain::DrainLimits;
use state::{AccessType, Shared};

/// The default cap on the bytes kept per library entry: 16 MiB.
pub const DEFAULT_KEEP_BYTES: u64 = 16 << 20;

/// A running sandbox. Cheap to clone (an `Arc`); `Send + Sync`.
///
/// The server stops at [`shutdown`](Self::shutdown), or when the last clone
/// is dropped.
///
/// ```no_run
/// # #[tokio::main] async fn main() -> digime::Result<()> {
/// let sandbox = digime::sandbox::Sandbox::start().await?;
/// assert!(sandbox.base_url().ends_with("/v1.7/"));
/// sandbox.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(stop) = self
            .stop
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = stop.send(());
        }
    }
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.inner.addr)
            .field("base_url", &self.inner.shared.base_url)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Sandbox`] before it starts.
///
/// ```no_run
/// # #[tokio::main] async fn main() -> digime::Result<()> {
/// let sandbox = digime::sandbox::Sandbox::builder()
///     .port(8080)
///     .keep_bytes_up_to(64 << 20)
///     .start()
///     .await?;
/// # let _ = sandbox; Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `.start()` is awaited"]
pub struct SandboxBuilder {
    port: u16,
    keep_bytes: u64,
    drain: DrainLimits,
}

impl SandboxBuilder {
    /// The port on 127.0.0.1; `0` (the default) picks a free one.
    ///
    /// ```
    /// let builder = digime::sandbox::Sandbox::builder().port(0);
    /// # let _ = builder;
    /// ```
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Keeps the bytes of each library push whose size is at most `cap`
    /// ([`LibraryEntry::bytes`]); larger pushes keep only their size and
    /// SHA-256. Default: [`DEFAULT_KEEP_BYTES`] (16 MiB).
    ///
    /// ```
    /// let builder = digime::sandbox::Sandbox::builder().keep_bytes_up_to(0); // never keep bytes
    /// # let _ = builder;
    /// ```
    pub fn keep_bytes_up_to(mut self, cap: u64) -> Self {
        self.keep_bytes = cap;
        self
    }

    /// How much of a request body the sandbox reads (and discards) before it
    /// answers with an error or an injected fault: at most `max_bytes`, for
    /// at most `max_time`. Defaults: [`DEFAULT_DRAIN_BYTES`] (64 MiB) and
    /// [`DEFAULT_DRAIN_TIME`] (30 s).
    ///
    /// A client that writes its whole body before it reads the answer (the
    /// official TypeScript SDK does) then sees the answer rather than a
    /// broken pipe. Past either bound the sandbox stops reading, answers with
    /// `Connection: close` and closes the connection, as a proxy would; a
    /// client still writing may then see a reset instead of the answer.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = digime::sandbox::Sandbox::builder().drain_limits(1 << 20, Duration::from_secs(5));
    /// # let _ = builder;
    /// ```
    pub fn drain_limits(mut self, max_bytes: u64, max_time: Duration) -> Self {
        self.drain = DrainLimits {
            max_bytes,
            max_time,
        };
        self
    }

    /// Binds the port, generates the sandbox's signing key and starts
    /// serving on the current Tokio runtime.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> digime::Result<()> {
    /// let sandbox = digime::sandbox::Sandbox::builder().start().await?;
    /// # let _ = sandbox; Ok(()) }
    /// ```
    pub async fn start(self) -> Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .map_err(|e| Error::transport(format!("binding 127.0.0.1:{}", self.port), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::transport("reading the sandbox's address", e))?;
        let base_url = format!("http://{addr}/v1.7/");
        let onboard_url = format!("http://{addr}/apps/saas/");
        let shared = Arc::new(Shared::new(
            base_url,
            onboard_url,
            self.keep_bytes,
            self.drain,
        )?);
        let router = routes::router(shared.clone());
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(server::serve(listener, router, stop_rx));
        tracing::info!(%addr, "digime sandbox listening (not for production)");
        Ok(Sandbox {
            inner: Arc::new(Inner {
                shared,
                addr,
                stop: Mutex::new(Some(stop_tx)),
                task: Mutex::new(Some(task)),
            }),
        })
    }
}

impl Sandbox {
    /// Starts a sandbox on 127.0.0.1 with an ephemeral port and the
    /// defaults.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> digime::Result<()> {
    /// let sandbox = digime::sandbox::Sandbox::start().await?;
    /// println!("{}", sandbox.base_url());
    /// # Ok(()) }
    /// ```
    pub async fn start() -> Result<Sandbox> {
        Self::builder().start().await
    }

    /// Configures a sandbox: port, byte cap.
    ///
    /// ```
    /// let builder = digime::sandbox::Sandbox::builder().port(8080);
    /// # let _ = builder;
    /// ```
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            port: 0,
            keep_bytes: DEFAULT_KEEP_BYTES,
            drain: DrainLimits::default(),
        }
    }

    /// The base URL, `http://127.0.0.1:PORT/v1.7/`: give it to
    /// `DigiMe::builder().base_url(..)`.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) {
    /// assert!(sandbox.base_url().starts_with("http://127.0.0.1:"));
    /// # }
    /// ```
    pub fn base_url(&self) -> String {
        self.inner.shared.base_url.clone()
    }

    /// The onboard URL, `http://127.0.0.1:PORT/apps/saas/`.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) {
    /// assert!(sandbox.onboard_url().ends_with("/apps/saas/"));
    /// # }
    /// ```
    pub fn onboard_url(&self) -> String {
        self.inner.shared.onboard_url.clone()
    }

    /// The address the sandbox listens on.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) {
    /// println!("port {}", sandbox.addr().port());
    /// # }
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Registers a write contract: `client_id` `"{app_id}_{contract_id}"`,
    /// verified with `public_key_pem` (`BEGIN PUBLIC KEY` or
    /// `BEGIN RSA PUBLIC KEY`; a private key PEM is accepted too and only its
    /// public half is kept). Registering the same pair again replaces it.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox, contract: digime::ContractDetails) -> digime::Result<()> {
    /// sandbox.register_contract("my-app", contract.contract_id(), &contract.public_key_pem())?;
    /// # Ok(()) }
    /// ```
    pub fn register_contract(
        &self,
        app_id: &str,
        contract_id: &str,
        public_key_pem: &str,
    ) -> Result<()> {
        self.inner
            .shared
            .register(app_id, contract_id, public_key_pem, AccessType::Write)
            .map(|_| ())
    }

    /// Registers a read contract (`accessType` `"r"`): its pushes get
    /// 403 `InsufficientScope`.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox, contract: digime::ContractDetails) -> digime::Result<()> {
    /// sandbox.register_read_contract("my-app", "read-only", &contract.public_key_pem())?;
    /// # Ok(()) }
    /// ```
    pub fn register_read_contract(
        &self,
        app_id: &str,
        contract_id: &str,
        public_key_pem: &str,
    ) -> Result<()> {
        self.inner
            .shared
            .register(app_id, contract_id, public_key_pem, AccessType::Read)
            .map(|_| ())
    }

    /// Generates an RSA-2048 key pair, registers the write contract and
    /// returns its [`ContractDetails`] (with the private key).
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) -> digime::Result<()> {
    /// let contract = sandbox.generate_contract("my-app", "my-contract")?;
    /// assert_eq!(contract.contract_id(), "my-contract");
    /// # Ok(()) }
    /// ```
    pub fn generate_contract(&self, app_id: &str, contract_id: &str) -> Result<ContractDetails> {
        crate::validate::identifier("contract_id", contract_id)?;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| Error::crypto("generating an RSA key"))?;
        let contract = ContractDetails::from_parts(
            contract_id.to_string(),
            crate::signer::SigningKey::from_pair(pair),
        );
        self.register_contract(app_id, contract_id, &contract.public_key_pem())?;
        Ok(contract)
    }

    /// Creates a user with accounts `account_ids` (each gets the
    /// `reference` `"ref-{id}"`). Calling it again for the same user adds
    /// the accounts it does not have yet.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) -> digime::Result<()> {
    /// sandbox.create_user("user-1", &["acc-1", "acc-2"])?;
    /// assert_eq!(sandbox.accounts("user-1")[0].reference.as_deref(), Some("ref-acc-1"));
    /// # Ok(()) }
    /// ```
    pub fn create_user(&self, user_id: &str, account_ids: &[&str]) -> Result<()> {
        let ids: Vec<String> = account_ids.iter().map(|s| s.to_string()).collect();
        self.inner.shared.create_user(user_id, &ids)
    }

    /// Issues a token for `user_id` under the contract directly, without the
    /// authorize flow: the fast path for tests.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) -> digime::Result<()> {
    /// let token = sandbox.mint_token("my-app", "my-contract", "user-1")?;
    /// assert_eq!(token.user_id(), Some("user-1"));
    /// # Ok(()) }
    /// ```
    pub fn mint_token(
        &self,
        app_id: &str,
        contract_id: &str,
        user_id: &str,
    ) -> Result<UserAccessToken> {
        self.inner.shared.mint(app_id, contract_id, user_id)
    }

    /// The user's library, oldest first (empty for an unknown user).
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) {
    /// let total: u64 = sandbox.library("user-1").iter().map(|e| e.size).sum();
    /// # let _ = total; }
    /// ```
    pub fn library(&self, user_id: &str) -> Vec<LibraryEntry> {
        self.inner.shared.library(user_id)
    }

    /// The user's provider (FHIR) pushes, oldest first.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) {
    /// assert!(sandbox.provider_pushes("user-1").iter().all(|p| p.standard == "fhir"));
    /// # }
    /// ```
    pub fn provider_pushes(&self, user_id: &str) -> Vec<ProviderEntry> {
        self.inner.shared.provider_pushes(user_id)
    }

    /// The user's accounts, as `permission-access/accounts` returns them,
    /// read into the SDK's own model.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) {
    /// for account in sandbox.accounts("user-1") {
    ///     println!("{} {:?}", account.id, account.reference);
    /// }
    /// # }
    /// ```
    pub fn accounts(&self, user_id: &str) -> Vec<crate::models::ServiceAccount> {
        self.inner.shared.accounts(user_id)
    }

    /// Makes every access token of the user expire now: the next call made
    /// with one gets 401 `InvalidToken`.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) {
    /// sandbox.expire_access_token("user-1");
    /// # }
    /// ```
    pub fn expire_access_token(&self, user_id: &str) {
        self.inner.shared.expire_access(user_id);
    }

    /// Makes every refresh token of the user expire now: the next refresh
    /// gets 401 `InvalidToken`.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) {
    /// sandbox.expire_refresh_token("user-1");
    /// # }
    /// ```
    pub fn expire_refresh_token(&self, user_id: &str) {
        self.inner.shared.expire_refresh(user_id);
    }

    /// The lifetimes of tokens issued from now on (defaults: 1 hour and 30
    /// days).
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) {
    /// use std::time::Duration;
    /// sandbox.set_token_lifetimes(Duration::from_secs(2), Duration::from_secs(3600));
    /// # }
    /// ```
    pub fn set_token_lifetimes(&self, access: Duration, refresh: Duration) {
        self.inner.shared.set_lifetimes(access, refresh);
    }

    /// Queues a fault for the next matching requests (see [`Fault`]). A
    /// fault with `count` 0 does nothing.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) {
    /// use digime::sandbox::Fault;
    /// sandbox.inject_fault(Fault::with_status("permission-access/import", 503).with_retry_after(1));
    /// # }
    /// ```
    pub fn inject_fault(&self, fault: Fault) {
        self.inner.shared.inject_fault(fault);
    }

    /// Removes every pending fault.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) {
    /// sandbox.clear_faults();
    /// # }
    /// ```
    pub fn clear_faults(&self) {
        self.inner.shared.clear_faults();
    }

    /// With `Some(code)`, the onboard page redirects with
    /// `success=false&errorCode=<code>` instead of consenting; `None` restores
    /// consent.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) {
    /// sandbox.set_consent_failure(Some("ServiceAuthorizationError".to_string()));
    /// # }
    /// ```
    pub fn set_consent_failure(&self, error_code: Option<String>) {
        self.inner.shared.set_consent_failure(error_code);
    }

    /// Every request received so far (the last 100,000), oldest first.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) {
    /// for r in sandbox.requests() { println!("{} {} -> {} {:?}", r.method, r.path, r.status, r.code); }
    /// # }
    /// ```
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.inner.shared.requests()
    }

    /// How many refresh grants succeeded.
    ///
    /// ```no_run
    /// # fn f(sandbox: digime::sandbox::Sandbox) {
    /// assert_eq!(sandbox.refresh_count(), 0);
    /// # }
    /// ```
    pub fn refresh_count(&self) -> usize {
        self.inner.shared.refresh_count()
    }

    /// Stops accepting connections and waits (up to 5 seconds) for open
    /// ones to finish. Later calls do nothing.
    ///
    /// ```no_run
    /// # async fn f(sandbox: digime::sandbox::Sandbox) {
    /// sandbox.shutdown().await;
    /// # }
    /// ```
    pub async fn shutdown(&self) {
        if let Some(stop) = take(&self.inner.stop) {
            let _ = stop.send(());
        }
        if let Some(task) = take(&self.inner.task) {
            let _ = task.await;
        }
    }
}

/// Takes what `slot` holds, also after a panic elsewhere poisoned it.
fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}
