//! [`open`]: the store a URL names.

use std::sync::Arc;

#[cfg(feature = "postgres")]
use super::PostgresTokenStore;
use super::{FileTokenStore, TokenStore};
use crate::error::{Error, Result};

/// Opens the store a URL names: `file:///path/to/dir` (a
/// [`FileTokenStore`] on that directory, created if missing) or, with the
/// `postgres` feature, `postgres://…` (a `PostgresTokenStore`, its table
/// created if missing).
///
/// Errors: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
/// naming `token_store` for a URL it does not take;
/// [`ErrorKind::TokenStore`](crate::ErrorKind::TokenStore) when the store
/// cannot be opened.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> digime::Result<()> {
/// let dir = std::env::temp_dir().join("digime-doc-store");
/// let store = digime::store::open(&format!("file://{}", dir.display())).await?;
/// assert!(store.describe().starts_with("file://"));
/// let err = digime::store::open("ftp://example.com").await.unwrap_err();
/// assert_eq!(err.field(), Some("token_store"));
/// # Ok(()) }
/// ```
pub async fn open(url: &str) -> Result<Arc<dyn TokenStore>> {
    if let Some(path) = url.strip_prefix("file://") {
        if path.is_empty() {
            return Err(Error::invalid_input(
                "token_store",
                "a file:// URL needs a directory, such as file:///var/lib/app/tokens",
            ));
        }
        return Ok(Arc::new(FileTokenStore::new(path)?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            return Ok(Arc::new(PostgresTokenStore::connect(url).await?));
        }
        #[cfg(not(feature = "postgres"))]
        return Err(Error::invalid_input(
            "token_store",
            "a postgres:// store needs the crate's `postgres` feature",
        ));
    }
    Err(Error::invalid_input(
        "token_store",
        "must be a file://DIR or postgres:// URL",
    ))
}
