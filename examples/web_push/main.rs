//! The seed's scenario as a web app: a user connects digi.me in the browser,
//! uploads a file, and the upload is streamed into their library; a FHIR
//! bundle goes to a provider account.
//!
//! ```text
//! cargo run --example web_push --features sandbox              # an in-process sandbox
//! DIGIME_APP_ID=… DIGIME_CONTRACT_ID=… DIGIME_KEY_FILE=contract.pem \
//!     cargo run --example web_push                              # a real digi.me
//! ```
//!
//! Flags: `--port PORT` (default 3000; 0 picks a free port) and
//! `--max-upload BYTES`. Once it accepts connections it prints
//! `web_push listening on http://127.0.0.1:PORT/`. The routes, the pages and
//! how the upload is streamed are in `app/`; the
//! [web guide](https://docs.rs/digime/latest/digime/guide/web/index.html)
//! walks through them.

mod app;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use app::{Backend, Config, DEFAULT_MAX_UPLOAD, DEFAULT_PORT};

/// Push browser uploads into a digi.me library (the seed's scenario).
#[derive(Parser, Debug)]
#[command(name = "web_push")]
struct Args {
    /// The port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// The largest file accepted, in bytes. A larger upload is refused with
    /// a page that says so, and nothing is stored.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_UPLOAD,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_upload: u64,
    /// digi.me's API base URL (default: production).
    #[arg(long, env = "DIGIME_BASE_URL", value_name = "URL")]
    base_url: Option<String>,
    /// The application id digi.me issued. Set it (with the contract id and
    /// key) to talk to a real digi.me instead of the sandbox.
    #[arg(long, env = "DIGIME_APP_ID", value_name = "ID")]
    app_id: Option<String>,
    /// The write contract's id.
    #[arg(long, env = "DIGIME_CONTRACT_ID", value_name = "ID")]
    contract_id: Option<String>,
    /// The write contract's private key (PEM).
    #[arg(long = "key", env = "DIGIME_KEY_FILE", value_name = "PATH")]
    key_file: Option<PathBuf>,
}

impl Args {
    /// A real digi.me when any of its settings is given, else the sandbox.
    fn backend(self) -> Result<Backend, String> {
        if self.base_url.is_none()
            && self.app_id.is_none()
            && self.contract_id.is_none()
            && self.key_file.is_none()
        {
            #[cfg(feature = "sandbox")]
            return Ok(Backend::Sandbox {
                keep_bytes: digime::sandbox::DEFAULT_KEEP_BYTES,
            });
            #[cfg(not(feature = "sandbox"))]
            return Err(
                "no digi.me to talk to: set DIGIME_APP_ID, DIGIME_CONTRACT_ID and \
                 DIGIME_KEY_FILE, or run with `--features sandbox` for the in-process sandbox"
                    .into(),
            );
        }
        let missing = |name: &str, var: &str| format!("{name} is not set: set {var}");
        Ok(Backend::Service {
            base_url: self.base_url,
            app_id: self
                .app_id
                .ok_or_else(|| missing("the application id", "DIGIME_APP_ID"))?,
            contract_id: self
                .contract_id
                .ok_or_else(|| missing("the contract id", "DIGIME_CONTRACT_ID"))?,
            key_file: self
                .key_file
                .ok_or_else(|| missing("the contract key", "DIGIME_KEY_FILE"))?,
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = Config {
        port: args.port,
        max_upload: args.max_upload,
        backend: match args.backend() {
            Ok(backend) => backend,
            Err(message) => {
                eprintln!("web_push: {message}");
                return ExitCode::from(2);
            }
        },
    };
    let running = match app::start(config).await {
        Ok(running) => running,
        Err(err) => {
            eprintln!("web_push: {err}");
            return ExitCode::FAILURE;
        }
    };
    #[cfg(feature = "sandbox")]
    if let Some(sandbox) = running.sandbox() {
        eprintln!(
            "web_push: talking to an in-process digi.me sandbox at {} (not for production)",
            sandbox.base_url()
        );
    }
    // The listener is bound and served: connections are accepted from now on.
    println!("web_push listening on {}", running.url());
    if tokio::signal::ctrl_c().await.is_err() {
        eprintln!("web_push: cannot wait for Ctrl-C; stopping");
    }
    running.shutdown().await;
    ExitCode::SUCCESS
}
