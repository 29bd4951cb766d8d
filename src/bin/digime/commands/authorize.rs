//! `digime authorize --callback-port P`: print the onboard URL, wait on
//! 127.0.0.1:P for the redirect after consent, check the state, exchange the
//! code and write the token file (0600).

use std::time::Duration;

use digime::AuthorizeCallback;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::args::{AuthorizeArgs, Global};
use crate::config;
use crate::output::{Failure, Output};

/// The path the redirect comes to.
const CALLBACK_PATH: &str = "/callback";
/// The largest request head the responder reads.
const MAX_HEAD: usize = 16 * 1024;

pub async fn run(global: &Global, args: AuthorizeArgs, out: Output) -> Result<(), Failure> {
    let sdk = config::sdk(global)?;
    let contract = config::contract(global)?;
    let source = config::token_source(global).await?;

    let listener = TcpListener::bind(("127.0.0.1", args.callback_port))
        .await
        .map_err(|e| {
            Failure::config(format!(
                "cannot listen on 127.0.0.1:{} for the callback: {e}",
                args.callback_port
            ))
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::config(format!("cannot read the callback address: {e}")))?
        .port();
    let callback_url = format!("http://127.0.0.1:{port}{CALLBACK_PATH}");
    let state = digime::auth::generate_state()?;

    let mut request = sdk
        .authorize(&contract)
        .callback(callback_url.as_str())
        .state(state.as_str())
        .source_type(args.source_type.to_sdk());
    if let Some(service) = args.service {
        request = request.service_id(service);
    }
    let authorization = request.send().await?;

    out.note("Open this URL in a browser and consent:");
    out.early_line(authorization.url().as_str());
    out.note(&format!(
        "Waiting for the redirect on {callback_url} (Ctrl-C to stop)..."
    ));

    // Each connection is read in its own task, so that a browser's idle
    // preconnection cannot hold up the real redirect.
    let (found_tx, mut found_rx) = tokio::sync::mpsc::channel::<Handled>(1);
    let callback = loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted.map_err(|e| {
                    Failure::config(format!("accepting the callback failed: {e}"))
                })?;
                let found_tx = found_tx.clone();
                let state = state.clone();
                tokio::spawn(async move {
                    if let Some(result) = handle(stream, &state).await {
                        let _ = found_tx.send(result).await;
                    }
                });
            }
            Some(result) = found_rx.recv() => break result,
        }
    };
    let (callback, mut stream) = match callback {
        Ok(pair) => pair,
        Err((failure, stream)) => {
            if let Some(mut stream) = stream {
                respond(
                    &mut stream,
                    400,
                    "Authorization failed",
                    "The authorization did not succeed. See the terminal.",
                )
                .await;
            }
            return Err(failure);
        }
    };

    let token = match sdk
        .exchange_code_for_token(&contract, callback.code(), authorization.code_verifier())
        .await
    {
        Ok(token) => token,
        Err(err) => {
            respond(
                &mut stream,
                502,
                "Authorization failed",
                "The code could not be exchanged for a token. See the terminal.",
            )
            .await;
            return Err(err.into());
        }
    };
    if let Err(err) = source.store.save(&source.user, &token).await {
        respond(
            &mut stream,
            500,
            "Authorization failed",
            "The token could not be saved. See the terminal.",
        )
        .await;
        return Err(Failure::config(format!(
            "the token could not be stored: {err}"
        )));
    }
    respond(
        &mut stream,
        200,
        "Authorized",
        "digime is authorized. You can close this window.",
    )
    .await;
    drop(stream);

    // The account the user just onboarded: its id is what `push provider
    // --account-id` needs. Best effort: the token is already saved.
    let reference = callback.account_reference().map(str::to_owned);
    let mut account_id = None;
    if let Some(reference) = &reference {
        match sdk.read_accounts(&contract, &token).await {
            Ok(accounts) => {
                account_id = accounts.find_by_reference(reference).map(|a| a.id.clone());
                if accounts.token_refreshed() {
                    let _ = source
                        .store
                        .save(&source.user, accounts.user_access_token())
                        .await;
                }
            }
            Err(err) => out.note(&format!(
                "digime: warning: could not read the accounts: {err}"
            )),
        }
    }

    let path = source.describe();
    out.result(
        || {
            let mut text = format!("authorized; token written to {path}\n");
            if let Some(user) = token.user_id() {
                text.push_str(&format!("user {user}\n"));
            }
            match (&account_id, &reference) {
                (Some(id), Some(r)) => text.push_str(&format!("account {id} (reference {r})\n")),
                (None, Some(r)) => text.push_str(&format!("account reference {r}\n")),
                _ => {}
            }
            text
        },
        json!({
            "authorized": true,
            "token_file": source.file.as_ref().map(|p| p.display().to_string()),
            "token_store": source.store.describe(),
            "user": source.user,
            "user_id": token.user_id(),
            "account_reference": reference,
            "account_id": account_id,
        }),
    );
    Ok(())
}

type Handled = Result<(AuthorizeCallback, TcpStream), (Failure, Option<TcpStream>)>;

/// Reads one request. `None`: not the callback (answered 404), keep
/// waiting. `Some`: the callback, good or bad.
async fn handle(mut stream: TcpStream, state: &str) -> Option<Handled> {
    let head = match tokio::time::timeout(Duration::from_secs(10), read_head(&mut stream)).await {
        Ok(Some(head)) => head,
        _ => return None,
    };
    let target = head
        .lines()
        .next()
        .and_then(|line| {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some("GET"), Some(target)) => Some(target.to_owned()),
                _ => None,
            }
        })
        .unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
    if path != CALLBACK_PATH {
        respond(
            &mut stream,
            404,
            "Not found",
            "This is digime's authorization callback.",
        )
        .await;
        return None;
    }
    let callback = match AuthorizeCallback::from_query(query) {
        Ok(callback) => callback,
        Err(err) => return Some(Err((err.into(), Some(stream)))),
    };
    // A state that does not match means this redirect was not started by
    // this command: never exchange its code.
    if let Err(err) = callback.verify_state(state) {
        return Some(Err((err.into(), Some(stream))));
    }
    Some(Ok((callback, stream)))
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            return String::from_utf8(buf).ok();
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
    }
}

/// Answers the browser with a small page. Its text is always one of this
/// file's constants, never what the request carried, so nothing needs
/// escaping; the details of a failure go to the terminal.
async fn respond(stream: &mut TcpStream, status: u16, title: &'static str, message: &'static str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        502 => "Bad Gateway",
        _ => "Internal Server Error",
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body><h1>{title}</h1><p>{message}</p></body></html>\n",
    );
    let reply = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}
