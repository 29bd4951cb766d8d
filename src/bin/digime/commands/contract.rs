//! `digime contract`: what digi.me says about the contract, and whether it
//! may write.

use std::fmt::Write as _;

use digime::models::AccessType;
use serde_json::{Value, json};

use crate::args::Global;
use crate::config;
use crate::output::{Failure, Output};

pub async fn run(global: &Global, out: Output) -> Result<(), Failure> {
    let sdk = config::sdk(global)?;
    let contract = config::contract(global)?;
    let info = sdk.contract_info(&contract).await?;
    let can_write = info.can_write();
    out.result(
        || {
            let mut text = String::new();
            let _ = writeln!(text, "contract     {}", info.id);
            let access = match &info.access_type {
                AccessType::Write => "write".to_owned(),
                AccessType::Read => "read".to_owned(),
                AccessType::Other(other) => other.clone(),
                _ => "unknown".to_owned(),
            };
            let _ = writeln!(
                text,
                "access       {access} ({})",
                if can_write {
                    "may push"
                } else {
                    "may NOT push"
                }
            );
            if let Some(app) = &info.application {
                let name = app
                    .name
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                let _ = writeln!(text, "application  {}{name}", app.id);
                if let Some(status) = &app.status {
                    let _ = writeln!(text, "app status   {}", plain(status));
                }
            }
            if let Some(kind) = &info.contract_type {
                let _ = writeln!(text, "type         {kind}");
            }
            if let Some(partner) = &info.partner_id {
                let _ = writeln!(text, "partner      {partner}");
            }
            if let Some(expires) = &info.expiration_date {
                let _ = writeln!(text, "expires      {}", plain(expires));
            }
            text
        },
        json!({ "contract": info, "can_write": can_write }),
    );
    Ok(())
}

/// A JSON value as plain text: strings without quotes.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
