//! The retry policy: which failures are retried, and how long to wait.
//!
//! | failure | read (GET) | other call | push / delete (side effect) |
//! | --- | --- | --- | --- |
//! | could not connect; body not sent in full | retry | retry | retry |
//! | 429, 502, 503, 504 | retry | retry | retry |
//! | other 5xx (500, …) | retry | return | return, *may have been stored* |
//! | connection lost or timeout after the body went out | retry | retry | return, *may have been stored* |
//! | anything else (4xx, bad response) | return | return | return |
//!
//! "The body went out" means every byte of a body of known length. A stream
//! of unknown length (sent chunked, and never retried since it is one-shot)
//! counts as out once any byte of it, or its end, was handed over: a failure
//! after that is ambiguous for a push.
//!
//! A side-effect call is retried after an ambiguous failure only when the
//! caller opted in (`retry_ambiguous_pushes`). The wait is the server's
//! `Retry-After` when it is at most [`MAX_RETRY_AFTER`] (a longer one is not
//! retried: the error carries it), else exponential backoff with full
//! jitter.

use std::time::Duration;

use reqwest::StatusCode;

use super::response::Reply;
use crate::error::{Error, ErrorKind, Result};

/// The longest `Retry-After` the SDK waits for. A server asking for more
/// gets its error returned, with [`ServerError::retry_after`](crate::ServerError::retry_after).
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// The first backoff's upper bound; it doubles with each attempt.
const BASE_DELAY: Duration = Duration::from_millis(200);
/// The upper bound of any backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What the policy needs to know about a call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// A read (GET): any 5xx and any lost response may be retried.
    pub(crate) idempotent: bool,
    /// The server may act on the request (a push, a delete): a failure after
    /// the request went out in full is ambiguous.
    pub(crate) side_effect: bool,
    /// Retry after an ambiguous failure anyway (the caller opted in).
    pub(crate) retry_ambiguous: bool,
    pub(crate) max_retries: u32,
}

/// What one attempt did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttemptInfo {
    /// 1 for the first attempt.
    pub(crate) attempt: u32,
    /// The server may have the whole request: the body went out in full
    /// (always true without a body), or, for a stream of unknown length
    /// sent chunked, any byte of it did (the server reads such a body as it
    /// comes). When false, the server cannot have acted on the request.
    pub(crate) body_sent: bool,
}

/// What to do after an attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Return the outcome as it is.
    Return,
    /// Return the error, marked "may have been stored".
    ReturnAmbiguous,
    /// Wait, then try again. `ambiguous`: this attempt may have been acted on.
    RetryAfter { wait: Duration, ambiguous: bool },
}

/// Decides what follows an attempt.
pub(crate) fn decide(outcome: &Result<Reply>, info: AttemptInfo, policy: Policy) -> Decision {
    let err = match outcome {
        Ok(_) => return Decision::Return,
        Err(err) => err,
    };
    let (retryable, ambiguous) = classify(err, info, policy);
    let ambiguous = ambiguous && policy.side_effect;
    let retryable = retryable && (!ambiguous || policy.retry_ambiguous);
    let wait = match err.retry_after() {
        Some(asked) if asked > MAX_RETRY_AFTER => None,
        Some(asked) => Some(asked),
        None => Some(backoff(info.attempt)),
    };
    match wait {
        Some(wait) if retryable && info.attempt <= policy.max_retries => {
            Decision::RetryAfter { wait, ambiguous }
        }
        _ if ambiguous => Decision::ReturnAmbiguous,
        _ => Decision::Return,
    }
}

/// `(retryable, ambiguous)` for a failed attempt, before the opt-in.
fn classify(err: &Error, info: AttemptInfo, policy: Policy) -> (bool, bool) {
    match err.kind() {
        // Nothing reached the server, or not all of the body did: it cannot
        // have acted on the request.
        ErrorKind::Transport if is_connect_error(err) || !info.body_sent => (true, false),
        // The request went out; the response was lost or late.
        ErrorKind::Transport => (true, true),
        ErrorKind::Server => match err.status().and_then(|s| StatusCode::from_u16(s).ok()) {
            Some(
                StatusCode::TOO_MANY_REQUESTS
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT,
            ) => (true, false),
            // A 500 may come after the server acted: ambiguous for a push;
            // a read may always try again.
            Some(s) if s.is_server_error() => (policy.idempotent || policy.side_effect, true),
            _ => (false, false),
        },
        _ => (false, false),
    }
}

/// Exponential backoff with full jitter: a random wait in
/// `[0, min(BASE * 2^(attempt-1), MAX_BACKOFF)]`, at least 10 ms.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let cap = BASE_DELAY
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let mut bytes = [0u8; 2];
    let fraction = match aws_lc_rs::rand::fill(&mut bytes) {
        Ok(()) => f64::from(u16::from_le_bytes(bytes)) / f64::from(u16::MAX),
        Err(_) => 0.5,
    };
    cap.mul_f64(fraction).max(Duration::from_millis(10))
}

/// A failure to connect: nothing reached the server, so any call may be
/// sent again.
fn is_connect_error(err: &Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(req) = e.downcast_ref::<reqwest::Error>()
            && req.is_connect()
        {
            return true;
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServerError;

    const PUSH: Policy = Policy {
        idempotent: false,
        side_effect: true,
        retry_ambiguous: false,
        max_retries: 2,
    };
    const READ: Policy = Policy {
        idempotent: true,
        side_effect: false,
        retry_ambiguous: false,
        max_retries: 2,
    };
    const TOKEN: Policy = Policy {
        idempotent: false,
        side_effect: false,
        retry_ambiguous: false,
        max_retries: 2,
    };

    fn status(code: u16, retry_after: Option<u64>) -> Result<Reply> {
        Err(Error::from_server(
            ServerError::new(code, None, None, None)
                .with_retry_after(retry_after.map(Duration::from_secs)),
        ))
    }

    fn lost() -> Result<Reply> {
        Err(Error::transport(
            "POST x",
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"),
        ))
    }

    const FIRST: AttemptInfo = AttemptInfo {
        attempt: 1,
        body_sent: true,
    };

    fn retries(d: Decision) -> bool {
        matches!(d, Decision::RetryAfter { .. })
    }

    #[test]
    fn transient_statuses_are_retried_for_every_call() {
        for code in [429, 502, 503, 504] {
            for policy in [PUSH, READ, TOKEN] {
                assert!(
                    retries(decide(&status(code, None), FIRST, policy)),
                    "{code}"
                );
            }
        }
    }

    #[test]
    fn a_500_is_ambiguous_for_a_push_and_retried_for_a_read() {
        assert_eq!(
            decide(&status(500, None), FIRST, PUSH),
            Decision::ReturnAmbiguous
        );
        assert!(retries(decide(&status(500, None), FIRST, READ)));
        assert_eq!(decide(&status(500, None), FIRST, TOKEN), Decision::Return);
        let opted_in = Policy {
            retry_ambiguous: true,
            ..PUSH
        };
        assert_eq!(
            decide(&status(500, Some(0)), FIRST, opted_in),
            Decision::RetryAfter {
                wait: Duration::ZERO,
                ambiguous: true
            }
        );
    }

    #[test]
    fn a_lost_response_is_ambiguous_only_once_the_body_went_out() {
        assert_eq!(decide(&lost(), FIRST, PUSH), Decision::ReturnAmbiguous);
        let partial = AttemptInfo {
            attempt: 1,
            body_sent: false,
        };
        assert!(retries(decide(&lost(), partial, PUSH)));
        assert!(retries(decide(&lost(), FIRST, READ)));
    }

    #[test]
    fn four_hundreds_are_never_retried() {
        for code in [400, 401, 403, 404, 406] {
            assert_eq!(decide(&status(code, None), FIRST, READ), Decision::Return);
            assert_eq!(decide(&status(code, None), FIRST, PUSH), Decision::Return);
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        assert_eq!(
            decide(&status(503, Some(2)), FIRST, PUSH),
            Decision::RetryAfter {
                wait: Duration::from_secs(2),
                ambiguous: false
            }
        );
        assert_eq!(
            decide(&status(503, Some(31)), FIRST, PUSH),
            Decision::Return
        );
    }

    #[test]
    fn the_budget_is_max_retries() {
        let third = AttemptInfo {
            attempt: 3,
            body_sent: true,
        };
        assert_eq!(decide(&status(503, None), third, PUSH), Decision::Return);
        let second = AttemptInfo {
            attempt: 2,
            body_sent: true,
        };
        assert!(retries(decide(&status(503, None), second, PUSH)));
        let none = Policy {
            max_retries: 0,
            ..READ
        };
        assert_eq!(decide(&status(503, None), FIRST, none), Decision::Return);
    }

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        for attempt in 1..40 {
            let d = backoff(attempt);
            assert!(d >= Duration::from_millis(10) && d <= MAX_BACKOFF, "{d:?}");
        }
        let samples: std::collections::HashSet<_> = (0..20).map(|_| backoff(3)).collect();
        assert!(samples.len() > 1, "jitter varies the wait");
    }
}
