// Proves: once `.state(..)` is set, its setter is gone: it cannot be called twice.
use digime::{ContractDetails, DigiMe};

fn run(sdk: DigiMe, c: ContractDetails) {
    let _ = sdk.authorize(&c).state("one").state("two");
}

fn main() {}
