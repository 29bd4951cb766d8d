//! Bad input is a clear error naming the field, returned before anything is
//! sent: the sandbox sees no request.

use crate::support;

use digime::{Account, ContractDetails, DigiMe, ErrorKind, FhirVersion, FileDescriptor, Standard};
use support::{EC_PEM, Env, RSA_1024_PEM};

fn assert_field(result: Result<impl std::fmt::Debug, digime::Error>, field: &str) {
    let err = result.expect_err("bad input must be refused");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
    assert_eq!(err.field(), Some(field), "{err}");
    assert!(
        err.to_string().contains(field),
        "the message names the field: {err}"
    );
}

#[test]
fn sdk_configuration() {
    assert_field(DigiMe::builder().build(), "application_id");
    assert_field(
        DigiMe::builder().application_id("").build(),
        "application_id",
    );
    assert_field(
        DigiMe::builder().application_id("a\nb").build(),
        "application_id",
    );
    assert_field(
        DigiMe::builder()
            .application_id("app")
            .base_url("not a url")
            .build(),
        "base_url",
    );
    assert_field(
        DigiMe::builder()
            .application_id("app")
            .base_url("ftp://host/v1.7/")
            .build(),
        "base_url",
    );
    assert_field(
        DigiMe::builder()
            .application_id("app")
            .base_url("http://")
            .build(),
        "base_url",
    );
    assert_field(
        DigiMe::builder()
            .application_id("app")
            .onboard_url("::")
            .build(),
        "onboard_url",
    );
}

#[test]
fn contract_keys_and_ids() {
    let good = support::RSA_2048_PEM;
    assert_field(ContractDetails::new("", good), "contract_id");
    assert_field(ContractDetails::new("c\r\n", good), "contract_id");
    assert_field(ContractDetails::new("c", "not a pem"), "private_key");
    assert_field(ContractDetails::new("c", ""), "private_key");
    assert_field(
        ContractDetails::new(
            "c",
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        ),
        "private_key",
    );
    let non_rsa = ContractDetails::new("c", EC_PEM).unwrap_err();
    assert_eq!(non_rsa.field(), Some("private_key"));
    assert!(non_rsa.to_string().contains("not an RSA"), "{non_rsa}");
    let short = ContractDetails::new("c", RSA_1024_PEM).unwrap_err();
    assert_eq!(short.field(), Some("private_key"));
    assert!(short.to_string().contains("2048"), "{short}");
    // PKCS#8 and PKCS#1 both work.
    let pkcs8 = digime::sandbox::generate_private_key_pem().unwrap();
    assert!(pkcs8.contains("BEGIN PRIVATE KEY"));
    ContractDetails::new("c", &pkcs8).expect("PKCS#8 is accepted");
    let owned: String = good.into();
    ContractDetails::new("c", owned).expect("PKCS#1 is accepted, as a String too");
}

#[tokio::test]
async fn push_inputs_are_checked_before_sending() {
    let env = Env::new().await;
    let before = env.request_count();
    let push = || env.sdk.push(&env.contract, &env.token);
    let descriptor = |mime: &str, account: &str| {
        FileDescriptor::builder()
            .mime_type(mime)
            .accounts(vec![Account::new(account)])
            .build()
    };

    assert_field(
        push()
            .library()
            .file(b"x".to_vec(), "a\nb.pdf")
            .descriptor(descriptor("application/pdf", "a"))
            .send()
            .await,
        "file_name",
    );
    assert_field(
        push()
            .library()
            .file(b"x".to_vec(), "")
            .descriptor(descriptor("application/pdf", "a"))
            .send()
            .await,
        "file_name",
    );
    assert_field(
        push()
            .library()
            .file(b"x".to_vec(), "f")
            .descriptor(descriptor("application/pdf", "acc\r\nX-Evil: 1"))
            .send()
            .await,
        "descriptor.accounts.accountId",
    );
    assert_field(
        push()
            .library()
            .file(b"x".to_vec(), "f")
            .descriptor(descriptor("", "a"))
            .send()
            .await,
        "descriptor.mime_type",
    );
    assert_field(
        push()
            .library()
            .file(b"x".to_vec(), "f")
            .descriptor(descriptor("text/plain\r\n", "a"))
            .send()
            .await,
        "descriptor.mime_type",
    );
    assert_field(
        push()
            .library()
            .file(b"x".to_vec(), "f")
            .descriptor(
                FileDescriptor::builder()
                    .mime_type("text/plain")
                    .accounts(vec![])
                    .build(),
            )
            .send()
            .await,
        "descriptor.accounts",
    );
    let provider = |account: &str, data: serde_json::Value| {
        push()
            .provider()
            .standard(Standard::Fhir)
            .version(FhirVersion::Stu3)
            .account_id(account)
            .data(data)
            .send()
    };
    assert_field(provider("a", serde_json::json!([1, 2])).await, "data");
    assert_field(provider("a", serde_json::json!("Bundle")).await, "data");
    assert_field(provider("a", serde_json::Value::Null).await, "data");
    assert_field(provider("", serde_json::json!({})).await, "account_id");
    assert_field(
        provider("a\r\nb", serde_json::json!({})).await,
        "account_id",
    );
    assert_field(
        provider("açcount", serde_json::json!({})).await,
        "account_id",
    );

    assert_eq!(env.request_count(), before, "nothing reached the server");
    assert!(env.sandbox.library(support::USER).is_empty());
}
