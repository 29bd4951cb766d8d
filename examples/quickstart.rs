//! The whole write path against the embedded sandbox, step by step:
//!
//! ```text
//! cargo run --example quickstart --features sandbox
//! ```
//!
//! 1. register a contract with the sandbox;
//! 2. authorize a user: authorize, consent (the onboard redirect, followed as
//!    a browser would), the callback, the code exchange;
//! 3. push a PDF-like file to the user's library;
//! 4. push a FHIR bundle to the provider account the user onboarded;
//! 5. expire the access token and push again: the SDK refreshes it;
//! 6. print the user's library.

use std::error::Error;

use digime::consent::{AuthorizeCallback, ConsentState, SourceType};
use digime::sandbox::Sandbox;
use digime::{Account, DigiMe, FhirVersion, FileDescriptor, Standard};

const APP_ID: &str = "quickstart-app";
const CONTRACT_ID: &str = "quickstart-write-contract";
const CALLBACK: &str = "http://127.0.0.1:9/digime/callback";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let sandbox = Sandbox::start().await?;
    println!("sandbox running at {}", sandbox.base_url());

    // 1. A write contract: the sandbox generates its RSA key and registers
    //    the public half, as digi.me does when it issues a contract.
    let contract = sandbox.generate_contract(APP_ID, CONTRACT_ID)?;
    println!("1. registered contract {}", contract.contract_id());

    let sdk = DigiMe::builder()
        .application_id(APP_ID)
        .base_url(&sandbox.base_url())
        .build()?;

    // 2. Authorize. A real application redirects the user's browser to
    //    `auth.url()` and receives the callback on its own server.
    let state = ConsentState::generate()?;
    let auth = sdk
        .authorize(&contract)
        .callback(CALLBACK)
        .state(state.clone())
        .source_type(SourceType::Push)
        .send()
        .await?;
    println!("2. onboard URL: {}", auth.url());
    let redirect = follow_consent(auth.url().as_str()).await?;
    let callback = AuthorizeCallback::from_url(&redirect)?;
    callback.verify_state(&state)?;
    let token = sdk
        .exchange_code_for_token(&contract, callback.code(), auth.code_verifier())
        .await?;
    let user_id = token.user_id().unwrap_or_default().to_string();
    println!(
        "   consent given; token for user {user_id} (expires in {} s)",
        token
            .access_token()
            .expires_at()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default()
            .as_secs()
    );

    let accounts = sdk.read_accounts(&contract, &token).await?;
    let reference = callback.account_reference().unwrap_or_default();
    let account = accounts
        .find_by_reference(reference)
        .ok_or("the onboarded account is not in read accounts")?
        .clone();
    println!(
        "   onboarded account {} (reference {reference})",
        account.id
    );

    // 3. A file into the library.
    let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n".to_vec();
    let outcome = sdk
        .push(&contract, accounts.user_access_token())
        .library()
        .file(pdf, "lab-report.pdf")
        .descriptor(
            FileDescriptor::builder()
                .mime_type("application/pdf")
                .accounts(vec![Account::new("patient-42")])
                .tags(vec!["lab".to_string()])
                .build(),
        )
        .send()
        .await?;
    println!(
        "3. pushed lab-report.pdf to the library (HTTP {})",
        outcome.status()
    );

    // 4. A FHIR bundle to the provider account.
    let bundle = serde_json::json!({
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{ "resource": { "resourceType": "Observation", "status": "final",
            "code": { "text": "Haemoglobin" }, "valueQuantity": { "value": 8.9, "unit": "mmol/L" } } }]
    });
    let outcome = sdk
        .push(&contract, outcome.user_access_token())
        .provider()
        .standard(Standard::Fhir)
        .version(FhirVersion::Stu3)
        .account_id(&account.id)
        .data(bundle)
        .send()
        .await?;
    println!(
        "4. pushed a FHIR bundle to account {} (HTTP {})",
        account.id,
        outcome.status()
    );

    // 5. The access token expires; the SDK refreshes it and retries.
    sandbox.expire_access_token(&user_id);
    println!("5. the sandbox expired the access token");
    let outcome = sdk
        .push(&contract, outcome.user_access_token())
        .library()
        .file(b"second,visit\n2026-11-27,ok\n".to_vec(), "visits.csv")
        .descriptor(
            FileDescriptor::builder()
                .mime_type("text/csv")
                .accounts(vec![Account::new("patient-42")])
                .build(),
        )
        .on_access_token_change(|_new| {
            println!("   the SDK refreshed the token: store the new one")
        })
        .send()
        .await?;
    println!(
        "   pushed visits.csv; token refreshed: {}",
        outcome.token_refreshed()
    );

    // 6. What the user's library now holds.
    println!("6. the user's library:");
    println!(
        "   {:<18} {:>6}  {:<16} tags",
        "mime type", "bytes", "sha256"
    );
    for entry in sandbox.library(&user_id) {
        let tags = entry
            .descriptor
            .get("tags")
            .map(|t| t.to_string())
            .unwrap_or_default();
        println!(
            "   {:<18} {:>6}  {:<16} {}",
            entry.mime_type,
            entry.size,
            &entry.sha256[..16],
            tags
        );
    }
    sandbox.shutdown().await;
    Ok(())
}

/// Opens the onboard page as a browser would and returns where consent
/// redirects to: the application's callback URL.
async fn follow_consent(url: &str) -> Result<String, Box<dyn Error>> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = browser.get(url).send().await?;
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .ok_or("the consent page did not redirect")?
        .to_str()?
        .to_string();
    Ok(location)
}
