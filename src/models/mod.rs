//! The models of digi.me's answers: `#[non_exhaustive]` serde structs, so
//! that new fields from the API never break your code.
//!
//! - [`ServiceAccount`] (`account.rs`): an entry of read accounts.
//! - [`ContractInfo`] (`contract_info.rs`): a contract's details.

mod account;
mod contract_info;

pub use account::{AccessTokenStatus, AccountType, ServiceAccount};
pub use contract_info::{AccessType, ApplicationInfo, ContractInfo};
