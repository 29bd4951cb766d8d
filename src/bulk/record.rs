//! The journal's line format, and what a file's records add up to.
//!
//! One JSON object per line:
//! `{"v":1,"event":"begun","file":"scans/a.pdf","size":48213,"sha256":"…","at":1764790000000}`,
//! with `"error"` on `failed` and `uncertain` lines. `event` is `begun`
//! (written, and on disk, before the push is sent), then one of `stored`,
//! `uncertain`, `failed`; or `skipped` (the journal had it; informational).

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::identity::{FileIdentity, is_sha256_hex};
use super::status::Status;

/// The version of the line format.
pub(crate) const VERSION: u32 = 1;

/// One line of the journal.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Line<'a> {
    pub v: u32,
    pub event: Cow<'a, str>,
    pub file: Cow<'a, str>,
    pub size: u64,
    pub sha256: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Cow<'a, str>>,
    #[serde(default)]
    pub at: u64,
}

/// A record's event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Begun,
    Outcome(Status),
}

impl Event {
    fn name(self) -> &'static str {
        match self {
            Event::Begun => "begun",
            Event::Outcome(status) => status.as_str(),
        }
    }
}

/// The line for `event` on `id`, ending in `\n`.
pub(crate) fn encode(id: &FileIdentity, event: Event, error: Option<&str>) -> Vec<u8> {
    let line = Line {
        v: VERSION,
        event: Cow::Borrowed(event.name()),
        file: Cow::Borrowed(id.path()),
        size: id.size(),
        sha256: Cow::Borrowed(id.sha256()),
        error: error.map(Cow::Borrowed),
        at: now_ms(),
    };
    // A struct of strings and numbers always serializes.
    let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// A line read back: the file's identity and the event, or why the line
/// cannot be used.
pub(crate) fn decode(bytes: &[u8]) -> Result<(FileIdentity, Event), String> {
    let line: Line<'_> =
        serde_json::from_slice(bytes).map_err(|e| format!("not a journal record ({e})"))?;
    if line.v != VERSION {
        return Err(format!("record version {} is not {VERSION}", line.v));
    }
    let event = match line.event.as_ref() {
        "begun" => Event::Begun,
        other => Event::Outcome(
            other
                .parse()
                .map_err(|_| format!("unknown event `{}`", truncate(other)))?,
        ),
    };
    if !is_sha256_hex(&line.sha256) {
        return Err("its sha256 is not 64 lowercase hex digits".to_owned());
    }
    let id = FileIdentity::new(line.file.into_owned(), line.size, line.sha256.into_owned())
        .map_err(|e| e.to_string())?;
    Ok((id, event))
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

// What a file's records add up to, as bits (one byte per file in memory).
const STORED: u8 = 1;
const UNCERTAIN: u8 = 2;
const FAILED: u8 = 4;
/// A `begun` record with no outcome after it (yet).
const OPEN: u8 = 8;
/// Claimed in this run.
const THIS_RUN: u8 = 16;

/// Every file the journal knows, by [`FileIdentity::key`]: 16 bytes of key
/// and one byte of state per file, never the paths.
#[derive(Debug, Default)]
pub(crate) struct Index {
    files: HashMap<u128, u8>,
}

impl Index {
    /// Adds a record. An attempt is a `begun` and its outcome: a `begun`
    /// that follows another with no outcome in between means the earlier
    /// attempt ended unknown (uncertain).
    pub fn apply(&mut self, key: u128, event: Event) {
        let bits = self.files.entry(key).or_default();
        *bits = match event {
            Event::Begun if *bits & OPEN != 0 => *bits | UNCERTAIN,
            Event::Begun => *bits | OPEN,
            Event::Outcome(Status::Stored) => (*bits & !OPEN) | STORED,
            Event::Outcome(Status::Uncertain) => (*bits & !OPEN) | UNCERTAIN,
            Event::Outcome(Status::Failed) => (*bits & !OPEN) | FAILED,
            Event::Outcome(Status::Skipped) => *bits,
        };
    }

    /// What the records say of a file: stored if any attempt was; else
    /// uncertain if any attempt may have been (or began and has no
    /// outcome); else failed; `None` when there is no record.
    pub fn status(&self, key: u128) -> Option<Status> {
        let bits = *self.files.get(&key)?;
        if bits & STORED != 0 {
            Some(Status::Stored)
        } else if bits & (UNCERTAIN | OPEN) != 0 {
            Some(Status::Uncertain)
        } else if bits & FAILED != 0 {
            Some(Status::Failed)
        } else {
            None
        }
    }

    /// Whether the file was claimed in this run already.
    pub fn claimed_in_this_run(&self, key: u128) -> bool {
        self.files.get(&key).is_some_and(|b| b & THIS_RUN != 0)
    }

    /// Marks the file as claimed in this run.
    pub fn mark_this_run(&mut self, key: u128) {
        *self.files.entry(key).or_default() |= THIS_RUN;
    }

    /// How many files the journal knows.
    pub fn len(&self) -> usize {
        self.files.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> FileIdentity {
        FileIdentity::of_bytes("a.txt", b"a")
    }

    #[test]
    fn lines_round_trip() {
        let line = encode(&id(), Event::Outcome(Status::Failed), Some("boom \"x\""));
        assert_eq!(line.last(), Some(&b'\n'));
        let (back, event) = decode(&line[..line.len() - 1]).unwrap();
        assert_eq!(back, id());
        assert_eq!(event, Event::Outcome(Status::Failed));
    }

    #[test]
    fn bad_lines_say_why() {
        assert!(
            decode(b"{\"v\":1,\"event\":\"stor")
                .unwrap_err()
                .contains("not a journal record")
        );
        let bad_event = br#"{"v":1,"event":"lost","file":"a","size":1,"sha256":"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"}"#;
        assert!(decode(bad_event).unwrap_err().contains("unknown event"));
        let bad_sha = br#"{"v":1,"event":"stored","file":"a","size":1,"sha256":"XYZ"}"#;
        assert!(decode(bad_sha).unwrap_err().contains("sha256"));
        let v2 = br#"{"v":2,"event":"stored","file":"a","size":1,"sha256":"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"}"#;
        assert!(decode(v2).unwrap_err().contains("version"));
    }

    #[test]
    fn attempts_add_up() {
        let mut index = Index::default();
        let k = 7;
        assert_eq!(index.status(k), None);
        index.apply(k, Event::Begun);
        assert_eq!(
            index.status(k),
            Some(Status::Uncertain),
            "begun, no outcome"
        );
        index.apply(k, Event::Outcome(Status::Failed));
        assert_eq!(index.status(k), Some(Status::Failed));
        index.apply(k, Event::Begun);
        index.apply(k, Event::Outcome(Status::Uncertain));
        index.apply(k, Event::Begun);
        index.apply(k, Event::Outcome(Status::Failed));
        assert_eq!(
            index.status(k),
            Some(Status::Uncertain),
            "a later clean failure does not undo an attempt that may have stored"
        );
        index.apply(k, Event::Begun);
        index.apply(k, Event::Outcome(Status::Stored));
        index.apply(k, Event::Outcome(Status::Skipped));
        assert_eq!(index.status(k), Some(Status::Stored));
    }

    #[test]
    fn two_begun_in_a_row_leave_the_first_attempt_uncertain() {
        let mut index = Index::default();
        index.apply(1, Event::Begun);
        index.apply(1, Event::Begun);
        index.apply(1, Event::Outcome(Status::Failed));
        assert_eq!(index.status(1), Some(Status::Uncertain));
    }
}
