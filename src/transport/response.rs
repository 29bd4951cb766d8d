//! Reading responses and mapping error responses.

use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result, ServerError};

/// The most of a response body this SDK reads (a defence against a runaway
/// server; digi.me's answers are small).
const MAX_BODY: usize = 16 * 1024 * 1024;

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

/// Reads the whole body, up to [`MAX_BODY`]. (The client behind `response`
/// carries its own read timeout: see `DigiMeBuilder::build`.)
pub(crate) async fn read(response: reqwest::Response, endpoint: &str) -> Result<Reply> {
    read_within(response, endpoint, crate::client::DEFAULT_READ_TIMEOUT).await
}

/// Reads the whole body, up to [`MAX_BODY`]. Each chunk must arrive within
/// `idle`: a server that stops sending mid-body fails the read.
pub(crate) async fn read_within(
    mut response: reqwest::Response,
    endpoint: &str,
    idle: Duration,
) -> Result<Reply> {
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
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
        if body.len() + chunk.len() > MAX_BODY {
            return Err(Error::invalid_response(format!(
                "{endpoint} sent a response body over {MAX_BODY} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Reply {
        status,
        headers,
        body: Bytes::from(body),
    })
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
    .with_retry_after(
        header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(std::time::Duration::from_secs),
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

    #[test]
    fn html_or_empty_bodies_keep_the_status() {
        let e = parse_server_error(502, &HeaderMap::new(), b"<html>Bad gateway</html>");
        assert_eq!((e.status(), e.code()), (502, None));
        let e = parse_server_error(404, &HeaderMap::new(), b"");
        assert_eq!((e.status(), e.code()), (404, None));
    }
}
