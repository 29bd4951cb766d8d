//! [`PostgresTokenStoreBuilder`]: the settings of a PostgreSQL store, and
//! the connection they make.

use super::*;

/// Settings of a [`PostgresTokenStore`] before it connects.
///
/// ```no_run
/// # async fn run() -> digime::Result<()> {
/// let store = digime::store::PostgresTokenStore::builder("postgres://app@db.internal/app")
///     .table("tokens.digime")
///     .max_connections(4)
///     .statement_timeout(std::time::Duration::from_secs(2))
///     .connect()
///     .await?;
/// # let _ = store; Ok(()) }
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until `.connect()` is awaited"]
pub struct PostgresTokenStoreBuilder {
    url: String,
    table: String,
    max_connections: usize,
    create_table: bool,
    connect_timeout: Duration,
    statement_timeout: Duration,
}

/// Names the database as [`TokenStore::describe`] does: never the password.
impl fmt::Debug for PostgresTokenStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = match self.url.parse::<tokio_postgres::Config>() {
            Ok(config) => describe(&config),
            Err(_) => "<not a PostgreSQL URL>".to_owned(),
        };
        f.debug_struct("PostgresTokenStoreBuilder")
            .field("url", &url)
            .field("table", &self.table)
            .field("max_connections", &self.max_connections)
            .field("create_table", &self.create_table)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

impl PostgresTokenStoreBuilder {
    /// The table (optionally `schema.table`); default [`PostgresTokenStore::DEFAULT_TABLE`].
    ///
    /// ```
    /// let b = digime::store::PostgresTokenStore::builder("postgres://localhost/app").table("app_tokens");
    /// # let _ = b;
    /// ```
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// The most connections the pool opens (default 16).
    ///
    /// ```
    /// let b = digime::store::PostgresTokenStore::builder("postgres://localhost/app").max_connections(4);
    /// # let _ = b;
    /// ```
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Whether to create the table when it is missing, and upgrade it when
    /// an earlier version of this crate created it (default `true`).
    ///
    /// ```
    /// let b = digime::store::PostgresTokenStore::builder("postgres://localhost/app").create_table(false);
    /// # let _ = b;
    /// ```
    pub fn create_table(mut self, create: bool) -> Self {
        self.create_table = create;
        self
    }

    /// The longest a connection attempt may take (default 5 s): an
    /// unreachable database fails fast with a clear error. A call waits for
    /// a pooled connection twice as long at most.
    ///
    /// ```
    /// let b = digime::store::PostgresTokenStore::builder("postgres://localhost/app")
    ///     .connect_timeout(std::time::Duration::from_secs(2));
    /// # let _ = b;
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The longest one statement may run (default 5 s), set as the
    /// connections' `statement_timeout`. A call that has its connection
    /// ends at most one second after this, whatever the database or the
    /// network does. Creating or upgrading the table is allowed 60 s.
    ///
    /// ```
    /// let b = digime::store::PostgresTokenStore::builder("postgres://localhost/app")
    ///     .statement_timeout(std::time::Duration::from_secs(2));
    /// # let _ = b;
    /// ```
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        // 0 would mean "no limit" to PostgreSQL.
        self.statement_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Checks the settings, opens the pool and (unless turned off) creates
    /// or upgrades the table.
    ///
    /// Errors: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// naming `token_store` for a URL that does not parse, or `table` for a
    /// table name that is not an identifier;
    /// [`ErrorKind::TokenStore`](crate::ErrorKind::TokenStore) when the
    /// database cannot be reached.
    ///
    /// ```no_run
    /// # async fn run() -> digime::Result<()> {
    /// let store = digime::store::PostgresTokenStore::builder("postgres://localhost/app").connect().await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn connect(self) -> Result<PostgresTokenStore> {
        let mut config = tokio_postgres::Config::from_str(&self.url).map_err(|_| {
            // The URL may hold a password: never quote it.
            Error::invalid_input("token_store", "not a valid postgres:// URL")
        })?;
        config.connect_timeout(self.connect_timeout);
        // Every connection of the pool limits its statements (after the
        // URL's own `options`, if any).
        let limit = format!("-c statement_timeout={}", millis(self.statement_timeout));
        let options = match config.get_options() {
            Some(given) if !given.trim().is_empty() => format!("{given} {limit}"),
            _ => limit,
        };
        config.options(options);
        let name = describe(&config);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool_wait = self.connect_timeout * 2;
        let pool = Pool::builder(manager)
            .max_size(self.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(pool_wait))
            .create_timeout(Some(self.connect_timeout))
            .build()
            .map_err(|e| Error::token_store(&name, format!("cannot build the pool ({e})")))?;
        let store = PostgresTokenStore {
            pool,
            table: self.table,
            name,
            statement_timeout: self.statement_timeout,
            connection_timeout: Some(self.statement_timeout),
            pool_wait,
        };
        store.set_up(self.create_table).await
    }
}

impl PostgresTokenStore {
    /// Settings for a store on the database at `url`
    /// (`postgres://user:password@host:port/database`).
    ///
    /// ```
    /// let b = digime::store::PostgresTokenStore::builder("postgres://localhost/app");
    /// # let _ = b;
    /// ```
    pub fn builder(url: &str) -> PostgresTokenStoreBuilder {
        PostgresTokenStoreBuilder {
            url: url.to_owned(),
            table: PostgresTokenStore::DEFAULT_TABLE.to_owned(),
            max_connections: 16,
            create_table: true,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
        }
    }

    /// Connects with the defaults. See [`builder`](Self::builder).
    ///
    /// ```no_run
    /// # async fn run() -> digime::Result<()> {
    /// let store = digime::store::PostgresTokenStore::connect("postgres://app@localhost/app").await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self> {
        Self::builder(url).connect().await
    }
}
