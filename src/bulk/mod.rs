//! Many files into a user's library (or to a provider) in one resumable
//! run that never stores a file twice: the pieces of `digime push library
//! DIR`, for your own bulk jobs.
//!
//! - [`Journal`]: an append-only file of each file's outcome, on disk as
//!   each outcome is known, that a rerun reads to skip what was stored and
//!   not resend what may have been;
//! - [`FileIdentity`]: what identifies a file in it (path, size, SHA-256);
//! - [`Status`]: `stored`, `uncertain`, `failed` or `skipped`, and
//!   [`Status::of_push`], which reads a push's result honestly (an error
//!   that [may have been stored](crate::Error::may_have_been_stored) is
//!   `uncertain`, never `failed`).
//!
//! # The pattern
//!
//! There is no bulk "runner" here: concurrency is one line of
//! [`futures_util`] (`buffer_unordered`) around the push you already
//! write, with the journal's two calls around the push. One [`DigiMe`](crate::DigiMe)
//! and one [`UserSession`](crate::UserSession) serve every push: they
//! share the connection pool and the token, so a token that expires
//! mid-run is refreshed once for all of them.
//!
//! ```no_run
//! use digime::bulk::{Claim, FileIdentity, Journal, Status};
//! use digime::push::FileData;
//! use digime::{Account, FileDescriptor, UserSession};
//! use futures_util::{StreamExt, stream};
//!
//! async fn backfill(session: UserSession, files: Vec<std::path::PathBuf>) -> std::io::Result<()> {
//!     let journal = Journal::open("backfill.jsonl")?;
//!     let results = stream::iter(files)
//!         .map(|path| {
//!             let (session, journal) = (session.clone(), &journal);
//!             async move {
//!                 let id = FileIdentity::of_file(&path).await?;
//!                 if !journal.claim(&id, false).await?.is_push() {
//!                     return Ok(Status::Skipped);
//!                 }
//!                 let result = async {
//!                     session
//!                         .push()
//!                         .library()
//!                         .file(FileData::from_path(&path).await?, id.path())
//!                         .descriptor(
//!                             FileDescriptor::builder()
//!                                 .mime_type("application/pdf")
//!                                 .accounts(vec![Account::new("patient-42")])
//!                                 .build(),
//!                         )
//!                         .send()
//!                         .await
//!                 }
//!                 .await;
//!                 let status = Status::of_push(&result);
//!                 let error = result.err().map(|e| e.to_string());
//!                 journal.finish(&id, status, error.as_deref()).await?;
//!                 Ok::<_, std::io::Error>(status)
//!             }
//!         })
//!         .buffer_unordered(8) // 8 pushes in flight
//!         .collect::<Vec<_>>()
//!         .await;
//!     for status in results {
//!         println!("{}", status?);
//!     }
//!     Ok(())
//! }
//! ```
//!
//! Collect counts rather than results for big runs; feed the stream from
//! an iterator (a directory walk) rather than a `Vec`, and memory stays
//! bounded whatever the number of files.
//!
//! # Why a journal type and a pattern, and not a runner
//!
//! A runner would have to own what differs from one job to the next: where
//! the files come from (a walk, a database, an upload), the descriptor of
//! each (its MIME type, accounts, tags), library or provider, how many in
//! flight, when to stop (a signal, a user who must consent again), how to
//! report. Each of those is a parameter, and together they are the code
//! above. What is hard to get right, and the same for every job, is the
//! bookkeeping: when a record must be on disk, what a crash mid-push means,
//! what a lost answer means, how records of several attempts add up. That
//! is the [`Journal`]; the `digime` CLI is built from it and nothing more.
//!
//! # What the journal promises
//!
//! - A file whose push has begun has a `begun` record on disk before its
//!   first byte is sent. A crash mid-push leaves it `uncertain`, never
//!   missing: it is not sent again unless the caller opts in.
//! - `stored` is final: no later record undoes it, and a stored file is
//!   never claimed for a push again.
//! - `uncertain` stays until a later attempt stores the file: a resend that
//!   fails cleanly does not make it `failed`, since the first attempt may
//!   have stored it.
//! - A corrupt or truncated line is ignored, and said so; the lines around
//!   it still count. Only the line a crash cut can be lost, and it is
//!   never a `begun` whose push was sent (that one was on disk first).

mod identity;
mod journal;
mod record;
mod status;
#[cfg(test)]
mod tests;
mod writer;

pub use identity::{FileIdentity, path_key};
pub use journal::{Claim, IgnoredLine, Journal, Recovery, WritesPaused};
pub use status::{Status, UnknownStatus};
