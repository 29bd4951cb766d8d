//! The web app, as a module that `main.rs` runs and the browser test
//! (`tests/it/browser/mod.rs`) includes with `#[path]`: its settings ([`Config`]),
//! [`start`], and the routes, one module each.
//!
//! | route | module |
//! | --- | --- |
//! | `GET /`, `GET /connect`, `GET /callback`, `GET /reauthorize`, `GET /reauthorize/start` | `auth` |
//! | `GET /upload`, `POST /upload` (the streamed upload) | `upload` |
//! | `GET /provider`, `POST /provider` (a FHIR bundle) | `provider` |
//! | `GET /library` (what the sandbox stored) | `library` |
//!
//! `sessions` keeps each browser's session (cookie, pending authorization);
//! the tokens are in a token store, keyed by the session id ([`App::user`]);
//! `page` renders the HTML and the error pages.

mod auth;
mod library;
mod page;
mod provider;
mod sessions;
mod upload;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use digime::store::{MemoryTokenStore, TokenStore};
use digime::{ContractDetails, DigiMe, UserSession};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use page::PageError;
use sessions::Sessions;

/// `--port`'s default.
pub const DEFAULT_PORT: u16 = 3000;
/// `--max-upload`'s default: 1 GiB.
pub const DEFAULT_MAX_UPLOAD: u64 = 1 << 30;

/// Any error of start-up.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the app runs with.
pub struct Config {
    /// The port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The largest file accepted, in bytes.
    pub max_upload: u64,
    /// Which digi.me to talk to.
    pub backend: Backend,
}

/// Which digi.me the app talks to.
pub enum Backend {
    /// An in-process sandbox with a contract made at start. It keeps the
    /// bytes of each library push up to `keep_bytes` (its size and SHA-256
    /// always).
    #[cfg(feature = "sandbox")]
    Sandbox { keep_bytes: u64 },
    /// A real digi.me, or any server that speaks its API.
    Service {
        /// `None`: production.
        base_url: Option<String>,
        app_id: String,
        contract_id: String,
        /// The contract's private key, PEM.
        key_file: PathBuf,
    },
}

/// What every handler shares.
pub(crate) struct App {
    sdk: DigiMe,
    contract: ContractDetails,
    sessions: Sessions,
    /// The users' tokens, keyed by browser session id. In memory here; a
    /// fleet of app servers shares one (`FileTokenStore`, `PostgresTokenStore`),
    /// and its lease makes one refresh per rotation across all of them.
    tokens: Arc<dyn TokenStore>,
    max_upload: u64,
    /// `http://127.0.0.1:PORT/callback`: the authorize flow's redirect.
    callback_url: String,
    #[cfg(feature = "sandbox")]
    sandbox: Option<digime::sandbox::Sandbox>,
}

/// The running app: its URL, and how to stop it.
pub struct Running {
    url: String,
    #[cfg(feature = "sandbox")]
    sandbox: Option<digime::sandbox::Sandbox>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The in-process sandbox, when the app runs on one.
    #[cfg(feature = "sandbox")]
    pub fn sandbox(&self) -> Option<&digime::sandbox::Sandbox> {
        self.sandbox.as_ref()
    }

    /// Stops accepting, lets the requests in flight finish, and stops the
    /// sandbox.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        if let Err(err) = self.task.await.unwrap_or(Ok(())) {
            tracing::warn!(error = %err, "web_push server ended with an error");
        }
        #[cfg(feature = "sandbox")]
        if let Some(sandbox) = self.sandbox {
            sandbox.shutdown().await;
        }
    }
}

/// Binds 127.0.0.1:`port`, connects to the backend and serves. When it
/// returns, connections are accepted.
pub async fn start(config: Config) -> Result<Running, BoxError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", config.port))?;
    let addr: SocketAddr = listener.local_addr()?;
    let url = format!("http://{addr}/");
    let backend = connect(config.backend).await?;
    let app = Arc::new(App {
        sdk: backend.sdk,
        contract: backend.contract,
        sessions: Sessions::default(),
        tokens: Arc::new(MemoryTokenStore::new()),
        max_upload: config.max_upload,
        callback_url: format!("{url}callback"),
        #[cfg(feature = "sandbox")]
        sandbox: backend.sandbox.clone(),
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let server = axum::serve(listener, router(app)).with_graceful_shutdown(async move {
        let _ = stopped.await;
    });
    let task = tokio::spawn(async move { server.await });
    Ok(Running {
        url,
        #[cfg(feature = "sandbox")]
        sandbox: backend.sandbox,
        stop,
        task,
    })
}

/// A connected browser's user.
pub(crate) struct User {
    /// The user's session on the token store: pushes and reads go through
    /// it, and a refresh goes through the store's lease.
    session: UserSession,
    /// The account the user onboarded, from the callback.
    account_reference: Option<String>,
}

impl App {
    /// The user of the browser whose cookies are `jar`, or the page that
    /// sends it to connect.
    async fn user(&self, jar: &CookieJar) -> Result<User, PageError> {
        let (id, connected) = self
            .sessions
            .connected(jar)
            .ok_or_else(PageError::not_connected)?;
        let session = self
            .sdk
            .session_from_store(&self.contract, self.tokens.clone(), id)
            .await
            .map_err(|err| PageError::from_sdk(&err))?;
        Ok(User {
            session,
            account_reference: connected.account_reference,
        })
    }
}

impl User {
    /// digi.me's id of the user, for the pages.
    fn id(&self) -> String {
        self.session
            .user_access_token()
            .user_id()
            .unwrap_or("-")
            .to_string()
    }
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(auth::home))
        .route("/connect", get(auth::connect))
        .route("/callback", get(auth::callback))
        .route("/reauthorize", get(auth::reauthorize))
        .route("/reauthorize/start", get(auth::reauthorize_start))
        .route("/upload", get(upload::form).post(upload::push))
        .route("/provider", get(provider::form).post(provider::push))
        .route("/library", get(library::page))
        .fallback(page::not_found)
        .with_state(app)
}

struct Connected {
    sdk: DigiMe,
    contract: ContractDetails,
    #[cfg(feature = "sandbox")]
    sandbox: Option<digime::sandbox::Sandbox>,
}

async fn connect(backend: Backend) -> Result<Connected, BoxError> {
    match backend {
        #[cfg(feature = "sandbox")]
        Backend::Sandbox { keep_bytes } => {
            let sandbox = digime::sandbox::Sandbox::builder()
                .keep_bytes_up_to(keep_bytes)
                .start()
                .await?;
            let contract = sandbox.generate_contract("web-push", "web-push-write")?;
            let sdk = DigiMe::builder()
                .application_id("web-push")
                .base_url(&sandbox.base_url())
                .build()?;
            tracing::info!(base_url = %sandbox.base_url(), "talking to the in-process sandbox");
            Ok(Connected {
                sdk,
                contract,
                sandbox: Some(sandbox),
            })
        }
        Backend::Service {
            base_url,
            app_id,
            contract_id,
            key_file,
        } => {
            let pem = std::fs::read_to_string(&key_file)
                .map_err(|e| format!("cannot read the key file {}: {e}", key_file.display()))?;
            let contract = ContractDetails::new(contract_id, pem)
                .map_err(|e| format!("the key file {} is not usable: {e}", key_file.display()))?;
            let mut builder = DigiMe::builder().application_id(app_id);
            if let Some(base_url) = &base_url {
                builder = builder.base_url(base_url);
            }
            let sdk = builder.build()?;
            tracing::info!(base_url = %sdk.base_url(), "talking to digi.me");
            Ok(Connected {
                sdk,
                contract,
                #[cfg(feature = "sandbox")]
                sandbox: None,
            })
        }
    }
}
