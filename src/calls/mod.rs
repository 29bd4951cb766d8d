//! The calls around the push: read accounts, contract details, delete user.
//! Each file holds one call.

mod accounts;
mod contract_details;
mod delete_user;

pub use accounts::AccountsOutcome;
