//! [`FileTokenStore`]: token files on one machine, guarded by OS file locks.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{Lease, LeaseAttempt, TokenStore};
use crate::error::{Error, Result};
use crate::token::UserAccessToken;

/// How soon to ask again for a file lock another process holds.
const LOCK_POLL: Duration = Duration::from_millis(20);

/// Token files on one machine: one JSON file per user (the TypeScript SDK's
/// format), written atomically with mode 0600, and an OS file lock per user
/// as the refresh lease.
///
/// Every process of the machine that opens the same directory (or the same
/// file) shares the tokens and the locks. The OS releases a lock when its
/// holder exits, so a process that dies mid-refresh never holds up the
/// others. This is the embedded default, and the `digime` CLI's token file
/// is one ([`single_file`](Self::single_file)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> digime::Result<()> {
/// use digime::store::{FileTokenStore, TokenStore};
/// use digime::{Token, UserAccessToken};
/// let dir = std::env::temp_dir().join(format!("digime-doc-tokens-{}", std::process::id()));
/// let store = FileTokenStore::new(&dir)?;
/// let expiry = std::time::SystemTime::now();
/// let token = UserAccessToken::new(Token::new("a", expiry), Token::new("r", expiry), None, None);
/// store.save("patient/42", &token).await?;
/// assert!(store.load("patient/42").await?.is_some());
/// # std::fs::remove_dir_all(&dir).ok(); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FileTokenStore {
    location: Location,
}

#[derive(Debug, Clone)]
enum Location {
    /// One file per user in a directory.
    Directory(PathBuf),
    /// One file for whatever user is asked (the CLI's `--token` file).
    File(PathBuf),
}

/// The lock a lease holds: the open, locked lock file of one token file.
struct LockGuard {
    /// The token file the lock guards.
    token_path: PathBuf,
    _file: File,
}

impl FileTokenStore {
    /// A store in `dir`, created (mode 0700) if missing. A user's token is
    /// the file `<user>.json`, the user key percent-encoded to a safe file
    /// name; its lock is `<user>.lock` beside it.
    ///
    /// Errors: [`ErrorKind::TokenStore`](crate::ErrorKind::TokenStore) when
    /// the directory cannot be created.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join("digime-doc-new-store");
    /// let store = digime::store::FileTokenStore::new(&dir).unwrap();
    /// # let _ = store;
    /// ```
    pub fn new(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(&dir).map_err(|e| {
            Error::token_store(
                describe_path(&dir),
                format!("cannot create the directory ({e})"),
            )
        })?;
        Ok(Self {
            location: Location::Directory(dir),
        })
    }

    /// A store of one token file, whatever user is asked: the CLI's
    /// `--token FILE`. Its lock is `FILE.lock`.
    ///
    /// ```
    /// let store = digime::store::FileTokenStore::single_file("token.json");
    /// # let _ = store;
    /// ```
    pub fn single_file(path: impl AsRef<Path>) -> Self {
        Self {
            location: Location::File(path.as_ref().to_path_buf()),
        }
    }

    /// The token file of `user`.
    ///
    /// ```
    /// let store = digime::store::FileTokenStore::single_file("token.json");
    /// assert_eq!(store.token_path("anyone"), std::path::Path::new("token.json"));
    /// ```
    pub fn token_path(&self, user: &str) -> PathBuf {
        match &self.location {
            Location::File(path) => path.clone(),
            Location::Directory(dir) => dir.join(format!("{}.json", file_stem(user))),
        }
    }

    fn lock_path(&self, user: &str) -> PathBuf {
        match &self.location {
            Location::File(path) => {
                let mut name = path.as_os_str().to_owned();
                name.push(".lock");
                PathBuf::from(name)
            }
            Location::Directory(dir) => dir.join(format!("{}.lock", file_stem(user))),
        }
    }

    fn error(&self, what: impl std::fmt::Display) -> Error {
        Error::token_store(self.describe(), what)
    }

    /// Reads a token file; a missing file is `None`.
    fn read(&self, path: &Path) -> Result<Option<UserAccessToken>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(format!("cannot read {} ({e})", path.display()))),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            // The place only: the file holds secrets, and serde's message
            // can quote them.
            self.error(format!(
                "{} is not a digi.me user access token (JSON {:?} error at line {}, column {})",
                path.display(),
                e.classify(),
                e.line(),
                e.column()
            ))
        })
    }

    fn write(&self, path: &Path, token: &UserAccessToken) -> Result<()> {
        let json = serde_json::to_vec(token)
            .map_err(|e| self.error(format!("cannot encode the token ({:?})", e.classify())))?;
        write_atomic(path, &json)
            .map_err(|e| self.error(format!("cannot write {} ({e})", path.display())))
    }

    fn try_lease(&self, user: &str, ttl: Duration) -> Result<LeaseAttempt> {
        let lock_path = self.lock_path(user);
        let token_path = self.token_path(user);
        let file = open_private(&lock_path, false).map_err(|e| {
            self.error(format!(
                "cannot open the lock {} ({e})",
                lock_path.display()
            ))
        })?;
        match file.try_lock() {
            Ok(()) => {
                // Read under the lock: a holder that just finished wrote it.
                let current = self.read(&token_path)?;
                let lease = Lease::new(user, ttl)?.hold(LockGuard {
                    token_path,
                    _file: file,
                });
                Ok(LeaseAttempt::Acquired { lease, current })
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(LeaseAttempt::Held {
                current: self.read(&token_path)?,
                retry_after: LOCK_POLL,
            }),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(self.error(format!("cannot lock {} ({e})", lock_path.display())))
            }
        }
    }
}

/// Runs blocking file work off the async runtime.
async fn blocking<T: Send + 'static>(
    store: &FileTokenStore,
    work: impl FnOnce(FileTokenStore) -> Result<T> + Send + 'static,
) -> Result<T> {
    let owned = store.clone();
    tokio::task::spawn_blocking(move || work(owned))
        .await
        .map_err(|e| store.error(format!("the file task failed ({e})")))?
}

impl TokenStore for FileTokenStore {
    fn describe(&self) -> String {
        match &self.location {
            Location::Directory(dir) | Location::File(dir) => describe_path(dir),
        }
    }

    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Option<UserAccessToken>>> {
        let path = self.token_path(user);
        Box::pin(blocking(self, move |store| store.read(&path)))
    }

    fn save<'a>(&'a self, user: &'a str, token: &'a UserAccessToken) -> BoxFuture<'a, Result<()>> {
        let path = self.token_path(user);
        let token = token.clone();
        Box::pin(blocking(self, move |store| store.write(&path, &token)))
    }

    fn acquire_lease<'a>(
        &'a self,
        user: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<LeaseAttempt>> {
        let user = user.to_owned();
        Box::pin(blocking(self, move |store| store.try_lease(&user, ttl)))
    }

    fn commit<'a>(&'a self, lease: Lease, token: &'a UserAccessToken) -> BoxFuture<'a, Result<()>> {
        let token = token.clone();
        Box::pin(blocking(self, move |store| {
            let Some(guard) = lease.guard::<LockGuard>() else {
                return Err(store.error("the lease is not one of this store's file locks"));
            };
            // Written while the lock is held; the lock goes with the lease.
            store.write(&guard.token_path, &token)?;
            drop(lease);
            Ok(())
        }))
    }

    fn release(&self, lease: Lease) -> BoxFuture<'_, Result<()>> {
        // Closing the locked file releases the lock.
        drop(lease);
        Box::pin(async { Ok(()) })
    }
}

/// `file://` and the path, as the store names itself.
fn describe_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    format!("file://{}", absolute.display())
}

/// A user key as a file name: ASCII letters, digits, `-` and `_` as they
/// are, every other byte as `%XX` (so `..`, `/` and hidden names cannot
/// occur, and two keys never share a file).
fn file_stem(user: &str) -> String {
    let mut stem = String::with_capacity(user.len());
    for b in user.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            stem.push(b as char);
        } else {
            stem.push_str(&format!("%{b:02X}"));
        }
    }
    stem
}

/// Opens (creating if needed) a file readable by its owner only.
fn open_private(path: &Path, create_new: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true).truncate(false);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Writes `bytes` to `path` atomically, readable by the owner only: a
/// temporary file in the same folder (mode 0600), flushed to disk, then
/// renamed over `path`. A reader sees the old file or the new one, never
/// half of one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "token.json".to_owned());
    let suffix = crate::signer::nonce::random_alnum(12)
        .map_err(|_| std::io::Error::other("the system's random source failed"))?;
    let tmp = dir.join(format!(".{name}.{}.{suffix}.tmp", std::process::id()));
    let result = (|| {
        let mut file = open_private(&tmp, true)?;
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
        if let Ok(d) = File::open(&dir) {
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
    use crate::token::Token;
    use secrecy::ExposeSecret;

    fn token(refresh: &str) -> UserAccessToken {
        UserAccessToken::new(
            Token::from_unix_secs("a", 1),
            Token::from_unix_secs(refresh, 2),
            None,
            None,
        )
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "digime-file-store-{}-{name}-{}",
            std::process::id(),
            crate::signer::nonce::random_alnum(6).unwrap()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn user_keys_become_safe_distinct_file_names() {
        assert_eq!(file_stem("patient-42_a"), "patient-42_a");
        assert_eq!(file_stem("../etc/passwd"), "%2E%2E%2Fetc%2Fpasswd");
        assert_ne!(file_stem("a b"), file_stem("a%20b"));
    }

    #[tokio::test]
    async fn the_lock_is_one_holder_at_a_time_and_commit_writes_0600() {
        let dir = scratch("lock");
        let store = FileTokenStore::new(&dir).unwrap();
        store.save("u", &token("r0")).await.unwrap();
        let LeaseAttempt::Acquired { lease, current } = store
            .acquire_lease("u", Duration::from_secs(30))
            .await
            .unwrap()
        else {
            panic!("the first caller locks");
        };
        assert_eq!(
            current.unwrap().refresh_token().value().expose_secret(),
            "r0"
        );
        // A second handle (as another process would have) finds it locked.
        let other = FileTokenStore::new(&dir).unwrap();
        assert!(matches!(
            other
                .acquire_lease("u", Duration::from_secs(30))
                .await
                .unwrap(),
            LeaseAttempt::Held { .. }
        ));
        store.commit(lease, &token("r1")).await.unwrap();
        let LeaseAttempt::Acquired { current, .. } = other
            .acquire_lease("u", Duration::from_secs(30))
            .await
            .unwrap()
        else {
            panic!("the commit released the lock");
        };
        assert_eq!(
            current.unwrap().refresh_token().value().expose_secret(),
            "r1"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.token_path("u"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_malformed_file_is_a_store_error_that_quotes_nothing() {
        let dir = scratch("malformed");
        let store = FileTokenStore::new(&dir).unwrap();
        std::fs::write(store.token_path("u"), r#"{"accessToken":"secret-value"}"#).unwrap();
        let err = store.load("u").await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::TokenStore);
        assert!(!err.to_string().contains("secret-value"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
