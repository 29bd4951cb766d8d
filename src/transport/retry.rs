//! The retry policy, as code: which failures are sent again, which leave a
//! push or a token grant ambiguous, and how long to wait.
//!
//! The policy is written once, in the reliability guide
//! ([`crate::guide::reliability`], from `docs/reliability.md`): its three
//! kinds of failure (not handled, ambiguous, final), its table of what each
//! kind of call does after each failure, and the waits. [`classify`] sorts a
//! failure into one of the three kinds, [`decide`] applies the table and the
//! retry budget, and [`backoff`] is the wait when the server asks for none;
//! the tests below hold them to the guide.

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

/// What a call does on the server, which decides what may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// Sending it twice does no harm: reads (GET), deletes (DELETE), and
    /// `oauth/authorize` (a repeated one only leaves an unused
    /// preauthorization code). Resent after any failure but a final one.
    Idempotent,
    /// A push: stores the user's data, and has no idempotency key. Resent
    /// after an ambiguous failure only when the caller opted in.
    Push,
    /// `oauth/token`: spends a single-use code or refresh token. Never
    /// resent after an ambiguous failure.
    TokenGrant,
}

/// What the policy needs to know about a call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) kind: CallKind,
    /// Resend a push after an ambiguous failure (the caller opted in).
    pub(crate) retry_ambiguous: bool,
    pub(crate) max_retries: u32,
}

/// How far an attempt got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reached {
    /// Not all of the request left this machine: a local failure, no
    /// connection, or a body not sent in full (for a stream of unknown
    /// length: no byte of it). The server cannot have acted.
    NotSent,
    /// The whole request went out, and no answer came: the connection was
    /// lost, or a timeout fired.
    Sent,
    /// The server answered with this status (its body may not have arrived).
    Answered(StatusCode),
}

/// What one attempt did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttemptInfo {
    /// 1 for the first attempt.
    pub(crate) attempt: u32,
    pub(crate) reached: Reached,
}

/// What to do after an attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Return the outcome. `ambiguous`: this attempt may have been acted on
    /// (for a push or a token grant).
    Return { ambiguous: bool },
    /// Wait, then try again. `ambiguous` as above.
    RetryAfter { wait: Duration, ambiguous: bool },
}

/// What a failed attempt says about the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    NotHandled,
    Ambiguous,
    Final,
}

/// Decides what follows an attempt.
pub(crate) fn decide(outcome: &Result<Reply>, info: AttemptInfo, policy: Policy) -> Decision {
    let err = match outcome {
        Ok(_) => return Decision::Return { ambiguous: false },
        Err(err) => err,
    };
    let failure = classify(err, info.reached);
    let resend = match (failure, policy.kind) {
        (Failure::NotHandled, _) | (Failure::Ambiguous, CallKind::Idempotent) => true,
        (Failure::Ambiguous, CallKind::Push) => policy.retry_ambiguous,
        (Failure::Ambiguous, CallKind::TokenGrant) | (Failure::Final, _) => false,
    };
    // Sending an idempotent call again settles its fate: no need to report.
    let ambiguous = failure == Failure::Ambiguous && policy.kind != CallKind::Idempotent;
    let wait = match err.retry_after() {
        Some(asked) if asked > MAX_RETRY_AFTER => None,
        Some(asked) => Some(asked),
        None => Some(backoff(info.attempt)),
    };
    match wait {
        Some(wait) if resend && info.attempt <= policy.max_retries => {
            Decision::RetryAfter { wait, ambiguous }
        }
        _ => Decision::Return { ambiguous },
    }
}

/// What a failed attempt says, from how far it got.
fn classify(err: &Error, reached: Reached) -> Failure {
    if matches!(
        err.kind(),
        ErrorKind::InvalidInput | ErrorKind::Crypto | ErrorKind::DataNotReplayable
    ) {
        // A local failure: sending again fails the same way.
        return Failure::Final;
    }
    match reached {
        Reached::NotSent => Failure::NotHandled,
        Reached::Sent => Failure::Ambiguous,
        Reached::Answered(StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) => {
            Failure::NotHandled
        }
        // A 5xx may come after the service acted (a gateway's 502 or 504
        // too); a success whose body was lost certainly did.
        Reached::Answered(s) if s.is_server_error() || s.is_success() => Failure::Ambiguous,
        Reached::Answered(_) => Failure::Final,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServerError;

    fn policy(kind: CallKind) -> Policy {
        Policy {
            kind,
            retry_ambiguous: false,
            max_retries: 2,
        }
    }
    const PUSH: Policy = Policy {
        kind: CallKind::Push,
        retry_ambiguous: false,
        max_retries: 2,
    };
    const KINDS: [CallKind; 3] = [CallKind::Idempotent, CallKind::Push, CallKind::TokenGrant];

    fn status(code: u16, retry_after: Option<u64>) -> (Result<Reply>, AttemptInfo) {
        let err = Error::from_server(
            ServerError::new(code, None, None, None)
                .with_retry_after(retry_after.map(Duration::from_secs)),
        );
        let reached = Reached::Answered(StatusCode::from_u16(code).unwrap());
        (
            Err(err),
            AttemptInfo {
                attempt: 1,
                reached,
            },
        )
    }

    fn lost(reached: Reached) -> (Result<Reply>, AttemptInfo) {
        let err = Error::transport(
            "POST x",
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"),
        );
        (
            Err(err),
            AttemptInfo {
                attempt: 1,
                reached,
            },
        )
    }

    fn run(case: &(Result<Reply>, AttemptInfo), policy: Policy) -> Decision {
        decide(&case.0, case.1, policy)
    }

    fn resends(d: Decision) -> bool {
        matches!(d, Decision::RetryAfter { .. })
    }

    #[test]
    fn what_says_not_handled_is_resent_for_every_call() {
        for kind in KINDS {
            for code in [429, 503] {
                assert_eq!(
                    run(&status(code, Some(0)), policy(kind)),
                    Decision::RetryAfter {
                        wait: Duration::ZERO,
                        ambiguous: false
                    },
                    "{code} {kind:?}"
                );
            }
            assert!(resends(run(&lost(Reached::NotSent), policy(kind))));
        }
    }

    #[test]
    fn what_may_follow_handling_is_ambiguous_for_a_push_and_a_token_grant() {
        let ambiguous = [
            status(500, None),
            status(502, None),
            status(504, None),
            status(501, None),
            status(599, None),
            lost(Reached::Sent),
            lost(Reached::Answered(StatusCode::OK)),
        ];
        for case in &ambiguous {
            for kind in [CallKind::Push, CallKind::TokenGrant] {
                assert_eq!(
                    run(case, policy(kind)),
                    Decision::Return { ambiguous: true },
                    "{:?} {kind:?}",
                    case.1
                );
            }
            // An idempotent call is simply sent again.
            assert!(resends(run(case, policy(CallKind::Idempotent))));
        }
    }

    #[test]
    fn an_opted_in_push_is_resent_and_still_marked_ambiguous() {
        let opted_in = Policy {
            retry_ambiguous: true,
            ..PUSH
        };
        assert_eq!(
            run(&status(502, Some(0)), opted_in),
            Decision::RetryAfter {
                wait: Duration::ZERO,
                ambiguous: true
            }
        );
        // The opt-in is for pushes only.
        let token = Policy {
            retry_ambiguous: true,
            ..policy(CallKind::TokenGrant)
        };
        assert_eq!(
            run(&status(502, None), token),
            Decision::Return { ambiguous: true }
        );
    }

    #[test]
    fn four_hundreds_and_local_failures_are_never_resent() {
        for kind in KINDS {
            for code in [400, 401, 403, 404, 406, 408] {
                assert_eq!(
                    run(&status(code, None), policy(kind)),
                    Decision::Return { ambiguous: false }
                );
            }
            let info = AttemptInfo {
                attempt: 1,
                reached: Reached::NotSent,
            };
            for err in [
                Error::crypto("signing a JWT"),
                Error::invalid_input("file", "too long"),
            ] {
                assert_eq!(
                    decide(&Err(err), info, policy(kind)),
                    Decision::Return { ambiguous: false }
                );
            }
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        assert_eq!(
            run(&status(503, Some(2)), PUSH),
            Decision::RetryAfter {
                wait: Duration::from_secs(2),
                ambiguous: false
            }
        );
        assert_eq!(
            run(&status(429, Some(31)), PUSH),
            Decision::Return { ambiguous: false }
        );
    }

    #[test]
    fn the_budget_is_max_retries() {
        let (outcome, _) = status(503, None);
        let at = |attempt| AttemptInfo {
            attempt,
            reached: Reached::Answered(StatusCode::SERVICE_UNAVAILABLE),
        };
        assert_eq!(
            decide(&outcome, at(3), PUSH),
            Decision::Return { ambiguous: false }
        );
        assert!(resends(decide(&outcome, at(2), PUSH)));
        let none = Policy {
            max_retries: 0,
            ..PUSH
        };
        assert_eq!(
            decide(&outcome, at(1), none),
            Decision::Return { ambiguous: false }
        );
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
