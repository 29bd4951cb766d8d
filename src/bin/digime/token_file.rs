//! The token file: the user access token as JSON (the TypeScript SDK's
//! shape), rewritten atomically with mode 0600 whenever the token changes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use digime::UserAccessToken;

use crate::output::Failure;

/// A token file and the JSON it last held.
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
    /// The serialized token last read or written; a token that serializes
    /// the same is not written again.
    last: Mutex<String>,
}

impl TokenFile {
    /// Reads and parses the token file. An unreadable or malformed file is a
    /// configuration error (exit 2); the message never quotes the file.
    pub fn load(path: &Path) -> Result<(Arc<TokenFile>, UserAccessToken), Failure> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::config(format!(
                "cannot read the token file {}: {e}",
                path.display()
            ))
        })?;
        let token: UserAccessToken = serde_json::from_str(&text).map_err(|e| {
            // serde_json's message names a line and column, never the content.
            Failure::config(format!(
                "the token file {} is not a digi.me user access token (line {}, column {}: {})",
                path.display(),
                e.line(),
                e.column(),
                classify(&e),
            ))
        })?;
        let last = serialize(&token)?;
        Ok((
            Arc::new(TokenFile {
                path: path.to_path_buf(),
                last: Mutex::new(last),
            }),
            token,
        ))
    }

    /// A token file that does not hold a token yet (authorize writes it).
    pub fn new_target(path: &Path) -> TokenFile {
        TokenFile {
            path: path.to_path_buf(),
            last: Mutex::new(String::new()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `token` when it differs from what the file holds. Returns
    /// whether it wrote.
    pub fn save_if_changed(&self, token: &UserAccessToken) -> Result<bool, Failure> {
        let json = serialize(token)?;
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if *last == json {
            return Ok(false);
        }
        write_atomic(&self.path, json.as_bytes()).map_err(|e| {
            Failure::config(format!(
                "cannot write the token file {}: {e}",
                self.path.display()
            ))
        })?;
        *last = json;
        Ok(true)
    }
}

fn serialize(token: &UserAccessToken) -> Result<String, Failure> {
    serde_json::to_string(token)
        .map_err(|e| Failure::config(format!("cannot encode the token: {e}")))
}

/// What kind of JSON problem it was, without echoing any of the input.
fn classify(e: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match e.classify() {
        Category::Io => "read error",
        Category::Syntax => "not valid JSON",
        Category::Data => "a field is missing or has the wrong type",
        Category::Eof => "the JSON ends early",
    }
}

/// Writes `bytes` to `path` atomically, readable by the owner only: a
/// temporary file in the same folder (mode 0600), flushed to disk, then
/// renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "token.json".to_owned());
    // Random characters from the SDK's one generator: an error, never a loop.
    let suffix = digime::auth::generate_state().map_err(std::io::Error::other)?;
    let tmp = dir.join(format!(".{name}.{}.{suffix}.tmp", std::process::id()));

    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        {
            // The umask cannot widen 0600, but make it exact all the same.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable (best effort).
        #[cfg(unix)]
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = r#"{"accessToken":{"value":"a-1","expiry":1767225600},"refreshToken":{"value":"r-1","expiry":1769817600}}"#;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("digime-cli-unit-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn writes_only_a_changed_token_with_mode_0600() {
        let dir = scratch("changed");
        let path = dir.join("token.json");
        std::fs::write(&path, TOKEN).unwrap();
        let (file, token) = TokenFile::load(&path).unwrap();
        assert!(
            !file.save_if_changed(&token).unwrap(),
            "same token, no write"
        );
        let other = UserAccessToken::new(
            digime::Token::new("a-2", std::time::UNIX_EPOCH),
            digime::Token::new("r-2", std::time::UNIX_EPOCH),
            None,
            None,
        );
        assert!(file.save_if_changed(&other).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_malformed_file_is_a_config_error_that_quotes_nothing() {
        let dir = scratch("malformed");
        let path = dir.join("token.json");
        std::fs::write(&path, r#"{"accessToken":"secret-value"}"#).unwrap();
        let err = TokenFile::load(&path).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(!err.to_string().contains("secret-value"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
