//! `digime`: the digi.me write path from the command line.
//!
//! Push files and FHIR records, list accounts, refresh the token, show the
//! contract, authorize a user, or run a local sandbox. See the CLI guide:
//! <https://docs.rs/digime/latest/digime/guide/cli/index.html>.
//!
//! Exit codes: 0 success; 1 server or transport error; 2 usage or
//! configuration error; 3 the user must consent again
//! (`digime reauthorize`).

mod args;
mod commands;
mod config;
mod output;
mod private_file;
mod progress;

use std::process::ExitCode;

use clap::error::ErrorKind as ClapErrorKind;
use clap::{CommandFactory, Parser};

use args::{Cli, Command};
use output::{EXIT_USAGE, Failure, Output};

fn main() -> ExitCode {
    let wants_json = std::env::args_os().skip(1).any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(err, wants_json),
    };
    let out = Output::new(cli.global.json).pushing(matches!(cli.command, Command::Push(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            out.failure(&Failure::config(format!("cannot start the runtime: {e}")));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match runtime.block_on(commands::run(cli, out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            out.failure(&failure);
            ExitCode::from(failure.exit_code())
        }
    }
}

/// clap's errors: help and version print as usual (exit 0); anything else is
/// a usage error (exit 2), as JSON when `--json` was given.
fn usage_error(err: clap::Error, json: bool) -> ExitCode {
    if matches!(
        err.kind(),
        ClapErrorKind::DisplayHelp | ClapErrorKind::DisplayVersion
    ) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    if json {
        let text = err.render().to_string();
        // The first paragraph ("error: …" and its indented details).
        let message = text
            .lines()
            .take_while(|line| !line.trim().is_empty())
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
            .trim_start_matches("error: ")
            .to_owned();
        Output::new(true)
            .pushing(names_push())
            .failure(&Failure::usage(message));
    } else {
        let _ = err.print();
    }
    ExitCode::from(EXIT_USAGE)
}

/// Whether the command line names a push command, one that clap refused
/// included: its usage error says, like any push's failure, whether the push
/// may have been stored (it was not).
fn names_push() -> bool {
    Cli::command()
        .ignore_errors(true)
        .try_get_matches()
        .is_ok_and(|matches| matches.subcommand_name() == Some("push"))
}
