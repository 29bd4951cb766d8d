//! `GET /provider`, the form, and `POST /provider`: a FHIR bundle pushed to
//! one of the user's provider accounts.

use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum_extra::extract::cookie::CookieJar;
use digime::{FhirVersion, Standard};
use maud::{Markup, html};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::App;
use super::page::{PageError, layout};

/// A bundle to start from: one observation.
const EXAMPLE_BUNDLE: &str = r#"{
  "resourceType": "Bundle",
  "type": "collection",
  "entry": [
    { "resource": { "resourceType": "Observation", "status": "final",
        "code": { "text": "Haemoglobin" },
        "valueQuantity": { "value": 8.9, "unit": "mmol/L" } } }
  ]
}"#;

/// `GET /provider`: the user's accounts (read accounts) and a bundle.
pub(super) async fn form(State(app): State<Arc<App>>, jar: CookieJar) -> Result<Markup, PageError> {
    let user = app.user(&jar).await?;
    let accounts = user
        .session
        .read_accounts()
        .await
        .map_err(|err| PageError::from_sdk(&err))?;
    let onboarded = user.account_reference.as_deref();
    Ok(layout(
        "Push a FHIR bundle",
        html! {
            @if accounts.accounts().is_empty() {
                p #error { "digi.me lists no account for you: connect a provider first." }
            }
            form method="post" action="/provider" {
                label { "Account "
                    select name="account_id" {
                        @for account in accounts.accounts() {
                            option value=(account.id)
                                selected[onboarded.is_some() && account.reference.as_deref() == onboarded] {
                                (account.service_type_name.as_deref().unwrap_or("account"))
                                " (" (account.id) ")"
                            }
                        }
                    }
                }
                label { "FHIR bundle (JSON, STU3)" br;
                    textarea name="fhir" rows="14" cols="70" { (EXAMPLE_BUNDLE) } }
                button type="submit" { "Push" }
            }
        },
    ))
}

#[derive(Deserialize)]
pub(super) struct ProviderForm {
    account_id: Option<String>,
    fhir: Option<String>,
}

/// `POST /provider`: checks the form, then pushes the bundle.
pub(super) async fn push(
    State(app): State<Arc<App>>,
    jar: CookieJar,
    form: Result<Form<ProviderForm>, FormRejection>,
) -> Result<Markup, PageError> {
    let user = app.user(&jar).await?;
    let Form(form) = form.map_err(|rejection| {
        PageError::new(
            rejection.status(),
            "Nothing was pushed",
            html! { p .error #error { (rejection.body_text()) } p { "Nothing was sent to digi.me." } },
        )
    })?;
    let account_id = form.account_id.as_deref().map(str::trim).unwrap_or("");
    if account_id.is_empty() {
        return Err(PageError::bad_input(
            "account_id",
            "choose the account to push to",
        ));
    }
    let text = form.fhir.unwrap_or_default();
    if text.trim().is_empty() {
        return Err(PageError::bad_input("fhir", "paste a FHIR bundle"));
    }
    let bundle: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| PageError::bad_input("fhir", format!("not JSON ({e})")))?;
    if !bundle.is_object() {
        return Err(PageError::bad_input(
            "fhir",
            format!("a FHIR bundle is a JSON object, not {}", json_kind(&bundle)),
        ));
    }
    // The SDK sends the bundle serialized this way: its SHA-256 is the one
    // digi.me sees.
    let sha256: String = Sha256::digest(serde_json::to_vec(&bundle).unwrap_or_default())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let resource_type = bundle["resourceType"]
        .as_str()
        .unwrap_or("resource")
        .to_string();
    user.session
        .push()
        .provider()
        .standard(Standard::Fhir)
        .version(FhirVersion::Stu3)
        .account_id(account_id)
        .data(bundle)
        .send()
        .await
        .map_err(|err| PageError::from_sdk(&err))?;
    Ok(layout(
        "Pushed",
        html! {
            div #result {
                p { "Pushed a " (resource_type) " to account " code { (account_id) } "." }
                p { "SHA-256 " code #result-sha256 { (sha256) } }
            }
            p { a href="/provider" { "Push another" } " · " a href="/library" { "See the library" } }
        },
    ))
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
        serde_json::Value::Object(_) => "an object",
    }
}
