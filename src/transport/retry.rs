//! The retry policy: which failures are retried, and how long to wait.

use std::time::Duration;

use reqwest::StatusCode;

use super::response::Reply;
use crate::error::{Error, ErrorKind, Result};

/// The longest a `Retry-After` header is honoured.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
const BASE_DELAY: Duration = Duration::from_millis(200);

/// What to do after an attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Return,
    RetryAfter(Duration),
}

/// Retries connection failures, 429, 502, 503 and 504; and any 5xx for a
/// call without side effects (`idempotent`). A push (`side_effect`) is not
/// retried after a 500, since the server may have stored it.
pub(crate) fn decide(
    outcome: &Result<Reply>,
    idempotent: bool,
    side_effect: bool,
    attempt: u32,
    max_retries: u32,
) -> Decision {
    if attempt > max_retries {
        return Decision::Return;
    }
    let err = match outcome {
        Ok(_) => return Decision::Return,
        Err(err) => err,
    };
    let retryable = match err.kind() {
        ErrorKind::Transport => is_connect_error(err) || !side_effect,
        ErrorKind::Server => match err.status().and_then(|s| StatusCode::from_u16(s).ok()) {
            Some(StatusCode::TOO_MANY_REQUESTS)
            | Some(StatusCode::BAD_GATEWAY)
            | Some(StatusCode::SERVICE_UNAVAILABLE)
            | Some(StatusCode::GATEWAY_TIMEOUT) => true,
            Some(s) if s.is_server_error() => idempotent && !side_effect,
            _ => false,
        },
        _ => false,
    };
    if !retryable {
        return Decision::Return;
    }
    let wait = err
        .retry_after()
        .map(|d| d.min(MAX_RETRY_AFTER))
        .unwrap_or_else(|| backoff(attempt));
    Decision::RetryAfter(wait)
}

/// Exponential backoff with full jitter: a random wait in
/// `[0, BASE * 2^(attempt-1)]`, at least 10 ms.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let cap = BASE_DELAY.saturating_mul(1u32 << attempt.saturating_sub(1).min(8));
    let mut byte = [0u8; 2];
    let _ = aws_lc_rs::rand::fill(&mut byte);
    let fraction = u16::from_le_bytes(byte) as f64 / u16::MAX as f64;
    cap.mul_f64(fraction).max(Duration::from_millis(10))
}

/// A failure to connect: nothing reached the server, so any call may be
/// sent again.
fn is_connect_error(err: &Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(req) = e.downcast_ref::<reqwest::Error>() {
            if req.is_connect() {
                return true;
            }
        }
        source = e.source();
    }
    false
}
