//! The transport: one signed call to the API, with retries where they are
//! safe, and server errors mapped to [`Error`](crate::Error).
//!
//! - [`request`]: what a call is (method, path, claims, headers, body).
//! - [`retry`]: which failures are retried, and how long to wait.
//! - [`response`]: reading a response, and turning an error response into a
//!   [`ServerError`](crate::ServerError).

pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod retry;

pub(crate) use request::{Body, Call};
pub(crate) use response::Reply;
pub(crate) use retry::CallKind;
