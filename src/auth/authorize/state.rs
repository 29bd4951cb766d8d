//! The type states of the authorize builder.
//!
//! `CallbackMissing` until `.callback(..)` is called, then `CallbackSet`;
//! `StateMissing` until `.state(..)`, then `StateSet`. `send()` requires
//! [`HasCallback`] and [`HasState`], which only the `…Set` markers
//! implement. The traits are sealed: no other crate can implement them, so
//! no other state can exist.
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

use crate::typestate::state_pair;

state_pair!(
    /// Authorize: `.callback(..)` has not been called.
    CallbackMissing,
    /// Authorize: the callback URL is set.
    CallbackSet(String),
    /// Proof that an authorize call has its callback URL.
    #[diagnostic::on_unimplemented(
        message = "the callback URL is missing: call `.callback(\"https://your.app/callback\")` before `.send()`",
        label = "this authorize call has no callback URL yet",
        note = "an authorize call needs both `.callback(..)` and `.state(..)`, in either order"
    )]
    HasCallback::into_callback
);
state_pair!(
    /// Authorize: `.state(..)` has not been called.
    StateMissing,
    /// Authorize: the state is set.
    StateSet(String),
    /// Proof that an authorize call has its state.
    #[diagnostic::on_unimplemented(
        message = "the state is missing: call `.state(..)` with a value you can check on the callback before `.send()`",
        label = "this authorize call has no state yet",
        note = "an authorize call needs both `.callback(..)` and `.state(..)`, in either order"
    )]
    HasState::into_state
);
