//! What `authorize`, `reauthorize` and `onboard` share: a one-shot HTTP
//! listener on 127.0.0.1 that waits for digi.me's redirect after consent,
//! checks it, and answers the browser with a small page.

use std::time::Duration;

use digime::consent::ConsentState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::output::{Failure, Output};

/// The path the redirect comes to.
const CALLBACK_PATH: &str = "/callback";
/// The largest request head the responder reads.
const MAX_HEAD: usize = 16 * 1024;

/// A listener waiting for the redirect after consent.
pub struct CallbackServer {
    listener: TcpListener,
    url: String,
}

/// The browser's connection, kept open to answer once the command knows how
/// things went.
pub struct Browser(TcpStream);

/// Turns the redirect's query into the command's callback, or a failure.
pub type Parse<T> = fn(&str, &ConsentState) -> digime::Result<T>;

impl CallbackServer {
    /// Listens on 127.0.0.1:`port` (0 picks a free one).
    pub async fn bind(port: u16) -> Result<Self, Failure> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            Failure::config(format!(
                "cannot listen on 127.0.0.1:{port} for the callback: {e}"
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| Failure::config(format!("cannot read the callback address: {e}")))?
            .port();
        Ok(Self {
            listener,
            url: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
        })
    }

    /// The callback URL to give digi.me.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Prints the consent page's URL, then waits for the redirect and parses
    /// it with `parse(query, state)`. A failed parse (a refused consent, a
    /// state that does not match) answers the browser with an error page.
    pub async fn wait<T: Send + 'static>(
        self,
        out: &Output,
        consent_url: &str,
        state: &ConsentState,
        parse: Parse<T>,
    ) -> Result<(T, Browser), Failure> {
        out.note("Open this URL in a browser and consent:");
        out.early_line(consent_url);
        out.note(&format!(
            "Waiting for the redirect on {} (Ctrl-C to stop)...",
            self.url
        ));
        // Each connection is read in its own task, so that a browser's idle
        // preconnection cannot hold up the real redirect.
        let (found_tx, mut found_rx) = tokio::sync::mpsc::channel::<Handled<T>>(1);
        let found = loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, _) = accepted.map_err(|e| {
                        Failure::config(format!("accepting the callback failed: {e}"))
                    })?;
                    let found_tx = found_tx.clone();
                    let state = state.clone();
                    tokio::spawn(async move {
                        if let Some(result) = handle(stream, &state, parse).await {
                            let _ = found_tx.send(result).await;
                        }
                    });
                }
                Some(result) = found_rx.recv() => break result,
            }
        };
        match found {
            Ok((callback, stream)) => Ok((callback, Browser(stream))),
            Err((failure, stream)) => {
                if let Some(stream) = stream {
                    Browser(stream)
                        .answer(
                            400,
                            "Authorization failed",
                            "The authorization did not succeed. See the terminal.",
                        )
                        .await;
                }
                Err(failure)
            }
        }
    }
}

type Handled<T> = Result<(T, TcpStream), (Failure, Option<TcpStream>)>;

/// Reads one request. `None`: not the callback (answered 404), keep
/// waiting. `Some`: the callback, good or bad.
async fn handle<T>(
    mut stream: TcpStream,
    state: &ConsentState,
    parse: Parse<T>,
) -> Option<Handled<T>> {
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
        Browser(stream)
            .answer(404, "Not found", "This is digime's authorization callback.")
            .await;
        return None;
    }
    // A state that does not match means this redirect was not started by
    // this command: `parse` refuses it, and nothing is exchanged.
    Some(match parse(query, state) {
        Ok(callback) => Ok((callback, stream)),
        Err(err) => Err((err.into(), Some(stream))),
    })
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

impl Browser {
    /// Answers the browser with a small page. Its text is always one of the
    /// commands' constants, never what the request carried, so nothing needs
    /// escaping; the details of a failure go to the terminal.
    pub async fn answer(mut self, status: u16, title: &'static str, message: &'static str) {
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
        let _ = self.0.write_all(reply.as_bytes()).await;
        let _ = self.0.shutdown().await;
    }
}
