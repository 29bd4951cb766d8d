//! The guides: how to use the crate, task by task. They are the files in the
//! repository's `docs/` folder, included here so that they read on docs.rs
//! next to the API they describe.
//!
//! | guide | for |
//! | --- | --- |
//! | [`push_data`] | pushing a file into a user's library, and a FHIR record to a provider |
//! | [`authorization`] | the consent flow, what to store, and the flows after it: reauthorize, onboard, an account's reauthorization, revocation and deletion |
//! | [`reliability`] | retries, timeouts, faults, and what is never lost |
//! | [`performance`] | what a push costs, measured |
//! | [`web`] | a web app that streams browser uploads into the library (the `web_push` example) |
//! | `sandbox` (feature `sandbox`) | the local digi.me API for your tests: what it checks, its control API |
//! | [`scaling`] | tokens shared by concurrent calls, processes and hosts: one refresh per rotation, token stores, PostgreSQL |
//! | [`cli`] | the `digime` command-line tool (feature `cli`) |
//! | [`architecture`] | for contributors: the crate's layers, its rooms, and the check that keeps them |
//!
//! The guides' examples are compiled as doctests.

#[doc = include_str!("../docs/push-data.md")]
pub mod push_data {}

#[doc = include_str!("../docs/authorization.md")]
pub mod authorization {}

#[doc = include_str!("../docs/reliability.md")]
pub mod reliability {}

#[doc = include_str!("../docs/performance.md")]
pub mod performance {}

#[doc = include_str!("../docs/scaling.md")]
pub mod scaling {}

#[doc = include_str!("../docs/cli.md")]
pub mod cli {}

#[doc = include_str!("../docs/web.md")]
pub mod web {}

#[doc = include_str!("../docs/architecture.md")]
pub mod architecture {}

#[cfg(feature = "sandbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
#[doc = include_str!("../docs/sandbox.md")]
pub mod sandbox {}
