//! `GET /` and the authorize flow: `/connect` sends the browser to digi.me's
//! consent page, `/callback` brings it back with a code, exchanged for the
//! user's token. `/reauthorize` is where a user whose consent ran out goes.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use digime::ErrorKind;
use digime::consent::{AuthorizeCallback, AuthorizeFuture, ConsentState, SourceType};
use maud::{Markup, html};

use super::App;
use super::page::{PageError, layout};
use super::sessions::{Connected, Pending};

/// `GET /`: what the app does, and "Connect digi.me".
pub(super) async fn home(State(app): State<Arc<App>>, jar: CookieJar) -> Markup {
    let connected = app.user(&jar).await.ok();
    layout(
        "Push into your digi.me library",
        html! {
            p { "Upload a file and it goes straight into your digi.me library, streamed: "
                "this app never holds the whole file." }
            @match connected {
                Some(user) => {
                    p { "Connected to digi.me as user "
                        code { (user.id()) } "." }
                    ul {
                        li { a href="/upload" { "Upload a file" } }
                        li { a href="/provider" { "Push a FHIR bundle" } }
                        li { a href="/library" { "See your library" } }
                    }
                    p { a href="/connect" { "Connect digi.me" } " again as someone else." }
                }
                None => p { a href="/connect" { "Connect digi.me" } }
            }
        },
    )
}

/// `GET /connect`: starts the authorize flow and redirects to the consent
/// page. The state and the code verifier stay in this browser's session.
pub(super) async fn connect(State(app): State<Arc<App>>, jar: CookieJar) -> Response {
    let (id, jar) = match app.sessions.ensure(jar) {
        Ok(session) => session,
        Err(err) => return PageError::from_sdk(&err).into_response(),
    };
    let started = start(&app, &id, |state| {
        // A push source: the onboarded account can receive provider pushes.
        app.sdk
            .authorize(&app.contract)
            .callback(app.callback_url.as_str())
            .state(state)
            .source_type(SourceType::Push)
            .send()
    })
    .await;
    match started {
        Ok(redirect) => (jar, redirect).into_response(),
        Err(err) => PageError::from_sdk(&err).into_response(),
    }
}

/// Draws a state, runs `send` (an authorize or reauthorize call) with it,
/// keeps the state and the code verifier for the callback, and redirects to
/// digi.me's page.
async fn start(
    app: &App,
    id: &str,
    send: impl FnOnce(ConsentState) -> AuthorizeFuture,
) -> digime::Result<Redirect> {
    let state = ConsentState::generate()?;
    let auth = send(state.clone()).await?;
    app.sessions.set_pending(
        id,
        Pending {
            state,
            code_verifier: auth.code_verifier().clone(),
        },
    );
    Ok(Redirect::to(auth.url().as_str()))
}

/// `GET /callback?success=…&code=…&state=…&accountReference=…`: checks the
/// state against this browser's, exchanges the code, keeps the token, and
/// goes on to `/upload`.
pub(super) async fn callback(
    State(app): State<Arc<App>>,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Result<Redirect, PageError> {
    let pending = app
        .sessions
        .id(&jar)
        .and_then(|id| app.sessions.take_pending(&id).map(|p| (id, p)));
    let Some((id, pending)) = pending else {
        return Err(no_authorization_here());
    };
    let callback =
        AuthorizeCallback::from_query(query.as_deref().unwrap_or("")).map_err(|err| {
            if err.kind() == ErrorKind::AuthorizationFailed {
                PageError::new(
                    StatusCode::FORBIDDEN,
                    "No consent",
                    html! {
                        p #error { "digi.me did not give this app access: "
                            code { (err.code().unwrap_or("no error code")) } "." }
                        p { a href="/connect" { "Try again" } }
                    },
                )
            } else {
                PageError::from_sdk(&err)
            }
        })?;
    callback
        .verify_state(&pending.state)
        .map_err(|_| no_authorization_here())?;
    let token = app
        .sdk
        .exchange_code_for_token(&app.contract, callback.code(), &pending.code_verifier)
        .await
        .map_err(|err| PageError::from_sdk(&err))?;
    tracing::info!(user = token.user_id().unwrap_or("-"), "connected");
    app.tokens
        .save(&id, &token)
        .await
        .map_err(|err| PageError::from_sdk(&err))?;
    // A reauthorization's callback names no account: the one onboarded
    // before stays.
    let account_reference = callback
        .account_reference()
        .map(str::to_string)
        .or_else(|| {
            app.sessions
                .connected(&jar)
                .and_then(|(_, c)| c.account_reference)
        });
    app.sessions.connect(&id, Connected { account_reference });
    Ok(Redirect::to("/upload"))
}

/// A callback that does not belong to an authorization this browser
/// started (no session, no pending authorization, or another state): its
/// code is not exchanged.
fn no_authorization_here() -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "This sign-in link is not for this browser",
        html! {
            p #error { "It does not match an authorization started here, or it was already used." }
            p { a href="/connect" { "Connect digi.me" } }
        },
    )
}

/// `GET /reauthorize`: where a call that digi.me answered with
/// "reauthorization required" sends the user: what happened, and a link
/// that starts digi.me's reauthorize flow.
pub(super) async fn reauthorize() -> Markup {
    layout(
        "Authorize again",
        html! {
            p #reauthorize { "digi.me no longer accepts this app's token for you: your consent "
                "ran out or was withdrawn. To go on pushing, give your consent again. "
                "You stay the same digi.me user, with the same library." }
            p { a href="/reauthorize/start" { "Give consent again" } }
        },
    )
}

/// `GET /reauthorize/start`: digi.me's reauthorize flow (`sdk.reauthorize`)
/// with the user's last token, which digi.me accepts for this call even
/// though it expired. The callback is `/callback`, as for `/connect`: the
/// new token belongs to the same user and replaces the old one in the store.
pub(super) async fn reauthorize_start(
    State(app): State<Arc<App>>,
    jar: CookieJar,
) -> Result<Redirect, PageError> {
    let (id, _) = app
        .sessions
        .connected(&jar)
        .ok_or_else(PageError::not_connected)?;
    let token = app
        .tokens
        .load(&id)
        .await
        .map_err(|err| PageError::from_sdk(&err))?
        .ok_or_else(PageError::not_connected)?
        .token;
    start(&app, &id, |state| {
        app.sdk
            .reauthorize(&app.contract, &token)
            .callback(app.callback_url.as_str())
            .state(state)
            .send()
    })
    .await
    .map_err(|err| match err.code() {
        // digi.me no longer knows the token: only a new consent is left.
        Some("InvalidToken") => PageError::new(
            StatusCode::UNAUTHORIZED,
            "Connect digi.me again",
            html! {
                p #error { "digi.me no longer knows this app's connection for you." }
                p { a href="/connect" { "Connect digi.me" } }
            },
        ),
        _ => PageError::from_sdk(&err),
    })
}
