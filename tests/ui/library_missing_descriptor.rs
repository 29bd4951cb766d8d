// Proves: a library push without `.descriptor(..)` has no usable `send()`, and the message names the descriptor.
use digime::{ContractDetails, DigiMe, UserAccessToken};

async fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk
        .push(&c, &t)
        .library()
        .file(b"hello".to_vec(), "hello.txt")
        .send()
        .await;
}

fn main() {}
