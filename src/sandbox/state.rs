//! The sandbox's state: contracts, users, tokens, codes, nonces, faults and
//! the request log. One `std::sync::Mutex`, never held across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Value, json};

use super::drain::DrainLimits;
use super::model::{Fault, LibraryEntry, ProviderEntry, RequestRecord};
use super::util::{now_ms, pem_lf, random_alnum};
use crate::error::{Error, Result};

/// How long a nonce is remembered: twice the timestamp window.
pub(crate) const NONCE_TTL_MS: u64 = 10 * 60 * 1000;
/// The accepted clock skew of a JWT `timestamp`.
pub(crate) const TIMESTAMP_WINDOW_MS: u64 = 5 * 60 * 1000;
/// How long a preauthorization code and an authorization code live.
pub(crate) const CODE_TTL_MS: u64 = 10 * 60 * 1000;
/// How many request records are kept (the oldest go first).
const MAX_RECORDS: usize = 100_000;

/// `r` or `w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccessType {
    Read,
    Write,
}

impl AccessType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AccessType::Read => "r",
            AccessType::Write => "w",
        }
    }
}

/// A registered contract.
pub(crate) struct Contract {
    pub(crate) app_id: String,
    pub(crate) contract_id: String,
    pub(crate) access_type: AccessType,
    pub(crate) key: Arc<DecodingKey>,
    pub(crate) public_key_pem: String,
    pub(crate) registered_ms: u64,
}

/// An account of a user.
#[derive(Clone)]
pub(crate) struct AccountRec {
    pub(crate) id: String,
    pub(crate) reference: String,
    pub(crate) created_ms: u64,
    pub(crate) service_type_id: u64,
    pub(crate) source_type: &'static str,
    /// False once the user revoked the application's permission for it:
    /// provider pushes to it are refused until it is reauthorized.
    pub(crate) authorized: bool,
}

impl AccountRec {
    pub(crate) fn new(id: String, service_type_id: u64, source_type: &'static str) -> Self {
        Self {
            reference: format!("ref-{id}"),
            id,
            created_ms: now_ms(),
            service_type_id,
            source_type,
            authorized: true,
        }
    }

    /// The account as `permission-access/accounts` returns it.
    pub(crate) fn to_json(&self) -> Value {
        let (group_id, group_name, type_name) = if self.source_type == "push" {
            (4, "Medical", "Sandbox Health Provider")
        } else {
            (1, "Social", "Sandbox Service")
        };
        json!({
            "id": self.id,
            "reference": self.reference,
            "type": "USER",
            "createdDate": self.created_ms,
            "updatedDate": self.created_ms,
            "serviceGroupId": group_id,
            "serviceGroupName": group_name,
            "serviceTypeId": self.service_type_id,
            "serviceTypeName": type_name,
            "serviceTypeReference": format!("sandbox-{}", self.service_type_id),
            "sourceId": self.service_type_id,
            "username": format!("{}@sandbox.invalid", self.id),
            "serviceProviderId": 1,
            "serviceProviderName": "digi.me sandbox",
            "serviceProviderReference": "sandbox",
            "sample": false,
            "accessTokenStatus": { "authorized": self.authorized },
        })
    }
}

/// A user: accounts, library and provider pushes.
#[derive(Default)]
pub(crate) struct User {
    pub(crate) accounts: Vec<AccountRec>,
    pub(crate) library: Vec<LibraryEntry>,
    pub(crate) provider: Vec<ProviderEntry>,
}

/// An access token the sandbox issued.
pub(crate) struct AccessGrant {
    pub(crate) user: String,
    pub(crate) client_id: String,
    pub(crate) expires_ms: u64,
    /// The refresh token issued with it.
    pub(crate) refresh: String,
}

/// A refresh token the sandbox issued.
pub(crate) struct RefreshGrant {
    pub(crate) user: String,
    pub(crate) client_id: String,
    pub(crate) expires_ms: u64,
    pub(crate) access: String,
    pub(crate) consent_id: String,
}

/// A `preauthorization_code` from `oauth/authorize`.
pub(crate) struct Preauth {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) state: String,
    pub(crate) code_challenge: String,
    pub(crate) user: Option<String>,
    pub(crate) expires_ms: u64,
    pub(crate) used: bool,
}

/// An authorization code from the onboard page.
pub(crate) struct AuthCode {
    pub(crate) client_id: String,
    pub(crate) user: String,
    pub(crate) consent_id: String,
    pub(crate) code_challenge: String,
    pub(crate) expires_ms: u64,
    pub(crate) used: bool,
    /// For a reauthorization: the lapsed access token whose pair the new
    /// tokens replace.
    pub(crate) replaces: Option<String>,
}

/// A `reference_code` from `oauth/token/reference`.
#[derive(Clone)]
pub(crate) struct ReferenceCode {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) state: Option<String>,
    pub(crate) user: String,
    /// Set for the reauthorize flow (the user-reauth page needs it).
    pub(crate) code_challenge: Option<String>,
    /// The access token the call carried.
    pub(crate) access_token: String,
    pub(crate) expires_ms: u64,
    pub(crate) used: bool,
}

/// An account reference from `POST reference`.
pub(crate) struct AccountReference {
    pub(crate) client_id: String,
    pub(crate) account_id: String,
    pub(crate) expires_ms: u64,
}

/// A revocation link from `permission-access/revoke/h:accountId`.
pub(crate) struct Revocation {
    pub(crate) user: String,
    pub(crate) account_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) expires_ms: u64,
    pub(crate) used: bool,
}

/// A freshly issued token pair.
pub(crate) struct Issued {
    pub(crate) access: String,
    pub(crate) access_expiry_s: u64,
    pub(crate) refresh: String,
    pub(crate) refresh_expiry_s: u64,
    pub(crate) user: String,
    pub(crate) consent_id: String,
}

/// Everything mutable.
pub(crate) struct State {
    pub(crate) contracts: HashMap<String, Contract>,
    pub(crate) users: HashMap<String, User>,
    pub(crate) access: HashMap<String, AccessGrant>,
    pub(crate) refresh: HashMap<String, RefreshGrant>,
    pub(crate) preauth: HashMap<String, Preauth>,
    pub(crate) codes: HashMap<String, AuthCode>,
    pub(crate) references: HashMap<String, ReferenceCode>,
    pub(crate) account_refs: HashMap<String, AccountReference>,
    pub(crate) revocations: HashMap<String, Revocation>,
    pub(crate) nonces: HashMap<String, u64>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) records: VecDeque<RequestRecord>,
    pub(crate) access_lifetime: Duration,
    pub(crate) refresh_lifetime: Duration,
    pub(crate) consent_failure: Option<String>,
    pub(crate) refresh_count: usize,
    last_nonce_prune_ms: u64,
}

impl State {
    fn new() -> Self {
        Self {
            contracts: HashMap::new(),
            users: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            preauth: HashMap::new(),
            codes: HashMap::new(),
            references: HashMap::new(),
            account_refs: HashMap::new(),
            revocations: HashMap::new(),
            nonces: HashMap::new(),
            faults: Vec::new(),
            records: VecDeque::new(),
            access_lifetime: Duration::from_secs(60 * 60),
            refresh_lifetime: Duration::from_secs(30 * 24 * 60 * 60),
            consent_failure: None,
            refresh_count: 0,
            last_nonce_prune_ms: 0,
        }
    }

    /// Records `nonce`; false when it was seen before.
    pub(crate) fn use_nonce(&mut self, nonce: &str) -> bool {
        let now = now_ms();
        if now.saturating_sub(self.last_nonce_prune_ms) > 10_000 {
            self.nonces
                .retain(|_, seen| now.saturating_sub(*seen) <= NONCE_TTL_MS);
            self.last_nonce_prune_ms = now;
        }
        if self.nonces.contains_key(nonce) {
            return false;
        }
        self.nonces.insert(nonce.to_string(), now);
        true
    }

    /// Issues a new access + refresh pair.
    pub(crate) fn issue(&mut self, user: &str, client_id: &str, consent_id: &str) -> Issued {
        let now = now_ms();
        let access = random_alnum(48);
        let refresh = random_alnum(48);
        let access_exp = now.saturating_add(duration_ms(self.access_lifetime));
        let refresh_exp = now.saturating_add(duration_ms(self.refresh_lifetime));
        self.access.insert(
            access.clone(),
            AccessGrant {
                user: user.to_string(),
                client_id: client_id.to_string(),
                expires_ms: access_exp,
                refresh: refresh.clone(),
            },
        );
        self.refresh.insert(
            refresh.clone(),
            RefreshGrant {
                user: user.to_string(),
                client_id: client_id.to_string(),
                expires_ms: refresh_exp,
                access: access.clone(),
                consent_id: consent_id.to_string(),
            },
        );
        Issued {
            access,
            access_expiry_s: access_exp / 1000,
            refresh,
            refresh_expiry_s: refresh_exp / 1000,
            user: user.to_string(),
            consent_id: consent_id.to_string(),
        }
    }

    /// Whether `access` is the last access token of a user whose refresh
    /// token has run out: its pair's refresh token is known and expired.
    pub(crate) fn is_lapsed(&self, access: &AccessGrant) -> bool {
        self.refresh
            .get(&access.refresh)
            .is_some_and(|r| r.expires_ms <= now_ms())
    }

    /// Ends a token pair: the access token and the refresh token issued
    /// with it.
    pub(crate) fn end_pair(&mut self, access: &str) {
        if let Some(grant) = self.access.remove(access) {
            self.refresh.remove(&grant.refresh);
        }
    }

    /// The user's account `account_id`, if they have it.
    pub(crate) fn account_mut(&mut self, user: &str, account_id: &str) -> Option<&mut AccountRec> {
        self.users
            .get_mut(user)?
            .accounts
            .iter_mut()
            .find(|a| a.id == account_id)
    }

    /// Adds `accounts` to `user` (creating the user), skipping ids it has.
    pub(crate) fn add_user(&mut self, user: &str, accounts: &[String]) {
        let entry = self.users.entry(user.to_string()).or_default();
        for id in accounts {
            if !entry.accounts.iter().any(|a| &a.id == id) {
                entry.accounts.push(AccountRec::new(id.clone(), 1, "pull"));
            }
        }
    }

    /// Takes one use of the first fault matching the request.
    pub(crate) fn take_fault(&mut self, method: &str, rel_path: &str) -> Option<Fault> {
        let idx = self.faults.iter().position(|f| {
            let path = normalize_fault_path(&f.path);
            let path_ok = rel_path == path
                || (rel_path.starts_with(path) && rel_path[path.len()..].starts_with('/'));
            let method_ok = f
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method));
            f.count > 0 && path_ok && method_ok
        })?;
        let fault = &mut self.faults[idx];
        fault.count -= 1;
        let taken = fault.clone();
        if fault.count == 0 {
            self.faults.remove(idx);
        }
        Some(taken)
    }

    pub(crate) fn push_record(&mut self, record: RequestRecord) {
        if self.records.len() >= MAX_RECORDS {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }
}

/// `/v1.7/permission-access/import/` → `permission-access/import`.
pub(crate) fn normalize_fault_path(path: &str) -> &str {
    let path = path.trim_start_matches('/');
    let path = path.strip_prefix("v1.7/").unwrap_or(path);
    path.trim_end_matches('/')
}

pub(crate) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The sandbox's own signing key, for the JWTs it returns.
pub(crate) struct ServerKey {
    encoding: EncodingKey,
    pub(crate) kid: String,
    pub(crate) public_pem: String,
}

impl ServerKey {
    /// A key for a new sandbox: the process's RSA key pair (generated once:
    /// a 2048-bit key costs some 100 ms, and a test suite starts a sandbox
    /// per test), under a kid of the sandbox's own. A JWT of one sandbox
    /// names a kid no other sandbox's key set has, so it verifies nowhere
    /// else, as with separate keys.
    pub(crate) fn generate() -> Result<Self> {
        static PAIR: OnceLock<std::result::Result<(String, String), String>> = OnceLock::new();
        let (private_pem, public_pem) = PAIR
            .get_or_init(Self::pair)
            .as_ref()
            .map_err(Error::crypto)?;
        let encoding = EncodingKey::from_rsa_pem(private_pem.as_bytes())
            .map_err(|e| Error::invalid_input("server_key", e))?;
        Ok(Self {
            encoding,
            kid: format!("sandbox-{}", random_alnum(12)),
            public_pem: public_pem.clone(),
        })
    }

    /// A new key pair: its private and public PEMs.
    fn pair() -> std::result::Result<(String, String), String> {
        use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
        use aws_lc_rs::signature::KeyPair as _;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| "cannot generate the sandbox's RSA key".to_owned())?;
        let pkcs8: Pkcs8V1Der<'static> = pair
            .as_der()
            .map_err(|_| "cannot encode the key".to_owned())?;
        let spki: PublicKeyX509Der<'static> = pair
            .public_key()
            .as_der()
            .map_err(|_| "cannot encode the public key".to_owned())?;
        Ok((
            pem_lf("PRIVATE KEY", pkcs8.as_ref().to_vec()),
            pem_lf("PUBLIC KEY", spki.as_ref().to_vec()),
        ))
    }

    /// Signs `claims` as a PS512 JWT with `jku` and `kid`.
    pub(crate) fn sign<T: Serialize>(&self, jku: &str, claims: &T) -> Result<String> {
        let mut header = Header::new(Algorithm::PS512);
        header.jku = Some(jku.to_string());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| Error::invalid_input("server_jwt", e))
    }
}

/// What the server and the handle share.
pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) server_key: ServerKey,
    pub(crate) base_url: String,
    pub(crate) onboard_url: String,
    pub(crate) keep_bytes_cap: u64,
    /// How much of a body is read before an error answer.
    pub(crate) drain: DrainLimits,
}

impl Shared {
    pub(crate) fn new(
        base_url: String,
        onboard_url: String,
        keep_bytes_cap: u64,
        drain: DrainLimits,
    ) -> Result<Self> {
        Ok(Self {
            state: Mutex::new(State::new()),
            server_key: ServerKey::generate()?,
            base_url,
            onboard_url,
            keep_bytes_cap,
            drain,
        })
    }

    /// Locks the state. A poisoned lock is recovered: the state is plain data.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn jku(&self) -> String {
        format!("{}jwks/oauth", self.base_url)
    }

    /// Registers a contract from a public key PEM (`BEGIN PUBLIC KEY` or
    /// `BEGIN RSA PUBLIC KEY`); a private key PEM is accepted too, and only
    /// its public half is kept.
    pub(crate) fn register(
        &self,
        app_id: &str,
        contract_id: &str,
        key_pem: &str,
        access_type: AccessType,
    ) -> Result<String> {
        crate::validate::identifier("app_id", app_id)?;
        crate::validate::identifier("contract_id", contract_id)?;
        let public_pem = public_key_pem(key_pem)?;
        let key = DecodingKey::from_rsa_pem(public_pem.as_bytes())
            .map_err(|e| Error::invalid_input("public_key_pem", e))?;
        let client_id = format!("{app_id}_{contract_id}");
        self.lock().contracts.insert(
            client_id.clone(),
            Contract {
                app_id: app_id.to_string(),
                contract_id: contract_id.to_string(),
                access_type,
                key: Arc::new(key),
                public_key_pem: public_pem,
                registered_ms: now_ms(),
            },
        );
        Ok(client_id)
    }
}

/// Checks a public (or private) RSA key PEM and returns the public key PEM.
fn public_key_pem(key_pem: &str) -> Result<String> {
    const FIELD: &str = "public_key_pem";
    let block = pem::parse(key_pem.trim())
        .map_err(|e| Error::invalid_input(FIELD, format!("not a PEM ({e})")))?;
    match block.tag() {
        "PUBLIC KEY" => {
            let key = aws_lc_rs::rsa::PublicEncryptingKey::from_der(block.contents())
                .map_err(|_| Error::invalid_input(FIELD, "not an RSA public key"))?;
            if key.key_size_bits() < crate::signer::key::MIN_RSA_BITS {
                return Err(Error::invalid_input(
                    FIELD,
                    "the RSA key is shorter than 2048 bits",
                ));
            }
            Ok(pem_lf("PUBLIC KEY", block.contents().to_vec()))
        }
        "RSA PUBLIC KEY" => Ok(pem_lf("RSA PUBLIC KEY", block.contents().to_vec())),
        "PRIVATE KEY" | "RSA PRIVATE KEY" => {
            let key = crate::signer::SigningKey::from_pem(key_pem)?;
            Ok(key.public_key_pem())
        }
        other => Err(Error::invalid_input(
            FIELD,
            format!("a `{other}` PEM is not an RSA public key"),
        )),
    }
}
