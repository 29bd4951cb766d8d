//! Streamed uploads and shared sessions: files from disk, one-shot readers,
//! upload progress, and one refresh for many concurrent pushes.

use crate::support;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use digime::push::FileData;
use digime::secrecy::ExposeSecret;
use digime::{Account, ErrorKind, FileDescriptor};
use support::{Env, USER, sha256_hex};

fn descriptor() -> FileDescriptor {
    FileDescriptor::builder()
        .mime_type("application/octet-stream")
        .accounts(vec![Account::new("a-1")])
        .build()
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("digime-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test]
async fn a_file_is_streamed_from_disk_with_a_content_length_and_progress() {
    let env = Env::new().await;
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let path = temp_file("streamed.bin", &bytes);
    let last = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let (l, c) = (last.clone(), calls.clone());
    env.sdk
        .push(&env.contract, &env.token)
        .library()
        .file(FileData::from_path(&path).await.unwrap(), "streamed.bin")
        .descriptor(descriptor())
        .on_progress(move |sent, total| {
            assert!(Some(sent) <= total);
            l.store(sent, Ordering::SeqCst);
            c.fetch_add(1, Ordering::SeqCst);
        })
        .send()
        .await
        .expect("streamed push");
    assert_eq!(
        last.load(Ordering::SeqCst),
        bytes.len() as u64,
        "progress reaches the total"
    );
    assert!(
        calls.load(Ordering::SeqCst) > 1,
        "progress is reported as the upload goes"
    );
    let entry = &env.sandbox.library(USER)[0];
    assert_eq!(entry.size, bytes.len() as u64);
    assert_eq!(entry.sha256, sha256_hex(&bytes));
    let import = env
        .sandbox
        .requests()
        .into_iter()
        .find(|r| r.path == "permission-access/import")
        .unwrap();
    let headers: Vec<String> = import
        .headers
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    assert!(
        headers.contains(&"content-length".to_string()),
        "{headers:?}"
    );
    assert!(
        !headers.contains(&"transfer-encoding".to_string()),
        "{headers:?}"
    );
}

#[tokio::test]
async fn a_file_is_reopened_when_the_push_is_sent_again_after_a_refresh() {
    let env = Env::new().await;
    let bytes = vec![42u8; 200_000];
    let path = temp_file("reopened.bin", &bytes);
    env.sandbox.expire_access_token(USER);
    let outcome = env
        .sdk
        .push(&env.contract, &env.token)
        .library()
        .file(FileData::from_path(&path).await.unwrap(), "reopened.bin")
        .descriptor(descriptor())
        .send()
        .await
        .expect("the file is sent again");
    assert!(outcome.token_refreshed());
    let library = env.sandbox.library(USER);
    assert_eq!(library.len(), 1);
    assert_eq!(library[0].sha256, sha256_hex(&bytes));
}

#[tokio::test]
async fn a_reader_that_cannot_be_replayed_returns_the_new_token_and_stores_nothing() {
    let env = Env::new().await;
    env.sandbox.expire_access_token(USER);
    let hook_calls = Arc::new(AtomicUsize::new(0));
    let h = hook_calls.clone();
    let err = env
        .sdk
        .push(&env.contract, &env.token)
        .library()
        .file(
            FileData::from_reader(std::io::Cursor::new(vec![1u8; 1000]), 1000),
            "once.bin",
        )
        .descriptor(descriptor())
        .on_access_token_change(move |_| {
            h.fetch_add(1, Ordering::SeqCst);
        })
        .send()
        .await
        .expect_err("a reader cannot be sent twice");
    assert_eq!(err.kind(), ErrorKind::DataNotReplayable);
    let token = err.user_access_token().expect("the new token is not lost");
    assert_ne!(
        token.access_token().value().expose_secret(),
        env.token.access_token().value().expose_secret()
    );
    assert_eq!(hook_calls.load(Ordering::SeqCst), 1);
    assert!(
        env.sandbox.library(USER).is_empty(),
        "no success that did not happen"
    );
    // The new token works.
    env.sdk
        .push(&env.contract, token)
        .library()
        .file(
            FileData::from_reader(std::io::Cursor::new(vec![1u8; 1000]), 1000),
            "once.bin",
        )
        .descriptor(descriptor())
        .send()
        .await
        .expect("sent again with the new token");
    assert_eq!(env.sandbox.library(USER).len(), 1);
}

#[tokio::test]
async fn a_reader_shorter_than_its_length_fails_and_stores_nothing() {
    let env = Env::new().await;
    let err = env
        .sdk
        .push(&env.contract, &env.token)
        .library()
        .file(
            FileData::from_reader(std::io::Cursor::new(vec![1u8; 10]), 100),
            "short.bin",
        )
        .descriptor(descriptor())
        .send()
        .await
        .expect_err("a short body is not a success");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
    assert_eq!(err.field(), Some("file"));
    assert!(
        err.to_string().contains("declared length of 100 bytes"),
        "{err}"
    );
    assert!(!err.may_have_been_stored(), "{err:?}");
    assert!(env.sandbox.library(USER).is_empty());
}

#[tokio::test]
async fn a_reader_longer_than_its_length_fails_and_stores_nothing() {
    let env = Env::new().await;
    // Small (sent whole) and large (several chunks) bodies alike.
    for (actual, declared) in [(101usize, 100u64), (300 * 1024, 200 * 1024)] {
        let err = env
            .sdk
            .push(&env.contract, &env.token)
            .library()
            .file(
                FileData::from_reader(std::io::Cursor::new(vec![7u8; actual]), declared),
                "long.bin",
            )
            .descriptor(descriptor())
            .send()
            .await
            .expect_err("a long reader is not cut silently");
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
        assert_eq!(err.field(), Some("file"));
        assert!(
            err.to_string().contains(&format!(
                "longer than its declared length of {declared} bytes"
            )),
            "{err}"
        );
        assert!(!err.may_have_been_stored(), "{err:?}");
    }
    // Nothing stored, not even the declared prefix.
    assert!(env.sandbox.library(USER).is_empty());
}

#[tokio::test]
async fn an_expired_token_known_in_advance_is_refreshed_before_sending() {
    let env = Env::new().await;
    let mut json = serde_json::to_value(&env.token).unwrap();
    json["accessToken"]["expiry"] = 1.into(); // long past
    let stale: digime::UserAccessToken = serde_json::from_value(json).unwrap();
    let outcome = env
        .sdk
        .push(&env.contract, &stale)
        .library()
        .file(
            FileData::from_reader(std::io::Cursor::new(vec![5u8; 64]), 64),
            "r.bin",
        )
        .descriptor(descriptor())
        .send()
        .await
        .expect("a reader is fine: the refresh came first");
    assert!(outcome.token_refreshed());
    let statuses: Vec<u16> = env
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path == "permission-access/import")
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![200], "no 401 round trip");
}

#[tokio::test]
async fn many_concurrent_pushes_through_a_session_share_one_refresh() {
    let env = Env::new().await;
    env.sandbox.expire_access_token(USER);
    let session = env.sdk.session(&env.contract, env.token.clone());
    let changes = Arc::new(Mutex::new(Vec::new()));
    let c = changes.clone();
    session.on_access_token_change(move |t| c.lock().unwrap().push(t.clone()));
    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let session = session.clone();
        tasks.push(tokio::spawn(async move {
            session
                .push()
                .library()
                .file(i.to_le_bytes().to_vec(), format!("f{i}"))
                .descriptor(descriptor())
                .send()
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().expect("every push succeeds");
    }
    assert_eq!(env.sandbox.refresh_count(), 1, "one refresh call");
    assert_eq!(session.refresh_count(), 1);
    assert_eq!(changes.lock().unwrap().len(), 1, "the hook fires once");
    let library = env.sandbox.library(USER);
    assert_eq!(library.len(), 200, "every file stored");
    let distinct: std::collections::HashSet<_> = library.iter().map(|e| e.sha256.clone()).collect();
    assert_eq!(distinct.len(), 200, "each exactly once");
    assert_eq!(
        session
            .user_access_token()
            .access_token()
            .value()
            .expose_secret(),
        changes.lock().unwrap()[0]
            .access_token()
            .value()
            .expose_secret()
    );
}

#[tokio::test]
async fn a_session_whose_refresh_token_is_spent_fails_every_call_the_same_way() {
    let env = Env::new().await;
    env.sandbox.expire_access_token(USER);
    env.sandbox.expire_refresh_token(USER);
    let session = env.sdk.session(&env.contract, env.token.clone());
    for _ in 0..3 {
        let err = session.read_accounts().await.unwrap_err();
        assert!(err.is_reauthorization_required());
    }
    let refresh_calls = env
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path == "oauth/token")
        .count();
    // A refusal answers the refresh that met it, and is not remembered:
    // each call asks digi.me again (a new token may have been authorized).
    assert_eq!(refresh_calls, 3, "one refusal per call, none remembered");
}

#[tokio::test]
async fn a_failure_after_a_refresh_still_hands_back_the_new_token() {
    let env = Env::new().await;
    let mut json = serde_json::to_value(&env.token).unwrap();
    json["accessToken"]["expiry"] = 1.into(); // known expired: refreshed first
    let stale: digime::UserAccessToken = serde_json::from_value(json).unwrap();
    env.sandbox.inject_fault(digime::sandbox::Fault {
        path: "permission-access/import".into(),
        count: 10,
        status: Some(503),
        ..Default::default()
    });
    let err = env
        .sdk
        .push(&env.contract, &stale)
        .library()
        .file(b"x".to_vec(), "x.bin")
        .descriptor(descriptor())
        .send()
        .await
        .expect_err("503 on every attempt");
    assert_eq!(err.status(), Some(503));
    let fresh = err
        .user_access_token()
        .expect("the refreshed token travels with the error");
    env.sandbox.clear_faults();
    // The old refresh token is spent (for another client, which does not
    // remember this one's rotation); the one in the error works.
    let other = digime::DigiMe::builder()
        .application_id(support::APP)
        .base_url(&env.sandbox.base_url())
        .build()
        .unwrap();
    assert!(
        other
            .refresh(&env.contract, &env.token)
            .await
            .unwrap_err()
            .is_reauthorization_required()
    );
    env.sdk
        .read_accounts(&env.contract, fresh)
        .await
        .expect("the new token works");
}

#[tokio::test]
async fn a_large_file_is_sent_again_after_a_401_the_server_sent_early() {
    let env = Env::new().await;
    // Big enough that the server answers 401 before it has read the body.
    let bytes = vec![7u8; 24 << 20];
    let path = temp_file("early-401.bin", &bytes);
    env.sandbox.expire_access_token(USER);
    let outcome = env
        .sdk
        .push(&env.contract, &env.token)
        .library()
        .file(FileData::from_path(&path).await.unwrap(), "early-401.bin")
        .descriptor(descriptor())
        .send()
        .await
        .expect("refreshed, reopened and sent again");
    assert!(outcome.token_refreshed());
    let library = env.sandbox.library(USER);
    assert_eq!(library.len(), 1);
    assert_eq!(library[0].size, bytes.len() as u64);
}

/// A library push of `data` for the user of `token`.
async fn push(
    env: &Env,
    token: &digime::UserAccessToken,
    data: FileData,
    name: &str,
) -> digime::Result<digime::PushOutcome> {
    env.sdk
        .push(&env.contract, token)
        .library()
        .file(data, name)
        .descriptor(descriptor())
        .send()
        .await
}

/// `chunks` as a stream of byte chunks, the way a multipart field yields them.
fn chunk_stream(
    chunks: Vec<Vec<u8>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    futures_util::stream::iter(chunks.into_iter().map(Ok))
}

fn library_imports(env: &Env) -> Vec<digime::sandbox::RequestRecord> {
    env.sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path == "permission-access/import")
        .collect()
}

#[tokio::test]
async fn a_stream_of_unknown_length_is_sent_chunked_and_stored_like_any_push() {
    let env = Env::new().await;
    // Chunks of uneven sizes, one of them empty, 3 MB in all.
    let mut chunks = Vec::new();
    let mut all = Vec::new();
    for (i, size) in [1usize, 65_536, 0, 1_000_003, 7, 1_934_453]
        .into_iter()
        .enumerate()
    {
        let chunk: Vec<u8> = (0..size).map(|j| ((i * 31 + j) % 251) as u8).collect();
        all.extend_from_slice(&chunk);
        chunks.push(chunk);
    }
    let calls = Arc::new(Mutex::new(Vec::new()));
    let c = calls.clone();
    let data = FileData::from_stream(chunk_stream(chunks));
    assert_eq!(data.len(), None);
    env.sdk
        .push(&env.contract, &env.token)
        .library()
        .file(data, "streamed.bin")
        .descriptor(descriptor())
        .on_progress(move |sent, total| c.lock().unwrap().push((sent, total)))
        .send()
        .await
        .expect("a chunked push is stored");

    let entry = &env.sandbox.library(USER)[0];
    assert_eq!(entry.size, all.len() as u64);
    assert_eq!(entry.sha256, sha256_hex(&all));
    assert_eq!(
        entry.bytes.as_deref(),
        Some(&all[..]),
        "the bytes themselves"
    );

    let imports = library_imports(&env);
    assert_eq!(imports.len(), 1);
    let headers: Vec<String> = imports[0]
        .headers
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    assert!(
        headers.contains(&"transfer-encoding".to_string()),
        "sent chunked: {headers:?}"
    );
    assert!(
        !headers.contains(&"content-length".to_string()),
        "no length was claimed: {headers:?}"
    );
    assert_eq!(imports[0].body_sha256.as_deref(), Some(&*sha256_hex(&all)));

    let calls = calls.lock().unwrap();
    let (last, rest) = calls.split_last().expect("progress was reported");
    assert_eq!(
        *last,
        (all.len() as u64, Some(all.len() as u64)),
        "the total once the stream ended"
    );
    assert!(rest.len() >= 4, "one report per non-empty chunk: {rest:?}");
    assert!(
        rest.iter().all(|(_, total)| total.is_none()),
        "no total while the stream goes"
    );
    assert!(rest.windows(2).all(|w| w[0].0 < w[1].0), "sent grows");
}

#[tokio::test]
async fn a_stream_refused_with_401_returns_the_refreshed_token_and_stores_nothing() {
    let env = Env::new().await;
    env.sandbox.expire_access_token(USER);
    let once = || FileData::from_stream(chunk_stream(vec![vec![3u8; 100_000]; 4]));
    let err = push(&env, &env.token, once(), "once.bin")
        .await
        .expect_err("a stream cannot be sent twice");
    assert_eq!(err.kind(), ErrorKind::DataNotReplayable, "{err}");
    assert!(!err.may_have_been_stored(), "the 401 says it was not");
    let fresh = err
        .user_access_token()
        .expect("the refreshed token is kept");
    assert!(env.sandbox.library(USER).is_empty());
    assert_eq!(library_imports(&env).len(), 1, "sent once, never again");
    // The token in the error works: the data is pushed again from its source.
    push(&env, fresh, once(), "once.bin")
        .await
        .expect("sent with the refreshed token");
    assert_eq!(env.sandbox.library(USER).len(), 1);
}

#[tokio::test]
async fn a_stream_with_a_token_known_to_be_expired_is_refreshed_before_it_is_read() {
    let env = Env::new().await;
    let mut json = serde_json::to_value(&env.token).unwrap();
    json["accessToken"]["expiry"] = 1.into();
    let stale: digime::UserAccessToken = serde_json::from_value(json).unwrap();
    let outcome = push(
        &env,
        &stale,
        FileData::from_stream(chunk_stream(vec![b"a,b\n".to_vec(), b"1,2\n".to_vec()])),
        "t.csv",
    )
    .await
    .expect("the proactive refresh keeps the stream usable");
    assert!(outcome.token_refreshed());
    assert_eq!(
        env.sandbox.library(USER)[0].sha256,
        sha256_hex(b"a,b\n1,2\n")
    );
}

#[tokio::test]
async fn a_stream_is_never_sent_twice_whatever_the_failure() {
    let env = Env::new().await;
    // A 503 is retried for other data; a stream cannot be.
    env.sandbox
        .inject_fault(digime::sandbox::Fault::with_status(
            "permission-access/import",
            503,
        ));
    let err = push(
        &env,
        &env.token,
        FileData::from_stream(chunk_stream(vec![vec![1u8; 10]])),
        "a.bin",
    )
    .await
    .expect_err("one attempt only");
    assert_eq!(err.status(), Some(503));
    assert!(!err.may_have_been_stored(), "a 503 was not acted on");
    assert_eq!(library_imports(&env).len(), 1);

    // Stored, then the connection dropped: ambiguous, and not sent again.
    env.sandbox.inject_fault(
        digime::sandbox::Fault::dropping_connection("permission-access/import").after_handling(),
    );
    let err = push(
        &env,
        &env.token,
        FileData::from_stream(chunk_stream(vec![vec![2u8; 10]])),
        "b.bin",
    )
    .await
    .expect_err("the answer was lost");
    assert!(err.may_have_been_stored(), "{err}");
    assert_eq!(library_imports(&env).len(), 2, "not sent again");
    assert_eq!(env.sandbox.library(USER).len(), 1, "stored once");
}

#[tokio::test]
async fn a_stream_that_fails_stores_nothing_and_says_whether_bytes_went_out() {
    let env = Env::new().await;
    let failing = |before: Vec<Vec<u8>>| {
        futures_util::stream::iter(
            before
                .into_iter()
                .map(Ok)
                .chain([Err(std::io::Error::other("the upload was cut"))]),
        )
    };
    // Fails before any byte: nothing can have reached digi.me.
    let err = push(
        &env,
        &env.token,
        FileData::from_stream(failing(vec![])),
        "a.bin",
    )
    .await
    .expect_err("the stream failed");
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(!err.may_have_been_stored(), "no byte went out");

    // Fails half-way: the chunked body has no end, so the sandbox stores
    // nothing, but digi.me read part of it: the SDK does not claim more
    // than it knows.
    let err = push(
        &env,
        &env.token,
        FileData::from_stream(failing(vec![vec![9u8; 200_000]])),
        "b.bin",
    )
    .await
    .expect_err("the stream failed");
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(err.may_have_been_stored(), "bytes went out: {err}");
    assert!(
        env.sandbox.library(USER).is_empty(),
        "a cut body is not stored"
    );
}
