//! The data of a library push: bytes in memory, a file streamed from disk,
//! any reader of known length, or a stream of chunks of unknown length.

use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::io::ReaderStream;

use crate::error::{Error, Result};

/// How many bytes one chunk of a streamed body holds: the copy buffer.
const CHUNK: usize = 64 * 1024;

type BoxReader = Box<dyn AsyncRead + Send + Unpin + 'static>;

/// A stream of body chunks, as [`FileData::from_stream`] keeps it.
type BoxChunks = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + 'static>>;

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
    Stream(Mutex<Option<BoxChunks>>),
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
    /// println!("{} bytes", data.len());
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

    /// Any reader that yields exactly `len` bytes. It is read once.
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
    /// Upload progress ([`LibraryPush::on_progress`](super::LibraryPush::on_progress))
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
            source: Source::Stream(Mutex::new(Some(Box::pin(chunks)))),
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
            Source::Reader { reader, .. } => reader.lock().map(|r| r.is_some()).unwrap_or(false),
            Source::Stream(stream) => stream.lock().map(|s| s.is_some()).unwrap_or(false),
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
        let total = self.len().unwrap_or(0);
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
                    Ok(reqwest::Body::wrap_stream(counted(
                        stream,
                        total,
                        progress.clone(),
                    )))
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
                Ok(file_body(file.into_std().await, total, progress))
            }
            Source::Reader { reader, .. } => {
                let taken = reader.lock().ok().and_then(|mut r| r.take());
                match taken {
                    Some(reader) => Ok(stream_body(reader, total, progress)),
                    None => Err(Error::invalid_input(
                        "file",
                        "the reader was already read: a reader can be sent once",
                    )),
                }
            }
            Source::Stream(stream) => {
                let taken = stream.lock().ok().and_then(|mut s| s.take());
                match (taken, progress) {
                    (Some(stream), None) => Ok(reqwest::Body::wrap_stream(stream)),
                    (Some(stream), Some(p)) => Ok(reqwest::Body::wrap_stream(Counted::new(
                        stream,
                        None,
                        p.clone(),
                    ))),
                    (None, _) => Err(Error::invalid_input(
                        "file",
                        "the stream was already read: a stream can be sent once",
                    )),
                }
            }
        }
    }
}

/// A reader as a body of exactly `len` bytes, read through one copy buffer.
fn stream_body(reader: BoxReader, len: u64, progress: Option<&Progress>) -> reqwest::Body {
    let limited = ExactLength {
        inner: reader.take(len),
        remaining: len,
    };
    let stream = ReaderStream::with_capacity(limited, CHUNK);
    match progress {
        None => reqwest::Body::wrap_stream(stream),
        Some(p) => reqwest::Body::wrap_stream(counted(stream, len, p.clone())),
    }
}

/// How many chunks a file reader may run ahead of the socket.
const READ_AHEAD: usize = 4;

/// A file as a body of exactly `len` bytes. One blocking thread reads the
/// whole file, a chunk at a time, at most [`READ_AHEAD`] chunks ahead of the
/// socket: memory stays at a few copy buffers, and the file costs one thread
/// hand-off in all rather than one per chunk.
fn file_body(mut file: std::fs::File, len: u64, progress: Option<&Progress>) -> reqwest::Body {
    use std::io::Read;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut remaining = len;
        while remaining > 0 {
            let want = remaining.min(CHUNK as u64) as usize;
            let mut buf = bytes::BytesMut::zeroed(want);
            let chunk = match file.read(&mut buf) {
                Ok(0) => Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the file ended {remaining} bytes short of its length"),
                )),
                Ok(n) => {
                    buf.truncate(n);
                    remaining -= n as u64;
                    Ok(buf.freeze())
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
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    match progress {
        None => reqwest::Body::wrap_stream(stream),
        Some(p) => reqwest::Body::wrap_stream(counted(stream, len, p.clone())),
    }
}

fn counted<S>(stream: S, total: u64, progress: Progress) -> Counted<Pin<Box<S>>> {
    Counted::new(Box::pin(stream), Some(total), progress)
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

/// Fails the body if the reader ends before its declared length: a short
/// body must never look like a complete upload.
struct ExactLength<R> {
    inner: R,
    remaining: u64,
}

impl<R: AsyncRead + Unpin> AsyncRead for ExactLength<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &poll {
            let read = (buf.filled().len() - before) as u64;
            if read == 0 && self.remaining > 0 {
                return std::task::Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "the data ended {} bytes short of its length",
                        self.remaining
                    ),
                )));
            }
            self.remaining -= read.min(self.remaining);
        }
        poll
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
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_short_reader_fails_instead_of_sending_less() {
        let mut r = ExactLength {
            inner: std::io::Cursor::new(vec![1u8; 5]).take(10),
            remaining: 10,
        };
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn a_stream_is_taken_once() {
        let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(&b"ab"[..])]);
        let data = FileData::from_stream(chunks);
        assert!(!data.is_replayable());
        assert!(data.can_send());
        data.open(None).await.unwrap();
        assert!(!data.can_send());
        assert_eq!(data.open(None).await.unwrap_err().field(), Some("file"));
    }

    #[tokio::test]
    async fn progress_of_an_unknown_length_gives_the_total_at_the_end() {
        let chunks = futures_util::stream::iter(
            [&b"ab"[..], b"c"].map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))),
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let progress: Progress = Arc::new(move |sent, total| s.lock().unwrap().push((sent, total)));
        let out: Vec<_> = Counted::new(chunks, None, progress).collect().await;
        assert_eq!(out.len(), 2);
        assert_eq!(
            *seen.lock().unwrap(),
            vec![(2, None), (3, None), (3, Some(3))],
            "no total while it goes, the total once the stream ended"
        );
    }

    #[tokio::test]
    async fn progress_of_a_known_length_gives_the_total_throughout() {
        let chunks = futures_util::stream::iter(
            [&b"ab"[..], b"c"].map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))),
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let progress: Progress = Arc::new(move |sent, total| s.lock().unwrap().push((sent, total)));
        let _: Vec<_> = counted(chunks, 3, progress).collect().await;
        assert_eq!(*seen.lock().unwrap(), vec![(2, Some(3)), (3, Some(3))]);
    }

    #[tokio::test]
    async fn a_reader_is_taken_once() {
        let data = FileData::from_reader(std::io::Cursor::new(vec![0u8; 3]), 3);
        assert!(data.can_send());
        data.open(None).await.unwrap();
        assert!(!data.can_send());
        assert_eq!(data.open(None).await.unwrap_err().field(), Some("file"));
    }
}
