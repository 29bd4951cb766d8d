//! The journal's writer: a thread that appends the records handed over and
//! flushes them to disk, many at a time (a group commit), and tells the
//! waiting tasks which records are on disk.
//!
//! A record a push waits for (a `begun`) is flushed at once; the others
//! (outcomes, skips) are flushed with it, or at most [`SOON`] after they
//! were handed over when no such record comes: in a busy run about one
//! flush per file, instead of two.
//!
//! The file grows ahead of the records, [`RESERVE`] at a time, filled with
//! newlines (blank lines, which readers skip), and records overwrite that
//! space: a flush then writes data only, where a flush of an appended line
//! also commits the file's new size to the filesystem's journal. Closing
//! cuts the file back to its records; after a crash it ends in blank lines.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::sync::lock;

/// How long a record nothing waits for urgently may wait for the next
/// flush: its outcome reaches the disk this much later at worst, while the
/// pushes it shares the flush with go on.
pub(crate) const SOON: Duration = Duration::from_millis(10);

/// How far the file grows ahead of its records, each time it grows.
const RESERVE: u64 = 1 << 20;

/// When a record must reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// At once: a push waits for it before its first byte is sent.
    Now,
    /// With the next flush, or [`SOON`] after it was handed over.
    Soon,
}

/// Hands records to the writer thread and waits for them to be on disk.
pub(crate) struct Writer {
    shared: Arc<Shared>,
    durable: watch::Receiver<Durable>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    pending: Mutex<Pending>,
    /// Signalled when records are handed over, or on close.
    ready: Condvar,
    file: Mutex<Tail>,
    path: PathBuf,
    durable: watch::Sender<Durable>,
    /// How long a record due [`Due::Soon`] may wait ([`SOON`]).
    soon: Duration,
    /// How many flushes were made (for the tests).
    flushes: AtomicU64,
}

/// Records handed over and not yet written.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// The number of the last record handed over.
    seq: u64,
    /// When the oldest record of `buf` was handed over.
    since: Option<Instant>,
    /// A record of `buf` is due now, or a caller waits for all of them.
    urgent: bool,
    closed: bool,
}

impl Pending {
    /// Whether the thread should write `buf` now, or how long it may wait.
    fn due(&self, now: Instant, soon: Duration) -> Result<(), Option<Duration>> {
        match self.since {
            _ if self.closed => Ok(()),
            None => Err(None),
            Some(_) if self.urgent => Ok(()),
            Some(since) => match soon.checked_sub(now.duration_since(since)) {
                Some(left) if !left.is_zero() => Err(Some(left)),
                _ => Ok(()),
            },
        }
    }
}

/// What is on disk.
#[derive(Debug, Clone, Default)]
struct Durable {
    /// The number of the last record on disk.
    seq: u64,
    /// The error that broke the journal: nothing is written after it.
    broken: Option<String>,
}

impl Writer {
    /// Starts the thread that writes to `file` from offset `end` (what
    /// is after it, if anything, is blank lines).
    pub fn start(file: File, end: u64, path: PathBuf) -> io::Result<Self> {
        Self::with_window(file, end, path, SOON)
    }

    /// Starts the thread, with `soon` in place of [`SOON`].
    fn with_window(file: File, end: u64, path: PathBuf, soon: Duration) -> io::Result<Self> {
        let size = file.metadata()?.len();
        let (tx, rx) = watch::channel(Durable::default());
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            ready: Condvar::new(),
            file: Mutex::new(Tail { file, end, size }),
            path,
            durable: tx,
            soon,
            flushes: AtomicU64::new(0),
        });
        let thread = std::thread::Builder::new()
            .name("digime-journal".to_owned())
            .spawn({
                let shared = shared.clone();
                move || shared.run()
            })?;
        Ok(Self {
            shared,
            durable: rx,
            thread: Some(thread),
        })
    }

    /// Hands a line over, to be on disk when `due`; returns its number.
    pub fn hand_over(&self, line: &[u8], due: Due) -> u64 {
        let mut pending = lock(&self.shared.pending);
        pending.buf.extend_from_slice(line);
        pending.seq += 1;
        pending.since.get_or_insert_with(Instant::now);
        if due == Due::Now {
            pending.urgent = true;
        }
        self.shared.ready.notify_one();
        pending.seq
    }

    /// Asks for everything handed over to be written now; returns the
    /// number of the last line.
    pub fn urge(&self) -> u64 {
        let mut pending = lock(&self.shared.pending);
        if pending.since.is_some() {
            pending.urgent = true;
            self.shared.ready.notify_one();
        }
        pending.seq
    }

    /// Waits until line `seq` is on disk.
    pub async fn wait(&self, seq: u64) -> io::Result<()> {
        let mut durable = self.durable.clone();
        loop {
            {
                let now = durable.borrow_and_update();
                if now.seq >= seq {
                    return Ok(());
                }
                if let Some(broken) = &now.broken {
                    return Err(io::Error::other(broken.clone()));
                }
            }
            if durable.changed().await.is_err() {
                return Err(io::Error::other("the journal's writer stopped"));
            }
        }
    }

    /// How many flushes were made so far.
    #[cfg(test)]
    pub fn flushes(&self) -> u64 {
        self.shared.flushes.load(Ordering::Relaxed)
    }

    /// Holds the file: nothing is written until the guard is dropped.
    pub fn pause(&self) -> MutexGuard<'_, Tail> {
        lock(&self.shared.file)
    }
}

impl Drop for Writer {
    /// Writes what is still pending, then stops the thread.
    fn drop(&mut self) {
        lock(&self.shared.pending).closed = true;
        self.shared.ready.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(broken) = &self.durable.borrow().broken {
            tracing::warn!(error = %broken, "journal records not written at close");
        }
    }
}

impl Shared {
    /// The thread: waits until a record is due, takes everything handed
    /// over, writes it with one write and one `fsync`, publishes how far the
    /// disk is, and again.
    fn run(&self) {
        while let Some((buf, upto)) = self.next_batch() {
            let written = lock(&self.file).write(&buf);
            self.flushes.fetch_add(1, Ordering::Relaxed);
            match written {
                Ok(()) => self.durable.send_modify(|d| d.seq = upto),
                Err(e) => return self.broke(&e),
            }
        }
        if let Err(e) = lock(&self.file).trim() {
            tracing::warn!(journal = %self.path.display(), error = %e, "the journal's reserved space was not given back");
        }
    }

    /// Marks the journal broken: nothing is written after `e`.
    fn broke(&self, e: &io::Error) {
        let message = format!("cannot write the journal {}: {e}", self.path.display());
        self.durable.send_modify(|d| d.broken = Some(message));
    }

    /// Waits until a record is due, and takes every record handed over, with
    /// the number of the last; `None` once the journal is closed.
    fn next_batch(&self) -> Option<(Vec<u8>, u64)> {
        let mut pending = lock(&self.pending);
        while let Err(wait) = pending.due(Instant::now(), self.soon) {
            pending = match wait {
                None => self
                    .ready
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(left) => {
                    let waited = self.ready.wait_timeout(pending, left);
                    waited.unwrap_or_else(PoisonError::into_inner).0
                }
            };
        }
        if pending.buf.is_empty() {
            return None;
        }
        pending.since = None;
        pending.urgent = false;
        Some((std::mem::take(&mut pending.buf), pending.seq))
    }
}

/// The journal's file, where its records end, and its size (blank lines
/// after the records, reserved for the next ones).
pub(crate) struct Tail {
    file: File,
    end: u64,
    size: u64,
}

impl Tail {
    /// Writes `buf` after the records and flushes it to disk (data only:
    /// the size changes once per [`RESERVE`]).
    fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        let len = buf.len() as u64;
        self.file.seek(SeekFrom::Start(self.end))?;
        if self.end + len <= self.size {
            self.file.write_all(buf)?;
        } else {
            let blank = vec![b'\n'; usize::try_from(RESERVE).unwrap_or(0)];
            self.file.write_all(&[buf, &blank].concat())?;
            self.size = self.end + len + RESERVE;
        }
        self.file.sync_data()?;
        self.end += len;
        Ok(())
    }

    /// Gives the reserved space back: the file ends with its last record.
    fn trim(&mut self) -> io::Result<()> {
        if self.size > self.end {
            self.file.set_len(self.end)?;
            self.file.sync_data()?;
            self.size = self.end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window no test waits out.
    const NEVER: Duration = Duration::from_secs(3600);

    fn writer(dir: &tempfile::TempDir, soon: Duration) -> Writer {
        let path = dir.path().join("j");
        Writer::with_window(File::create(&path).unwrap(), 0, path, soon).unwrap()
    }

    /// Waits for `seq`, failing the test after 10 s (where `NEVER` would hang).
    async fn on_disk(writer: &Writer, seq: u64) {
        tokio::time::timeout(Duration::from_secs(10), writer.wait(seq))
            .await
            .expect("the record never reached the disk")
            .unwrap();
    }

    #[test]
    fn a_record_is_due_now_when_urgent_else_soon() {
        let start = Instant::now();
        let mut pending = Pending::default();
        assert_eq!(pending.due(start, SOON), Err(None), "nothing to write");
        pending.since = Some(start);
        assert_eq!(pending.due(start, SOON), Err(Some(SOON)));
        assert_eq!(pending.due(start + SOON / 2, SOON), Err(Some(SOON / 2)));
        assert_eq!(pending.due(start + SOON, SOON), Ok(()));
        pending.urgent = true;
        assert_eq!(pending.due(start, SOON), Ok(()));
        let closed = Pending {
            closed: true,
            ..Pending::default()
        };
        assert_eq!(closed.due(start, SOON), Ok(()), "the thread ends");
    }

    #[tokio::test]
    async fn records_due_soon_ride_with_the_next_flush() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir, NEVER);
        let soon = writer.hand_over(b"outcome\n", Due::Soon);
        let now = writer.hand_over(b"begun\n", Due::Now);
        on_disk(&writer, now).await;
        on_disk(&writer, soon).await;
        assert_eq!(writer.flushes(), 1, "one flush for both");
        let file = std::fs::read(dir.path().join("j")).unwrap();
        let (records, reserved) = file.split_at(b"outcome\nbegun\n".len());
        assert_eq!(records, b"outcome\nbegun\n");
        assert_eq!(reserved.len() as u64, RESERVE, "space reserved ahead");
        assert!(reserved.iter().all(|&b| b == b'\n'), "blank lines");
        drop(writer);
        let closed = std::fs::read(dir.path().join("j")).unwrap();
        assert_eq!(closed, b"outcome\nbegun\n", "closing gives the space back");
    }

    #[tokio::test]
    async fn records_overwrite_the_reserved_space_and_grow_it_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir, NEVER);
        let line = [&[b'x'; 65535][..], b"\n"].concat();
        // The first write reserves RESERVE after itself; the one that no
        // longer fits reserves RESERVE after itself again.
        let n = RESERVE / 65536 + 2;
        for _ in 0..n {
            on_disk(&writer, writer.hand_over(&line, Due::Now)).await;
        }
        let size = std::fs::metadata(dir.path().join("j")).unwrap().len();
        assert_eq!(size, n * 65536 + RESERVE);
        drop(writer);
        let file = std::fs::read(dir.path().join("j")).unwrap();
        assert!(
            file == line.repeat(usize::try_from(n).unwrap()),
            "the records, in order, alone"
        );
    }

    #[tokio::test]
    async fn a_record_due_soon_reaches_the_disk_alone_after_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let window = Duration::from_millis(50);
        let writer = writer(&dir, window);
        let started = Instant::now();
        let soon = writer.hand_over(b"outcome\n", Due::Soon);
        on_disk(&writer, soon).await;
        assert!(started.elapsed() >= window, "written early");
        assert_eq!(writer.flushes(), 1);
    }

    #[tokio::test]
    async fn urge_writes_what_is_due_soon_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir, NEVER);
        writer.hand_over(b"skipped\n", Due::Soon);
        on_disk(&writer, writer.urge()).await;
        assert_eq!(writer.flushes(), 1);
    }

    #[tokio::test]
    async fn closing_writes_what_is_due_soon() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir, NEVER);
        writer.hand_over(b"failed\n", Due::Soon);
        drop(writer);
        assert_eq!(std::fs::read(dir.path().join("j")).unwrap(), b"failed\n");
    }
}
