// Proves: an authorize call without `.state(..)` has no usable `send()`, the message names the state, and it is reported once.
use digime::{ContractDetails, DigiMe};

async fn run(sdk: DigiMe, c: ContractDetails) {
    let _ = sdk
        .authorize(&c)
        .callback("https://my.app/cb")
        .send()
        .await;
}

fn main() {}
