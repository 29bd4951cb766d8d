//! The crate's one error type.
//!
//! [`Error`] is opaque, in the manner of `reqwest::Error`: match on
//! [`Error::kind`] to decide what to do, and use the accessors to read the
//! details. A server error keeps the server's code, message, reference and
//! HTTP status intact ([`Error::server`]). Bad input names the field that was
//! wrong ([`Error::field`]) and is returned before any request is sent.
//!
//! No error message ever contains a private key, a token value or a code
//! verifier.

mod server;

use std::fmt;

pub use server::ServerError;

/// A `Result` whose error is [`digime::Error`](Error).
///
/// ```
/// fn parse(pem: &str) -> digime::Result<digime::ContractDetails> {
///     digime::ContractDetails::new("my-contract-id", pem)
/// }
/// assert!(parse("not a key").is_err());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
/// A source shared by the clones of one error (an error that many waiters of
/// one refresh receive).
type SharedSource = std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in this crate.
///
/// ```
/// use digime::{ContractDetails, ErrorKind};
///
/// let err = ContractDetails::new("", "irrelevant").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidInput);
/// assert_eq!(err.field(), Some("contract_id"));
/// ```
///
/// It is `Clone`: every caller that waited for the same token refresh gets
/// its own copy of that refresh's error.
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    field: Option<&'static str>,
    server: Option<ServerError>,
    callback_code: Option<String>,
    token: Option<Box<crate::token::UserAccessToken>>,
    source: Option<SharedSource>,
    may_have_been_stored: bool,
    refresh_may_have_happened: bool,
}

/// What kind of failure an [`Error`] is. New kinds may be added.
///
/// ```
/// # fn handle(err: digime::Error) {
/// match err.kind() {
///     digime::ErrorKind::ReauthorizationRequired => { /* send the user through sdk.reauthorize(..) */ }
///     digime::ErrorKind::Server => eprintln!("digi.me said {:?}", err.server()),
///     _ => eprintln!("{err}"),
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument was invalid; [`Error::field`] names it. Nothing was sent.
    InvalidInput,
    /// digi.me answered with an error status. [`Error::server`] has the details.
    Server,
    /// The refresh token was rejected (expired, already used or revoked):
    /// the user must consent again through the reauthorize flow,
    /// [`DigiMe::reauthorize`](crate::DigiMe::reauthorize) with their last
    /// token, which keeps their user id and library. [`Error::server`] has
    /// the server's answer.
    ReauthorizationRequired,
    /// The request could not be sent or the response not read (DNS, TCP,
    /// TLS, a timeout).
    Transport,
    /// The server answered with something this SDK could not understand.
    InvalidResponse,
    /// A JWT from the server failed verification (bad signature, wrong
    /// algorithm, a key-set URL off the API origin, an unknown key id).
    TokenVerification,
    /// The user did not consent, or consent failed: the callback said
    /// `success=false`. [`Error::code`] is its `errorCode`.
    AuthorizationFailed,
    /// The data of a push could not be sent again after the access token was
    /// refreshed (a one-shot reader or stream); the push was not stored. The
    /// new token is in the error: store it
    /// ([`Error::user_access_token`]), then push the data again from its
    /// source.
    DataNotReplayable,
    /// A local cryptographic operation failed: signing or drawing random
    /// bytes; nothing was sent. Never retried.
    Crypto,
    /// A [`TokenStore`](crate::store::TokenStore) failed: it could not be
    /// reached, or its refresh lease was lost or could not be taken in time.
    /// The message names the store. No refresh is made without the lease.
    TokenStore,
}

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                field: None,
                server: None,
                callback_code: None,
                token: None,
                source: None,
                may_have_been_stored: false,
                refresh_may_have_happened: false,
            }),
        }
    }

    pub(crate) fn invalid_input(field: &'static str, reason: impl fmt::Display) -> Self {
        let mut err = Self::new(
            ErrorKind::InvalidInput,
            format!("invalid `{field}`: {reason}"),
        );
        err.inner.field = Some(field);
        err
    }

    pub(crate) fn from_server(server: ServerError) -> Self {
        let mut err = Self::new(ErrorKind::Server, format!("digi.me returned {server}"));
        err.inner.server = Some(server);
        err
    }

    /// An error status whose body was over `cap` bytes and was not read:
    /// the status and the `X-Error-*` headers are kept.
    pub(crate) fn from_server_body_over_cap(server: ServerError, cap: usize) -> Self {
        let mut err = Self::from_server(server);
        err.inner
            .message
            .push_str(&format!(" (error body over {} KiB, not read)", cap / 1024));
        err
    }

    pub(crate) fn reauthorization_required(server: ServerError) -> Self {
        let mut err = Self::new(
            ErrorKind::ReauthorizationRequired,
            format!("the refresh token was rejected ({server})"),
        );
        err.inner.server = Some(server);
        err
    }

    pub(crate) fn authorization_failed(error_code: Option<String>) -> Self {
        let mut err = Self::new(
            ErrorKind::AuthorizationFailed,
            match &error_code {
                Some(code) => format!("authorization failed: the callback reported `{code}`"),
                None => "authorization failed: the callback reported no error code".to_owned(),
            },
        );
        err.inner.callback_code = error_code;
        err
    }

    pub(crate) fn data_not_replayable(token: crate::token::UserAccessToken) -> Self {
        let mut err = Self::new(
            ErrorKind::DataNotReplayable,
            "the push's data could not be sent again after the token refresh",
        );
        err.inner.token = Some(Box::new(token));
        err
    }

    /// Attaches the token the SDK refreshed before this error happened.
    pub(crate) fn with_user_access_token(mut self, token: crate::token::UserAccessToken) -> Self {
        self.inner.token = Some(Box::new(token));
        self
    }

    /// The token to store after this error, when there is one:
    ///
    /// - the new token, when the SDK refreshed the user's token before the
    ///   call failed. The old refresh token is spent then: **store this
    ///   one**, whatever the error. Always set for
    ///   [`ErrorKind::DataNotReplayable`];
    /// - the token the refresh was attempted with, when a refresh failed in
    ///   a way that does not tell whether digi.me performed it
    ///   ([`refresh_may_have_happened`](Self::refresh_may_have_happened)):
    ///   nothing newer is known.
    ///
    /// ```
    /// # fn f(err: digime::Error) {
    /// if let Some(token) = err.user_access_token() {
    ///     let json = serde_json::to_string(token).unwrap();
    ///     // persist `json` before handling the error
    /// #   let _ = json;
    /// }
    /// # }
    /// ```
    pub fn user_access_token(&self) -> Option<&crate::token::UserAccessToken> {
        self.inner.token.as_deref()
    }

    /// True when the SDK refreshed the user's token before the call failed:
    /// [`user_access_token`](Self::user_access_token) then holds the new
    /// token to store. False when the error only carries the token a refresh
    /// was attempted with ([`refresh_may_have_happened`](Self::refresh_may_have_happened)).
    ///
    /// ```
    /// # fn f(err: digime::Error) {
    /// if err.token_refreshed() { /* store err.user_access_token() */ }
    /// # }
    /// ```
    pub fn token_refreshed(&self) -> bool {
        self.inner.token.is_some() && !self.inner.refresh_may_have_happened
    }

    pub(crate) fn transport(what: impl fmt::Display, source: impl Into<BoxError>) -> Self {
        Self::new(ErrorKind::Transport, format!("{what} failed")).with_source(source)
    }

    /// A local cryptographic failure: `what` could not be done (signing,
    /// drawing random bytes). Nothing was sent.
    pub(crate) fn crypto(what: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Crypto, format!("{what} failed on this machine"))
    }

    pub(crate) fn invalid_response(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidResponse, reason)
    }

    pub(crate) fn token_verification(reason: impl fmt::Display) -> Self {
        Self::new(
            ErrorKind::TokenVerification,
            format!("a token from the server failed verification: {reason}"),
        )
    }

    /// A timeout of this SDK's own clock (the idle timeout): a transport
    /// error that [`is_timeout`](Self::is_timeout) recognises.
    pub(crate) fn timed_out(what: impl fmt::Display, after: std::time::Duration) -> Self {
        Self::transport(
            format_args!("{what} (no progress for {} ms)", after.as_millis()),
            std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"),
        )
    }

    /// Marks a failed push whose fate is unknown: an attempt of it may have
    /// been stored before it failed (a 500, 502 or 504, another 5xx, a
    /// connection lost or a timeout after the whole body went out). The
    /// message says so, as a fact: what to do about it is in
    /// [`may_have_been_stored`](Self::may_have_been_stored)'s docs, and a
    /// program (the CLI, a web page) adds the advice its own user can follow.
    /// `resent` says whether the caller opted in to sending such a push again.
    pub(crate) fn mark_may_have_been_stored(mut self, resent: bool) -> Self {
        if !self.inner.may_have_been_stored {
            self.inner.may_have_been_stored = true;
            self.inner.message.push_str(if resent {
                ": the push may have been stored, even more than once"
            } else {
                ": the push may have been stored"
            });
        }
        self
    }

    /// Marks a failed refresh whose fate is unknown: digi.me may have
    /// performed it (and spent the refresh token) before the failure. The
    /// error carries `attempted_with`, the token the refresh was attempted
    /// with, as the token to store.
    pub(crate) fn mark_refresh_may_have_happened(
        mut self,
        attempted_with: crate::token::UserAccessToken,
    ) -> Self {
        self.inner.refresh_may_have_happened = true;
        self.inner.token = Some(Box::new(attempted_with));
        self.inner
            .message
            .push_str(": the refresh may have happened");
        self
    }

    /// Marks a failed code exchange whose fate is unknown: digi.me may
    /// have spent the single-use code before the failure.
    pub(crate) fn mark_code_exchange_may_have_happened(mut self) -> Self {
        self.inner.refresh_may_have_happened = true;
        self.inner
            .message
            .push_str(": the code exchange may have happened");
        self
    }

    /// True when a push failed in a way that does not tell whether digi.me
    /// stored it: one of its attempts got a `500`, `502`, `504` or another
    /// 5xx the SDK cannot classify, or lost its connection (or timed out)
    /// after the whole body was sent. It stays true even when a later
    /// attempt failed cleanly. The SDK does not send such a push again
    /// unless [`DigiMeBuilder::retry_ambiguous_pushes`](crate::DigiMeBuilder::retry_ambiguous_pushes)
    /// is on (then the message says it may have been stored even more than
    /// once); the message says the push may have been stored.
    ///
    /// What to do: pushing the same data again may leave a duplicate in the
    /// user's library. Reconcile first where you can (data that carries its
    /// own identity, such as a FHIR resource id or a descriptor `reference`,
    /// lets you recognise a duplicate), or push again accepting one. When a
    /// duplicate always costs less than a missing record, opt in to
    /// at-least-once delivery with
    /// [`DigiMeBuilder::retry_ambiguous_pushes(true)`](crate::DigiMeBuilder::retry_ambiguous_pushes).
    ///
    /// False means the push was certainly not stored (the server refused it
    /// or said it did not handle it, or it never left this machine in
    /// full), or the error is not a push's: pushing it again, once the
    /// cause is fixed, stores it once.
    ///
    /// ```
    /// # fn handle(err: &digime::Error) {
    /// if err.may_have_been_stored() {
    ///     // Reconcile before pushing again: a second push may store a duplicate.
    /// }
    /// # }
    /// ```
    pub fn may_have_been_stored(&self) -> bool {
        self.inner.may_have_been_stored
    }

    /// True when a call to `oauth/token` failed in a way that does not tell
    /// whether digi.me performed it: a refresh (or a code exchange) got a
    /// `500`, `502`, `504` or another unclassified 5xx, lost its connection
    /// or timed out once sent, or was answered with a token that could not
    /// be read or verified. The SDK does not send it again: a refresh token
    /// and a code work once.
    ///
    /// After a refresh, the error carries the token the refresh was
    /// attempted with ([`user_access_token`](Self::user_access_token)):
    /// store it (nothing newer is known). If digi.me did perform the
    /// refresh, its refresh token is spent, and the next refresh asks for
    /// the user to be authorized again
    /// ([`ErrorKind::ReauthorizationRequired`]). After a code exchange, the
    /// code may be spent: authorize the user again if exchanging it once
    /// more fails.
    ///
    /// ```
    /// # fn handle(err: &digime::Error) {
    /// if err.refresh_may_have_happened() {
    ///     if let Some(token) = err.user_access_token() {
    ///         // store `token`; it may or may not still refresh
    /// #       let _ = token;
    ///     }
    /// }
    /// # }
    /// ```
    pub fn refresh_may_have_happened(&self) -> bool {
        self.inner.refresh_may_have_happened
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(std::sync::Arc::from(source.into()));
        self
    }

    /// An [`ErrorKind::TokenStore`] error naming `store` (never with a
    /// password) and saying what failed: what a
    /// [`TokenStore`](crate::store::TokenStore) implementation returns
    /// when its database fails. The only public constructor of [`Error`]:
    /// every other error comes from the SDK itself.
    ///
    /// ```
    /// let err = digime::Error::token_store("redis://cache:6379", "the connection was refused");
    /// assert_eq!(err.kind(), digime::ErrorKind::TokenStore);
    /// assert_eq!(err.to_string(), "token store redis://cache:6379: the connection was refused");
    /// ```
    pub fn token_store(store: impl fmt::Display, what: impl fmt::Display) -> Self {
        Self::new(
            ErrorKind::TokenStore,
            format!("token store {store}: {what}"),
        )
    }

    /// What kind of error this is.
    ///
    /// ```
    /// let err = digime::DigiMe::builder().application_id("").build().unwrap_err();
    /// assert_eq!(err.kind(), digime::ErrorKind::InvalidInput);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// For [`ErrorKind::InvalidInput`], the name of the field that was wrong.
    ///
    /// ```
    /// let err = digime::DigiMe::builder().application_id("").build().unwrap_err();
    /// assert_eq!(err.field(), Some("application_id"));
    /// ```
    pub fn field(&self) -> Option<&'static str> {
        self.inner.field
    }

    /// The server's answer, for [`ErrorKind::Server`] and
    /// [`ErrorKind::ReauthorizationRequired`].
    ///
    /// ```
    /// # fn show(err: &digime::Error) {
    /// if let Some(s) = err.server() { eprintln!("{:?} ref {:?}", s.code(), s.reference()); }
    /// # }
    /// ```
    pub fn server(&self) -> Option<&ServerError> {
        self.inner.server.as_ref()
    }

    /// The HTTP status of a server error.
    ///
    /// ```
    /// # fn show(err: &digime::Error) {
    /// if err.status() == Some(403) { eprintln!("is this a write contract?"); }
    /// # }
    /// ```
    pub fn status(&self) -> Option<u16> {
        self.inner.server.as_ref().map(ServerError::status)
    }

    /// The server's error code, such as `InsufficientScope`; for
    /// [`ErrorKind::AuthorizationFailed`], the callback's `errorCode`.
    ///
    /// ```
    /// # fn show(err: &digime::Error) {
    /// if err.code() == Some("InsufficientScope") { eprintln!("not a write contract"); }
    /// # }
    /// ```
    pub fn code(&self) -> Option<&str> {
        self.inner
            .server
            .as_ref()
            .and_then(ServerError::code)
            .or(self.inner.callback_code.as_deref())
    }

    pub(crate) fn retry_after(&self) -> Option<std::time::Duration> {
        self.inner
            .server
            .as_ref()
            .and_then(ServerError::retry_after)
    }

    /// True when the user must consent again: the refresh token was
    /// rejected. Send them through [`DigiMe::reauthorize`](crate::DigiMe::reauthorize).
    ///
    /// ```
    /// # fn show(err: &digime::Error) {
    /// if err.is_reauthorization_required() { /* redirect the user to sdk.reauthorize(..)'s URL */ }
    /// # }
    /// ```
    pub fn is_reauthorization_required(&self) -> bool {
        self.inner.kind == ErrorKind::ReauthorizationRequired
    }

    /// True when digi.me rejected this SDK (`SDKInvalid`).
    ///
    /// ```
    /// # fn show(err: &digime::Error) { assert!(!(err.is_sdk_invalid() && err.is_sdk_version_invalid())); }
    /// ```
    pub fn is_sdk_invalid(&self) -> bool {
        self.code() == Some("SDKInvalid")
    }

    /// True when digi.me rejected this SDK's version (`SDKVersionInvalid`).
    ///
    /// ```
    /// # fn show(err: &digime::Error) { if err.is_sdk_version_invalid() { eprintln!("upgrade digime"); } }
    /// ```
    pub fn is_sdk_version_invalid(&self) -> bool {
        self.code() == Some("SDKVersionInvalid")
    }

    /// True for a timeout while connecting or waiting for the server.
    ///
    /// ```
    /// # fn show(err: &digime::Error) { if err.is_timeout() { eprintln!("digi.me is slow"); } }
    /// ```
    pub fn is_timeout(&self) -> bool {
        let mut source = self
            .inner
            .source
            .as_deref()
            .map(|s| s as &dyn std::error::Error);
        while let Some(err) = source {
            if let Some(req) = err.downcast_ref::<reqwest::Error>()
                && req.is_timeout()
            {
                return true;
            }
            if let Some(io) = err.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::TimedOut
            {
                return true;
            }
            source = err.source();
        }
        false
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("digime::Error");
        d.field("kind", &self.inner.kind);
        d.field("message", &self.inner.message);
        if let Some(field) = self.inner.field {
            d.field("field", &field);
        }
        if let Some(server) = &self.inner.server {
            d.field("server", server);
        }
        if let Some(code) = &self.inner.callback_code {
            d.field("error_code", code);
        }
        if self.inner.may_have_been_stored {
            d.field("may_have_been_stored", &true);
        }
        if self.inner.refresh_may_have_happened {
            d.field("refresh_may_have_happened", &true);
        }
        if let Some(token) = &self.inner.token {
            d.field("user_access_token", token);
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests;
