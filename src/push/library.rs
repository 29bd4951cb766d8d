//! Library mode: a file and its descriptor into the user's library.

use std::fmt;
use std::sync::Arc;

use reqwest::header::HeaderName;
use tracing::Instrument;

use super::outcome::{PushOutcome, run_push};
use super::state::{
    LibraryDescriptorMissing, LibraryDescriptorSet, LibraryFileMissing, LibraryFileSet,
    LibraryHasDescriptor, LibraryHasFile,
};
use super::{PushContext, PushFuture};
use crate::descriptor::FileDescriptor;
use crate::error::Result;
use crate::token::UserAccessToken;
use crate::transport::data::{FileData, Progress};
use crate::transport::{Body, Call, CallKind};
use crate::validate;

/// A push into the user's library. `F` and `D` are the markers of
/// [`state`](super::state): `send()` exists once both the file and the
/// descriptor are set.
///
/// ```no_run
/// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
/// use digime::{Account, FileDescriptor};
/// let outcome = sdk
///     .push(&contract, &token)
///     .library()
///     .descriptor(
///         FileDescriptor::builder()
///             .mime_type("application/pdf")
///             .accounts(vec![Account::new("account-in-my-system")])
///             .build(),
///     )
///     .file(std::fs::read("report.pdf").unwrap(), "report.pdf")
///     .on_access_token_change(|new_token| { /* persist new_token */ let _ = new_token; })
///     .send()
///     .await?;
/// # let _ = outcome; Ok(()) }
/// ```
#[must_use = "a push does nothing until `.send()` is awaited"]
pub struct LibraryPush<F = LibraryFileMissing, D = LibraryDescriptorMissing> {
    ctx: PushContext,
    file_state: F,
    descriptor_state: D,
    progress: Option<Progress>,
}

impl<F: fmt::Debug, D: fmt::Debug> fmt::Debug for LibraryPush<F, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LibraryPush")
            .field("ctx", &self.ctx)
            .field("file", &self.file_state)
            .field("descriptor", &self.descriptor_state)
            .field("on_progress", &self.progress.is_some())
            .finish()
    }
}

impl LibraryPush {
    pub(crate) fn new(ctx: PushContext) -> Self {
        Self {
            ctx,
            file_state: LibraryFileMissing,
            descriptor_state: LibraryDescriptorMissing,
            progress: None,
        }
    }
}

impl<D> LibraryPush<LibraryFileMissing, D> {
    /// The file to push: its bytes (`Vec<u8>`, [`bytes::Bytes`], …) and its
    /// name. The name is not sent to digi.me (the API has no field for it);
    /// the SDK uses it in logs and errors.
    ///
    /// ```no_run
    /// # fn f(p: digime::push::LibraryPush) {
    /// let p = p.file(bytes::Bytes::from_static(b"%PDF-1.7"), "report.pdf");
    /// # let _ = p; }
    /// ```
    pub fn file(
        self,
        data: impl Into<FileData>,
        file_name: impl Into<String>,
    ) -> LibraryPush<LibraryFileSet, D> {
        LibraryPush {
            ctx: self.ctx,
            file_state: LibraryFileSet((data.into(), file_name.into())),
            descriptor_state: self.descriptor_state,
            progress: self.progress,
        }
    }
}

impl<F> LibraryPush<F, LibraryDescriptorMissing> {
    /// The file's metadata: MIME type, accounts, and optional tags and
    /// references.
    ///
    /// ```no_run
    /// # fn f(p: digime::push::LibraryPush) {
    /// use digime::{Account, FileDescriptor};
    /// let p = p.descriptor(FileDescriptor::builder().mime_type("text/csv").accounts(vec![Account::new("a")]).build());
    /// # let _ = p; }
    /// ```
    pub fn descriptor(self, descriptor: FileDescriptor) -> LibraryPush<F, LibraryDescriptorSet> {
        LibraryPush {
            ctx: self.ctx,
            file_state: self.file_state,
            descriptor_state: LibraryDescriptorSet(descriptor),
            progress: self.progress,
        }
    }
}

impl<F, D> LibraryPush<F, D> {
    /// Called once with the new token when the SDK refreshes it during this
    /// push. Persist it: the old refresh token no longer works.
    ///
    /// ```no_run
    /// # fn f(p: digime::push::LibraryPush) {
    /// let p = p.on_access_token_change(|token| {
    ///     let json = serde_json::to_string(token).unwrap();
    ///     // write `json` where this user's token is kept
    /// #   let _ = json;
    /// });
    /// # let _ = p; }
    /// ```
    pub fn on_access_token_change(
        mut self,
        hook: impl FnMut(&UserAccessToken) + Send + 'static,
    ) -> Self {
        self.ctx.tokens.set_hook(Box::new(hook));
        self
    }

    /// Called as the upload goes, with `(bytes sent, total bytes)`. "Sent"
    /// counts what was handed to the HTTP stack.
    ///
    /// The total is `Some` whenever the length is known: bytes, a file, a
    /// reader. For a stream ([`FileData::from_stream`]) it is `None` while
    /// the stream goes, and the last call, made once the end of the stream
    /// has been handed over, is `(total, Some(total))`.
    ///
    /// ```no_run
    /// # fn f(p: digime::push::LibraryPush) {
    /// let p = p.on_progress(|sent, total| match total {
    ///     Some(total) => eprintln!("{sent}/{total} bytes"),
    ///     None => eprintln!("{sent} bytes"),
    /// });
    /// # let _ = p; }
    /// ```
    pub fn on_progress(
        mut self,
        progress: impl Fn(u64, Option<u64>) + Send + Sync + 'static,
    ) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// Sends the file. Checks the input first (nothing is sent when it is
    /// bad), refreshes the token if digi.me rejects it, and sends again.
    ///
    /// Errors: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// naming the field (`file_name`, `descriptor.mime_type`,
    /// `descriptor.accounts`, …); a server error with its code, message and
    /// reference; [`ErrorKind::ReauthorizationRequired`](crate::ErrorKind::ReauthorizationRequired)
    /// when the refresh token is spent;
    /// [`ErrorKind::DataNotReplayable`](crate::ErrorKind::DataNotReplayable)
    /// when a one-shot reader or stream would have to be sent twice.
    ///
    /// ```no_run
    /// # async fn run(p: digime::push::LibraryPush<digime::push::state::LibraryFileSet, digime::push::state::LibraryDescriptorSet>) -> digime::Result<()> {
    /// let outcome = p.send().await?;
    /// println!("stored; refreshed token: {}", outcome.token_refreshed());
    /// # Ok(()) }
    /// ```
    pub fn send(self) -> PushFuture
    where
        F: LibraryHasFile,
        D: LibraryHasDescriptor,
    {
        let (data, file_name) = self.file_state.into_file();
        let descriptor = self.descriptor_state.into_descriptor();
        let span = tracing::info_span!(
            "digime.push.library",
            size = tracing::field::Empty,
            file_name = tracing::field::Empty,
        );
        if let Some(size) = data.len() {
            span.record("size", size);
        }
        // A file name can say what a health record is about: DEBUG only.
        if tracing::enabled!(tracing::Level::DEBUG) {
            span.record(
                "file_name",
                tracing::field::display(file_name.escape_debug()),
            );
        }
        Box::pin(
            send_library(self.ctx, data, file_name, descriptor, self.progress).instrument(span),
        )
    }
}

async fn send_library(
    ctx: PushContext,
    data: FileData,
    file_name: String,
    descriptor: FileDescriptor,
    progress: Option<Progress>,
) -> Result<PushOutcome> {
    validate::identifier("file_name", &file_name)?;
    descriptor.validate()?;
    let descriptor_header = ctx.contract.descriptor_header(&descriptor)?;
    let call = Call::post("permission-access/import", &ctx.contract)
        .header(HeaderName::from_static("filedescriptor"), descriptor_header)
        .body(Body::File {
            content_type: "application/octet-stream",
            data: &data,
            progress: progress.as_ref(),
        })
        .kind(CallKind::Push);
    run_push(&ctx.sdk, &ctx.contract, ctx.tokens, &call).await
}
