//! TEMP(w17): a stand-in while the file store is rewritten on the versioned
//! contract (branch w17-stores); replaced at the merge.
#![allow(missing_docs, dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{CommitOutcome, Lease, LeaseAttempt, MemoryTokenStore, Saved, StoredToken, TokenStore};
use crate::error::Result;
use crate::token::UserAccessToken;

#[derive(Debug, Clone)]
pub struct FileTokenStore {
    path: PathBuf,
    single: bool,
    inner: Arc<MemoryTokenStore>,
}

impl FileTokenStore {
    pub fn new(dir: impl AsRef<Path>) -> Result<Self> {
        Ok(Self { path: dir.as_ref().to_path_buf(), single: false, inner: Arc::default() })
    }
    pub fn single_file(path: impl AsRef<Path>) -> Self {
        Self { path: path.as_ref().to_path_buf(), single: true, inner: Arc::default() }
    }
    pub fn token_path(&self, user: &str) -> PathBuf {
        if self.single { self.path.clone() } else { self.path.join(format!("{user}.json")) }
    }
}

impl TokenStore for FileTokenStore {
    fn describe(&self) -> String {
        format!("file://{}", self.path.display())
    }
    fn load<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Option<StoredToken>>> {
        self.inner.load(user)
    }
    fn save<'a>(&'a self, user: &'a str, token: &'a UserAccessToken) -> BoxFuture<'a, Result<Saved>> {
        self.inner.save(user, token)
    }
    fn acquire_lease<'a>(&'a self, user: &'a str, ttl: Duration) -> BoxFuture<'a, Result<LeaseAttempt>> {
        self.inner.acquire_lease(user, ttl)
    }
    fn renew_lease<'a>(&'a self, lease: &'a Lease, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        self.inner.renew_lease(lease, ttl)
    }
    fn commit<'a>(&'a self, lease: &'a Lease, expected: u64, token: &'a UserAccessToken) -> BoxFuture<'a, Result<CommitOutcome>> {
        self.inner.commit(lease, expected, token)
    }
    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<()>> {
        self.inner.release(lease)
    }
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
