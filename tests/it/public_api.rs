//! The public API exactly as issue #2 writes it, run against the sandbox.

use crate::support;

use digime::{
    Account, ContractDetails, DigiMe, FhirVersion, FileDescriptor, Standard, UserAccessToken,
};

#[tokio::test]
async fn the_documented_usage_compiles_and_works() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = digime::sandbox::Sandbox::start().await?;
    let pem = digime::sandbox::generate_private_key_pem()?;
    let registered = ContractDetails::new("my-contract-id", pem.clone())?;
    sandbox.register_contract(
        "my-application-id",
        "my-contract-id",
        &registered.public_key_pem(),
    )?;
    sandbox.create_user("user-id", &["account-id-from-read-accounts"])?;
    let stored_json = serde_json::to_string(&sandbox.mint_token(
        "my-application-id",
        "my-contract-id",
        "user-id",
    )?)?;
    let bytes: Vec<u8> = b"%PDF-1.7 report".to_vec();

    let sdk = DigiMe::builder()
        .application_id("my-application-id")
        .base_url(&sandbox.base_url())
        .build()?;
    let contract = ContractDetails::new("my-contract-id", pem)?;
    let token: UserAccessToken = serde_json::from_str(&stored_json)?;

    let outcome = sdk
        .push(&contract, &token)
        .library()
        .file(bytes, "report.pdf")
        .descriptor(
            FileDescriptor::builder()
                .mime_type("application/pdf")
                .accounts(vec![Account::new("account-in-my-system")])
                .tags(vec!["lab".to_string()])
                .build(),
        )
        .on_access_token_change(move |_t: &UserAccessToken| { /* persist t */ })
        .send()
        .await?;
    let to_store: &UserAccessToken = outcome.user_access_token();
    let refreshed: bool = outcome.token_refreshed();
    assert!(!refreshed);
    let _ = to_store;

    let outcome = sdk
        .push(&contract, outcome.user_access_token())
        .provider()
        .standard(Standard::Fhir)
        .version(FhirVersion::Stu3)
        .account_id("account-id-from-read-accounts")
        .data(serde_json::json!({ "resourceType": "Bundle" }))
        .send()
        .await?;
    assert_eq!(outcome.status(), 200);
    assert_eq!(sandbox.library("user-id").len(), 1);
    assert_eq!(sandbox.provider_pushes("user-id").len(), 1);
    Ok(())
}

/// Every future the public API returns is `Send` (a server's handlers run on
/// a multi-threaded runtime and spawn them), and the shared types are
/// `Send + Sync + Clone`. A future that stops being `Send` fails to compile
/// here. Nothing is awaited: the futures are built and dropped.
#[test]
fn every_public_future_is_send() {
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn send<T: Send>(_: T) {}
    send_sync_clone::<DigiMe>();
    send_sync_clone::<ContractDetails>();
    send_sync_clone::<UserAccessToken>();
    send_sync_clone::<digime::UserSession>();

    let sdk = DigiMe::builder().application_id("a").build().unwrap();
    let contract = ContractDetails::new("c", support::RSA_2048_PEM).unwrap();
    let in_an_hour = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    let token = UserAccessToken::new(
        digime::Token::new("a", in_an_hour),
        digime::Token::new("r", in_an_hour),
        None,
        None,
    );
    let verifier = digime::consent::PkceCodeVerifier::new("v".repeat(43));
    let code = digime::consent::AuthorizationCode::new("code");
    let descriptor = || {
        FileDescriptor::builder()
            .mime_type("text/plain")
            .accounts(vec![Account::new("a")])
            .build()
    };

    // Pushes, one-off and through a session.
    send(
        sdk.push(&contract, &token)
            .library()
            .file(b"x".to_vec(), "x")
            .descriptor(descriptor())
            .send(),
    );
    send(
        sdk.push(&contract, &token)
            .provider()
            .standard(Standard::Fhir)
            .version(FhirVersion::Stu3)
            .account_id("a")
            .data(serde_json::json!({}))
            .send(),
    );
    let session = sdk.session(&contract, token.clone());
    send(
        session
            .push()
            .library()
            .file(b"x".to_vec(), "x")
            .descriptor(descriptor())
            .send(),
    );
    send(session.read_accounts());
    send(session.refresh());

    // Authorization and tokens.
    send(
        sdk.authorize(&contract)
            .callback("http://x/")
            .state("s")
            .send(),
    );
    send(sdk.exchange_code_for_token(&contract, &code, &verifier));
    send(sdk.refresh(&contract, &token));

    // The other calls.
    send(sdk.read_accounts(&contract, &token));
    send(sdk.contract_info(&contract));
    send(sdk.delete_user(&contract, &token));

    // File data streamed from disk.
    send(digime::push::FileData::from_path("Cargo.toml"));

    // A stream of unknown length (a web handler's upload): the data is
    // `Send + Sync` and so is the push that sends it.
    fn send_sync<T: Send + Sync>(_: &T) {}
    let chunks = || futures_util::stream::iter([Ok::<_, std::io::Error>(&b"x"[..])]);
    send_sync(&digime::push::FileData::from_stream(chunks()));
    send(
        session
            .push()
            .library()
            .file(digime::push::FileData::from_stream(chunks()), "x")
            .descriptor(descriptor())
            .send(),
    );
}
