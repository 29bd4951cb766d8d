//! Where a bulk run pushes, how each file is read and sent, and where its
//! journal lives by default.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use digime::bulk::{FileIdentity, path_key};
use digime::push::FileData;
use digime::{FhirVersion, FileDescriptor, PushOutcome, UserSession};

use super::super::push::{descriptor, fhir_record, mime_type_for, provider_push};
use crate::args::Global;
use crate::config::TokenSource;
use crate::output::Failure;

/// Files up to this size are read whole, hashed, and pushed from memory:
/// what is pushed is then exactly what was hashed. Bigger ones are hashed
/// as a stream, then streamed from disk.
const IN_MEMORY: u64 = 256 << 10;
/// A FHIR record is read whole (it is parsed): at most this size.
const MAX_RECORD: u64 = 64 << 20;

/// Where the files go.
pub enum Target {
    Library {
        accounts: Vec<String>,
        mime: Option<String>,
        tags: Vec<String>,
        references: Vec<String>,
    },
    Provider {
        account_id: String,
        version: FhirVersion,
    },
}

/// A file ready to push: its identity and the push it makes.
pub struct Loaded {
    pub id: FileIdentity,
    push: Prepared,
}

enum Prepared {
    Library {
        data: FileData,
        name: String,
        descriptor: FileDescriptor,
    },
    Provider {
        record: serde_json::Value,
        account_id: String,
        version: FhirVersion,
    },
}

impl Target {
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Library { .. } => "library",
            Target::Provider { .. } => "provider",
        }
    }

    /// Reads (and hashes) the file at `path`, and prepares its push; a
    /// message naming the file when it cannot be pushed.
    pub async fn load(&self, path: &Path) -> Result<Loaded, String> {
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if !meta.is_file() {
            return Err(format!("{} is not a regular file", path.display()));
        }
        if meta.len() == 0 {
            return Err(empty(path));
        }
        match self {
            Target::Library {
                accounts,
                mime,
                tags,
                references,
            } => {
                let (id, data) = library_data(path, meta.len()).await?;
                let mime = mime_type_for(path, mime.as_deref());
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| id.path().to_owned());
                let descriptor = descriptor(&mime, accounts, tags, references);
                Ok(Loaded {
                    id,
                    push: Prepared::Library {
                        data,
                        name,
                        descriptor,
                    },
                })
            }
            Target::Provider { .. } if meta.len() > MAX_RECORD => Err(format!(
                "{} is over {} MiB: not a FHIR record this tool pushes",
                path.display(),
                MAX_RECORD >> 20
            )),
            Target::Provider {
                account_id,
                version,
            } => {
                let bytes = read(path).await?;
                let record = fhir_record(path, &bytes)?;
                Ok(Loaded {
                    id: FileIdentity::of_bytes(path_key(path), &bytes),
                    push: Prepared::Provider {
                        record,
                        account_id: account_id.clone(),
                        version: *version,
                    },
                })
            }
        }
    }

    /// What names the destination in the default journal's file name.
    fn destination(&self) -> String {
        match self {
            Target::Library { accounts, .. } => format!("accounts={}", accounts.join(",")),
            Target::Provider {
                account_id,
                version,
            } => {
                format!("account_id={account_id} version={}", version.as_str())
            }
        }
    }
}

impl Loaded {
    /// Sends the push.
    pub async fn send(self, session: &UserSession) -> digime::Result<PushOutcome> {
        match self.push {
            Prepared::Library {
                data,
                name,
                descriptor,
            } => {
                session
                    .push()
                    .library()
                    .file(data, name)
                    .descriptor(descriptor)
                    .send()
                    .await
            }
            Prepared::Provider {
                record,
                account_id,
                version,
            } => provider_push(session, account_id, version, record).await,
        }
    }
}

/// A library file's identity and data: read whole and pushed from memory
/// when small (what is pushed is exactly what was hashed), else hashed as
/// a stream and streamed from disk.
async fn library_data(path: &Path, len: u64) -> Result<(FileIdentity, FileData), String> {
    if len <= IN_MEMORY {
        let bytes = read(path).await?;
        // Emptied since its size was read.
        if bytes.is_empty() {
            return Err(empty(path));
        }
        let id = FileIdentity::of_bytes(path_key(path), &bytes);
        return Ok((id, FileData::from(Bytes::from(bytes))));
    }
    let id = FileIdentity::of_file(path)
        .await
        .map_err(|e| e.to_string())?;
    let data = FileData::from_path(path).await.map_err(|e| e.to_string())?;
    if data.len() != Some(id.size()) {
        return Err(format!(
            "{} changed while it was read: push it once it is no longer written",
            path.display()
        ));
    }
    Ok((id, data))
}

/// Why an empty file is not pushed.
fn empty(path: &Path) -> String {
    format!("{} is empty (0 bytes): nothing to push", path.display())
}

async fn read(path: &Path) -> Result<Vec<u8>, String> {
    tokio::fs::read(path)
        .await
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The journal a run uses without `--journal`: one per destination (API,
/// contract, token, accounts), in the user's state folder, which is
/// writable even when the files sit on a read-only mount.
pub fn default_journal(
    global: &Global,
    source: &TokenSource,
    target: &Target,
) -> Result<PathBuf, Failure> {
    let dir = state_dir().join("digime").join("journals");
    std::fs::create_dir_all(&dir).map_err(|e| {
        Failure::config(format!(
            "cannot create the journal folder {}: {e}",
            dir.display()
        ))
    })?;
    let token = match &source.file {
        Some(file) => std::path::absolute(file)
            .unwrap_or_else(|_| file.clone())
            .display()
            .to_string(),
        None => format!("user {} in {}", source.user, source.store.describe()),
    };
    let destination = [
        global
            .base_url
            .as_deref()
            .unwrap_or(digime::DEFAULT_BASE_URL),
        global.app_id.as_deref().unwrap_or_default(),
        global.contract_id.as_deref().unwrap_or_default(),
        &token,
        target.kind(),
        &target.destination(),
    ]
    .join("\n");
    let hash = FileIdentity::of_bytes("-", destination.as_bytes());
    Ok(dir.join(format!("{}-{}.jsonl", target.kind(), &hash.sha256()[..16])))
}

/// `$XDG_STATE_HOME`, else `~/.local/state`, else the temporary folder.
fn state_dir() -> PathBuf {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").and_then(absolute) {
        return dir;
    }
    if let Some(home) = std::env::var_os("HOME").and_then(absolute) {
        return home.join(".local").join("state");
    }
    std::env::temp_dir()
}
