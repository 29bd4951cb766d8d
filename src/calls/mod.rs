//! The calls around the push: read accounts, contract info, delete user.
//! Each file holds one call.

mod accounts;
mod contract_info;
mod delete_user;

pub use accounts::AccountsOutcome;
