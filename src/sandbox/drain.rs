//! Reading the rest of a request body before answering.
//!
//! A handler may answer an error before it reads the body (a 401 is known
//! from the headers alone), and a fault may answer before the handler runs.
//! hyper then closes the connection with the body unread, and a client that
//! writes its whole body before it reads the answer (the official TypeScript
//! SDK does) fails with a broken pipe instead of seeing the answer. So every
//! request body passes through a [`SharedBody`]: the handler reads what it
//! needs, and the fault layer reads the rest, within [`DrainLimits`], before
//! the answer goes out.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};

/// The default bound on the request body read before an error answer: 64 MiB
/// (see [`SandboxBuilder::drain_limits`](super::SandboxBuilder::drain_limits)).
pub const DEFAULT_DRAIN_BYTES: u64 = 64 << 20;

/// The default bound on the time spent reading a request body before an
/// error answer: 30 s (see [`SandboxBuilder::drain_limits`](super::SandboxBuilder::drain_limits)).
pub const DEFAULT_DRAIN_TIME: Duration = Duration::from_secs(30);

/// How much of a body is read before an answer: the bounds past which the
/// connection is closed instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DrainLimits {
    pub(crate) max_bytes: u64,
    pub(crate) max_time: Duration,
}

impl Default for DrainLimits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_DRAIN_BYTES,
            max_time: DEFAULT_DRAIN_TIME,
        }
    }
}

/// A request body the handler reads through, while the fault layer keeps a
/// handle on what the handler left unread.
#[derive(Clone)]
pub(crate) struct SharedBody(Arc<Mutex<Body>>);

impl SharedBody {
    pub(crate) fn new(body: Body) -> Self {
        Self(Arc::new(Mutex::new(body)))
    }

    /// Reads and discards the rest of the body. True when the body ended
    /// within `limits`; false when a bound was reached or the body failed,
    /// and the connection must be closed.
    pub(crate) async fn drain(&self, limits: DrainLimits) -> bool {
        let mut body = self.clone();
        let mut read: u64 = 0;
        let rest = async {
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { return false };
                if let Some(data) = frame.data_ref() {
                    read = read.saturating_add(data.len() as u64);
                    if read > limits.max_bytes {
                        return false;
                    }
                }
            }
            true
        };
        tokio::time::timeout(limits.max_time, rest)
            .await
            .unwrap_or(false)
    }
}

impl HttpBody for SharedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        // Never held across a wait: the lock only guards one poll.
        let mut body = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Pin::new(&mut *body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .size_hint()
    }
}
