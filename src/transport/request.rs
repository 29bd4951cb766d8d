//! One call to the API, and its execution.

use std::time::Instant;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde::Serialize;
use tracing::Instrument;

use super::response::{self, Reply};
use super::retry::{self, Decision};
use crate::DigiMe;
use crate::contract::ContractDetails;
use crate::error::{Error, Result};
use crate::push::FileData;
use crate::push::data::Progress;
use crate::signer::BearerClaims;

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
    /// Whether the server may have acted on a request whose response was
    /// lost (a push). Such a call is not retried after a 500 or a dropped
    /// connection once the request went out.
    pub(crate) side_effect: bool,
}

impl DigiMe {
    /// Sends `call`, retrying what is safe to retry, and returns a 2xx reply
    /// or the error.
    pub(crate) async fn execute<E: Serialize>(
        &self,
        call: &Call<'_, E>,
        access_token: Option<&SecretString>,
    ) -> Result<Reply> {
        let url = self
            .inner
            .base_url
            .join(call.path)
            .map_err(|e| Error::invalid_input("path", e))?;
        let client_id = self.client_id(call.contract);
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
            let outcome = self
                .attempt(call, access_token, &url, &client_id)
                .instrument(span.clone())
                .await;
            span.record("duration_ms", started.elapsed().as_millis() as u64);
            if let Ok(reply) = &outcome {
                span.record("status", reply.status.as_u16());
            } else if let Err(err) = &outcome {
                if let Some(status) = err.status() {
                    span.record("status", status);
                }
            }
            if !call.body.can_send() {
                return outcome;
            }
            let decision = retry::decide(
                &outcome,
                call.method == Method::GET || call.method == Method::DELETE,
                call.side_effect,
                attempt,
                self.inner.max_retries,
            );
            match decision {
                Decision::Return => return outcome,
                Decision::RetryAfter(wait) => {
                    span.in_scope(|| {
                        tracing::debug!(wait_ms = wait.as_millis() as u64, "retrying")
                    });
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn attempt<E: Serialize>(
        &self,
        call: &Call<'_, E>,
        access_token: Option<&SecretString>,
        url: &url::Url,
        client_id: &str,
    ) -> Result<Reply> {
        let jwt = BearerClaims::sign(
            call.contract.key(),
            client_id,
            access_token,
            call.claims,
        )?;
        let mut bearer = HeaderValue::try_from(format!("Bearer {jwt}"))
            .map_err(|e| Error::invalid_input("authorization", e))?;
        bearer.set_sensitive(true);
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), url.clone())
            .header(AUTHORIZATION, bearer);
        for (name, value) in &call.headers {
            request = request.header(name, value);
        }
        request = match &call.body {
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
                progress,
            } => {
                let request = request.header(CONTENT_TYPE, *content_type);
                // A streamed body has no size of its own: say it, so that the
                // server gets a Content-Length rather than a chunked body.
                let streamed = data.as_bytes().is_none() || progress.is_some();
                let request = if streamed {
                    request.header(CONTENT_LENGTH, data.len())
                } else {
                    request
                };
                request.body(data.open(*progress).await?)
            }
        };
        let response = request
            .send()
            .await
            .map_err(|e| Error::transport(format_args!("{} {}", call.method, call.endpoint), e))?;
        let reply = response::read(response, call.endpoint).await?;
        if reply.status.is_success() {
            Ok(reply)
        } else {
            Err(response::server_error(&reply))
        }
    }
}

/// True for a status the SDK treats as "the access token is no good":
/// 401 with `InvalidToken` or with no code at all.
pub(crate) fn is_invalid_token(err: &Error) -> bool {
    err.status() == Some(StatusCode::UNAUTHORIZED.as_u16())
        && matches!(err.code(), None | Some("InvalidToken"))
}
