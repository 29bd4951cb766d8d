// Proves: once `.file(..)` is set, its setter is gone: it cannot be called twice.
use digime::{ContractDetails, DigiMe, UserAccessToken};

fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk
        .push(&c, &t)
        .library()
        .file(b"one".to_vec(), "one.txt")
        .file(b"two".to_vec(), "two.txt");
}

fn main() {}
