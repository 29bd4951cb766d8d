//! The optional settings of an authorization: which sources the consent
//! page offers, the read session's scope and limits, sample data.

use serde::{Deserialize, Serialize};

/// Which services the consent page offers.
///
/// ```
/// assert_eq!(digime::SourceType::Push.as_str(), "push");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SourceType {
    /// Services digi.me reads from (the default).
    #[default]
    Pull,
    /// Only services that accept provider pushes (such as MedMij).
    Push,
}

impl SourceType {
    /// `pull` or `push`, as in the onboard URL.
    ///
    /// ```
    /// assert_eq!(digime::SourceType::Pull.as_str(), "pull");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            SourceType::Pull => "pull",
            SourceType::Push => "push",
        }
    }
}

/// Options of the read ("pull") session opened with the authorization: the
/// scope and the limits, passed to digi.me as they are.
///
/// ```
/// let options = digime::auth::PullSessionOptions::new()
///     .scope(serde_json::json!({ "timeRanges": [{ "last": "7d" }] }))
///     .limits(serde_json::json!({ "duration": { "sourceFetch": 60 } }));
/// assert!(options.scope.is_some() && options.limits.is_some());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PullSessionOptions {
    /// The scope (`CAScope` in digi.me's documentation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<serde_json::Value>,
    /// The limits, such as `{"duration":{"sourceFetch":60}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<serde_json::Value>,
}

impl PullSessionOptions {
    /// No scope and no limits: digi.me's defaults.
    ///
    /// ```
    /// assert_eq!(digime::auth::PullSessionOptions::new(), Default::default());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the scope (`CAScope`), such as `{"timeRanges":[{"last":"7d"}]}`.
    ///
    /// ```
    /// let o = digime::auth::PullSessionOptions::new().scope(serde_json::json!({}));
    /// assert_eq!(o.scope, Some(serde_json::json!({})));
    /// ```
    pub fn scope(mut self, scope: serde_json::Value) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Sets the limits, such as `{"duration":{"sourceFetch":60}}`.
    ///
    /// ```
    /// let o = digime::auth::PullSessionOptions::new().limits(serde_json::json!({"duration":{"sourceFetch":60}}));
    /// assert!(o.limits.is_some());
    /// ```
    pub fn limits(mut self, limits: serde_json::Value) -> Self {
        self.limits = Some(limits);
        self
    }
}

/// Sample-data options for testing the consent page with digi.me's sample
/// sources.
///
/// ```
/// let sample = digime::auth::SampleDataOptions::new().data_set("default").auto_onboard(true);
/// assert_eq!(sample.data_set.as_deref(), Some("default"));
/// assert!(sample.auto_onboard);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SampleDataOptions {
    /// The sample data set to offer (`sampleDataSet`).
    pub data_set: Option<String>,
    /// Onboard the sample source without asking (`sampleDataAutoOnboard`).
    pub auto_onboard: bool,
}

impl SampleDataOptions {
    /// No data set named, and the user is asked before onboarding.
    ///
    /// ```
    /// assert!(!digime::auth::SampleDataOptions::new().auto_onboard);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The sample data set to offer (`sampleDataSet`).
    ///
    /// ```
    /// let o = digime::auth::SampleDataOptions::new().data_set("default");
    /// assert_eq!(o.data_set.as_deref(), Some("default"));
    /// ```
    pub fn data_set(mut self, data_set: impl Into<String>) -> Self {
        self.data_set = Some(data_set.into());
        self
    }

    /// Onboard the sample source without asking (`sampleDataAutoOnboard`).
    ///
    /// ```
    /// assert!(digime::auth::SampleDataOptions::new().auto_onboard(true).auto_onboard);
    /// ```
    pub fn auto_onboard(mut self, auto_onboard: bool) -> Self {
        self.auto_onboard = auto_onboard;
        self
    }
}
