//! Provider mode: a FHIR record to a provider account.

use reqwest::header::{HeaderName, HeaderValue};
use serde_json::Value;
use tracing::Instrument;

use super::outcome::{PushOutcome, run_push};
use super::standard::{FhirVersion, Record, Standard};
use super::state::{
    ProviderAccountIdMissing, ProviderAccountIdSet, ProviderDataMissing, ProviderDataSet,
    ProviderHasAccountId, ProviderHasData, ProviderHasStandard, ProviderHasVersion,
    ProviderStandardMissing, ProviderStandardSet, ProviderVersionMissing, ProviderVersionSet,
};
use super::{PushContext, PushFuture};
use crate::error::{Error, Result};
use crate::token::UserAccessToken;
use crate::transport::{Body, Call, CallKind};
use crate::validate;

/// A push to a provider account. The four markers of
/// [`state`](super::state) track `.standard(..)`, `.version(..)`,
/// `.account_id(..)` and `.data(..)`; `send()` needs all four.
///
/// ```no_run
/// # async fn run(sdk: digime::DigiMe, contract: digime::ContractDetails, token: digime::UserAccessToken) -> digime::Result<()> {
/// use digime::{FhirVersion, Standard};
/// let outcome = sdk
///     .push(&contract, &token)
///     .provider()
///     .data(serde_json::json!({ "resourceType": "Bundle", "type": "collection", "entry": [] }))
///     .account_id("account-id-from-read-accounts")
///     .version(FhirVersion::V3_0_2)
///     .standard(Standard::Fhir)
///     .send()
///     .await?;
/// # let _ = outcome; Ok(()) }
/// ```
#[must_use = "a push does nothing until `.send()` is awaited"]
#[derive(Debug)]
pub struct ProviderPush<
    S = ProviderStandardMissing,
    V = ProviderVersionMissing,
    A = ProviderAccountIdMissing,
    D = ProviderDataMissing,
> {
    ctx: PushContext,
    standard_state: S,
    version_state: V,
    account_id_state: A,
    data_state: D,
}

impl ProviderPush {
    pub(crate) fn new(ctx: PushContext) -> Self {
        Self {
            ctx,
            standard_state: ProviderStandardMissing,
            version_state: ProviderVersionMissing,
            account_id_state: ProviderAccountIdMissing,
            data_state: ProviderDataMissing,
        }
    }
}

impl<V, A, D> ProviderPush<ProviderStandardMissing, V, A, D> {
    /// The standard of the record: [`Standard::Fhir`].
    ///
    /// ```no_run
    /// # fn f(p: digime::push::ProviderPush) { let _ = p.standard(digime::Standard::Fhir); }
    /// ```
    pub fn standard(self, standard: Standard) -> ProviderPush<ProviderStandardSet, V, A, D> {
        ProviderPush {
            ctx: self.ctx,
            standard_state: ProviderStandardSet(standard),
            version_state: self.version_state,
            account_id_state: self.account_id_state,
            data_state: self.data_state,
        }
    }
}

impl<S, A, D> ProviderPush<S, ProviderVersionMissing, A, D> {
    /// The FHIR version: [`FhirVersion::Stu3`] or [`FhirVersion::V3_0_2`].
    ///
    /// ```no_run
    /// # fn f(p: digime::push::ProviderPush) { let _ = p.version(digime::FhirVersion::Stu3); }
    /// ```
    pub fn version(self, version: FhirVersion) -> ProviderPush<S, ProviderVersionSet, A, D> {
        ProviderPush {
            ctx: self.ctx,
            standard_state: self.standard_state,
            version_state: ProviderVersionSet(version),
            account_id_state: self.account_id_state,
            data_state: self.data_state,
        }
    }
}

impl<S, V, D> ProviderPush<S, V, ProviderAccountIdMissing, D> {
    /// The provider account to push to: an `id` from read accounts (match the
    /// callback's `accountReference` to an account's `reference`).
    ///
    /// ```no_run
    /// # fn f(p: digime::push::ProviderPush) { let _ = p.account_id("account-id"); }
    /// ```
    pub fn account_id(
        self,
        account_id: impl Into<String>,
    ) -> ProviderPush<S, V, ProviderAccountIdSet, D> {
        ProviderPush {
            ctx: self.ctx,
            standard_state: self.standard_state,
            version_state: self.version_state,
            account_id_state: ProviderAccountIdSet(account_id.into()),
            data_state: self.data_state,
        }
    }
}

impl<S, V, A> ProviderPush<S, V, A, ProviderDataMissing> {
    /// The record: a JSON object (a FHIR resource or bundle). Anything but
    /// an object is rejected by `send()` before it is sent.
    ///
    /// ```no_run
    /// # fn f(p: digime::push::ProviderPush) { let _ = p.data(serde_json::json!({"resourceType": "Patient"})); }
    /// ```
    pub fn data(self, data: Value) -> ProviderPush<S, V, A, ProviderDataSet> {
        ProviderPush {
            ctx: self.ctx,
            standard_state: self.standard_state,
            version_state: self.version_state,
            account_id_state: self.account_id_state,
            data_state: ProviderDataSet(Record(data)),
        }
    }
}

impl<S, V, A, D> ProviderPush<S, V, A, D> {
    /// Called once with the new token when the SDK refreshes it during this
    /// push.
    ///
    /// ```no_run
    /// # fn f(p: digime::push::ProviderPush) {
    /// let p = p.on_access_token_change(|token| { let _ = token; /* persist it */ });
    /// # let _ = p; }
    /// ```
    pub fn on_access_token_change(
        mut self,
        hook: impl FnMut(&UserAccessToken) + Send + 'static,
    ) -> Self {
        self.ctx.tokens.set_hook(Box::new(hook));
        self
    }

    /// Sends the record.
    ///
    /// Errors: [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// for an empty or non-ASCII `account_id`, or `data` that is not a JSON
    /// object; otherwise as for a library push.
    ///
    /// ```no_run
    /// # async fn run(sdk: digime::DigiMe, c: digime::ContractDetails, t: digime::UserAccessToken) -> digime::Result<()> {
    /// let outcome = sdk.push(&c, &t).provider()
    ///     .standard(digime::Standard::Fhir).version(digime::FhirVersion::Stu3)
    ///     .account_id("acc").data(serde_json::json!({"resourceType": "Bundle"}))
    ///     .send().await?;
    /// # let _ = outcome; Ok(()) }
    /// ```
    pub fn send(self) -> PushFuture
    where
        S: ProviderHasStandard,
        V: ProviderHasVersion,
        A: ProviderHasAccountId,
        D: ProviderHasData,
    {
        let standard = self.standard_state.into_standard();
        let version = self.version_state.into_version();
        let account_id = self.account_id_state.into_account_id();
        let data = self.data_state.into_data().0;
        let span = tracing::info_span!(
            "digime.push.provider",
            standard = standard.as_str(),
            version = version.as_str(),
        );
        Box::pin(send_provider(self.ctx, standard, version, account_id, data).instrument(span))
    }
}

async fn send_provider(
    ctx: PushContext,
    standard: Standard,
    version: FhirVersion,
    account_id: String,
    data: Value,
) -> Result<PushOutcome> {
    validate::header_value("account_id", &account_id)?;
    if !data.is_object() {
        return Err(Error::invalid_input(
            "data",
            format!(
                "must be a JSON object (a FHIR resource or bundle), not {}",
                json_kind(&data)
            ),
        ));
    }
    let body = serde_json::to_vec(&data).map_err(|e| Error::invalid_input("data", e))?;
    let account_header =
        HeaderValue::try_from(account_id).map_err(|e| Error::invalid_input("account_id", e))?;
    let path = format!(
        "permission-access/import/h:accountId/{}/{}",
        standard.as_str(),
        version.as_str()
    );
    let call = Call::post("permission-access/import/provider", &ctx.contract)
        .path(&path)
        .header(HeaderName::from_static("accountid"), account_header)
        .body(Body::Bytes {
            content_type: "application/json",
            bytes: body.into(),
        })
        .kind(CallKind::Push);
    run_push(&ctx.sdk, &ctx.contract, ctx.tokens, &call).await
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
