//! The type states of the push builders.
//!
//! Each marker is named for its builder and the field it guards:
//! `LibraryFileMissing` until [`LibraryPush::file`](super::LibraryPush::file)
//! is called, then `LibraryFileSet`; `ProviderAccountIdMissing` until
//! [`ProviderPush::account_id`](super::ProviderPush::account_id), then
//! `ProviderAccountIdSet`, and so on. `send()` requires the traits below
//! (`LibraryHasFile`, `LibraryHasDescriptor`, `ProviderHasStandard`, …),
//! which only the `…Set` markers implement. The traits are sealed: no other
//! crate can implement them, so no other state can exist.
//!
//! You rarely name these types. They show up in compiler messages, where the
//! traits' messages say what to call:
//!
//! ```compile_fail,E0277
//! # async fn run(sdk: digime::DigiMe, c: digime::ContractDetails, t: digime::UserAccessToken) {
//! // error[E0277]: the file descriptor is missing: call `.descriptor(..)` before `.send()`
//! sdk.push(&c, &t).library().file(b"x".to_vec(), "x.txt").send().await;
//! # }
//! ```

use super::standard::{FhirVersion, Record, Standard};
use crate::descriptor::FileDescriptor;
use crate::transport::FileData;

use crate::typestate::state_pair;

state_pair!(
    /// Library push: `.file(..)` has not been called.
    LibraryFileMissing,
    /// Library push: the file (data and name) is set.
    LibraryFileSet((FileData, String)),
    /// Proof that a library push has its file.
    #[diagnostic::on_unimplemented(
        message = "the file to push is missing: call `.file(data, file_name)` before `.send()`",
        label = "this library push has no file yet",
        note = "a library push needs both `.file(..)` and `.descriptor(..)`, in either order"
    )]
    LibraryHasFile::into_file
);
state_pair!(
    /// Library push: `.descriptor(..)` has not been called.
    LibraryDescriptorMissing,
    /// Library push: the file descriptor is set.
    LibraryDescriptorSet(FileDescriptor),
    /// Proof that a library push has its descriptor.
    #[diagnostic::on_unimplemented(
        message = "the file descriptor is missing: call `.descriptor(FileDescriptor::builder()…build())` before `.send()`",
        label = "this library push has no file descriptor yet",
        note = "a library push needs both `.file(..)` and `.descriptor(..)`, in either order"
    )]
    LibraryHasDescriptor::into_descriptor
);
state_pair!(
    /// Provider push: `.standard(..)` has not been called.
    ProviderStandardMissing,
    /// Provider push: the standard is set.
    ProviderStandardSet(Standard),
    /// Proof that a provider push has its standard.
    #[diagnostic::on_unimplemented(
        message = "the standard is missing: call `.standard(Standard::Fhir)` before `.send()`",
        label = "this provider push has no standard yet",
        note = "a provider push needs `.standard(..)`, `.version(..)`, `.account_id(..)` and `.data(..)`, in any order"
    )]
    ProviderHasStandard::into_standard
);
state_pair!(
    /// Provider push: `.version(..)` has not been called.
    ProviderVersionMissing,
    /// Provider push: the FHIR version is set.
    ProviderVersionSet(FhirVersion),
    /// Proof that a provider push has its FHIR version.
    #[diagnostic::on_unimplemented(
        message = "the FHIR version is missing: call `.version(FhirVersion::Stu3)` (or `FhirVersion::V3_0_2`) before `.send()`",
        label = "this provider push has no FHIR version yet",
        note = "a provider push needs `.standard(..)`, `.version(..)`, `.account_id(..)` and `.data(..)`, in any order"
    )]
    ProviderHasVersion::into_version
);
state_pair!(
    /// Provider push: `.account_id(..)` has not been called.
    ProviderAccountIdMissing,
    /// Provider push: the account id is set.
    ProviderAccountIdSet(String),
    /// Proof that a provider push has its account id.
    #[diagnostic::on_unimplemented(
        message = "the account id is missing: call `.account_id(id)` with an id from `read_accounts` before `.send()`",
        label = "this provider push has no account id yet",
        note = "a provider push needs `.standard(..)`, `.version(..)`, `.account_id(..)` and `.data(..)`, in any order"
    )]
    ProviderHasAccountId::into_account_id
);
state_pair!(
    /// Provider push: `.data(..)` has not been called.
    ProviderDataMissing,
    /// Provider push: the record is set. `Debug` shows its size only.
    ProviderDataSet(Record),
    /// Proof that a provider push has its data.
    #[diagnostic::on_unimplemented(
        message = "the record to push is missing: call `.data(json)` with a FHIR resource or bundle before `.send()`",
        label = "this provider push has no data yet",
        note = "a provider push needs `.standard(..)`, `.version(..)`, `.account_id(..)` and `.data(..)`, in any order"
    )]
    ProviderHasData::into_data
);
