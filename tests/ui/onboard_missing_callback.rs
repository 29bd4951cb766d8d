// Proves: an onboard call without `.callback(..)` has no usable `send()`, whatever else is set, and it is reported once.
use digime::{ContractDetails, DigiMe, UserAccessToken};
use digime::consent::SourceType;

async fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk
        .onboard(&c, &t)
        .state("s-1")
        .source_type(SourceType::Push)
        .send()
        .await;
}

fn main() {}
