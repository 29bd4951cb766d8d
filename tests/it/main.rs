//! The integration tests: one test binary, one module per subject.
//!
//! Each module was once a test target of its own, and each target linked
//! tokio, axum, rustls and aws-lc again. As one binary they link once: see
//! the "Tests" section of docs/architecture.md for the layout, and the
//! README's "Testing" section for what the tests need (PostgreSQL for the
//! fleet tests).
//!
//! Tests share this process. None changes the environment, the current
//! directory or signal handlers. The two that need the process to
//! themselves run it again, alone, through [`support::own_process`]: the
//! global TRACE subscriber of `secrets` and the peak-memory measurement of
//! `web_push`. The compile-fail harness (`tests/compile_fail.rs`) stays a
//! target of its own: it drives rustc, not the crate.

mod browser;
mod support;

mod authorization;
mod bad_input;
mod bad_input_table;
#[cfg(feature = "cli")]
mod bulk;
mod chaos;
#[cfg(feature = "cli")]
mod cli;
mod faults;
#[cfg(all(feature = "postgres", feature = "cli"))]
mod fleet_postgres;
mod layout;
mod lifecycle;
mod load;
mod one_refresh;
mod proptest_parsers;
mod public_api;
mod push;
mod raw_client;
mod sandbox_checks;
mod secrets;
#[cfg(all(feature = "store-conformance", feature = "postgres"))]
mod store_conformance;
mod streaming;
mod token_protocol;
mod token_store;
mod token_verifier;
mod web_push;
mod web_push_errors;
