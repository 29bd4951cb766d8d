// Proves: the library setter `.file(..)` does not exist in provider mode.
use digime::{ContractDetails, DigiMe, UserAccessToken};

fn run(sdk: DigiMe, c: ContractDetails, t: UserAccessToken) {
    let _ = sdk
        .push(&c, &t)
        .provider()
        .file(b"hello".to_vec(), "hello.txt");
}

fn main() {}
