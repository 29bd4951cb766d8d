//! [`PostgresTokenStore`]: the tokens of a fleet in PostgreSQL.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::future::BoxFuture;
use tokio_postgres::NoTls;
use tokio_postgres::config::Host;

use super::{Lease, LeaseAttempt, TokenStore};
use crate::error::{Error, Result};
use crate::token::UserAccessToken;

/// Users' tokens in a PostgreSQL table, shared by a fleet of processes and
/// hosts (feature `postgres`).
///
/// One row per user:
///
/// ```sql
/// CREATE TABLE IF NOT EXISTS digime_tokens (
///     user_key    text        PRIMARY KEY,
///     token       jsonb,                    -- the TypeScript SDK's JSON shape
///     lease_id    text,                     -- who holds the refresh lease
///     lease_until timestamptz,              -- when it expires (database clock)
///     updated_at  timestamptz NOT NULL DEFAULT now()
/// );
/// ```
///
/// The table is created if missing when the store connects (under an
/// advisory lock, so that a fleet starting at once creates it once), or
/// create it yourself with [`migration_sql`](Self::migration_sql) and turn
/// that off with [`create_table(false)`](PostgresTokenStoreBuilder::create_table).
///
/// **The lease is a column, not a row lock.** A row lock would hold a
/// connection and an open transaction for the whole refresh call to
/// digi.me; the lease column holds nothing while the refresh runs, works
/// through transaction-pooling proxies, and expires by the database's clock
/// (one clock for the whole fleet) when its holder dies. Taking it is one
/// `INSERT … ON CONFLICT DO UPDATE … WHERE` statement, which the database
/// serialises per row; committing the new token checks the lease id and
/// clears it in the same `UPDATE`. Every write is one statement: atomic.
///
/// Connections come from a [deadpool](deadpool_postgres) pool (16 by
/// default). TLS is optional: [`connect`](Self::connect) uses none (a
/// database on the same host or private network); for TLS, build a pool
/// with the connector of your choice and use [`from_pool`](Self::from_pool).
///
/// ```no_run
/// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails) -> digime::Result<()> {
/// use std::sync::Arc;
/// use digime::store::PostgresTokenStore;
/// let store = Arc::new(PostgresTokenStore::connect("postgres://app@db.internal/app").await?);
/// let session = sdk.session_from_store(&contract, store, "patient-42").await?;
/// # let _ = session; Ok(()) }
/// ```
pub struct PostgresTokenStore {
    pool: Pool,
    table: String,
    name: String,
}

impl fmt::Debug for PostgresTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresTokenStore")
            .field("name", &self.name)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

/// Settings of a [`PostgresTokenStore`] before it connects.
///
/// ```no_run
/// # async fn run() -> digime::Result<()> {
/// let store = digime::store::PostgresTokenStore::builder("postgres://app@db.internal/app")
///     .table("tokens.digime")
///     .max_connections(4)
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

    /// Whether to create the table when it is missing (default `true`).
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
    /// unreachable database fails fast with a clear error.
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

    /// Checks the settings, opens the pool and (unless turned off) creates
    /// the table.
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
        let name = describe(&config);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.connect_timeout * 2))
            .create_timeout(Some(self.connect_timeout))
            .build()
            .map_err(|e| Error::token_store(&name, format!("cannot build the pool ({e})")))?;
        PostgresTokenStore::with_pool(pool, name, self.table, self.create_table).await
    }
}

impl PostgresTokenStore {
    /// The table a store uses unless told otherwise: `digime_tokens`.
    ///
    /// ```
    /// assert_eq!(digime::store::PostgresTokenStore::DEFAULT_TABLE, "digime_tokens");
    /// ```
    pub const DEFAULT_TABLE: &'static str = "digime_tokens";

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
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// A store on a pool you built (for TLS, or your own pool settings),
    /// using [`DEFAULT_TABLE`](Self::DEFAULT_TABLE), created if missing. `name` names the store in
    /// errors (never put a password in it).
    ///
    /// ```no_run
    /// # async fn run(pool: digime::store::deadpool_postgres::Pool) -> digime::Result<()> {
    /// let store = digime::store::PostgresTokenStore::from_pool(pool, "postgres://db.internal/app").await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn from_pool(pool: Pool, name: impl Into<String>) -> Result<Self> {
        Self::with_pool(
            pool,
            name.into(),
            PostgresTokenStore::DEFAULT_TABLE.to_owned(),
            true,
        )
        .await
    }

    async fn with_pool(pool: Pool, name: String, table: String, create: bool) -> Result<Self> {
        check_table_name(&table)?;
        let store = PostgresTokenStore { pool, table, name };
        if create {
            store.create_table().await?;
        }
        Ok(store)
    }

    /// The `CREATE TABLE` statement for `table`, for your own migrations.
    ///
    /// ```
    /// let sql = digime::store::PostgresTokenStore::migration_sql("digime_tokens");
    /// assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS digime_tokens"));
    /// ```
    pub fn migration_sql(table: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
             user_key text PRIMARY KEY, \
             token jsonb, \
             lease_id text, \
             lease_until timestamptz, \
             updated_at timestamptz NOT NULL DEFAULT now())"
        )
    }

    fn error(&self, what: impl fmt::Display) -> Error {
        Error::token_store(&self.name, what)
    }

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool
            .get()
            .await
            .map_err(|e| self.error(format!("cannot connect ({e})")))
    }

    async fn create_table(&self) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.query_error("creating the table", &e))?;
        // Concurrent `CREATE TABLE IF NOT EXISTS` can still collide in the
        // catalog: one creator at a time.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('digime_tokens_create'))",
            &[],
        )
        .await
        .map_err(|e| self.query_error("creating the table", &e))?;
        tx.batch_execute(&Self::migration_sql(&self.table))
            .await
            .map_err(|e| self.query_error("creating the table", &e))?;
        tx.commit()
            .await
            .map_err(|e| self.query_error("creating the table", &e))
    }

    /// A query failure in words that never quote a parameter: the database's
    /// code and message for a database error, else the driver's own words.
    fn query_error(&self, what: &str, e: &tokio_postgres::Error) -> Error {
        match e.as_db_error() {
            Some(db) => self.error(format!(
                "{what} failed ({}: {})",
                db.code().code(),
                db.message()
            )),
            None => self.error(format!("{what} failed ({e})")),
        }
    }

    /// A transaction for the lease's own writes (taking and releasing it),
    /// whose commit does not wait for the write-ahead log to reach the disk
    /// (`synchronous_commit` off for this transaction only). A lease is
    /// transient: a database crash that forgets one only ends it early, like
    /// an expiry. Tokens are written with a durable commit, always.
    async fn lease_transaction<'c>(
        &self,
        client: &'c mut deadpool_postgres::Object,
        what: &str,
    ) -> Result<deadpool_postgres::Transaction<'c>> {
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.query_error(what, &e))?;
        tx.batch_execute("SET LOCAL synchronous_commit TO OFF")
            .await
            .map_err(|e| self.query_error(what, &e))?;
        Ok(tx)
    }

    fn parse(&self, value: Option<serde_json::Value>) -> Result<Option<UserAccessToken>> {
        value
            .map(|v| {
                serde_json::from_value(v).map_err(|e| {
                    self.error(format!(
                        "a stored token is not a digi.me user access token ({:?} error)",
                        e.classify()
                    ))
                })
            })
            .transpose()
    }

    fn encode(&self, token: &UserAccessToken) -> Result<serde_json::Value> {
        serde_json::to_value(token).map_err(|e| {
            self.error(format!(
                "cannot encode the token ({:?} error)",
                e.classify()
            ))
        })
    }
}

impl TokenStore for PostgresTokenStore {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Option<UserAccessToken>>> {
        Box::pin(async move {
            let client = self.client().await?;
            let sql = format!("SELECT token FROM {} WHERE user_key = $1", self.table);
            let row = client
                .query_opt(&sql, &[&user])
                .await
                .map_err(|e| self.query_error("reading a token", &e))?;
            self.parse(row.and_then(|r| r.get::<_, Option<serde_json::Value>>(0)))
        })
    }

    fn save<'a>(&'a self, user: &'a str, token: &'a UserAccessToken) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let value = self.encode(token)?;
            let client = self.client().await?;
            let sql = format!(
                "INSERT INTO {t} (user_key, token, updated_at) VALUES ($1, $2, now()) \
                 ON CONFLICT (user_key) DO UPDATE SET token = EXCLUDED.token, updated_at = now()",
                t = self.table
            );
            client
                .execute(&sql, &[&user, &value])
                .await
                .map_err(|e| self.query_error("writing a token", &e))?;
            Ok(())
        })
    }

    fn acquire_lease<'a>(
        &'a self,
        user: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<LeaseAttempt>> {
        Box::pin(async move {
            let lease = Lease::new(user, ttl)?;
            let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
            let what = "taking the refresh lease";
            let mut client = self.client().await?;
            let tx = self.lease_transaction(&mut client, what).await?;
            // Take the lease when it is free or expired (creating the row if
            // the user has none yet); either way, read the stored token and,
            // when the lease is held, how long it has left.
            let sql = format!(
                "WITH taken AS ( \
                   INSERT INTO {t} (user_key, token, lease_id, lease_until) \
                   VALUES ($1, NULL, $2, now() + $3::bigint * interval '1 millisecond') \
                   ON CONFLICT (user_key) DO UPDATE \
                     SET lease_id = EXCLUDED.lease_id, lease_until = EXCLUDED.lease_until \
                     WHERE {t}.lease_until IS NULL OR {t}.lease_until <= now() \
                   RETURNING token) \
                 SELECT true, token, 0::bigint FROM taken \
                 UNION ALL \
                 SELECT false, token, \
                   GREATEST(0, (EXTRACT(EPOCH FROM (lease_until - now())) * 1000))::bigint \
                 FROM {t} WHERE user_key = $1 AND NOT EXISTS (SELECT 1 FROM taken)",
                t = self.table
            );
            let row = tx
                .query_opt(&sql, &[&user, &lease.id(), &ttl_ms])
                .await
                .map_err(|e| self.query_error(what, &e))?
                .ok_or_else(|| self.error("taking the refresh lease returned no row"))?;
            tx.commit().await.map_err(|e| self.query_error(what, &e))?;
            let acquired: bool = row.get(0);
            let current = self.parse(row.get::<_, Option<serde_json::Value>>(1))?;
            if acquired {
                Ok(LeaseAttempt::Acquired { lease, current })
            } else {
                let left: i64 = row.get(2);
                Ok(LeaseAttempt::Held {
                    current,
                    retry_after: Duration::from_millis(u64::try_from(left).unwrap_or(0)),
                })
            }
        })
    }

    fn commit<'a>(&'a self, lease: Lease, token: &'a UserAccessToken) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let value = self.encode(token)?;
            let client = self.client().await?;
            let sql = format!(
                "UPDATE {} SET token = $3, lease_id = NULL, lease_until = NULL, updated_at = now() \
                 WHERE user_key = $1 AND lease_id = $2",
                self.table
            );
            let updated = client
                .execute(&sql, &[&lease.user(), &lease.id(), &value])
                .await
                .map_err(|e| self.query_error("writing the refreshed token", &e))?;
            if updated == 1 {
                Ok(())
            } else {
                Err(self.error(format!(
                    "the refresh lease of user `{}` expired and was taken by another process",
                    lease.user()
                )))
            }
        })
    }

    fn release(&self, lease: Lease) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let what = "releasing the refresh lease";
            let mut client = self.client().await?;
            let tx = self.lease_transaction(&mut client, what).await?;
            let sql = format!(
                "UPDATE {} SET lease_id = NULL, lease_until = NULL \
                 WHERE user_key = $1 AND lease_id = $2",
                self.table
            );
            tx.execute(&sql, &[&lease.user(), &lease.id()])
                .await
                .map_err(|e| self.query_error(what, &e))?;
            tx.commit().await.map_err(|e| self.query_error(what, &e))
        })
    }
}

/// `postgres://user@host:port/database`: the store's name, without the
/// password.
fn describe(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let host = match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(i).or(config.get_ports().first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    format!(
        "postgres://{user}{}/{}",
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

/// A table name is an identifier, optionally schema-qualified: it is put
/// into SQL text, so nothing else is accepted.
fn check_table_name(table: &str) -> Result<()> {
    let ident = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && part.len() <= 63
    };
    let parts: Vec<&str> = table.split('.').collect();
    if parts.len() <= 2 && parts.iter().all(|p| ident(p)) {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "table",
            "must be an identifier such as `digime_tokens` or `schema.digime_tokens`",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builders_debug_never_shows_the_password() {
        let builder =
            PostgresTokenStore::builder("postgres://app:s3cret-pw@db.internal:6432/tokens");
        let debug = format!("{builder:?}");
        assert!(!debug.contains("s3cret-pw"), "{debug}");
        assert!(
            debug.contains("postgres://app@db.internal:6432/tokens"),
            "{debug}"
        );
    }

    #[test]
    fn table_names_are_identifiers_only() {
        assert!(check_table_name("digime_tokens").is_ok());
        assert!(check_table_name("app.tokens_2").is_ok());
        for bad in ["", "1abc", "a;drop table x", "a.b.c", "a-b", "a b"] {
            assert_eq!(
                check_table_name(bad).unwrap_err().field(),
                Some("table"),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_name_never_holds_the_password() {
        let config =
            tokio_postgres::Config::from_str("postgres://app:s3cret@db.internal:5433/tokens")
                .unwrap();
        let name = describe(&config);
        assert_eq!(name, "postgres://app@db.internal:5433/tokens");
    }
}
