// Proves: a provider push without `.data(..)` has no usable `send()`, and the message names the data.
use digime::{ContractDetails, DigiMe, FhirVersion, Standard, UserAccessToken};

async fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk
        .push(&c, &t)
        .provider()
        .standard(Standard::Fhir)
        .version(FhirVersion::Stu3)
        .account_id("account-1")
        .send()
        .await;
}

fn main() {}
