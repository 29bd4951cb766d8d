//! `digime sandbox [--port P] [--dir DIR]`: runs the local digi.me sandbox
//! with a contract, a user and a token ready, and writes into DIR what the
//! next `digime push …` needs: key.pem, token.json (both 0600) and
//! digime.env (sourceable by sh).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use digime::ContractDetails;
use digime::sandbox::{Sandbox, generate_private_key_pem};
use digime::store::{FileTokenStore, TokenStore};
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

    let key_path = dir.join(KEY_FILE);
    let token_path = dir.join(TOKEN_FILE);
    let env_path = dir.join(ENV_FILE);
    let env = env_file(&[
        ("DIGIME_BASE_URL", base_url.clone()),
        ("DIGIME_APP_ID", app_id.clone()),
        ("DIGIME_CONTRACT_ID", contract_id.clone()),
        ("DIGIME_KEY_FILE", key_path.display().to_string()),
        ("DIGIME_TOKEN_FILE", token_path.display().to_string()),
    ]);
    for (path, bytes) in [(&key_path, pem.as_bytes()), (&env_path, env.as_bytes())] {
        write_private(path, bytes)
            .map_err(|e| Failure::config(format!("cannot write {}: {e}", path.display())))?;
    }
    // The token file is the CLI's token store: written the way it rewrites it.
    FileTokenStore::single_file(&token_path)
        .save("default", &token)
        .await
        .map_err(|e| Failure::config(format!("{e}")))?;

    out.note("digime sandbox: a local digi.me API for tests and development. NOT FOR PRODUCTION.");
    out.result(
        || {
            let mut text = format!("digime sandbox listening on {base_url}\n");
            let _ = writeln!(
                text,
                "wrote {} (the contract's private key, 0600)",
                key_path.display()
            );
            let _ = writeln!(
                text,
                "wrote {} (a token for user {USER_ID}, 0600)",
                token_path.display()
            );
            let _ = writeln!(text, "wrote {} (the settings, for sh)", env_path.display());
            let _ = writeln!(
                text,
                "app {app_id}, contract {contract_id}, accounts {}",
                ACCOUNTS.join(", ")
            );
            let _ = writeln!(text, "try:");
            let _ = writeln!(text, "  . {}", shell_quote(&env_path.display().to_string()));
            let _ = writeln!(text, "  digime push library FILE --account {}", ACCOUNTS[0]);
            let _ = writeln!(text, "Ctrl-C stops the sandbox.");
            text
        },
        json!({
            "base_url": base_url,
            "onboard_url": sandbox.onboard_url(),
            "app_id": app_id,
            "contract_id": contract_id,
            "user_id": USER_ID,
            "accounts": ACCOUNTS,
            "files": {
                "key": path_string(&key_path),
                "token": path_string(&token_path),
                "env": path_string(&env_path),
            },
        }),
    );

    wait_for_stop().await;
    sandbox.shutdown().await;
    Ok(())
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
