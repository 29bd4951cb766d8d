//! The consent pages of the account lifecycle, each simulating the user's
//! consent and redirecting to the application's callback:
//!
//! - `GET /apps/saas/user-reauth?code=…` (reauthorize the user): a new
//!   authorization code for the same user;
//! - `GET /apps/saas/onboard?code=…&sourceType=…` (onboard a service): a
//!   new account;
//! - `GET /apps/saas/reauthorize?code=…&accountRef=…` (reauthorize one
//!   account): the account is authorized again;
//! - `GET /apps/saas/revoke?code=…` (the location of a revocation): the
//!   account's permission is revoked.
//!
//! A bad link gets a 400 HTML page, as the authorize page does.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::onboard::{html_page, redirect};
use crate::sandbox::state::{
    AccountRec, AuthCode, CODE_TTL_MS, ReferenceCode, Shared, State as St,
};
use crate::sandbox::util::{now_ms, random_alnum};

/// A bad link: answered `400` with an HTML page saying why.
pub(crate) struct BadLink {
    title: &'static str,
    message: String,
}

impl IntoResponse for BadLink {
    fn into_response(self) -> Response {
        html_page(StatusCode::BAD_REQUEST, self.title, &self.message)
    }
}

/// A bad query.
fn bad(message: impl Into<String>) -> BadLink {
    BadLink {
        title: "Invalid request",
        message: message.into(),
    }
}

/// A link whose code is unknown, expired or already used.
fn stale() -> BadLink {
    BadLink {
        title: "Invalid link",
        message: "this link is unknown, expired or already used".into(),
    }
}

type Page = Result<Response, BadLink>;

/// The query's parameters (a repeated one keeps its last value).
fn params(query: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Checks that each of `names`, when present, is `true` or `false`.
fn check_bools(params: &HashMap<String, String>, names: &[&str]) -> Result<(), BadLink> {
    for name in names {
        if let Some(value) = params.get(*name)
            && value != "true"
            && value != "false"
        {
            return Err(bad(format!("`{name}` must be `true` or `false`")));
        }
    }
    Ok(())
}

/// Takes the reference code of the link: known, unused and unexpired. It is
/// used up whatever the page does next.
fn take_reference(st: &mut St, params: &HashMap<String, String>) -> Result<ReferenceCode, BadLink> {
    let code = params
        .get("code")
        .ok_or_else(|| bad("the `code` parameter is missing"))?;
    let now = now_ms();
    match st.references.get_mut(code) {
        Some(r) if !r.used && r.expires_ms > now => {
            r.used = true;
            Ok(r.clone())
        }
        _ => Err(stale()),
    }
}

/// The callback's query: `success=true` and `extra`, then `state` when the
/// reference-code call had one.
fn success(reference: &ReferenceCode, extra: &[(&str, &str)]) -> Response {
    let mut query = vec![("success", "true")];
    query.extend_from_slice(extra);
    if let Some(state) = &reference.state {
        query.push(("state", state));
    }
    redirect(&reference.redirect_uri, &query)
}

/// With a configured consent failure: `success=false&errorCode=…` (and the
/// state).
fn consent_failure(st: &St, reference: &ReferenceCode) -> Option<Response> {
    let code = st.consent_failure.as_deref()?;
    let mut query = vec![("success", "false"), ("errorCode", code)];
    if let Some(state) = &reference.state {
        query.push(("state", state));
    }
    Some(redirect(&reference.redirect_uri, &query))
}

/// `GET /apps/saas/user-reauth?code=…[&lng=…][&triggerQuery=…]`.
pub(crate) async fn user_reauth(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Page {
    let params = params(query);
    check_bools(&params, &["triggerQuery"])?;
    let mut st = shared.lock();
    let reference = take_reference(&mut st, &params)?;
    let challenge = reference.code_challenge.clone().ok_or_else(|| {
        bad("a reauthorization link needs a reference code made with a code challenge")
    })?;
    if let Some(page) = consent_failure(&st, &reference) {
        return Ok(page);
    }
    let code = random_alnum(32);
    st.codes.insert(
        code.clone(),
        AuthCode {
            client_id: reference.client_id.clone(),
            user: reference.user.clone(),
            consent_id: format!("consent-{}", random_alnum(16)),
            code_challenge: challenge,
            expires_ms: now_ms() + CODE_TTL_MS,
            used: false,
            replaces: Some(reference.access_token.clone()),
        },
    );
    drop(st);
    Ok(success(&reference, &[("code", &code)]))
}

/// `GET /apps/saas/onboard?code=…&sourceType=pull|push[&service=…][&sourcesScope=…]…`.
pub(crate) async fn onboard(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Page {
    let params = params(query);
    let source_type = match params.get("sourceType").map(String::as_str) {
        Some("pull") => "pull",
        Some("push") => "push",
        Some(_) => return Err(bad("`sourceType` must be `pull` or `push`")),
        None => return Err(bad("the `sourceType` parameter is missing")),
    };
    let service = match params.get("service").map(|s| s.parse::<u64>()) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return Err(bad("`service` must be a service id (a number)")),
    };
    check_bools(
        &params,
        &[
            "sampleDataAutoOnboard",
            "includeSampleDataOnlySources",
            "triggerQuery",
        ],
    )?;
    if let Some(scope) = params.get("sourcesScope") {
        check_sources_scope(scope).map_err(bad)?;
    }
    let mut st = shared.lock();
    let reference = take_reference(&mut st, &params)?;
    if let Some(page) = consent_failure(&st, &reference) {
        return Ok(page);
    }
    let account = AccountRec::new(
        format!("acc-{}", random_alnum(12)),
        service.unwrap_or(if source_type == "push" { 500 } else { 1 }),
        source_type,
    );
    let account_reference = account.reference.clone();
    st.users
        .entry(reference.user.clone())
        .or_default()
        .accounts
        .push(account);
    drop(st);
    Ok(success(
        &reference,
        &[("accountReference", &account_reference)],
    ))
}

/// `sourcesScope`, once decoded from the query, is what
/// `encodeURIComponent(JSON.stringify(scope))` makes: only the characters it
/// leaves and `%XX` escapes, which decode to a JSON object with an optional
/// `dataType` (an array of strings) and `organizationType` (a string).
fn check_sources_scope(value: &str) -> Result<(), String> {
    const WHAT: &str = "`sourcesScope` must be encodeURIComponent(JSON.stringify(scope))";
    let encoded = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()%".contains(&b));
    if !encoded {
        return Err(format!("{WHAT}: it is not percent-encoded"));
    }
    let json = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .map_err(|_| format!("{WHAT}: it does not decode to UTF-8"))?;
    let scope: Value =
        serde_json::from_str(&json).map_err(|_| format!("{WHAT}: it does not decode to JSON"))?;
    let Some(scope) = scope.as_object() else {
        return Err(format!("{WHAT}: the scope must be a JSON object"));
    };
    for (key, item) in scope {
        let ok = match key.as_str() {
            "dataType" => item
                .as_array()
                .is_some_and(|list| list.iter().all(Value::is_string)),
            "organizationType" => item.is_string(),
            _ => return Err(format!("{WHAT}: `{key}` is not part of a scope")),
        };
        if !ok {
            return Err(format!(
                "{WHAT}: `{key}` must be {}",
                if key == "dataType" {
                    "an array of strings"
                } else {
                    "a string"
                }
            ));
        }
    }
    Ok(())
}

/// `GET /apps/saas/reauthorize?code=…&accountRef=…[&lng=…]`.
pub(crate) async fn reauthorize(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Page {
    let params = params(query);
    let account_ref = params
        .get("accountRef")
        .ok_or_else(|| bad("the `accountRef` parameter is missing"))?;
    let mut st = shared.lock();
    let reference = take_reference(&mut st, &params)?;
    let account_id = match st.account_refs.get(account_ref) {
        Some(r) if r.client_id == reference.client_id && r.expires_ms > now_ms() => {
            r.account_id.clone()
        }
        _ => {
            return Err(bad(
                "`accountRef` is unknown, expired, or of another contract",
            ));
        }
    };
    if let Some(page) = consent_failure(&st, &reference) {
        return Ok(page);
    }
    let account = st
        .account_mut(&reference.user, &account_id)
        .ok_or_else(|| bad("the account of `accountRef` is not one of this user's accounts"))?;
    account.authorized = true;
    let account_reference = account.reference.clone();
    drop(st);
    Ok(success(
        &reference,
        &[("accountReference", &account_reference)],
    ))
}

/// `GET /apps/saas/revoke?code=…`: the user revokes the application's
/// permission for the account, and goes back to the `redirectUri` given to
/// `permission-access/revoke` with `success=true&accountReference=…`.
pub(crate) async fn revoke(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Page {
    let params = params(query);
    let code = params
        .get("code")
        .ok_or_else(|| bad("the `code` parameter is missing"))?;
    let mut st = shared.lock();
    let now = now_ms();
    let (user, account_id, redirect_uri) = match st.revocations.get_mut(code) {
        Some(r) if !r.used && r.expires_ms > now => {
            r.used = true;
            (r.user.clone(), r.account_id.clone(), r.redirect_uri.clone())
        }
        _ => return Err(stale()),
    };
    let account = st
        .account_mut(&user, &account_id)
        .ok_or_else(|| bad("the account no longer exists"))?;
    account.authorized = false;
    let account_reference = account.reference.clone();
    drop(st);
    Ok(redirect(
        &redirect_uri,
        &[
            ("success", "true"),
            ("accountReference", &account_reference),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::check_sources_scope;

    #[test]
    fn sources_scope_must_be_encoded_once_more_than_the_query() {
        // What the official client's value is after the query's own decoding.
        assert!(check_sources_scope("%7B%22dataType%22%3A%5B%22medical%22%5D%7D").is_ok());
        assert!(check_sources_scope("%7B%7D").is_ok());
        // Encoded once only: raw JSON after the query's decoding.
        assert!(check_sources_scope(r#"{"dataType":["medical"]}"#).is_err());
        assert!(check_sources_scope("%7B%22other%22%3A1%7D").is_err());
        assert!(check_sources_scope("%5B%5D").is_err());
        assert!(check_sources_scope("%7B%22dataType%22%3A%22x%22%7D").is_err());
    }
}
