// Proves: a provider push with only `.standard(..)` reports the version, account id and data as missing.
use digime::{ContractDetails, DigiMe, Standard, UserAccessToken};

async fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk
        .push(&c, &t)
        .provider()
        .standard(Standard::Fhir)
        .send()
        .await;
}

fn main() {}
