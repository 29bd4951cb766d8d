//! [`FileTokenStore`]: token files on one machine, with their versions and
//! leases in a sidecar lock file.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

mod disk;

use super::{
    CommitOutcome, Lease, LeaseAttempt, ROTATED_KEPT, Saved, StoredToken, TokenStore,
    refresh_fingerprint,
};
use crate::error::{Error, Result};
use crate::token::UserAccessToken;
pub(crate) use disk::write_atomic;
use disk::{describe_path, file_stem, open_private, read_only, unix_ms};

/// The longest an operation waits for the OS lock on a sidecar file. Every
/// holder keeps it for one short read-check-write, so only a process stopped
/// in the middle of one (a debugger, `SIGSTOP`) makes another wait this long.
const LOCK_WAIT: Duration = if cfg!(test) {
    Duration::from_millis(500)
} else {
    Duration::from_secs(5)
};
/// How soon to try the OS lock again at first (then twice as late each
/// time, up to [`LOCK_POLL_MAX`]).
const LOCK_POLL: Duration = Duration::from_millis(1);
const LOCK_POLL_MAX: Duration = Duration::from_millis(10);

/// Token files on one machine: one JSON file per user (the TypeScript SDK's
/// format, written atomically with mode 0600), and beside it a sidecar lock
/// file with the token's version and the user's refresh lease.
///
/// Every process of the machine that opens the same directory (or the same
/// file) shares the tokens, their versions and the leases. This is the
/// embedded default, and the `digime` CLI's token file is one
/// ([`single_file`](Self::single_file)).
///
/// **The sidecar** (`<user>.lock`, or `FILE.lock` beside a single file) is a
/// small JSON object, padded with spaces:
///
/// ```json
/// {"version":7,"fingerprint":"9f86d0…","rotated":["2c26b4…"],"lease":{"id":"4be1…","until":1767225600000}}
/// ```
///
/// - `version`: the version of the token in the token file;
/// - `fingerprint`: the [`refresh_fingerprint`](super::refresh_fingerprint)
///   of that token (a SHA-256, never the token);
/// - `rotated`: the fingerprints of the last 16 refresh tokens that commits
///   replaced (refreshed away from), newest last;
/// - `lease`: the refresh lease, if one was taken and not given back: its
///   id and when it expires (Unix milliseconds, by this machine's clock).
///
/// Every operation takes the sidecar's OS file lock (`flock`, through
/// [`File::try_lock`]) only for its own short read-check-write, never while
/// a refresh runs. **The lease is the stamp, not the OS lock**: it outlives
/// the process that took it. A holder that is killed (`SIGKILL`) mid-refresh
/// keeps the others waiting until its lease expires, as on PostgreSQL, and
/// the next taker is told it took the lease over. After a refresh whose
/// outcome is unknown, the SDK leaves its lease in place, so that no other
/// process refreshes the same token until the lease runs out, even if this
/// process exits at once. Lease times follow the machine's wall clock:
/// setting the clock back lengthens the leases held at that moment.
///
/// **A token file replaced from outside** (an operator's `cp`, a restored
/// backup, a token file written by an older SDK, with no sidecar or an
/// empty one) is a new version: when the token file's refresh token is not
/// the one the sidecar recorded, its version is the sidecar's plus one (a
/// token file without a sidecar is version 1). A missing token file is
/// "nothing stored" (version 0 for [`TokenStore::commit`]); the next token
/// written then continues after the sidecar's version, so versions never go
/// back.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> digime::Result<()> {
/// use digime::store::{FileTokenStore, TokenStore};
/// use digime::{Token, UserAccessToken};
/// let dir = std::env::temp_dir().join(format!("digime-doc-tokens-{}", std::process::id()));
/// let store = FileTokenStore::new(&dir)?;
/// let expiry = std::time::SystemTime::now();
/// let token = UserAccessToken::new(Token::new("a", expiry), Token::new("r", expiry), None, None);
/// let saved = store.save("patient/42", &token).await?;
/// assert_eq!(store.load("patient/42").await?.map(|s| s.version), Some(saved.version));
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

/// What a sidecar lock file holds. An empty file (an older SDK's lock file)
/// is the default: no version yet, no lease.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Sidecar {
    /// The version of the token of `fingerprint`.
    #[serde(default)]
    version: u64,
    /// The refresh fingerprint of the token at `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
    /// Fingerprints of the refresh tokens replaced, newest last.
    #[serde(default)]
    rotated: VecDeque<String>,
    /// The refresh lease, while it is not given back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease: Option<Stamp>,
}

/// A lease in the sidecar: its id and when it expires (Unix ms).
#[derive(Debug, Serialize, Deserialize)]
struct Stamp {
    id: String,
    until: u64,
}

/// One user's files, with the sidecar's OS lock held until it is dropped.
struct Locked<'s> {
    store: &'s FileTokenStore,
    /// The open sidecar; closing it releases the OS lock.
    file: File,
    sidecar_path: PathBuf,
    token_path: PathBuf,
    /// The sidecar's length as read: a rewrite pads to at least this.
    len: usize,
    meta: Sidecar,
    /// The token file's token (`None`: no token file).
    token: Option<UserAccessToken>,
    /// The sidecar must be written back.
    changed: bool,
    /// A token was written: the sidecar goes to the disk before the lock is
    /// released.
    durable: bool,
}

impl Locked<'_> {
    /// The version to compare a commit with: `0` while no token is stored.
    fn version(&self) -> u64 {
        if self.token.is_some() {
            self.meta.version
        } else {
            0
        }
    }

    fn current(&self) -> Option<StoredToken> {
        self.token
            .clone()
            .map(|token| StoredToken::new(token, self.meta.version))
    }

    fn holds(&self, lease: &Lease) -> bool {
        self.meta
            .lease
            .as_ref()
            .is_some_and(|stamp| stamp.id == lease.id())
    }

    /// Writes `token` at the next version: the token file first (so that a
    /// crash between the two writes leaves a token file the sidecar does not
    /// know, which reads as the next version: the same outcome), then the
    /// sidecar. A commit (`rotation`) remembers the refresh token it
    /// replaces.
    fn write(&mut self, token: &UserAccessToken, rotation: bool) -> Result<u64> {
        self.store.write(&self.token_path, token)?;
        let fingerprint = refresh_fingerprint(token);
        if rotation
            && self.token.is_some()
            && let Some(old) = self.meta.fingerprint.take()
            && old != fingerprint
        {
            self.meta.rotated.push_back(old);
            while self.meta.rotated.len() > ROTATED_KEPT {
                self.meta.rotated.pop_front();
            }
        }
        self.meta.version += 1;
        self.meta.fingerprint = Some(fingerprint);
        self.token = Some(token.clone());
        self.changed = true;
        self.durable = true;
        Ok(self.meta.version)
    }

    /// Writes the sidecar back if it changed, in place (the OS lock is on
    /// this file: a rename would put a new, unlocked file in its place),
    /// padded with spaces to at least its old length, so that the file is a
    /// whole JSON object at every moment.
    fn finish(mut self) -> Result<()> {
        if !self.changed {
            return Ok(());
        }
        let mut bytes = serde_json::to_vec(&self.meta).map_err(|e| {
            self.store
                .error(format!("cannot encode the sidecar ({:?})", e.classify()))
        })?;
        if bytes.len() < self.len {
            bytes.resize(self.len, b' ');
        }
        let result = (|| {
            self.file.seek(SeekFrom::Start(0))?;
            self.file.write_all(&bytes)?;
            if self.durable {
                self.file.sync_data()?;
            }
            Ok::<_, std::io::Error>(())
        })();
        result.map_err(|e| {
            self.store.error(format!(
                "cannot write {} ({e})",
                self.sidecar_path.display()
            ))
        })
    }
}

impl FileTokenStore {
    /// A store in `dir`, created (mode 0700) if missing. A user's token is
    /// the file `<user>.json`, the user key percent-encoded to a safe file
    /// name; its sidecar lock file is `<user>.lock` beside it.
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
    /// `--token FILE`. Its sidecar lock file is `FILE.lock`.
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

    /// The sidecar lock file of `user`: its token's version and its lease.
    ///
    /// ```
    /// let store = digime::store::FileTokenStore::single_file("token.json");
    /// assert_eq!(store.lock_path("anyone"), std::path::Path::new("token.json.lock"));
    /// ```
    pub fn lock_path(&self, user: &str) -> PathBuf {
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

    /// Opens `user`'s sidecar, takes its OS lock (waiting at most
    /// [`LOCK_WAIT`]), and reads the sidecar and the token file. A token
    /// file the sidecar does not know is given the next version here, and
    /// the sidecar records it.
    fn lock(&self, user: &str) -> Result<Locked<'_>> {
        let sidecar_path = self.lock_path(user);
        let file = open_private(&sidecar_path, false)
            .map_err(|e| self.error(format!("cannot open {} ({e})", sidecar_path.display())))?;
        self.lock_open(user, file)
    }

    fn lock_open(&self, user: &str, mut file: File) -> Result<Locked<'_>> {
        let sidecar_path = self.lock_path(user);
        let started = Instant::now();
        let mut poll = LOCK_POLL;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(poll);
                    poll = (poll * 2).min(LOCK_POLL_MAX);
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(self.error(format!(
                        "{} stayed locked by another process for {:?}",
                        sidecar_path.display(),
                        LOCK_WAIT
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(self.error(format!("cannot lock {} ({e})", sidecar_path.display())));
                }
            }
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| self.error(format!("cannot read {} ({e})", sidecar_path.display())))?;
        let mut meta = self.parse_sidecar(&sidecar_path, &bytes)?;
        let token_path = self.token_path(user);
        let token = self.read(&token_path)?;
        let changed = settle(&mut meta, token.as_ref());
        Ok(Locked {
            store: self,
            file,
            sidecar_path,
            token_path,
            len: bytes.len(),
            meta,
            token,
            changed,
            durable: false,
        })
    }

    fn parse_sidecar(&self, path: &Path, bytes: &[u8]) -> Result<Sidecar> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Sidecar::default());
        }
        serde_json::from_slice(bytes).map_err(|e| {
            self.error(format!(
                "{} is not a token store sidecar (JSON {:?} error at line {}, column {}); \
                 remove it to start the versions again",
                path.display(),
                e.classify(),
                e.line(),
                e.column()
            ))
        })
    }

    fn load_locked(&self, user: &str) -> Result<Option<StoredToken>> {
        let (sidecar_path, token_path) = (self.lock_path(user), self.token_path(user));
        if !sidecar_path.exists() && !token_path.exists() {
            // Nothing stored: no sidecar is created for a mere look.
            return Ok(None);
        }
        let file = match open_private(&sidecar_path, false) {
            Ok(file) => file,
            Err(e) if read_only(&e) => {
                // A token file on a read-only mount (a secret, say) can still
                // be read, without a lock: nobody can write it here.
                let bytes = std::fs::read(&sidecar_path).unwrap_or_default();
                let mut meta = self.parse_sidecar(&sidecar_path, &bytes)?;
                let token = self.read(&token_path)?;
                settle(&mut meta, token.as_ref());
                return Ok(token.map(|token| StoredToken::new(token, meta.version)));
            }
            Err(e) => {
                return Err(self.error(format!("cannot open {} ({e})", sidecar_path.display())));
            }
        };
        let locked = self.lock_open(user, file)?;
        let current = locked.current();
        locked.finish()?;
        Ok(current)
    }

    fn save_locked(&self, user: &str, token: &UserAccessToken) -> Result<Saved> {
        let mut locked = self.lock(user)?;
        let already_rotated = locked.meta.rotated.contains(&refresh_fingerprint(token));
        let version = locked.write(token, false)?;
        locked.finish()?;
        Ok(Saved::new(version, already_rotated))
    }

    fn acquire_locked(&self, user: &str, ttl: Duration) -> Result<LeaseAttempt> {
        let mut locked = self.lock(user)?;
        let now = unix_ms(SystemTime::now());
        let took_over = match &locked.meta.lease {
            Some(stamp) if stamp.until > now => {
                let attempt = LeaseAttempt::Held {
                    current: locked.current(),
                    retry_after: Duration::from_millis(stamp.until - now),
                };
                locked.finish()?;
                return Ok(attempt);
            }
            Some(_) => true,
            None => false,
        };
        let lease = Lease::new(user, ttl)?;
        locked.meta.lease = Some(Stamp {
            id: lease.id().to_owned(),
            until: unix_ms(lease.expires_at()),
        });
        locked.changed = true;
        let current = locked.current();
        locked.finish()?;
        Ok(LeaseAttempt::Acquired {
            lease,
            current,
            took_over,
        })
    }

    fn renew_locked(&self, lease: &Lease, ttl: Duration) -> Result<bool> {
        let mut locked = self.lock(lease.user())?;
        let renewed = locked.holds(lease);
        if renewed {
            locked.meta.lease = Some(Stamp {
                id: lease.id().to_owned(),
                until: unix_ms(SystemTime::now() + super::capped(ttl)),
            });
            locked.changed = true;
        }
        locked.finish()?;
        Ok(renewed)
    }

    fn commit_locked(
        &self,
        lease: &Lease,
        expected: u64,
        token: &UserAccessToken,
    ) -> Result<CommitOutcome> {
        let mut locked = self.lock(lease.user())?;
        let outcome = if locked.version() == expected {
            if locked.holds(lease) {
                locked.meta.lease = None;
            }
            CommitOutcome::Committed(locked.write(token, true)?)
        } else {
            CommitOutcome::Conflict(locked.current())
        };
        locked.finish()?;
        Ok(outcome)
    }

    fn release_locked(&self, lease: &Lease) -> Result<()> {
        let mut locked = self.lock(lease.user())?;
        if locked.holds(lease) {
            locked.meta.lease = None;
            locked.changed = true;
        }
        locked.finish()
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

    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Option<StoredToken>>> {
        let user = user.to_owned();
        Box::pin(blocking(self, move |store| store.load_locked(&user)))
    }

    fn save<'a>(
        &'a self,
        user: &'a str,
        token: &'a UserAccessToken,
    ) -> BoxFuture<'a, Result<Saved>> {
        let (user, token) = (user.to_owned(), token.clone());
        Box::pin(blocking(self, move |store| {
            store.save_locked(&user, &token)
        }))
    }

    fn acquire_lease<'a>(
        &'a self,
        user: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<LeaseAttempt>> {
        let user = user.to_owned();
        Box::pin(blocking(self, move |store| {
            store.acquire_locked(&user, ttl)
        }))
    }

    fn renew_lease<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        let lease = lease.clone();
        Box::pin(blocking(self, move |store| store.renew_locked(&lease, ttl)))
    }

    fn commit<'a>(
        &'a self,
        lease: &'a Lease,
        expected: u64,
        token: &'a UserAccessToken,
    ) -> BoxFuture<'a, Result<CommitOutcome>> {
        let (lease, token) = (lease.clone(), token.clone());
        Box::pin(blocking(self, move |store| {
            store.commit_locked(&lease, expected, &token)
        }))
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<()>> {
        let lease = lease.clone();
        Box::pin(blocking(self, move |store| store.release_locked(&lease)))
    }
}

/// Gives a token file the sidecar does not know (written from outside) the
/// next version; `true` when `meta` changed.
fn settle(meta: &mut Sidecar, token: Option<&UserAccessToken>) -> bool {
    let Some(token) = token else {
        return false;
    };
    let fingerprint = refresh_fingerprint(token);
    if meta.version > 0 && meta.fingerprint.as_deref() == Some(fingerprint.as_str()) {
        return false;
    }
    meta.version += 1;
    meta.fingerprint = Some(fingerprint);
    true
}

#[cfg(test)]
mod tests;
