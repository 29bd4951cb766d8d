//! A fleet of processes pushing for the same users through a token store:
//! throughput, refreshes and reauthorizations.
//!
//! ```text
//! cargo run --release -p digime-perf --bin bench_fleet -- \
//!     --processes P --concurrency C --users U --count N \
//!     [--token-store postgres://…|file://DIR] [--expire-every-ms MS]
//! ```
//!
//! It starts a sandbox in this process, creates `U` users, and starts `P`
//! worker processes (this program again, in worker mode). Each worker opens
//! a session per user and makes `N` library pushes of 1 KiB, `C` at a time,
//! spreading them over the users. Every `MS` milliseconds, every user's
//! access token expires (on the sandbox), so the workers must refresh.
//!
//! - With `--token-store`, every worker shares the users' tokens through
//!   the store: one refresh per user per expiry across the fleet.
//! - Without it, each worker uses an in-memory store of its own, with its
//!   own tokens for the users (another consent each), so that workers never
//!   compete for a refresh token: one refresh per worker per user per
//!   expiry. This is the baseline the store is measured against.
//!
//! The timed part is the pushes: the workers connect and open their
//! sessions first, then all start at once. It prints the figures, then, as
//! its last line, one JSON object: `pushes`, `errors`, `seconds`,
//! `pushes_per_s`, `refreshes`, `reauthorizations` (and `expiries`,
//! `processes`, `users`, `store`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use digime::sandbox::{Sandbox, generate_private_key_pem};
use digime::store::{MemoryTokenStore, TokenStore};
use digime::{Account, ContractDetails, DigiMe, FileDescriptor, UserAccessToken};
use serde_json::{Value, json};

const APP: &str = "fleet-app";
const CONTRACT: &str = "fleet-contract";

#[derive(Parser, Debug)]
#[command(about = "Measure a fleet of processes pushing through a token store")]
struct Args {
    /// How many worker processes.
    #[arg(long, default_value_t = 4)]
    processes: usize,
    /// How many pushes each worker has in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// How many users the pushes are spread over.
    #[arg(long, default_value_t = 10)]
    users: usize,
    /// How many pushes each worker makes.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// The shared token store (postgres://… or file://DIR); without it,
    /// each worker keeps its own tokens in memory.
    #[arg(long)]
    token_store: Option<String>,
    /// Expire every user's access token this often (0: never).
    #[arg(long, default_value_t = 0)]
    expire_every_ms: u64,
    /// Worker mode (internal): the job, as JSON.
    #[arg(long, hide = true)]
    worker: Option<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match &args.worker {
        Some(job) => runtime.block_on(worker(serde_json::from_str(job)?)),
        None => runtime.block_on(lead(&args)),
    }
}

/// The lead process: the sandbox, the users, the workers, the expiries.
async fn lead(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::builder().keep_bytes_up_to(0).start().await?;
    let pem = generate_private_key_pem()?;
    let contract = ContractDetails::new(CONTRACT, &pem)?;
    sandbox.register_contract(APP, CONTRACT, &contract.public_key_pem())?;
    let dir = std::env::temp_dir().join(format!("digime-bench-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let key = dir.join("key.pem");
    std::fs::write(&key, &pem)?;
    let users: Vec<String> = (0..args.users).map(|u| format!("user-{u}")).collect();
    for user in &users {
        sandbox.create_user(user, &["acc-1"])?;
    }
    if let Some(url) = &args.token_store {
        let store = digime::store::open(url).await?;
        for user in &users {
            store
                .save(user, &sandbox.mint_token(APP, CONTRACT, user)?)
                .await?;
        }
    }

    let mut workers = Vec::new();
    for process in 0..args.processes {
        // Without a shared store, each worker has tokens of its own.
        let tokens: Vec<UserAccessToken> = if args.token_store.is_none() {
            users
                .iter()
                .map(|u| sandbox.mint_token(APP, CONTRACT, u))
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        let job = json!({
            "base_url": sandbox.base_url(), "key": key, "users": users, "tokens": tokens,
            "store": args.token_store, "count": args.count, "concurrency": args.concurrency,
            "process": process,
        });
        let mut child = Command::new(std::env::current_exe()?)
            .arg("--worker")
            .arg(job.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().ok_or("worker stdout")?).lines();
        match lines.next() {
            Some(Ok(line)) if line == "ready" => {}
            other => return Err(format!("worker {process} did not start: {other:?}").into()),
        }
        workers.push((child, lines));
    }

    // All workers are ready: go, and expire tokens on schedule.
    let started = Instant::now();
    for (child, _) in &mut workers {
        writeln!(child.stdin.as_mut().ok_or("worker stdin")?, "go")?;
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let expirer = {
        let (sandbox, users, done) = (sandbox.clone(), users.clone(), done.clone());
        let every = Duration::from_millis(args.expire_every_ms);
        tokio::spawn(async move {
            let mut expiries = 0u64;
            if every.is_zero() {
                return expiries;
            }
            loop {
                tokio::time::sleep(every).await;
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return expiries;
                }
                for user in &users {
                    sandbox.expire_access_token(user);
                }
                expiries += 1;
            }
        })
    };
    let mut reports = Vec::new();
    for (mut child, mut lines) in workers {
        let report = lines.next().ok_or("worker report")??;
        reports.push(serde_json::from_str::<Value>(&report)?);
        child.wait()?;
    }
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let expiries = expirer.await?;

    let sum = |k: &str| {
        reports
            .iter()
            .map(|r| r[k].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    // Latencies: the worst worker's figure.
    let worst = |k: &str| {
        reports
            .iter()
            .map(|r| r[k].as_f64().unwrap_or(0.0))
            .fold(0.0, f64::max)
    };
    let (pushes, errors) = (sum("pushes"), sum("errors"));
    let refused_refreshes = sandbox
        .requests()
        .iter()
        .filter(|r| r.path == "oauth/token" && r.status == 401)
        .count() as u64;
    let reauthorizations = sum("reauthorizations").max(refused_refreshes);
    let refreshes = sandbox.refresh_count();
    let store = args
        .token_store
        .as_deref()
        .map(store_kind)
        .unwrap_or("memory (per worker)");
    let expected = match args.token_store {
        Some(_) => args.users as u64 * expiries,
        None => (args.processes * args.users) as u64 * expiries,
    };
    eprintln!(
        "{} workers x {} in flight, {} users, store: {store}",
        args.processes, args.concurrency, args.users
    );
    eprintln!(
        "{pushes} pushes in {seconds:.2} s = {:.0} pushes/s; {errors} errors",
        pushes as f64 / seconds
    );
    eprintln!(
        "{expiries} expiries: {refreshes} refreshes (expected {expected}), {reauthorizations} reauthorizations"
    );
    sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{}",
        json!({
            "pushes": pushes, "errors": errors, "seconds": seconds,
            "pushes_per_s": pushes as f64 / seconds, "refreshes": refreshes,
            "reauthorizations": reauthorizations, "expiries": expiries,
            "p50_ms": worst("p50_ms"), "p99_ms": worst("p99_ms"), "max_ms": worst("max_ms"),
            "processes": args.processes, "users": args.users, "store": store,
        })
    );
    Ok(())
}

/// The kind of store a URL names, without its credentials.
fn store_kind(url: &str) -> &'static str {
    if url.starts_with("file://") {
        "file"
    } else {
        "postgres"
    }
}

/// A worker process: sessions for every user, `ready`, wait for `go`, push,
/// report one JSON line.
async fn worker(job: Value) -> Result<(), Box<dyn std::error::Error>> {
    let text = |k: &str| job[k].as_str().unwrap_or_default().to_owned();
    let number = |k: &str| job[k].as_u64().unwrap_or(0) as usize;
    let contract = ContractDetails::new(CONTRACT, std::fs::read_to_string(text("key"))?)?;
    let sdk = DigiMe::builder()
        .application_id(APP)
        .base_url(&text("base_url"))
        .build()?;
    let users: Vec<String> = serde_json::from_value(job["users"].clone())?;
    let store: Arc<dyn TokenStore> = match job["store"].as_str() {
        Some(url) => digime::store::open(url).await?,
        None => {
            let memory = Arc::new(MemoryTokenStore::new());
            let tokens: Vec<UserAccessToken> = serde_json::from_value(job["tokens"].clone())?;
            for (user, token) in users.iter().zip(&tokens) {
                memory.save(user, token).await?;
            }
            memory
        }
    };
    let mut sessions = Vec::new();
    for user in &users {
        sessions.push(
            sdk.session_from_store(&contract, store.clone(), user.as_str())
                .await?,
        );
    }
    let descriptor = FileDescriptor::builder()
        .mime_type("application/octet-stream")
        .accounts(vec![Account::new("acc-1")])
        .build();
    println!("ready");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go)?;

    let (count, concurrency, process) = (
        number("count"),
        number("concurrency").max(1),
        number("process"),
    );
    let mut set = tokio::task::JoinSet::new();
    let (mut pushes, mut errors, mut reauthorizations) = (0u64, 0u64, 0u64);
    let mut latencies_ms: Vec<f64> = Vec::with_capacity(count);
    type Done = Result<(Duration, digime::Result<digime::PushOutcome>), tokio::task::JoinError>;
    let mut tally = |result: Done| match result {
        Ok((took, Ok(_))) => {
            pushes += 1;
            latencies_ms.push(took.as_secs_f64() * 1000.0);
        }
        Ok((_, Err(err))) => {
            errors += 1;
            if err.is_reauthorization_required() {
                reauthorizations += 1;
            }
            eprintln!("worker {process}: {err}");
        }
        Err(_) => errors += 1,
    };
    for i in 0..count {
        let session = sessions[i % sessions.len()].clone();
        let descriptor = descriptor.clone();
        set.spawn(async move {
            let mut body = vec![0u8; 1024];
            body[..16].copy_from_slice(&(((process as u128) << 64) | i as u128).to_le_bytes());
            let started = Instant::now();
            let result = session
                .push()
                .library()
                .file(body, "fleet.bin")
                .descriptor(descriptor)
                .send()
                .await;
            (started.elapsed(), result)
        });
        while set.len() >= concurrency {
            if let Some(result) = set.join_next().await {
                tally(result);
            }
        }
    }
    while let Some(result) = set.join_next().await {
        tally(result);
    }
    latencies_ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        latencies_ms
            .get(
                ((latencies_ms.len() as f64 * q) as usize)
                    .min(latencies_ms.len().saturating_sub(1)),
            )
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "{}",
        json!({ "pushes": pushes, "errors": errors, "reauthorizations": reauthorizations,
                "p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": at(1.0) })
    );
    Ok(())
}
