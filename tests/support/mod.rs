//! Shared set-up for the integration tests: a real sandbox on a loopback
//! port, a contract registered with it, and a user with a token.
#![allow(dead_code)]

use digime::sandbox::Sandbox;
use digime::{ContractDetails, DigiMe, UserAccessToken};

pub const APP: &str = "test-app";
pub const CONTRACT: &str = "write-contract";
pub const USER: &str = "user-1";
pub const ACCOUNTS: &[&str] = &["acc-1", "acc-2"];

/// A running sandbox and everything a push needs.
pub struct Env {
    pub sandbox: Sandbox,
    pub sdk: DigiMe,
    pub contract: ContractDetails,
    pub token: UserAccessToken,
}

impl Env {
    pub async fn new() -> Self {
        let sandbox = Sandbox::start().await.expect("sandbox starts");
        let contract = sandbox
            .generate_contract(APP, CONTRACT)
            .expect("contract registers");
        sandbox
            .create_user(USER, ACCOUNTS)
            .expect("user is created");
        let token = sandbox
            .mint_token(APP, CONTRACT, USER)
            .expect("token is minted");
        let sdk = DigiMe::builder()
            .application_id(APP)
            .base_url(&sandbox.base_url())
            .build()
            .expect("sdk builds");
        Env {
            sandbox,
            sdk,
            contract,
            token,
        }
    }

    /// How many API requests the sandbox has seen so far.
    pub fn request_count(&self) -> usize {
        self.sandbox.requests().len()
    }
}

/// Follows a consent page (the onboard URL, or any of the lifecycle's) like
/// a browser, without following the redirect, and returns its target.
pub async fn consent(url: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = browser.get(url).send().await.expect("the page answers");
    assert_eq!(resp.status(), 302, "consent redirects: {url}");
    resp.headers()["location"].to_str().unwrap().to_string()
}

/// Lowercase hex SHA-256, computed independently of the sandbox.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A 1024-bit RSA key (too short) and an EC key (not RSA), made with
/// `openssl genrsa -traditional 1024` and `openssl ecparam -genkey`.
/// A throwaway 2048-bit RSA key (PKCS#1): a valid contract key for tests that
/// need no sandbox. Never register it anywhere real.
pub const RSA_2048_PEM: &str = include_str!("keys/rsa2048.pem");
pub const RSA_1024_PEM: &str = include_str!("keys/rsa1024.pem");
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod rigged;

pub const EC_PEM: &str = include_str!("keys/ec.pem");
