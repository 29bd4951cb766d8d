// Proves: an authorize call without `.callback(..)` has no usable `send()`, the message names the callback URL, and it is reported once.
use digime::{ContractDetails, DigiMe};

async fn run(sdk: DigiMe, c: ContractDetails) {
    let _ = sdk.authorize(&c).state("s-1").send().await;
}

fn main() {}
