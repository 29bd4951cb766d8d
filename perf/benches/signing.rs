//! What a push costs in signatures: one Bearer JWT and one FileDescriptor
//! JWT, each PS512 (RSA-2048). This measures the bound that
//! docs/performance.md compares the end-to-end figures with.
//!
//! ```text
//! cargo bench -p digime-perf --bench signing
//! ```

use criterion::{Criterion, criterion_group, criterion_main};
use std::time::{Duration, SystemTime};

use digime::{Account, ContractDetails, FileDescriptor, Token, UserAccessToken};

/// A throwaway 2048-bit RSA key, the tests' fixture.
const TEST_KEY_PEM: &str = include_str!("../../tests/it/support/keys/rsa2048.pem");

fn signing(c: &mut Criterion) {
    let contract = ContractDetails::new("bench-contract", TEST_KEY_PEM).unwrap();
    let token = UserAccessToken::new(
        Token::new(
            "a".repeat(64),
            SystemTime::now() + Duration::from_secs(3600),
        ),
        Token::new(
            "r".repeat(64),
            SystemTime::now() + Duration::from_secs(3600),
        ),
        Some("user-1".into()),
        None,
    );
    let descriptor = FileDescriptor::builder()
        .mime_type("application/pdf")
        .accounts(vec![Account::new("account-in-my-system")])
        .tags(vec!["lab".into()])
        .build();
    let client_id = "bench-app_bench-contract";

    c.bench_function("sign Bearer JWT (PS512, RSA-2048)", |b| {
        b.iter(|| digime::__bench::sign_bearer(client_id, &contract, &token).unwrap())
    });
    c.bench_function("sign FileDescriptor JWT (PS512, RSA-2048)", |b| {
        b.iter(|| digime::__bench::sign_descriptor(&contract, &descriptor).unwrap())
    });
    c.bench_function(
        "parse the contract key (once per ContractDetails::new)",
        |b| b.iter(|| ContractDetails::new("c", TEST_KEY_PEM).unwrap()),
    );
}

criterion_group!(benches, signing);
criterion_main!(benches);
