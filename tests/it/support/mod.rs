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
        let contract = self::contract(&sandbox, APP, CONTRACT);
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

/// The name libtest gives test `name` of the module at `module` (pass
/// `module_path!()`): the module path without this binary's crate name, as
/// `--exact` wants it.
pub fn test_path(module: &str, name: &str) -> String {
    let module = module.split_once("::").map_or("", |(_, rest)| rest);
    if module.is_empty() {
        name.to_owned()
    } else {
        format!("{module}::{name}")
    }
}

/// Set in a process of this binary that runs one test alone.
const OWN_PROCESS_ENV: &str = "DIGIME_IT_OWN_PROCESS";

/// For a test that needs the process to itself (a global subscriber, a
/// measurement of the process's memory): `true` in the process where it is
/// alone, where the test runs its body. Elsewhere, runs this binary again
/// with only that test, asserts that it ran and passed, and returns `false`.
///
/// ```ignore
/// if !support::own_process(module_path!(), "my_test") { return; }
/// ```
pub fn own_process(module: &str, name: &str) -> bool {
    let path = test_path(module, name);
    if std::env::var(OWN_PROCESS_ENV).as_deref() == Ok(path.as_str()) {
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", &path, "--nocapture", "--test-threads", "1"])
        .env(OWN_PROCESS_ENV, &path)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{path}, alone in its process, failed or did not run\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    eprint!("{stderr}");
    false
}

/// The contract key of the tests: one RSA-2048 key for the whole test
/// process. Generating one costs some 100 ms, and nearly every test needs
/// one: the tests of a key's handling make their own.
pub fn key_pem() -> &'static str {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| digime::sandbox::generate_private_key_pem().expect("a key"))
}

/// A second key, other than [`key_pem`]'s.
pub fn other_key_pem() -> &'static str {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| digime::sandbox::generate_private_key_pem().expect("a key"))
}

/// Registers the write contract `contract_id` of `app` with [`key_pem`].
pub fn contract(sandbox: &Sandbox, app: &str, contract_id: &str) -> ContractDetails {
    let contract = ContractDetails::new(contract_id, key_pem()).expect("the key parses");
    sandbox
        .register_contract(app, contract_id, &contract.public_key_pem())
        .expect("contract registers");
    contract
}

/// What the `digime` binary reads, for the CLI's tests: a sandbox with the
/// write contract `contract` of `app` ([`key_pem`]), a user with accounts
/// acc-1 and acc-2, and the key and token files in a scratch folder.
pub struct CliFiles {
    pub sandbox: Sandbox,
    pub dir: tempfile::TempDir,
    pub key: std::path::PathBuf,
    pub token: std::path::PathBuf,
}

impl CliFiles {
    pub async fn new(app: &str, contract_id: &str, user: &str) -> Self {
        let sandbox = Sandbox::start().await.expect("sandbox starts");
        contract(&sandbox, app, contract_id);
        sandbox.create_user(user, &["acc-1", "acc-2"]).unwrap();
        let token = sandbox.mint_token(app, contract_id, user).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        std::fs::write(&key, key_pem()).unwrap();
        let token_path = dir.path().join("token.json");
        std::fs::write(&token_path, serde_json::to_string(&token).unwrap()).unwrap();
        CliFiles {
            sandbox,
            dir,
            key,
            token: token_path,
        }
    }
}
