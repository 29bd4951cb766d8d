// Proves: a reauthorize call without `.callback(..)` has no usable `send()`, the message names the callback URL and the reauthorize call, and it is reported once.
use digime::{ContractDetails, DigiMe, UserAccessToken};

async fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk.reauthorize(&c, &t).state("s-1").send().await;
}

fn main() {}
