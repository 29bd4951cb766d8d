//! The transport (layer 3 of the [architecture](crate::guide::architecture)):
//! one signed call to the API, with retries where they are safe, and server
//! errors mapped to [`Error`](crate::Error). A [`Transport`] executes a
//! [`Call`]; [`FileData`] is the body of a push.

pub(crate) mod data;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod retry;
mod server_jwt;

use std::time::Duration;

use serde::de::DeserializeOwned;
use url::Url;

pub use data::FileData;
pub(crate) use request::{Body, Call};
pub(crate) use response::DEFAULT_READ_TIMEOUT;
pub(crate) use response::Reply;
pub(crate) use retry::CallKind;
#[cfg(test)]
pub(crate) use server_jwt::UnknownKid;
pub(crate) use server_jwt::{ServerJwtVerifier, is_unknown_kid};

use crate::contract::ContractDetails;
use crate::error::Result;

/// What every call to digi.me is sent with: the application, the API's
/// base URL, the HTTP clients, the retry and timeout settings, and the
/// verifier of the JWTs digi.me answers with. Built once by
/// [`DigiMeBuilder::build`](crate::DigiMeBuilder::build) and shared (in an
/// `Arc`) by the client and its token protocol; [`Transport::execute`]
/// sends a [`Call`].
pub(crate) struct Transport {
    pub(crate) application_id: String,
    pub(crate) base_url: Url,
    /// The callers' client: one connection pool for every call.
    pub(crate) http: reqwest::Client,
    /// The token flights' own (see `tokens`): a refresh never rides on a
    /// connection a caller's runtime owns.
    pub(crate) flight_http: reqwest::Client,
    pub(crate) verifier: ServerJwtVerifier,
    pub(crate) max_retries: u32,
    pub(crate) read_timeout: Duration,
    pub(crate) retry_ambiguous_pushes: bool,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("application_id", &self.application_id)
            .field("base_url", &self.base_url.as_str())
            .field("max_retries", &self.max_retries)
            .field("read_timeout", &self.read_timeout)
            .field("retry_ambiguous_pushes", &self.retry_ambiguous_pushes)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// The client id the Bearer JWTs of `contract`'s calls carry.
    pub(crate) fn client_id(&self, contract: &ContractDetails) -> String {
        format!("{}_{}", self.application_id, contract.contract_id())
    }

    /// Verifies a JWT digi.me answered with, fetching its key set (when not
    /// cached) with the callers' client.
    pub(crate) async fn verify<T: DeserializeOwned>(&self, jwt: &str) -> Result<T> {
        self.verifier.verify(&self.http, jwt).await
    }

    /// Reads `reply` (from `endpoint`) as `{"token": <JWT>, …}` and verifies
    /// the JWT: its payload `P`, and the answer's other fields `X`.
    pub(crate) async fn verified<P, X>(&self, reply: &Reply, endpoint: &str) -> Result<(P, X)>
    where
        P: DeserializeOwned,
        X: DeserializeOwned,
    {
        let answer: Signed<X> = reply.json(endpoint)?;
        let payload = self.verify(&answer.token).await?;
        Ok((payload, answer.rest))
    }
}

/// An answer that carries a JWT digi.me signed, next to its other fields.
#[derive(serde::Deserialize)]
struct Signed<X> {
    token: String,
    #[serde(flatten)]
    rest: X,
}
