// Proves: a provider push without `.version(..)` has no usable `send()`, and the message names the version.
use digime::{ContractDetails, DigiMe, Standard, UserAccessToken};

async fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk
        .push(&c, &t)
        .provider()
        .standard(Standard::Fhir)
        .account_id("account-1")
        .data(serde_json::json!({ "resourceType": "Bundle" }))
        .send()
        .await;
}

fn main() {}
