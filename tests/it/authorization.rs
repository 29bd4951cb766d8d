//! The real authorization flow against the sandbox: authorize, consent (the
//! onboard redirect, followed as a browser would), the callback, the code
//! exchange, read accounts, then a provider push to the onboarded account.

use crate::support;

use digime::consent::{AuthorizeCallback, SourceType};
use digime::{ErrorKind, FhirVersion, Standard};
use support::{APP, CONTRACT, Env, USER, consent};

#[tokio::test]
async fn authorize_consent_exchange_read_accounts_then_push() {
    let env = Env::new().await;
    let auth = env
        .sdk
        .authorize(&env.contract)
        .callback("http://127.0.0.1:9/callback")
        .state("state-123")
        .source_type(SourceType::Push)
        .send()
        .await
        .expect("authorize");
    let url = auth.url().to_string();
    assert!(url.starts_with(&env.sandbox.onboard_url()), "{url}");
    assert!(url.contains("sourceType=push"), "{url}");

    let location = consent(&url).await;
    assert!(
        location.starts_with("http://127.0.0.1:9/callback?"),
        "{location}"
    );
    let callback = AuthorizeCallback::from_url(&location).expect("a successful callback");
    callback
        .verify_state(&"state-123".into())
        .expect("state matches");
    assert!(callback.verify_state(&"state-999".into()).is_err());
    let reference = callback
        .account_reference()
        .expect("accountReference")
        .to_string();

    let token = env
        .sdk
        .exchange_code_for_token(&env.contract, callback.code(), auth.code_verifier())
        .await
        .expect("exchange");
    let accounts = env
        .sdk
        .read_accounts(&env.contract, &token)
        .await
        .expect("accounts");
    assert!(!accounts.token_refreshed());
    let account = accounts
        .find_by_reference(&reference)
        .expect("the onboarded account is listed")
        .clone();

    env.sdk
        .push(&env.contract, accounts.user_access_token())
        .provider()
        .standard(Standard::Fhir)
        .version(FhirVersion::Stu3)
        .account_id(&account.id)
        .data(serde_json::json!({"resourceType": "Bundle", "type": "collection"}))
        .send()
        .await
        .expect("push to the onboarded account");
    let user = token.user_id().expect("the token names its user");
    let pushes = env.sandbox.provider_pushes(user);
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].account_id, account.id);

    // The code is single-use.
    let again = env
        .sdk
        .exchange_code_for_token(&env.contract, callback.code(), auth.code_verifier())
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Server, "{again:?}");
}

#[tokio::test]
async fn a_wrong_code_verifier_fails_pkce() {
    let env = Env::new().await;
    let auth = env
        .sdk
        .authorize(&env.contract)
        .callback("http://127.0.0.1:9/cb")
        .state("s")
        .send()
        .await
        .unwrap();
    let callback = AuthorizeCallback::from_url(&consent(auth.url().as_str()).await).unwrap();
    let wrong = digime::consent::PkceCodeVerifier::new("not-the-verifier");
    let err = env
        .sdk
        .exchange_code_for_token(&env.contract, callback.code(), &wrong)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(
        err.status().is_some_and(|s| (400..500).contains(&s)),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_existing_token_links_the_same_user() {
    let env = Env::new().await;
    let auth = env
        .sdk
        .authorize(&env.contract)
        .callback("http://127.0.0.1:9/cb")
        .state("s")
        .user_access_token(&env.token)
        .send()
        .await
        .unwrap();
    let callback = AuthorizeCallback::from_url(&consent(auth.url().as_str()).await).unwrap();
    let token = env
        .sdk
        .exchange_code_for_token(&env.contract, callback.code(), auth.code_verifier())
        .await
        .unwrap();
    assert_eq!(token.user_id(), Some(USER));
}

#[tokio::test]
async fn a_declined_consent_is_an_error_with_its_code() {
    let env = Env::new().await;
    env.sandbox
        .set_consent_failure(Some("ConsentDeclined".into()));
    let auth = env
        .sdk
        .authorize(&env.contract)
        .callback("http://127.0.0.1:9/cb")
        .state("s")
        .send()
        .await
        .unwrap();
    let location = consent(auth.url().as_str()).await;
    let err = AuthorizeCallback::from_url(&location).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AuthorizationFailed);
    assert_eq!(err.code(), Some("ConsentDeclined"));
}

#[tokio::test]
async fn contract_details_tell_write_from_read() {
    let env = Env::new().await;
    let info = env.sdk.contract_info(&env.contract).await.expect("details");
    assert_eq!(info.id, CONTRACT);
    assert!(info.can_write());
    let key = digime::sandbox::generate_private_key_pem().unwrap();
    let read = digime::ContractDetails::new("reader", &key).unwrap();
    env.sandbox
        .register_read_contract(APP, "reader", &read.public_key_pem())
        .unwrap();
    let info = env.sdk.contract_info(&read).await.unwrap();
    assert!(!info.can_write());
}

#[tokio::test]
async fn delete_user_empties_the_library_and_ends_the_tokens() {
    let env = Env::new().await;
    env.sdk
        .push(&env.contract, &env.token)
        .library()
        .file(b"x".to_vec(), "x.txt")
        .descriptor(
            digime::FileDescriptor::builder()
                .mime_type("text/plain")
                .accounts(vec![digime::Account::new("a")])
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(env.sandbox.library(USER).len(), 1);
    env.sdk
        .delete_user(&env.contract, &env.token)
        .await
        .expect("delete");
    assert!(env.sandbox.library(USER).is_empty());
    let err = env
        .sdk
        .read_accounts(&env.contract, &env.token)
        .await
        .unwrap_err();
    assert!(err.is_reauthorization_required(), "{err:?}");
}

/// A code and its verifier, from a real authorize and consent.
async fn a_code(
    env: &Env,
) -> (
    digime::consent::AuthorizationCode,
    digime::consent::Authorization,
) {
    let auth = env
        .sdk
        .authorize(&env.contract)
        .callback("http://127.0.0.1:9/callback")
        .state("s")
        .send()
        .await
        .expect("authorize");
    let location = consent(auth.url().as_str()).await;
    let callback = AuthorizeCallback::from_url(&location).expect("a successful callback");
    (callback.code().clone(), auth)
}

#[tokio::test]
async fn a_code_exchange_is_resent_after_a_503_only() {
    use digime::sandbox::Fault;
    let env = Env::new().await;
    let (code, auth) = a_code(&env).await;
    env.sandbox
        .inject_fault(Fault::with_status("oauth/token", 503).with_retry_after(0));
    env.sdk
        .exchange_code_for_token(&env.contract, &code, auth.code_verifier())
        .await
        .expect("resent after the 503");

    // Answered 502 after the sandbox spent the code: not sent again, and
    // the error says the exchange may have happened.
    let (code, auth) = a_code(&env).await;
    env.sandbox
        .inject_fault(Fault::with_status("oauth/token", 502).after_handling());
    let before = env.sandbox.requests().len();
    let err = env
        .sdk
        .exchange_code_for_token(&env.contract, &code, auth.code_verifier())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(502), "{err:?}");
    assert!(err.refresh_may_have_happened(), "{err:?}");
    assert!(
        err.user_access_token().is_none(),
        "an exchange has no old token"
    );
    assert!(
        err.to_string()
            .contains("the code exchange may have happened"),
        "{err}"
    );
    assert!(!err.may_have_been_stored());
    let token_calls = env.sandbox.requests()[before..]
        .iter()
        .filter(|r| r.path == "oauth/token")
        .count();
    assert_eq!(token_calls, 1, "not sent again");
    // It did happen: the code is spent.
    let again = env
        .sdk
        .exchange_code_for_token(&env.contract, &code, auth.code_verifier())
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("InvalidRequest"), "{again:?}");
    assert!(!again.refresh_may_have_happened());
}

#[test]
fn callback_parser_rejects_malformed_queries() {
    for bad in [
        "",
        "success=maybe&code=c",
        "success=true",
        "success=true&code=",
        "success=true&code=a&code=b",
    ] {
        let err = AuthorizeCallback::from_query(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}");
        assert_eq!(err.field(), Some("callback_query"), "{bad}");
    }
    let err = AuthorizeCallback::from_query("success=false").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AuthorizationFailed);
    assert_eq!(err.code(), None);
}
