//! The optional settings of the consent flows: which sources the consent
//! page offers, the read session's scope and limits, sample data; the query
//! they become on the consent page's URL; and the setters the builders
//! share.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use url::UrlQuery;
use url::form_urlencoded::Serializer;

/// Which services the consent page offers.
///
/// ```
/// assert_eq!(digime::consent::SourceType::Push.as_str(), "push");
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
    /// assert_eq!(digime::consent::SourceType::Pull.as_str(), "pull");
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
/// let options = digime::consent::PullSessionOptions::new()
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
    /// assert_eq!(digime::consent::PullSessionOptions::new(), Default::default());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the scope (`CAScope`), such as `{"timeRanges":[{"last":"7d"}]}`.
    ///
    /// ```
    /// let o = digime::consent::PullSessionOptions::new().scope(serde_json::json!({}));
    /// assert_eq!(o.scope, Some(serde_json::json!({})));
    /// ```
    pub fn scope(mut self, scope: serde_json::Value) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Sets the limits, such as `{"duration":{"sourceFetch":60}}`.
    ///
    /// ```
    /// let o = digime::consent::PullSessionOptions::new().limits(serde_json::json!({"duration":{"sourceFetch":60}}));
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
/// let sample = digime::consent::SampleDataOptions::new().data_set("default").auto_onboard(true);
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
    /// assert!(!digime::consent::SampleDataOptions::new().auto_onboard);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The sample data set to offer (`sampleDataSet`).
    ///
    /// ```
    /// let o = digime::consent::SampleDataOptions::new().data_set("default");
    /// assert_eq!(o.data_set.as_deref(), Some("default"));
    /// ```
    pub fn data_set(mut self, data_set: impl Into<String>) -> Self {
        self.data_set = Some(data_set.into());
        self
    }

    /// Onboard the sample source without asking (`sampleDataAutoOnboard`).
    ///
    /// ```
    /// assert!(digime::consent::SampleDataOptions::new().auto_onboard(true).auto_onboard);
    /// ```
    pub fn auto_onboard(mut self, auto_onboard: bool) -> Self {
        self.auto_onboard = auto_onboard;
        self
    }
}

/// Which sources the consent page offers, by data type and organization
/// type (`sourcesScope`).
///
/// Its JSON form is `{"dataType": [...], "organizationType": "..."}` (each
/// part left out when unset). On the consent page's URL it is encoded as the
/// official SDK encodes it: `encodeURIComponent(JSON.stringify(scope))` as the
/// value of the `sourcesScope` query parameter, so the JSON is
/// percent-encoded twice on the wire.
///
/// ```
/// use digime::consent::SourcesScope;
/// let scope = SourcesScope::new().data_types(["medical"]).organization_type("hospital");
/// assert_eq!(
///     serde_json::to_string(&scope).unwrap(),
///     r#"{"dataType":["medical"],"organizationType":"hospital"}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourcesScope {
    /// The data types the offered sources hold (`dataType`).
    #[serde(rename = "dataType", default, skip_serializing_if = "Vec::is_empty")]
    pub data_types: Vec<String>,
    /// The type of organization behind the offered sources
    /// (`organizationType`).
    #[serde(
        rename = "organizationType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub organization_type: Option<String>,
}

/// What `encodeURIComponent` leaves as it is: ASCII letters and digits and
/// `- _ . ! ~ * ' ( )`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

impl SourcesScope {
    /// No data type and no organization type: every source.
    ///
    /// ```
    /// assert_eq!(digime::consent::SourcesScope::new(), Default::default());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Offers only sources that hold these data types (`dataType`).
    ///
    /// ```
    /// let scope = digime::consent::SourcesScope::new().data_types(["medical", "fitness"]);
    /// assert_eq!(scope.data_types, ["medical", "fitness"]);
    /// ```
    pub fn data_types<I, S>(mut self, data_types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.data_types = data_types.into_iter().map(Into::into).collect();
        self
    }

    /// Offers only sources of this type of organization
    /// (`organizationType`).
    ///
    /// ```
    /// let scope = digime::consent::SourcesScope::new().organization_type("hospital");
    /// assert_eq!(scope.organization_type.as_deref(), Some("hospital"));
    /// ```
    pub fn organization_type(mut self, organization_type: impl Into<String>) -> Self {
        self.organization_type = Some(organization_type.into());
        self
    }

    /// `encodeURIComponent(JSON.stringify(scope))`: the value the query
    /// serializer then encodes once more.
    pub(crate) fn to_query_value(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned());
        utf8_percent_encode(&json, URI_COMPONENT).to_string()
    }
}

/// The consent page's optional query parameters, and the read session's
/// options sent with the call before it. Shared by authorize and onboard;
/// reauthorize and reauthorize one account use the parts their pages take.
#[derive(Debug, Default)]
pub(crate) struct PageOptions {
    pub(crate) source_type: SourceType,
    pub(crate) service_id: Option<u64>,
    pub(crate) locale: Option<String>,
    pub(crate) pull: Option<PullSessionOptions>,
    pub(crate) sample_data: Option<SampleDataOptions>,
    pub(crate) trigger_query: Option<bool>,
    pub(crate) sources_scope: Option<SourcesScope>,
    pub(crate) include_sample_data_only_sources: Option<bool>,
}

impl PageOptions {
    /// The query of the authorize and onboard pages after `code`:
    /// `sourceType`, then the optional parameters that are set.
    pub(crate) fn append_source_query(&self, q: &mut Serializer<'_, UrlQuery<'_>>) {
        q.append_pair("sourceType", self.source_type.as_str());
        if let Some(service) = self.service_id {
            q.append_pair("service", &service.to_string());
        }
        self.append_locale(q);
        if let Some(sample) = &self.sample_data {
            if let Some(set) = &sample.data_set {
                q.append_pair("sampleDataSet", set);
            }
            if sample.auto_onboard {
                q.append_pair("sampleDataAutoOnboard", "true");
            }
        }
        self.append_trigger_query(q);
        if let Some(scope) = &self.sources_scope {
            q.append_pair("sourcesScope", &scope.to_query_value());
        }
        if let Some(include) = self.include_sample_data_only_sources {
            q.append_pair("includeSampleDataOnlySources", bool_str(include));
        }
    }

    /// `lng`, when set.
    pub(crate) fn append_locale(&self, q: &mut Serializer<'_, UrlQuery<'_>>) {
        if let Some(locale) = &self.locale {
            q.append_pair("lng", locale);
        }
    }

    /// `triggerQuery`, when set.
    pub(crate) fn append_trigger_query(&self, q: &mut Serializer<'_, UrlQuery<'_>>) {
        if let Some(trigger) = self.trigger_query {
            q.append_pair("triggerQuery", bool_str(trigger));
        }
    }
}

fn bool_str(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// The setters of the consent pages' optional settings, one definition for
/// every builder that takes them. `$builder` names the builder in the doc
/// examples; each builder has an `options: PageOptions` field.
macro_rules! page_option_setters {
    ($builder:literal: $($name:ident),+ $(,)?) => {
        $( $crate::consent::options::page_option_setters!(@one $builder $name); )+
    };
    (@one $builder:literal source_type) => {
        /// Which services the consent page lists (default
        /// [`SourceType::Pull`](crate::consent::SourceType::Pull); `Push` lists only
        /// services that accept provider pushes).
        ///
        #[doc = concat!("```no_run\n# fn f(b: ", $builder, ") { let _ = b.source_type(digime::consent::SourceType::Push); }\n```")]
        pub fn source_type(mut self, source_type: $crate::consent::SourceType) -> Self {
            self.options.source_type = source_type;
            self
        }
    };
    (@one $builder:literal service_id) => {
        /// Go straight to one service (`service=<id>`).
        ///
        #[doc = concat!("```no_run\n# fn f(b: ", $builder, ") { let _ = b.service_id(420); }\n```")]
        pub fn service_id(mut self, service_id: u64) -> Self {
            self.options.service_id = Some(service_id);
            self
        }
    };
    (@one $builder:literal locale) => {
        /// The consent page's language (`lng=<locale>`), such as `nl`.
        ///
        #[doc = concat!("```no_run\n# fn f(b: ", $builder, ") { let _ = b.locale(\"nl\"); }\n```")]
        pub fn locale(mut self, locale: impl Into<String>) -> Self {
            self.options.locale = Some(locale.into());
            self
        }
    };
    (@one $builder:literal pull_session) => {
        /// Options for the read session (scope and limits), sent as the
        /// body's `actions`. Without them, `actions` is left out.
        ///
        #[doc = concat!("```no_run\n# fn f(b: ", $builder, ") { let _ = b.pull_session(Default::default()); }\n```")]
        pub fn pull_session(mut self, options: $crate::consent::PullSessionOptions) -> Self {
            self.options.pull = Some(options);
            self
        }
    };
    (@one $builder:literal sample_data) => {
        /// Offer digi.me's sample data.
        ///
        #[doc = concat!("```no_run\n# fn f(b: ", $builder, ") { let _ = b.sample_data(Default::default()); }\n```")]
        pub fn sample_data(mut self, options: $crate::consent::SampleDataOptions) -> Self {
            self.options.sample_data = Some(options);
            self
        }
    };
    (@one $builder:literal trigger_query) => {
        /// Passed to the consent page as `triggerQuery`: whether digi.me
        /// fetches the new source's data right away.
        ///
        #[doc = concat!("```no_run\n# fn f(b: ", $builder, ") { let _ = b.trigger_query(true); }\n```")]
        pub fn trigger_query(mut self, trigger: bool) -> Self {
            self.options.trigger_query = Some(trigger);
            self
        }
    };
    (@one $builder:literal sources_scope) => {
        /// Which sources the consent page offers, by data type and
        /// organization type (`sourcesScope`). See
        /// [`SourcesScope`](crate::consent::SourcesScope).
        ///
        #[doc = concat!("```no_run\n# fn f(b: ", $builder, ") { let _ = b.sources_scope(digime::consent::SourcesScope::new().data_types([\"medical\"])); }\n```")]
        pub fn sources_scope(mut self, scope: $crate::consent::SourcesScope) -> Self {
            self.options.sources_scope = Some(scope);
            self
        }
    };
    (@one $builder:literal include_sample_data_only_sources) => {
        /// Passed to the consent page as `includeSampleDataOnlySources`.
        ///
        #[doc = concat!("```no_run\n# fn f(b: ", $builder, ") { let _ = b.include_sample_data_only_sources(true); }\n```")]
        pub fn include_sample_data_only_sources(mut self, include: bool) -> Self {
            self.options.include_sample_data_only_sources = Some(include);
            self
        }
    };
}
pub(crate) use page_option_setters;

#[cfg(test)]
mod tests {
    use super::*;

    /// The query the official SDK builds, computed with Node:
    /// `new URLSearchParams({sourcesScope: encodeURIComponent(JSON.stringify(
    /// {dataType: ["medical", "a b/c"], organizationType: "hospital (1)"}))}).toString()`.
    const FROM_NODE: &str = "sourcesScope=%257B%2522dataType%2522%253A%255B%2522medical%2522%252C%2522a%2520b%252Fc%2522%255D%252C%2522organizationType%2522%253A%2522hospital%2520%281%29%2522%257D";

    #[test]
    fn sources_scope_is_encoded_as_the_official_sdk_encodes_it() {
        let scope = SourcesScope::new()
            .data_types(["medical", "a b/c"])
            .organization_type("hospital (1)");
        let mut url = url::Url::parse("https://x.example/onboard").unwrap();
        url.query_pairs_mut()
            .append_pair("sourcesScope", &scope.to_query_value());
        assert_eq!(url.query(), Some(FROM_NODE));
    }

    #[test]
    fn an_empty_scope_is_an_empty_object() {
        assert_eq!(SourcesScope::new().to_query_value(), "%7B%7D");
    }
}
