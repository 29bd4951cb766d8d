//! Pushes over a real sandbox: the wire (signature, claims, nonces, headers,
//! body bytes), refresh-then-retry, a failed refresh, and server errors.

use crate::support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use digime::sandbox::Fault;
use digime::secrecy::ExposeSecret;
use digime::{Account, DigiMe, ErrorKind, FhirVersion, FileDescriptor, Standard};
use support::{ACCOUNTS, APP, CONTRACT, Env, USER, sha256_hex};

fn pdf_descriptor() -> FileDescriptor {
    FileDescriptor::builder()
        .mime_type("application/pdf")
        .accounts(vec![Account::new("account-in-my-system")])
        .build()
}

#[tokio::test]
async fn library_push_stores_exact_bytes_and_descriptor() {
    let env = Env::new().await;
    let bytes = b"%PDF-1.7\n% a small test document\n".to_vec();
    let outcome = env
        .sdk
        .push(&env.contract, &env.token)
        .library()
        .file(bytes.clone(), "report.pdf")
        .descriptor(
            FileDescriptor::builder()
                .mime_type("application/pdf")
                .accounts(vec![Account::new("account-in-my-system")])
                .tags(vec!["lab".to_string()])
                .build(),
        )
        .send()
        .await
        .expect("push succeeds");
    assert!(!outcome.token_refreshed());
    assert_eq!(outcome.status(), 200);

    let library = env.sandbox.library(USER);
    assert_eq!(library.len(), 1);
    let entry = &library[0];
    assert_eq!(entry.mime_type, "application/pdf");
    assert_eq!(entry.size, bytes.len() as u64);
    assert_eq!(entry.sha256, sha256_hex(&bytes));
    assert_eq!(entry.bytes.as_deref(), Some(&bytes[..]));
    // Optional fields left out, not sent as null.
    assert_eq!(
        entry.descriptor,
        serde_json::json!({
            "mimeType": "application/pdf",
            "accounts": [{"accountId": "account-in-my-system"}],
            "tags": ["lab"]
        })
    );
}

#[tokio::test]
async fn the_wire_carries_the_documented_claims_and_headers() {
    let env = Env::new().await;
    for i in 0..3u8 {
        env.sdk
            .push(&env.contract, &env.token)
            .library()
            .file(vec![i; 10], "f.bin")
            .descriptor(pdf_descriptor())
            .send()
            .await
            .expect("push succeeds");
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let imports: Vec<_> = env
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path == "permission-access/import")
        .collect();
    assert_eq!(imports.len(), 3);
    let mut nonces = HashSet::new();
    for r in &imports {
        assert_eq!(r.method, "POST");
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type.as_deref(), Some("application/octet-stream"));
        assert_eq!(r.body_size, Some(10));
        let claims = &r.claims;
        assert_eq!(claims["client_id"], format!("{APP}_{CONTRACT}"));
        assert!(claims.get("access_token").is_some(), "{claims}");
        assert!(claims.get("iat").is_none() && claims.get("exp").is_none());
        let ts = claims["timestamp"].as_i64().expect("timestamp is a number");
        assert!((now_ms - ts).abs() < 60_000, "timestamp in ms: {ts}");
        let nonce = r.nonce.clone().expect("nonce");
        assert_eq!(nonce.len(), 32);
        assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(nonces.insert(nonce), "nonces are unique");
        let headers: Vec<String> = r.headers.iter().map(|h| h.to_ascii_lowercase()).collect();
        assert!(
            headers.contains(&"filedescriptor".to_string()),
            "{headers:?}"
        );
        assert!(headers.contains(&"authorization".to_string()));
    }
}

#[tokio::test]
async fn provider_push_reaches_the_account_with_its_version() {
    let env = Env::new().await;
    let bundle = serde_json::json!({ "resourceType": "Bundle", "type": "collection", "entry": [] });
    env.sdk
        .push(&env.contract, &env.token)
        .provider()
        .standard(Standard::Fhir)
        .version(FhirVersion::Stu3)
        .account_id(ACCOUNTS[1])
        .data(bundle.clone())
        .send()
        .await
        .expect("stu3 push succeeds");
    env.sdk
        .push(&env.contract, &env.token)
        .provider()
        .data(bundle.clone())
        .account_id(ACCOUNTS[0])
        .version(FhirVersion::V3_0_2)
        .standard(Standard::Fhir)
        .send()
        .await
        .expect("3.0.2 push succeeds");
    let pushes = env.sandbox.provider_pushes(USER);
    assert_eq!(pushes.len(), 2);
    assert_eq!(
        (
            pushes[0].account_id.as_str(),
            pushes[0].standard.as_str(),
            pushes[0].version.as_str()
        ),
        (ACCOUNTS[1], "fhir", "stu3")
    );
    assert_eq!(pushes[1].version, "3.0.2");
    assert_eq!(pushes[0].body, bundle);
    assert_eq!(
        pushes[0].sha256,
        sha256_hex(&serde_json::to_vec(&bundle).unwrap())
    );
    let paths: Vec<String> = env.sandbox.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths.contains(&"permission-access/import/h:accountId/fhir/stu3".to_string()),
        "{paths:?}"
    );
    assert!(paths.contains(&"permission-access/import/h:accountId/fhir/3.0.2".to_string()));
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once_and_the_push_retried() {
    let env = Env::new().await;
    env.sandbox.expire_access_token(USER);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let outcome = env
        .sdk
        .push(&env.contract, &env.token)
        .library()
        .file(b"hello".to_vec(), "hello.txt")
        .descriptor(pdf_descriptor())
        .on_access_token_change(move |t| seen2.lock().unwrap().push(t.clone()))
        .send()
        .await
        .expect("push succeeds after a refresh");
    assert!(outcome.token_refreshed());
    let new = outcome.user_access_token();
    assert_ne!(
        new.access_token().value().expose_secret(),
        env.token.access_token().value().expose_secret()
    );
    assert_ne!(
        new.refresh_token().value().expose_secret(),
        env.token.refresh_token().value().expose_secret()
    );
    assert_eq!(new.user_id(), Some(USER));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "the hook fires once");
    assert_eq!(
        seen[0].access_token().value().expose_secret(),
        new.access_token().value().expose_secret()
    );
    assert_eq!(env.sandbox.refresh_count(), 1);
    assert_eq!(env.sandbox.library(USER).len(), 1, "stored exactly once");
    let log: Vec<(String, u16)> = env
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| !r.path.starts_with("jwks"))
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(
        log,
        vec![
            ("permission-access/import".to_string(), 401),
            ("oauth/token".to_string(), 200),
            ("permission-access/import".to_string(), 200),
        ]
    );
    // The new token keeps working, without another refresh.
    let again = env
        .sdk
        .push(&env.contract, new)
        .library()
        .file(b"again".to_vec(), "again.txt")
        .descriptor(pdf_descriptor())
        .send()
        .await
        .expect("the new token works");
    assert!(!again.token_refreshed());
    assert_eq!(env.sandbox.refresh_count(), 1);
}

#[tokio::test]
async fn a_spent_refresh_token_means_the_user_must_authorize_again() {
    let env = Env::new().await;
    env.sandbox.expire_access_token(USER);
    env.sandbox.expire_refresh_token(USER);
    let err = env
        .sdk
        .push(&env.contract, &env.token)
        .library()
        .file(b"x".to_vec(), "x.txt")
        .descriptor(pdf_descriptor())
        .on_access_token_change(|_| panic!("no new token exists"))
        .send()
        .await
        .expect_err("the push cannot succeed");
    assert_eq!(err.kind(), ErrorKind::ReauthorizationRequired);
    assert!(err.is_reauthorization_required());
    assert_eq!(err.code(), Some("InvalidToken"));
    assert_eq!(err.status(), Some(401));
    assert!(env.sandbox.library(USER).is_empty());
}

#[tokio::test]
async fn the_refresh_grant_rotates_and_an_old_refresh_token_is_refused() {
    let env = Env::new().await;
    let fresh = env
        .sdk
        .refresh(&env.contract, &env.token)
        .await
        .expect("refresh");
    assert_ne!(
        fresh.refresh_token().value().expose_secret(),
        env.token.refresh_token().value().expose_secret()
    );
    // This client remembers the rotation: the old token gets the new one,
    // without spending the old refresh token a second time.
    let again = env
        .sdk
        .refresh(&env.contract, &env.token)
        .await
        .expect("the rotation is remembered");
    assert_eq!(
        again.refresh_token().value().expose_secret(),
        fresh.refresh_token().value().expose_secret()
    );
    assert_eq!(env.sandbox.refresh_count(), 1);
    // Another client (another process, no shared store) that spends the old
    // refresh token is refused by digi.me.
    let other = DigiMe::builder()
        .application_id(APP)
        .base_url(&env.sandbox.base_url())
        .build()
        .unwrap();
    let err = other.refresh(&env.contract, &env.token).await.unwrap_err();
    assert!(err.is_reauthorization_required(), "{err:?}");
}

#[tokio::test]
async fn a_read_contract_gets_insufficient_scope_with_the_servers_reference() {
    let env = Env::new().await;
    let key = digime::sandbox::generate_private_key_pem().unwrap();
    let read = digime::ContractDetails::new("read-contract", &key).unwrap();
    env.sandbox
        .register_read_contract(APP, "read-contract", &read.public_key_pem())
        .unwrap();
    let token = env.sandbox.mint_token(APP, "read-contract", USER).unwrap();
    let err = env
        .sdk
        .push(&read, &token)
        .library()
        .file(b"x".to_vec(), "x.txt")
        .descriptor(pdf_descriptor())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.code(), Some("InsufficientScope"));
    let server = err.server().unwrap();
    assert!(server.message().is_some_and(|m| !m.is_empty()));
    assert!(server.reference().is_some_and(|r| !r.is_empty()));
    assert!(err.to_string().contains("InsufficientScope"));
}

#[tokio::test]
async fn sdk_invalid_and_sdk_version_invalid_are_told_apart() {
    let env = Env::new().await;
    for code in ["SDKInvalid", "SDKVersionInvalid"] {
        env.sandbox.inject_fault(Fault {
            path: "permission-access/import".into(),
            count: 1,
            status: Some(400),
            code: Some(code.into()),
            message: Some("rejected".into()),
            reference: Some("ref-42".into()),
            ..Default::default()
        });
        let err = env
            .sdk
            .push(&env.contract, &env.token)
            .library()
            .file(b"x".to_vec(), "x.txt")
            .descriptor(pdf_descriptor())
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(code));
        assert_eq!(err.is_sdk_invalid(), code == "SDKInvalid");
        assert_eq!(err.is_sdk_version_invalid(), code == "SDKVersionInvalid");
        assert_eq!(err.server().unwrap().reference(), Some("ref-42"));
    }
}

#[tokio::test]
async fn errors_sent_only_in_headers_are_kept() {
    let env = Env::new().await;
    env.sandbox.inject_fault(Fault {
        path: "permission-access/import".into(),
        count: 1,
        status: Some(409),
        code: Some("Conflict".into()),
        message: Some("header only".into()),
        reference: Some("ref-h".into()),
        body: digime::sandbox::FaultBody::Headers,
        ..Default::default()
    });
    let err = env
        .sdk
        .push(&env.contract, &env.token)
        .library()
        .file(b"x".to_vec(), "x.txt")
        .descriptor(pdf_descriptor())
        .send()
        .await
        .unwrap_err();
    let s = err.server().expect("server error");
    assert_eq!(
        (s.status(), s.code(), s.message(), s.reference()),
        (409, Some("Conflict"), Some("header only"), Some("ref-h"))
    );
}

#[tokio::test]
async fn huge_timeouts_mean_no_timeout_rather_than_a_panic() {
    let env = Env::new().await;
    let sdk = digime::DigiMe::builder()
        .application_id(APP)
        .base_url(&env.sandbox.base_url())
        .read_timeout(std::time::Duration::MAX)
        .timeout(std::time::Duration::MAX)
        .connect_timeout(std::time::Duration::MAX)
        .build()
        .expect("builds");
    sdk.push(&env.contract, &env.token)
        .library()
        .file(b"x".to_vec(), "x.txt")
        .descriptor(pdf_descriptor())
        .send()
        .await
        .expect("push succeeds");
}
