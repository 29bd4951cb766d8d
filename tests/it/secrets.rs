//! No secret ever reaches a log line or a formatted value.
//!
//! One full flow runs under a TRACE subscriber that captures everything
//! (SDK, sandbox, reqwest, hyper): authorize, consent through the onboard
//! redirect, the code exchange, a push, a refresh (forced by an expired
//! access token, then explicit), read accounts, and a failed push. `Debug`
//! and `Display` of every public type met on the way are captured too. The
//! private key, every access and refresh token, the code verifier and the
//! authorization code must appear nowhere. The per-call span (endpoint,
//! attempt, status, duration) must be there.

use crate::support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use digime::consent::{AuthorizeCallback, PullSessionOptions, SampleDataOptions, SourceType};
use digime::push::FileData;
use digime::sandbox::{Fault, Sandbox};
use digime::secrecy::ExposeSecret;
use digime::{Account, ContractDetails, DigiMe, ErrorKind, FhirVersion, FileDescriptor, Standard};
use tracing_subscriber::fmt::format::FmtSpan;

const APP: &str = "secrets-app";
const CONTRACT: &str = "secrets-contract";

/// A `MakeWriter` that appends everything to one buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Everything formatted during the flow, and every secret met.
#[derive(Default)]
struct Seen {
    formatted: Vec<String>,
    secrets: Vec<(String, String)>,
}

impl Seen {
    fn debug(&mut self, what: &str, value: &impl std::fmt::Debug) {
        self.formatted
            .push(format!("{what}: {value:?} / {value:#?}"));
    }
    fn display(&mut self, what: &str, value: &impl std::fmt::Display) {
        self.formatted.push(format!("{what}: {value}"));
    }
    fn both(&mut self, what: &str, value: &(impl std::fmt::Debug + std::fmt::Display)) {
        self.debug(what, value);
        self.display(what, value);
    }
    fn secret(&mut self, what: &str, value: &str) {
        assert!(value.len() >= 8, "{what} is long enough to search for");
        self.secrets.push((what.to_string(), value.to_string()));
    }
    fn token(&mut self, what: &str, token: &digime::UserAccessToken) {
        self.secret(
            &format!("{what} access token"),
            token.access_token().value().expose_secret(),
        );
        self.secret(
            &format!("{what} refresh token"),
            token.refresh_token().value().expose_secret(),
        );
        self.debug(what, token);
        self.both(&format!("{what}.access_token"), token.access_token());
        self.both(&format!("{what}.refresh_token"), token.refresh_token());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_debug_or_display_during_a_full_flow() {
    // The subscriber below is global: it must see this flow and nothing else.
    if !support::own_process(
        module_path!(),
        "no_secret_in_logs_debug_or_display_during_a_full_flow",
    ) {
        return;
    }
    let capture = Capture::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(capture.clone())
        .init();
    let mut seen = Seen::default();

    // The contract, from a PEM we hold, so that its text can be searched for.
    let sandbox = Sandbox::start().await.unwrap();
    let pem = digime::sandbox::generate_private_key_pem().unwrap();
    for line in pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
    {
        seen.secret("private key PEM line", line);
    }
    let contract = ContractDetails::new(CONTRACT, &pem).unwrap();
    sandbox
        .register_contract(APP, CONTRACT, &contract.public_key_pem())
        .unwrap();
    seen.debug("ContractDetails", &contract);
    seen.debug("Sandbox", &sandbox);

    let builder = DigiMe::builder()
        .application_id(APP)
        .base_url(&sandbox.base_url());
    seen.debug("DigiMeBuilder", &builder);
    let sdk = builder.build().unwrap();
    seen.debug("DigiMe", &sdk);

    // Authorize, consent (the onboard redirect), the callback.
    let authorize = sdk
        .authorize(&contract)
        .callback("http://127.0.0.1:9/callback")
        .state("state-1")
        .source_type(SourceType::Push)
        .pull_session(PullSessionOptions::default())
        .sample_data(SampleDataOptions::default());
    seen.debug("AuthorizeBuilder", &authorize);
    let authorization = authorize.send().await.unwrap();
    seen.secret(
        "code verifier",
        authorization.code_verifier().expose_secret(),
    );
    seen.debug("Authorization", &authorization);
    seen.debug(
        "ReadSession",
        authorization
            .read_session()
            .expect("a session with session options"),
    );
    seen.debug("SourceType", &SourceType::Push);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = browser
        .get(authorization.url().as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 302);
    let location = redirect.headers()["location"].to_str().unwrap().to_string();
    let callback = AuthorizeCallback::from_url(&location).unwrap();
    seen.secret("authorization code", callback.code().expose_secret());
    seen.debug("AuthorizationCode", callback.code());
    seen.debug("PkceCodeVerifier", authorization.code_verifier());
    seen.debug("AuthorizeCallback", &callback);

    // The exchange.
    let token = sdk
        .exchange_code_for_token(&contract, callback.code(), authorization.code_verifier())
        .await
        .unwrap();
    seen.token("exchanged token", &token);
    let user = token.user_id().unwrap().to_string();

    // A push.
    let descriptor = FileDescriptor::builder()
        .mime_type("application/pdf")
        .accounts(vec![Account::new("acc-1")])
        .tags(vec!["lab".into()])
        .build();
    seen.debug("FileDescriptor", &descriptor);
    seen.debug("Account", &Account::new("acc-1"));
    let data = FileData::from(b"%PDF-1.7 secret-free".to_vec());
    seen.debug("FileData", &data);
    let push = sdk.push(&contract, &token);
    seen.debug("PushBuilder", &push);
    let library = push
        .library()
        .file(data, "report.pdf")
        .descriptor(descriptor.clone());
    seen.debug("LibraryPush", &library);
    let outcome = library.send().await.unwrap();
    seen.debug("PushOutcome", &outcome);

    // A refresh forced by an expired access token, during a push.
    sandbox.expire_access_token(&user);
    let outcome = sdk
        .push(&contract, outcome.user_access_token())
        .library()
        .file(b"second".to_vec(), "second.txt")
        .descriptor(descriptor.clone())
        .send()
        .await
        .unwrap();
    assert!(outcome.token_refreshed());
    seen.token("refreshed token", outcome.user_access_token());
    seen.debug("PushOutcome (refreshed)", &outcome);

    // An explicit refresh, then read accounts.
    let token = sdk
        .refresh(&contract, outcome.user_access_token())
        .await
        .unwrap();
    seen.token("explicitly refreshed token", &token);
    let accounts = sdk.read_accounts(&contract, &token).await.unwrap();
    seen.debug("AccountsOutcome", &accounts);
    for account in accounts.accounts() {
        seen.debug("ServiceAccount", account);
    }
    let info = sdk.contract_info(&contract).await.unwrap();
    seen.debug("ContractInfo", &info);

    // A provider push, through a shared session after another expiry.
    let session = sdk.session(&contract, token.clone());
    seen.debug("UserSession", &session);
    sandbox.expire_access_token(&user);
    let account_id = accounts.accounts()[0].id.clone();
    let provider = session
        .push()
        .provider()
        .standard(Standard::Fhir)
        .version(FhirVersion::Stu3)
        .account_id(&account_id)
        .data(serde_json::json!({"resourceType": "Bundle"}));
    seen.debug("ProviderPush", &provider);
    seen.both("Standard", &Standard::Fhir);
    seen.both("FhirVersion", &FhirVersion::Stu3);
    provider.send().await.unwrap();
    seen.token("session token", &session.user_access_token());
    seen.debug("UserSession (refreshed)", &session);

    // Errors: a server error, a reader that cannot be replayed after a
    // refresh (the error carries the new token), a rejected refresh.
    sandbox.inject_fault(Fault::with_status("permission-access/import", 500));
    let err = session
        .push()
        .library()
        .file(b"x".to_vec(), "x.txt")
        .descriptor(descriptor.clone())
        .send()
        .await
        .unwrap_err();
    seen.both("Error (500)", &err);
    seen.both("ServerError", err.server().unwrap());
    seen.debug("ErrorKind", &err.kind());
    sandbox.expire_access_token(&user);
    let err = session
        .push()
        .library()
        .file(
            FileData::from_reader(std::io::Cursor::new(vec![1u8; 8]), 8),
            "r.bin",
        )
        .descriptor(descriptor.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DataNotReplayable, "{err:?}");
    seen.both("Error (not replayable)", &err);
    seen.token("token in the error", err.user_access_token().unwrap());
    sandbox.expire_refresh_token(&user);
    sandbox.expire_access_token(&user);
    let err = sdk
        .read_accounts(&contract, &session.user_access_token())
        .await
        .unwrap_err();
    assert!(err.is_reauthorization_required(), "{err:?}");
    seen.both("Error (reauthorize)", &err);

    // The lifecycle: reauthorize with the lapsed token, then onboard,
    // reauthorize an account, revoke and delete one.
    let reauthorize = sdk
        .reauthorize(&contract, &session.user_access_token())
        .callback("http://127.0.0.1:9/callback")
        .state("state-2");
    seen.debug("ReauthorizeBuilder", &reauthorize);
    let reauthorization = reauthorize.send().await.unwrap();
    seen.secret(
        "reauthorization code verifier",
        reauthorization.code_verifier().expose_secret(),
    );
    seen.debug("Authorization (reauthorize)", &reauthorization);
    let location = support::consent(reauthorization.url().as_str()).await;
    let callback = AuthorizeCallback::from_url(&location).unwrap();
    seen.secret("reauthorization code", callback.code().expose_secret());
    let token = sdk
        .exchange_code_for_token(&contract, callback.code(), reauthorization.code_verifier())
        .await
        .unwrap();
    seen.token("reauthorized token", &token);
    let onboard = sdk
        .onboard(&contract, &token)
        .callback("http://127.0.0.1:9/onboarded")
        .sources_scope(digime::consent::SourcesScope::new().data_types(["medical"]));
    seen.debug("OnboardBuilder", &onboard);
    let link = onboard.send().await.unwrap();
    seen.debug("ConsentLink", &link);
    let location = support::consent(link.url().as_str()).await;
    seen.debug(
        "AccountCallback",
        &digime::consent::AccountCallback::from_url(&location).unwrap(),
    );
    let account = sdk
        .reauthorize_account(&contract, &token)
        .account_id(&account_id)
        .callback("http://127.0.0.1:9/account");
    seen.debug("ReauthorizeAccountBuilder", &account);
    seen.debug("ConsentLink (account)", &account.send().await.unwrap());
    let revoke = sdk
        .revoke_account_url(&contract, &token, &account_id, "http://127.0.0.1:9/revoked")
        .await
        .unwrap();
    seen.debug("Outcome (revoke)", &revoke);
    let deleted = sdk
        .delete_account(&contract, &token, &account_id)
        .await
        .unwrap();
    seen.debug("Outcome (delete)", &deleted);
    seen.debug("Fault", &Fault::with_status("x", 503));
    for record in sandbox.requests() {
        seen.debug("RequestRecord", &record);
    }
    for entry in sandbox.library(&user) {
        seen.debug("LibraryEntry", &entry);
    }

    // Everything that was written.
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let formatted = seen.formatted.join("\n");
    assert!(
        logs.len() > 10_000,
        "TRACE output was captured ({} bytes)",
        logs.len()
    );
    let mut leaks = Vec::new();
    for (what, secret) in &seen.secrets {
        if logs.contains(secret.as_str()) {
            leaks.push(format!("{what} in the logs"));
        }
        if formatted.contains(secret.as_str()) {
            leaks.push(format!("{what} in Debug/Display"));
        }
    }
    // No JWT either (a Bearer JWT carries the access token).
    for (name, text) in [("logs", &logs), ("Debug/Display", &formatted)] {
        if text.contains("Bearer ey") {
            leaks.push(format!("a Bearer JWT in the {name}"));
        }
        let jwt_like = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-'))
            .any(|w| w.starts_with("eyJ") && w.matches('.').count() == 2 && w.len() > 100);
        if jwt_like {
            leaks.push(format!("a JWT in the {name}"));
        }
    }
    assert!(leaks.is_empty(), "secrets leaked: {leaks:#?}");

    // The per-call span: endpoint, attempt, status, duration.
    let call_spans: Vec<&str> = logs.lines().filter(|l| l.contains("digime.call")).collect();
    assert!(!call_spans.is_empty(), "digime.call spans are emitted");
    for endpoint in [
        "oauth/authorize",
        "oauth/token",
        "permission-access/import",
        "permission-access/accounts",
        "permission-access/contract",
    ] {
        let line = call_spans
            .iter()
            .find(|l| l.contains(&format!("endpoint=\"{endpoint}\"")) && l.contains("close"))
            .unwrap_or_else(|| panic!("a closed span for {endpoint}:\n{}", call_spans.join("\n")));
        for field in ["attempt=", "status=", "duration_ms="] {
            assert!(line.contains(field), "{endpoint} span has {field}: {line}");
        }
    }
    assert!(
        call_spans.iter().any(|l| l.contains("status=500")),
        "a failed attempt records its status"
    );
}

/// Everything `capture` holds, as text.
fn text(capture: &Capture) -> String {
    String::from_utf8(capture.0.lock().unwrap().clone()).unwrap()
}

#[tokio::test]
async fn a_library_push_logs_its_file_name_at_debug_only() {
    let sandbox = Sandbox::start().await.unwrap();
    let contract = sandbox.generate_contract(APP, CONTRACT).unwrap();
    sandbox.create_user("u", &["a"]).unwrap();
    let token = sandbox.mint_token(APP, CONTRACT, "u").unwrap();
    let sdk = DigiMe::builder()
        .application_id(APP)
        .base_url(&sandbox.base_url())
        .build()
        .unwrap();
    for (level, shown) in [(tracing::Level::INFO, false), (tracing::Level::DEBUG, true)] {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_span_events(FmtSpan::CLOSE)
            .with_ansi(false)
            .with_writer(capture.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        sdk.push(&contract, &token)
            .library()
            .file(b"%PDF".to_vec(), "hiv-test-result.pdf")
            .descriptor(
                FileDescriptor::builder()
                    .mime_type("application/pdf")
                    .accounts(vec![Account::new("a")])
                    .build(),
            )
            .send()
            .await
            .unwrap();
        drop(guard);
        let logs = text(&capture);
        assert!(
            logs.contains("digime.push.library") && logs.contains("size=4"),
            "the push span is logged at {level}: {logs}"
        );
        assert_eq!(
            logs.contains("hiv-test-result"),
            shown,
            "the file name at {level}: {logs}"
        );
    }
}

#[test]
fn debug_of_a_provider_push_shows_the_size_of_the_record_not_the_record() {
    let sdk = DigiMe::builder().application_id(APP).build().unwrap();
    let contract =
        ContractDetails::new(CONTRACT, include_str!("support/keys/rsa2048.pem")).unwrap();
    let token = digime::UserAccessToken::new(
        digime::Token::new("access-value", std::time::UNIX_EPOCH),
        digime::Token::new("refresh-value", std::time::UNIX_EPOCH),
        None,
        None,
    );
    let record = serde_json::json!({
        "resourceType": "Patient",
        "name": [{ "family": "Lovelace", "given": ["Ada"] }],
        "birthDate": "1815-12-10"
    });
    let size = serde_json::to_vec(&record).unwrap().len();
    let push = sdk
        .push(&contract, &token)
        .provider()
        .standard(Standard::Fhir)
        .version(FhirVersion::Stu3)
        .account_id("acc")
        .data(record);
    for debug in [format!("{push:?}"), format!("{push:#?}")] {
        assert!(
            !debug.contains("Lovelace") && !debug.contains("1815"),
            "{debug}"
        );
        assert!(debug.contains(&format!("{size} bytes of JSON")), "{debug}");
    }
}
