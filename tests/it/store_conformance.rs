//! The token stores against their contract: the conformance kit
//! (`digime::store::conformance`) on the memory, file and PostgreSQL stores
//! (a throwaway cluster, tests/it/support/postgres.rs), the kit failing stores
//! that break the contract, and what the kit cannot see: a file lease that
//! outlives its process, the PostgreSQL table's upgrade, and its deadlines.

use crate::support;

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use digime::store::conformance::{Check, Kit};
use digime::store::{
    CommitOutcome, FileTokenStore, Lease, LeaseAttempt, MemoryTokenStore, PostgresTokenStore,
    Saved, StoredToken, TokenStore,
};
use digime::{ErrorKind, Token, UserAccessToken};
use futures_util::future::BoxFuture;
use support::postgres::Cluster;

/// The kit as CI runs it: leases of 300 ms.
fn kit() -> Kit {
    Kit::new().lease_ttl(Duration::from_millis(300))
}

async fn passes(store: &dyn TokenStore) {
    match kit().check(store).await {
        Ok(report) => {
            println!("{report}");
            assert_eq!(report.checks(), Check::ALL);
        }
        Err(violation) => panic!("{violation}"),
    }
}

fn token(refresh: &str) -> UserAccessToken {
    UserAccessToken::new(
        Token::new("a", std::time::UNIX_EPOCH),
        Token::new(refresh, std::time::UNIX_EPOCH),
        Some("u".into()),
        None,
    )
}

// ---------------------------------------------------------------- the kit on our stores

#[tokio::test]
async fn the_memory_store_passes_the_kit() {
    passes(&MemoryTokenStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_store_passes_the_kit_in_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    passes(&FileTokenStore::new(dir.path()).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_store_passes_the_kit_as_a_single_file_per_user() {
    // The CLI's `--token FILE`: one file, whatever user is asked. The kit
    // uses many users, so each gets a single-file store of its own.
    #[derive(Debug)]
    struct PerUser(std::path::PathBuf);
    impl PerUser {
        fn store(&self, user: &str) -> FileTokenStore {
            FileTokenStore::single_file(self.0.join(format!("{user}.json")))
        }
    }
    impl TokenStore for PerUser {
        fn describe(&self) -> String {
            format!("file://{}/*.json", self.0.display())
        }
        fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, digime::Result<Option<StoredToken>>> {
            Box::pin(async move { self.store(user).load(user).await })
        }
        fn save<'a>(
            &'a self,
            user: &'a str,
            token: &'a UserAccessToken,
        ) -> BoxFuture<'a, digime::Result<Saved>> {
            Box::pin(async move { self.store(user).save(user, token).await })
        }
        fn acquire_lease<'a>(
            &'a self,
            user: &'a str,
            ttl: Duration,
        ) -> BoxFuture<'a, digime::Result<LeaseAttempt>> {
            Box::pin(async move { self.store(user).acquire_lease(user, ttl).await })
        }
        fn renew_lease<'a>(
            &'a self,
            lease: &'a Lease,
            ttl: Duration,
        ) -> BoxFuture<'a, digime::Result<bool>> {
            Box::pin(async move { self.store(lease.user()).renew_lease(lease, ttl).await })
        }
        fn commit<'a>(
            &'a self,
            lease: &'a Lease,
            expected: u64,
            token: &'a UserAccessToken,
        ) -> BoxFuture<'a, digime::Result<CommitOutcome>> {
            Box::pin(async move {
                self.store(lease.user())
                    .commit(lease, expected, token)
                    .await
            })
        }
        fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, digime::Result<()>> {
            Box::pin(async move { self.store(lease.user()).release(lease).await })
        }
    }
    let dir = tempfile::tempdir().unwrap();
    passes(&PerUser(dir.path().to_path_buf())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_passes_the_kit() {
    let url = Cluster::get().database("conformance");
    passes(&PostgresTokenStore::connect(&url).await.unwrap()).await;
    // A pool built elsewhere: the statement timeout is set per transaction.
    passes(&pooled(&url, 4).await).await;
}

/// A store on a pool built as a user would (for TLS, say).
async fn pooled(url: &str, size: usize) -> PostgresTokenStore {
    use digime::store::deadpool_postgres::{Manager, Pool, tokio_postgres};
    let config: tokio_postgres::Config = url.parse().unwrap();
    let pool = Pool::builder(Manager::new(config, tokio_postgres::NoTls))
        .max_size(size)
        .build()
        .unwrap();
    PostgresTokenStore::from_pool(pool, "postgres://pooled")
        .await
        .unwrap()
}

// ---------------------------------------------------------------- the kit bites

/// A memory store with one flaw.
#[derive(Debug)]
struct Broken {
    inner: MemoryTokenStore,
    flaw: Flaw,
    /// The racy lease table of [`Flaw::RacyLease`]: user → (id, until).
    leases: Mutex<HashMap<String, (String, Instant)>>,
}

#[derive(Debug, Clone, Copy)]
enum Flaw {
    /// `commit` writes whatever the version.
    CommitIgnoresTheVersion,
    /// `save` never says `already_rotated`.
    ForgetsRotations,
    /// `acquire_lease` gives the lease even while it is held.
    LeaseNotExclusive,
    /// `acquire_lease` never says `took_over`.
    HidesTakeovers,
    /// `renew_lease` answers `true` and extends nothing.
    RenewDoesNothing,
    /// `commit` reads the version, then writes: right alone, wrong in a race.
    RacyCommit,
    /// `acquire_lease` checks the lease, then takes it: wrong in a race.
    RacyLease,
}

impl Broken {
    fn new(flaw: Flaw) -> Self {
        Broken {
            inner: MemoryTokenStore::new(),
            flaw,
            leases: Mutex::new(HashMap::new()),
        }
    }
}

impl TokenStore for Broken {
    fn describe(&self) -> String {
        format!("broken ({:?})", self.flaw)
    }
    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, digime::Result<Option<StoredToken>>> {
        self.inner.load(user)
    }
    fn save<'a>(
        &'a self,
        user: &'a str,
        token: &'a UserAccessToken,
    ) -> BoxFuture<'a, digime::Result<Saved>> {
        Box::pin(async move {
            let saved = self.inner.save(user, token).await?;
            Ok(match self.flaw {
                Flaw::ForgetsRotations => Saved::new(saved.version, false),
                _ => saved,
            })
        })
    }
    fn acquire_lease<'a>(
        &'a self,
        user: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, digime::Result<LeaseAttempt>> {
        Box::pin(async move {
            match self.flaw {
                Flaw::LeaseNotExclusive => {
                    let current = self.inner.load(user).await?;
                    Ok(LeaseAttempt::Acquired {
                        lease: Lease::new(user, ttl)?,
                        current,
                        took_over: false,
                    })
                }
                Flaw::HidesTakeovers => Ok(match self.inner.acquire_lease(user, ttl).await? {
                    LeaseAttempt::Acquired { lease, current, .. } => LeaseAttempt::Acquired {
                        lease,
                        current,
                        took_over: false,
                    },
                    held => held,
                }),
                Flaw::RacyLease => {
                    let now = Instant::now();
                    let previous = self.leases.lock().unwrap().get(user).cloned();
                    if let Some((_, until)) = &previous
                        && *until > now
                    {
                        return Ok(LeaseAttempt::Held {
                            current: self.inner.load(user).await?,
                            retry_after: *until - now,
                        });
                    }
                    tokio::task::yield_now().await;
                    let lease = Lease::new(user, ttl)?;
                    self.leases
                        .lock()
                        .unwrap()
                        .insert(user.to_owned(), (lease.id().to_owned(), now + ttl));
                    Ok(LeaseAttempt::Acquired {
                        lease,
                        current: self.inner.load(user).await?,
                        took_over: previous.is_some(),
                    })
                }
                _ => self.inner.acquire_lease(user, ttl).await,
            }
        })
    }
    fn renew_lease<'a>(
        &'a self,
        lease: &'a Lease,
        ttl: Duration,
    ) -> BoxFuture<'a, digime::Result<bool>> {
        match self.flaw {
            Flaw::RenewDoesNothing => Box::pin(async { Ok(true) }),
            Flaw::RacyLease => {
                let mut leases = self.leases.lock().unwrap();
                let renewed = match leases.get_mut(lease.user()) {
                    Some((id, until)) if id == lease.id() => {
                        *until = Instant::now() + ttl;
                        true
                    }
                    _ => false,
                };
                Box::pin(async move { Ok(renewed) })
            }
            _ => self.inner.renew_lease(lease, ttl),
        }
    }
    fn commit<'a>(
        &'a self,
        lease: &'a Lease,
        expected: u64,
        token: &'a UserAccessToken,
    ) -> BoxFuture<'a, digime::Result<CommitOutcome>> {
        Box::pin(async move {
            if let Flaw::RacyLease = self.flaw {
                let mut leases = self.leases.lock().unwrap();
                if leases
                    .get(lease.user())
                    .is_some_and(|(id, _)| id == lease.id())
                {
                    leases.remove(lease.user());
                }
            }
            match self.flaw {
                Flaw::CommitIgnoresTheVersion => {
                    let saved = self.inner.save(lease.user(), token).await?;
                    self.inner.release(lease).await?;
                    Ok(CommitOutcome::Committed(saved.version))
                }
                Flaw::RacyCommit => {
                    let current = self.inner.load(lease.user()).await?;
                    if current.as_ref().map_or(0, |s| s.version) != expected {
                        return Ok(CommitOutcome::Conflict(current));
                    }
                    tokio::task::yield_now().await;
                    // Writes whatever is stored by now: the check above is
                    // stale under a race.
                    let now = self.inner.load(lease.user()).await?;
                    let now = now.as_ref().map_or(0, |s| s.version);
                    self.inner.commit(lease, now, token).await
                }
                _ => self.inner.commit(lease, expected, token).await,
            }
        })
    }
    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, digime::Result<()>> {
        if let Flaw::RacyLease = self.flaw {
            let mut leases = self.leases.lock().unwrap();
            if leases
                .get(lease.user())
                .is_some_and(|(id, _)| id == lease.id())
            {
                leases.remove(lease.user());
            }
        }
        self.inner.release(lease)
    }
}

#[tokio::test]
async fn the_kit_fails_every_broken_store_at_the_broken_promise() {
    for (flaw, check) in [
        (Flaw::CommitIgnoresTheVersion, Check::CompareAndSet),
        (Flaw::ForgetsRotations, Check::AlreadyRotated),
        (Flaw::LeaseNotExclusive, Check::CommitWithoutLease),
        (Flaw::HidesTakeovers, Check::ExpiryAndTakeover),
        (Flaw::RenewDoesNothing, Check::Release),
        (Flaw::RacyCommit, Check::ConcurrentWrites),
        (Flaw::RacyLease, Check::ConcurrentLeases),
    ] {
        let violation = kit()
            .check(&Broken::new(flaw))
            .await
            .expect_err(&format!("{flaw:?} passed the kit"));
        println!("{violation}");
        assert_eq!(violation.check(), check, "{flaw:?}: {violation}");
        assert!(
            violation
                .to_string()
                .contains(&format!("broken ({flaw:?})")),
            "the violation names the store: {violation}"
        );
    }
}

#[tokio::test]
async fn a_failing_store_call_is_a_violation_with_its_error() {
    #[derive(Debug)]
    struct Down;
    impl TokenStore for Down {
        fn describe(&self) -> String {
            "down".into()
        }
        fn load<'a>(&'a self, _: &'a str) -> BoxFuture<'a, digime::Result<Option<StoredToken>>> {
            Box::pin(async { Err(digime::Error::token_store("down", "unreachable")) })
        }
        fn save<'a>(
            &'a self,
            _: &'a str,
            _: &'a UserAccessToken,
        ) -> BoxFuture<'a, digime::Result<Saved>> {
            unreachable!("the kit stops at the first failure")
        }
        fn acquire_lease<'a>(
            &'a self,
            _: &'a str,
            _: Duration,
        ) -> BoxFuture<'a, digime::Result<LeaseAttempt>> {
            unreachable!()
        }
        fn renew_lease<'a>(
            &'a self,
            _: &'a Lease,
            _: Duration,
        ) -> BoxFuture<'a, digime::Result<bool>> {
            unreachable!()
        }
        fn commit<'a>(
            &'a self,
            _: &'a Lease,
            _: u64,
            _: &'a UserAccessToken,
        ) -> BoxFuture<'a, digime::Result<CommitOutcome>> {
            unreachable!()
        }
        fn release<'a>(&'a self, _: &'a Lease) -> BoxFuture<'a, digime::Result<()>> {
            unreachable!()
        }
    }
    let violation = kit().check(&Down).await.unwrap_err();
    assert_eq!(violation.check(), Check::Versions);
    assert!(violation.message().contains("load failed"), "{violation}");
    let source = std::error::Error::source(&violation).expect("the store's error");
    assert!(source.to_string().contains("unreachable"), "{source}");
}

// ---------------------------------------------------------------- file store: the lease is a stamp

/// Set in a child process: the token directory whose lease it takes.
const CHILD_ENV: &str = "DIGIME_STORE_CHILD";

/// The child: takes the lease of user `u` for 1.5 s and exits at once,
/// without giving it back (as a process killed mid-refresh, or one that
/// keeps its lease after an ambiguous refresh).
#[tokio::test]
async fn child_takes_a_file_lease_and_exits() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // Not a child: nothing to do.
    };
    let store = FileTokenStore::new(&dir).unwrap();
    let attempt = store
        .acquire_lease("u", Duration::from_millis(1500))
        .await
        .unwrap();
    assert!(matches!(attempt, LeaseAttempt::Acquired { .. }));
    std::process::exit(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_lease_outlives_the_process_that_took_it_until_it_expires() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileTokenStore::new(dir.path()).unwrap();
    store.save("u", &token("r0")).await.unwrap();
    let started = Instant::now();
    let out = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &support::test_path(module_path!(), "child_takes_a_file_lease_and_exits"),
            "--nocapture",
        ])
        .env(CHILD_ENV, dir.path())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The process is gone; its lease is not.
    let LeaseAttempt::Held { retry_after, .. } = store
        .acquire_lease("u", Duration::from_secs(30))
        .await
        .unwrap()
    else {
        panic!("the lease of an exited process was free at once");
    };
    assert!(
        retry_after <= Duration::from_millis(1500),
        "{retry_after:?}"
    );
    tokio::time::sleep(retry_after + Duration::from_millis(50)).await;
    let LeaseAttempt::Acquired {
        took_over, current, ..
    } = store
        .acquire_lease("u", Duration::from_secs(30))
        .await
        .unwrap()
    else {
        panic!("the lease never expired");
    };
    assert!(took_over, "the next taker knows the lease was taken over");
    assert_eq!(current.unwrap().version, 1);
    assert!(started.elapsed() >= Duration::from_millis(1500));
}

// ---------------------------------------------------------------- PostgreSQL: upgrade and deadlines

async fn connect_plain(url: &str) -> digime::store::deadpool_postgres::tokio_postgres::Client {
    use digime::store::deadpool_postgres::tokio_postgres;
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_of_the_previous_version_is_upgraded_in_place() {
    let url = Cluster::get().database("upgrade");
    let db = connect_plain(&url).await;
    // The table as the previous version of the crate created it, with a
    // user holding a token and a user holding only a lease.
    db.batch_execute(
        "CREATE TABLE digime_tokens (user_key text PRIMARY KEY, token jsonb, lease_id text, \
         lease_until timestamptz, updated_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .unwrap();
    let old = serde_json::to_value(token("r0")).unwrap();
    db.execute(
        "INSERT INTO digime_tokens (user_key, token) VALUES ('has-token', $1)",
        &[&old],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO digime_tokens (user_key, lease_id, lease_until) \
         VALUES ('lease-only', 'x', now() - interval '1 minute')",
        &[],
    )
    .await
    .unwrap();
    // A fleet of the new version starting at once upgrades it once.
    let connects = (0..4).map(|_| PostgresTokenStore::connect(&url));
    for connected in futures_util::future::join_all(connects).await {
        connected.expect("every process connects");
    }
    let store = PostgresTokenStore::connect(&url).await.unwrap();
    let stored = store.load("has-token").await.unwrap().unwrap();
    assert_eq!(stored.version, 1, "a stored token is version 1");
    assert_eq!(
        serde_json::to_value(&stored.token).unwrap(),
        old,
        "field for field"
    );
    assert!(store.load("lease-only").await.unwrap().is_none());
    let lease = Lease::new("lease-only", Duration::from_secs(5)).unwrap();
    let outcome = store.commit(&lease, 0, &token("n1")).await.unwrap();
    assert!(
        matches!(outcome, CommitOutcome::Committed(1)),
        "a row without a token is version 0: {outcome:?}"
    );
    // The token of before the upgrade is remembered once rotated away.
    let LeaseAttempt::Acquired { lease, .. } = store
        .acquire_lease("has-token", Duration::from_secs(5))
        .await
        .unwrap()
    else {
        panic!("the lease is free");
    };
    let outcome = store.commit(&lease, 1, &token("r1")).await.unwrap();
    assert!(
        matches!(outcome, CommitOutcome::Committed(2)),
        "{outcome:?}"
    );
    let rotated: Vec<String> = db
        .query_one(
            "SELECT rotated FROM digime_tokens WHERE user_key = 'has-token'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rotated, [digime::store::refresh_fingerprint(&token("r0"))]);
    assert!(
        store
            .save("has-token", &token("r0"))
            .await
            .unwrap()
            .already_rotated
    );
    // The upgrade statements change nothing on an upgraded table.
    db.batch_execute(&format!(
        "BEGIN; {} COMMIT;",
        PostgresTokenStore::upgrade_sql("digime_tokens")
    ))
    .await
    .unwrap();
    assert_eq!(store.load("has-token").await.unwrap().unwrap().version, 3);
    assert_eq!(store.load("lease-only").await.unwrap().unwrap().version, 1);
    // And the upgraded table keeps the whole contract.
    passes(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_stuck_behind_a_lock_ends_at_the_statement_timeout() {
    let url = Cluster::get().database("stuck");
    let fast = PostgresTokenStore::builder(&url)
        .statement_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    let stores = [
        ("a builder's store", fast),
        (
            "a store on a pool built elsewhere",
            pooled(&url, 2)
                .await
                .with_statement_timeout(Duration::from_millis(300)),
        ),
    ];
    stores[0].1.save("u", &token("r0")).await.unwrap();
    // Another session holds the row (a long transaction, a migration).
    let mut blocker = connect_plain(&url).await;
    let tx = blocker.transaction().await.unwrap();
    tx.execute(
        "SELECT 1 FROM digime_tokens WHERE user_key = 'u' FOR UPDATE",
        &[],
    )
    .await
    .unwrap();
    for (which, store) in &stores {
        let lease = Lease::new("u", Duration::from_secs(5)).unwrap();
        let started = Instant::now();
        let err = store.commit(&lease, 1, &token("r1")).await.unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind(), ErrorKind::TokenStore, "{which}: {err}");
        assert!(err.to_string().contains("57014"), "{which}: {err}"); // query_canceled
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(2),
            "{which}: {took:?}"
        );
    }
    tx.rollback().await.unwrap();
    for (which, store) in &stores {
        let lease = Lease::new("u", Duration::from_secs(5)).unwrap();
        let outcome = store.commit(&lease, 1, &token("r1")).await;
        // The first store's commit landed: the second conflicts with it.
        assert!(outcome.is_ok(), "{which}: {outcome:?}");
    }
}

/// A TCP proxy to PostgreSQL whose connections can be frozen: bytes stop
/// flowing both ways, as in a network cut or a database that stopped
/// answering.
struct Proxy {
    port: u16,
    accepted: Arc<AtomicUsize>,
    /// Connections numbered below this are frozen.
    frozen_below: Arc<AtomicUsize>,
}

impl Proxy {
    async fn start(target: u16) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let frozen_below = Arc::new(AtomicUsize::new(0));
        let (count, frozen) = (accepted.clone(), frozen_below.clone());
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let number = count.fetch_add(1, Ordering::SeqCst);
                let server = tokio::net::TcpStream::connect(("127.0.0.1", target))
                    .await
                    .unwrap();
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                for (mut from, mut to) in [(cr, sw), (sr, cw)] {
                    let frozen = frozen.clone();
                    tokio::spawn(async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut buf = vec![0; 8192];
                        loop {
                            let n = match from.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            while number < frozen.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            if to.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            }
        });
        Proxy {
            port,
            accepted,
            frozen_below,
        }
    }

    /// Freezes every connection opened so far, for good.
    fn freeze(&self) {
        self.frozen_below
            .store(self.accepted.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_stops_answering_ends_in_a_bounded_time_and_its_connection_is_dropped() {
    let cluster = Cluster::get();
    cluster.database("hung");
    let proxy = Proxy::start(cluster.port).await;
    let url = format!(
        "postgres://postgres:pw-s3cret@127.0.0.1:{}/hung",
        proxy.port
    );
    // One connection: a hung one put back in the pool would hang every
    // later call.
    let store = PostgresTokenStore::builder(&url)
        .max_connections(1)
        .statement_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    store.save("u", &token("r0")).await.unwrap();
    proxy.freeze();
    let started = Instant::now();
    let err = store.load("u").await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::TokenStore);
    assert!(err.to_string().contains("took longer than"), "{err}");
    assert!(!err.to_string().contains("pw-s3cret"), "{err}");
    // statement_timeout + 1 s, with room for a busy machine.
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // The next call opens a new connection and works.
    let stored = store.load("u").await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(proxy.accepted.load(Ordering::SeqCst), 2);
    // Every other call too, and taking a lease.
    proxy.freeze();
    let started = Instant::now();
    let err = store
        .acquire_lease("u", Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenStore);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!format!("{store:?}").contains("pw-s3cret"));
}
