//! Load: 2,000 library pushes at concurrency 64 through one shared
//! `UserSession`, with the access token expiring twice mid-run. Every push
//! succeeds, the library holds each file exactly once, and each expiry costs
//! exactly one refresh (single-flight). Debug build, under a minute.

use crate::support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use digime::{Account, FileDescriptor};
use futures_util::StreamExt;
use support::{Env, USER, sha256_hex};

const PUSHES: usize = 2_000;
const CONCURRENCY: usize = 64;
/// The access token is expired on the server when this many pushes are done.
const EXPIRE_AT: [usize; 2] = [600, 1_400];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_pushes_at_concurrency_64_with_the_token_expiring_mid_run() {
    let env = Env::new().await;
    let session = env.sdk.session(&env.contract, env.token.clone());
    let hook_calls = Arc::new(AtomicUsize::new(0));
    {
        let hook_calls = hook_calls.clone();
        session.on_access_token_change(move |_| {
            hook_calls.fetch_add(1, Ordering::SeqCst);
        });
    }
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();

    let results: Vec<(usize, digime::Result<digime::PushOutcome>)> =
        futures_util::stream::iter(0..PUSHES)
            .map(|i| {
                let session = session.clone();
                let sandbox = env.sandbox.clone();
                let done = done.clone();
                async move {
                    let task = tokio::spawn(async move {
                        let result = session
                            .push()
                            .library()
                            .file(body(i), format!("record-{i}.json"))
                            .descriptor(
                                FileDescriptor::builder()
                                    .mime_type("application/json")
                                    .accounts(vec![Account::new("acc-1")])
                                    .tags(vec![format!("n{i}")])
                                    .build(),
                            )
                            .send()
                            .await;
                        let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
                        if EXPIRE_AT.contains(&finished) {
                            sandbox.expire_access_token(USER);
                        }
                        result
                    });
                    (i, task.await.expect("the push task does not panic"))
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    let elapsed = started.elapsed();
    eprintln!(
        "load: {PUSHES} pushes at concurrency {CONCURRENCY} in {:.2} s ({:.0} pushes/s), {} refreshes",
        elapsed.as_secs_f64(),
        PUSHES as f64 / elapsed.as_secs_f64(),
        env.sandbox.refresh_count()
    );

    // Zero errors.
    let errors: Vec<String> = results
        .iter()
        .filter_map(|(i, r)| r.as_ref().err().map(|e| format!("#{i}: {e}")))
        .collect();
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    assert_eq!(results.len(), PUSHES);

    // Each file stored exactly once.
    let library = env.sandbox.library(USER);
    assert_eq!(library.len(), PUSHES, "nothing lost, nothing doubled");
    let mut stored: HashMap<String, usize> = HashMap::new();
    for entry in &library {
        *stored.entry(entry.sha256.clone()).or_default() += 1;
    }
    for i in 0..PUSHES {
        assert_eq!(
            stored.get(&sha256_hex(&body(i))),
            Some(&1),
            "push #{i} stored exactly once"
        );
    }

    // One refresh per expiry, seen by the server, the session and its hook.
    assert_eq!(
        env.sandbox.refresh_count(),
        EXPIRE_AT.len(),
        "one refresh per expiry"
    );
    assert_eq!(session.refresh_count(), EXPIRE_AT.len() as u64);
    assert_eq!(hook_calls.load(Ordering::SeqCst), EXPIRE_AT.len());
    let token_calls = env
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.path == "oauth/token")
        .count();
    assert_eq!(
        token_calls,
        EXPIRE_AT.len(),
        "no refresh call beyond one per expiry"
    );
    // The expiries really hit pushes in flight.
    let rejected = env
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.path == "permission-access/import" && r.status == 401)
        .count();
    assert!(
        rejected >= EXPIRE_AT.len(),
        "{rejected} pushes met an expired token"
    );
    // The session ends with a working token.
    assert!(
        session.read_accounts().await.is_ok(),
        "the session's final token works"
    );

    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}

fn body(i: usize) -> Vec<u8> {
    format!("{{\"resourceType\":\"Observation\",\"id\":\"obs-{i}\",\"valueQuantity\":{{\"value\":{i}}}}}")
        .into_bytes()
}
