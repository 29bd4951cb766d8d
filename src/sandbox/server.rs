//! The accept loop, the request log and fault layer, and error responses.
//!
//! axum cannot close a connection without answering, so the sandbox runs its
//! own accept loop with `hyper_util`'s connection builder. A response that
//! carries the [`DropConnection`] marker is turned into a service error,
//! which makes hyper close the TCP connection with no response written.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::ServiceExt;

use super::drain::SharedBody;
use super::model::{Fault, FaultBody, RequestRecord};
use super::state::{Shared, normalize_fault_path};
use super::util::{header_safe, html_escape, random_alnum};

/// The API's path prefix.
pub(crate) const API_PREFIX: &str = "/v1.7/";

/// An error answer: status, code and message, with a fresh reference.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 406 `ValidationErrors`.
    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_ACCEPTABLE, "ValidationErrors", message)
    }

    /// 406 `InvalidRequest`.
    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_ACCEPTABLE, "InvalidRequest", message)
    }

    /// 401 `InvalidToken`.
    pub(crate) fn invalid_token(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "InvalidToken", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        tracing::debug!(status = self.status.as_u16(), code = self.code, message = %self.message, "sandbox rejected a request");
        error_response(
            self.status,
            self.code,
            &self.message,
            &new_reference(),
            FaultBody::Json,
        )
    }
}

/// A fresh error reference.
pub(crate) fn new_reference() -> String {
    format!("sbx-{}", random_alnum(16))
}

/// An error response in one of the [`FaultBody`] shapes.
pub(crate) fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    reference: &str,
    shape: FaultBody,
) -> Response {
    let body = json!({"error": {"code": code, "message": message, "reference": reference}});
    let mut resp = match shape {
        FaultBody::Json => (
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response(),
        FaultBody::Headers | FaultBody::Empty => Body::empty().into_response(),
        FaultBody::Html => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!(
                "<!DOCTYPE html><html><head><title>{s} Error</title></head><body><h1>{s}</h1><p>{m}</p></body></html>",
                s = status.as_u16(),
                m = html_escape(message)
            ),
        )
            .into_response(),
        FaultBody::Malformed => (
            [(header::CONTENT_TYPE, "application/json")],
            format!("{{\"error\": {{\"code\": \"{}\", \"mess", header_safe(code)),
        )
            .into_response(),
        FaultBody::Unverifiable => (
            [(header::CONTENT_TYPE, "application/json")],
            json!({"token": "eyJhbGciOiJub25lIn0.e30.not-signed"}).to_string(),
        )
            .into_response(),
    };
    *resp.status_mut() = status;
    if matches!(shape, FaultBody::Json | FaultBody::Headers) {
        let headers = resp.headers_mut();
        for (name, value) in [
            ("x-error-code", code),
            ("x-error-message", message),
            ("x-error-reference", reference),
        ] {
            if let Ok(v) = HeaderValue::from_str(&header_safe(value)) {
                headers.insert(name, v);
            }
        }
    }
    resp
}

/// What handlers add to the request's record.
#[derive(Default)]
pub(crate) struct RecordExtra {
    pub(crate) claims: Option<Value>,
    pub(crate) nonce: Option<String>,
    pub(crate) body_size: Option<u64>,
    pub(crate) body_sha256: Option<String>,
}

/// A request extension through which handlers fill in the record.
#[derive(Clone, Default)]
pub(crate) struct RecordSlot(pub(crate) Arc<Mutex<RecordExtra>>);

impl RecordSlot {
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut RecordExtra) -> R) -> R {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

/// The marker of a response that must become a dropped connection.
#[derive(Clone, Copy)]
pub(crate) struct DropConnection;

/// The path a request is recorded and matched under.
pub(crate) fn relative_path(path: &str) -> String {
    match path.strip_prefix(API_PREFIX) {
        Some(rel) => rel.to_string(),
        None => path.to_string(),
    }
}

/// Reads the rest of the request body before answering, so that a client
/// that writes it all before it reads sees the answer; past the drain
/// bound, the connection closes after the answer.
async fn drain_before_answer(
    body: &SharedBody,
    shared: &Shared,
    rel: &str,
    http1: bool,
    resp: &mut Response,
) {
    if !body.drain(shared.drain).await {
        tracing::debug!(
            path = %rel,
            "the request body went past the drain bound: closing the connection after the answer"
        );
        if http1 {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
}

/// What the request log keeps of a request's headers: their names, the
/// content type and the content length.
fn header_facts(headers: &axum::http::HeaderMap) -> (Vec<String>, Option<String>, Option<u64>) {
    let names = headers.keys().map(|k| k.as_str().to_string()).collect();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (names, content_type, content_length)
}

/// The middleware: applies faults and records every request.
pub(crate) async fn record_and_fault(
    State(shared): State<Arc<Shared>>,
    mut req: Request,
    next: Next,
) -> Response {
    let received_at = SystemTime::now();
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let rel = relative_path(&path);
    let (headers, content_type, content_length) = header_facts(req.headers());
    let slot = RecordSlot::default();
    req.extensions_mut().insert(slot.clone());
    let http1 = req.version() < axum::http::Version::HTTP_2;
    // The handler reads the body through `body`; what it leaves unread is
    // drained below, before the answer goes out.
    let (parts, incoming) = req.into_parts();
    let body = SharedBody::new(incoming);
    let req = Request::from_parts(parts, Body::new(body.clone()));

    let fault = if path.starts_with("/sandbox/") {
        None
    } else {
        let match_path = normalize_fault_path(&rel).to_string();
        shared.lock().take_fault(&method, &match_path)
    };
    let mut fault_kind = None;
    if let Some(ms) = fault.as_ref().and_then(|f| f.delay_ms) {
        fault_kind = Some("delay");
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let replaces = |f: &Fault| f.drop_connection || f.status.is_some();
    let resp = match &fault {
        Some(f) if replaces(f) => {
            if f.after_handling {
                let _ = next.run(req).await;
            }
            fault_kind = Some(if f.drop_connection {
                "drop_connection"
            } else {
                "status"
            });
            fault_response(f)
        }
        _ => next.run(req).await,
    };

    let dropped = resp.extensions().get::<DropConnection>().is_some();
    let mut resp = resp;
    // A dropped connection is dropped as it stands.
    if !dropped {
        drain_before_answer(&body, &shared, &rel, http1, &mut resp).await;
    }
    let code = resp
        .headers()
        .get("x-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let extra = slot.with(std::mem::take);
    let record = RequestRecord {
        method,
        path: rel,
        status: if dropped { 0 } else { resp.status().as_u16() },
        code,
        claims: extra.claims.unwrap_or(Value::Null),
        nonce: extra.nonce,
        headers,
        content_type,
        content_length,
        body_size: extra.body_size,
        body_sha256: extra.body_sha256,
        fault: fault_kind.map(str::to_string),
        received_at,
    };
    shared.lock().push_record(record);
    resp
}

/// The response a status or drop fault produces.
fn fault_response(fault: &Fault) -> Response {
    if fault.drop_connection {
        let mut resp = Response::new(Body::empty());
        resp.extensions_mut().insert(DropConnection);
        return resp;
    }
    let status = fault
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let code = fault
        .code
        .clone()
        .unwrap_or_else(|| default_code(status).to_string());
    let message = fault.message.clone().unwrap_or_else(|| {
        format!(
            "{} (injected by the sandbox)",
            status.canonical_reason().unwrap_or("error")
        )
    });
    let reference = fault.reference.clone().unwrap_or_else(new_reference);
    let mut resp = error_response(status, &code, &message, &reference, fault.body);
    if let Some(secs) = fault.retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

fn default_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequest",
        401 => "InvalidToken",
        403 => "Forbidden",
        404 => "NotFound",
        406 => "ValidationErrors",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "SandboxFault",
    }
}

/// The error a service returns to make hyper drop the connection.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by a sandbox fault")
    }
}

impl std::error::Error for Dropped {}

/// Serves `router` on `listener` until `shutdown` fires, then shuts down
/// gracefully (open connections get up to 5 seconds).
pub(crate) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    mut shutdown: oneshot::Receiver<()>,
) {
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "sandbox accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let router = router.clone();
                    async move {
                        let resp = match router.oneshot(req.map(Body::new)).await {
                            Ok(resp) => resp,
                            Err(never) => match never {},
                        };
                        if resp.extensions().get::<DropConnection>().is_some() {
                            Err(Dropped)
                        } else {
                            Ok::<_, Dropped>(resp)
                        }
                    }
                });
                let builder = builder.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(error = %e, "sandbox connection ended with an error");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
    }
}

/// The headers helper: the value of `name` as a string.
pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
