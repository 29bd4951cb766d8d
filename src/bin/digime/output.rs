//! What the tool prints, and how a failure becomes an exit code.
//!
//! Human-readable text by default; with `--json`, exactly one JSON object on
//! stdout per command, errors included. Nothing printed ever holds a token
//! value, a code verifier or key material.

use std::fmt;
use std::io::Write;

use digime::ErrorKind;
use serde_json::{Value, json};

/// Exit code: a server or transport error.
pub const EXIT_SERVER: u8 = 1;
/// Exit code: a usage or configuration error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the user must consent again (reauthorize).
pub const EXIT_REAUTHORIZE: u8 = 3;

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// A bad flag or argument (exit 2).
    Usage(String),
    /// A missing setting, an unreadable key, a malformed token file, a file
    /// that cannot be written (exit 2).
    Config(String),
    /// An error from the SDK: exit 1, 2 or 3 by its kind.
    Sdk(digime::Error),
    /// A failure the command has already reported (a bulk run's files and
    /// summary): only its exit code is left.
    Reported(u8),
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::Usage(message.into())
    }

    pub fn config(message: impl Into<String>) -> Self {
        Failure::Config(message.into())
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) | Failure::Config(_) => EXIT_USAGE,
            Failure::Sdk(err) => sdk_exit_code(err),
            Failure::Reported(code) => *code,
        }
    }

    /// A short machine-readable name for the failure.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Usage(_) => "usage",
            Failure::Config(_) => "config",
            Failure::Sdk(err) => kind_name(err.kind()),
            Failure::Reported(_) => "reported",
        }
    }

    /// True when the push that failed may have been stored: digi.me may
    /// have received it before the failure, and it was not sent again.
    /// False for anything else: the push was certainly not stored, or the
    /// command stopped before sending it.
    pub fn may_have_been_stored(&self) -> bool {
        matches!(self, Failure::Sdk(err) if err.may_have_been_stored())
    }

    /// Advice the user can follow from the command line, printed after the
    /// message. The SDK's messages say what happened; what to do about it
    /// differs for an operator with a shell and a program with the SDK, so
    /// the CLI says it here. `push`: the failed command was a push.
    pub fn hints(&self, push: bool) -> Vec<&'static str> {
        let Failure::Sdk(err) = self else {
            return Vec::new();
        };
        let mut hints = Vec::new();
        if push {
            hints.push(if err.may_have_been_stored() {
                "running the same push again may leave a duplicate in the user's library (or \
                 at the provider): run it again once the user has seen that it is missing, or \
                 if a duplicate is acceptable"
            } else {
                "nothing was stored: the same push can run again, once the cause is fixed, \
                 without leaving a duplicate"
            });
        }
        if err.is_reauthorization_required() {
            hints.push(
                "the user must consent again through the reauthorize flow: run `digime \
                 reauthorize --callback-port PORT` (same user, same library)",
            );
        } else if self.exit_code() == EXIT_REAUTHORIZE {
            hints.push(
                "digi.me needs the user's consent again for this account, which digime \
                 cannot ask for: once the user has reauthorized the account (your application \
                 sends them through digi.me's account reauthorization), the command can run \
                 again",
            );
        } else if err.refresh_may_have_happened() && err.user_access_token().is_some() {
            hints.push(
                "if the refresh did happen, the refresh token is spent and a later command \
                 exits 3: then run `digime reauthorize --callback-port PORT` (same user, same \
                 library)",
            );
        }
        hints
    }

    /// The `{"error":{…}}` object printed with `--json`.
    pub fn to_json(&self) -> Value {
        let mut error = json!({
            "kind": self.kind(),
            "code": Value::Null,
            "message": self.to_string(),
            "reference": Value::Null,
            "status": Value::Null,
            "exit_code": self.exit_code(),
        });
        if let Failure::Sdk(err) = self {
            error["code"] = json!(err.code());
            if let Some(server) = err.server() {
                error["reference"] = json!(server.reference());
                error["status"] = json!(server.status());
            }
            if let Some(field) = err.field() {
                error["field"] = json!(field);
            }
        }
        json!({ "error": error })
    }

    /// [`to_json`](Self::to_json) for a push command: the error also says
    /// whether the push `may_have_been_stored`, so that a script can tell a
    /// failure to check from a failure to retry.
    pub fn to_push_json(&self) -> Value {
        let mut json = self.to_json();
        json["error"]["may_have_been_stored"] = json!(self.may_have_been_stored());
        json
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Config(m) => f.write_str(m),
            Failure::Reported(code) => write!(f, "the run failed (exit {code})"),
            // The SDK's message already carries the server's status, code,
            // message and reference, and never a secret.
            Failure::Sdk(err) => write!(f, "{err}"),
        }
    }
}

impl From<digime::Error> for Failure {
    fn from(err: digime::Error) -> Self {
        Failure::Sdk(err)
    }
}

/// 3 when the user must consent again (a spent refresh token, or digi.me
/// saying the account must be reauthorized), 2 for bad input, 1 otherwise.
pub fn sdk_exit_code(err: &digime::Error) -> u8 {
    let account_needs_consent =
        err.kind() == ErrorKind::Server && err.code() == Some("ServiceAuthorizationError");
    if err.is_reauthorization_required() || account_needs_consent {
        return EXIT_REAUTHORIZE;
    }
    match err.kind() {
        ErrorKind::InvalidInput => EXIT_USAGE,
        _ => EXIT_SERVER,
    }
}

fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "invalid_input",
        ErrorKind::Server => "server",
        ErrorKind::ReauthorizationRequired => "reauthorization_required",
        ErrorKind::Transport => "transport",
        ErrorKind::InvalidResponse => "invalid_response",
        ErrorKind::TokenVerification => "token_verification",
        ErrorKind::AuthorizationFailed => "authorization_failed",
        ErrorKind::DataNotReplayable => "data_not_replayable",
        ErrorKind::Crypto => "crypto",
        ErrorKind::TokenStore => "token_store",
        _ => "other",
    }
}

/// Prints results the way the user asked for.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
    /// The command is a push: its failures say whether it may have been
    /// stored.
    push: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json, push: false }
    }

    /// The output of a push command (`push` true), whose failures say
    /// whether the push may have been stored.
    pub fn pushing(self, push: bool) -> Self {
        Self { push, ..self }
    }

    /// A command's result: `human` (lines, on stdout) or `json` (one object).
    pub fn result(&self, human: impl FnOnce() -> String, json: Value) {
        let mut stdout = std::io::stdout().lock();
        if self.json {
            let _ = writeln!(stdout, "{json}");
        } else {
            let text = human();
            let _ = write!(stdout, "{text}");
            if !text.ends_with('\n') {
                let _ = writeln!(stdout);
            }
        }
        let _ = stdout.flush();
    }

    /// One line on stdout as it is, in either mode (a value that is already
    /// the command's one JSON object).
    pub fn raw_line(&self, line: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }

    /// A line that must be seen before the command ends (the onboard URL):
    /// stdout in human mode, stderr with `--json` so that stdout keeps one
    /// object.
    pub fn early_line(&self, line: &str) {
        if self.json {
            eprintln!("{line}");
        } else {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}");
            let _ = stdout.flush();
        }
    }

    /// A remark for a person, always on stderr.
    pub fn note(&self, line: &str) {
        eprintln!("{line}");
    }

    /// Reports a failure: a JSON error object on stdout with `--json`, a
    /// message on stderr otherwise.
    pub fn failure(&self, failure: &Failure) {
        if matches!(failure, Failure::Reported(_)) {
            return;
        }
        if self.json {
            let json = if self.push {
                failure.to_push_json()
            } else {
                failure.to_json()
            };
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{json}");
            let _ = stdout.flush();
        } else {
            eprintln!("digime: error: {failure}");
            for hint in failure.hints(self.push) {
                eprintln!("digime: {hint}");
            }
        }
    }
}

/// A point in time as whole seconds since the Unix epoch (0 before it), the
/// form of the `--json` output's times.
pub fn unix_seconds(at: std::time::SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `seconds` from now, as `in 59m 59s` or `3m 2s ago`.
pub fn relative(unix_seconds: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let (delta, future) = if unix_seconds >= now {
        (unix_seconds - now, true)
    } else {
        (now - unix_seconds, false)
    };
    let text = if delta >= 86_400 {
        format!("{}d {}h", delta / 86_400, delta % 86_400 / 3600)
    } else if delta >= 3600 {
        format!("{}h {}m", delta / 3600, delta % 3600 / 60)
    } else if delta >= 60 {
        format!("{}m {}s", delta / 60, delta % 60)
    } else {
        format!("{delta}s")
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_and_config_exit_2() {
        assert_eq!(Failure::usage("x").exit_code(), 2);
        assert_eq!(Failure::config("x").exit_code(), 2);
        assert_eq!(Failure::config("x").to_json()["error"]["kind"], "config");
    }

    #[test]
    fn invalid_input_exits_2() {
        let err = digime::ContractDetails::new("", "x").unwrap_err();
        let failure = Failure::from(err);
        assert_eq!(failure.exit_code(), 2);
        assert_eq!(failure.to_json()["error"]["kind"], "invalid_input");
        assert_eq!(failure.to_json()["error"]["field"], "contract_id");
    }

    #[test]
    fn relative_times_read_well() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(relative(now + 3700).starts_with("in 1h"));
        assert!(relative(now.saturating_sub(120)).ends_with("ago"));
    }
}
