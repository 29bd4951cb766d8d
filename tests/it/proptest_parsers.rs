//! Property tests: arbitrary bytes to the three parsers that read what the
//! outside world sends, through the public API.
//!
//! - the callback-query parser (`AuthorizeCallback::from_query` / `from_url`);
//! - the error-body parser: a stub server answers a call with an arbitrary
//!   status, body and `X-Error-*` / `Retry-After` headers;
//! - the token-payload parser: a stub server answers the refresh grant with
//!   a correctly signed server JWT whose payload is arbitrary bytes (and
//!   with arbitrary bytes where the `{"token": …}` reply belongs).
//!
//! No input may panic, and every failure must be an `Err` of a documented
//! kind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use digime::consent::AuthorizeCallback;
use digime::secrecy::ExposeSecret;
use digime::{ContractDetails, DigiMe, ErrorKind, Token, UserAccessToken};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// ---------------------------------------------------------------- the stub

/// A raw HTTP/1.1 server that answers each path with scripted bytes.
struct Stub {
    base_url: String,
    /// path (relative to the base URL) → the raw response.
    routes: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    signer: aws_lc_rs::signature::RsaKeyPair,
    public_pem: String,
}

impl Stub {
    async fn start() -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let served = routes.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    continue;
                };
                let routes = served.clone();
                tokio::spawn(async move {
                    let Some(path) = read_request(&mut conn).await else {
                        return;
                    };
                    let rel = path.strip_prefix("/v1.7/").unwrap_or(&path).to_string();
                    let answer = routes.lock().unwrap().get(&rel).cloned();
                    let answer = answer.unwrap_or_else(|| raw(404, &[], b""));
                    let _ = conn.write_all(&answer).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        let pem = digime::sandbox::generate_private_key_pem().unwrap();
        let der = pem::parse(&pem).unwrap().into_contents();
        let signer = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
        let public_pem = ContractDetails::new("stub", &pem).unwrap().public_key_pem();
        let stub = Stub {
            base_url: format!("http://{addr}/v1.7/"),
            routes,
            signer,
            public_pem,
        };
        let keys = serde_json::json!({"keys": [{"kid": "stub-key", "pem": stub.public_pem}]});
        stub.route(
            "jwks/oauth",
            raw(
                200,
                &[("content-type", "application/json")],
                keys.to_string().as_bytes(),
            ),
        );
        stub
    }

    fn route(&self, path: &str, response: Vec<u8>) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_string(), response);
    }

    /// A PS512 JWT in the server's shape, with `payload` as its payload bytes.
    fn server_jwt(&self, payload: &[u8]) -> String {
        let header = serde_json::json!({
            "alg": "PS512", "typ": "JWT",
            "jku": format!("{}jwks/oauth", self.base_url), "kid": "stub-key",
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut signature = vec![0u8; self.signer.public_modulus_len()];
        self.signer
            .sign(
                &aws_lc_rs::signature::RSA_PSS_SHA512,
                &aws_lc_rs::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .unwrap();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// Reads one request (headers and a Content-Length body); returns its path.
async fn read_request(conn: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    head.split_whitespace().nth(1).map(str::to_string)
}

fn raw(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

struct World {
    rt: tokio::runtime::Runtime,
    stub: Stub,
    sdk: DigiMe,
    contract: ContractDetails,
    token: UserAccessToken,
}

/// The failures proptest found, kept beside this file
/// (`proptest_parsers.proptest-regressions`) and replayed before new cases.
fn regressions() -> Option<Box<dyn proptest::test_runner::FailurePersistence>> {
    Some(Box::new(
        proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
    ))
}

/// The stub's routes are shared: one case at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// One runtime, stub and SDK for every case (the key set is fetched once).
/// A token no refresh has spent yet: the SDK remembers the rotations it
/// made, so each case refreshes a refresh token of its own to reach the
/// parser.
fn fresh_token(w: &World) -> UserAccessToken {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let far = UNIX_EPOCH + Duration::from_secs(4_102_444_800);
    UserAccessToken::new(
        w.token.access_token().clone(),
        Token::new(format!("refresh-value-{n}"), far),
        Some("user-1".into()),
        None,
    )
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let stub = rt.block_on(Stub::start());
        let sdk = DigiMe::builder()
            .application_id("app")
            .base_url(&stub.base_url)
            .max_retries(0)
            .build()
            .unwrap();
        let contract = ContractDetails::new("c", include_str!("support/keys/rsa2048.pem")).unwrap();
        let far = UNIX_EPOCH + Duration::from_secs(4_102_444_800); // 2100-01-01
        let token = UserAccessToken::new(
            Token::new("access-value", far),
            Token::new("refresh-value", far),
            Some("user-1".into()),
            None,
        );
        World {
            rt,
            stub,
            sdk,
            contract,
            token,
        }
    })
}

// ------------------------------------------------------- callback queries

fn query_part() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("success=true".to_string()),
        Just("success=false".to_string()),
        "[a-zA-Z%=&+?#;]{0,12}".prop_map(|s| s),
        "(success|code|state|accountReference|errorCode)=[^&]{0,16}".prop_map(|s| s),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: regressions(), ..ProptestConfig::default() })]

    #[test]
    fn callback_query_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let text = String::from_utf8_lossy(&bytes);
        check_callback(AuthorizeCallback::from_query(&text));
        check_callback(AuthorizeCallback::from_url(&text));
        check_callback(AuthorizeCallback::from_url(&format!("http://127.0.0.1/cb?{text}")));
    }

    #[test]
    fn callback_query_shaped_input_never_panics(parts in proptest::collection::vec(query_part(), 0..6)) {
        let query = parts.join("&");
        let result = AuthorizeCallback::from_query(&query);
        if let Ok(callback) = &result {
            prop_assert!(!callback.code().expose_secret().is_empty(), "an accepted callback has a code: {query:?}");
            prop_assert!(query.contains("success=true"), "{query:?}");
        }
        check_callback(result);
    }
}

fn check_callback(result: digime::Result<AuthorizeCallback>) {
    if let Err(err) = result {
        assert!(
            matches!(
                err.kind(),
                ErrorKind::InvalidInput | ErrorKind::AuthorizationFailed
            ),
            "{err:?}"
        );
        if err.kind() == ErrorKind::InvalidInput {
            assert!(err.field().is_some(), "{err:?}");
        }
    }
}

// ------------------------------------------------------------ error bodies

fn header_text() -> impl Strategy<Value = String> {
    "[ -~]{0,40}".prop_map(|s| s.trim().to_string())
}

fn error_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        (any::<String>(), any::<String>(), any::<Option<String>>()).prop_map(|(c, m, r)| {
            serde_json::json!({"error": {"code": c, "message": m, "reference": r}})
                .to_string()
                .into_bytes()
        }),
        any::<String>().prop_map(|s| format!("{{\"error\": {s}}}").into_bytes()),
        Just(b"<html><body>502 Bad Gateway</body></html>".to_vec()),
        Just(b"{\"error\": {\"code\": \"Invalid".to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: regressions(), ..ProptestConfig::default() })]

    #[test]
    fn error_responses_of_any_shape_become_server_errors(
        status in 400u16..600,
        body in error_body(),
        code in proptest::option::of(header_text()),
        retry_after in proptest::option::of(header_text()),
    ) {
        let _one_at_a_time = serial();
        let w = world();
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(code) = &code { headers.push(("x-error-code", code)); }
        if let Some(retry) = &retry_after { headers.push(("retry-after", retry)); }
        w.stub.route("permission-access/contract", raw(status, &headers, &body));
        let err = w.rt.block_on(w.sdk.contract_info(&w.contract)).expect_err("an error status is an error");
        prop_assert_eq!(err.kind(), ErrorKind::Server, "{:?}", err);
        prop_assert_eq!(err.status(), Some(status));
        prop_assert!(err.to_string().contains(&status.to_string()));
        // A parseable body's code wins; else the header's (when not blank).
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let body_code = parsed.as_ref().and_then(|v| v["error"]["code"].as_str()).map(str::to_string);
        if let Some(body_code) = body_code {
            prop_assert_eq!(err.code(), Some(body_code.as_str()));
        } else if parsed.as_ref().and_then(|v| v["error"].as_object()).is_none() {
            let header_code = code.as_deref().filter(|c| !c.is_empty());
            prop_assert_eq!(err.code(), header_code);
        }
    }

    #[test]
    fn success_bodies_that_are_not_the_model_are_errors(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _one_at_a_time = serial();
        let w = world();
        w.stub.route("permission-access/contract", raw(200, &[], &body));
        let result = w.rt.block_on(w.sdk.contract_info(&w.contract));
        if let Err(err) = result {
            prop_assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{:?}", err);
        }
    }
}

// ----------------------------------------------------------- token payloads

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::hash_map("[a-z_]{1,14}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Payloads close to the real one, with any part replaced or missing.
fn token_payload() -> impl Strategy<Value = Vec<u8>> {
    let part = prop_oneof![
        (any::<String>(), any::<u32>())
            .prop_map(|(v, e)| serde_json::json!({"value": v, "expires_on": e})),
        json_value(),
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (part.clone(), part, proptest::option::of(json_value()), proptest::option::of(json_value())).prop_map(
            |(access, refresh, sub, consent)| {
                let mut payload = serde_json::json!({"access_token": access, "refresh_token": refresh, "token_type": "Bearer"});
                if let Some(sub) = sub { payload["sub"] = sub; }
                if let Some(consent) = consent { payload["consentid"] = consent; }
                payload.to_string().into_bytes()
            }
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: regressions(), ..ProptestConfig::default() })]

    #[test]
    fn signed_token_payloads_of_any_shape_never_panic(payload in token_payload()) {
        let _one_at_a_time = serial();
        let w = world();
        let jwt = w.stub.server_jwt(&payload);
        let reply = serde_json::json!({"token": jwt}).to_string();
        w.stub.route("oauth/token", raw(200, &[("content-type", "application/json")], reply.as_bytes()));
        match w.rt.block_on(w.sdk.refresh(&w.contract, &fresh_token(w))) {
            Ok(token) => {
                // Accepted only when the payload really has the shape.
                let v: serde_json::Value = serde_json::from_slice(&payload).expect("accepted payloads are JSON");
                prop_assert_eq!(
                    Some(token.access_token().value().expose_secret()),
                    v["access_token"]["value"].as_str()
                );
                // The stored form keeps the server's seconds exactly.
                let stored = serde_json::to_value(token.refresh_token()).expect("serializes");
                prop_assert_eq!(stored["expiry"].as_u64(), v["refresh_token"]["expires_on"].as_u64());
            }
            Err(err) => prop_assert!(
                matches!(err.kind(), ErrorKind::TokenVerification | ErrorKind::InvalidResponse),
                "{:?}", err
            ),
        }
    }

    #[test]
    fn token_replies_of_any_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), status in prop_oneof![Just(200u16), 400u16..600]) {
        let _one_at_a_time = serial();
        let w = world();
        w.stub.route("oauth/token", raw(status, &[], &body));
        let err = w.rt.block_on(w.sdk.refresh(&w.contract, &fresh_token(w))).expect_err("not a token reply");
        prop_assert!(
            matches!(
                err.kind(),
                ErrorKind::TokenVerification
                    | ErrorKind::InvalidResponse
                    | ErrorKind::Server
                    | ErrorKind::ReauthorizationRequired
            ),
            "{:?}", err
        );
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let code = parsed.as_ref().and_then(|v| v["error"]["code"].as_str().map(str::to_string));
        // digi.me's refusal of a refresh token says `InvalidToken`; a bare
        // 401 (a proxy's) is no refusal, and never asks for consent again.
        if status == 401 && code.as_deref() == Some("InvalidToken") {
            prop_assert_eq!(err.kind(), ErrorKind::ReauthorizationRequired);
        }
        if status == 401 && code.is_none() {
            prop_assert_ne!(err.kind(), ErrorKind::ReauthorizationRequired);
        }
    }
}

/// The stub's JWTs verify: the properties above reach the payload parser.
#[test]
fn a_well_formed_signed_payload_is_accepted() {
    let _one_at_a_time = serial();
    let w = world();
    let payload = serde_json::json!({
        "access_token": {"value": "a-2", "expires_on": 4_102_444_800u64},
        "refresh_token": {"value": "r-2", "expires_on": 4_102_444_900u64},
        "sub": "user-1", "consentid": "c-1", "token_type": "Bearer"
    });
    let jwt = w.stub.server_jwt(payload.to_string().as_bytes());
    let reply = serde_json::json!({"token": jwt}).to_string();
    w.stub.route("oauth/token", raw(200, &[], reply.as_bytes()));
    let token =
        w.rt.block_on(w.sdk.refresh(&w.contract, &fresh_token(w)))
            .expect("accepted");
    assert_eq!(token.access_token().value().expose_secret(), "a-2");
    assert_eq!(
        token.refresh_token().expires_at(),
        UNIX_EPOCH + Duration::from_secs(4_102_444_900)
    );
    // A payload signed by another key is refused.
    let mut forged = jwt.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let reply = serde_json::json!({"token": forged}).to_string();
    w.stub.route("oauth/token", raw(200, &[], reply.as_bytes()));
    let err =
        w.rt.block_on(w.sdk.refresh(&w.contract, &fresh_token(w)))
            .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenVerification, "{err:?}");
}
