//! Reading responses and mapping error responses.

use std::time::Duration;

/// How long a call waits for digi.me's next byte by default (see
/// `DigiMeBuilder::read_timeout`).
pub(crate) const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result, ServerError};

/// The most of a successful answer this SDK reads (a defence against a
/// runaway server; digi.me's answers are small).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The most of a small answer this SDK reads: an error body, the key set.
pub(crate) const MAX_SMALL_BODY: usize = 64 * 1024;

/// A response read in full.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    /// Parses the body as JSON, naming the endpoint on failure.
    pub(crate) fn json<T: DeserializeOwned>(&self, endpoint: &str) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::invalid_response(format!(
                // The category and place only: serde's message can quote a
                // value, and a value here may be a token.
                "{endpoint} answered {} with a body that is not the expected JSON \
                 ({:?} error at line {}, column {})",
                self.status.as_u16(),
                e.classify(),
                e.line(),
                e.column()
            ))
        })
    }
}

/// Reads a small answer (the key set) whole, up to [`MAX_SMALL_BODY`]; a
/// larger one is an error naming the cap. (The client behind `response`
/// carries its own read timeout: see `DigiMeBuilder::build`.)
pub(crate) async fn read_small(mut response: reqwest::Response, endpoint: &str) -> Result<Reply> {
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let idle = DEFAULT_READ_TIMEOUT;
    match read_body(&mut response, endpoint, idle, MAX_SMALL_BODY).await? {
        Some(body) => Ok(Reply {
            status,
            headers,
            body,
        }),
        None => Err(Error::invalid_response(format!(
            "{endpoint} sent a body over the {} KiB cap",
            MAX_SMALL_BODY / 1024
        ))),
    }
}

/// Reads an API answer whole: a success up to [`MAX_BODY`], an error body
/// up to [`MAX_SMALL_BODY`]. Each chunk must arrive within `idle`: a server
/// that stops sending mid-body fails the read.
///
/// An error body over its cap is not read: the error keeps the status and
/// the `X-Error-*` headers, and its message names the cap.
pub(crate) async fn read_within(
    mut response: reqwest::Response,
    endpoint: &str,
    idle: Duration,
) -> Result<Reply> {
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let cap = if status.is_success() {
        MAX_BODY
    } else {
        MAX_SMALL_BODY
    };
    match read_body(&mut response, endpoint, idle, cap).await? {
        Some(body) => Ok(Reply {
            status,
            headers,
            body,
        }),
        None if status.is_success() => Err(Error::invalid_response(format!(
            "{endpoint} sent a response body over {MAX_BODY} bytes"
        ))),
        None => Err(Error::from_server_body_over_cap(
            parse_server_error(status.as_u16(), &headers, b""),
            cap,
        )),
    }
}

/// The body, or `None` when it is over `cap` bytes (reading stops there).
async fn read_body(
    response: &mut reqwest::Response,
    endpoint: &str,
    idle: Duration,
    cap: usize,
) -> Result<Option<Bytes>> {
    let mut body = Vec::new();
    loop {
        let chunk = match tokio::time::timeout(idle, response.chunk()).await {
            Ok(chunk) => chunk.map_err(|e| {
                Error::transport(format_args!("reading the response of {endpoint}"), e)
            })?,
            Err(_) => {
                return Err(Error::timed_out(
                    format_args!("reading the response of {endpoint}"),
                    idle,
                ));
            }
        };
        let Some(chunk) = chunk else { break };
        if body.len() + chunk.len() > cap {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(Bytes::from(body)))
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorFields,
}

#[derive(Deserialize)]
struct ErrorFields {
    code: Option<String>,
    message: Option<String>,
    reference: Option<String>,
}

/// The server error an error reply carries: from the JSON body
/// `{"error":{…}}` when it parses, else from the `X-Error-*` headers, else
/// just the status. Never fails, whatever the body holds.
pub(crate) fn server_error(reply: &Reply) -> Error {
    Error::from_server(parse_server_error(
        reply.status.as_u16(),
        &reply.headers,
        &reply.body,
    ))
}

pub(crate) fn parse_server_error(status: u16, headers: &HeaderMap, body: &[u8]) -> ServerError {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .filter(|s| !s.is_empty())
    };
    let from_body = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let (code, message, reference) = match from_body {
        Some(f) => (f.code, f.message, f.reference),
        None => (None, None, None),
    };
    ServerError::new(
        status,
        code.or_else(|| header("x-error-code")),
        message.or_else(|| header("x-error-message")),
        reference.or_else(|| header("x-error-reference")),
    )
    .with_retry_after(header("retry-after").as_deref().and_then(retry_after))
}

/// A `Retry-After` value as a wait: delay-seconds, or an HTTP-date (a date
/// already past is no wait). `None` when it is neither.
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn body_fields_win_and_headers_fill_gaps() {
        let mut headers = HeaderMap::new();
        headers.insert("x-error-code", HeaderValue::from_static("FromHeader"));
        headers.insert("x-error-reference", HeaderValue::from_static("ref-h"));
        let body = br#"{"error":{"code":"InvalidToken","message":"expired"}}"#;
        let e = parse_server_error(401, &headers, body);
        assert_eq!(e.code(), Some("InvalidToken"));
        assert_eq!(e.message(), Some("expired"));
        assert_eq!(e.reference(), Some("ref-h"));
    }

    fn retry_after_of(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_str(value).unwrap());
        parse_server_error(503, &headers, b"").retry_after()
    }

    #[test]
    fn retry_after_is_read_in_seconds_or_as_an_http_date() {
        assert_eq!(retry_after_of("7"), Some(Duration::from_secs(7)));
        assert_eq!(retry_after_of(" 120 "), Some(Duration::from_secs(120)));
        // An HTTP-date 20 s ahead (whole seconds; wide bounds for a busy
        // machine).
        let at = std::time::SystemTime::now() + Duration::from_secs(20);
        let wait = retry_after_of(&httpdate::fmt_http_date(at)).expect("an HTTP-date");
        assert!(
            wait > Duration::from_secs(10) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        // Two minutes ahead: the caller gets it (the retry policy caps it).
        let at = std::time::SystemTime::now() + Duration::from_secs(120);
        let wait = retry_after_of(&httpdate::fmt_http_date(at)).expect("an HTTP-date");
        assert!(wait > Duration::from_secs(100), "{wait:?}");
        // A date already past means "now"; other forms are ignored.
        assert_eq!(
            retry_after_of("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after_of("soon"), None);
        assert_eq!(retry_after_of("-5"), None);
    }

    #[test]
    fn html_or_empty_bodies_keep_the_status() {
        let e = parse_server_error(502, &HeaderMap::new(), b"<html>Bad gateway</html>");
        assert_eq!((e.status(), e.code()), (502, None));
        let e = parse_server_error(404, &HeaderMap::new(), b"");
        assert_eq!((e.status(), e.code()), (404, None));
    }
}
