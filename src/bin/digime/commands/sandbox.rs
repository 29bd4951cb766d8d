//! `digime sandbox [--port P] [--dir DIR]`: runs the local digi.me sandbox
//! with a contract, a user and a token ready, and writes into DIR what the
//! next `digime push …` needs: key.pem, token.json (both 0600) and
//! digime.env (sourceable by sh).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use digime::sandbox::{Sandbox, generate_private_key_pem};
use digime::store::{FileTokenStore, TokenStore};
use digime::{ContractDetails, UserAccessToken};
use serde_json::json;

use crate::args::{Global, SandboxArgs};
use crate::output::{Failure, Output};
use crate::private_file::write_private;

/// The names used when the global flags do not give them.
const DEFAULT_APP_ID: &str = "sandbox-app";
const DEFAULT_CONTRACT_ID: &str = "sandbox-contract";
const USER_ID: &str = "sandbox-user";
const ACCOUNTS: &[&str] = &["acc-1", "acc-2"];

pub const KEY_FILE: &str = "key.pem";
pub const TOKEN_FILE: &str = "token.json";
pub const ENV_FILE: &str = "digime.env";

pub async fn run(global: &Global, args: SandboxArgs, out: Output) -> Result<(), Failure> {
    let app_id = global
        .app_id
        .clone()
        .unwrap_or_else(|| DEFAULT_APP_ID.to_owned());
    let contract_id = global
        .contract_id
        .clone()
        .unwrap_or_else(|| DEFAULT_CONTRACT_ID.to_owned());

    std::fs::create_dir_all(&args.dir)
        .map_err(|e| Failure::config(format!("cannot create {}: {e}", args.dir.display())))?;
    let dir = std::fs::canonicalize(&args.dir)
        .map_err(|e| Failure::config(format!("cannot resolve {}: {e}", args.dir.display())))?;

    let pem = generate_private_key_pem()?;
    let contract = ContractDetails::new(contract_id.as_str(), &pem)?;

    // A port already in use is the caller's configuration to fix: exit 2.
    let sandbox = Sandbox::builder()
        .port(args.port)
        .start()
        .await
        .map_err(|e| Failure::config(format!("cannot start the sandbox: {e}")))?;
    sandbox.register_contract(&app_id, &contract_id, &contract.public_key_pem())?;
    sandbox.create_user(USER_ID, ACCOUNTS)?;
    let token = sandbox.mint_token(&app_id, &contract_id, USER_ID)?;
    let base_url = sandbox.base_url();

    let files = write_files(&dir, &pem, &base_url, &app_id, &contract_id, &token).await?;

    out.note("digime sandbox: a local digi.me API for tests and development. NOT FOR PRODUCTION.");
    out.result(
        || text_report(&base_url, &files, &app_id, &contract_id),
        json!({
            "base_url": base_url,
            "onboard_url": sandbox.onboard_url(),
            "app_id": app_id,
            "contract_id": contract_id,
            "user_id": USER_ID,
            "accounts": ACCOUNTS,
            "files": {
                "key": path_string(&files.key),
                "token": path_string(&files.token),
                "env": path_string(&files.env),
            },
        }),
    );

    wait_for_stop().await;
    sandbox.shutdown().await;
    Ok(())
}

/// The files `digime sandbox` writes in its folder.
struct Files {
    key: PathBuf,
    token: PathBuf,
    env: PathBuf,
}

/// Writes the key, the settings and the token into `dir` (each 0600).
async fn write_files(
    dir: &Path,
    pem: &str,
    base_url: &str,
    app_id: &str,
    contract_id: &str,
    token: &UserAccessToken,
) -> Result<Files, Failure> {
    let files = Files {
        key: dir.join(KEY_FILE),
        token: dir.join(TOKEN_FILE),
        env: dir.join(ENV_FILE),
    };
    let env = env_file(&[
        ("DIGIME_BASE_URL", base_url.to_owned()),
        ("DIGIME_APP_ID", app_id.to_owned()),
        ("DIGIME_CONTRACT_ID", contract_id.to_owned()),
        ("DIGIME_KEY_FILE", files.key.display().to_string()),
        ("DIGIME_TOKEN_FILE", files.token.display().to_string()),
    ]);
    for (path, bytes) in [(&files.key, pem.as_bytes()), (&files.env, env.as_bytes())] {
        write_private(path, bytes)
            .map_err(|e| Failure::config(format!("cannot write {}: {e}", path.display())))?;
    }
    // The token file is the CLI's token store: written the way it rewrites it.
    FileTokenStore::single_file(&files.token)
        .save("default", token)
        .await
        .map_err(|e| Failure::config(format!("{e}")))?;
    Ok(files)
}

/// What the command prints on a terminal.
fn text_report(base_url: &str, files: &Files, app_id: &str, contract_id: &str) -> String {
    let mut text = format!("digime sandbox listening on {base_url}\n");
    let _ = writeln!(
        text,
        "wrote {} (the contract's private key, 0600)",
        files.key.display()
    );
    let _ = writeln!(
        text,
        "wrote {} (a token for user {USER_ID}, 0600)",
        files.token.display()
    );
    let _ = writeln!(text, "wrote {} (the settings, for sh)", files.env.display());
    let _ = writeln!(
        text,
        "app {app_id}, contract {contract_id}, accounts {}",
        ACCOUNTS.join(", ")
    );
    let _ = writeln!(text, "try:");
    let _ = writeln!(
        text,
        "  . {}",
        shell_quote(&files.env.display().to_string())
    );
    let _ = writeln!(text, "  digime push library FILE --account {}", ACCOUNTS[0]);
    let _ = writeln!(text, "Ctrl-C stops the sandbox.");
    text
}

fn path_string(path: &Path) -> String {
    PathBuf::from(path).display().to_string()
}

/// `export NAME='value'` lines: `. digime.env` sets them for the commands
/// that follow.
fn env_file(vars: &[(&str, String)]) -> String {
    let mut text = String::from("# Written by `digime sandbox`: source it with `. digime.env`.\n");
    for (name, value) in vars {
        let _ = writeln!(text, "export {name}={}", shell_quote(value));
    }
    text
}

/// Single-quotes `value` for sh.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Ctrl-C, or SIGTERM on Unix.
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_quoted_for_sh() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        let env = env_file(&[("DIGIME_APP_ID", "x y".to_owned())]);
        assert!(env.contains("export DIGIME_APP_ID='x y'\n"));
    }
}
