//! One call to the API, and its execution.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde::Serialize;
use tracing::Instrument;

use super::Transport;
use super::data::{FileData, LengthMismatch, Progress};
use super::response::{self, Reply};
use super::retry::{self, AttemptInfo, CallKind, Decision, Policy, Reached};
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::signer::{BearerClaims, NoClaims};

/// The largest in-memory body sent in one piece rather than streamed.
const SMALL_BODY: usize = 64 * 1024;

/// A request body. Bytes can be sent any number of times; a file is opened
/// again for each attempt; a reader can be sent once.
pub(crate) enum Body<'a> {
    /// No body.
    Empty,
    /// Bytes with their content type.
    Bytes {
        content_type: &'static str,
        bytes: Bytes,
    },
    /// A push's file data, streamed, with optional upload progress.
    File {
        content_type: &'static str,
        data: &'a FileData,
        progress: Option<&'a Progress>,
    },
}

impl Body<'_> {
    /// Whether another attempt can send this body.
    pub(crate) fn can_send(&self) -> bool {
        match self {
            Body::File { data, .. } => data.can_send(),
            _ => true,
        }
    }
}

/// What one call sends. The Bearer JWT is signed anew for every attempt.
pub(crate) struct Call<'a, E: Serialize> {
    /// The endpoint's name for logs, such as `permission-access/import`.
    pub(crate) endpoint: &'static str,
    pub(crate) method: Method,
    /// The path relative to the base URL.
    pub(crate) path: &'a str,
    pub(crate) contract: &'a ContractDetails,
    /// Claims beyond `client_id`, `nonce`, `timestamp` and `access_token`.
    pub(crate) claims: &'a E,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Body<'a>,
    /// What the call does on the server: decides what may be sent again.
    pub(crate) kind: CallKind,
    /// Set once an attempt may have been acted on (a push or a token grant
    /// that failed ambiguously). It outlives one `execute`: a push sent
    /// again after a refresh still knows, and its owner reports it.
    pub(crate) ambiguous: AtomicBool,
}

impl<'a> Call<'a, NoClaims> {
    /// A `GET` of `endpoint` for `contract`: see [`Call::new`].
    pub(crate) fn get(endpoint: &'static str, contract: &'a ContractDetails) -> Self {
        Self::new(Method::GET, endpoint, contract)
    }

    /// A `POST` to `endpoint` for `contract`: see [`Call::new`]. A push or a
    /// token grant says so with [`kind`](Call::kind).
    pub(crate) fn post(endpoint: &'static str, contract: &'a ContractDetails) -> Self {
        Self::new(Method::POST, endpoint, contract)
    }

    /// A `DELETE` of `endpoint` for `contract`: see [`Call::new`].
    pub(crate) fn delete(endpoint: &'static str, contract: &'a ContractDetails) -> Self {
        Self::new(Method::DELETE, endpoint, contract)
    }

    /// A call of `endpoint` (its name in logs and errors, and its path until
    /// [`path`](Call::path) says otherwise): no claims beyond the common
    /// ones, no header, no body, and idempotent (sent again after any
    /// failure that allows it).
    fn new(method: Method, endpoint: &'static str, contract: &'a ContractDetails) -> Self {
        Call {
            endpoint,
            method,
            path: endpoint,
            contract,
            claims: &NoClaims {},
            headers: Vec::new(),
            body: Body::Empty,
            kind: CallKind::Idempotent,
            ambiguous: AtomicBool::new(false),
        }
    }
}

impl<'a, E: Serialize> Call<'a, E> {
    /// The path, under the base URL, when it is not the endpoint's name.
    pub(crate) fn path(mut self, path: &'a str) -> Self {
        self.path = path;
        self
    }

    /// The claims the Bearer JWT carries beyond the common ones.
    pub(crate) fn claims<F: Serialize>(self, claims: &'a F) -> Call<'a, F> {
        Call {
            endpoint: self.endpoint,
            method: self.method,
            path: self.path,
            contract: self.contract,
            claims,
            headers: self.headers,
            body: self.body,
            kind: self.kind,
            ambiguous: self.ambiguous,
        }
    }

    /// One more header.
    pub(crate) fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The body.
    pub(crate) fn body(mut self, body: Body<'a>) -> Self {
        self.body = body;
        self
    }

    /// What may be sent again: see [`CallKind`].
    pub(crate) fn kind(mut self, kind: CallKind) -> Self {
        self.kind = kind;
        self
    }
}

impl<E: Serialize> Call<'_, E> {
    /// True when an attempt of this call may have been acted on by the
    /// server although it failed.
    pub(crate) fn was_ambiguous(&self) -> bool {
        self.ambiguous.load(Ordering::SeqCst)
    }
}

impl Transport {
    /// Sends `call`, retrying what is safe to retry, and returns a 2xx reply
    /// or the error.
    ///
    /// Each attempt runs in a `digime.call` span (DEBUG) with the endpoint,
    /// method, attempt number, status and duration: never a token, key,
    /// code or JWT.
    pub(crate) async fn execute<E: Serialize>(
        &self,
        call: &Call<'_, E>,
        access_token: Option<&SecretString>,
    ) -> Result<Reply> {
        self.execute_on(&self.http, call, access_token).await
    }

    /// [`execute`](Self::execute) on `http`: the token flights' own client,
    /// whose connections live on the runtime the flights run on.
    pub(crate) async fn execute_on<E: Serialize>(
        &self,
        http: &reqwest::Client,
        call: &Call<'_, E>,
        access_token: Option<&SecretString>,
    ) -> Result<Reply> {
        let url = self
            .base_url
            .join(call.path)
            .map_err(|e| Error::invalid_input("path", e))?;
        let client_id = self.client_id(call.contract);
        let policy = Policy {
            kind: call.kind,
            retry_ambiguous: call.kind == CallKind::Push && self.retry_ambiguous_pushes,
            max_retries: self.max_retries,
        };
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let span = tracing::debug_span!(
                "digime.call",
                endpoint = call.endpoint,
                method = %call.method,
                attempt,
                status = tracing::field::Empty,
                duration_ms = tracing::field::Empty,
            );
            let started = Instant::now();
            let (outcome, reached) = self
                .attempt(http, call, access_token, &url, &client_id)
                .instrument(span.clone())
                .await;
            span.record("duration_ms", started.elapsed().as_millis() as u64);
            if let Reached::Answered(status) = reached {
                span.record("status", status.as_u16());
            }
            let info = AttemptInfo { attempt, reached };
            let mut decision = retry::decide(&outcome, info, policy);
            if let Decision::RetryAfter { ambiguous, .. } = decision
                && !call.body.can_send()
            {
                // A one-shot reader or stream was consumed: no attempt can follow.
                decision = Decision::Return { ambiguous };
            }
            match decision {
                Decision::Return { ambiguous } => {
                    if ambiguous {
                        call.ambiguous.store(true, Ordering::SeqCst);
                        if let Err(err) = &outcome {
                            span.in_scope(|| {
                                tracing::warn!(
                                    error = %err,
                                    "the call failed after digi.me may have acted on it: not sent again"
                                )
                            });
                        }
                    }
                    return outcome;
                }
                Decision::RetryAfter { wait, ambiguous } => {
                    if ambiguous {
                        call.ambiguous.store(true, Ordering::SeqCst);
                    }
                    span.in_scope(|| {
                        tracing::debug!(
                            wait_ms = wait.as_millis() as u64,
                            ambiguous,
                            error = %outcome.as_ref().err().map(ToString::to_string).unwrap_or_default(),
                            "retrying"
                        )
                    });
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// One attempt: sign, send, read. Also says how far it got: the retry
    /// policy needs to know whether the server can have acted on it.
    ///
    /// The idle timeout runs here: the attempt fails when neither the upload
    /// nor the response moves for `read_timeout`.
    async fn attempt<E: Serialize>(
        &self,
        http: &reqwest::Client,
        call: &Call<'_, E>,
        access_token: Option<&SecretString>,
        url: &url::Url,
        client_id: &str,
    ) -> (Result<Reply>, Reached) {
        let watch = Arc::new(Watch::new());
        let request = match self
            .build_request(http, call, access_token, url, client_id, &watch)
            .await
        {
            Ok(request) => request,
            Err(err) => return (Err(err), Reached::NotSent),
        };
        let idle = self.read_timeout;
        let what = format!("{} {}", call.method, call.endpoint);
        let response = tokio::select! {
            biased;
            response = request.send() => response.map_err(|e| {
                // Data that was not the length it was given with: the body
                // was cut before its last byte, and the push is bad input.
                match find_cause::<LengthMismatch>(&e) {
                    Some(mismatch) => (Error::invalid_input("file", mismatch), false),
                    None => {
                        let not_connected = is_connect_error(&e);
                        (Error::transport(format_args!("{what}"), e), not_connected)
                    }
                }
            }),
            () = watch.stalled(idle) => Err((
                Error::timed_out(format_args!("{what}: waiting for digi.me"), idle),
                false,
            )),
        };
        let response = match response {
            Ok(response) => response,
            Err((err, not_connected)) => {
                let reached = if not_connected || !watch.body_sent() {
                    Reached::NotSent
                } else {
                    Reached::Sent
                };
                return (Err(err), reached);
            }
        };
        let reached = Reached::Answered(response.status());
        let reply = match response::read_within(response, call.endpoint, idle).await {
            Ok(reply) => reply,
            Err(err) => return (Err(err), reached),
        };
        if reply.status.is_success() {
            (Ok(reply), reached)
        } else {
            (Err(response::server_error(&reply)), reached)
        }
    }

    async fn build_request<E: Serialize>(
        &self,
        http: &reqwest::Client,
        call: &Call<'_, E>,
        access_token: Option<&SecretString>,
        url: &url::Url,
        client_id: &str,
        watch: &Arc<Watch>,
    ) -> Result<reqwest::RequestBuilder> {
        let jwt = BearerClaims::sign(call.contract.key(), client_id, access_token, call.claims)?;
        let mut bearer = HeaderValue::try_from(format!("Bearer {jwt}"))
            .map_err(|e| Error::invalid_input("authorization", e))?;
        bearer.set_sensitive(true);
        let mut request = http
            .request(call.method.clone(), url.clone())
            .header(AUTHORIZATION, bearer);
        for (name, value) in &call.headers {
            request = request.header(name, value);
        }
        Ok(match &call.body {
            Body::Empty => request,
            Body::Bytes {
                content_type,
                bytes,
            } => request
                .header(CONTENT_TYPE, *content_type)
                .body(bytes.clone()),
            Body::File {
                content_type,
                data,
                progress: None,
            } if data
                .as_bytes()
                .is_some_and(|bytes| bytes.len() <= SMALL_BODY) =>
            {
                // A small body in memory goes in one piece, and counts as
                // sent once the request is out (the cautious side).
                let bytes = data.as_bytes().cloned().unwrap_or_default();
                request.header(CONTENT_TYPE, *content_type).body(bytes)
            }
            Body::File {
                content_type,
                data,
                progress,
            } => {
                // Otherwise streamed in chunks through a progress counter: the
                // counter feeds the idle timeout and tells how much of the
                // body went out. A streamed body has no size of its own: when
                // the length is known, say it, so that the server gets a
                // Content-Length; a stream of unknown length goes chunked.
                let total = data.len();
                watch.expect_body(total);
                let watch = watch.clone();
                let caller = progress.cloned();
                let counter: Progress = Arc::new(move |sent, total| {
                    watch.progressed(sent, total);
                    if let Some(caller) = &caller {
                        caller(sent, total);
                    }
                });
                let mut request = request.header(CONTENT_TYPE, *content_type);
                if let Some(total) = total {
                    request = request.header(CONTENT_LENGTH, total);
                }
                request.body(data.open(Some(&counter)).await?)
            }
        })
    }
}

/// The progress of one attempt, for the idle timeout and for knowing
/// whether the server may have the whole request.
struct Watch {
    started: Instant,
    /// Milliseconds since `started` of the last progress.
    last_ms: AtomicU64,
    /// Body bytes handed to the connection so far.
    sent: AtomicU64,
    /// The whole body was handed over: every byte of a body of known
    /// length, or the end of a stream of unknown length. True without a
    /// body.
    complete: AtomicBool,
    /// The body's length is unknown (a stream, sent chunked).
    unknown_length: AtomicBool,
}

impl Watch {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            complete: AtomicBool::new(true),
            unknown_length: AtomicBool::new(false),
        }
    }

    /// A streamed body follows, of `total` bytes when known.
    fn expect_body(&self, total: Option<u64>) {
        self.complete.store(total == Some(0), Ordering::SeqCst);
        self.unknown_length.store(total.is_none(), Ordering::SeqCst);
    }

    /// `sent` bytes are out; `total` is the body's length when known (for a
    /// stream, it is known once the stream has ended).
    fn progressed(&self, sent: u64, total: Option<u64>) {
        self.sent.store(sent, Ordering::SeqCst);
        if total.is_some_and(|total| sent >= total) {
            self.complete.store(true, Ordering::SeqCst);
        }
        let now = self.started.elapsed().as_millis() as u64;
        self.last_ms.store(now, Ordering::SeqCst);
    }

    /// Whether the server may have the whole request, and so may have
    /// acted on it. For a body of known length: every byte went out. For a
    /// stream of unknown length, sent chunked: the server reads it as it
    /// comes and only the SDK knows where it ends, so once any byte went out
    /// (or the end did) the request counts as sent.
    fn body_sent(&self) -> bool {
        self.complete.load(Ordering::SeqCst)
            || (self.unknown_length.load(Ordering::SeqCst) && self.sent.load(Ordering::SeqCst) > 0)
    }

    /// Resolves once nothing has moved for `idle`.
    async fn stalled(&self, idle: Duration) {
        loop {
            let last = Duration::from_millis(self.last_ms.load(Ordering::SeqCst));
            // An idle timeout too large for the clock never fires.
            let Some(deadline) = last
                .checked_add(idle)
                .and_then(|d| self.started.checked_add(d))
            else {
                return std::future::pending().await;
            };
            tokio::time::sleep_until(deadline.into()).await;
            if self.last_ms.load(Ordering::SeqCst) == last.as_millis() as u64 {
                return;
            }
        }
    }
}

/// A failure to connect: nothing reached the server.
fn is_connect_error(err: &reqwest::Error) -> bool {
    err.is_connect() || find_cause::<reqwest::Error>(err).is_some_and(reqwest::Error::is_connect)
}

/// The first error of type `T` in `err`'s chain of sources, looking inside
/// `std::io::Error`s too (their `source()` skips the error they wrap).
fn find_cause<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = std::error::Error::source(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(found) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<T>())
        {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// True for a status the SDK treats as "the access token is no good":
/// 401 with `InvalidToken` or with no code at all.
pub(crate) fn is_invalid_token(err: &Error) -> bool {
    err.status() == Some(StatusCode::UNAUTHORIZED.as_u16())
        && matches!(err.code(), None | Some("InvalidToken"))
}
