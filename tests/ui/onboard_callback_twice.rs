// Proves: once `.callback(..)` is set on an onboard call, its setter is gone.
use digime::{ContractDetails, DigiMe, UserAccessToken};

fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk.onboard(&c, &t).callback("https://a/cb").callback("https://b/cb");
}

fn main() {}
