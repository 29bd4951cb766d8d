//! What a bulk run prints: a line per file (JSON) or per problem (text), a
//! progress bar on a terminal, and the summary.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use digime::bulk::Status;
use indicatif::ProgressBar;
use serde_json::json;

use crate::output::Output;

/// What became of one file (or of a named path that is not one).
pub struct FileReport {
    pub file: String,
    pub status: Status,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub error: Option<String>,
}

/// The counts of a run.
#[derive(Default, Clone, Copy)]
pub struct Counts {
    pub stored: u64,
    pub uncertain: u64,
    pub failed: u64,
    pub skipped: u64,
}

pub struct Reporter {
    out: Output,
    json: bool,
    bar: Option<ProgressBar>,
    files_total: u64,
    files_done: u64,
    counts: Counts,
    started: Instant,
}

impl Reporter {
    /// A reporter; with a progress bar when stderr is a terminal (the
    /// totals come from a counting walk of `roots`).
    pub fn new(out: Output, json: bool, roots: &[PathBuf]) -> Self {
        let mut reporter = Self {
            out,
            json,
            bar: None,
            files_total: 0,
            files_done: 0,
            counts: Counts::default(),
            started: Instant::now(),
        };
        if std::io::stderr().is_terminal() {
            let (files, bytes) = super::walk::count(roots);
            reporter.files_total = files;
            reporter.bar = Some(bar(bytes));
            reporter.advance(0, false);
        }
        reporter
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// A file's outcome.
    pub fn file(&mut self, report: &FileReport) {
        let count = match report.status {
            Status::Stored => &mut self.counts.stored,
            Status::Uncertain => &mut self.counts.uncertain,
            Status::Failed => &mut self.counts.failed,
            Status::Skipped => &mut self.counts.skipped,
        };
        *count += 1;
        if self.json {
            let line = json!({
                "file": report.file,
                "status": report.status.as_str(),
                "size": report.size,
                "sha256": report.sha256,
                "error": report.error,
            });
            self.print(&line.to_string());
        } else if let Some(error) = &report.error {
            self.print(&format!("{:<9} {}: {error}", report.status, report.file));
        }
        self.advance(report.size.unwrap_or(0), true);
    }

    /// A remark for a person, on stderr.
    pub fn note(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| self.out.note(line)),
            None => self.out.note(line),
        }
    }

    fn print(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| self.out.raw_line(line)),
            None => self.out.raw_line(line),
        }
    }

    fn advance(&mut self, bytes: u64, file: bool) {
        if let Some(bar) = &self.bar {
            self.files_done += u64::from(file);
            bar.inc(bytes);
            bar.set_message(format!("{}/{} files", self.files_done, self.files_total));
        }
    }

    /// The summary: one JSON line, or a few lines of text. `stopped` says
    /// why the run ended early, if it did.
    pub fn summary(
        &self,
        journal: Option<&str>,
        stopped: Option<&str>,
        token_note: Option<String>,
    ) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let c = self.counts;
        let seconds = (self.started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        if self.json {
            let line = json!({
                "stored": c.stored,
                "uncertain": c.uncertain,
                "failed": c.failed,
                "skipped": c.skipped,
                "seconds": seconds,
                "journal": journal,
                "stopped": stopped,
            });
            self.out.raw_line(&line.to_string());
            return;
        }
        let mut text = format!(
            "stored {}, skipped {}, uncertain {}, failed {} in {seconds:.1} s",
            c.stored, c.skipped, c.uncertain, c.failed
        );
        if let Some(journal) = journal {
            text.push_str(&format!("\njournal: {journal}"));
        }
        if let Some(note) = token_note {
            text.push('\n');
            text.push_str(&note);
        }
        self.out.raw_line(&text);
    }
}

fn bar(bytes: u64) -> ProgressBar {
    crate::progress::bytes_bar(
        bytes,
        "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
}
