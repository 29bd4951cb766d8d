//! The journal: an append-only file of each file's outcome, written and
//! on disk as each outcome is known, that makes a bulk run safe to run again.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::identity::FileIdentity;
use super::record::{self, Event, Index};
use super::status::Status;
use super::writer::{Due, Tail, Writer};
use crate::sync::lock;

/// Lines longer than this are not records: they are skipped unread.
const MAX_LINE: u64 = 64 * 1024;
/// How many ignored lines a [`Recovery`] lists (it counts them all).
const LISTED: usize = 10;

/// An append-only record of a bulk run's files, one JSON line per event,
/// that makes the run safe to run again.
///
/// For each file: [`claim`](Self::claim) it before pushing. A file that
/// needs a push gets a `begun` record, written **and on disk** before
/// `claim` returns; after the push, [`finish`](Self::finish) writes its
/// outcome, on disk before it returns. So a crash at any moment leaves
/// each file with no record (never sent), a `begun` without outcome
/// (uncertain: it may have been stored), or its outcome. A rerun with the
/// same journal skips what was stored, does not resend what may have been
/// (unless asked to), and retries what certainly was not.
///
/// Records written at the same time share one `fsync` (a group commit). A
/// `begun` record is flushed at once; an outcome rides with the next flush,
/// at most 10 ms later (`finish` returns once it is on disk). So concurrent
/// pushes pay for about one disk flush per batch of files, not two per file.
/// The file is locked while the journal is open: a second run on the same
/// journal is refused instead of pushing the same files.
///
/// Opening reads what the file holds and ignores what cannot be read (a
/// line cut short by a crash, a garbled one): [`recovery`](Self::recovery)
/// says what was ignored. Memory is 17 bytes and some map overhead per file
/// the journal knows, never the paths.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// use digime::bulk::{Claim, FileIdentity, Journal, Status};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("run.jsonl");
/// let journal = Journal::open(&path)?;
/// let id = FileIdentity::of_bytes("a.pdf", b"%PDF-1.7");
/// assert_eq!(journal.claim(&id, false).await?, Claim::Push { previous: None });
/// // ... push it ...
/// journal.finish(&id, Status::Stored, None).await?;
/// drop(journal);
///
/// // A rerun with the same journal skips it.
/// let journal = Journal::open(&path)?;
/// assert_eq!(journal.previous(&id), Some(Status::Stored));
/// assert_eq!(journal.claim(&id, true).await?, Claim::Stored);
/// # Ok(()) }
/// ```
pub struct Journal {
    path: PathBuf,
    /// What the records say of each file.
    index: Mutex<Index>,
    writer: Writer,
    recovery: Recovery,
}

/// What to do with a file, by what the journal knows of it.
///
/// ```
/// use digime::bulk::{Claim, Status};
/// let claim = Claim::Push { previous: Some(Status::Failed) };
/// assert!(claim.is_push());
/// assert!(!Claim::Stored.is_push());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Push it: its `begun` record is on disk. `previous` is what earlier
    /// runs recorded: `None`, [`Status::Failed`], or
    /// [`Status::Uncertain`] when resending was asked for.
    Push {
        /// What the journal had for the file before this claim.
        previous: Option<Status>,
    },
    /// An earlier run stored it: do not push.
    Stored,
    /// An earlier attempt may have stored it, and resending was not asked
    /// for: do not push.
    Uncertain,
    /// This run already claimed the same file (named twice): do not push.
    Duplicate,
}

impl Claim {
    /// True for [`Claim::Push`].
    ///
    /// ```
    /// assert!(digime::bulk::Claim::Push { previous: None }.is_push());
    /// ```
    pub fn is_push(self) -> bool {
        matches!(self, Claim::Push { .. })
    }
}

impl Journal {
    /// Opens the journal at `path`, creating the file if it is missing (its
    /// folder must exist), reads what it holds, and locks it for this run.
    ///
    /// Errors: the file cannot be read, written or created, or another
    /// process has it open (`WouldBlock`); each message names the file.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let dir = tempfile::tempdir()?;
    /// let journal = digime::bulk::Journal::open(dir.path().join("j.jsonl"))?;
    /// assert_eq!(journal.recovery().records(), 0);
    /// # Ok(()) }
    /// ```
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let named = |e: io::Error, what: &str| {
            io::Error::new(
                e.kind(),
                format!("cannot {what} the journal {}: {e}", path.display()),
            )
        };
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| named(e, "open"))?;
        file.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "the journal {} is in use by another run (one run per journal at a time)",
                    path.display()
                ),
            ),
            std::fs::TryLockError::Error(e) => named(e, "lock"),
        })?;
        let mut index = Index::default();
        let (recovery, end) = read_records(&mut file, &mut index).map_err(|e| named(e, "read"))?;
        let end = start_of_next_record(&mut file, end).map_err(|e| named(e, "write"))?;
        if !existed {
            sync_parent(&path);
        }
        tracing::debug!(journal = %path.display(), records = recovery.records, ignored = recovery.ignored_total, "journal opened");
        let writer = Writer::start(file, end, path.clone()).map_err(|e| named(e, "start"))?;
        Ok(Self {
            path,
            index: Mutex::new(index),
            writer,
            recovery,
        })
    }

    /// The journal's file.
    ///
    /// ```no_run
    /// # fn f(j: &digime::bulk::Journal) { println!("journal: {}", j.path().display()); }
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What opening the journal read, and what it ignored.
    ///
    /// ```no_run
    /// # fn f(j: &digime::bulk::Journal) {
    /// if j.recovery().ignored() > 0 { eprintln!("{}", j.recovery()); }
    /// # }
    /// ```
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// What the journal's records say of `id`: [`Status::Stored`] if any
    /// attempt stored it; else [`Status::Uncertain`] if any attempt may
    /// have (including a `begun` with no outcome: the process stopped
    /// mid-push); else [`Status::Failed`]; `None` without a record.
    ///
    /// ```no_run
    /// # fn f(j: &digime::bulk::Journal, id: &digime::bulk::FileIdentity) {
    /// if j.previous(id) == Some(digime::bulk::Status::Uncertain) { /* check with the user */ }
    /// # }
    /// ```
    pub fn previous(&self, id: &FileIdentity) -> Option<Status> {
        lock(&self.index).status(id.key())
    }

    /// Decides whether to push `id`, and when it should, writes its `begun`
    /// record and waits until it is on disk. A file already stored is
    /// never pushed; one that may have been is pushed only when
    /// `resend_uncertain` is true (that may store it twice); a failed one
    /// is pushed again. A skipped file gets a `skipped` record (not waited
    /// for).
    ///
    /// Errors: the record could not be written (the journal is then broken:
    /// every later write fails too, and nothing more should be pushed).
    ///
    /// ```no_run
    /// # async fn f(j: &digime::bulk::Journal, id: &digime::bulk::FileIdentity) -> std::io::Result<()> {
    /// if j.claim(id, false).await?.is_push() { /* push, then j.finish(..) */ }
    /// # Ok(()) }
    /// ```
    pub async fn claim(&self, id: &FileIdentity, resend_uncertain: bool) -> io::Result<Claim> {
        let key = id.key();
        let (claim, seq) = {
            let mut index = lock(&self.index);
            let previous = index.status(key);
            let claim = match previous {
                _ if index.claimed_in_this_run(key) => Claim::Duplicate,
                Some(Status::Stored) => Claim::Stored,
                Some(Status::Uncertain) if !resend_uncertain => Claim::Uncertain,
                _ => Claim::Push { previous },
            };
            index.mark_this_run(key);
            let event = if claim.is_push() {
                index.apply(key, Event::Begun);
                Event::Begun
            } else {
                Event::Outcome(Status::Skipped)
            };
            let due = if claim.is_push() { Due::Now } else { Due::Soon };
            (
                claim,
                self.writer.hand_over(&record::encode(id, event, None), due),
            )
        };
        if claim.is_push() {
            self.commit(seq).await?;
        }
        Ok(claim)
    }

    /// Records the outcome of a claimed push and waits until it is on disk:
    /// [`Status::Stored`], [`Status::Uncertain`] or [`Status::Failed`],
    /// with the error's message for the last two. (A [`Status::Skipped`]
    /// outcome is recorded as such and changes nothing.)
    ///
    /// ```no_run
    /// # async fn f(j: &digime::bulk::Journal, id: &digime::bulk::FileIdentity, r: digime::Result<digime::PushOutcome>) -> std::io::Result<()> {
    /// let status = digime::bulk::Status::of_push(&r);
    /// let error = r.as_ref().err().map(ToString::to_string);
    /// j.finish(id, status, error.as_deref()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn finish(
        &self,
        id: &FileIdentity,
        status: Status,
        error: Option<&str>,
    ) -> io::Result<()> {
        let seq = {
            let mut index = lock(&self.index);
            index.apply(id.key(), Event::Outcome(status));
            self.writer.hand_over(
                &record::encode(id, Event::Outcome(status), error),
                Due::Soon,
            )
        };
        self.commit(seq).await
    }

    /// Writes every record handed over so far and waits until it is on
    /// disk (the `skipped` records, which nothing waits for).
    ///
    /// ```no_run
    /// # async fn f(j: digime::bulk::Journal) -> std::io::Result<()> {
    /// j.flush().await?;
    /// # Ok(()) }
    /// ```
    pub async fn flush(&self) -> io::Result<()> {
        self.writer.wait(self.writer.urge()).await
    }

    /// Stops every write until the guard is dropped, waiting for a write
    /// under way to end. Hold it while the process exits at once (a second
    /// Ctrl-C): no line is then cut in the middle. Records not yet written
    /// are lost, which is safe: a push starts only once its `begun` record
    /// is on disk, so a lost outcome leaves the file uncertain.
    ///
    /// ```no_run
    /// # fn f(j: &digime::bulk::Journal) {
    /// let _paused = j.pause_writes();
    /// std::process::exit(130);
    /// # }
    /// ```
    pub fn pause_writes(&self) -> WritesPaused<'_> {
        WritesPaused {
            _file: self.writer.pause(),
        }
    }

    /// Waits until record `seq` is on disk.
    async fn commit(&self, seq: u64) -> io::Result<()> {
        self.writer.wait(seq).await
    }
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("files", &lock(&self.index).len())
            .field("recovery", &self.recovery)
            .finish()
    }
}

/// While it lives, the journal writes nothing: see
/// [`Journal::pause_writes`].
///
/// ```no_run
/// # fn f(j: &digime::bulk::Journal) { let paused: digime::bulk::WritesPaused<'_> = j.pause_writes(); drop(paused); }
/// ```
pub struct WritesPaused<'a> {
    _file: MutexGuard<'a, Tail>,
}

impl fmt::Debug for WritesPaused<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WritesPaused")
    }
}

/// What [`Journal::open`] read from the file, and what it ignored.
///
/// ```no_run
/// # fn f(j: &digime::bulk::Journal) {
/// let r = j.recovery();
/// println!("{} records; {} lines ignored", r.records(), r.ignored());
/// for line in r.ignored_lines() { println!("line {}: {}", line.line, line.reason); }
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Recovery {
    records: u64,
    ignored_total: u64,
    ignored: Vec<IgnoredLine>,
    cut_short: bool,
}

/// A line of the journal that could not be used.
///
/// ```no_run
/// # fn f(l: &digime::bulk::IgnoredLine) { println!("line {}: {}", l.line, l.reason); }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IgnoredLine {
    /// Its number, from 1.
    pub line: u64,
    /// Why it was ignored.
    pub reason: String,
}

impl Recovery {
    /// How many records were read.
    ///
    /// ```no_run
    /// # fn f(r: &digime::bulk::Recovery) { let _n: u64 = r.records(); }
    /// ```
    pub fn records(&self) -> u64 {
        self.records
    }

    /// How many lines were ignored.
    ///
    /// ```no_run
    /// # fn f(r: &digime::bulk::Recovery) { let _n: u64 = r.ignored(); }
    /// ```
    pub fn ignored(&self) -> u64 {
        self.ignored_total
    }

    /// The first ten of the ignored lines, with the reason for each.
    ///
    /// ```no_run
    /// # fn f(r: &digime::bulk::Recovery) { for l in r.ignored_lines() { let _ = l.line; } }
    /// ```
    pub fn ignored_lines(&self) -> &[IgnoredLine] {
        &self.ignored
    }

    /// True when the file's last line had no end: a write was cut short
    /// (the journal then starts its next record on a new line).
    ///
    /// ```no_run
    /// # fn f(r: &digime::bulk::Recovery) { let _cut: bool = r.cut_short(); }
    /// ```
    pub fn cut_short(&self) -> bool {
        self.cut_short
    }

    fn ignore(&mut self, line: u64, reason: String) {
        self.ignored_total += 1;
        if self.ignored.len() < LISTED {
            self.ignored.push(IgnoredLine { line, reason });
        }
    }
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} records read", self.records)?;
        if self.ignored_total == 0 {
            return Ok(());
        }
        write!(f, "; {} unreadable lines ignored (", self.ignored_total)?;
        for (i, l) in self.ignored.iter().enumerate() {
            let sep = if i == 0 { "" } else { "; " };
            write!(f, "{sep}line {}: {}", l.line, l.reason)?;
        }
        if self.ignored_total > self.ignored.len() as u64 {
            f.write_str("; …")?;
        }
        f.write_str(")")
    }
}

/// Reads every line of `file` into `index`, from the start; returns what
/// was read and the offset where the last line that is not blank ends
/// (before its newline).
fn read_records(file: &mut File, index: &mut Index) -> io::Result<(Recovery, u64)> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(&*file);
    let mut recovery = Recovery::default();
    let mut buf = Vec::new();
    let mut number = 0u64;
    let (mut offset, mut end) = (0u64, 0u64);
    loop {
        buf.clear();
        let read = (&mut reader).take(MAX_LINE).read_until(b'\n', &mut buf)?;
        if read == 0 {
            break;
        }
        let start = offset;
        offset += read as u64;
        number += 1;
        let ended = buf.last() == Some(&b'\n');
        if !ended && read as u64 == MAX_LINE {
            let (skipped, ended) = skip_rest_of_line(&mut reader)?;
            offset += skipped;
            end = offset - u64::from(ended);
            recovery.ignore(number, format!("longer than {} KiB", MAX_LINE / 1024));
            continue;
        }
        if !ended {
            recovery.cut_short = true;
        }
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        end = start + text.len() as u64;
        match record::decode(text) {
            Ok((id, event)) => {
                index.apply(id.key(), event);
                recovery.records += 1;
            }
            Err(_) if !ended => {
                recovery.ignore(number, "cut short (the write was interrupted)".to_owned())
            }
            Err(reason) => recovery.ignore(number, reason),
        }
    }
    Ok((recovery, end))
}

/// Skips to the next line; returns how many bytes it skipped, and whether
/// the line had its newline (else the file ended).
fn skip_rest_of_line(reader: &mut impl BufRead) -> io::Result<(u64, bool)> {
    let mut skipped = 0;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok((skipped, false));
        }
        if let Some(at) = buf.iter().position(|&b| b == b'\n') {
            reader.consume(at + 1);
            return Ok((skipped + at as u64 + 1, true));
        }
        let n = buf.len();
        reader.consume(n);
        skipped += n as u64;
    }
}

/// Where the next record goes, given where the last line that is not blank
/// ends: after that line's newline, which is written first when a crash cut
/// the line short. (What follows is blank lines, space reserved by the
/// writer, which the next records overwrite.)
fn start_of_next_record(file: &mut File, end: u64) -> io::Result<u64> {
    if end == 0 {
        return Ok(0);
    }
    if file.metadata()?.len() == end {
        file.seek(SeekFrom::Start(end))?;
        file.write_all(b"\n")?;
        file.sync_data()?;
    }
    Ok(end + 1)
}

/// Makes a new file's directory entry durable (best effort: some systems
/// cannot open a directory).
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(dir) = File::open(parent)
    {
        let _ = dir.sync_all();
    }
}
