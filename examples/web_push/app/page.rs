//! The HTML: one layout, and the error pages. maud escapes every value, so a
//! file name or a message from digi.me is shown, never interpreted.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use digime::ErrorKind;
use maud::{DOCTYPE, Markup, html};

/// A whole page: the title, the links, the content.
pub(super) fn layout(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · web_push" }
                style { "body{font-family:sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}"
                        "label{display:block;margin:.6rem 0}table{border-collapse:collapse}"
                        "td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}"
                        "code{word-break:break-all}.error{color:#a00}" }
            }
            body {
                nav {
                    a href="/" { "Home" } " · "
                    a href="/upload" { "Upload a file" } " · "
                    a href="/provider" { "Push a FHIR bundle" } " · "
                    a href="/library" { "Library" }
                }
                h1 { (title) }
                (content)
            }
        }
    }
}

/// A page that says what went wrong, with its HTTP status.
pub(super) struct PageError {
    status: StatusCode,
    title: &'static str,
    content: Markup,
}

impl PageError {
    pub(super) fn new(status: StatusCode, title: &'static str, content: Markup) -> Self {
        Self {
            status,
            title,
            content,
        }
    }

    /// Bad input from the form: nothing was sent to digi.me.
    pub(super) fn bad_input(field: &str, message: impl AsRef<str>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Nothing was pushed",
            html! {
                p .error #error { code { (field) } ": " (message.as_ref()) }
                p { "Nothing was sent to digi.me. Go back, fix it, and push again." }
            },
        )
    }

    /// No connected user in this browser.
    pub(super) fn not_connected() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Connect digi.me first",
            html! {
                p #error { "This browser is not connected to digi.me yet." }
                p { a href="/connect" { "Connect digi.me" } }
            },
        )
    }

    /// An error of the SDK: digi.me's code, message and reference when it
    /// answered, and what the user can do.
    pub(super) fn from_sdk(err: &digime::Error) -> Self {
        let server = err.server();
        let details = html! {
            @if let Some(server) = server {
                table #digime-error {
                    tr { th { "HTTP status" } td { (server.status()) } }
                    tr { th { "code" } td { code { (server.code().unwrap_or("-")) } } }
                    tr { th { "message" } td { (server.message().unwrap_or("-")) } }
                    tr { th { "reference" } td { code { (server.reference().unwrap_or("-")) } } }
                }
            }
            p { small { (err.to_string()) } }
        };
        let stored = if err.may_have_been_stored() {
            html! { p { strong { "digi.me may have stored it anyway" } " (the failure came after the data was on its way). Check the " a href="/library" { "library" } " before pushing it again." } }
        } else {
            html! { p { "Nothing was stored." } }
        };
        match err.kind() {
            ErrorKind::ReauthorizationRequired => Self::new(
                StatusCode::UNAUTHORIZED,
                "digi.me needs your consent again",
                html! {
                    p #error { "Your consent for this app has run out or was withdrawn." }
                    p { a href="/reauthorize" { "Authorize again" } }
                    (details)
                },
            ),
            ErrorKind::DataNotReplayable => Self::new(
                StatusCode::CONFLICT,
                "Please push the file again",
                html! {
                    p #error {
                        "digi.me asked for a fresh access token while the file was on its way. "
                        "This app refreshed it, but an upload is streamed and cannot be read twice."
                    }
                    p { "Nothing was stored. " a href="/upload" { "Push the file again" } "." }
                },
            ),
            ErrorKind::InvalidInput => Self::new(
                StatusCode::BAD_REQUEST,
                "Nothing was pushed",
                html! {
                    p .error #error { code { (err.field().unwrap_or("input")) } ": " (err.to_string()) }
                    p { "Nothing was sent to digi.me." }
                },
            ),
            ErrorKind::Server => Self::new(
                StatusCode::BAD_GATEWAY,
                "digi.me refused the push",
                html! { (details) (stored) },
            ),
            _ => Self::new(
                StatusCode::BAD_GATEWAY,
                "digi.me could not be reached",
                html! { (details) (stored) },
            ),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        (self.status, layout(self.title, self.content)).into_response()
    }
}

/// Any route this app does not have.
pub(super) async fn not_found() -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        "Not found",
        html! { p #error { "There is no such page. " a href="/" { "Home" } } },
    )
}
