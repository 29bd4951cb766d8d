// Proves: the provider setter `.standard(..)` does not exist in library mode.
use digime::{ContractDetails, DigiMe, Standard, UserAccessToken};

fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk.push(&c, &t).library().standard(Standard::Fhir);
}

fn main() {}
