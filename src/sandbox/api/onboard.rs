//! `GET /apps/saas/authorize`: the onboard page. It simulates the user's
//! consent and redirects to the application's callback.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::sandbox::state::{AccountRec, AuthCode, CODE_TTL_MS, Shared};
use crate::sandbox::util::{html_escape, now_ms, random_alnum};

/// `GET /apps/saas/authorize?code=…&sourceType=pull|push[&service=…]`:
/// simulates the user's consent.
pub(crate) async fn onboard(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let (code, source_type, service) = match parse_query(&query.unwrap_or_default()) {
        Ok(parsed) => parsed,
        Err(message) => return html_page(StatusCode::BAD_REQUEST, "Invalid request", message),
    };
    let mut st = shared.lock();
    let now = now_ms();
    let (redirect_uri, state, client_id, challenge, linked) = match st.preauth.get_mut(&code) {
        Some(p) if !p.used && p.expires_ms > now => {
            p.used = true;
            (
                p.redirect_uri.clone(),
                p.state.clone(),
                p.client_id.clone(),
                p.code_challenge.clone(),
                p.user.clone(),
            )
        }
        _ => {
            return html_page(
                StatusCode::BAD_REQUEST,
                "Invalid authorization",
                "this authorization link is unknown, expired or already used",
            );
        }
    };
    if let Some(error_code) = st.consent_failure.clone() {
        drop(st);
        return redirect(
            &redirect_uri,
            &[
                ("success", "false"),
                ("errorCode", &error_code),
                ("state", &state),
            ],
        );
    }
    let user = linked.unwrap_or_else(|| format!("user-{}", random_alnum(16)));
    let service_type_id = service
        .as_deref()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(if source_type == "push" { 500 } else { 1 });
    let account = AccountRec::new(
        format!("acc-{}", random_alnum(12)),
        service_type_id,
        source_type,
    );
    let reference = account.reference.clone();
    st.users
        .entry(user.clone())
        .or_default()
        .accounts
        .push(account);
    let auth_code = random_alnum(32);
    st.codes.insert(
        auth_code.clone(),
        AuthCode {
            client_id,
            user,
            consent_id: format!("consent-{}", random_alnum(16)),
            code_challenge: challenge,
            expires_ms: now + CODE_TTL_MS,
            used: false,
            replaces: None,
        },
    );
    drop(st);
    redirect(
        &redirect_uri,
        &[
            ("success", "true"),
            ("code", &auth_code),
            ("state", &state),
            ("accountReference", &reference),
        ],
    )
}

/// The page's query: the code, the source type and the service, or what is
/// wrong with it.
fn parse_query(query: &str) -> Result<(String, &'static str, Option<String>), &'static str> {
    let mut code = None;
    let mut source_type = "pull";
    let mut service = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "sourceType" => {
                source_type = match v.as_ref() {
                    "pull" => "pull",
                    "push" => "push",
                    _ => {
                        return Err("sourceType must be `pull` or `push`");
                    }
                }
            }
            "service" => service = Some(v.into_owned()),
            _ => {}
        }
    }
    let Some(code) = code else {
        return Err("the `code` parameter is missing");
    };
    Ok((code, source_type, service))
}

/// A small HTML page, as the consent pages answer a bad link.
pub(super) fn html_page(status: StatusCode, title: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!DOCTYPE html><html><head><title>{t}</title></head><body><h1>{t}</h1><p>{m}</p><p>digi.me sandbox (not for production)</p></body></html>",
            t = html_escape(title),
            m = html_escape(message)
        ),
    )
        .into_response()
}

/// A 302 to `to` with `params` added to its query.
pub(super) fn redirect(to: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(to) else {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect",
            "the redirect_uri does not parse",
        );
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    match HeaderValue::from_str(url.as_str()) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => html_page(
            StatusCode::BAD_REQUEST,
            "Invalid redirect",
            "the redirect URL is not a valid header",
        ),
    }
}
