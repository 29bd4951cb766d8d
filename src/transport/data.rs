//! The data of a library push: bytes in memory, a file streamed from disk,
//! any reader of known length, or a stream of chunks of unknown length.

use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::{Error, Result};

/// How many bytes one chunk of a streamed body holds: the copy buffer.
const CHUNK: usize = 64 * 1024;

type BoxReader = Box<dyn AsyncRead + Send + Unpin + 'static>;

/// Progress of an upload: `(bytes sent, total bytes when known)`. For a body
/// of unknown length, the last call, made once the end of the stream has
/// been handed over, carries `Some(total)`.
pub(crate) type Progress = Arc<dyn Fn(u64, Option<u64>) + Send + Sync + 'static>;

/// The data of a file to push.
///
/// Four sources. The first three have a known length, sent as
/// `Content-Length`:
///
/// - bytes in memory: `Vec<u8>`, [`bytes::Bytes`], `&'static [u8]` or `String`
///   (through `From`);
/// - a file, streamed from disk: [`FileData::from_path`]. Memory stays at a
///   copy buffer whatever the file's size, and the file is opened again if
///   the push has to be sent again (after a token refresh);
/// - any [`AsyncRead`] of known length: [`FileData::from_reader`].
///
/// The fourth has no length until it ends: [`FileData::from_stream`], any
/// stream of byte chunks (a multipart upload, a decompressor, a pipe), sent
/// with chunked transfer encoding.
///
/// A reader and a stream can be read once: if the push must be sent again
/// (digi.me refused the access token, and the SDK refreshed it), the push
/// fails with [`ErrorKind::DataNotReplayable`](crate::ErrorKind::DataNotReplayable),
/// which carries the refreshed token so that nothing is lost.
///
/// ```
/// let data = digime::push::FileData::from(b"%PDF-1.7".to_vec());
/// assert_eq!(data.len(), Some(8));
/// ```
pub struct FileData {
    source: Source,
}

enum Source {
    Bytes(Bytes),
    Path {
        path: PathBuf,
        len: u64,
    },
    Reader {
        reader: Mutex<Option<BoxReader>>,
        len: u64,
    },
    Stream(Mutex<Option<ChunkStream>>),
}

impl FileData {
    /// A file on disk, streamed when the push is sent. Its length is read
    /// now; the file must not change size before the push completes.
    ///
    /// Errors: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// naming `file` when the path cannot be read or is not a regular file.
    ///
    /// ```no_run
    /// # async fn run() -> digime::Result<()> {
    /// let data = digime::push::FileData::from_path("scan.pdf").await?;
    /// println!("{:?} bytes", data.len());
    /// # Ok(()) }
    /// ```
    pub async fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let meta = tokio::fs::metadata(&path).await.map_err(|e| {
            Error::invalid_input("file", format!("cannot read {} ({e})", path.display()))
        })?;
        if !meta.is_file() {
            return Err(Error::invalid_input(
                "file",
                format!("{} is not a regular file", path.display()),
            ));
        }
        Ok(Self {
            source: Source::Path {
                path,
                len: meta.len(),
            },
        })
    }

    /// Any reader that yields exactly `len` bytes, then ends. It is read
    /// once.
    ///
    /// The last chunk is sent only once the reader has ended, so that data
    /// of the wrong length never reaches digi.me as a complete body: a
    /// reader that ends early, or yields more than `len` bytes, fails the
    /// push with [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// naming `file` and the length, and nothing is stored. (A reader that
    /// stays open after `len` bytes, such as a socket, holds the push until
    /// the idle timeout: close it, or wrap it in
    /// [`AsyncReadExt::take`](tokio::io::AsyncReadExt::take).)
    ///
    /// ```
    /// let data = digime::push::FileData::from_reader(std::io::Cursor::new(vec![7u8; 10]), 10);
    /// assert_eq!(data.len(), Some(10));
    /// assert!(!data.is_replayable());
    /// ```
    pub fn from_reader(reader: impl AsyncRead + Send + Unpin + 'static, len: u64) -> Self {
        Self {
            source: Source::Reader {
                reader: Mutex::new(Some(Box::new(reader))),
                len,
            },
        }
    }

    /// Any stream of byte chunks whose length is not known in advance: a
    /// multipart field of a browser upload, a decompressor, a pipe. It is
    /// sent as it comes, with chunked transfer encoding, and never collected
    /// in memory: memory stays at the chunks in flight.
    ///
    /// The stream ends the file when it ends. An `Err` item fails the push
    /// before the end of the body is sent; empty chunks are skipped.
    ///
    /// **One-shot.** Like a reader, a stream is read once. If digi.me
    /// refuses the access token after the stream was handed to the request,
    /// the SDK refreshes the token and the push fails with
    /// [`ErrorKind::DataNotReplayable`](crate::ErrorKind::DataNotReplayable),
    /// which carries the refreshed token ([`Error::user_access_token`](crate::Error::user_access_token)):
    /// store it, then push the data again from its source. This is rare: a
    /// token known to expire within the refresh skew is refreshed *before*
    /// the stream is read, so only a token revoked or expired early on the
    /// server's side leads there. Other failures are not retried either,
    /// since the stream cannot be sent twice: a failure once any byte of the
    /// stream may have reached digi.me is reported as "may have been stored"
    /// ([`Error::may_have_been_stored`](crate::Error::may_have_been_stored)),
    /// because digi.me reads a chunked body as it comes.
    ///
    /// Upload progress ([`LibraryPush::on_progress`](crate::push::LibraryPush::on_progress))
    /// reports `(sent, None)` as the stream goes, then `(total, Some(total))`
    /// once its end has been handed over.
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
    /// use digime::push::FileData;
    /// use digime::{Account, FileDescriptor};
    ///
    /// // Any `Stream<Item = Result<impl Into<Bytes>, impl Into<Box<dyn Error + Send + Sync>>>>`:
    /// // here three chunks; in a web handler, the multipart field itself.
    /// let chunks = futures_util::stream::iter(["col1,col2\n", "1,2\n", "3,4\n"].map(Ok::<_, std::io::Error>));
    /// let data = FileData::from_stream(chunks);
    /// assert_eq!(data.len(), None);
    /// sdk.push(&contract, &token)
    ///     .library()
    ///     .file(data, "table.csv")
    ///     .descriptor(FileDescriptor::builder().mime_type("text/csv").accounts(vec![Account::new("a-1")]).build())
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn from_stream<S, B, E>(stream: S) -> Self
    where
        S: Stream<Item = std::result::Result<B, E>> + Send + 'static,
        B: Into<Bytes>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let chunks = stream.filter_map(|item| {
            std::future::ready(match item {
                Ok(chunk) => {
                    let bytes: Bytes = chunk.into();
                    (!bytes.is_empty()).then_some(Ok(bytes))
                }
                Err(e) => Some(Err(std::io::Error::other(e))),
            })
        });
        Self {
            source: Source::Stream(Mutex::new(Some(chunks.boxed()))),
        }
    }

    /// The length in bytes, when it is known before sending: `None` for a
    /// stream ([`from_stream`](Self::from_stream)).
    ///
    /// ```
    /// use digime::push::FileData;
    /// assert_eq!(FileData::from(Vec::new()).len(), Some(0));
    /// assert_eq!(FileData::from_stream(futures_util::stream::empty::<Result<Vec<u8>, std::io::Error>>()).len(), None);
    /// ```
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> Option<u64> {
        match &self.source {
            Source::Bytes(b) => Some(b.len() as u64),
            Source::Path { len, .. } | Source::Reader { len, .. } => Some(*len),
            Source::Stream(_) => None,
        }
    }

    /// True when the data can be sent more than once: bytes and files can, a
    /// reader or a stream cannot.
    ///
    /// ```
    /// assert!(digime::push::FileData::from(vec![1u8]).is_replayable());
    /// ```
    pub fn is_replayable(&self) -> bool {
        !matches!(self.source, Source::Reader { .. } | Source::Stream(_))
    }

    /// True when the data can still be sent (a reader or a stream not yet
    /// taken).
    pub(crate) fn can_send(&self) -> bool {
        match &self.source {
            Source::Reader { reader, .. } => reader
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some(),
            Source::Stream(stream) => stream
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some(),
            _ => true,
        }
    }

    /// The bytes, when the data is in memory.
    pub(crate) fn as_bytes(&self) -> Option<&Bytes> {
        match &self.source {
            Source::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// A request body for one attempt.
    pub(crate) async fn open(&self, progress: Option<&Progress>) -> Result<reqwest::Body> {
        let total = self.len();
        match &self.source {
            Source::Bytes(bytes) => match progress {
                None => Ok(reqwest::Body::from(bytes.clone())),
                Some(progress) => {
                    let chunks: Vec<Bytes> = (0..bytes.len())
                        .step_by(CHUNK)
                        .map(|start| bytes.slice(start..(start + CHUNK).min(bytes.len())))
                        .collect();
                    let stream = futures_util::stream::iter(
                        chunks.into_iter().map(Ok::<Bytes, std::io::Error>),
                    );
                    Ok(into_body(stream, total, Some(progress)))
                }
            },
            Source::Path { path, len } => {
                let file = tokio::fs::File::open(path).await.map_err(|e| {
                    Error::invalid_input("file", format!("cannot open {} ({e})", path.display()))
                })?;
                let now = file.metadata().await.map(|m| m.len()).unwrap_or(*len);
                if now != *len {
                    return Err(Error::invalid_input(
                        "file",
                        format!(
                            "{} changed size since it was given ({len} bytes, now {now})",
                            path.display()
                        ),
                    ));
                }
                Ok(into_body(
                    file_stream(file.into_std().await, *len),
                    total,
                    progress,
                ))
            }
            Source::Reader { reader, len } => {
                let taken = reader.lock().unwrap_or_else(PoisonError::into_inner).take();
                match taken {
                    Some(reader) => Ok(into_body(reader_stream(reader, *len), total, progress)),
                    None => Err(Error::invalid_input(
                        "file",
                        "the reader was already read: a reader can be sent once",
                    )),
                }
            }
            Source::Stream(stream) => {
                let taken = stream.lock().unwrap_or_else(PoisonError::into_inner).take();
                match taken {
                    Some(stream) => Ok(into_body(stream, None, progress)),
                    None => Err(Error::invalid_input(
                        "file",
                        "the stream was already read: a stream can be sent once",
                    )),
                }
            }
        }
    }
}

/// Data that was not the length it was given with. The body fails before
/// its last byte goes out, so the server never gets a complete request; the
/// push fails with [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
/// naming `file`, with this as the reason.
#[derive(Debug)]
pub(crate) struct LengthMismatch {
    declared: u64,
    /// `Some(missing bytes)` for data that ended early, `None` for data
    /// longer than declared.
    short_by: Option<u64>,
}

impl fmt::Display for LengthMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.short_by {
            Some(missing) => write!(
                f,
                "the data ended {missing} bytes short of its declared length of {} bytes",
                self.declared
            ),
            None => write!(
                f,
                "the data is longer than its declared length of {} bytes",
                self.declared
            ),
        }
    }
}

impl std::error::Error for LengthMismatch {}

impl LengthMismatch {
    fn short(declared: u64, missing: u64) -> std::io::Error {
        std::io::Error::other(Self {
            declared,
            short_by: Some(missing),
        })
    }

    fn long(declared: u64) -> std::io::Error {
        std::io::Error::other(Self {
            declared,
            short_by: None,
        })
    }
}

type ChunkStream = futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>;

/// A stream of chunks as a request body, counted for `progress` when set;
/// `len` is the body's length when known.
fn into_body(
    stream: impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    len: Option<u64>,
    progress: Option<&Progress>,
) -> reqwest::Body {
    match progress {
        None => reqwest::Body::wrap_stream(stream),
        Some(p) => reqwest::Body::wrap_stream(Counted::new(Box::pin(stream), len, p.clone())),
    }
}

/// A reader as exactly `len` bytes, read a chunk at a time. The last chunk
/// comes only once the reader has ended: data shorter or longer than `len`
/// fails the stream before it is complete.
fn reader_stream(reader: BoxReader, len: u64) -> ChunkStream {
    futures_util::stream::try_unfold(Some((reader, len)), move |state| async move {
        let Some((mut reader, remaining)) = state else {
            return Ok(None);
        };
        let mut buf = BytesMut::zeroed(remaining.min(CHUNK as u64) as usize);
        let n = if buf.is_empty() {
            0
        } else {
            reader.read(&mut buf).await?
        };
        if n == 0 && remaining > 0 {
            return Err(LengthMismatch::short(len, remaining));
        }
        buf.truncate(n);
        let remaining = remaining - n as u64;
        if remaining > 0 {
            return Ok(Some((buf.freeze(), Some((reader, remaining)))));
        }
        // The declared length is reached: the reader must end here.
        if reader.read(&mut [0u8; 1]).await? > 0 {
            return Err(LengthMismatch::long(len));
        }
        Ok((n > 0).then(|| (buf.freeze(), None)))
    })
    .boxed()
}

/// How many chunks a file reader may run ahead of the socket.
const READ_AHEAD: usize = 4;

/// A file as exactly `len` bytes. One blocking thread reads the whole file,
/// a chunk at a time, at most [`READ_AHEAD`] chunks ahead of the socket:
/// memory stays at a few copy buffers, and the file costs one thread
/// hand-off in all rather than one per chunk. Like [`reader_stream`], the
/// last chunk comes only once the file has ended.
fn file_stream(mut file: std::fs::File, len: u64) -> ChunkStream {
    use std::io::Read;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut remaining = len;
        while remaining > 0 {
            let want = remaining.min(CHUNK as u64) as usize;
            let mut buf = BytesMut::zeroed(want);
            let chunk = match file.read(&mut buf) {
                Ok(0) => Err(LengthMismatch::short(len, remaining)),
                Ok(n) => {
                    buf.truncate(n);
                    remaining -= n as u64;
                    // The last chunk goes out only if the file ends there.
                    match remaining {
                        0 => match read_retrying(&mut file, &mut [0u8; 1]) {
                            Ok(0) => Ok(buf.freeze()),
                            Ok(_) => Err(LengthMismatch::long(len)),
                            Err(e) => Err(e),
                        },
                        _ => Ok(buf.freeze()),
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let failed = chunk.is_err();
            // The receiver is gone when the request was dropped: stop reading.
            if tx.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    })
    .boxed()
}

/// `read`, again after an interruption.
fn read_retrying(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A body stream that reports its progress: `(sent, total)` after each
/// chunk and, for a body of unknown length, `(sent, Some(sent))` once the
/// stream has ended (the end of the body is being handed over).
struct Counted<S> {
    inner: S,
    total: Option<u64>,
    sent: u64,
    ended: bool,
    progress: Progress,
}

impl<S> Counted<S> {
    fn new(inner: S, total: Option<u64>, progress: Progress) -> Self {
        Self {
            inner,
            total,
            sent: 0,
            ended: false,
            progress,
        }
    }
}

impl<S> Stream for Counted<S>
where
    S: Stream<Item = std::io::Result<Bytes>> + Unpin,
{
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let item = std::task::ready!(this.inner.poll_next_unpin(cx));
        match &item {
            Some(Ok(bytes)) => {
                this.sent += bytes.len() as u64;
                (this.progress)(this.sent, this.total);
            }
            Some(Err(_)) => {}
            None if !this.ended => {
                this.ended = true;
                if this.total.is_none() {
                    (this.progress)(this.sent, Some(this.sent));
                }
            }
            None => {}
        }
        Poll::Ready(item)
    }
}

impl fmt::Debug for FileData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("FileData");
        match &self.source {
            Source::Bytes(b) => d.field("source", &"bytes").field("len", &b.len()),
            Source::Path { path, len } => d.field("path", path).field("len", len),
            Source::Reader { len, .. } => d.field("source", &"reader").field("len", len),
            Source::Stream(_) => d.field("source", &"stream").field("len", &"unknown"),
        };
        d.finish()
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

#[cfg(test)]
mod tests;
