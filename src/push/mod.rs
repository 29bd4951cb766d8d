//! The push builder: data into a user's library, or a FHIR record to a
//! provider account (an operation: layer 6 of the
//! [architecture](crate::guide::architecture)).
//!
//! [`DigiMe::push`](crate::DigiMe::push) returns a [`PushBuilder`]. Choose a
//! mode, set what the mode needs, then `.send()`:
//!
//! - [`PushBuilder::library`] → [`LibraryPush`]: needs `.file(..)` and
//!   `.descriptor(..)`, in either order.
//! - [`PushBuilder::provider`] → [`ProviderPush`]: needs `.standard(..)`,
//!   `.version(..)`, `.account_id(..)` and `.data(..)`, in any order.
//!
//! These rules are checked at compile time. The builders' type parameters
//! are the markers in [`state`]: each says whether one field is set. A setter
//! exists only while its field is unset, and `send()` asks the compiler to
//! prove every field is set; a missing one reads like a sentence:
//!
//! ```text
//! error[E0277]: the file descriptor is missing: call `.descriptor(FileDescriptor::builder()…build())` before `.send()`
//! ```

mod builder;
mod library;
mod outcome;
mod provider;
mod standard;
pub mod state;

use std::future::Future;
use std::pin::Pin;

use crate::DigiMe;
use crate::client::TokenState;
use crate::contract::ContractDetails;
use crate::error::Result;

pub use crate::transport::FileData;
pub use builder::PushBuilder;
pub use library::LibraryPush;
pub use outcome::{PushOutcome, PushReply};
pub use provider::ProviderPush;
pub use standard::{FhirVersion, Standard};

/// What every push carries, whatever its mode.
#[derive(Debug)]
pub(crate) struct PushContext {
    pub(crate) sdk: DigiMe,
    pub(crate) contract: ContractDetails,
    pub(crate) tokens: TokenState,
}

/// The future `send()` returns: boxed, so that a missing field is reported
/// once, at `.send()`, rather than again at `.await`.
pub type PushFuture = Pin<Box<dyn Future<Output = Result<PushOutcome>> + Send + 'static>>;
