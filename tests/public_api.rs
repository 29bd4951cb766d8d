//! The public API exactly as issue #2 writes it, run against the sandbox.

mod support;

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
