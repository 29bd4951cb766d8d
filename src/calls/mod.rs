//! The calls around the push: read accounts, contract info, delete user,
//! and the account calls of the lifecycle (revoke an account's permission,
//! delete an account). Each file holds one call; [`Outcome`] is what a call
//! made for a user returns, with the token to store.

mod accounts;
mod contract_info;
mod delete_account;
mod delete_user;
mod revoke_account;

pub use crate::client::Outcome;
pub use accounts::AccountsOutcome;
