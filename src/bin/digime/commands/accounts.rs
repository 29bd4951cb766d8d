//! `digime accounts`: the user's accounts.

use std::fmt::Write as _;

use serde_json::json;

use super::{token_note, with_session};
use crate::args::Global;
use crate::config;
use crate::output::{Failure, Output};

pub async fn run(global: &Global, out: Output) -> Result<(), Failure> {
    let ctx = config::user_context(global).await?;
    let (outcome, change) =
        with_session(&ctx, |session| async move { session.read_accounts().await }).await?;
    let accounts = outcome.accounts();
    out.result(
        || {
            let mut text = String::new();
            if accounts.is_empty() {
                text.push_str("no accounts\n");
            } else {
                let rows: Vec<[String; 4]> = accounts
                    .iter()
                    .map(|a| {
                        [
                            a.id.clone(),
                            a.reference.clone().unwrap_or_else(|| "-".to_owned()),
                            a.account_type
                                .as_ref()
                                .map_or_else(|| "-".to_owned(), ToString::to_string),
                            a.service_type_name.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                let header = ["ID", "REFERENCE", "TYPE", "SERVICE"];
                let mut widths = header.map(str::len);
                for row in &rows {
                    for (w, cell) in widths.iter_mut().zip(row) {
                        *w = (*w).max(cell.chars().count());
                    }
                }
                let mut line = |cells: [&str; 4]| {
                    let _ = writeln!(
                        text,
                        "{:<w0$}  {:<w1$}  {:<w2$}  {}",
                        cells[0],
                        cells[1],
                        cells[2],
                        cells[3],
                        w0 = widths[0],
                        w1 = widths[1],
                        w2 = widths[2],
                    );
                };
                line(header);
                for row in &rows {
                    line([&row[0], &row[1], &row[2], &row[3]]);
                }
            }
            if let Some(note) = token_note(&change, &ctx) {
                let _ = writeln!(text, "{note}");
            }
            text
        },
        json!({
            "accounts": accounts,
            "token_refreshed": change.refreshed,
            "token_written": change.written,
        }),
    );
    Ok(())
}
