//! Library mode: a file and its descriptor into the user's library.

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use tracing::Instrument;

use super::PushContext;
use super::data::FileData;
use super::outcome::PushOutcome;
use super::state::{
    DescriptorMissing, DescriptorSet, FileMissing, FileSet, HasDescriptor, HasFile,
};
use crate::auth::{TokenState, user_call};
use crate::descriptor::FileDescriptor;
use crate::error::{Error, Result};
use crate::signer::{NoClaims, sign_file_descriptor};
use crate::token::UserAccessToken;
use crate::transport::{Body, Call};
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
#[derive(Debug)]
pub struct LibraryPush<F = FileMissing, D = DescriptorMissing> {
    ctx: PushContext,
    file: F,
    descriptor: D,
}

impl LibraryPush {
    pub(crate) fn new(ctx: PushContext) -> Self {
        Self {
            ctx,
            file: FileMissing,
            descriptor: DescriptorMissing,
        }
    }
}

impl<D> LibraryPush<FileMissing, D> {
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
    ) -> LibraryPush<FileSet, D> {
        LibraryPush {
            ctx: self.ctx,
            file: FileSet((data.into(), file_name.into())),
            descriptor: self.descriptor,
        }
    }
}

impl<F> LibraryPush<F, DescriptorMissing> {
    /// The file's metadata: MIME type, accounts, and optional tags and
    /// references.
    ///
    /// ```no_run
    /// # fn f(p: digime::push::LibraryPush) {
    /// use digime::{Account, FileDescriptor};
    /// let p = p.descriptor(FileDescriptor::builder().mime_type("text/csv").accounts(vec![Account::new("a")]).build());
    /// # let _ = p; }
    /// ```
    pub fn descriptor(self, descriptor: FileDescriptor) -> LibraryPush<F, DescriptorSet> {
        LibraryPush {
            ctx: self.ctx,
            file: self.file,
            descriptor: DescriptorSet(descriptor),
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
        self.ctx.on_change = Some(Box::new(hook));
        self
    }

    /// Sends the file. Checks the input first (nothing is sent when it is
    /// bad), refreshes the token if digi.me rejects it, and retries once.
    ///
    /// Errors: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// naming the field (`file_name`, `descriptor.mime_type`,
    /// `descriptor.accounts`, …); a server error with its code, message and
    /// reference; [`ErrorKind::ReauthorizationRequired`](crate::ErrorKind::ReauthorizationRequired)
    /// when the refresh token is spent.
    ///
    /// ```no_run
    /// # async fn run(p: digime::push::LibraryPush<digime::push::state::FileSet, digime::push::state::DescriptorSet>) -> digime::Result<()> {
    /// let outcome = p.send().await?;
    /// println!("stored; refreshed token: {}", outcome.token_refreshed());
    /// # Ok(()) }
    /// ```
    pub async fn send(self) -> Result<PushOutcome>
    where
        F: HasFile,
        D: HasDescriptor,
    {
        let (data, file_name) = self.file.into_file();
        let descriptor = self.descriptor.into_descriptor();
        let span = tracing::info_span!(
            "digime.push.library",
            file_name = %file_name.escape_debug(),
            size = data.len(),
        );
        send_library(self.ctx, data, file_name, descriptor)
            .instrument(span)
            .await
    }
}

async fn send_library(
    ctx: PushContext,
    data: FileData,
    file_name: String,
    descriptor: FileDescriptor,
) -> Result<PushOutcome> {
    validate::identifier("file_name", &file_name)?;
    descriptor.validate()?;
    let descriptor_jwt = sign_file_descriptor(ctx.contract.key(), &descriptor)?;
    let descriptor_header = HeaderValue::try_from(descriptor_jwt)
        .map_err(|e| Error::invalid_input("descriptor", e))?;
    let call = Call {
        endpoint: "permission-access/import",
        method: Method::POST,
        path: "permission-access/import",
        contract: &ctx.contract,
        claims: &NoClaims {},
        headers: vec![(HeaderName::from_static("filedescriptor"), descriptor_header)],
        body: Body::Bytes {
            content_type: "application/octet-stream",
            bytes: data.bytes(),
        },
        side_effect: true,
    };
    let mut state = TokenState::new(ctx.token.clone(), ctx.on_change);
    let reply = user_call(&ctx.sdk, &ctx.contract, &call, &mut state).await?;
    Ok(PushOutcome {
        status: reply.status.as_u16(),
        response: serde_json::from_slice(&reply.body).ok(),
        token: state.token,
        refreshed: state.refreshed,
    })
}
