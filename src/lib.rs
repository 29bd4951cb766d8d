//! # digime
//!
//! A Rust SDK for the digi.me write path.
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
pub mod calls;
mod client;
mod contract;
mod descriptor;
#[doc(hidden)]
pub mod doc_support;
pub mod error;
pub mod models;
pub mod push;
mod signer;
mod token;
mod typestate;
mod transport;
mod validate;

#[cfg(feature = "sandbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
pub mod sandbox;

pub use auth::{AuthorizeCallback, SourceType};
pub use client::{DEFAULT_BASE_URL, DigiMe, DigiMeBuilder};
pub use contract::ContractDetails;
pub use descriptor::{Account, FileDescriptor};
pub use models::{ContractInfo, ServiceAccount};
pub use error::{Error, ErrorKind, Result, ServerError};
pub use push::{FhirVersion, PushOutcome, Standard};
pub use token::{Token, UserAccessToken};

/// Re-exported so that token values can be read with
/// [`ExposeSecret`](secrecy::ExposeSecret) without another dependency.
pub use secrecy;
