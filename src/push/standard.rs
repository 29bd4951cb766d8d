//! What a provider push sends: the data standard, its version, and the record.

use std::fmt;

use serde_json::Value;

/// The data standard of a provider push. FHIR is the only one today.
///
/// ```
/// assert_eq!(digime::Standard::Fhir.as_str(), "fhir");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Standard {
    /// HL7 FHIR.
    Fhir,
}

impl Standard {
    /// The path segment: `fhir`.
    ///
    /// ```
    /// assert_eq!(digime::Standard::Fhir.to_string(), "fhir");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            Standard::Fhir => "fhir",
        }
    }
}

impl fmt::Display for Standard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The FHIR version of a provider push.
///
/// ```
/// assert_eq!(digime::FhirVersion::Stu3.as_str(), "stu3");
/// assert_eq!(digime::FhirVersion::V3_0_2.as_str(), "3.0.2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FhirVersion {
    /// `stu3`.
    Stu3,
    /// `3.0.2`.
    V3_0_2,
}

impl FhirVersion {
    /// The path segment: `stu3` or `3.0.2`.
    ///
    /// ```
    /// assert_eq!(digime::FhirVersion::V3_0_2.to_string(), "3.0.2");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            FhirVersion::Stu3 => "stu3",
            FhirVersion::V3_0_2 => "3.0.2",
        }
    }
}

impl fmt::Display for FhirVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider push's record, as [`ProviderDataSet`](super::state::ProviderDataSet) carries it: health
/// data, so `Debug` shows its size as JSON, never its content. Not
/// nameable outside the crate.
pub struct Record(pub(crate) Value);

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_vec(&self.0) {
            Ok(json) => write!(f, "Record({} bytes of JSON)", json.len()),
            Err(_) => f.write_str("Record(..)"),
        }
    }
}
