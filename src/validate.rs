//! Input checks shared by every entry point. Each names the field it checks.

use crate::error::{Error, Result};

/// A non-empty identifier without control characters (ids travel in JWT
/// claims and HTTP headers, where CR and LF are never legitimate).
pub(crate) fn identifier(field: &'static str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid_input(field, "must not be empty"));
    }
    no_control_chars(field, value)
}

/// Rejects CR, LF, NUL and every other control character.
pub(crate) fn no_control_chars(field: &'static str, value: &str) -> Result<()> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(Error::invalid_input(
            field,
            format!("contains the control character {:?}", c),
        ));
    }
    Ok(())
}

/// A value that goes into an HTTP header: printable ASCII only.
pub(crate) fn header_value(field: &'static str, value: &str) -> Result<()> {
    identifier(field, value)?;
    if !value.is_ascii() {
        return Err(Error::invalid_input(
            field,
            "must be ASCII: it is sent in an HTTP header",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_and_control_characters() {
        assert_eq!(identifier("x", "").unwrap_err().field(), Some("x"));
        assert_eq!(identifier("x", "  ").unwrap_err().field(), Some("x"));
        assert!(identifier("x", "a\r\nb").is_err());
        assert!(identifier("x", "a\0").is_err());
        assert!(identifier("x", "plain-id_1").is_ok());
        assert!(header_value("x", "é").is_err());
    }
}
