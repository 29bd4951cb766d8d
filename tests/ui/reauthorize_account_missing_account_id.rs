// Proves: an account reauthorization without `.account_id(..)` has no usable `send()`, the message names the account id, and it is reported once.
use digime::{ContractDetails, DigiMe, UserAccessToken};

async fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk
        .reauthorize_account(&c, &t)
        .callback("https://my.app/cb")
        .send()
        .await;
}

fn main() {}
