//! The caller's `on_access_token_change` hook, and how it is called.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::token::UserAccessToken;

/// The caller's `on_access_token_change` hook.
pub(crate) type OnTokenChange = Box<dyn FnMut(&UserAccessToken) + Send + 'static>;

/// Calls a hook with a new token. A hook that panics is reported in the log
/// and does not take the call down with it: the call's outcome still carries
/// the token to store.
pub(crate) fn call_hook(hook: &mut OnTokenChange, token: &UserAccessToken) {
    if catch_unwind(AssertUnwindSafe(|| hook(token))).is_err() {
        tracing::error!(
            "the on_access_token_change hook panicked; the new token is still in the call's outcome"
        );
    }
}
