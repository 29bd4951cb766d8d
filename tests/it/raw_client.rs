//! The sandbox against a client that behaves like the official TypeScript
//! SDK: it writes the request head, waits, writes the whole body in pieces
//! (chunked or with a `Content-Length`), and only then reads the response.
//!
//! A server that answers an error before reading the body and then closes
//! makes such a client fail with a broken pipe or a reset instead of seeing
//! the answer. The sandbox drains the body first, so every case here must
//! read a complete response: the status, the error code in the body and the
//! headers, every time, for library and provider pushes, for every kind of
//! error and for injected status faults.
//!
//! Requests are written by hand on a raw TCP socket with hand-signed JWTs:
//! nothing of the SDK's HTTP stack is involved.
#![cfg(feature = "sandbox")]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use digime::UserAccessToken;
use digime::sandbox::{Fault, Sandbox};
use digime::secrecy::ExposeSecret;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const APP: &str = "raw-app";
const CONTRACT: &str = "raw-contract";
const READER: &str = "raw-reader";
const USER: &str = "raw-user";
/// The size of a library push's body: larger than what loopback socket
/// buffers absorb, so that an early answer and close would be noticed.
const LIBRARY_BODY: usize = 8 << 20;
/// The size of a provider push's body (a JSON object of about 5 MB).
const PROVIDER_BODY: usize = 5_000_000;
/// How many times each case runs: it must pass every time.
const ROUNDS: usize = 3;

fn key_pem() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| digime::sandbox::generate_private_key_pem().unwrap())
}

fn nonce() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("R{:031}", N.fetch_add(1, Ordering::Relaxed))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn sign(claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::PS512),
        claims,
        &EncodingKey::from_rsa_pem(key_pem().as_bytes()).unwrap(),
    )
    .unwrap()
}

struct Env {
    sb: Sandbox,
    token: UserAccessToken,
    reader_token: UserAccessToken,
}

impl Env {
    async fn new() -> Self {
        Self::with(Sandbox::builder()).await
    }

    async fn with(builder: digime::sandbox::SandboxBuilder) -> Self {
        let sb = builder.start().await.unwrap();
        let public = digime::ContractDetails::new("x", key_pem())
            .unwrap()
            .public_key_pem();
        sb.register_contract(APP, CONTRACT, &public).unwrap();
        sb.register_read_contract(APP, READER, &public).unwrap();
        sb.create_user(USER, &["acc-1"]).unwrap();
        let token = sb.mint_token(APP, CONTRACT, USER).unwrap();
        let reader_token = sb.mint_token(APP, READER, USER).unwrap();
        Self {
            sb,
            token,
            reader_token,
        }
    }

    fn claims(&self, contract: &str, token: &UserAccessToken) -> Value {
        json!({
            "client_id": format!("{APP}_{contract}"),
            "nonce": nonce(),
            "timestamp": now_ms(),
            "access_token": token.access_token().value().expose_secret(),
        })
    }

    fn bearer(&self) -> String {
        sign(&self.claims(CONTRACT, &self.token))
    }

    fn descriptor(&self) -> String {
        sign(
            &json!({"metadata": {"mimeType": "application/octet-stream", "accounts": [{"accountId": "a"}]}}),
        )
    }
}

/// How the body goes on the wire.
#[derive(Clone, Copy, Debug)]
enum Framing {
    /// `Transfer-Encoding: chunked`, as the official client streams a file.
    Chunked,
    /// `Content-Length`.
    Length,
}

/// A request to write by hand.
struct RawRequest {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    framing: Framing,
}

/// A response read in full.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status, and the code both in the body and in `X-Error-Code`.
    fn assert_error(&self, status: u16, code: &str, what: &str) {
        assert_eq!(self.status, status, "{what}: {self:?}");
        assert_eq!(self.header("x-error-code"), Some(code), "{what}");
        let body: Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{what}: the body is not JSON ({e})"));
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        assert!(body["error"]["reference"].is_string(), "{what}: {body}");
    }
}

/// Writes the head, waits, writes the body in pieces, then reads the whole
/// response. Any write or read failure fails the test, naming `what`.
async fn exchange(sb: &Sandbox, request: &RawRequest, what: &str) -> RawResponse {
    let mut stream = TcpStream::connect(sb.addr()).await.unwrap();
    let mut head = format!(
        "POST /v1.7/{} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\n",
        request.path,
        sb.addr()
    );
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match request.framing {
        Framing::Chunked => head.push_str("Transfer-Encoding: chunked\r\n"),
        Framing::Length => head.push_str(&format!("Content-Length: {}\r\n", request.body.len())),
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{what}: writing the head failed: {e}"));
    // The client takes its time before the body: the server has the head and
    // may answer now, as the sandbox used to.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for (i, piece) in request.body.chunks(64 * 1024).enumerate() {
        let write = match request.framing {
            Framing::Chunked => {
                let mut framed = format!("{:x}\r\n", piece.len()).into_bytes();
                framed.extend_from_slice(piece);
                framed.extend_from_slice(b"\r\n");
                stream.write_all(&framed).await
            }
            Framing::Length => stream.write_all(piece).await,
        };
        write.unwrap_or_else(|e| {
            panic!(
                "{what}: writing the body failed after {} bytes: {e}",
                i * 64 * 1024
            )
        });
        if i % 16 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    if let Framing::Chunked = request.framing {
        stream
            .write_all(b"0\r\n\r\n")
            .await
            .unwrap_or_else(|e| panic!("{what}: writing the last chunk failed: {e}"));
    }
    stream.flush().await.unwrap();
    read_response(&mut stream, what).await
}

/// Reads one response: the head, then a `Content-Length` body.
async fn read_response(stream: &mut TcpStream, what: &str) -> RawResponse {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("{what}: no response within 30 s"))
            .unwrap_or_else(|e| panic!("{what}: reading the response failed: {e}"));
        assert!(n > 0, "{what}: the connection closed without a response");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{what}: not a status line: {head}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or_else(|| panic!("{what}: no Content-Length: {head}"));
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("{what}: the body did not arrive within 30 s"))
            .unwrap_or_else(|e| panic!("{what}: reading the body failed: {e}"));
        assert!(n > 0, "{what}: the connection closed mid-body");
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    RawResponse {
        status,
        headers,
        body,
    }
}

fn library(bearer: String, descriptor: String, content_type: &str, framing: Framing) -> RawRequest {
    RawRequest {
        path: "permission-access/import".into(),
        headers: vec![
            ("Authorization".into(), format!("Bearer {bearer}")),
            ("Content-Type".into(), content_type.into()),
            ("FileDescriptor".into(), descriptor),
        ],
        body: vec![b'x'; LIBRARY_BODY],
        framing,
    }
}

fn provider(bearer: String, account: &str) -> RawRequest {
    let padding = "p".repeat(PROVIDER_BODY);
    RawRequest {
        path: "permission-access/import/h:accountId/fhir/stu3".into(),
        headers: vec![
            ("Authorization".into(), format!("Bearer {bearer}")),
            ("Content-Type".into(), "application/json".into()),
            ("accountId".into(), account.into()),
        ],
        body: serde_json::to_vec(&json!({"resourceType": "Bundle", "padding": padding})).unwrap(),
        framing: Framing::Length,
    }
}

#[tokio::test]
async fn an_expired_access_token_gets_a_complete_401_for_library_pushes() {
    let env = Env::new().await;
    env.sb.expire_access_token(USER);
    for framing in [Framing::Chunked, Framing::Length] {
        for round in 0..ROUNDS {
            let what = format!("library push, {framing:?}, round {round}");
            let request = library(
                env.bearer(),
                env.descriptor(),
                "application/octet-stream",
                framing,
            );
            exchange(&env.sb, &request, &what)
                .await
                .assert_error(401, "InvalidToken", &what);
        }
    }
    assert!(env.sb.library(USER).is_empty());
}

#[tokio::test]
async fn an_expired_access_token_gets_a_complete_401_for_provider_pushes() {
    let env = Env::new().await;
    env.sb.expire_access_token(USER);
    for round in 0..ROUNDS {
        let what = format!("provider push, round {round}");
        exchange(&env.sb, &provider(env.bearer(), "acc-1"), &what)
            .await
            .assert_error(401, "InvalidToken", &what);
    }
    assert!(env.sb.provider_pushes(USER).is_empty());
}

#[tokio::test]
async fn every_kind_of_error_is_answered_after_the_body() {
    let env = Env::new().await;
    let reused = env.claims(CONTRACT, &env.token);
    // Spend the nonce once.
    let first = library(
        sign(&reused),
        env.descriptor(),
        "application/octet-stream",
        Framing::Length,
    );
    let response = exchange(&env.sb, &first, "the nonce's first use").await;
    assert_eq!(response.status, 200, "{response:?}");

    type Case = (
        &'static str,
        Box<dyn Fn(&Env) -> RawRequest>,
        u16,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "a read contract pushing",
            Box::new(|e: &Env| {
                library(
                    sign(&e.claims(READER, &e.reader_token)),
                    e.descriptor(),
                    "application/octet-stream",
                    Framing::Chunked,
                )
            }),
            403,
            "InsufficientScope",
        ),
        (
            "an unknown client id",
            Box::new(|e: &Env| {
                library(
                    sign(&e.claims("no-such-contract", &e.token)),
                    e.descriptor(),
                    "application/octet-stream",
                    Framing::Chunked,
                )
            }),
            403,
            "InvalidClient",
        ),
        (
            "a malformed Bearer JWT",
            Box::new(|e: &Env| {
                library(
                    "not-a-jwt".into(),
                    e.descriptor(),
                    "application/octet-stream",
                    Framing::Chunked,
                )
            }),
            406,
            "ValidationErrors",
        ),
        (
            "a reused nonce",
            Box::new(move |e: &Env| {
                library(
                    sign(&reused),
                    e.descriptor(),
                    "application/octet-stream",
                    Framing::Length,
                )
            }),
            406,
            "InvalidRequest",
        ),
        (
            "a bad FileDescriptor",
            Box::new(|e: &Env| {
                library(
                    e.bearer(),
                    "garbage".into(),
                    "application/octet-stream",
                    Framing::Chunked,
                )
            }),
            406,
            "ValidationErrors",
        ),
        (
            "a wrong Content-Type",
            Box::new(|e: &Env| library(e.bearer(), e.descriptor(), "text/plain", Framing::Length)),
            406,
            "ValidationErrors",
        ),
        (
            "an unknown provider account",
            Box::new(|e: &Env| provider(e.bearer(), "no-such-account")),
            406,
            "ValidationErrors",
        ),
        (
            "a provider push by a read contract",
            Box::new(|e: &Env| provider(sign(&e.claims(READER, &e.reader_token)), "acc-1")),
            403,
            "InsufficientScope",
        ),
    ];
    for (name, make, status, code) in &cases {
        for round in 0..ROUNDS {
            let what = format!("{name}, round {round}");
            exchange(&env.sb, &make(&env), &what)
                .await
                .assert_error(*status, code, &what);
        }
    }
    assert_eq!(env.sb.library(USER).len(), 1, "only the first push stored");
    assert!(env.sb.provider_pushes(USER).is_empty());
}

#[tokio::test]
async fn injected_status_faults_are_answered_after_the_body() {
    let env = Env::new().await;
    let faults = [
        ("permission-access/import", 503, "ServiceUnavailable"),
        ("permission-access/import", 401, "InvalidToken"),
        ("permission-access/import", 500, "InternalServerError"),
        ("permission-access/import", 429, "TooManyRequests"),
    ];
    for (path, status, code) in faults {
        for framing in [Framing::Chunked, Framing::Length] {
            for round in 0..ROUNDS {
                env.sb.inject_fault(Fault::with_status(path, status));
                let what =
                    format!("a {status} fault on a library push, {framing:?}, round {round}");
                let request = library(
                    env.bearer(),
                    env.descriptor(),
                    "application/octet-stream",
                    framing,
                );
                exchange(&env.sb, &request, &what)
                    .await
                    .assert_error(status, code, &what);
            }
        }
        for round in 0..ROUNDS {
            env.sb.inject_fault(Fault::with_status(path, status));
            let what = format!("a {status} fault on a provider push, round {round}");
            exchange(&env.sb, &provider(env.bearer(), "acc-1"), &what)
                .await
                .assert_error(status, code, &what);
        }
    }
    assert!(env.sb.library(USER).is_empty());
    assert!(env.sb.provider_pushes(USER).is_empty());
}

#[tokio::test]
async fn a_connection_kept_alive_serves_the_next_request_after_an_error() {
    let env = Env::new().await;
    env.sb.expire_access_token(USER);
    let mut stream = TcpStream::connect(env.sb.addr()).await.unwrap();
    for round in 0..2 {
        let body = vec![b'y'; 256 * 1024];
        let head = format!(
            "POST /v1.7/permission-access/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/octet-stream\r\nFileDescriptor: {}\r\nContent-Length: {}\r\n\r\n",
            env.bearer(),
            env.descriptor(),
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body).await.unwrap();
        let what = format!("keep-alive round {round}");
        read_response(&mut stream, &what)
            .await
            .assert_error(401, "InvalidToken", &what);
    }
}

#[tokio::test]
async fn past_the_drain_bound_the_connection_is_closed() {
    let env = Env::with(Sandbox::builder().drain_limits(1 << 20, Duration::from_secs(30))).await;
    env.sb.expire_access_token(USER);
    let mut stream = TcpStream::connect(env.sb.addr()).await.unwrap();
    let total = 16usize << 20;
    let head = format!(
        "POST /v1.7/permission-access/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/octet-stream\r\nFileDescriptor: {}\r\nContent-Length: {total}\r\n\r\n",
        env.bearer(),
        env.descriptor(),
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server stops reading after 1 MiB and closes: at some point the
    // writes fail (broken pipe or reset), as they would against a proxy.
    let piece = vec![b'z'; 64 * 1024];
    let mut written = 0usize;
    let write_failed = tokio::time::timeout(Duration::from_secs(30), async {
        while written < total {
            if stream.write_all(&piece).await.is_err() {
                return true;
            }
            written += piece.len();
        }
        false
    })
    .await
    .unwrap_or(true);
    // Either the writes failed, or (the kernel buffered it all) the read
    // side shows the close: a response with `Connection: close` and then
    // EOF, or a reset.
    if !write_failed {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut rest))
            .await
            .expect("the server closes the connection");
        if read.is_ok() {
            let text = String::from_utf8_lossy(&rest).to_ascii_lowercase();
            assert!(
                text.is_empty() || text.contains("connection: close"),
                "{text}"
            );
        }
    }
    // The sandbox itself is fine: the next connection is served.
    let what = "a small push after the bound";
    let mut small = library(
        env.bearer(),
        env.descriptor(),
        "application/octet-stream",
        Framing::Length,
    );
    small.body.truncate(1000);
    exchange(&env.sb, &small, what)
        .await
        .assert_error(401, "InvalidToken", what);
}

#[tokio::test]
async fn a_client_that_stops_sending_is_answered_after_the_time_bound() {
    let env =
        Env::with(Sandbox::builder().drain_limits(64 << 20, Duration::from_millis(500))).await;
    env.sb.expire_access_token(USER);
    let mut stream = TcpStream::connect(env.sb.addr()).await.unwrap();
    let head = format!(
        "POST /v1.7/permission-access/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/octet-stream\r\nFileDescriptor: {}\r\nContent-Length: 1000000\r\n\r\n",
        env.bearer(),
        env.descriptor(),
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[b'w'; 1000]).await.unwrap();
    // Nothing more is sent: after the time bound, the answer comes, and the
    // connection is closed after it.
    let response = read_response(&mut stream, "a stalled body").await;
    response.assert_error(401, "InvalidToken", "a stalled body");
    assert_eq!(response.header("connection"), Some("close"));
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest))
        .await
        .expect("closed after the answer")
        .unwrap_or(0);
    assert_eq!(n, 0);
}
