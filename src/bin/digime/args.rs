//! The command line: global flags (each with its environment variable) and
//! the commands. Names, flags and variables are a fixed contract.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// digime: push files and FHIR records into a digi.me user's library.
///
/// Exit codes: 0 success; 1 server or transport error; 2 usage or
/// configuration error; 3 the user must consent again
/// (`digime reauthorize`).
#[derive(Debug, Parser)]
#[command(name = "digime", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

/// The settings every command shares.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The digi.me API base URL [default: https://api.digi.me/v1.7/].
    #[arg(long, env = "DIGIME_BASE_URL", global = true, value_name = "URL")]
    pub base_url: Option<String>,

    /// The application id digi.me gave you.
    #[arg(long, env = "DIGIME_APP_ID", global = true, value_name = "ID")]
    pub app_id: Option<String>,

    /// The contract id.
    #[arg(long, env = "DIGIME_CONTRACT_ID", global = true, value_name = "ID")]
    pub contract_id: Option<String>,

    /// The contract's RSA private key (PEM file).
    #[arg(
        long = "key",
        env = "DIGIME_KEY_FILE",
        global = true,
        value_name = "PEM_PATH"
    )]
    pub key_file: Option<PathBuf>,

    /// The user access token (JSON file); read, refreshed and rewritten (mode 0600) under a lock.
    #[arg(
        long = "token",
        env = "DIGIME_TOKEN_FILE",
        global = true,
        value_name = "TOKEN_JSON_PATH"
    )]
    pub token_file: Option<PathBuf>,

    /// Where users' tokens live, shared by every process: `file://DIR` (one
    /// machine) or `postgres://…` (a fleet). Used instead of --token.
    #[arg(long, env = "DIGIME_TOKEN_STORE", global = true, value_name = "URL")]
    pub token_store: Option<String>,

    /// The user whose token to use in the --token-store.
    #[arg(long, env = "DIGIME_USER", global = true, value_name = "KEY")]
    pub user: Option<String>,

    /// How long a token refresh may hold the user's lock before another process takes over.
    #[arg(
        long,
        env = "DIGIME_LEASE_TTL",
        global = true,
        value_name = "SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub lease_ttl: u64,

    /// Print one JSON object on stdout instead of human-readable text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Push a file to the user's library, or a FHIR record to a provider account.
    #[command(subcommand)]
    Push(PushCommand),

    /// List the user's accounts.
    Accounts,

    /// Manage the user access token.
    #[command(subcommand)]
    Token(TokenCommand),

    /// Show the contract's details, including whether it may write.
    Contract,

    /// Authorize a user: print the onboard URL, wait for the redirect, write the token file.
    Authorize(AuthorizeArgs),

    /// Reauthorize the user after their refresh token ran out (exit 3): like authorize, same user and library; rewrites the token file.
    Reauthorize(ReauthorizeArgs),

    /// Onboard another service (such as a provider account) for the user: print the URL, wait for the redirect, show the new account.
    Onboard(OnboardArgs),

    /// Manage one of the user's accounts.
    #[command(subcommand)]
    Account(AccountCommand),

    /// Run a local digi.me sandbox (NOT for production) with a ready-to-use key, token and env file.
    Sandbox(SandboxArgs),
}

#[derive(Debug, Subcommand)]
pub enum PushCommand {
    /// Push a file (streamed from disk), or many in one resumable run, into the user's library.
    Library(LibraryArgs),
    /// Push a FHIR record (a JSON file), or many in one resumable run, to a provider account.
    Provider(ProviderArgs),
}

#[derive(Debug, Args)]
pub struct LibraryArgs {
    /// The files to push, or folders to walk: recursively, in name order;
    /// hidden files are skipped unless named, symlinks followed only when
    /// named. One FILE alone (without the bulk flags below) is one push,
    /// with no journal.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// An account in your system the file belongs to (repeatable, at least one).
    #[arg(long = "account", value_name = "ID", required = true)]
    pub accounts: Vec<String>,

    /// The MIME type [default: guessed from the file's extension].
    #[arg(long, value_name = "TYPE")]
    pub mime: Option<String>,

    /// A tag to attach to the file (repeatable).
    #[arg(long = "tag", value_name = "T")]
    pub tags: Vec<String>,

    /// A reference to attach to the file (repeatable).
    #[arg(long = "reference", value_name = "R")]
    pub references: Vec<String>,

    #[command(flatten)]
    pub bulk: BulkArgs,
}

/// The flags of a bulk run (several files, or a folder).
#[derive(Debug, Clone, Args)]
pub struct BulkArgs {
    /// Pushes in flight at once, in one process with one token [default: 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,

    /// The run's journal: each file's outcome, appended and flushed to disk
    /// as it is known; a rerun with the same journal skips what was stored
    /// [default: $XDG_STATE_HOME/digime/journals/KIND-HASH.jsonl, or
    /// ~/.local/state/digime/journals/… without XDG_STATE_HOME; HASH names
    /// the destination: API, contract, token, accounts]. The run prints it.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,

    /// Send again the files an earlier run left `uncertain` (they may have
    /// been stored: this may store them twice).
    #[arg(long)]
    pub resend_uncertain: bool,

    /// Benchmarks only: no journal at all (a rerun pushes everything again).
    #[arg(long, hide = true)]
    pub no_journal: bool,
}

impl BulkArgs {
    /// Whether any bulk flag was given.
    pub fn given(&self) -> bool {
        self.jobs.is_some() || self.journal.is_some() || self.resend_uncertain || self.no_journal
    }
}

#[derive(Debug, Args)]
pub struct ProviderArgs {
    /// The FHIR resources or bundles (each a JSON object in a file), or
    /// folders of them (walked as for `push library`).
    #[arg(value_name = "FILE.json", required = true)]
    pub files: Vec<PathBuf>,

    /// The provider account id (from `digime accounts`).
    #[arg(long, value_name = "ID")]
    pub account_id: String,

    /// The FHIR version.
    #[arg(long, value_enum, default_value_t = FhirVersionArg::Stu3)]
    pub fhir_version: FhirVersionArg,

    #[command(flatten)]
    pub bulk: BulkArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FhirVersionArg {
    #[value(name = "stu3")]
    Stu3,
    #[value(name = "3.0.2")]
    V3_0_2,
}

impl FhirVersionArg {
    pub fn to_sdk(self) -> digime::FhirVersion {
        match self {
            FhirVersionArg::Stu3 => digime::FhirVersion::Stu3,
            FhirVersionArg::V3_0_2 => digime::FhirVersion::V3_0_2,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Refresh the user access token now and rewrite the token file (or the store's token).
    Refresh,
    /// Store a token (a JSON file, or - for stdin) as --user's token in the --token-store.
    Put(TokenPutArgs),
    /// Print --user's stored token (JSON, with its secret values).
    Get,
}

#[derive(Debug, Args)]
pub struct TokenPutArgs {
    /// The token JSON file, or - to read it from stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct AuthorizeArgs {
    /// The port on 127.0.0.1 that receives the redirect after consent (0 picks a free one).
    #[arg(long, value_name = "P")]
    pub callback_port: u16,

    /// `pull` lists every service; `push` only those that accept provider pushes.
    #[arg(long, value_enum, default_value_t = SourceTypeArg::Pull)]
    pub source_type: SourceTypeArg,

    /// Send the user straight to this service.
    #[arg(long = "service", value_name = "ID")]
    pub service: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ReauthorizeArgs {
    /// The port on 127.0.0.1 that receives the redirect after consent (0 picks a free one).
    #[arg(long, value_name = "PORT")]
    pub callback_port: u16,
}

#[derive(Debug, Args)]
pub struct OnboardArgs {
    /// The port on 127.0.0.1 that receives the redirect after consent (0 picks a free one).
    #[arg(long, value_name = "PORT")]
    pub callback_port: u16,

    /// Send the user straight to this service.
    #[arg(long = "service", value_name = "ID")]
    pub service: Option<u64>,

    /// `pull` lists every service; `push` only those that accept provider pushes.
    #[arg(long, value_enum, default_value_t = SourceTypeArg::Pull)]
    pub source_type: SourceTypeArg,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Delete one of the user's accounts (it is no longer listed, and provider pushes to it are refused).
    Delete(AccountDeleteArgs),
    /// Print the URL where the user revokes this application's permission for one account.
    RevokeUrl(AccountRevokeUrlArgs),
}

#[derive(Debug, Args)]
pub struct AccountDeleteArgs {
    /// The account id (from `digime accounts`).
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct AccountRevokeUrlArgs {
    /// The account id (from `digime accounts`).
    #[arg(value_name = "ID")]
    pub id: String,

    /// Where digi.me sends the user after they revoked the permission.
    #[arg(long, value_name = "URL")]
    pub redirect: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceTypeArg {
    Pull,
    Push,
}

impl SourceTypeArg {
    pub fn to_sdk(self) -> digime::consent::SourceType {
        match self {
            SourceTypeArg::Pull => digime::consent::SourceType::Pull,
            SourceTypeArg::Push => digime::consent::SourceType::Push,
        }
    }
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// The port on 127.0.0.1; 0 picks a free one.
    #[arg(long, value_name = "P", default_value_t = 8080)]
    pub port: u16,

    /// Where to write key.pem, token.json and digime.env (created if missing).
    #[arg(long, value_name = "DIR", default_value = "digime-sandbox")]
    pub dir: PathBuf,
}
