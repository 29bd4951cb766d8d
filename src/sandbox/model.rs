//! The public data types of the sandbox: faults, library entries, provider
//! pushes and request records.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// A fault to inject into the next matching requests.
///
/// A fault matches a request whose path, relative to the base URL (such as
/// `permission-access/import` or `oauth/token`), equals [`path`](Self::path)
/// or starts with `path + "/"`, and whose method equals
/// [`method`](Self::method) when that is set. The onboard page matches as
/// `apps/saas/authorize`. Control routes (`/sandbox/...`) never match.
///
/// What happens, in order: wait [`delay_ms`](Self::delay_ms) when set; then
/// drop the connection when [`drop_connection`](Self::drop_connection) is
/// set, or answer [`status`](Self::status) when set, or handle the request
/// normally (a pure delay). With [`after_handling`](Self::after_handling) the
/// request is handled first (a push is stored) and only its response is
/// replaced by the fault.
///
/// Its JSON form is the body of `POST /sandbox/faults`:
///
/// ```
/// use digime::sandbox::{Fault, FaultBody};
/// let fault: Fault = serde_json::from_str(
///     r#"{"path":"permission-access/import","count":2,"status":503,"retry_after":1}"#,
/// ).unwrap();
/// assert_eq!(fault, Fault::with_status("permission-access/import", 503).times(2).with_retry_after(1));
/// assert_eq!(fault.body, FaultBody::Json);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fault {
    /// The path the fault applies to, relative to the base URL, such as
    /// `permission-access/import`.
    pub path: String,
    /// Only requests with this HTTP method (case-insensitive), when set.
    pub method: Option<String>,
    /// How many matching requests get the fault (default 1).
    pub count: u32,
    /// Answer with this HTTP status.
    pub status: Option<u16>,
    /// With `status`: a `Retry-After` header, in seconds.
    pub retry_after: Option<u64>,
    /// With `status`: the error code (default: derived from the status, such
    /// as `ServiceUnavailable`).
    pub code: Option<String>,
    /// With `status`: the error message.
    pub message: Option<String>,
    /// With `status`: the error reference (default: a fresh one).
    pub reference: Option<String>,
    /// With `status`: the shape of the error response.
    pub body: FaultBody,
    /// Wait this long (milliseconds) before doing anything else.
    pub delay_ms: Option<u64>,
    /// Close the TCP connection without any response.
    pub drop_connection: bool,
    /// Handle the request normally first (a push is stored), then replace
    /// its response by the fault.
    pub after_handling: bool,
}

impl Default for Fault {
    fn default() -> Self {
        Self {
            path: String::new(),
            method: None,
            count: 1,
            status: None,
            retry_after: None,
            code: None,
            message: None,
            reference: None,
            body: FaultBody::Json,
            delay_ms: None,
            drop_connection: false,
            after_handling: false,
        }
    }
}

impl Fault {
    /// The next request to `path` gets the HTTP `status` (in the documented
    /// error shape, see [`FaultBody`]).
    ///
    /// ```
    /// let fault = digime::sandbox::Fault::with_status("oauth/token", 429).with_retry_after(2);
    /// assert_eq!(fault.status, Some(429));
    /// ```
    pub fn with_status(path: impl Into<String>, status: u16) -> Self {
        Self {
            path: path.into(),
            status: Some(status),
            ..Self::default()
        }
    }

    /// The next request to `path` waits `delay` before it is handled.
    ///
    /// ```
    /// use std::time::Duration;
    /// let fault = digime::sandbox::Fault::with_delay("permission-access/import", Duration::from_secs(3));
    /// assert_eq!(fault.delay_ms, Some(3000));
    /// ```
    pub fn with_delay(path: impl Into<String>, delay: Duration) -> Self {
        Self {
            path: path.into(),
            delay_ms: Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
            ..Self::default()
        }
    }

    /// The next request to `path` has its TCP connection closed, with no
    /// response at all.
    ///
    /// ```
    /// let fault = digime::sandbox::Fault::dropping_connection("permission-access/import");
    /// assert!(fault.drop_connection);
    /// ```
    pub fn dropping_connection(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            drop_connection: true,
            ..Self::default()
        }
    }

    /// Applies to the next `count` matching requests instead of one.
    ///
    /// ```
    /// let fault = digime::sandbox::Fault::with_status("oauth/token", 503).times(3);
    /// assert_eq!(fault.count, 3);
    /// ```
    pub fn times(mut self, count: u32) -> Self {
        self.count = count;
        self
    }

    /// Only requests with this method match (`"POST"`, `"GET"`, ...).
    ///
    /// ```
    /// let fault = digime::sandbox::Fault::with_status("user", 500).for_method("DELETE");
    /// assert_eq!(fault.method.as_deref(), Some("DELETE"));
    /// ```
    pub fn for_method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// Adds a `Retry-After: secs` header to a status fault.
    ///
    /// ```
    /// let fault = digime::sandbox::Fault::with_status("oauth/token", 503).with_retry_after(1);
    /// assert_eq!(fault.retry_after, Some(1));
    /// ```
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Sets the error code of a status fault, such as `InvalidToken`.
    ///
    /// ```
    /// let fault = digime::sandbox::Fault::with_status("permission-access/import", 401).with_code("InvalidToken");
    /// assert_eq!(fault.code.as_deref(), Some("InvalidToken"));
    /// ```
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the error message of a status fault.
    ///
    /// ```
    /// let fault = digime::sandbox::Fault::with_status("oauth/token", 500).with_message("boom");
    /// assert_eq!(fault.message.as_deref(), Some("boom"));
    /// ```
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Sets the shape of a status fault's response.
    ///
    /// ```
    /// use digime::sandbox::{Fault, FaultBody};
    /// let fault = Fault::with_status("oauth/token", 502).with_body(FaultBody::Html);
    /// assert_eq!(fault.body, FaultBody::Html);
    /// ```
    pub fn with_body(mut self, body: FaultBody) -> Self {
        self.body = body;
        self
    }

    /// Handles the request first (a push is stored), then replaces the
    /// response by the fault: "the server stored it, but the client never
    /// heard".
    ///
    /// ```
    /// let fault = digime::sandbox::Fault::dropping_connection("permission-access/import").after_handling();
    /// assert!(fault.after_handling);
    /// ```
    pub fn after_handling(mut self) -> Self {
        self.after_handling = true;
        self
    }
}

/// The shape of a status fault's response.
///
/// ```
/// let body: digime::sandbox::FaultBody = serde_json::from_str(r#""malformed""#).unwrap();
/// assert_eq!(body, digime::sandbox::FaultBody::Malformed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FaultBody {
    /// The documented error shape `{"error":{"code","message","reference"}}`
    /// plus the `X-Error-*` headers.
    #[default]
    Json,
    /// The `X-Error-*` headers only, with an empty body.
    Headers,
    /// An HTML error page (`text/html`), as a proxy would send.
    Html,
    /// A body that claims to be JSON but does not parse.
    Malformed,
    /// The status alone: no body, no `X-Error-*` headers.
    Empty,
    /// A JSON answer shaped like success, `{"token": "…"}`, whose token is
    /// no JWT the sandbox signed: for testing what a client does when it
    /// cannot verify digi.me's JWT (use it with a 2xx `status`).
    Unverifiable,
}

/// A file pushed into a user's library (`POST permission-access/import`).
///
/// ```no_run
/// # async fn run(sandbox: digime::sandbox::Sandbox) {
/// for entry in sandbox.library("user-1") {
///     println!("{} {} bytes sha256={}", entry.mime_type, entry.size, entry.sha256);
/// }
/// # }
/// ```
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LibraryEntry {
    /// `metadata.mimeType` from the FileDescriptor.
    pub mime_type: String,
    /// The body's size in bytes.
    pub size: u64,
    /// The body's SHA-256, lowercase hex.
    pub sha256: String,
    /// The descriptor's `metadata` object, as received.
    pub descriptor: serde_json::Value,
    /// The body, when its size is within the sandbox's cap
    /// ([`SandboxBuilder::keep_bytes_up_to`](super::SandboxBuilder::keep_bytes_up_to)).
    #[serde(skip)]
    pub bytes: Option<Vec<u8>>,
    /// The application that pushed it.
    pub app_id: String,
    /// The contract that pushed it.
    pub contract_id: String,
    /// When it was stored. Its JSON (`receivedAtMs`) is milliseconds since
    /// the Unix epoch.
    #[serde(
        rename = "receivedAtMs",
        serialize_with = "crate::time::epoch_ms::serialize"
    )]
    pub received_at: SystemTime,
}

impl fmt::Debug for LibraryEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LibraryEntry")
            .field("mime_type", &self.mime_type)
            .field("size", &self.size)
            .field("sha256", &self.sha256)
            .field("descriptor", &self.descriptor)
            .field("bytes_kept", &self.bytes.as_ref().map(Vec::len))
            .field("app_id", &self.app_id)
            .field("contract_id", &self.contract_id)
            .finish()
    }
}

/// A FHIR record pushed to a provider account
/// (`POST permission-access/import/h:accountId/{standard}/{version}`).
///
/// ```no_run
/// # fn run(sandbox: digime::sandbox::Sandbox) {
/// for push in sandbox.provider_pushes("user-1") {
///     println!("{} {}/{} {}", push.account_id, push.standard, push.version, push.body["resourceType"]);
/// }
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ProviderEntry {
    /// The `accountId` header.
    pub account_id: String,
    /// The standard from the path (`fhir`).
    pub standard: String,
    /// The version from the path (`stu3` or `3.0.2`).
    pub version: String,
    /// SHA-256 of the body bytes, lowercase hex.
    pub sha256: String,
    /// The body (a JSON object).
    pub body: serde_json::Value,
    /// The application that pushed it.
    pub app_id: String,
    /// The contract that pushed it.
    pub contract_id: String,
    /// When it was stored. Its JSON (`receivedAtMs`) is milliseconds since
    /// the Unix epoch.
    #[serde(
        rename = "receivedAtMs",
        serialize_with = "crate::time::epoch_ms::serialize"
    )]
    pub received_at: SystemTime,
}

/// One request the sandbox received, as `sandbox.requests()` and
/// `GET /sandbox/requests` report it.
///
/// Secret claim values (`access_token`, `refresh_token`, `code`,
/// `code_verifier`) are replaced by `"[redacted]"`.
///
/// ```no_run
/// # fn run(sandbox: digime::sandbox::Sandbox) {
/// let pushes = sandbox.requests().into_iter().filter(|r| r.path == "permission-access/import").count();
/// # let _ = pushes; }
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RequestRecord {
    /// The HTTP method.
    pub method: String,
    /// The path: relative to the base URL for API calls
    /// (`permission-access/import`), the full path otherwise
    /// (`/apps/saas/authorize`, `/sandbox/faults`).
    pub path: String,
    /// The response status; `0` when the connection was dropped by a fault.
    pub status: u16,
    /// The error code sent, if any.
    pub code: Option<String>,
    /// The Bearer JWT's claims, secrets redacted; `null` without a readable JWT.
    pub claims: serde_json::Value,
    /// The JWT's nonce, when readable.
    pub nonce: Option<String>,
    /// The request header names, lowercase.
    pub headers: Vec<String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The `Content-Length` header, when the request had a readable one: the
    /// size of the body the client announced, known even when the body was
    /// never read (a fault answered first).
    pub content_length: Option<u64>,
    /// The body size in bytes, when the body was read.
    pub body_size: Option<u64>,
    /// The body's SHA-256 (lowercase hex), when the body was read.
    pub body_sha256: Option<String>,
    /// The fault applied, if any (`"status"`, `"delay"`, `"drop_connection"`).
    pub fault: Option<String>,
    /// When the request arrived. Its JSON (`received_at_ms`) is
    /// milliseconds since the Unix epoch.
    #[serde(
        rename = "received_at_ms",
        serialize_with = "crate::time::epoch_ms::serialize"
    )]
    pub received_at: SystemTime,
}
