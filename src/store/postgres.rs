//! [`PostgresTokenStore`]: the tokens of a fleet in PostgreSQL.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use futures_util::future::BoxFuture;
use tokio_postgres::config::Host;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

mod builder;
mod token_store;

use super::{
    CommitOutcome, Lease, LeaseAttempt, ROTATED_KEPT, Saved, StoredToken, TokenStore, capped,
    refresh_fingerprint,
};
use crate::error::{Error, Result};
use crate::token::UserAccessToken;

pub use builder::PostgresTokenStoreBuilder;

/// The default limit on one statement, and on one store call once it has a
/// connection (plus [`DEADLINE_MARGIN`]).
const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default limit on opening a connection.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// What a call may take beyond the statement timeout (the round trips
/// around its statements) before the SDK gives up on the connection.
const DEADLINE_MARGIN: Duration = Duration::from_secs(1);
/// The limit on creating or upgrading the table, which waits for other
/// processes doing the same.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Users' tokens in a PostgreSQL table, shared by a fleet of processes and
/// hosts (feature `postgres`).
///
/// One row per user:
///
/// ```sql
/// CREATE TABLE IF NOT EXISTS digime_tokens (
///     user_key    text        PRIMARY KEY,
///     token       jsonb,                      -- the TypeScript SDK's JSON shape
///     version     bigint      NOT NULL DEFAULT 0, -- 0: no token; +1 per write
///     rotated     text[]      NOT NULL DEFAULT '{}', -- refresh fingerprints refreshed away from (last 16)
///     lease_id    text,                       -- who holds the refresh lease
///     lease_until timestamptz,                -- when it expires (database clock)
///     updated_at  timestamptz NOT NULL DEFAULT now()
/// );
/// ```
///
/// The table is created if missing when the store connects, and a table
/// of an earlier version of this crate (without `version` and `rotated`) is
/// upgraded: the columns are added, and every row that holds a token gets
/// version 1. Both happen under an advisory lock, so that a fleet starting
/// at once does it once. Or run [`migration_sql`](Self::migration_sql) (a
/// new table) or [`upgrade_sql`](Self::upgrade_sql) (an old one) in your
/// own migrations and turn this off with
/// [`create_table(false)`](PostgresTokenStoreBuilder::create_table).
/// Upgrade every process of a fleet together: a process of an earlier
/// version writes tokens without moving their version.
///
/// **Versions.** Every write is one more version, and a refreshed token is
/// written with one compare-and-set statement,
/// `UPDATE … WHERE user_key = $1 AND version = $2`: a writer whose version
/// is stale writes nothing and reads what is stored now. The refresh
/// fingerprints of replaced tokens are computed by the database
/// (`sha256()`), from the stored JSON.
///
/// **The lease is a column, not a row lock.** A row lock would hold a
/// connection and an open transaction for the whole refresh call to
/// digi.me; the lease column holds nothing while the refresh runs, works
/// through transaction-pooling proxies, and expires by the database's clock
/// (one clock for the whole fleet) when its holder dies. Taking it is a
/// short transaction that locks the row, and commits durably, so that a
/// lease taken over is known as such after a failover; renewing and giving
/// it back commit without waiting for the disk (`synchronous_commit` off,
/// for those transactions only): a crash that forgets one only ends a
/// lease early, or later.
///
/// **Deadlines.** Every statement runs under a `statement_timeout`
/// ([`statement_timeout`](PostgresTokenStoreBuilder::statement_timeout),
/// 5 s by default), and every call gives up on its connection one second
/// after that (a database that stopped answering, a network cut): such a
/// call ends in [`ErrorKind::TokenStore`](crate::ErrorKind::TokenStore), and
/// its connection is closed rather than reused. Waiting for a connection is
/// bounded too ([`connect_timeout`](PostgresTokenStoreBuilder::connect_timeout)).
///
/// Connections come from a [deadpool](deadpool_postgres) pool (16 by
/// default). TLS is optional: [`connect`](Self::connect) uses none (a
/// database on the same host or private network); for TLS, build a pool
/// with the connector of your choice and use [`from_pool`](Self::from_pool).
///
/// The SQL needs PostgreSQL 11 or newer (`sha256()`).
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
    /// The limit on each statement.
    statement_timeout: Duration,
    /// The `statement_timeout` the pool's connections were opened with, if
    /// this store opened them: otherwise each call sets its own.
    connection_timeout: Option<Duration>,
    /// The limit on waiting for a pooled connection.
    pool_wait: Duration,
}

impl fmt::Debug for PostgresTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresTokenStore")
            .field("name", &self.name)
            .field("table", &self.table)
            .field("statement_timeout", &self.statement_timeout)
            .finish_non_exhaustive()
    }
}

/// How a transaction commits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Commit {
    /// Waiting for the write-ahead log to reach the disk (the default).
    Durable,
    /// Without waiting (`synchronous_commit` off): for the lease's renewals
    /// and releases, which a crash may forget.
    Lazy,
}

impl PostgresTokenStore {
    /// The table a store uses unless told otherwise: `digime_tokens`.
    ///
    /// ```
    /// assert_eq!(digime::store::PostgresTokenStore::DEFAULT_TABLE, "digime_tokens");
    /// ```
    pub const DEFAULT_TABLE: &'static str = "digime_tokens";

    /// A store on a pool you built (for TLS, or your own pool settings),
    /// using [`DEFAULT_TABLE`](Self::DEFAULT_TABLE), created or upgraded
    /// if needed. `name` names the store in errors (never put a password in
    /// it).
    ///
    /// The store limits its statements in each of its own transactions
    /// (`SET LOCAL statement_timeout`, 5 s unless
    /// [`with_statement_timeout`](Self::with_statement_timeout) says
    /// otherwise), leaving the pool's other users alone, and waits 10 s at
    /// most for a connection of the pool.
    ///
    /// ```no_run
    /// # async fn run(pool: digime::store::deadpool_postgres::Pool) -> digime::Result<()> {
    /// let store = digime::store::PostgresTokenStore::from_pool(pool, "postgres://db.internal/app").await?;
    /// # let _ = store; Ok(()) }
    /// ```
    pub async fn from_pool(pool: Pool, name: impl Into<String>) -> Result<Self> {
        let store = PostgresTokenStore {
            pool,
            table: PostgresTokenStore::DEFAULT_TABLE.to_owned(),
            name: name.into(),
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            connection_timeout: None,
            pool_wait: DEFAULT_CONNECT_TIMEOUT * 2,
        };
        store.set_up(true).await
    }

    /// The same store with another limit on each statement (a store from
    /// [`from_pool`](Self::from_pool) starts with 5 s; one from the builder
    /// with its [`statement_timeout`](PostgresTokenStoreBuilder::statement_timeout)).
    ///
    /// ```no_run
    /// # async fn run(pool: digime::store::deadpool_postgres::Pool) -> digime::Result<()> {
    /// use std::time::Duration;
    /// let store = digime::store::PostgresTokenStore::from_pool(pool, "postgres://db.internal/app")
    ///     .await?
    ///     .with_statement_timeout(Duration::from_secs(2));
    /// # let _ = store; Ok(()) }
    /// ```
    pub fn with_statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    async fn set_up(self, create: bool) -> Result<Self> {
        check_table_name(&self.table)?;
        if create {
            self.create_table().await?;
        }
        Ok(self)
    }

    /// The `CREATE TABLE` statement for `table`, for your own migrations.
    ///
    /// ```
    /// let sql = digime::store::PostgresTokenStore::migration_sql("digime_tokens");
    /// assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS digime_tokens"));
    /// assert!(sql.contains("version bigint NOT NULL DEFAULT 0"));
    /// ```
    pub fn migration_sql(table: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
             user_key text PRIMARY KEY, \
             token jsonb, \
             version bigint NOT NULL DEFAULT 0, \
             rotated text[] NOT NULL DEFAULT '{{}}', \
             lease_id text, \
             lease_until timestamptz, \
             updated_at timestamptz NOT NULL DEFAULT now())"
        )
    }

    /// The statements that upgrade a `table` created by an earlier version
    /// of this crate (without `version` and `rotated`), for your own
    /// migrations: they add the columns and give every stored token
    /// version 1. Run them in one transaction. They change nothing on a
    /// table that has the columns already.
    ///
    /// ```
    /// let sql = digime::store::PostgresTokenStore::upgrade_sql("digime_tokens");
    /// assert!(sql.starts_with("ALTER TABLE digime_tokens ADD COLUMN IF NOT EXISTS version"));
    /// ```
    pub fn upgrade_sql(table: &str) -> String {
        // Existing rows get version 1 from the column's default (without
        // rewriting the table, from PostgreSQL 11), new rows 0; the rows
        // that hold no token (a lease only) go back to 0.
        format!(
            "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 1; \
             ALTER TABLE {table} ALTER COLUMN version SET DEFAULT 0; \
             ALTER TABLE {table} ADD COLUMN IF NOT EXISTS rotated text[] NOT NULL DEFAULT '{{}}'; \
             UPDATE {table} SET version = 0 WHERE token IS NULL AND version <> 0;"
        )
    }

    fn error(&self, what: impl fmt::Display) -> Error {
        Error::token_store(&self.name, what)
    }

    /// A pooled connection, waited for [`pool_wait`](Self::pool_wait) at
    /// most.
    async fn client(&self) -> Result<Object> {
        match tokio::time::timeout(self.pool_wait, self.pool.get()).await {
            Ok(got) => got.map_err(|e| self.error(format!("cannot connect ({e})"))),
            Err(_) => Err(self.error(format!("no connection within {:?}", self.pool_wait))),
        }
    }

    /// Runs `work` on a pooled connection, within the statement timeout and
    /// [`DEADLINE_MARGIN`] (or `limit`). A call that runs out of time closes
    /// its connection: whatever it waits for must not hold up the next
    /// caller of that connection.
    async fn run<T>(
        &self,
        what: &str,
        limit: Option<Duration>,
        work: impl AsyncFnOnce(&mut Object) -> Result<T>,
    ) -> Result<T> {
        let mut client = self.client().await?;
        let limit = limit.unwrap_or(self.statement_timeout + DEADLINE_MARGIN);
        match tokio::time::timeout(limit, work(&mut client)).await {
            Ok(result) => result,
            Err(_) => {
                drop(Object::take(client));
                Err(self.error(format!("{what} took longer than {limit:?}")))
            }
        }
    }

    /// The `SET LOCAL` statements a transaction of this store starts with.
    fn local_settings(&self, commit: Commit, statement_timeout: Duration) -> String {
        let mut settings = String::new();
        if self.connection_timeout != Some(statement_timeout) {
            settings.push_str(&format!(
                "SET LOCAL statement_timeout = {}; ",
                millis(statement_timeout)
            ));
        }
        if commit == Commit::Lazy {
            settings.push_str("SET LOCAL synchronous_commit TO OFF; ");
        }
        settings
    }

    /// Opens a transaction on `client` with this store's settings.
    async fn begin<'c>(
        &self,
        client: &'c mut Object,
        what: &str,
        commit: Commit,
    ) -> Result<deadpool_postgres::Transaction<'c>> {
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.query_error(what, &e))?;
        let settings = self.local_settings(commit, self.statement_timeout);
        if !settings.is_empty() {
            tx.batch_execute(&settings)
                .await
                .map_err(|e| self.query_error(what, &e))?;
        }
        Ok(tx)
    }

    /// Whether a single statement needs a transaction of its own (to set
    /// its statement timeout, on a pool this store did not open).
    fn needs_transaction(&self) -> bool {
        self.connection_timeout != Some(self.statement_timeout)
    }

    async fn create_table(&self) -> Result<()> {
        let what = "creating the table";
        self.run(what, Some(SETUP_TIMEOUT + DEADLINE_MARGIN), async |client| {
            let tx = client
                .transaction()
                .await
                .map_err(|e| self.query_error(what, &e))?;
            let fail = |e: tokio_postgres::Error| self.query_error(what, &e);
            tx.batch_execute(&self.local_settings(Commit::Durable, SETUP_TIMEOUT))
                .await
                .map_err(fail)?;
            // Concurrent `CREATE TABLE IF NOT EXISTS` can still collide in
            // the catalog: one creator at a time.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtext('digime_tokens_create'))",
                &[],
            )
            .await
            .map_err(fail)?;
            tx.batch_execute(&Self::migration_sql(&self.table))
                .await
                .map_err(fail)?;
            let columns: i64 = tx
                .query_one(
                    "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) \
                     AND attname IN ('version', 'rotated') AND attnum > 0 AND NOT attisdropped",
                    &[&self.table],
                )
                .await
                .map_err(fail)?
                .get(0);
            if columns < 2 {
                tracing::info!(store = %self.name, table = %self.table, "upgrading the token table");
                // Waiting long for the table's lock would queue every other
                // query of the table behind this one: give up instead.
                tx.batch_execute(&format!(
                    "SET LOCAL lock_timeout = {}; {}",
                    millis(self.statement_timeout),
                    Self::upgrade_sql(&self.table)
                ))
                .await
                .map_err(|e| self.query_error("upgrading the table", &e))?;
            }
            tx.commit().await.map_err(fail)
        })
        .await
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

    /// A version read from the database.
    fn version(&self, version: i64) -> Result<u64> {
        u64::try_from(version)
            .map_err(|_| self.error(format!("a stored version is negative ({version})")))
    }

    /// The stored token of a row whose first columns are `token, version`.
    fn stored(&self, row: &Row) -> Result<Option<StoredToken>> {
        let version = self.version(row.get(1))?;
        Ok(self
            .parse(row.get::<_, Option<serde_json::Value>>(0))?
            .map(|token| StoredToken::new(token, version)))
    }

    /// Runs one statement: as it is, or in a transaction of its own when
    /// the store sets its statement timeout per transaction.
    async fn query_opt(
        &self,
        client: &mut Object,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>> {
        let fail = |e: tokio_postgres::Error| self.query_error(what, &e);
        if !self.needs_transaction() {
            return client.query_opt(sql, params).await.map_err(fail);
        }
        let tx = self.begin(client, what, Commit::Durable).await?;
        let row = tx.query_opt(sql, params).await.map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        Ok(row)
    }

    /// Reads `user`'s token and version.
    async fn read(&self, client: &mut Object, user: &str) -> Result<Option<StoredToken>> {
        let sql = format!(
            "SELECT token, version FROM {} WHERE user_key = $1",
            self.table
        );
        match self
            .query_opt(client, "reading a token", &sql, &[&user])
            .await?
        {
            Some(row) => self.stored(&row),
            None => Ok(None),
        }
    }

    /// The SQL of the `rotated` column after the row aliased `s` is given a
    /// token whose refresh fingerprint is the parameter `fingerprint`: the
    /// old token's fingerprint (computed from its JSON, as
    /// [`refresh_fingerprint`] does) appended, the last
    /// [`ROTATED_KEPT`] kept. A token replaced by itself is no rotation.
    fn rotated_sql(fingerprint: &str) -> String {
        let old = "encode(sha256(convert_to(s.token #>> '{refreshToken,value}', 'UTF8')), 'hex')";
        format!(
            "CASE WHEN {old} IS NULL OR {old} = {fingerprint} THEN s.rotated \
             ELSE (array_append(s.rotated, {old}))\
             [GREATEST(cardinality(s.rotated) + 2 - {kept}, 1) : cardinality(s.rotated) + 1] END",
            kept = ROTATED_KEPT
        )
    }

    /// The statement of a commit: `$1` user, `$2` expected version, `$3`
    /// token, `$4` lease id, `$5` the token's refresh fingerprint. On
    /// version 0 (nothing stored) the user may have no row yet.
    fn commit_sql(&self, expected: u64) -> String {
        let set = format!(
            "token = $3, version = s.version + 1, rotated = {rotated}, \
             lease_id = CASE WHEN s.lease_id = $4 THEN NULL ELSE s.lease_id END, \
             lease_until = CASE WHEN s.lease_id = $4 THEN NULL ELSE s.lease_until END, \
             updated_at = now()",
            rotated = Self::rotated_sql("$5")
        );
        let t = &self.table;
        if expected == 0 {
            format!(
                "INSERT INTO {t} AS s (user_key, token, version) VALUES ($1, $3, 1) \
                 ON CONFLICT (user_key) DO UPDATE SET {set} WHERE s.version = $2 \
                 RETURNING s.version"
            )
        } else {
            format!(
                "UPDATE {t} AS s SET {set} WHERE s.user_key = $1 AND s.version = $2 \
                 RETURNING s.version"
            )
        }
    }
}

/// A duration in whole milliseconds, as SQL takes it (capped to a century).
fn millis(duration: Duration) -> i64 {
    i64::try_from(capped(duration).as_millis()).unwrap_or(i64::MAX)
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
mod tests;
