// Proves: a reauthorize call without `.state(..)` has no usable `send()` (the callback's code must be tied to a state), and it is reported once.
use digime::{ContractDetails, DigiMe, UserAccessToken};

async fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk
        .reauthorize(&c, &t)
        .callback("https://my.app/cb")
        .locale("nl")
        .send()
        .await;
}

fn main() {}
