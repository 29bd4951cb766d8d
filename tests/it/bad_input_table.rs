//! A table of malformed inputs. Each row is refused with
//! `ErrorKind::InvalidInput`, names the field (`Error::field` and the
//! message), never panics, and sends nothing: the sandbox sees no request
//! and stores nothing.

use crate::support;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::Duration;

use digime::consent::{AuthorizationCode, AuthorizeCallback, PkceCodeVerifier};
use digime::{Account, ContractDetails, DigiMe, ErrorKind, FhirVersion, FileDescriptor, Standard};
use futures_util::FutureExt;
use serde_json::{Value, json};
use support::{EC_PEM, Env, RSA_1024_PEM, USER};

type Case<'a> = (
    &'static str,
    &'static str,
    Pin<Box<dyn Future<Output = digime::Result<()>> + 'a>>,
);

fn case<'a, T>(
    name: &'static str,
    field: &'static str,
    fut: impl Future<Output = digime::Result<T>> + 'a,
) -> Case<'a> {
    (name, field, Box::pin(async move { fut.await.map(|_| ()) }))
}

fn ready<T: 'static>(result: digime::Result<T>) -> impl Future<Output = digime::Result<T>> {
    std::future::ready(result)
}

fn descriptor(mime: &str, account: &str) -> FileDescriptor {
    FileDescriptor::builder()
        .mime_type(mime)
        .accounts(vec![Account::new(account)])
        .build()
}

#[tokio::test]
async fn every_malformed_input_is_a_clear_error_naming_the_field() {
    let env = Env::new().await;
    let good_pem = support::RSA_2048_PEM;
    let public_pem = env.contract.public_key_pem();
    let truncated_pem = &good_pem[..good_pem.len() / 2];
    let base = env.sandbox.base_url();
    let builder = || DigiMe::builder().application_id("app").base_url(&base);

    let library = |bytes: &'static [u8], name: &str, d: FileDescriptor| {
        env.sdk
            .push(&env.contract, &env.token)
            .library()
            .file(bytes, name)
            .descriptor(d)
            .send()
    };
    let provider = |account: &str, data: Value| {
        env.sdk
            .push(&env.contract, &env.token)
            .provider()
            .standard(Standard::Fhir)
            .version(FhirVersion::Stu3)
            .account_id(account)
            .data(data)
            .send()
    };
    let authorize = |callback: &str, state: &str| {
        env.sdk
            .authorize(&env.contract)
            .callback(callback)
            .state(state)
            .send()
    };
    let with_tags = |tags: Vec<String>| {
        FileDescriptor::builder()
            .mime_type("text/plain")
            .accounts(vec![Account::new("acc-1")])
            .tags(tags)
            .build()
    };
    let with_reference = |reference: Vec<String>| {
        FileDescriptor::builder()
            .mime_type("text/plain")
            .accounts(vec![Account::new("acc-1")])
            .reference(reference)
            .build()
    };
    let verifier = PkceCodeVerifier::new("v".repeat(43));
    let empty_verifier = PkceCodeVerifier::new("");
    let (empty_code, lf_code, code) = (
        AuthorizationCode::new(""),
        AuthorizationCode::new("a\nb"),
        AuthorizationCode::new("code"),
    );

    let cases: Vec<Case<'_>> = vec![
        // ---- keys ----
        case(
            "key: not PEM",
            "private_key",
            ready(ContractDetails::new("c", "not a pem")),
        ),
        case(
            "key: empty",
            "private_key",
            ready(ContractDetails::new("c", "")),
        ),
        case(
            "key: PEM with a garbage body",
            "private_key",
            ready(ContractDetails::new(
                "c",
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            )),
        ),
        case(
            "key: truncated PEM",
            "private_key",
            ready(ContractDetails::new("c", truncated_pem)),
        ),
        case(
            "key: EC, not RSA",
            "private_key",
            ready(ContractDetails::new("c", EC_PEM)),
        ),
        case(
            "key: RSA-1024, too short",
            "private_key",
            ready(ContractDetails::new("c", RSA_1024_PEM)),
        ),
        case(
            "key: a public key",
            "private_key",
            ready(ContractDetails::new("c", &public_pem)),
        ),
        case(
            "key: a certificate",
            "private_key",
            ready(ContractDetails::new(
                "c",
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            )),
        ),
        // ---- ids ----
        case(
            "contract id: empty",
            "contract_id",
            ready(ContractDetails::new("", good_pem)),
        ),
        case(
            "contract id: CR LF",
            "contract_id",
            ready(ContractDetails::new("c\r\n", good_pem)),
        ),
        case(
            "application id: missing",
            "application_id",
            ready(DigiMe::builder().build()),
        ),
        case(
            "application id: blank",
            "application_id",
            ready(DigiMe::builder().application_id("  ").build()),
        ),
        case(
            "application id: LF",
            "application_id",
            ready(DigiMe::builder().application_id("a\nb").build()),
        ),
        // ---- URLs ----
        case(
            "base url: not a URL",
            "base_url",
            ready(builder().base_url("not a url").build()),
        ),
        case(
            "base url: ftp",
            "base_url",
            ready(builder().base_url("ftp://host/v1.7/").build()),
        ),
        case(
            "base url: no host",
            "base_url",
            ready(builder().base_url("http://").build()),
        ),
        case(
            "base url: a query",
            "base_url",
            ready(builder().base_url("http://h/v1.7/?x=1").build()),
        ),
        case(
            "base url: credentials",
            "base_url",
            ready(builder().base_url("http://u:p@h/v1.7/").build()),
        ),
        case(
            "base url: CR LF",
            "base_url",
            ready(builder().base_url("http://h/\r\nX: 1").build()),
        ),
        case(
            "onboard url: not a URL",
            "onboard_url",
            ready(builder().onboard_url("::").build()),
        ),
        case(
            "callback: not a URL",
            "callback",
            authorize("not a url", "s"),
        ),
        case(
            "callback: ftp",
            "callback",
            authorize("ftp://127.0.0.1/cb", "s"),
        ),
        case(
            "state: LF",
            "state",
            authorize("http://127.0.0.1/cb", "s\nt"),
        ),
        case(
            "callback url: not a URL",
            "callback_url",
            ready(AuthorizeCallback::from_url("::nope")),
        ),
        case(
            "callback query: empty",
            "callback_query",
            ready(AuthorizeCallback::from_query("")),
        ),
        case(
            "callback query: success without code",
            "callback_query",
            ready(AuthorizeCallback::from_query("success=true&state=s")),
        ),
        // ---- settings ----
        case(
            "timeout: zero",
            "timeout",
            ready(builder().timeout(Duration::ZERO).build()),
        ),
        case(
            "read timeout: zero",
            "read_timeout",
            ready(builder().read_timeout(Duration::ZERO).build()),
        ),
        // ---- descriptors ----
        case(
            "mime type: empty",
            "descriptor.mime_type",
            library(b"x", "f.txt", descriptor("", "acc-1")),
        ),
        case(
            "mime type: CR LF",
            "descriptor.mime_type",
            library(b"x", "f.txt", descriptor("text/plain\r\n", "acc-1")),
        ),
        case(
            "mime type: LF inside",
            "descriptor.mime_type",
            library(b"x", "f.txt", descriptor("text/\nplain", "acc-1")),
        ),
        case(
            "mime type: non-ASCII",
            "descriptor.mime_type",
            library(b"x", "f.txt", descriptor("tëxt/plain", "acc-1")),
        ),
        case(
            "mime type: no subtype",
            "descriptor.mime_type",
            library(b"x", "f.txt", descriptor("pdf", "acc-1")),
        ),
        case(
            "mime type: spaces",
            "descriptor.mime_type",
            library(b"x", "f.txt", descriptor("text / plain", "acc-1")),
        ),
        case(
            "accounts: none",
            "descriptor.accounts",
            library(
                b"x",
                "f.txt",
                FileDescriptor::builder()
                    .mime_type("text/plain")
                    .accounts(vec![])
                    .build(),
            ),
        ),
        case(
            "account id: empty",
            "descriptor.accounts.accountId",
            library(b"x", "f.txt", descriptor("text/plain", "")),
        ),
        case(
            "account id: CR LF",
            "descriptor.accounts.accountId",
            library(b"x", "f.txt", descriptor("text/plain", "acc\r\nX-Evil: 1")),
        ),
        case(
            "account id: LF",
            "descriptor.accounts.accountId",
            library(b"x", "f.txt", descriptor("text/plain", "acc\n")),
        ),
        case(
            "account id: CR",
            "descriptor.accounts.accountId",
            library(b"x", "f.txt", descriptor("text/plain", "acc\r")),
        ),
        case(
            "tags: a huge list",
            "descriptor.tags",
            library(
                b"x",
                "f.txt",
                with_tags((0..10_000).map(|i| format!("t{i}")).collect()),
            ),
        ),
        case(
            "tags: a huge tag",
            "descriptor.tags",
            library(b"x", "f.txt", with_tags(vec!["t".repeat(100_000)])),
        ),
        case(
            "tags: a control character",
            "descriptor.tags",
            library(b"x", "f.txt", with_tags(vec!["a\u{7}".into()])),
        ),
        case(
            "reference: a huge list",
            "descriptor.reference",
            library(
                b"x",
                "f.txt",
                with_reference((0..5_000).map(|i| format!("r{i}")).collect()),
            ),
        ),
        case(
            "descriptor: too big for its header",
            "descriptor",
            library(
                b"x",
                "f.txt",
                with_tags((0..100).map(|i| format!("{i:0>200}")).collect()),
            ),
        ),
        // ---- file names ----
        case(
            "file name: empty",
            "file_name",
            library(b"x", "", descriptor("text/plain", "acc-1")),
        ),
        case(
            "file name: CR",
            "file_name",
            library(b"x", "a\rb.pdf", descriptor("text/plain", "acc-1")),
        ),
        case(
            "file name: LF",
            "file_name",
            library(b"x", "a\nb.pdf", descriptor("text/plain", "acc-1")),
        ),
        case(
            "file name: NUL",
            "file_name",
            library(b"x", "report\0.pdf", descriptor("text/plain", "acc-1")),
        ),
        // ---- provider pushes ----
        case(
            "provider data: an array",
            "data",
            provider("acc-1", json!([1, 2])),
        ),
        case(
            "provider data: a string",
            "data",
            provider("acc-1", json!("Bundle")),
        ),
        case(
            "provider data: null",
            "data",
            provider("acc-1", Value::Null),
        ),
        case(
            "provider data: a number",
            "data",
            provider("acc-1", json!(42)),
        ),
        case(
            "provider data: a bool",
            "data",
            provider("acc-1", json!(true)),
        ),
        case(
            "provider account id: empty",
            "account_id",
            provider("", json!({})),
        ),
        case(
            "provider account id: CR LF",
            "account_id",
            provider("a\r\nb", json!({})),
        ),
        case(
            "provider account id: non-ASCII",
            "account_id",
            provider("açcount", json!({})),
        ),
        // ---- the code exchange ----
        case(
            "code: empty",
            "code",
            env.sdk
                .exchange_code_for_token(&env.contract, &empty_code, &verifier),
        ),
        case(
            "code: LF",
            "code",
            env.sdk
                .exchange_code_for_token(&env.contract, &lf_code, &verifier),
        ),
        case(
            "code verifier: empty",
            "code_verifier",
            env.sdk
                .exchange_code_for_token(&env.contract, &code, &empty_verifier),
        ),
    ];
    assert!(cases.len() >= 30, "{} cases", cases.len());

    let before = env.request_count();
    let mut failures = Vec::new();
    let total = cases.len();
    for (name, field, fut) in cases {
        match AssertUnwindSafe(fut).catch_unwind().await {
            Err(_) => failures.push(format!("{name}: panicked")),
            Ok(Ok(())) => failures.push(format!("{name}: accepted")),
            Ok(Err(err)) => {
                if err.kind() != ErrorKind::InvalidInput {
                    failures.push(format!("{name}: kind {:?}: {err}", err.kind()));
                } else if err.field() != Some(field) {
                    failures.push(format!(
                        "{name}: field {:?}, wanted {field}: {err}",
                        err.field()
                    ));
                } else if !err.to_string().contains(field) {
                    failures.push(format!("{name}: the message does not name {field}: {err}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        env.request_count(),
        before,
        "bad input never reaches the server"
    );
    assert!(env.sandbox.library(USER).is_empty());
    assert!(env.sandbox.provider_pushes(USER).is_empty());
}

/// What the table does not refuse: file names are not sent on the wire, so
/// a non-ASCII one is fine; an account id in the descriptor travels inside
/// a JWT (JSON), so it may be non-ASCII; limits are inclusive.
#[tokio::test]
async fn legitimate_edge_inputs_are_accepted_and_stored() {
    let env = Env::new().await;
    let push = |name: &str, d: FileDescriptor| {
        env.sdk
            .push(&env.contract, &env.token)
            .library()
            .file(b"ok".to_vec(), name)
            .descriptor(d)
            .send()
    };
    push("résumé.pdf", descriptor("application/pdf", "acc-1"))
        .await
        .expect("a non-ASCII file name is fine");
    push("f.txt", descriptor("text/plain", "compte-é"))
        .await
        .expect("a non-ASCII account id in the descriptor is fine");
    push(
        "f.txt",
        FileDescriptor::builder()
            .mime_type("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
            .accounts(vec![Account::new("acc-1")])
            .tags((0..100).map(|i| format!("tag-{i}")).collect())
            .reference(vec!["r".repeat(256)])
            .build(),
    )
    .await
    .expect("100 tags and a 256-byte reference are within the limits");
    let library = env.sandbox.library(USER);
    assert_eq!(library.len(), 3);
    assert_eq!(
        library[1].descriptor["accounts"][0]["accountId"],
        "compte-é"
    );
    assert_eq!(
        library[2].descriptor["tags"].as_array().map(Vec::len),
        Some(100)
    );
}
