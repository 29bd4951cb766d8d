//! The data of a library push.

use bytes::Bytes;

/// The bytes of a file to push.
///
/// Built from a `Vec<u8>`, [`bytes::Bytes`], a `&'static [u8]` or a
/// `String`; [`LibraryPush::file`](super::LibraryPush::file) takes any of
/// them.
///
/// ```
/// let data = digime::push::FileData::from(b"%PDF-1.7".to_vec());
/// assert_eq!(data.len(), Some(8));
/// ```
#[derive(Clone)]
pub struct FileData {
    source: Source,
}

#[derive(Clone)]
enum Source {
    Bytes(Bytes),
}

impl FileData {
    /// The length in bytes, when known.
    ///
    /// ```
    /// assert_eq!(digime::push::FileData::from(Vec::new()).len(), Some(0));
    /// ```
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> Option<u64> {
        match &self.source {
            Source::Bytes(b) => Some(b.len() as u64),
        }
    }

    pub(crate) fn bytes(&self) -> Bytes {
        match &self.source {
            Source::Bytes(b) => b.clone(),
        }
    }
}

impl std::fmt::Debug for FileData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Source::Bytes(b) => f.debug_struct("FileData").field("len", &b.len()).finish(),
        }
    }
}

impl From<Vec<u8>> for FileData {
    fn from(v: Vec<u8>) -> Self {
        Bytes::from(v).into()
    }
}

impl From<Bytes> for FileData {
    fn from(b: Bytes) -> Self {
        Self {
            source: Source::Bytes(b),
        }
    }
}

impl From<&'static [u8]> for FileData {
    fn from(b: &'static [u8]) -> Self {
        Bytes::from_static(b).into()
    }
}

impl From<String> for FileData {
    fn from(s: String) -> Self {
        Bytes::from(s).into()
    }
}
