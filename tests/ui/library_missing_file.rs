// Proves: a library push without `.file(..)` has no usable `send()`, and the message names the file.
use digime::{Account, ContractDetails, DigiMe, FileDescriptor, UserAccessToken};

async fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let descriptor = FileDescriptor::builder()
        .mime_type("text/plain")
        .accounts(vec![Account::new("a-1")])
        .build();
    let _ = sdk
        .push(&c, &t)
        .library()
        .descriptor(descriptor)
        .send()
        .await;
}

fn main() {}
