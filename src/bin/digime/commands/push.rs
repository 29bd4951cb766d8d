//! `digime push library` and `digime push provider`.

use std::fmt::Write as _;
use std::path::Path;

use digime::push::{FileData, PushFuture};
use digime::{Account, FhirVersion, FileDescriptor, Standard, UserSession};
use serde_json::json;

use super::{bulk, token_note, with_session};
use crate::args::{Global, LibraryArgs, ProviderArgs};
use crate::config;
use crate::output::{Failure, Output};
use crate::progress;

/// The MIME type for a file: `--mime`, else a guess from the extension, else
/// `application/octet-stream`.
pub fn mime_type_for(path: &Path, explicit: Option<&str>) -> String {
    match explicit {
        Some(mime) => mime.to_owned(),
        None => mime_guess::from_path(path)
            .first_raw()
            .unwrap_or("application/octet-stream")
            .to_owned(),
    }
}

/// The descriptor of a library push: the MIME type, the accounts, and the
/// tags and references when there are any.
pub fn descriptor(
    mime: &str,
    accounts: &[String],
    tags: &[String],
    references: &[String],
) -> FileDescriptor {
    let accounts: Vec<Account> = accounts.iter().map(Account::new).collect();
    match (tags.is_empty(), references.is_empty()) {
        (true, true) => FileDescriptor::builder()
            .mime_type(mime)
            .accounts(accounts)
            .build(),
        (false, true) => FileDescriptor::builder()
            .mime_type(mime)
            .accounts(accounts)
            .tags(tags.to_vec())
            .build(),
        (true, false) => FileDescriptor::builder()
            .mime_type(mime)
            .accounts(accounts)
            .reference(references.to_vec())
            .build(),
        (false, false) => FileDescriptor::builder()
            .mime_type(mime)
            .accounts(accounts)
            .tags(tags.to_vec())
            .reference(references.to_vec())
            .build(),
    }
}

/// The name a push carries for a file: its last component.
pub fn file_name(path: &Path) -> Result<String, Failure> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Failure::usage(format!("{} names no file", path.display())))
}

/// `push library`: one push for one FILE without bulk flags (as before
/// bulk runs existed), a bulk run otherwise.
pub async fn library(global: &Global, args: LibraryArgs, out: Output) -> Result<(), Failure> {
    if bulk::wanted(&args.paths, &args.bulk) {
        return bulk::library(global, args, out).await;
    }
    let ctx = config::user_context(global).await?;
    let file = &args.paths[0];
    let mime = mime_type_for(file, args.mime.as_deref());
    let file_name = file_name(file)?;
    // Opens nothing yet: the file is streamed from disk while it is sent.
    let data = FileData::from_path(file).await?;
    let size = data.len().unwrap_or_default(); // a file's length is always known
    let descriptor = descriptor(&mime, &args.accounts, &args.tags, &args.references);

    let bar = progress::for_upload(size);
    let (outcome, change) = with_session(&ctx, |session| {
        let mut push = session
            .push()
            .library()
            .file(data, file_name.clone())
            .descriptor(descriptor);
        if let Some(bar) = bar.clone() {
            push = push.on_progress(move |sent, _total| bar.set_position(sent));
        }
        push.send()
    })
    .await
    .inspect_err(|_| progress::abandon(bar.as_ref()))?;
    progress::finish(bar.as_ref());

    out.result(
        || {
            let mut text = format!(
                "pushed {file_name} ({size} bytes, {mime}) to the library for account{} {}\n",
                if args.accounts.len() == 1 { "" } else { "s" },
                args.accounts.join(", "),
            );
            if !args.tags.is_empty() {
                let _ = writeln!(text, "tags: {}", args.tags.join(", "));
            }
            if !args.references.is_empty() {
                let _ = writeln!(text, "references: {}", args.references.join(", "));
            }
            if let Some(note) = token_note(&change, &ctx) {
                let _ = writeln!(text, "{note}");
            }
            text
        },
        json!({
            "pushed": "library",
            "file": file.display().to_string(),
            "file_name": file_name,
            "size": size,
            "mime_type": mime,
            "accounts": args.accounts,
            "tags": args.tags,
            "reference": args.references,
            "status": outcome.status(),
            "response": outcome.response(),
            "token_refreshed": change.refreshed,
            "token_written": change.written,
        }),
    );
    Ok(())
}

/// A FHIR record: the file's JSON object, or a message naming the file.
pub fn fhir_record(file: &Path, bytes: &[u8]) -> Result<serde_json::Value, String> {
    let data: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "{} is not JSON (line {}, column {})",
            file.display(),
            e.line(),
            e.column()
        )
    })?;
    if !data.is_object() {
        return Err(format!(
            "{} must hold a JSON object (a FHIR resource or bundle)",
            file.display()
        ));
    }
    Ok(data)
}

/// A FHIR record's push to a provider account.
pub fn provider_push(
    session: &UserSession,
    account_id: String,
    version: FhirVersion,
    record: serde_json::Value,
) -> PushFuture {
    session
        .push()
        .provider()
        .standard(Standard::Fhir)
        .version(version)
        .account_id(account_id)
        .data(record)
        .send()
}

/// `push provider`: one push for one FILE.json without bulk flags, a bulk
/// run otherwise.
pub async fn provider(global: &Global, args: ProviderArgs, out: Output) -> Result<(), Failure> {
    if bulk::wanted(&args.files, &args.bulk) {
        return bulk::provider(global, args, out).await;
    }
    let ctx = config::user_context(global).await?;
    let file = &args.files[0];
    let bytes = std::fs::read(file)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?;
    let data = fhir_record(file, &bytes).map_err(Failure::usage)?;
    let version = args.fhir_version.to_sdk();
    let account_id = args.account_id.clone();
    let (outcome, change) = with_session(&ctx, |session| {
        provider_push(&session, account_id, version, data)
    })
    .await?;

    out.result(
        || {
            let mut text = format!(
                "pushed {} (FHIR {}) to provider account {}\n",
                file.display(),
                version.as_str(),
                args.account_id
            );
            if let Some(note) = token_note(&change, &ctx) {
                let _ = writeln!(text, "{note}");
            }
            text
        },
        json!({
            "pushed": "provider",
            "file": file.display().to_string(),
            "account_id": args.account_id,
            "standard": Standard::Fhir.as_str(),
            "version": version.as_str(),
            "status": outcome.status(),
            "response": outcome.response(),
            "token_refreshed": change.refreshed,
            "token_written": change.written,
        }),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_come_from_the_flag_or_the_extension() {
        assert_eq!(mime_type_for(Path::new("a.pdf"), None), "application/pdf");
        assert_eq!(mime_type_for(Path::new("a.json"), None), "application/json");
        assert_eq!(
            mime_type_for(Path::new("a.unknownext"), None),
            "application/octet-stream"
        );
        assert_eq!(
            mime_type_for(Path::new("a.pdf"), Some("text/plain")),
            "text/plain"
        );
    }
}
