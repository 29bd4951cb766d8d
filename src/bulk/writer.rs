//! The journal's writer: a thread that appends the records handed over and
//! flushes them to disk, many at a time (a group commit), and tells the
//! waiting tasks which records are on disk.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use tokio::sync::watch;

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
    file: Mutex<File>,
    path: PathBuf,
    durable: watch::Sender<Durable>,
}

/// Records handed over and not yet written.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// The number of the last record handed over.
    seq: u64,
    closed: bool,
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
    /// Starts the thread that writes to `file` (opened for appending).
    pub fn start(file: File, path: PathBuf) -> io::Result<Self> {
        let (tx, rx) = watch::channel(Durable::default());
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            ready: Condvar::new(),
            file: Mutex::new(file),
            path,
            durable: tx,
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

    /// Hands a line over; returns its number.
    pub fn hand_over(&self, line: &[u8]) -> u64 {
        let mut pending = lock(&self.shared.pending);
        pending.buf.extend_from_slice(line);
        pending.seq += 1;
        self.shared.ready.notify_one();
        pending.seq
    }

    /// The number of the last line handed over.
    pub fn last(&self) -> u64 {
        lock(&self.shared.pending).seq
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

    /// Holds the file: nothing is written until the guard is dropped.
    pub fn pause(&self) -> MutexGuard<'_, File> {
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
    /// The thread: takes everything handed over, writes it with one write
    /// and one `fsync`, publishes how far the disk is, and again.
    fn run(&self) {
        loop {
            let (buf, upto) = {
                let mut pending = lock(&self.pending);
                while pending.buf.is_empty() && !pending.closed {
                    pending = self
                        .ready
                        .wait(pending)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if pending.buf.is_empty() {
                    return;
                }
                (std::mem::take(&mut pending.buf), pending.seq)
            };
            let written = {
                let mut file = lock(&self.file);
                file.write_all(&buf).and_then(|()| file.sync_data())
            };
            match written {
                Ok(()) => self.durable.send_modify(|d| d.seq = upto),
                Err(e) => {
                    let message = format!("cannot write the journal {}: {e}", self.path.display());
                    self.durable.send_modify(|d| d.broken = Some(message));
                    return;
                }
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
