#![cfg(unix)]
//! The `digime` binary, driven as a user would: the real executable against
//! a sandbox running in this test process. Every command, every exit code
//! (0, 1, 2, 3), both output modes, and the token file rewritten atomically
//! with mode 0600 after a refresh.

use std::os::unix::fs::PermissionsExt;

use crate::support;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use digime::ContractDetails;
use digime::sandbox::Sandbox;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_digime");
const APP: &str = "cli-app";
const CONTRACT: &str = "cli-contract";
const USER: &str = "cli-user";

/// A sandbox with a write contract, a user with accounts acc-1 and acc-2,
/// and the key and token files the binary reads.
struct Env {
    sandbox: Sandbox,
    dir: tempfile::TempDir,
    key: PathBuf,
    token: PathBuf,
}

/// What a run of the binary left behind.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        let lines: Vec<&str> = self
            .stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "exactly one JSON object on stdout: {}",
            self.stdout
        );
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

impl Env {
    async fn new() -> Env {
        let support::CliFiles {
            sandbox,
            dir,
            key,
            token,
        } = support::CliFiles::new(APP, CONTRACT, USER).await;
        // Readable by others on purpose: a rewrite must make it 0600.
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
        Env {
            sandbox,
            dir,
            key,
            token,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// The binary with the configuration in the environment variables.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = bare(args);
        cmd.env("DIGIME_BASE_URL", self.sandbox.base_url())
            .env("DIGIME_APP_ID", APP)
            .env("DIGIME_CONTRACT_ID", CONTRACT)
            .env("DIGIME_KEY_FILE", &self.key)
            .env("DIGIME_TOKEN_FILE", &self.token)
            .current_dir(self.dir.path());
        cmd
    }

    async fn run(&self, args: &[&str]) -> Run {
        run(self.command(args)).await
    }

    fn token_json(&self) -> String {
        std::fs::read_to_string(&self.token).unwrap()
    }

    fn access_value(&self) -> String {
        let v: Value = serde_json::from_str(&self.token_json()).unwrap();
        v["accessToken"]["value"].as_str().unwrap().to_owned()
    }
}

/// The binary with no DIGIME_* variables inherited.
fn bare(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("DIGIME_BASE_URL")
        .env_remove("DIGIME_APP_ID")
        .env_remove("DIGIME_CONTRACT_ID")
        .env_remove("DIGIME_KEY_FILE")
        .env_remove("DIGIME_TOKEN_FILE")
        .env_remove("DIGIME_TOKEN_STORE")
        .env_remove("DIGIME_USER")
        .env_remove("DIGIME_LEASE_TTL")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

async fn run(mut cmd: Command) -> Run {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let pid = child.id().expect("a running child");
    let mut waiting = tokio::spawn(child.wait_with_output());
    let out = match tokio::time::timeout(Duration::from_secs(30), &mut waiting).await {
        Ok(joined) => joined.expect("the wait").expect("the output"),
        Err(_) => {
            // Killed: what it printed so far says where it waited.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            let out = waiting.await.expect("the wait").expect("the output");
            panic!(
                "the binary did not finish in 30 s: {cmd:?}\n--- stdout\n{}\n--- stderr\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// ---------------------------------------------------------------- push library

#[tokio::test(flavor = "multi_thread")]
async fn push_library_guesses_the_mime_type_and_sends_tags_and_references() {
    let env = Env::new().await;
    let file = env.write("report.pdf", b"%PDF-1.7 a tiny report");
    let run = env
        .run(&[
            "push",
            "library",
            file.to_str().unwrap(),
            "--account",
            "acc-1",
            "--account",
            "acc-2",
            "--tag",
            "lab",
            "--tag",
            "2024",
            "--reference",
            "r-1",
        ])
        .await
        .expect(0);
    assert!(run.stdout.contains("pushed report.pdf"), "{}", run.stdout);
    let library = env.sandbox.library(USER);
    assert_eq!(library.len(), 1);
    assert_eq!(library[0].mime_type, "application/pdf");
    assert_eq!(library[0].size, 22);
    let d = &library[0].descriptor;
    assert_eq!(
        d["accounts"],
        serde_json::json!([{"accountId":"acc-1"},{"accountId":"acc-2"}])
    );
    assert_eq!(d["tags"], serde_json::json!(["lab", "2024"]));
    assert_eq!(d["reference"], serde_json::json!(["r-1"]));
    assert_eq!(
        library[0].bytes.as_deref(),
        Some(&b"%PDF-1.7 a tiny report"[..])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn push_library_json_with_an_explicit_mime_and_no_optional_fields() {
    let env = Env::new().await;
    let file = env.write("data.bin", &[7u8; 1000]);
    let run = env
        .run(&[
            "--json",
            "push",
            "library",
            file.to_str().unwrap(),
            "--account",
            "acc-1",
            "--mime",
            "text/csv",
        ])
        .await
        .expect(0);
    let v = run.json();
    assert_eq!(v["pushed"], "library");
    assert_eq!(v["mime_type"], "text/csv");
    assert_eq!(v["size"], 1000);
    assert_eq!(v["status"], 200);
    assert_eq!(v["token_refreshed"], false);
    let library = env.sandbox.library(USER);
    assert_eq!(library[0].mime_type, "text/csv");
    // Optional fields are left out of the descriptor, not sent empty.
    assert!(
        library[0].descriptor.get("tags").is_none(),
        "{}",
        library[0].descriptor
    );
    assert!(library[0].descriptor.get("reference").is_none());
    // Unknown extension without --mime: octet-stream.
    let other = env.write("blob.zzzunknown", b"x");
    env.run(&[
        "push",
        "library",
        other.to_str().unwrap(),
        "--account",
        "acc-1",
    ])
    .await
    .expect(0);
    assert_eq!(
        env.sandbox.library(USER)[1].mime_type,
        "application/octet-stream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_file_arrives_whole_and_no_bar_is_drawn_off_a_terminal() {
    let env = Env::new().await;
    let bytes: Vec<u8> = (0..6 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let file = env.write("big.bin", &bytes);
    let run = env
        .run(&[
            "push",
            "library",
            file.to_str().unwrap(),
            "--account",
            "acc-1",
        ])
        .await
        .expect(0);
    assert!(
        !run.stderr.contains('['),
        "no progress bar when stderr is a pipe: {}",
        run.stderr
    );
    let entry = &env.sandbox.library(USER)[0];
    assert_eq!(entry.size, bytes.len() as u64);
    assert_eq!(entry.bytes.as_deref(), Some(&bytes[..]));
}

// ---------------------------------------------------------------- push provider

#[tokio::test(flavor = "multi_thread")]
async fn push_provider_defaults_to_stu3_and_takes_3_0_2() {
    let env = Env::new().await;
    let bundle = env.write(
        "bundle.json",
        br#"{"resourceType":"Bundle","type":"collection"}"#,
    );
    let b = bundle.to_str().unwrap();
    env.run(&["push", "provider", b, "--account-id", "acc-1"])
        .await
        .expect(0);
    let v = env
        .run(&[
            "--json",
            "push",
            "provider",
            b,
            "--account-id",
            "acc-2",
            "--fhir-version",
            "3.0.2",
        ])
        .await
        .expect(0)
        .json();
    assert_eq!(v["pushed"], "provider");
    assert_eq!(v["version"], "3.0.2");
    let pushes = env.sandbox.provider_pushes(USER);
    assert_eq!(pushes.len(), 2);
    assert_eq!(
        (pushes[0].account_id.as_str(), pushes[0].version.as_str()),
        ("acc-1", "stu3")
    );
    assert_eq!(
        (pushes[1].account_id.as_str(), pushes[1].version.as_str()),
        ("acc-2", "3.0.2")
    );
    assert_eq!(pushes[0].standard, "fhir");
    assert_eq!(pushes[0].body["resourceType"], "Bundle");
}

// ---------------------------------------------------------------- exit 1

#[tokio::test(flavor = "multi_thread")]
async fn a_server_error_exits_1_with_the_code_and_reference() {
    let env = Env::new().await;
    let bundle = env.write("bundle.json", br#"{"resourceType":"Bundle"}"#);
    let b = bundle.to_str().unwrap();
    let run = env
        .run(&["push", "provider", b, "--account-id", "not-an-account"])
        .await
        .expect(1);
    assert!(run.stderr.contains("ValidationErrors"), "{}", run.stderr);
    assert!(run.stderr.contains("reference sbx-"), "{}", run.stderr);
    assert!(run.stdout.is_empty());

    let v = env
        .run(&[
            "--json",
            "push",
            "provider",
            b,
            "--account-id",
            "not-an-account",
        ])
        .await
        .expect(1)
        .json();
    let e = &v["error"];
    assert_eq!(e["kind"], "server");
    assert_eq!(e["code"], "ValidationErrors");
    assert_eq!(e["status"], 406);
    assert!(e["reference"].as_str().unwrap().starts_with("sbx-"), "{e}");
    assert!(e["message"].as_str().unwrap().contains("not-an-account"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_contract_cannot_push_and_says_so() {
    let env = Env::new().await;
    let pem = std::fs::read_to_string(&env.key).unwrap();
    let public = ContractDetails::new("x", &pem).unwrap().public_key_pem();
    env.sandbox
        .register_read_contract(APP, "read-only", &public)
        .unwrap();
    let token = env.sandbox.mint_token(APP, "read-only", USER).unwrap();
    let token_path = env.write(
        "read-token.json",
        serde_json::to_string(&token).unwrap().as_bytes(),
    );

    // Flags instead of environment variables.
    let base = env.sandbox.base_url();
    let flags = [
        "--base-url",
        base.as_str(),
        "--app-id",
        APP,
        "--contract-id",
        "read-only",
        "--key",
        env.key.to_str().unwrap(),
        "--token",
        token_path.to_str().unwrap(),
    ];
    let contract = run(bare(&[&flags[..], &["--json", "contract"]].concat()))
        .await
        .expect(0)
        .json();
    assert_eq!(contract["can_write"], false);
    assert_eq!(contract["contract"]["accessType"], "r");
    let human = run(bare(&[&flags[..], &["contract"]].concat()))
        .await
        .expect(0);
    assert!(human.stdout.contains("may NOT push"), "{}", human.stdout);

    let file = env.write("a.txt", b"hello");
    let run = run(bare(
        &[
            &flags[..],
            &[
                "push",
                "library",
                file.to_str().unwrap(),
                "--account",
                "acc-1",
            ],
        ]
        .concat(),
    ))
    .await
    .expect(1);
    assert!(run.stderr.contains("InsufficientScope"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_is_a_transport_error_exit_1() {
    let env = Env::new().await;
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cmd = env.command(&["--json", "contract"]);
    cmd.env("DIGIME_BASE_URL", format!("http://127.0.0.1:{port}/v1.7/"));
    let v = run(cmd).await.expect(1).json();
    assert_eq!(v["error"]["kind"], "transport");
}

// ---------------------------------------------------------------- accounts, contract

#[tokio::test(flavor = "multi_thread")]
async fn accounts_lists_the_users_accounts_and_leaves_an_unchanged_token_alone() {
    let env = Env::new().await;
    let before = env.token_json();
    let run = env.run(&["accounts"]).await.expect(0);
    assert!(run.stdout.starts_with("ID"), "{}", run.stdout);
    assert!(
        run.stdout.contains("acc-1") && run.stdout.contains("ref-acc-2"),
        "{}",
        run.stdout
    );
    let v = env.run(&["--json", "accounts"]).await.expect(0).json();
    let ids: Vec<&str> = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acc-1", "acc-2"]);
    assert_eq!(v["accounts"][0]["reference"], "ref-acc-1");
    assert_eq!(v["token_refreshed"], false);
    // Not rewritten: same bytes, and still the 0644 the test gave it.
    assert_eq!(env.token_json(), before);
    assert_eq!(mode(&env.token), 0o644);
}

#[tokio::test(flavor = "multi_thread")]
async fn contract_shows_the_details_and_that_it_may_write() {
    let env = Env::new().await;
    let run = env.run(&["contract"]).await.expect(0);
    assert!(run.stdout.contains(CONTRACT), "{}", run.stdout);
    assert!(run.stdout.contains("write (may push)"), "{}", run.stdout);
    let v = env.run(&["--json", "contract"]).await.expect(0).json();
    assert_eq!(v["can_write"], true);
    assert_eq!(v["contract"]["id"], CONTRACT);
    assert_eq!(v["contract"]["application"]["id"], APP);
    // `contract` needs no token file.
    let mut cmd = env.command(&["contract"]);
    cmd.env_remove("DIGIME_TOKEN_FILE");
    run_ok(cmd).await;
}

async fn run_ok(cmd: Command) {
    run(cmd).await.expect(0);
}

// ---------------------------------------------------------------- tokens

#[tokio::test(flavor = "multi_thread")]
async fn token_refresh_rewrites_the_token_file_atomically_with_mode_0600() {
    let env = Env::new().await;
    let old_access = env.access_value();
    let run = env.run(&["token", "refresh"]).await.expect(0);
    let new_access = env.access_value();
    assert_ne!(old_access, new_access, "a new token was written");
    assert_eq!(mode(&env.token), 0o600);
    // Never a token value in the output.
    for secret in [&old_access, &new_access] {
        assert!(!run.stdout.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()));
    }
    assert!(run.stdout.contains("token refreshed"), "{}", run.stdout);
    let v = env
        .run(&["--json", "token", "refresh"])
        .await
        .expect(0)
        .json();
    assert_eq!(v["refreshed"], true);
    assert_eq!(v["user_id"], USER);
    assert!(v["access_token_expiry"].as_u64().unwrap() > 0);
    assert!(!v.to_string().contains(&env.access_value()));
    assert_eq!(env.sandbox.refresh_count(), 2);
    no_temp_files_left(env.dir.path());
    // The rewritten file is still a token the next command accepts.
    env.run(&["accounts"]).await.expect(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_access_token_is_refreshed_during_a_push_and_written_back() {
    let env = Env::new().await;
    let old_access = env.access_value();
    // Through the sandbox's HTTP control API, as an operator would.
    let control = env.sandbox.base_url().replace("/v1.7/", "/sandbox/");
    let resp = reqwest::Client::new()
        .post(format!("{control}users/{USER}/expire-access-token"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());

    let file = env.write("a.txt", b"hello");
    let v = env
        .run(&[
            "--json",
            "push",
            "library",
            file.to_str().unwrap(),
            "--account",
            "acc-1",
        ])
        .await
        .expect(0)
        .json();
    assert_eq!(v["token_refreshed"], true);
    assert_eq!(v["token_written"], true);
    assert_ne!(env.access_value(), old_access);
    assert_eq!(mode(&env.token), 0o600);
    assert_eq!(env.sandbox.library(USER).len(), 1);
    no_temp_files_left(env.dir.path());

    // Same for accounts, in human mode.
    env.sandbox.expire_access_token(USER);
    let run = env.run(&["accounts"]).await.expect(0);
    assert!(
        run.stdout.contains("new token was written"),
        "{}",
        run.stdout
    );
}

fn no_temp_files_left(dir: &Path) {
    let leftovers: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

// ---------------------------------------------------------------- token stores

/// The refresh grants the sandbox received.
fn refresh_grants(env: &Env) -> usize {
    env.sandbox
        .requests()
        .iter()
        .filter(|r| r.path == "oauth/token" && r.claims["grant_type"] == "refresh_token")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_processes_on_one_expired_token_file_make_one_refresh() {
    let env = Env::new().await;
    // Expired for digi.me and in the file: every process must refresh first.
    env.sandbox.expire_access_token(USER);
    let mut token: Value = serde_json::from_str(&env.token_json()).unwrap();
    token["accessToken"]["expiry"] = Value::from(1_000_000_000u64);
    std::fs::write(&env.token, token.to_string()).unwrap();

    let mut children = Vec::new();
    for i in 0..8 {
        let file = env.write(&format!("f{i}.txt"), format!("file {i}").as_bytes());
        let mut cmd = env.command(&[
            "--json",
            "push",
            "library",
            file.to_str().unwrap(),
            "--account",
            "acc-1",
        ]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        children.push(cmd.spawn().expect("the binary starts"));
    }
    let mut refreshed = 0;
    for child in children {
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("the binary finishes")
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "every process succeeds: {stderr}"
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        if v["token_refreshed"] == true {
            refreshed += 1;
        }
    }
    // A process that started after the file was rewritten read the new
    // token and had nothing to refresh; the others took the one refresh.
    assert!(refreshed >= 1, "a process refreshed");
    assert_eq!(refresh_grants(&env), 1, "one refresh for eight processes");
    assert_eq!(env.sandbox.refresh_count(), 1);
    assert_eq!(env.sandbox.library(USER).len(), 8, "eight files stored");
    assert_eq!(mode(&env.token), 0o600);
    no_temp_files_left(env.dir.path());
    // The file holds the new token, and it works.
    env.run(&["accounts"]).await.expect(0);
    assert_eq!(refresh_grants(&env), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_token_store_takes_a_token_and_gives_it_back() {
    let env = Env::new().await;
    let store = format!("file://{}", env.path("tokens").display());
    let stored = env.token_json();

    // token put FILE, then token get: the same token, byte for byte.
    let v = env
        .run(&[
            "--json",
            "--token-store",
            &store,
            "token",
            "put",
            "--user",
            "alice",
            "token.json",
        ])
        .await
        .expect(0)
        .json();
    assert_eq!(v["stored"], true);
    assert_eq!(v["user"], "alice");
    assert!(
        !v.to_string().contains(&env.access_value()),
        "put prints no secret"
    );
    let got = env
        .run(&["--token-store", &store, "--user", "alice", "token", "get"])
        .await
        .expect(0);
    assert_eq!(got.stdout.trim(), stored);

    // token put - reads stdin.
    let mut cmd = env.command(&[
        "--token-store",
        &store,
        "--user",
        "bob",
        "token",
        "put",
        "-",
    ]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(stored.as_bytes()).await.unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Commands that take a token use the store's (the token file is gone).
    std::fs::remove_file(&env.token).unwrap();
    env.sandbox.expire_access_token(USER);
    let mut cmd = env.command(&["--json", "accounts"]);
    cmd.env("DIGIME_TOKEN_STORE", &store)
        .env("DIGIME_USER", "alice");
    let v = run(cmd).await.expect(0).json();
    assert_eq!(v["token_refreshed"], true);
    let after = env
        .run(&["--token-store", &store, "--user", "alice", "token", "get"])
        .await
        .expect(0);
    assert_ne!(
        after.stdout.trim(),
        stored,
        "the store holds the refreshed token"
    );
    let file = env.write("a.txt", b"to the store's user");
    env.run(&[
        "--token-store",
        &store,
        "--user",
        "alice",
        "push",
        "library",
        file.to_str().unwrap(),
        "--account",
        "acc-1",
    ])
    .await
    .expect(0);
    assert_eq!(env.sandbox.library(USER).len(), 1);

    // A store without --user, an unknown user, a store URL it does not take.
    let run_ = env
        .run(&["--token-store", &store, "accounts"])
        .await
        .expect(2);
    assert!(
        run_.stderr.contains("--user") && run_.stderr.contains("DIGIME_USER"),
        "{}",
        run_.stderr
    );
    let run_ = env
        .run(&["--token-store", &store, "--user", "nobody", "accounts"])
        .await
        .expect(2);
    assert!(run_.stderr.contains("nobody"), "{}", run_.stderr);
    env.run(&["--token-store", "ftp://x", "--user", "alice", "accounts"])
        .await
        .expect(2);
    let bad = env.write("bad.json", br#"{"accessToken":"very-secret"}"#);
    let run_ = env
        .run(&[
            "--token-store",
            &store,
            "--user",
            "carol",
            "token",
            "put",
            bad.to_str().unwrap(),
        ])
        .await
        .expect(2);
    assert!(!run_.stderr.contains("very-secret"), "{}", run_.stderr);
}

// ---------------------------------------------------------------- exit 3

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_refresh_token_exits_3() {
    let env = Env::new().await;
    env.sandbox.expire_access_token(USER);
    env.sandbox.expire_refresh_token(USER);
    let before = env.token_json();
    let run = env.run(&["accounts"]).await.expect(3);
    assert!(
        run.stderr
            .contains("run `digime reauthorize --callback-port PORT`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("reauthorize flow"), "{}", run.stderr);
    let v = env
        .run(&["--json", "token", "refresh"])
        .await
        .expect(3)
        .json();
    assert_eq!(v["error"]["kind"], "reauthorization_required");
    assert_eq!(v["error"]["code"], "InvalidToken");
    let file = env.write("a.txt", b"x");
    env.run(&[
        "push",
        "library",
        file.to_str().unwrap(),
        "--account",
        "acc-1",
    ])
    .await
    .expect(3);
    assert_eq!(
        env.token_json(),
        before,
        "a failed refresh leaves the file alone"
    );
}

// ---------------------------------------------------------------- exit 2

#[tokio::test(flavor = "multi_thread")]
async fn usage_and_configuration_errors_exit_2() {
    let env = Env::new().await;
    let file = env.write("a.txt", b"x");
    let f = file.to_str().unwrap();

    // Bad flags.
    env.run(&["push", "library", f]).await.expect(2); // no --account
    env.run(&[
        "push",
        "provider",
        f,
        "--account-id",
        "a",
        "--fhir-version",
        "4",
    ])
    .await
    .expect(2);
    env.run(&["authorize", "--callback-port", "0", "--source-type", "both"])
        .await
        .expect(2);
    env.run(&["no-such-command"]).await.expect(2);
    let v = env
        .run(&["--json", "push", "library", f])
        .await
        .expect(2)
        .json();
    assert_eq!(v["error"]["kind"], "usage");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--account"),
        "{v}"
    );

    // A missing setting names its flag and variable.
    let mut cmd = env.command(&["accounts"]);
    cmd.env_remove("DIGIME_APP_ID");
    let run_ = run(cmd).await.expect(2);
    assert!(
        run_.stderr.contains("--app-id") && run_.stderr.contains("DIGIME_APP_ID"),
        "{}",
        run_.stderr
    );

    // An unreadable key, a key that is not a key.
    let mut cmd = env.command(&["contract"]);
    cmd.env("DIGIME_KEY_FILE", env.path("missing.pem"));
    run(cmd).await.expect(2);
    let bad_key = env.write("bad.pem", b"-----BEGIN NONSENSE-----\nabc\n");
    let mut cmd = env.command(&["--json", "contract"]);
    cmd.env("DIGIME_KEY_FILE", &bad_key);
    assert_eq!(run(cmd).await.expect(2).json()["error"]["kind"], "config");

    // A missing token file, a malformed one (whose content is never echoed).
    let mut cmd = env.command(&["accounts"]);
    cmd.env("DIGIME_TOKEN_FILE", env.path("missing.json"));
    run(cmd).await.expect(2);
    let bad_token = env.write("bad-token.json", br#"{"accessToken":"very-secret-value"}"#);
    let mut cmd = env.command(&["accounts"]);
    cmd.env("DIGIME_TOKEN_FILE", &bad_token);
    let run_ = run(cmd).await.expect(2);
    assert!(
        !run_.stderr.contains("very-secret-value"),
        "{}",
        run_.stderr
    );
    assert!(run_.stderr.contains("bad-token.json"), "{}", run_.stderr);

    // A file that does not exist; a provider file that is not JSON.
    env.run(&["push", "library", "nope.txt", "--account", "acc-1"])
        .await
        .expect(2);
    let v = env
        .run(&[
            "--json",
            "push",
            "library",
            "nope.txt",
            "--account",
            "acc-1",
        ])
        .await
        .expect(2)
        .json();
    assert_eq!(v["error"]["kind"], "invalid_input");
    env.run(&["push", "provider", f, "--account-id", "acc-1"])
        .await
        .expect(2);

    // Nothing reached the library.
    assert!(env.sandbox.library(USER).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn help_and_version_exit_0() {
    let run_ = run(bare(&["--help"])).await.expect(0);
    for command in [
        "push",
        "accounts",
        "token",
        "contract",
        "authorize",
        "reauthorize",
        "onboard",
        "account",
        "sandbox",
    ] {
        assert!(run_.stdout.contains(command), "{command}: {}", run_.stdout);
    }
    let run_ = run(bare(&["account", "--help"])).await.expect(0);
    for command in ["delete", "revoke-url"] {
        assert!(run_.stdout.contains(command), "{command}: {}", run_.stdout);
    }
    let run_ = run(bare(&["--version"])).await.expect(0);
    assert!(run_.stdout.contains(env!("CARGO_PKG_VERSION")));
}

// ---------------------------------------------------------------- authorize

/// Starts `digime authorize`, waits for the onboard URL it prints (on
/// stdout, or on stderr with `--json`) and returns the child, the URL and
/// the rest of that stream, read in the background.
async fn start_authorize(
    env: &Env,
    token: &Path,
    args: &[&str],
) -> (
    tokio::process::Child,
    String,
    tokio::task::JoinHandle<String>,
) {
    start_waiting(env, token, &[&["authorize"], args].concat()).await
}

/// Starts a command that prints a consent URL and waits for the redirect
/// (`authorize`, `reauthorize`, `onboard`); returns as `start_authorize`.
async fn start_waiting(
    env: &Env,
    token: &Path,
    args: &[&str],
) -> (
    tokio::process::Child,
    String,
    tokio::task::JoinHandle<String>,
) {
    let json = args.contains(&"--json");
    let mut cmd = env.command(args);
    cmd.env("DIGIME_TOKEN_FILE", token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stream: Box<dyn tokio::io::AsyncRead + Send + Unpin> = if json {
        Box::new(child.stderr.take().unwrap())
    } else {
        Box::new(child.stdout.take().unwrap())
    };
    let mut lines = BufReader::new(stream).lines();
    let url = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the URL is printed");
            if line.starts_with("http") {
                return line;
            }
        }
    })
    .await
    .expect("the URL is printed in time");
    let rest = tokio::spawn(async move {
        let mut all = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    (child, url, rest)
}

/// Waits for a command started with `start_waiting` to end with exit 0.
async fn finished_ok(child: tokio::process::Child) -> std::process::Output {
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the command ends")
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Follows the onboard URL like a browser, without following the redirect.
async fn consent(url: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = browser.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 302, "consent redirects");
    resp.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn authorize_prints_the_url_waits_for_the_callback_and_writes_the_token() {
    let env = Env::new().await;
    let token = env.path("new-token.json");
    let (child, url, stdout) = start_authorize(
        &env,
        &token,
        &["--callback-port", "0", "--source-type", "push"],
    )
    .await;
    assert!(url.starts_with(&env.sandbox.onboard_url()), "{url}");
    assert!(url.contains("sourceType=push"), "{url}");

    let location = consent(&url).await;
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    assert!(location.contains("/callback?"), "{location}");
    // The browser lands on the tool's callback page.
    let page = reqwest::get(&location).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("authorized"));

    let out = finished_ok(child).await;
    let stdout = stdout.await.unwrap();
    assert!(stdout.contains("authorized; token written to"), "{stdout}");
    assert!(stdout.contains("account acc-"), "{stdout}");
    assert_eq!(mode(&token), 0o600);
    let saved: digime::UserAccessToken =
        serde_json::from_str(&std::fs::read_to_string(&token).unwrap()).unwrap();
    let value = {
        use digime::secrecy::ExposeSecret;
        saved.access_token().value().expose_secret().to_owned()
    };
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&value));

    // The new token works, and the onboarded account is listed.
    let mut cmd = env.command(&["--json", "accounts"]);
    cmd.env("DIGIME_TOKEN_FILE", &token);
    let v = run(cmd).await.expect(0).json();
    assert_eq!(v["accounts"].as_array().unwrap().len(), 1, "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn authorize_rejects_a_callback_with_the_wrong_state() {
    let env = Env::new().await;
    let token = env.path("never.json");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let port_text = port.to_string();
    let (child, _url, _stdout) = start_authorize(
        &env,
        &token,
        &["--callback-port", &port_text, "--service", "7"],
    )
    .await;
    // An idle connection (a browser's preconnect) holds nothing up.
    let _idle = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    // Another page first: answered 404, the tool keeps waiting.
    let favicon = reqwest::get(format!("http://127.0.0.1:{port}/favicon.ico"))
        .await
        .unwrap();
    assert_eq!(favicon.status(), 404);
    let forged = reqwest::get(format!(
        "http://127.0.0.1:{port}/callback?success=true&code=stolen&state=not-the-state"
    ))
    .await
    .unwrap();
    assert_eq!(forged.status(), 400);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("state"));
    assert!(!token.exists(), "no token was written");
}

#[tokio::test(flavor = "multi_thread")]
async fn authorize_json_reports_a_refused_consent_as_exit_1() {
    let env = Env::new().await;
    env.sandbox
        .set_consent_failure(Some("UserCancelled".to_owned()));
    let token = env.path("never.json");
    let (child, url, _stderr) =
        start_authorize(&env, &token, &["--json", "--callback-port", "0"]).await;
    let location = consent(&url).await;
    assert!(location.contains("success=false"), "{location}");
    let page = reqwest::get(&location).await.unwrap();
    assert_eq!(page.status(), 400);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["error"]["kind"], "authorization_failed");
    assert_eq!(v["error"]["code"], "UserCancelled");
    assert!(!token.exists());
}

// ---------------------------------------------------------------- lifecycle

#[tokio::test(flavor = "multi_thread")]
async fn reauthorize_rewrites_the_token_file_for_the_same_user() {
    let env = Env::new().await;
    let file = env.write("before.txt", b"before");
    env.run(&[
        "push",
        "library",
        file.to_str().unwrap(),
        "--account",
        "acc-1",
    ])
    .await
    .expect(0);
    env.sandbox.expire_access_token(USER);
    env.sandbox.expire_refresh_token(USER);
    env.run(&["accounts"]).await.expect(3);
    let before = env.token_json();

    let (child, url, stdout) =
        start_waiting(&env, &env.token, &["reauthorize", "--callback-port", "0"]).await;
    assert!(
        url.starts_with(&format!("{}user-reauth?code=", env.sandbox.onboard_url())),
        "{url}"
    );
    let location = consent(&url).await;
    let page = reqwest::get(&location).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("reauthorized"));
    finished_ok(child).await;
    let stdout = stdout.await.unwrap();
    assert!(
        stdout.contains("reauthorized; token written to"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("user {USER}")), "{stdout}");
    assert_ne!(env.token_json(), before, "the token file was rewritten");
    assert_eq!(mode(&env.token), 0o600);
    let saved: digime::UserAccessToken = serde_json::from_str(&env.token_json()).unwrap();
    assert_eq!(saved.user_id(), Some(USER), "the same user");

    // The same library: the new token pushes next to the old file.
    let file = env.write("after.txt", b"after");
    env.run(&[
        "push",
        "library",
        file.to_str().unwrap(),
        "--account",
        "acc-1",
    ])
    .await
    .expect(0);
    assert_eq!(env.sandbox.library(USER).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn onboard_adds_a_provider_account_and_reports_its_id() {
    let env = Env::new().await;
    let before = env.token_json();
    let (child, url, _stderr) = start_waiting(
        &env,
        &env.token,
        &[
            "--json",
            "onboard",
            "--callback-port",
            "0",
            "--source-type",
            "push",
            "--service",
            "9",
        ],
    )
    .await;
    assert!(
        url.starts_with(&format!("{}onboard?code=", env.sandbox.onboard_url())),
        "{url}"
    );
    assert!(
        url.contains("sourceType=push") && url.contains("service=9"),
        "{url}"
    );
    let location = consent(&url).await;
    let page = reqwest::get(&location).await.unwrap();
    assert_eq!(page.status(), 200);
    let out = finished_ok(child).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["onboarded"], true);
    assert_eq!(v["token_written"], false);
    let id = v["account_id"].as_str().expect("the new account's id");
    let account = env
        .sandbox
        .accounts(USER)
        .into_iter()
        .find(|a| a.id == id)
        .expect("listed");
    assert_eq!(
        account.reference.as_deref(),
        v["account_reference"].as_str()
    );
    assert_eq!(account.service_type_id, Some(9));
    assert_eq!(env.token_json(), before, "an unchanged token is left alone");
    // A provider push to it works.
    let record = env.write("r.json", br#"{"resourceType":"Bundle"}"#);
    env.run(&[
        "push",
        "provider",
        record.to_str().unwrap(),
        "--account-id",
        id,
    ])
    .await
    .expect(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn account_delete_removes_the_account() {
    let env = Env::new().await;
    let v = env
        .run(&["--json", "account", "delete", "acc-2"])
        .await
        .expect(0)
        .json();
    assert_eq!(v["deleted"], true);
    assert_eq!(v["account_id"], "acc-2");
    let ids: Vec<String> = env
        .sandbox
        .accounts(USER)
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, ["acc-1"]);
    let run = env.run(&["account", "delete", "acc-2"]).await.expect(1);
    assert!(run.stderr.contains("ValidationErrors"), "{}", run.stderr);
    let record = env.write("r.json", br#"{"resourceType":"Bundle"}"#);
    env.run(&[
        "push",
        "provider",
        record.to_str().unwrap(),
        "--account-id",
        "acc-2",
    ])
    .await
    .expect(1);
    // Human output.
    let run = env.run(&["account", "delete", "acc-1"]).await.expect(0);
    assert!(
        run.stdout.contains("account acc-1 deleted"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn account_revoke_url_prints_where_to_send_the_user() {
    let env = Env::new().await;
    let run = env
        .run(&[
            "account",
            "revoke-url",
            "acc-1",
            "--redirect",
            "https://my.app/back",
        ])
        .await
        .expect(0);
    let location = run.stdout.lines().next().unwrap_or_default().to_owned();
    assert!(
        location.starts_with(&env.sandbox.onboard_url()),
        "{location}"
    );
    // The user revokes there and comes back to the redirect.
    let back = consent(&location).await;
    assert!(
        back.starts_with("https://my.app/back?success=true"),
        "{back}"
    );
    let v = env
        .run(&[
            "--json",
            "account",
            "revoke-url",
            "acc-2",
            "--redirect",
            "https://my.app/back",
        ])
        .await
        .expect(0)
        .json();
    assert!(
        v["location"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert_eq!(v["account_id"], "acc-2");
    // A bad redirect is bad input: exit 2, nothing sent.
    let v = env
        .run(&[
            "--json",
            "account",
            "revoke-url",
            "acc-1",
            "--redirect",
            "not a url",
        ])
        .await
        .expect(2)
        .json();
    assert_eq!(v["error"]["field"], "callback");
    env.run(&["account", "revoke-url", "acc-1"]).await.expect(2); // no --redirect
}

// ---------------------------------------------------------------- sandbox

#[tokio::test(flavor = "multi_thread")]
async fn sandbox_writes_a_ready_configuration_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox_dir = dir.path().join("sb");
    let mut child = bare(&[
        "--json",
        "sandbox",
        "--port",
        "0",
        "--dir",
        sandbox_dir.to_str().unwrap(),
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the sandbox reports in time")
        .unwrap()
        .expect("one JSON object");
    let v: Value = serde_json::from_str(&first).unwrap();
    let base_url = v["base_url"].as_str().unwrap();
    assert!(
        base_url.starts_with("http://127.0.0.1:") && base_url.ends_with("/v1.7/"),
        "{v}"
    );
    let key = PathBuf::from(v["files"]["key"].as_str().unwrap());
    let token = PathBuf::from(v["files"]["token"].as_str().unwrap());
    let env_file = PathBuf::from(v["files"]["env"].as_str().unwrap());
    assert_eq!(key, sandbox_dir.canonicalize().unwrap().join("key.pem"));
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&token), 0o600);
    let env_text = std::fs::read_to_string(&env_file).unwrap();
    for var in [
        "DIGIME_BASE_URL",
        "DIGIME_APP_ID",
        "DIGIME_CONTRACT_ID",
        "DIGIME_KEY_FILE",
        "DIGIME_TOKEN_FILE",
    ] {
        assert!(
            env_text.contains(&format!("export {var}=")),
            "{var}: {env_text}"
        );
    }
    assert!(
        !env_text.contains("PRIVATE KEY"),
        "the env file holds paths, not the key"
    );

    // The next push works at once: source the env file with sh, push.
    std::fs::write(dir.path().join("note.txt"), b"hello sandbox").unwrap();
    let account = v["accounts"][0].as_str().unwrap();
    let script = format!(
        ". '{}' && '{BIN}' push library note.txt --account {account} && '{BIN}' --json accounts",
        env_file.display()
    );
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(&script).current_dir(dir.path());
    for var in [
        "DIGIME_BASE_URL",
        "DIGIME_APP_ID",
        "DIGIME_CONTRACT_ID",
        "DIGIME_KEY_FILE",
        "DIGIME_TOKEN_FILE",
    ] {
        sh.env_remove(var);
    }
    let pushed = run(sh).await.expect(0);
    assert!(
        pushed.stdout.contains("pushed note.txt"),
        "{}",
        pushed.stdout
    );
    assert!(pushed.stdout.contains("\"acc-1\""), "{}", pushed.stdout);

    // Ctrl-C (SIGINT) stops it cleanly.
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("the sandbox stops")
        .unwrap();
    assert_eq!(exit.code(), Some(0));
    assert_eq!(
        lines.next_line().await.unwrap(),
        None,
        "one JSON object only"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sandbox_on_a_busy_port_fails() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let run_ = run(bare(&[
        "sandbox",
        "--port",
        &port,
        "--dir",
        dir.path().to_str().unwrap(),
    ]))
    .await;
    assert_eq!(run_.code, 2, "{}", run_.stderr);
    assert!(run_.stderr.contains(&port), "{}", run_.stderr);
}

// ---------------------------------------------------------------- token put: a token put back

#[tokio::test(flavor = "multi_thread")]
async fn token_put_warns_when_the_store_already_refreshed_the_token_away() {
    use digime::store::{CommitOutcome, FileTokenStore, LeaseAttempt, TokenStore};
    let env = Env::new().await;
    // A backup of today's token, then the token file rotated by a refresh
    // (a commit under the lease, as any process sharing the file makes).
    let backup = env.write("backup.json", env.token_json().as_bytes());
    let v = env
        .run(&["--json", "token", "put", "backup.json"])
        .await
        .expect(0)
        .json();
    assert_eq!(v["already_rotated"], false, "{v}");
    let store = FileTokenStore::single_file(&env.token);
    let LeaseAttempt::Acquired { lease, current, .. } = store
        .acquire_lease("default", Duration::from_secs(5))
        .await
        .unwrap()
    else {
        panic!("the lease is free");
    };
    let refreshed = env.sandbox.mint_token(APP, CONTRACT, USER).unwrap();
    let version = current.unwrap().version;
    let outcome = store.commit(&lease, version, &refreshed).await.unwrap();
    assert!(
        matches!(outcome, CommitOutcome::Committed(_)),
        "{outcome:?}"
    );

    // Putting the backup back is done, with a warning on stderr and a key
    // in the JSON.
    let run_ = env
        .run(&["--json", "token", "put", backup.to_str().unwrap()])
        .await
        .expect(0);
    let v = run_.json();
    assert_eq!(v["stored"], true, "{v}");
    assert_eq!(v["already_rotated"], true, "{v}");
    assert_eq!(v["version"], version + 2, "{v}");
    assert!(
        run_.stderr.contains("warning") && run_.stderr.contains("reauthorized"),
        "{}",
        run_.stderr
    );
    assert_eq!(env.token_json(), std::fs::read_to_string(&backup).unwrap());
    let run_ = env.run(&["token", "put", "backup.json"]).await.expect(0);
    assert!(run_.stdout.contains("stored the token"), "{}", run_.stdout);
    assert!(
        run_.stderr.contains("older than one the store held"),
        "{}",
        run_.stderr
    );

    // A token the store never refreshed away gets no warning.
    let newer = env.write(
        "newer.json",
        serde_json::to_string(&refreshed).unwrap().as_bytes(),
    );
    let run_ = env
        .run(&["--json", "token", "put", newer.to_str().unwrap()])
        .await
        .expect(0);
    assert_eq!(run_.json()["already_rotated"], false);
    assert!(!run_.stderr.contains("warning"), "{}", run_.stderr);
}

// ---------------------------------------------------------------- push errors: stored or not

/// How many pushes reached the sandbox's import endpoint (library or provider).
fn import_attempts(env: &Env) -> usize {
    env.sandbox
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("permission-access/import"))
        .count()
}

/// `digime --json ARGS`, which exits `code`: its error object.
async fn json_error(env: &Env, args: &[&str], code: i32) -> Value {
    let args = [&["--json"], args].concat();
    env.run(&args).await.expect(code).json()["error"].clone()
}

/// No library method in a message for an operator: they cannot call one.
fn no_library_advice(stderr: &str) {
    for sdk_only in [
        "DigiMe",
        "retry_ambiguous_pushes",
        "user_access_token()",
        "reauthorize_account",
    ] {
        assert!(!stderr.contains(sdk_only), "{sdk_only} in: {stderr}");
    }
}

/// The next push (library or provider) gets `status`, after the sandbox
/// handled it when `stored`.
fn next_push_answers(env: &Env, status: u16, stored: bool) {
    let fault = digime::sandbox::Fault::with_status("permission-access/import", status);
    env.sandbox.inject_fault(if stored {
        fault.after_handling()
    } else {
        fault
    });
}

/// `push library FILE --account acc-1`.
fn push_library(file: &Path) -> [&str; 5] {
    let file = file.to_str().unwrap();
    ["push", "library", file, "--account", "acc-1"]
}

/// `push provider FILE --account-id acc-1`.
fn push_provider(file: &Path) -> [&str; 5] {
    let file = file.to_str().unwrap();
    ["push", "provider", file, "--account-id", "acc-1"]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_that_may_have_been_stored_says_so_in_json_and_advises_an_operator() {
    let env = Env::new().await;
    let file = env.write("scan.txt", b"may be stored");
    let push = push_library(&file);

    // The sandbox stores the push, then answers 502: the client cannot know.
    next_push_answers(&env, 502, true);
    let e = json_error(&env, &push, 1).await;
    assert_eq!(e["may_have_been_stored"], true, "{e}");
    assert_eq!(e["kind"], "server");
    assert_eq!(e["status"], 502);
    assert_eq!(e["code"], "BadGateway");
    assert!(e["reference"].as_str().unwrap().starts_with("sbx-"), "{e}");
    assert_eq!(e["exit_code"], 1);
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("the push may have been stored"),
        "{message}"
    );
    no_library_advice(message);
    assert_eq!(import_attempts(&env), 1, "never sent again");
    assert_eq!(env.sandbox.library(USER).len(), 1, "stored once");

    // A person gets what they can do from a shell, and what pushing again risks.
    next_push_answers(&env, 502, true);
    let run = env.run(&push).await.expect(1);
    for says in [
        "the push may have been stored",
        "running the same push again may leave a duplicate in the user's library",
    ] {
        assert!(run.stderr.contains(says), "{says}: {}", run.stderr);
    }
    assert!(!run.stderr.contains("nothing was stored"), "{}", run.stderr);
    no_library_advice(&run.stderr);
    assert_eq!(import_attempts(&env), 2);

    // A provider push says so too.
    let bundle = env.write("bundle.json", br#"{"resourceType":"Bundle"}"#);
    let provider = push_provider(&bundle);
    next_push_answers(&env, 504, true);
    let e = json_error(&env, &provider, 1).await;
    assert_eq!(e["may_have_been_stored"], true, "{e}");
    assert_eq!(e["status"], 504);
    assert_eq!(env.sandbox.provider_pushes(USER).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_that_was_certainly_not_stored_says_so_and_that_it_can_run_again() {
    let env = Env::new().await;
    let file = env.write("scan.txt", b"refused");
    let push = push_library(&file);

    // Refused before it was handled: nothing stored.
    next_push_answers(&env, 403, false);
    let e = json_error(&env, &push, 1).await;
    assert_eq!(e["may_have_been_stored"], false, "{e}");
    assert_eq!(e["status"], 403);
    next_push_answers(&env, 400, false);
    let run = env.run(&push).await.expect(1);
    assert!(run.stderr.contains("nothing was stored"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("may have been stored"),
        "{}",
        run.stderr
    );
    no_library_advice(&run.stderr);

    // 503 on every attempt: resent, then given up; not stored either.
    env.sandbox.inject_fault(
        digime::sandbox::Fault::with_status("permission-access/import", 503).times(3),
    );
    let e = json_error(&env, &push, 1).await;
    assert_eq!(e["may_have_been_stored"], false, "{e}");
    assert_eq!(e["status"], 503);
    assert!(env.sandbox.library(USER).is_empty());
    assert_eq!(import_attempts(&env), 5);

    // A push command that stops before sending says so too, and so does a
    // usage error that clap finds.
    let missing = ["push", "library", "missing.txt", "--account", "acc-1"];
    let e = json_error(&env, &missing, 2).await;
    assert_eq!(e["may_have_been_stored"], false, "{e}");
    let e = json_error(&env, &push[..3], 2).await; // no --account
    assert_eq!(e["kind"], "usage");
    assert_eq!(e["may_have_been_stored"], false, "{e}");
    // Other commands push nothing: no such key.
    env.sandbox
        .inject_fault(digime::sandbox::Fault::with_status(
            "permission-access/accounts",
            400,
        ));
    let e = json_error(&env, &["accounts"], 1).await;
    assert!(e.get("may_have_been_stored").is_none(), "{e}");
    assert_eq!(import_attempts(&env), 5, "nothing more sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_that_needs_consent_and_a_refresh_that_may_have_happened_advise_an_operator() {
    let env = Env::new().await;

    // digi.me wants the user's consent again for this one account: exit 3,
    // nothing stored, and advice a shell user can act on.
    let bundle = env.write("bundle.json", br#"{"resourceType":"Bundle"}"#);
    let provider = push_provider(&bundle);
    env.sandbox.inject_fault(
        digime::sandbox::Fault::with_status("permission-access/import", 403)
            .with_code("ServiceAuthorizationError"),
    );
    let run = env.run(&provider).await.expect(3);
    for says in [
        "ServiceAuthorizationError",
        "nothing was stored",
        "consent again for this account",
    ] {
        assert!(run.stderr.contains(says), "{says}: {}", run.stderr);
    }
    no_library_advice(&run.stderr);

    // The refresh was performed, but its answer was lost: the message says
    // it may have happened, and the advice is the CLI's own command.
    env.sandbox.expire_access_token(USER);
    env.sandbox
        .inject_fault(digime::sandbox::Fault::with_status("oauth/token", 502).after_handling());
    // (A short lease: after a refresh that may have happened, the token
    // file's lease is kept until it runs out.)
    let run = env.run(&["--lease-ttl", "1", "accounts"]).await.expect(1);
    for says in [
        "the refresh may have happened",
        "run `digime reauthorize --callback-port PORT`",
    ] {
        assert!(run.stderr.contains(says), "{says}: {}", run.stderr);
    }
    no_library_advice(&run.stderr);
    // It did happen: the next command, once the lease ran out, is told to
    // reauthorize.
    let run = env.run(&["--lease-ttl", "1", "accounts"]).await.expect(3);
    assert!(run.stderr.contains("digime reauthorize"), "{}", run.stderr);
}
