// Proves: `send()` does not exist on a push until `.library()` or `.provider()` is chosen.
use digime::{ContractDetails, DigiMe, UserAccessToken};

async fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk.push(&c, &t).send().await;
}

fn main() {}
