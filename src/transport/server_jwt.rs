//! Verification of every JWT the server returns.
//!
//! The official SDK follows any `jku` and accepts what it finds there. This
//! one only fetches a key set from the configured API origin (and the
//! origins allowed with `DigiMeBuilder::allow_key_set_origin`), accepts only
//! PS512, and caches keys by `kid` so that one fetch serves many tokens.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::{Origin, Url};

use super::response;
use super::retry::{self, AttemptInfo, CallKind, Decision, Policy, Reached};
use crate::error::{Error, Result};

/// How many times a key-set fetch is tried before its failure stands.
const KEY_SET_ATTEMPTS: u32 = 3;

/// The key set digi.me serves at a `jku`.
#[derive(Deserialize)]
struct KeySet {
    keys: Vec<KeySetEntry>,
}

#[derive(Deserialize)]
struct KeySetEntry {
    kid: String,
    pem: String,
}

/// Verifies server JWTs. One per [`DigiMe`](crate::DigiMe).
pub(crate) struct ServerJwtVerifier {
    /// Where a `jku` may point: the API's origin first, then the allowed
    /// others.
    origins: Vec<Origin>,
    /// The longest a key-set fetch may take.
    fetch_timeout: Duration,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    /// Serialises key-set fetches, so a burst of tokens with a new `kid`
    /// makes one fetch.
    fetch: tokio::sync::Mutex<()>,
}

impl ServerJwtVerifier {
    pub(crate) fn new(origins: Vec<Origin>, fetch_timeout: Duration) -> Self {
        Self {
            origins,
            fetch_timeout,
            keys: RwLock::new(HashMap::new()),
            fetch: tokio::sync::Mutex::new(()),
        }
    }

    /// Verifies `token` and returns its claims.
    pub(crate) async fn verify<T: DeserializeOwned>(
        &self,
        http: &reqwest::Client,
        token: &str,
    ) -> Result<T> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| {
            Error::token_verification(format!("the header is unreadable ({})", describe(&e)))
        })?;
        if header.alg != Algorithm::PS512 {
            return Err(Error::token_verification(format!(
                "algorithm {:?} is not accepted; only PS512 is",
                header.alg
            )));
        }
        let jku = header
            .jku
            .as_deref()
            .ok_or_else(|| Error::token_verification("the header has no `jku`"))?;
        let jku = Url::parse(jku)
            .map_err(|e| Error::token_verification(format!("the `jku` does not parse ({e})")))?;
        if !self.origins.contains(&jku.origin()) {
            let allowed: Vec<String> = self
                .origins
                .iter()
                .map(Origin::ascii_serialization)
                .collect();
            return Err(Error::token_verification(format!(
                "the `jku` {} is not on the API origin or an allowed key-set origin ({})",
                jku,
                allowed.join(", ")
            )));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| Error::token_verification("the header has no `kid`"))?;
        let key = self.key(http, &jku, kid).await?;
        let mut validation = Validation::new(Algorithm::PS512);
        validation.required_spec_claims.clear();
        validation.validate_aud = false;
        validation.leeway = 60;
        let data = jsonwebtoken::decode::<T>(token, &key, &validation)
            .map_err(|e| Error::token_verification(describe(&e)))?;
        Ok(data.claims)
    }

    // The cache recovers from a poisoned lock: a panic elsewhere while it
    // was held cannot leave a half-written map (a read, or one `extend`),
    // and refusing every later token would be worse.
    fn cached(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(kid)
            .cloned()
    }

    fn remember(&self, fresh: HashMap<String, Arc<DecodingKey>>) {
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(fresh);
    }

    /// Fetches the key set. A fetch is a plain GET, safe to repeat, and it
    /// often verifies a token digi.me just issued (a refresh that already
    /// spent the old refresh token): it follows the SDK's retry policy for
    /// idempotent calls (a failure that is not final is tried again, up to
    /// [`KEY_SET_ATTEMPTS`] times in all), rather than losing that token.
    async fn fetch(&self, http: &reqwest::Client, jku: &Url, kid: &str) -> Result<KeySet> {
        let policy = Policy {
            kind: CallKind::Idempotent,
            retry_ambiguous: false,
            max_retries: KEY_SET_ATTEMPTS - 1,
        };
        let mut attempt = 1;
        loop {
            tracing::debug!(jku = %jku, kid, attempt, "fetching the server's key set");
            let (outcome, reached) = match http
                .get(jku.clone())
                .timeout(self.fetch_timeout)
                .send()
                .await
            {
                // Whether the request left or not, a GET may be sent again.
                Err(e) => (
                    Err(Error::transport("fetching the key set", e)),
                    Reached::Sent,
                ),
                Ok(resp) => {
                    let status = resp.status();
                    let reply = response::read_small(resp, "jwks").await.and_then(|reply| {
                        if reply.status.is_success() {
                            Ok(reply)
                        } else {
                            Err(response::server_error(&reply))
                        }
                    });
                    (reply, Reached::Answered(status))
                }
            };
            match retry::decide(&outcome, AttemptInfo { attempt, reached }, policy) {
                Decision::RetryAfter { wait, .. } => {
                    tracing::debug!(attempt, "fetching the key set failed; trying again");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Decision::Return { .. } => return outcome?.json("jwks"),
            }
        }
    }

    async fn key(&self, http: &reqwest::Client, jku: &Url, kid: &str) -> Result<Arc<DecodingKey>> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let _guard = self.fetch.lock().await;
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let set = self.fetch(http, jku, kid).await?;
        let mut fresh = HashMap::new();
        for entry in set.keys {
            match DecodingKey::from_rsa_pem(entry.pem.as_bytes()) {
                Ok(key) => {
                    fresh.insert(entry.kid, Arc::new(key));
                }
                Err(e) => {
                    tracing::warn!(kid = %entry.kid, error = %e, "skipping an unreadable key in the key set")
                }
            }
        }
        self.remember(fresh);
        self.cached(kid).ok_or_else(|| {
            Error::token_verification(format!("the key set at {jku} has no key with kid `{kid}`"))
                .with_source(UnknownKid)
        })
    }
}

/// The source of a verification error whose key is not (yet) in the key
/// set: a key set served from a stale cache while digi.me rotates its keys
/// looks like this, and a later fetch may have the key.
#[derive(Debug)]
pub(crate) struct UnknownKid;

impl std::fmt::Display for UnknownKid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no key with this kid in the key set")
    }
}

impl std::error::Error for UnknownKid {}

/// True when `err` is a verification that failed only for want of its key.
pub(crate) fn is_unknown_kid(err: &Error) -> bool {
    std::error::Error::source(err).is_some_and(|s| s.is::<UnknownKid>())
}

/// A verification failure in words that never quote the token: serde's
/// messages can repeat a value they did not expect, and a value here may be
/// a token.
fn describe(err: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match err.kind() {
        K::Json(e) => format!(
            "the payload is not the expected JSON ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ),
        K::Utf8(_) => "the token is not UTF-8".to_owned(),
        K::Base64(_) => "the token is not base64url".to_owned(),
        K::InvalidSignature => "the signature does not verify".to_owned(),
        K::ExpiredSignature => "the token has expired".to_owned(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a_key() -> Arc<DecodingKey> {
        let pem = crate::signer::SigningKey::from_pem(include_str!(
            "../../tests/it/support/keys/rsa2048.pem"
        ))
        .unwrap()
        .public_key_pem();
        Arc::new(DecodingKey::from_rsa_pem(pem.as_bytes()).unwrap())
    }

    #[test]
    fn the_key_cache_survives_a_poisoned_lock() {
        let base = Url::parse("https://api.example/v1.7/").unwrap();
        let verifier = ServerJwtVerifier::new(vec![base.origin()], Duration::from_secs(1));
        verifier.remember(HashMap::from([("k1".to_owned(), a_key())]));
        // A panic while the lock is held poisons it.
        let panicked = std::thread::scope(|s| {
            s.spawn(|| {
                let _held = verifier.keys.write().unwrap();
                panic!("a panic while the key cache is locked");
            })
            .join()
        });
        assert!(panicked.is_err());
        assert!(verifier.keys.is_poisoned());
        // Keys cached before are still found, and new ones still kept.
        assert!(verifier.cached("k1").is_some());
        verifier.remember(HashMap::from([("k2".to_owned(), a_key())]));
        assert!(verifier.cached("k2").is_some());
    }
}
