//! The account lifecycle against the sandbox, through the SDK: reauthorize a
//! user whose refresh token ran out (same user, same library), onboard
//! another service, revoke and reauthorize one account, delete an account;
//! and the wire details the official client relies on.

use crate::support;

use digime::consent::{
    AccountCallback, AuthorizeCallback, PullSessionOptions, SourceType, SourcesScope,
};
use digime::sandbox::RequestRecord;
use digime::{Account, ErrorKind, FhirVersion, FileDescriptor, Standard};
use support::{ACCOUNTS, APP, CONTRACT, Env, USER, consent, sha256_hex};

fn text_file(
    env: &Env,
    token: &digime::UserAccessToken,
    text: &str,
) -> digime::push::LibraryPush<
    digime::push::state::LibraryFileSet,
    digime::push::state::LibraryDescriptorSet,
> {
    env.sdk
        .push(&env.contract, token)
        .library()
        .file(text.as_bytes().to_vec(), "note.txt")
        .descriptor(
            FileDescriptor::builder()
                .mime_type("text/plain")
                .accounts(vec![Account::new("a")])
                .build(),
        )
}

fn provider_push(
    env: &Env,
    token: &digime::UserAccessToken,
    account_id: &str,
) -> digime::push::ProviderPush<
    digime::push::state::ProviderStandardSet,
    digime::push::state::ProviderVersionSet,
    digime::push::state::ProviderAccountIdSet,
    digime::push::state::ProviderDataSet,
> {
    env.sdk
        .push(&env.contract, token)
        .provider()
        .standard(Standard::Fhir)
        .version(FhirVersion::Stu3)
        .account_id(account_id)
        .data(serde_json::json!({"resourceType": "Bundle", "type": "collection"}))
}

/// The last request the sandbox logged at `path`.
fn last(env: &Env, path: &str) -> RequestRecord {
    env.sandbox
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("no request to {path}"))
}

#[tokio::test]
async fn reauthorize_after_the_refresh_token_ran_out_keeps_the_user_and_library() {
    let env = Env::new().await;
    text_file(&env, &env.token, "before").send().await.unwrap();
    env.sandbox.expire_access_token(USER);
    env.sandbox.expire_refresh_token(USER);

    // The push needs a refresh, which is refused: reauthorization required,
    // and the message says what was rejected, with the server's code.
    let err = text_file(&env, &env.token, "lost")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReauthorizationRequired, "{err:?}");
    assert!(
        err.to_string()
            .starts_with("the refresh token was rejected (HTTP 401 InvalidToken"),
        "{err}"
    );
    // A second try still says the refresh token expired.
    let again = env
        .sdk
        .refresh(&env.contract, &env.token)
        .await
        .unwrap_err();
    assert!(again.is_reauthorization_required());
    assert!(
        again
            .server()
            .and_then(|s| s.message())
            .is_some_and(|m| m.contains("expired")),
        "{again:?}"
    );

    let auth = env
        .sdk
        .reauthorize(&env.contract, &env.token)
        .callback("http://127.0.0.1:9/reauthorized")
        .state("state-r")
        .locale("nl")
        .trigger_query(false)
        .send()
        .await
        .expect("the lapsed token is accepted for reauthorization");
    let url = auth.url().to_string();
    assert!(
        url.starts_with(&format!("{}user-reauth?code=", env.sandbox.onboard_url())),
        "{url}"
    );
    assert!(
        url.contains("lng=nl") && url.contains("triggerQuery=false"),
        "{url}"
    );
    assert!(
        auth.read_session().is_none(),
        "no session options, no session"
    );

    // The reference-code call carried the PKCE challenge, the callback, the
    // state and the lapsed access token.
    let call = last(&env, "oauth/token/reference");
    assert_eq!(call.status, 200);
    assert_eq!(
        call.claims["redirect_uri"],
        "http://127.0.0.1:9/reauthorized"
    );
    assert_eq!(call.claims["state"], "state-r");
    assert_eq!(call.claims["code_challenge_method"], "S256");
    assert_eq!(call.claims["code_challenge"].as_str().unwrap().len(), 43);
    assert_eq!(call.claims["access_token"], "[redacted]");

    let location = consent(&url).await;
    let callback = AuthorizeCallback::from_url(&location).expect("a successful callback");
    callback.verify_state(&"state-r".into()).unwrap();
    let token = env
        .sdk
        .exchange_code_for_token(&env.contract, callback.code(), auth.code_verifier())
        .await
        .expect("exchange");
    assert_eq!(token.user_id(), Some(USER), "the same user");

    text_file(&env, &token, "after").send().await.unwrap();
    let library = env.sandbox.library(USER);
    assert_eq!(library.len(), 2, "one library, before and after");
    // The lapsed pair is gone: the old token opens nothing any more.
    let err = env
        .sdk
        .reauthorize(&env.contract, &env.token)
        .callback("http://127.0.0.1:9/r")
        .state("s")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "{err:?}");
}

#[tokio::test]
async fn a_lapsed_access_token_opens_only_the_reauthorize_call() {
    let env = Env::new().await;
    env.sandbox.expire_access_token(USER);
    env.sandbox.expire_refresh_token(USER);
    // Onboarding is a call like any other: it refreshes, and the refresh
    // is refused.
    let err = env
        .sdk
        .onboard(&env.contract, &env.token)
        .callback("http://127.0.0.1:9/onboarded")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReauthorizationRequired, "{err:?}");
    let err = env
        .sdk
        .read_accounts(&env.contract, &env.token)
        .await
        .unwrap_err();
    assert!(err.is_reauthorization_required(), "{err:?}");
    // A token whose refresh token is still good is not lapsed, even when
    // its access token expired: reauthorize sends it as it is and is told
    // it expired.
    let other = env.sandbox.mint_token(APP, CONTRACT, USER).unwrap();
    env.sandbox.expire_access_token(USER);
    let err = env
        .sdk
        .reauthorize(&env.contract, &other)
        .callback("http://127.0.0.1:9/r")
        .state("s")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "{err:?}");
    assert_eq!(err.code(), Some("InvalidToken"));
}

#[tokio::test]
async fn onboard_adds_an_account_the_callback_reference_finds() {
    let env = Env::new().await;
    let scope = SourcesScope::new()
        .data_types(["medical"])
        .organization_type("hospital");
    let link = env
        .sdk
        .onboard(&env.contract, &env.token)
        .callback("http://127.0.0.1:9/onboarded")
        .state("state-o")
        .source_type(SourceType::Push)
        .service_id(777)
        .sources_scope(scope)
        .include_sample_data_only_sources(false)
        .send()
        .await
        .expect("onboard");
    let url = link.url().to_string();
    assert!(
        url.starts_with(&format!("{}onboard?code=", env.sandbox.onboard_url())),
        "{url}"
    );
    assert!(
        url.contains("sourceType=push") && url.contains("service=777"),
        "{url}"
    );
    assert!(
        url.contains("sourcesScope=%257B%2522dataType%2522"),
        "double-encoded: {url}"
    );
    assert!(link.read_session().is_none());
    assert!(!link.token_refreshed());
    let call = last(&env, "oauth/token/reference");
    assert!(call.claims.get("code_challenge").is_none(), "no PKCE here");
    assert_eq!(call.claims["state"], "state-o");

    let location = consent(&url).await;
    assert!(
        !location.contains("code="),
        "nothing to exchange: {location}"
    );
    let callback = AccountCallback::from_url(&location).expect("a successful callback");
    callback.verify_state(&"state-o".into()).unwrap();
    let reference = callback.account_reference().expect("accountReference");
    let accounts = env
        .sdk
        .read_accounts(&env.contract, link.user_access_token())
        .await
        .unwrap();
    assert_eq!(accounts.accounts().len(), ACCOUNTS.len() + 1);
    let account = accounts
        .find_by_reference(reference)
        .expect("the onboarded account is listed");
    assert_eq!(account.service_type_id, Some(777));
    provider_push(&env, link.user_access_token(), &account.id)
        .send()
        .await
        .expect("a provider push to the new account");
}

#[tokio::test]
async fn onboard_with_session_options_gets_a_session_and_refreshes_like_any_call() {
    let env = Env::new().await;
    env.sandbox.expire_access_token(USER);
    let session = env.sdk.session(&env.contract, env.token.clone());
    let link = session
        .onboard()
        .callback("http://127.0.0.1:9/onboarded")
        .pull_session(
            PullSessionOptions::new().limits(serde_json::json!({"duration": {"sourceFetch": 60}})),
        )
        .send()
        .await
        .expect("onboard refreshes the expired access token");
    assert!(link.token_refreshed());
    assert_eq!(session.refresh_count(), 1);
    assert!(
        link.read_session().is_some(),
        "session options open a session"
    );
    let location = consent(link.url().as_str()).await;
    AccountCallback::from_url(&location).unwrap();
}

#[tokio::test]
async fn revoke_then_reauthorize_one_account() {
    let env = Env::new().await;
    let account = ACCOUNTS[0];
    provider_push(&env, &env.token, account)
        .send()
        .await
        .unwrap();

    let outcome = env
        .sdk
        .revoke_account_url(
            &env.contract,
            &env.token,
            account,
            "http://127.0.0.1:9/revoked",
        )
        .await
        .expect("the revoke location");
    let location = outcome.value().to_string();
    assert!(
        location.starts_with(&env.sandbox.onboard_url()),
        "{location}"
    );
    let call = last(&env, "permission-access/revoke/h:accountId");
    assert!(
        call.headers.contains(&"accountid".to_string()),
        "{:?}",
        call.headers
    );
    assert!(call.headers.contains(&"redirecturi".to_string()));
    // The user revokes, and comes back.
    let back = consent(&location).await;
    assert!(
        back.starts_with("http://127.0.0.1:9/revoked?success=true"),
        "{back}"
    );
    let status = |env: &Env| {
        env.sandbox
            .accounts(USER)
            .into_iter()
            .find(|a| a.id == account)
            .unwrap()
            .access_token_status
            .unwrap()
            .authorized
    };
    assert!(!status(&env));
    let err = provider_push(&env, &env.token, account)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ServiceAuthorizationError"), "{err:?}");

    let link = env
        .sdk
        .reauthorize_account(&env.contract, &env.token)
        .account_id(account)
        .callback("http://127.0.0.1:9/account")
        .state("state-a")
        .locale("en")
        .send()
        .await
        .expect("reauthorize the account");
    let url = link.url().to_string();
    assert!(
        url.starts_with(&format!("{}reauthorize?code=", env.sandbox.onboard_url())),
        "{url}"
    );
    assert!(
        url.contains("&accountRef=accref-") && url.contains("lng=en"),
        "{url}"
    );
    let reference_call = last(&env, "reference");
    assert_eq!(reference_call.status, 200);
    let claims = reference_call.claims.as_object().unwrap();
    let mut names: Vec<&str> = claims.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["client_id", "nonce", "timestamp"]);

    let location = consent(&url).await;
    let callback = AccountCallback::from_url(&location).unwrap();
    callback.verify_state(&"state-a".into()).unwrap();
    assert_eq!(
        callback.account_reference(),
        Some(format!("ref-{account}").as_str())
    );
    assert!(status(&env));
    provider_push(&env, &env.token, account)
        .send()
        .await
        .expect("pushes go through again");
    assert_eq!(env.sandbox.provider_pushes(USER).len(), 2);
}

#[tokio::test]
async fn delete_account_unlists_it_and_refuses_pushes_to_it() {
    let env = Env::new().await;
    let outcome = env
        .sdk
        .delete_account(&env.contract, &env.token, ACCOUNTS[1])
        .await
        .expect("delete");
    assert!(!outcome.token_refreshed());
    let call = last(&env, "permission-access/service/h:accountId");
    assert_eq!((call.method.as_str(), call.status), ("DELETE", 204));
    let accounts = env
        .sdk
        .read_accounts(&env.contract, &env.token)
        .await
        .unwrap();
    let ids: Vec<&str> = accounts.accounts().iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, [ACCOUNTS[0]]);
    let err = provider_push(&env, &env.token, ACCOUNTS[1])
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(406), "{err:?}");
    assert!(env.sandbox.provider_pushes(USER).is_empty());
    // Deleting it again: the server says it is not the user's.
    let err = env
        .sdk
        .delete_account(&env.contract, &env.token, ACCOUNTS[1])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationErrors"), "{err:?}");
}

#[tokio::test]
async fn account_calls_check_their_input_before_sending() {
    let env = Env::new().await;
    let before = env.request_count();
    let err = env
        .sdk
        .delete_account(&env.contract, &env.token, "")
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("account_id"));
    let err = env
        .sdk
        .revoke_account_url(&env.contract, &env.token, "acc-1", "not a url")
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("callback"));
    let err = env
        .sdk
        .reauthorize_account(&env.contract, &env.token)
        .account_id("acc\r\n1")
        .callback("http://127.0.0.1:9/cb")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("account_id"));
    let err = env
        .sdk
        .onboard(&env.contract, &env.token)
        .callback("ftp://x/cb")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("callback"));
    let err = env
        .sdk
        .reauthorize(&env.contract, &env.token)
        .callback("http://127.0.0.1:9/cb")
        .state("a\nb")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("state"));
    assert_eq!(env.request_count(), before, "nothing was sent");
}

#[tokio::test]
async fn authorize_leaves_actions_out_without_session_options() {
    let env = Env::new().await;
    let auth = env
        .sdk
        .authorize(&env.contract)
        .callback("http://127.0.0.1:9/cb")
        .state("s")
        .send()
        .await
        .unwrap();
    let expected = format!(
        r#"{{"agent":{{"sdk":{{"meta":{{}},"name":"rust","version":"{}"}}}}}}"#,
        env!("CARGO_PKG_VERSION")
    );
    let call = last(&env, "oauth/authorize");
    assert_eq!(
        call.body_sha256.as_deref(),
        Some(sha256_hex(expected.as_bytes()).as_str())
    );
    assert!(
        auth.read_session().is_some(),
        "oauth/authorize always opens one"
    );
    // With session options, `actions` carries them.
    env.sdk
        .authorize(&env.contract)
        .callback("http://127.0.0.1:9/cb")
        .state("s")
        .pull_session(PullSessionOptions::new().scope(serde_json::json!({})))
        .send()
        .await
        .unwrap();
    let with = format!(
        r#"{{"actions":{{"pull":{{"scope":{{}}}}}},"agent":{{"sdk":{{"meta":{{}},"name":"rust","version":"{}"}}}}}}"#,
        env!("CARGO_PKG_VERSION")
    );
    let call = last(&env, "oauth/authorize");
    assert_eq!(
        call.body_sha256.as_deref(),
        Some(sha256_hex(with.as_bytes()).as_str())
    );
}

#[tokio::test]
async fn a_mime_type_with_parameters_is_pushed_as_given() {
    let env = Env::new().await;
    env.sdk
        .push(&env.contract, &env.token)
        .library()
        .file(b"hello".to_vec(), "hello.txt")
        .descriptor(
            FileDescriptor::builder()
                .mime_type("text/plain; charset=utf-8")
                .accounts(vec![Account::new("a")])
                .build(),
        )
        .send()
        .await
        .expect("a media type with a parameter is accepted");
    assert_eq!(
        env.sandbox.library(USER)[0].mime_type,
        "text/plain; charset=utf-8"
    );
}

#[tokio::test]
async fn a_token_stored_with_an_empty_user_loads_works_and_saves_back_the_same() {
    let env = Env::new().await;
    // As the official SDK stores a token whose server JWT had no `sub`.
    let stored = serde_json::to_string(&env.token)
        .unwrap()
        .replace(&format!(r#""user":{{"id":"{USER}"}}"#), r#""user":{}"#);
    assert!(stored.contains(r#""user":{}"#), "{stored}");
    let token: digime::UserAccessToken = serde_json::from_str(&stored).expect("loads");
    assert_eq!(token.user_id(), None);
    assert_eq!(serde_json::to_string(&token).unwrap(), stored);
    text_file(&env, &token, "anonymous").send().await.unwrap();
    assert_eq!(env.sandbox.library(USER).len(), 1);
}
