// Proves: the provider setter `.account_id(..)` does not exist in library mode.
use digime::{ContractDetails, DigiMe, UserAccessToken};

fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk.push(&c, &t).library().account_id("account-1");
}

fn main() {}
