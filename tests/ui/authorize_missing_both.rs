// Proves: an authorize call with neither `.callback(..)` nor `.state(..)` reports both missing fields, each once.
use digime::{ContractDetails, DigiMe};

async fn run(sdk: DigiMe, c: ContractDetails) {
    let _ = sdk.authorize(&c).send().await;
}

fn main() {}
