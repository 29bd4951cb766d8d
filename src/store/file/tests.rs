use super::*;
use crate::token::Token;
use secrecy::ExposeSecret;

fn token(refresh: &str) -> UserAccessToken {
    UserAccessToken::new(
        Token::from_unix_secs("a", 1),
        Token::from_unix_secs(refresh, 2),
        None,
        None,
    )
}

fn refresh_of(stored: &StoredToken) -> String {
    stored
        .token
        .refresh_token()
        .value()
        .expose_secret()
        .to_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "digime-file-store-{}-{name}-{}",
        std::process::id(),
        crate::signer::nonce::random_alnum(6).unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sidecar(store: &FileTokenStore, user: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(store.lock_path(user)).unwrap()).unwrap()
}

#[test]
fn user_keys_become_safe_distinct_file_names() {
    assert_eq!(file_stem("patient-42_a"), "patient-42_a");
    assert_eq!(file_stem("../etc/passwd"), "%2E%2E%2Fetc%2Fpasswd");
    assert_ne!(file_stem("a b"), file_stem("a%20b"));
}

#[tokio::test]
async fn the_token_file_stays_the_sdk_json_and_the_metadata_is_in_the_sidecar() {
    let dir = scratch("format");
    let store = FileTokenStore::new(&dir).unwrap();
    store.save("u", &token("r0")).await.unwrap();
    let LeaseAttempt::Acquired { lease, .. } = store
        .acquire_lease("u", Duration::from_secs(30))
        .await
        .unwrap()
    else {
        panic!("the first caller takes the lease");
    };
    // The token file is the token's own JSON, nothing else, mode 0600.
    assert_eq!(
        std::fs::read_to_string(store.token_path("u")).unwrap(),
        serde_json::to_string(&token("r0")).unwrap()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for path in [store.token_path("u"), store.lock_path("u")] {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
    }
    let meta = sidecar(&store, "u");
    assert_eq!(meta["version"], 1);
    assert_eq!(meta["fingerprint"], refresh_fingerprint(&token("r0")));
    assert_eq!(meta["lease"]["id"], lease.id());
    assert_eq!(
        meta["lease"]["until"].as_u64().unwrap(),
        unix_ms(lease.expires_at())
    );
    // A commit records the refresh token it replaces, and ends the lease.
    let outcome = store.commit(&lease, 1, &token("r1")).await.unwrap();
    assert!(
        matches!(outcome, CommitOutcome::Committed(2)),
        "{outcome:?}"
    );
    let meta = sidecar(&store, "u");
    assert_eq!(meta["version"], 2);
    assert_eq!(meta["rotated"][0], refresh_fingerprint(&token("r0")));
    assert!(meta.get("lease").is_none(), "{meta}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_token_file_written_from_outside_is_a_new_version() {
    let dir = scratch("outside");
    let store = FileTokenStore::new(&dir).unwrap();
    // Looking for a user never written creates nothing.
    assert!(store.load("nobody").await.unwrap().is_none());
    assert!(!store.lock_path("nobody").exists());
    // A token file with no sidecar (an older SDK's): version 1.
    std::fs::write(
        store.token_path("u"),
        serde_json::to_string(&token("r0")).unwrap(),
    )
    .unwrap();
    let stored = store.load("u").await.unwrap().unwrap();
    assert_eq!((refresh_of(&stored), stored.version), ("r0".into(), 1));
    // An older SDK's empty lock file is no metadata either.
    let single = dir.join("token.json");
    std::fs::write(&single, serde_json::to_string(&token("s0")).unwrap()).unwrap();
    std::fs::write(dir.join("token.json.lock"), b"").unwrap();
    let file_store = FileTokenStore::single_file(&single);
    assert_eq!(file_store.load("any").await.unwrap().unwrap().version, 1);
    // Reading it again changes nothing.
    assert_eq!(store.load("u").await.unwrap().unwrap().version, 1);
    // The store writes version 2; an operator's `cp` of another token
    // makes version 3, and a second `cp` version 4.
    assert_eq!(store.save("u", &token("r1")).await.unwrap().version, 2);
    for (refresh, version) in [("x1", 3), ("x2", 4)] {
        std::fs::write(
            store.token_path("u"),
            serde_json::to_string(&token(refresh)).unwrap(),
        )
        .unwrap();
        let stored = store.load("u").await.unwrap().unwrap();
        assert_eq!(
            (refresh_of(&stored), stored.version),
            (refresh.into(), version)
        );
    }
    // A commit that read version 2 no longer lands.
    let lease = Lease::new("u", Duration::from_secs(5)).unwrap();
    let CommitOutcome::Conflict(Some(current)) =
        store.commit(&lease, 2, &token("late")).await.unwrap()
    else {
        panic!("a stale commit lands nowhere");
    };
    assert_eq!((refresh_of(&current), current.version), ("x2".into(), 4));
    // A deleted token file is nothing stored: a commit on version 0
    // lands, after the versions already used.
    std::fs::remove_file(store.token_path("u")).unwrap();
    assert!(store.load("u").await.unwrap().is_none());
    let outcome = store.commit(&lease, 0, &token("r5")).await.unwrap();
    assert!(
        matches!(outcome, CommitOutcome::Committed(5)),
        "{outcome:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn only_a_commit_to_another_token_is_a_rotation() {
    let dir = scratch("same");
    let store = FileTokenStore::new(&dir).unwrap();
    // Saves replace tokens without spending them: no rotation.
    for (version, refresh) in [(1, "r0"), (2, "r0"), (3, "r1"), (4, "r0")] {
        let saved = store.save("u", &token(refresh)).await.unwrap();
        assert_eq!(saved, Saved::new(version, false), "{refresh}");
    }
    let lease = Lease::new("u", Duration::from_secs(5)).unwrap();
    for (expected, refresh) in [(4, "r0"), (5, "r2")] {
        let outcome = store
            .commit(&lease, expected, &token(refresh))
            .await
            .unwrap();
        assert!(matches!(outcome, CommitOutcome::Committed(v) if v == expected + 1));
    }
    // A commit of the same token rotated nothing; the one to r2 did.
    let meta = sidecar(&store, "u");
    assert_eq!(
        meta["rotated"],
        serde_json::json!([refresh_fingerprint(&token("r0"))])
    );
    assert!(store.save("u", &token("r0")).await.unwrap().already_rotated);
    assert!(!store.save("u", &token("r1")).await.unwrap().already_rotated);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_lease_outlives_the_handle_that_took_it_and_a_shorter_sidecar_stays_json() {
    let dir = scratch("stamp");
    let store = FileTokenStore::new(&dir).unwrap();
    // Sixteen rotations make a long sidecar.
    store.save("u", &token("r0")).await.unwrap();
    let lease = Lease::new("u", Duration::from_secs(5)).unwrap();
    for i in 1..=ROTATED_KEPT {
        let outcome = store
            .commit(&lease, i as u64, &token(&format!("r{i}")))
            .await
            .unwrap();
        assert!(matches!(outcome, CommitOutcome::Committed(_)));
    }
    let lease = {
        // Another handle, as another process would have, takes the lease
        // and goes away without giving it back.
        let other = FileTokenStore::new(&dir).unwrap();
        let LeaseAttempt::Acquired {
            lease,
            took_over: false,
            ..
        } = other
            .acquire_lease("u", Duration::from_secs(30))
            .await
            .unwrap()
        else {
            panic!("the first caller takes the lease");
        };
        lease
    };
    let LeaseAttempt::Held { retry_after, .. } = store
        .acquire_lease("u", Duration::from_secs(30))
        .await
        .unwrap()
    else {
        panic!("the stamp holds the lease, not the handle");
    };
    assert!(retry_after > Duration::from_secs(25), "{retry_after:?}");
    // Giving it back shortens the JSON: the file keeps its length, padded.
    let long = std::fs::metadata(store.lock_path("u")).unwrap().len();
    store.release(&lease).await.unwrap();
    assert_eq!(std::fs::metadata(store.lock_path("u")).unwrap().len(), long);
    let meta = sidecar(&store, "u");
    assert!(meta.get("lease").is_none(), "{meta}");
    assert_eq!(meta["rotated"].as_array().unwrap().len(), ROTATED_KEPT);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_malformed_file_is_a_store_error_that_quotes_nothing() {
    let dir = scratch("malformed");
    let store = FileTokenStore::new(&dir).unwrap();
    std::fs::write(store.token_path("u"), r#"{"accessToken":"secret-value"}"#).unwrap();
    let err = store.load("u").await.unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::TokenStore);
    assert!(!err.to_string().contains("secret-value"), "{err}");
    std::fs::write(store.lock_path("v"), b"{\"version\":").unwrap();
    let err = store.load("v").await.unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::TokenStore);
    assert!(err.to_string().contains("remove it"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_sidecar_locked_too_long_is_a_store_error_not_a_hang() {
    let dir = scratch("stuck");
    let store = FileTokenStore::new(&dir).unwrap();
    store.save("u", &token("r0")).await.unwrap();
    // A process stopped in the middle of an operation holds the OS lock.
    let stuck = open_private(&store.lock_path("u"), false).unwrap();
    stuck.lock().unwrap();
    let started = Instant::now();
    let err = store.load("u").await.unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::TokenStore);
    assert!(err.to_string().contains("stayed locked"), "{err}");
    let waited = started.elapsed();
    assert!(
        waited >= LOCK_WAIT && waited < LOCK_WAIT + Duration::from_secs(2),
        "{waited:?}"
    );
    drop(stuck);
    assert!(store.load("u").await.unwrap().is_some());
    let _ = std::fs::remove_dir_all(&dir);
}
