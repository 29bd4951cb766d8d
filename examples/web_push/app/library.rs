//! `GET /library`: what the sandbox stored for this user. digi.me's write
//! API has no call that lists a library, so against a real digi.me this page
//! only says where to look.

use std::sync::Arc;

use axum::extract::State;
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};

use super::App;
use super::page::{PageError, layout};

/// `GET /library`.
pub(super) async fn page(State(app): State<Arc<App>>, jar: CookieJar) -> Result<Markup, PageError> {
    let user = app.user(&jar).await?;
    let user_id = user.id();
    Ok(layout("Your library", stored(&app, &jar, &user_id)))
}

#[cfg(feature = "sandbox")]
fn stored(app: &App, jar: &CookieJar, user_id: &str) -> Markup {
    let Some(sandbox) = &app.sandbox else {
        return not_on_sandbox(app, jar);
    };
    // The library keeps no file names; this app remembers the ones it pushed.
    let pushed = app.sessions.pushed(jar);
    let name_of = |sha256: &str| {
        pushed
            .iter()
            .rev()
            .find(|p| p.sha256 == sha256)
            .map_or("-", |p| p.name.as_str())
            .to_string()
    };
    let files = sandbox.library(user_id);
    let records = sandbox.provider_pushes(user_id);
    html! {
        h2 { "Files" }
        table #library {
            tr { th { "name" } th { "MIME type" } th { "size" } th { "SHA-256" } }
            @for entry in &files {
                tr {
                    td { (name_of(&entry.sha256)) }
                    td { (entry.mime_type) }
                    td { (entry.size) }
                    td { code { (entry.sha256) } }
                }
            }
        }
        @if files.is_empty() { p { "No file yet. " a href="/upload" { "Upload one" } } }
        h2 { "Provider records" }
        table #provider {
            tr { th { "account" } th { "standard" } th { "resource" } th { "SHA-256" } }
            @for record in &records {
                tr {
                    td { code { (record.account_id) } }
                    td { (record.standard) " " (record.version) }
                    td { (record.body["resourceType"].as_str().unwrap_or("-")) }
                    td { code { (record.sha256) } }
                }
            }
        }
        @if records.is_empty() { p { "No record yet. " a href="/provider" { "Push one" } } }
    }
}

#[cfg(not(feature = "sandbox"))]
fn stored(app: &App, jar: &CookieJar, _user_id: &str) -> Markup {
    not_on_sandbox(app, jar)
}

/// On a real digi.me: what this browser pushed, as this app saw it.
fn not_on_sandbox(app: &App, jar: &CookieJar) -> Markup {
    let pushed = app.sessions.pushed(jar);
    html! {
        p { "digi.me's write API has no call that lists a library: open the digi.me app "
            "to see it. These are the files this browser pushed, as this app sent them." }
        table #pushed {
            tr { th { "name" } th { "MIME type" } th { "size" } th { "SHA-256" } }
            @for file in &pushed {
                tr {
                    td { (file.name) }
                    td { (file.mime_type) }
                    td { (file.size) }
                    td { code { (file.sha256) } }
                }
            }
        }
    }
}
