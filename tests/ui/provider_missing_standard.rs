// Proves: a provider push without `.standard(..)` has no usable `send()`, and the message names the standard.
use digime::{ContractDetails, DigiMe, FhirVersion, UserAccessToken};

async fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk
        .push(&c, &t)
        .provider()
        .version(FhirVersion::Stu3)
        .account_id("account-1")
        .data(serde_json::json!({ "resourceType": "Bundle" }))
        .send()
        .await;
}

fn main() {}
