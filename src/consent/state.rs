//! The type states of the consent-flow builders: authorize, reauthorize,
//! onboard and reauthorize one account.
//!
//! Each marker says whether one input of a consent flow is set, and is named
//! for it: `ConsentCallbackMissing` until `.callback(..)` is called, then
//! `ConsentCallbackSet`; `ConsentStateMissing` until `.state(..)`, then
//! `ConsentStateSet`; `ConsentAccountIdMissing` until `.account_id(..)`, then
//! `ConsentAccountIdSet`. Each builder's `send()` requires traits named for
//! that builder and the input (`AuthorizeHasCallback` and `AuthorizeHasState`
//! for [`AuthorizeBuilder`](super::AuthorizeBuilder), `ReauthorizeHasCallback`
//! and `ReauthorizeHasState` for [`ReauthorizeBuilder`](super::ReauthorizeBuilder),
//! `OnboardHasCallback` for [`OnboardBuilder`](super::OnboardBuilder),
//! `ReauthorizeAccountHasCallback` and `ReauthorizeAccountHasAccountId` for
//! [`ReauthorizeAccountBuilder`](super::ReauthorizeAccountBuilder)), which
//! only the `…Set` markers implement, so that the compiler's message names
//! the call you are making. The traits are sealed: no other crate can
//! implement them, so no other state can exist. The push builders' markers
//! (in [`push::state`](crate::push::state)) are named `Library…` and
//! `Provider…`, so no two markers share a name.
//!
//! You rarely name these types. They show up in compiler messages, where the
//! traits' messages say what to call:
//!
//! ```compile_fail,E0277
//! # async fn run(sdk: digime::DigiMe, c: digime::ContractDetails) {
//! // error[E0277]: the state is missing: call `.state(..)` with a value you can check on the callback before `.send()`
//! sdk.authorize(&c).callback("https://my.app/cb").send().await;
//! # }
//! ```
//!
//! ```compile_fail,E0277
//! # async fn run(sdk: digime::DigiMe, c: digime::ContractDetails, t: digime::UserAccessToken) {
//! // error[E0277]: the account id is missing: call `.account_id(id)` with an id from `read_accounts` before `.send()`
//! sdk.reauthorize_account(&c, &t).callback("https://my.app/cb").send().await;
//! # }
//! ```

use super::oauth::ConsentState;
use crate::typestate::{state_pair, state_trait};

state_pair!(
    /// Consent flows: `.callback(..)` has not been called.
    ConsentCallbackMissing,
    /// Consent flows: the callback URL is set.
    ConsentCallbackSet(String),
    /// Proof that an authorize call has its callback URL.
    #[diagnostic::on_unimplemented(
        message = "the callback URL is missing: call `.callback(\"https://your.app/callback\")` before `.send()`",
        label = "this authorize call has no callback URL yet",
        note = "an authorize call needs both `.callback(..)` and `.state(..)`, in either order"
    )]
    AuthorizeHasCallback::into_callback
);
state_pair!(
    /// Consent flows: `.state(..)` has not been called.
    ConsentStateMissing,
    /// Consent flows: the state is set.
    ConsentStateSet(ConsentState),
    /// Proof that an authorize call has its state.
    #[diagnostic::on_unimplemented(
        message = "the state is missing: call `.state(..)` with a value you can check on the callback before `.send()`",
        label = "this authorize call has no state yet",
        note = "an authorize call needs both `.callback(..)` and `.state(..)`, in either order"
    )]
    AuthorizeHasState::into_state
);
state_pair!(
    /// Reauthorize one account: `.account_id(..)` has not been called.
    ConsentAccountIdMissing,
    /// Reauthorize one account: the account id is set.
    ConsentAccountIdSet(String),
    /// Proof that an account reauthorization has its account id.
    #[diagnostic::on_unimplemented(
        message = "the account id is missing: call `.account_id(id)` with an id from `read_accounts` before `.send()`",
        label = "this account reauthorization has no account id yet",
        note = "reauthorizing an account needs both `.callback(..)` and `.account_id(..)`, in either order"
    )]
    ReauthorizeAccountHasAccountId::into_account_id
);

state_trait!(
    /// Proof that a reauthorize call has its callback URL.
    #[diagnostic::on_unimplemented(
        message = "the callback URL is missing: call `.callback(\"https://your.app/callback\")` before `.send()`",
        label = "this reauthorize call has no callback URL yet",
        note = "a reauthorize call needs both `.callback(..)` and `.state(..)`, in either order"
    )]
    ReauthorizeHasCallback::into_reauthorize_callback for ConsentCallbackSet(String)
);
state_trait!(
    /// Proof that a reauthorize call has its state.
    #[diagnostic::on_unimplemented(
        message = "the state is missing: call `.state(..)` with a value you can check on the callback before `.send()`",
        label = "this reauthorize call has no state yet",
        note = "a reauthorize call needs both `.callback(..)` and `.state(..)`, in either order"
    )]
    ReauthorizeHasState::into_reauthorize_state for ConsentStateSet(ConsentState)
);
state_trait!(
    /// Proof that an onboard call has its callback URL.
    #[diagnostic::on_unimplemented(
        message = "the callback URL is missing: call `.callback(\"https://your.app/callback\")` before `.send()`",
        label = "this onboard call has no callback URL yet",
        note = "onboarding a service needs `.callback(..)`; everything else is optional"
    )]
    OnboardHasCallback::into_onboard_callback for ConsentCallbackSet(String)
);
state_trait!(
    /// Proof that an account reauthorization has its callback URL.
    #[diagnostic::on_unimplemented(
        message = "the callback URL is missing: call `.callback(\"https://your.app/callback\")` before `.send()`",
        label = "this account reauthorization has no callback URL yet",
        note = "reauthorizing an account needs both `.callback(..)` and `.account_id(..)`, in either order"
    )]
    ReauthorizeAccountHasCallback::into_account_callback for ConsentCallbackSet(String)
);
