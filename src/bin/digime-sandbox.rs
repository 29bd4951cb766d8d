//! `digime-sandbox`: runs the digi.me sandbox (a local digi.me API for
//! tests and development; NOT for production) until Ctrl-C.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

// One writer of private files for both binaries.
#[path = "digime/private_file.rs"]
mod private_file;
use digime::sandbox::Sandbox;
use private_file::write_private;

/// A local digi.me API for tests and development. NOT FOR PRODUCTION.
///
/// Serves the digi.me write path on 127.0.0.1 with the real service's checks
/// (PS512 JWTs, nonces, timestamps, tokens, PKCE, FileDescriptor schema) and
/// a control API under /sandbox/ (see the guide at
/// https://docs.rs/digime/latest/digime/guide/sandbox/). Prints
/// "digime sandbox listening on <base URL>" on stdout once it is ready,
/// then runs until Ctrl-C.
///
/// Example:
///   digime-sandbox --port 8080 --app-id APP --contract CONTRACT_ID=public.pem
///     --user USER_ID --accounts acc-1,acc-2 --token-out token.json
// The text is the --help output too: a bare URL reads best there.
#[allow(rustdoc::bare_urls)]
#[derive(Debug, Parser)]
#[command(name = "digime-sandbox", version, verbatim_doc_comment)]
struct Args {
    /// The port on 127.0.0.1; 0 picks a free one (read it from the printed URL).
    #[arg(long, default_value_t = 8080, env = "DIGIME_SANDBOX_PORT")]
    port: u16,

    /// The application id the --contract flags register under.
    #[arg(long, value_name = "APP_ID", default_value = "sandbox-app")]
    app_id: String,

    /// Registers a write contract: its id and the path of its RSA public key
    /// PEM ("BEGIN PUBLIC KEY"; a private key PEM works too). Repeatable.
    #[arg(long = "contract", value_name = "CONTRACT_ID=PEM_PATH")]
    contracts: Vec<String>,

    /// Creates a user. Repeatable; the i-th --accounts belongs to the i-th --user.
    #[arg(long = "user", value_name = "USER_ID")]
    users: Vec<String>,

    /// The comma-separated account ids of the matching --user (each account
    /// gets the reference `ref-<id>`). Repeatable.
    #[arg(long = "accounts", value_name = "ID,ID,...")]
    accounts: Vec<String>,

    /// Writes a user access token for the first --user under the first
    /// --contract to this file (mode 0600), in the digi.me token JSON shape.
    #[arg(long, value_name = "PATH")]
    token_out: Option<PathBuf>,

    /// Keeps the bytes of library pushes up to this size (bytes); larger
    /// ones keep only size and SHA-256.
    #[arg(long, value_name = "BYTES", default_value_t = digime::sandbox::DEFAULT_KEEP_BYTES)]
    keep_bytes: u64,
}

/// A setup error: the message and the exit code.
struct Fail(String, u8);

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(message, code)) => {
            eprintln!("digime-sandbox: {message}");
            ExitCode::from(code)
        }
    }
}

/// Each `--contract CONTRACT_ID=PEM_PATH`: the id and the key read from
/// its file.
fn read_contracts(specs: &[String]) -> Result<Vec<(String, String)>, Fail> {
    let mut contracts = Vec::new();
    for spec in specs {
        let Some((id, path)) = spec.split_once('=') else {
            return Err(Fail(
                format!("--contract `{spec}` must be CONTRACT_ID=PEM_PATH"),
                2,
            ));
        };
        let pem = std::fs::read_to_string(path).map_err(|e| {
            Fail(
                format!("cannot read the key of contract `{id}` at {path}: {e}"),
                2,
            )
        })?;
        contracts.push((id.to_string(), pem));
    }
    Ok(contracts)
}

async fn run(args: Args) -> Result<(), Fail> {
    if args.accounts.len() > args.users.len() {
        return Err(Fail(
            "each --accounts belongs to a --user: give the --user first".into(),
            2,
        ));
    }
    if args.token_out.is_some() && (args.users.is_empty() || args.contracts.is_empty()) {
        return Err(Fail(
            "--token-out needs at least one --user and one --contract".into(),
            2,
        ));
    }
    let contracts = read_contracts(&args.contracts)?;

    let sandbox = Sandbox::builder()
        .port(args.port)
        .keep_bytes_up_to(args.keep_bytes)
        .start()
        .await
        .map_err(|e| Fail(format!("cannot start: {e}"), 1))?;

    for (id, pem) in &contracts {
        sandbox
            .register_contract(&args.app_id, id, pem)
            .map_err(|e| Fail(format!("contract `{id}`: {e}"), 2))?;
    }
    for (i, user) in args.users.iter().enumerate() {
        let accounts: Vec<&str> = args
            .accounts
            .get(i)
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        sandbox
            .create_user(user, &accounts)
            .map_err(|e| Fail(format!("user `{user}`: {e}"), 2))?;
    }
    if let (Some(path), Some(user), Some((contract, _))) =
        (&args.token_out, args.users.first(), contracts.first())
    {
        let token = sandbox
            .mint_token(&args.app_id, contract, user)
            .map_err(|e| Fail(format!("minting the token: {e}"), 1))?;
        let json = serde_json::to_string(&token)
            .map_err(|e| Fail(format!("encoding the token: {e}"), 1))?;
        write_private(path, json.as_bytes())
            .map_err(|e| Fail(format!("writing {}: {e}", path.display()), 2))?;
        eprintln!(
            "token for user `{user}` (contract `{contract}`) written to {}",
            path.display()
        );
    }

    eprintln!("onboard URL: {}", sandbox.onboard_url());
    eprintln!(
        "control API: {}",
        sandbox.base_url().replace("/v1.7/", "/sandbox/")
    );
    eprintln!("NOT FOR PRODUCTION. Ctrl-C stops the sandbox.");
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "digime sandbox listening on {}", sandbox.base_url());
    let _ = stdout.flush();
    drop(stdout);

    let _ = tokio::signal::ctrl_c().await;
    sandbox.shutdown().await;
    Ok(())
}
