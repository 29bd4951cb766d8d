//! Prints the `Authorization` and `FileDescriptor` headers of one library
//! push, so that `curl` can make the same request as the SDK (the baseline
//! of docs/performance.md).
//!
//! ```text
//! cargo run --release -p digime-perf --bin curl_headers -- APP_ID CONTRACT_ID KEY.pem TOKEN.json > headers.txt
//! curl -H @headers.txt -H 'Content-Type: application/octet-stream' \
//!      --data-binary @file.bin http://127.0.0.1:8080/v1.7/permission-access/import
//! ```
//!
//! The Bearer JWT carries a fresh nonce: the headers serve one request.

use digime::{Account, ContractDetails, FileDescriptor, UserAccessToken};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [app_id, contract_id, key, token] = args.as_slice() else {
        return Err("usage: curl_headers APP_ID CONTRACT_ID KEY.pem TOKEN.json".into());
    };
    let contract = ContractDetails::new(contract_id, std::fs::read_to_string(key)?)?;
    let token: UserAccessToken = serde_json::from_str(&std::fs::read_to_string(token)?)?;
    let descriptor = FileDescriptor::builder()
        .mime_type("application/octet-stream")
        .accounts(vec![Account::new("bench-account")])
        .build();
    let client_id = format!("{app_id}_{contract_id}");
    println!(
        "Authorization: Bearer {}",
        digime::__bench::sign_bearer(&client_id, &contract, &token)?
    );
    println!(
        "FileDescriptor: {}",
        digime::__bench::sign_descriptor(&contract, &descriptor)?
    );
    Ok(())
}
