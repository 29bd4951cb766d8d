//! Reading request bodies: frame by frame, whole only up to a limit.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;

use super::ApiResult;
use crate::sandbox::server::{ApiError, RecordSlot, header_str};
use crate::sandbox::util::sha256_hex;

pub(super) fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    header_str(headers, "content-type")
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// The next chunk of a request body's data (trailers are skipped), frame
/// by frame: a body is never collected whole here.
pub(super) async fn next_data(body: &mut Body) -> ApiResult<Option<bytes::Bytes>> {
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                format!("the body could not be read ({e})"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            return Ok(Some(data));
        }
    }
    Ok(None)
}

/// Reads a whole body, up to `limit` bytes.
pub(super) async fn read_body(body: Body, limit: u64, slot: &RecordSlot) -> ApiResult<Vec<u8>> {
    let mut body = body;
    let mut buf = Vec::new();
    while let Some(data) = next_data(&mut body).await? {
        if buf.len() as u64 + data.len() as u64 > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "ValidationErrors",
                format!("the body is larger than {limit} bytes"),
            ));
        }
        buf.extend_from_slice(&data);
    }
    let sha = sha256_hex(&buf);
    slot.with(|r| {
        r.body_size = Some(buf.len() as u64);
        r.body_sha256 = Some(sha);
    });
    Ok(buf)
}
