// Proves: a provider push without `.account_id(..)` has no usable `send()`, and the message names the account id.
use digime::{ContractDetails, DigiMe, FhirVersion, Standard, UserAccessToken};

async fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk
        .push(&c, &t)
        .provider()
        .standard(Standard::Fhir)
        .version(FhirVersion::Stu3)
        .data(serde_json::json!({ "resourceType": "Bundle" }))
        .send()
        .await;
}

fn main() {}
