//! Bulk runs of `push library` and `push provider`: many files, a few in
//! flight at once, one session (one token, one refresh), and a journal
//! that makes the run safe to run again (`digime::bulk`).

mod report;
mod target;
mod walk;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use digime::UserSession;
use digime::bulk::{Claim, Journal, Status, path_key};
use futures_util::{StreamExt, stream};

use super::{token_note, with_session};
use crate::args::{BulkArgs, Global, LibraryArgs, ProviderArgs};
use crate::config::{self, UserContext};
use crate::output::{EXIT_REAUTHORIZE, EXIT_SERVER, Failure, Output, sdk_exit_code};
use report::{FileReport, Reporter};
use target::Target;
use walk::{Item, Walk};

/// The exit code of a run stopped by Ctrl-C.
const EXIT_INTERRUPTED: u8 = 130;
/// Pushes in flight without `--jobs`.
const DEFAULT_JOBS: u16 = 4;
/// Files under way per push in flight: read and journalled ahead, or
/// waiting for their outcome to reach the disk (an `fsync` takes
/// milliseconds; a push of a small file about as long).
const AHEAD: usize = 8;

/// Whether the command line asks for a bulk run: several paths, a folder,
/// or a bulk flag. One file alone is one push, as it always was.
pub fn wanted(paths: &[PathBuf], bulk: &BulkArgs) -> bool {
    paths.len() != 1 || bulk.given() || paths[0].is_dir()
}

pub async fn library(global: &Global, args: LibraryArgs, out: Output) -> Result<(), Failure> {
    let target = Target::Library {
        accounts: args.accounts,
        mime: args.mime,
        tags: args.tags,
        references: args.references,
    };
    run(global, target, args.paths, args.bulk, out).await
}

pub async fn provider(global: &Global, args: ProviderArgs, out: Output) -> Result<(), Failure> {
    let target = Target::Provider {
        account_id: args.account_id,
        version: args.fhir_version.to_sdk(),
    };
    run(global, target, args.files, args.bulk, out).await
}

/// Why a run ended before its last file.
enum Stop {
    /// The user must consent again (exit 3).
    Consent(digime::Error),
    /// The journal cannot be written: nothing more is pushed (exit 1).
    Journal(String),
}

/// What every file's task shares.
struct Run {
    session: UserSession,
    journal: Option<Journal>,
    target: Target,
    resend_uncertain: bool,
    /// One permit per push in flight (`--jobs`).
    pushes: tokio::sync::Semaphore,
    /// One permit per file from its read to its push's end (2 × `--jobs`).
    claims: tokio::sync::Semaphore,
    /// No new push starts once set (Ctrl-C, or a [`Stop`]).
    stop: Arc<AtomicBool>,
    stopped: Mutex<Option<Stop>>,
}

async fn run(
    global: &Global,
    target: Target,
    paths: Vec<PathBuf>,
    bulk: BulkArgs,
    out: Output,
) -> Result<(), Failure> {
    let ctx = config::user_context(global).await?;
    let journal = open_journal(global, &ctx, &target, &bulk, out)?;
    let journal_path = journal.as_ref().map(|j| j.path().display().to_string());
    let jobs = usize::from(bulk.jobs.unwrap_or(DEFAULT_JOBS));
    let run = Arc::new(Run {
        session: ctx.session.clone(),
        journal,
        target,
        resend_uncertain: bulk.resend_uncertain,
        pushes: tokio::sync::Semaphore::new(jobs),
        claims: tokio::sync::Semaphore::new(jobs * 2),
        stop: Arc::new(AtomicBool::new(false)),
        stopped: Mutex::new(None),
    });
    let interrupted = Arc::new(AtomicBool::new(false));
    let signals = tokio::spawn(on_ctrl_c(run.clone(), interrupted.clone()));
    let mut reporter = Reporter::new(out, global.json, &paths);

    let ((), change) = with_session(&ctx, |_| async {
        let walk = Walk::new(paths, run.stop.clone());
        let mut results = stream::iter(walk)
            .map(|item| {
                let run = run.clone();
                async move { run.item(item).await }
            })
            // Files wait for their turn, and their outcomes are flushed to
            // disk after their push, while other pushes are sent: up to
            // AHEAD files per push in flight (`claims` bounds the ones that
            // hold data).
            .buffer_unordered(jobs * AHEAD);
        while let Some(result) = results.next().await {
            match result {
                Ok(report) => reporter.file(&report),
                Err(note) => reporter.note(&note),
            }
        }
        Ok(())
    })
    .await?;
    signals.abort();
    if let Some(journal) = &run.journal
        && let Err(e) = journal.flush().await
    {
        run.halt(Stop::Journal(e.to_string()));
    }

    let stopped = run.stopped.lock().unwrap_or_else(|e| e.into_inner()).take();
    let stop_name = match (&stopped, interrupted.load(Ordering::SeqCst)) {
        (Some(Stop::Consent(_)), _) => Some("reauthorization_required"),
        (Some(Stop::Journal(_)), _) => Some("journal"),
        (None, true) => Some("interrupted"),
        (None, false) => None,
    };
    reporter.summary(
        journal_path.as_deref(),
        stop_name,
        token_note(&change, &ctx),
    );
    finish(
        &reporter,
        stopped,
        interrupted.load(Ordering::SeqCst),
        journal_path.is_some(),
    )
}

/// The exit code, with what the operator can do on stderr.
fn finish(
    reporter: &Reporter,
    stopped: Option<Stop>,
    interrupted: bool,
    journal: bool,
) -> Result<(), Failure> {
    let counts = reporter.counts();
    let rerun = if journal {
        "run the same command again (same journal): what was stored is skipped"
    } else {
        "this run had no journal: running it again pushes every file again"
    };
    match stopped {
        Some(Stop::Consent(err)) => {
            reporter.note(&format!("digime: error: {err}"));
            reporter.note(
                "digime: the run stopped: the user must consent again. Run `digime reauthorize \
                 --callback-port PORT` (same user, same library), then",
            );
            reporter.note(&format!("digime: {rerun}"));
            return Err(Failure::Reported(EXIT_REAUTHORIZE));
        }
        Some(Stop::Journal(message)) => {
            reporter.note(&format!("digime: error: {message}: the run stopped"));
            return Err(Failure::Reported(EXIT_SERVER));
        }
        None => {}
    }
    if interrupted {
        reporter.note(&format!("digime: interrupted; {rerun}"));
        return Err(Failure::Reported(EXIT_INTERRUPTED));
    }
    if counts.uncertain > 0 {
        reporter.note(&format!(
            "digime: {} files may have been stored (uncertain): they are not sent again \
             unless --resend-uncertain is given, which may store them twice. Check with the \
             user which are missing, then name those files with --resend-uncertain",
            counts.uncertain
        ));
    }
    if counts.failed > 0 {
        reporter.note(&format!(
            "digime: {} files were not stored (failed): fix the cause, then {rerun}",
            counts.failed
        ));
    }
    if counts.uncertain + counts.failed > 0 {
        return Err(Failure::Reported(EXIT_SERVER));
    }
    Ok(())
}

/// The run's journal: `--journal`, or the default for the destination;
/// none with the hidden `--no-journal`.
fn open_journal(
    global: &Global,
    ctx: &UserContext,
    target: &Target,
    bulk: &BulkArgs,
    out: Output,
) -> Result<Option<Journal>, Failure> {
    if bulk.no_journal {
        out.note("digime: warning: no journal (--no-journal): a rerun pushes every file again");
        return Ok(None);
    }
    let path = match &bulk.journal {
        Some(path) => path.clone(),
        None => target::default_journal(global, &ctx.source, target)?,
    };
    let journal = Journal::open(&path).map_err(|e| Failure::config(e.to_string()))?;
    out.note(&format!(
        "digime: journal {} ({})",
        path.display(),
        journal.recovery()
    ));
    Ok(Some(journal))
}

/// Ctrl-C: the first stops new pushes; the second exits at once, between
/// two journal writes.
async fn on_ctrl_c(run: Arc<Run>, interrupted: Arc<AtomicBool>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    interrupted.store(true, Ordering::SeqCst);
    run.stop.store(true, Ordering::SeqCst);
    eprintln!(
        "digime: stopping: no new pushes; waiting for those in flight (Ctrl-C again exits at once)"
    );
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    let _paused = run.journal.as_ref().map(Journal::pause_writes);
    eprintln!("digime: exiting now; the pushes in flight are uncertain in the journal");
    std::process::exit(i32::from(EXIT_INTERRUPTED));
}

impl Run {
    /// Stops new pushes, keeping the first reason.
    fn halt(&self, stop: Stop) {
        self.stop.store(true, Ordering::SeqCst);
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        if stopped.is_none() {
            *stopped = Some(stop);
        }
    }

    /// One item of the walk: a file's report, or a note for a person.
    async fn item(&self, item: Item) -> Result<FileReport, String> {
        match item {
            Item::File(path) => Ok(self.file(&path).await),
            Item::Problem { path, message } => Ok(failed(&path, message)),
            Item::Passed { path, why } => {
                Err(format!("digime: passed over {}: {why}", path.display()))
            }
        }
    }

    /// Reads, claims, pushes and records one file.
    async fn file(&self, path: &Path) -> FileReport {
        // A file is read (whole when small) and its `begun` record written
        // at most one file ahead of each push in flight: memory holds at
        // most 2 × `--jobs` files, and a crash leaves at most that many
        // files uncertain.
        let Ok(ahead) = self.claims.acquire().await else {
            return failed(path, "not pushed: the run stopped".into());
        };
        let loaded = match self.target.load(path).await {
            Ok(loaded) => loaded,
            Err(message) => return failed(path, message),
        };
        let id = loaded.id.clone();
        let report = |status, error| FileReport {
            file: id.path().to_owned(),
            status,
            size: Some(id.size()),
            sha256: Some(id.sha256().to_owned()),
            error,
        };
        let claim = match &self.journal {
            Some(journal) => journal.claim(&id, self.resend_uncertain).await,
            None => Ok(Claim::Push { previous: None }),
        };
        match claim {
            Ok(Claim::Push { .. }) => {}
            Ok(Claim::Stored) => return report(Status::Skipped, None),
            Ok(Claim::Duplicate) => {
                return report(
                    Status::Skipped,
                    Some("named more than once: pushed once".into()),
                );
            }
            Ok(Claim::Uncertain) => return report(Status::Uncertain, Some(NOT_RESENT.into())),
            Err(e) => {
                self.halt(Stop::Journal(e.to_string()));
                return report(Status::Failed, Some(format!("not pushed: {e}")));
            }
        }
        // At most `--jobs` pushes are sent at once: the file waits here,
        // its `begun` record on disk. One that finds the run stopped (Ctrl-C,
        // a consent to give again, the journal) is not sent: `failed`.
        let permit = self.pushes.acquire().await;
        if permit.is_err() || self.stop.load(Ordering::SeqCst) {
            let error = "not pushed: the run stopped".to_owned();
            self.record(&id, Status::Failed, Some(&error)).await;
            return report(Status::Failed, Some(error));
        }
        let result = loaded.send(&self.session).await;
        drop((permit, ahead));
        let status = Status::of_push(&result);
        let error = result.as_ref().err().map(ToString::to_string);
        self.record(&id, status, error.as_deref()).await;
        if let Err(err) = result
            && sdk_exit_code(&err) == EXIT_REAUTHORIZE
        {
            self.halt(Stop::Consent(err));
        }
        report(status, error)
    }

    async fn record(&self, id: &digime::bulk::FileIdentity, status: Status, error: Option<&str>) {
        if let Some(journal) = &self.journal
            && let Err(e) = journal.finish(id, status, error).await
        {
            self.halt(Stop::Journal(e.to_string()));
        }
    }
}

/// Why a file an earlier run left uncertain is not sent.
const NOT_RESENT: &str = "not sent again: an earlier attempt may have stored it \
    (--resend-uncertain sends it again, which may store it twice)";

/// The report of a path that could not be pushed (nothing was sent).
fn failed(path: &Path, message: String) -> FileReport {
    FileReport {
        file: path_key(path),
        status: Status::Failed,
        size: None,
        sha256: None,
        error: Some(message),
    }
}
