// Proves: the full library, provider and consent-flow chains compile, with the setters in any order.
use digime::{
    Account, ContractDetails, DigiMe, FhirVersion, FileDescriptor, PushOutcome, Standard,
    UserAccessToken,
};

fn descriptor() -> FileDescriptor {
    FileDescriptor::builder()
        .mime_type("application/pdf")
        .accounts(vec![Account::new("account-in-my-system")])
        .tags(vec!["lab".to_string()])
        .build()
}

// The descriptor's fields in the other order, the optional ones first.
#[allow(dead_code)]
fn descriptor_reversed() -> FileDescriptor {
    FileDescriptor::builder()
        .reference(vec!["lab-2024-001".to_string()])
        .accounts(vec![Account::new("account-in-my-system")])
        .tags(vec!["lab".to_string()])
        .mime_type("application/pdf")
        .build()
}

// Never called: the chains only need to type-check, no request is sent.
#[allow(dead_code)]
async fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    // Library: file, then descriptor.
    let _: digime::Result<PushOutcome> = sdk
        .push(&c, &t)
        .library()
        .file(b"%PDF-1.7".to_vec(), "report.pdf")
        .descriptor(descriptor())
        .on_access_token_change(|_: &UserAccessToken| {})
        .send()
        .await;

    // Library: descriptor, then file (as `bytes::Bytes`).
    let _: digime::Result<PushOutcome> = sdk
        .push(&c, &t)
        .library()
        .descriptor(descriptor())
        .file(bytes::Bytes::from_static(b"%PDF-1.7"), "report.pdf")
        .send()
        .await;

    // Provider: standard, version, account id, data.
    let _: digime::Result<PushOutcome> = sdk
        .push(&c, &t)
        .provider()
        .standard(Standard::Fhir)
        .version(FhirVersion::Stu3)
        .account_id("account-id-from-read-accounts")
        .data(serde_json::json!({ "resourceType": "Bundle" }))
        .send()
        .await;

    // Provider: the reverse order, with the hook in the middle.
    let _: digime::Result<PushOutcome> = sdk
        .push(&c, &t)
        .provider()
        .data(serde_json::json!({ "resourceType": "Bundle" }))
        .account_id("account-id-from-read-accounts")
        .on_access_token_change(|_: &UserAccessToken| {})
        .version(FhirVersion::V3_0_2)
        .standard(Standard::Fhir)
        .send()
        .await;

    // Authorize: callback then state, and state then callback.
    let _: digime::Result<digime::consent::Authorization> = sdk
        .authorize(&c)
        .callback("https://my.app/cb")
        .state("s-1")
        .send()
        .await;
    let _: digime::Result<digime::consent::Authorization> = sdk
        .authorize(&c)
        .source_type(digime::consent::SourceType::Push)
        .state("s-1")
        .callback("https://my.app/cb")
        .send()
        .await;

    // Reauthorize: state then callback, with the optional settings between.
    let _: digime::Result<digime::consent::Authorization> = sdk
        .reauthorize(&c, &t)
        .state("s-1")
        .locale("nl")
        .trigger_query(true)
        .callback("https://my.app/cb")
        .send()
        .await;

    // Onboard: the callback alone, or with every option, in any order.
    let _: digime::Result<digime::consent::ConsentLink> = sdk
        .onboard(&c, &t)
        .callback("https://my.app/cb")
        .send()
        .await;
    let _: digime::Result<digime::consent::ConsentLink> = sdk
        .onboard(&c, &t)
        .sources_scope(digime::consent::SourcesScope::new().data_types(["medical"]))
        .source_type(digime::consent::SourceType::Push)
        .callback("https://my.app/cb")
        .service_id(7)
        .state("s-1")
        .send()
        .await;

    // Reauthorize one account: account id then callback, and the reverse.
    let _: digime::Result<digime::consent::ConsentLink> = sdk
        .reauthorize_account(&c, &t)
        .account_id("acc-1")
        .callback("https://my.app/cb")
        .send()
        .await;
    let _: digime::Result<digime::consent::ConsentLink> = sdk
        .reauthorize_account(&c, &t)
        .callback("https://my.app/cb")
        .locale("en")
        .account_id("acc-1")
        .send()
        .await;
}

fn main() {}
