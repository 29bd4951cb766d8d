// Proves: once `.version(..)` is set, its setter is gone: it cannot be called twice.
use digime::{ContractDetails, DigiMe, FhirVersion, UserAccessToken};

fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk
        .push(&c, &t)
        .provider()
        .version(FhirVersion::Stu3)
        .version(FhirVersion::V3_0_2);
}

fn main() {}
