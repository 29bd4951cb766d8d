//! [`ServerError`]: what digi.me said about a failed call.

use std::fmt;

/// The error details digi.me sent with an error response.
///
/// The code, message and reference come from the JSON body
/// `{"error":{"code","message","reference"}}` or, when the body has none,
/// from the `X-Error-Code`, `X-Error-Message` and `X-Error-Reference` headers.
///
/// ```
/// # fn show(err: &digime::Error) {
/// if let Some(server) = err.server() {
///     println!("{} {:?} {:?} ref={:?}", server.status(), server.code(), server.message(), server.reference());
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "HTTP {status}{}{}{}",
    part(" ", .code, ""),
    part(": ", .message, ""),
    part(" (reference ", .reference, ")")
)]
pub struct ServerError {
    status: u16,
    code: Option<String>,
    message: Option<String>,
    reference: Option<String>,
    retry_after: Option<std::time::Duration>,
}

impl ServerError {
    pub(crate) fn new(
        status: u16,
        code: Option<String>,
        message: Option<String>,
        reference: Option<String>,
    ) -> Self {
        Self {
            status,
            code,
            message,
            reference,
            retry_after: None,
        }
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<std::time::Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// How long the server asked the client to wait (`Retry-After`), if it
    /// did.
    ///
    /// ```
    /// # fn show(s: &digime::ServerError) { if let Some(d) = s.retry_after() { println!("wait {d:?}"); } }
    /// ```
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.retry_after
    }

    /// The HTTP status code, such as `401`.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The server's error code, such as `InvalidToken`, when it sent one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The server's message, when it sent one.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The server's reference for this error (quote it to digi.me support).
    pub fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }
}

/// `prefix` then the value, or nothing: the optional parts of a
/// [`ServerError`]'s message.
fn part<'a>(prefix: &'a str, value: &'a Option<String>, suffix: &'a str) -> impl fmt::Display + 'a {
    struct Part<'a>(&'a str, &'a Option<String>, &'a str);
    impl fmt::Display for Part<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self.1 {
                Some(v) => write!(f, "{}{v}{}", self.0, self.2),
                None => Ok(()),
            }
        }
    }
    Part(prefix, value, suffix)
}
