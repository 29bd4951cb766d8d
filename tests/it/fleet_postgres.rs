//! Fleets on PostgreSQL: several processes pushing for the same users
//! through one `PostgresTokenStore`, on a throwaway PostgreSQL cluster
//! (tests/it/support/postgres.rs) and the in-process sandbox.
//!
//! The "processes" are this test binary started again in child mode
//! (`child_process_worker`, a no-op in a normal run), so that each has its
//! own memory, its own SDK and its own connection pool, as the processes of
//! a fleet do.

use crate::support;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use digime::sandbox::{Fault, Sandbox, generate_private_key_pem};
use digime::store::{LeaseAttempt, PostgresTokenStore, TokenStore};
use digime::{Account, ContractDetails, DigiMe, ErrorKind, FileDescriptor};
use serde_json::{Value, json};
use support::postgres::Cluster;
use support::sha256_hex;

const APP: &str = "fleet-app";
const CONTRACT: &str = "fleet-contract";
/// Set in a child process: the JSON job it runs.
const CHILD_ENV: &str = "DIGIME_FLEET_CHILD";

fn descriptor() -> FileDescriptor {
    FileDescriptor::builder()
        .mime_type("text/plain")
        .accounts(vec![Account::new("acc-1")])
        .build()
}

/// A sandbox with the fleet's contract; its key is written to `dir`.
async fn sandbox(dir: &Path) -> (Sandbox, ContractDetails, PathBuf) {
    let sandbox = Sandbox::start().await.unwrap();
    let pem = generate_private_key_pem().unwrap();
    let contract = ContractDetails::new(CONTRACT, &pem).unwrap();
    sandbox
        .register_contract(APP, CONTRACT, &contract.public_key_pem())
        .unwrap();
    let key = dir.join("key.pem");
    std::fs::write(&key, pem).unwrap();
    (sandbox, contract, key)
}

fn sdk(sandbox: &Sandbox, lease_ttl: Duration) -> DigiMe {
    DigiMe::builder()
        .application_id(APP)
        .base_url(&sandbox.base_url())
        .lease_ttl(lease_ttl)
        .build()
        .unwrap()
}

/// Creates `users` users in the sandbox and puts their tokens in the store.
async fn users(sandbox: &Sandbox, store: &PostgresTokenStore, count: usize) -> Vec<String> {
    let mut names = Vec::new();
    for u in 0..count {
        let user = format!("user-{u}");
        sandbox.create_user(&user, &["acc-1"]).unwrap();
        let token = sandbox.mint_token(APP, CONTRACT, &user).unwrap();
        store.save(&user, &token).await.unwrap();
        names.push(user);
    }
    names
}

fn refresh_grants(sandbox: &Sandbox) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| r.path == "oauth/token" && r.claims["grant_type"] == "refresh_token")
        .count()
}

/// Starts this test binary as a child process running `job`.
fn spawn_child(job: &Value) -> tokio::process::Child {
    tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &support::test_path(module_path!(), "child_process_worker"),
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, job.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the child process starts")
}

async fn wait_ok(child: tokio::process::Child, what: &str) {
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what} finishes"))
        .unwrap();
    assert!(
        out.status.success(),
        "{what} failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn wait_for_file(path: &Path, within: Duration) {
    let until = Instant::now() + within;
    while !path.exists() {
        assert!(Instant::now() < until, "{} never appeared", path.display());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The worker of a child process: pushes `count` files for `users` through
/// the store, `phase1` of them, then waits for the `go` file, then the rest;
/// writes one JSON line per push to `out`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn child_process_worker() {
    let Ok(job) = std::env::var(CHILD_ENV) else {
        return; // Not a child: nothing to do.
    };
    let job: Value = serde_json::from_str(&job).unwrap();
    let s = |k: &str| job[k].as_str().unwrap().to_owned();
    let n = |k: &str| job[k].as_u64().unwrap() as usize;
    let pem = std::fs::read_to_string(s("key")).unwrap();
    let contract = ContractDetails::new(CONTRACT, &pem).unwrap();
    let sdk = DigiMe::builder()
        .application_id(APP)
        .base_url(&s("base_url"))
        .lease_ttl(Duration::from_millis(job["lease_ttl_ms"].as_u64().unwrap()))
        .build()
        .unwrap();
    let store: Arc<dyn TokenStore> =
        Arc::new(PostgresTokenStore::connect(&s("store")).await.unwrap());
    let users: Vec<String> = job["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    let mut sessions = Vec::new();
    for user in &users {
        sessions.push(
            sdk.session_from_store(&contract, store.clone(), user.as_str())
                .await
                .unwrap(),
        );
    }
    let (process, count, phase1) = (n("process"), n("count"), n("phase1"));
    let out = PathBuf::from(s("out"));
    let mut lines = Vec::new();
    let push_range = |range: std::ops::Range<usize>| {
        let sessions = sessions.clone();
        async move {
            let mut results = Vec::new();
            let mut set = tokio::task::JoinSet::new();
            for i in range {
                let session = sessions[i % sessions.len()].clone();
                set.spawn(async move {
                    let body = format!("process {process} push {i}");
                    let result = session
                        .push()
                        .library()
                        .file(body.clone().into_bytes(), format!("p{process}-{i}.txt"))
                        .descriptor(descriptor())
                        .send()
                        .await;
                    (i, body, result)
                });
                while set.len() >= 8 {
                    results.push(set.join_next().await.unwrap().unwrap());
                }
            }
            while let Some(r) = set.join_next().await {
                results.push(r.unwrap());
            }
            results
        }
    };
    let mut results = push_range(0..phase1).await;
    std::fs::write(out.with_extension("phase1"), b"done").unwrap();
    if let Some(go) = job["go"].as_str() {
        wait_for_file(Path::new(go), Duration::from_secs(60)).await;
    }
    results.extend(push_range(phase1..count).await);
    for (i, body, result) in results {
        lines.push(match result {
            Ok(_) => json!({"i": i, "sha256": sha256_hex(body.as_bytes()), "ok": true}),
            Err(e) => json!({"i": i, "sha256": sha256_hex(body.as_bytes()), "ok": false,
                "kind": format!("{:?}", e.kind()), "reauth": e.is_reauthorization_required(),
                "message": e.to_string()}),
        });
    }
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(&out, text.join("\n")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_processes_push_for_ten_users_with_one_refresh_per_user() {
    let cluster = Cluster::get();
    let url = cluster.database("fleet_four");
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, _contract, key) = sandbox(dir.path()).await;
    let store = PostgresTokenStore::connect(&url).await.unwrap();
    let users = users(&sandbox, &store, 10).await;
    let go = dir.path().join("go");

    let mut children = Vec::new();
    let mut outs = Vec::new();
    for process in 0..4 {
        let out = dir.path().join(format!("out-{process}.jsonl"));
        children.push(spawn_child(&json!({
            "base_url": sandbox.base_url(), "key": key, "store": url, "users": users,
            "process": process, "count": 100, "phase1": 40, "lease_ttl_ms": 10_000,
            "go": go, "out": out,
        })));
        outs.push(out);
    }
    // Mid-run: once every process pushed its first 40, every token expires.
    for out in &outs {
        wait_for_file(&out.with_extension("phase1"), Duration::from_secs(60)).await;
    }
    assert_eq!(refresh_grants(&sandbox), 0);
    for user in &users {
        sandbox.expire_access_token(user);
    }
    std::fs::write(&go, b"go").unwrap();
    for (i, child) in children.into_iter().enumerate() {
        wait_ok(child, &format!("process {i}")).await;
    }

    // Every answer, held against the library.
    let mut acknowledged = HashSet::new();
    for out in &outs {
        for line in std::fs::read_to_string(out).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["ok"], true, "every push succeeds: {v}");
            assert!(acknowledged.insert(v["sha256"].as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(acknowledged.len(), 400);
    let mut stored: HashMap<String, usize> = HashMap::new();
    for user in &users {
        for entry in sandbox.library(user) {
            *stored.entry(entry.sha256).or_default() += 1;
        }
    }
    assert_eq!(stored.len(), 400, "every push stored");
    assert!(stored.values().all(|&n| n == 1), "none stored twice");
    assert_eq!(stored.keys().cloned().collect::<HashSet<_>>(), acknowledged);
    assert_eq!(refresh_grants(&sandbox), 10, "exactly one refresh per user");
    assert_eq!(sandbox.refresh_count(), 10);
    let refused = sandbox
        .requests()
        .iter()
        .filter(|r| r.path == "oauth/token" && r.status != 200)
        .count();
    assert_eq!(refused, 0, "no reauthorization");
    // The store holds each user's new token, and no lease is left behind.
    for user in &users {
        assert!(matches!(
            store
                .acquire_lease(user, Duration::from_secs(1))
                .await
                .unwrap(),
            LeaseAttempt::Acquired { .. }
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lease_holder_killed_mid_refresh_holds_the_others_only_until_its_lease_expires() {
    let cluster = Cluster::get();
    let url = cluster.database("fleet_kill");
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, contract, key) = sandbox(dir.path()).await;
    let store = Arc::new(PostgresTokenStore::connect(&url).await.unwrap());
    let users = users(&sandbox, &store, 1).await;
    let user = users[0].clone();
    sandbox.expire_access_token(&user);
    // digi.me holds the first refresh before handling it.
    sandbox.inject_fault(Fault::with_delay("oauth/token", Duration::from_secs(30)));

    let lease_ttl = Duration::from_secs(2);
    let victim = spawn_child(&json!({
        "base_url": sandbox.base_url(), "key": key, "store": url, "users": [user],
        "process": 0, "count": 1, "phase1": 1, "lease_ttl_ms": lease_ttl.as_millis() as u64,
        "out": dir.path().join("victim.jsonl"),
    }));
    // Wait until the victim holds the lease and its refresh is on the wire.
    let until = Instant::now() + Duration::from_secs(30);
    let lease_until_ms = loop {
        assert!(Instant::now() < until, "the victim never took the lease");
        if let Some(lease_until_ms) = lease_until(&url, &user).await {
            break lease_until_ms;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut victim = victim;
    victim.kill().await.unwrap(); // SIGKILL

    // The others carry on once the lease expires.
    let started = Instant::now();
    let sdk = sdk(&sandbox, lease_ttl);
    let session = sdk
        .session_from_store(&contract, store.clone(), user.as_str())
        .await
        .unwrap();
    let outcome = session
        .push()
        .library()
        .file(b"after the kill".to_vec(), "after.txt")
        .descriptor(descriptor())
        .send()
        .await
        .expect("the push succeeds without a reauthorization");
    assert!(outcome.token_refreshed());
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(20), "waited {waited:?}");
    let other = spawn_child(&json!({
        "base_url": sandbox.base_url(), "key": key, "store": url, "users": [user],
        "process": 1, "count": 5, "phase1": 5, "lease_ttl_ms": lease_ttl.as_millis() as u64,
        "out": dir.path().join("other.jsonl"),
    }));
    wait_ok(other, "a later process").await;
    for line in std::fs::read_to_string(dir.path().join("other.jsonl"))
        .unwrap()
        .lines()
    {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["ok"], true, "{v}");
    }
    assert_eq!(sandbox.library(&user).len(), 6);
    assert_eq!(sandbox.refresh_count(), 1, "one refresh: the survivor's");
    // The survivor refreshed only once the dead holder's lease had expired.
    let survivor_refresh = sandbox
        .requests()
        .into_iter()
        .find(|r| r.path == "oauth/token" && r.status == 200)
        .expect("the survivor's refresh");
    let received_at_ms = survivor_refresh
        .received_at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        received_at_ms + 50 >= lease_until_ms,
        "refreshed at {received_at_ms} while the lease ran until {lease_until_ms}"
    );
    let refused = sandbox
        .requests()
        .iter()
        .filter(|r| r.path == "oauth/token" && r.status == 401)
        .count();
    assert_eq!(refused, 0, "no reauthorization");
}

/// When the lease on `user`'s row expires (Unix ms), if one is held, read
/// with a plain connection.
async fn lease_until(url: &str, user: &str) -> Option<u64> {
    use digime::store::deadpool_postgres::tokio_postgres;
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT (EXTRACT(EPOCH FROM lease_until) * 1000)::bigint FROM digime_tokens \
             WHERE user_key = $1 AND lease_id IS NOT NULL",
            &[&user],
        )
        .await
        .ok()?;
    row.get::<_, Option<i64>>(0).map(|ms| ms as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_keeps_its_contract_on_a_real_database() {
    let cluster = Cluster::get();
    let url = cluster.database("fleet_contract");
    // A fleet starting at once creates the table once, without an error.
    let mut connects = Vec::new();
    for _ in 0..8 {
        let url = url.clone();
        connects.push(tokio::spawn(async move {
            PostgresTokenStore::connect(&url).await
        }));
    }
    for c in connects {
        c.await.unwrap().expect("every process connects");
    }
    let store = PostgresTokenStore::connect(&url).await.unwrap();
    assert_eq!(store.describe(), cluster.url("fleet_contract"));
    let token = |refresh: &str| {
        digime::UserAccessToken::new(
            digime::Token::new("a", std::time::UNIX_EPOCH),
            digime::Token::new(refresh, std::time::UNIX_EPOCH),
            Some("u".into()),
            None,
        )
    };
    assert!(store.load("u").await.unwrap().is_none());
    assert_eq!(store.save("u", &token("r0")).await.unwrap().version, 1);
    // The stored JSON comes back equal, field for field, at its version.
    let stored = store.load("u").await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(
        serde_json::to_string(&stored.token).unwrap(),
        serde_json::to_string(&token("r0")).unwrap()
    );

    let LeaseAttempt::Acquired { lease, current, .. } = store
        .acquire_lease("u", Duration::from_secs(30))
        .await
        .unwrap()
    else {
        panic!("the first caller gets the lease");
    };
    assert_eq!(current.map(|c| c.version), Some(1));
    // A second caller waits about as long as the lease has left (the
    // database's clock).
    let LeaseAttempt::Held { retry_after, .. } = store
        .acquire_lease("u", Duration::from_secs(30))
        .await
        .unwrap()
    else {
        panic!("a second caller waits");
    };
    assert!(
        retry_after > Duration::from_secs(20) && retry_after <= Duration::from_secs(30),
        "{retry_after:?}"
    );
    store.release(&lease).await.unwrap();
    // Versions, compare-and-set, expiry, takeover, renewal and races: the
    // conformance kit checks them on this store (tests/it/store_conformance.rs).
}

#[tokio::test]
async fn an_unreachable_store_is_a_clear_error_naming_it() {
    // Nothing listens on port 1.
    let err = PostgresTokenStore::builder("postgres://app:secret@127.0.0.1:1/tokens")
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenStore);
    let text = err.to_string();
    assert!(text.contains("postgres://app@127.0.0.1:1/tokens"), "{text}");
    assert!(!text.contains("secret"), "{text}");
    let err = PostgresTokenStore::connect("postgres://app:secret@host:notaport/db")
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("token_store"));
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_fails_at_refresh_time_stops_the_refresh() {
    let cluster = Cluster::get();
    let url = cluster.database("fleet_failing");
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, contract, _key) = sandbox(dir.path()).await;
    let store = Arc::new(PostgresTokenStore::connect(&url).await.unwrap());
    let users = users(&sandbox, &store, 1).await;
    let session = sdk(&sandbox, Duration::from_secs(30))
        .session_from_store(&contract, store.clone(), users[0].as_str())
        .await
        .unwrap();
    // The store breaks after the session opened (its table is gone).
    {
        use digime::store::deadpool_postgres::tokio_postgres;
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .batch_execute("DROP TABLE digime_tokens")
            .await
            .unwrap();
    }
    // A push with a fresh token needs no store at all.
    session
        .push()
        .library()
        .file(b"fresh".to_vec(), "fresh.txt")
        .descriptor(descriptor())
        .send()
        .await
        .expect("no store round trip on the way of a push");
    // A push that needs a refresh cannot take the lease: a clear error, and
    // digi.me never sees a refresh.
    sandbox.expire_access_token(&users[0]);
    let err = session
        .push()
        .library()
        .file(b"stale".to_vec(), "stale.txt")
        .descriptor(descriptor())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenStore, "{err:?}");
    assert!(
        err.to_string().contains(&cluster.url("fleet_failing")),
        "{err}"
    );
    assert_eq!(refresh_grants(&sandbox), 0, "no refresh without the lease");
    assert_eq!(sandbox.library(&users[0]).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_pushes_through_a_postgres_token_store() {
    const BIN: &str = env!("CARGO_BIN_EXE_digime");
    let cluster = Cluster::get();
    let url = cluster.database("fleet_cli");
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, _contract, key) = sandbox(dir.path()).await;
    sandbox.create_user("patient-42", &["acc-1"]).unwrap();
    let token = sandbox.mint_token(APP, CONTRACT, "patient-42").unwrap();
    let token_json = serde_json::to_string(&token).unwrap();
    std::fs::write(dir.path().join("token.json"), &token_json).unwrap();
    let cli = |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(args)
            .env("DIGIME_BASE_URL", sandbox.base_url())
            .env("DIGIME_APP_ID", APP)
            .env("DIGIME_CONTRACT_ID", CONTRACT)
            .env("DIGIME_KEY_FILE", &key)
            .env("DIGIME_TOKEN_STORE", &url)
            .env("DIGIME_USER", "patient-42")
            .env_remove("DIGIME_TOKEN_FILE")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    };
    let out = cli(&["token", "put", "token.json"]).output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Three processes with an expired token: one refresh among them.
    sandbox.expire_access_token("patient-42");
    let mut children = Vec::new();
    for i in 0..3 {
        let file = dir.path().join(format!("f{i}.txt"));
        std::fs::write(&file, format!("file {i}")).unwrap();
        children.push(
            cli(&[
                "push",
                "library",
                file.to_str().unwrap(),
                "--account",
                "acc-1",
            ])
            .spawn()
            .unwrap(),
        );
    }
    for child in children {
        let out = child.wait_with_output().await.unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(sandbox.library("patient-42").len(), 3);
    assert_eq!(refresh_grants(&sandbox), 1);

    // token get prints the stored token: the refreshed one.
    let out = cli(&["token", "get"]).output().await.unwrap();
    assert!(out.status.success());
    let stored: digime::UserAccessToken = serde_json::from_slice(&out.stdout).unwrap();
    use digime::secrecy::ExposeSecret;
    assert_ne!(
        stored.refresh_token().value().expose_secret(),
        token.refresh_token().value().expose_secret()
    );
    let store = PostgresTokenStore::connect(&url).await.unwrap();
    let in_db = store.load("patient-42").await.unwrap().unwrap().token;
    assert_eq!(
        in_db.refresh_token().value().expose_secret(),
        stored.refresh_token().value().expose_secret()
    );
}

/// Two `digime push library` processes on a PostgreSQL store with
/// `--lease-ttl 4`. The first refreshes, and its write of the new token
/// stalls in the database for longer than the lease lives (a trigger sleeps
/// in the first statement that changes the token, as a write does behind a
/// lock or a failover). Its heartbeat keeps the lease, so the second waits
/// for the token instead of spending the old refresh token: both exit 0,
/// with one refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cli_processes_and_a_token_write_that_stalls_past_the_lease() {
    const BIN: &str = env!("CARGO_BIN_EXE_digime");
    let cluster = Cluster::get();
    let url = cluster.database("fleet_stall");
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, _contract, key) = sandbox(dir.path()).await;
    sandbox.create_user("patient-42", &["acc-1"]).unwrap();
    let token = sandbox.mint_token(APP, CONTRACT, "patient-42").unwrap();
    std::fs::write(
        dir.path().join("token.json"),
        serde_json::to_string(&token).unwrap(),
    )
    .unwrap();
    let cli = |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(["--lease-ttl", "4"])
            .args(args)
            .env("DIGIME_BASE_URL", sandbox.base_url())
            .env("DIGIME_APP_ID", APP)
            .env("DIGIME_CONTRACT_ID", CONTRACT)
            .env("DIGIME_KEY_FILE", &key)
            .env("DIGIME_TOKEN_STORE", &url)
            .env("DIGIME_USER", "patient-42")
            .env_remove("DIGIME_TOKEN_FILE")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    };
    let out = cli(&["token", "put", "token.json"]).output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The stall: the first statement that changes a token (the session that
    // takes the advisory lock keeps it) sleeps 4.5 s, past the lease's 4 s.
    use digime::store::deadpool_postgres::tokio_postgres;
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    db.batch_execute(
        "CREATE FUNCTION digime_stall() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
           IF NEW.token IS DISTINCT FROM OLD.token AND pg_try_advisory_lock(4242) THEN \
             PERFORM pg_sleep(4.5); \
           END IF; \
           RETURN NEW; \
         END $$; \
         CREATE TRIGGER digime_stall BEFORE UPDATE ON digime_tokens \
           FOR EACH ROW EXECUTE FUNCTION digime_stall();",
    )
    .await
    .unwrap();

    sandbox.expire_access_token("patient-42");
    let push = |name: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, name).unwrap();
        cli(&[
            "push",
            "library",
            file.to_str().unwrap(),
            "--account",
            "acc-1",
        ])
        .spawn()
        .unwrap()
    };
    let first = push("a.txt");
    // The second starts once the first's write is stalled.
    let started = std::time::Instant::now();
    loop {
        let sleeping: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if sleeping > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no stalled write"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = push("b.txt");
    for (name, child) in [("first", first), ("second", second)] {
        let out = child.wait_with_output().await.unwrap();
        assert!(
            out.status.success(),
            "the {name} process: exit {:?}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(refresh_grants(&sandbox), 1, "one refresh");
    assert_eq!(sandbox.library("patient-42").len(), 2);
    let store = PostgresTokenStore::connect(&url).await.unwrap();
    let stored = store.load("patient-42").await.unwrap().unwrap();
    assert_eq!(stored.version, 2, "the new token, written once");
}
