// Proves: the library setter `.descriptor(..)` does not exist in provider mode.
use digime::{Account, ContractDetails, DigiMe, FileDescriptor, UserAccessToken};

fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let descriptor = FileDescriptor::builder()
        .mime_type("text/plain")
        .accounts(vec![Account::new("a-1")])
        .build();
    let _ = sdk.push(&c, &t).provider().descriptor(descriptor);
}

fn main() {}
