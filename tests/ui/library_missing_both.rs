// Proves: a library push with neither `.file(..)` nor `.descriptor(..)` reports both missing fields.
use digime::{ContractDetails, DigiMe, UserAccessToken};

async fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk.push(&c, &t).library().send().await;
}

fn main() {}
