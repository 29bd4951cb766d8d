//! What identifies a file in a journal: its path, its size and its SHA-256.

use std::fmt;
use std::io::{self, Read};
use std::path::Path;

use aws_lc_rs::digest::{Context, SHA256};

use crate::hex::hex;

/// How many bytes [`FileIdentity::of_file`] reads at a time.
const CHUNK: usize = 64 * 1024;

/// A file as a [`Journal`](super::Journal) knows it: the path as the caller
/// names it, the size in bytes and the SHA-256 of the content (lowercase
/// hex).
///
/// Two files are the same file only when all three match: a file that
/// changed since a run recorded it is a new file, and the same content
/// under two paths is two files.
///
/// ```
/// use digime::bulk::FileIdentity;
/// let id = FileIdentity::of_bytes("scans/a.pdf", b"hello");
/// assert_eq!(id.path(), "scans/a.pdf");
/// assert_eq!(id.size(), 5);
/// assert_eq!(id.sha256(), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    path: String,
    size: u64,
    sha256: String,
}

impl FileIdentity {
    /// The identity of `bytes`, the content of the file at `path`.
    ///
    /// ```
    /// let id = digime::bulk::FileIdentity::of_bytes("a.txt", b"");
    /// assert_eq!(id.size(), 0);
    /// ```
    pub fn of_bytes(path: impl Into<String>, bytes: &[u8]) -> Self {
        let mut digest = Context::new(&SHA256);
        digest.update(bytes);
        Self {
            path: path.into(),
            size: bytes.len() as u64,
            sha256: hex(digest.finish().as_ref()),
        }
    }

    /// The identity of the file at `path`, read (and hashed) as a stream:
    /// memory stays at one 64 KiB buffer whatever the file's size. The file
    /// is read on a blocking thread of the runtime. Its path is recorded as
    /// given ([`path_key`] of it).
    ///
    /// A file that changes after this call and before its push is sent
    /// would be pushed with content that does not match the identity: hash
    /// and push files that are not being written.
    ///
    /// Errors: the I/O error, with a message naming the file.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let id = digime::bulk::FileIdentity::of_file("scans/a.pdf").await?;
    /// println!("{} {} bytes sha256={}", id.path(), id.size(), id.sha256());
    /// # Ok(()) }
    /// ```
    pub async fn of_file(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || Self::of_file_blocking(&path))
            .await
            .map_err(io::Error::other)?
    }

    fn of_file_blocking(path: &Path) -> io::Result<Self> {
        let named =
            |e: io::Error| io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()));
        let mut file = std::fs::File::open(path).map_err(named)?;
        let mut digest = Context::new(&SHA256);
        let mut buf = vec![0u8; CHUNK];
        let mut size = 0u64;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(named(e)),
            };
            digest.update(&buf[..n]);
            size += n as u64;
        }
        Ok(Self {
            path: path_key(path),
            size,
            sha256: hex(digest.finish().as_ref()),
        })
    }

    /// An identity recorded elsewhere (in your own database, say).
    ///
    /// Errors: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// naming `sha256` when it is not 64 lowercase hex digits, or `path`
    /// when it is empty.
    ///
    /// ```
    /// let id = digime::bulk::FileIdentity::new("a.txt", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855").unwrap();
    /// assert_eq!(id, digime::bulk::FileIdentity::of_bytes("a.txt", b""));
    /// assert!(digime::bulk::FileIdentity::new("a.txt", 0, "E3B0").is_err());
    /// ```
    pub fn new(
        path: impl Into<String>,
        size: u64,
        sha256: impl Into<String>,
    ) -> crate::Result<Self> {
        let (path, sha256) = (path.into(), sha256.into());
        if path.is_empty() {
            return Err(crate::Error::invalid_input("path", "must not be empty"));
        }
        if !is_sha256_hex(&sha256) {
            return Err(crate::Error::invalid_input(
                "sha256",
                "must be 64 lowercase hexadecimal digits",
            ));
        }
        Ok(Self { path, size, sha256 })
    }

    /// The path, as the caller named the file.
    ///
    /// ```
    /// assert_eq!(digime::bulk::FileIdentity::of_bytes("a/b.txt", b"x").path(), "a/b.txt");
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The size in bytes.
    ///
    /// ```
    /// assert_eq!(digime::bulk::FileIdentity::of_bytes("a", b"xy").size(), 2);
    /// ```
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The SHA-256 of the content, 64 lowercase hex digits.
    ///
    /// ```
    /// assert_eq!(digime::bulk::FileIdentity::of_bytes("a", b"x").sha256().len(), 64);
    /// ```
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// A fixed-size digest of the three, the journal's index key: 16 bytes
    /// of SHA-256 over the path, the size and the content's SHA-256.
    pub(crate) fn key(&self) -> u128 {
        let mut digest = Context::new(&SHA256);
        digest.update(self.path.as_bytes());
        digest.update(&[0]);
        digest.update(&self.size.to_be_bytes());
        digest.update(self.sha256.as_bytes());
        let out = digest.finish();
        let mut key = [0u8; 16];
        key.copy_from_slice(&out.as_ref()[..16]);
        u128::from_be_bytes(key)
    }
}

impl fmt::Debug for FileIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FileIdentity({} {} bytes sha256={})",
            self.path, self.size, self.sha256
        )
    }
}

/// The path of a file as a journal records it: as given, with `.`
/// components and repeated separators taken out (`./a//b` is `a/b`), so
/// that the same name written two ways is one file. Relative paths stay
/// relative: a journal of relative paths works from the same folder on
/// another machine.
///
/// ```
/// use std::path::Path;
/// assert_eq!(digime::bulk::path_key(Path::new("./scans//a.pdf")), "scans/a.pdf");
/// assert_eq!(digime::bulk::path_key(Path::new("/data/./a.pdf")), "/data/a.pdf");
/// ```
pub fn path_key(path: &Path) -> String {
    let clean: std::path::PathBuf = path
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    if clean.as_os_str().is_empty() {
        return ".".to_owned();
    }
    clean.to_string_lossy().into_owned()
}

/// Whether `s` is 64 lowercase hex digits.
pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_hashes_like_its_bytes_and_keeps_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let id = FileIdentity::of_file(&path).await.unwrap();
        let expected = FileIdentity::of_bytes(path_key(&path), &bytes);
        assert_eq!(id, expected);
        assert_eq!(id.key(), expected.key());
        assert_ne!(id.key(), FileIdentity::of_bytes("other", &bytes).key());
    }

    #[tokio::test]
    async fn a_missing_file_is_an_error_naming_it() {
        let err = FileIdentity::of_file("/nonexistent/x.pdf")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.pdf"), "{err}");
    }
}
