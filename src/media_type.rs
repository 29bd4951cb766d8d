//! The media-type grammar of RFC 9110 (section 8.3.1), for the MIME type of
//! a library push:
//!
//! ```text
//! media-type     = type "/" subtype parameters
//! type           = token
//! subtype        = token
//! parameters     = *( OWS ";" OWS [ parameter ] )
//! parameter      = parameter-name "=" parameter-value
//! parameter-name = token
//! parameter-value = ( token / quoted-string )
//! token          = 1*tchar
//! quoted-string  = DQUOTE *( qdtext / quoted-pair ) DQUOTE
//! qdtext         = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
//! quoted-pair    = "\" ( HTAB / SP / VCHAR / obs-text )
//! OWS            = *( SP / HTAB )
//! ```
//!
//! A small exact parser rather than the `mime` crate: `mime` 0.3 refuses
//! what the grammar allows (whitespace before `;`, a tab as OWS, quoted
//! pairs) and is no longer developed.

/// Checks `value` against the grammar; the error says what is wrong.
pub(crate) fn check(value: &str) -> Result<(), String> {
    let bytes = value.as_bytes();
    let mut at = 0;
    let kind = token(bytes, &mut at);
    if kind == 0 {
        return Err(expected("a type such as `application`", bytes, at));
    }
    if bytes.get(at) != Some(&b'/') {
        return Err(expected("`/` after the type", bytes, at));
    }
    at += 1;
    if token(bytes, &mut at) == 0 {
        return Err(expected("a subtype such as `pdf`", bytes, at));
    }
    // parameters = *( OWS ";" OWS [ parameter ] )
    loop {
        ows(bytes, &mut at);
        if at == bytes.len() {
            // Trailing OWS belongs to no `;`: RFC 9110 allows it only
            // before one.
            return if bytes.last().is_some_and(|b| is_ows(*b)) {
                Err("must not end with whitespace".to_owned())
            } else {
                Ok(())
            };
        }
        if bytes[at] != b';' {
            return Err(expected("`;` before a parameter", bytes, at));
        }
        at += 1;
        ows(bytes, &mut at);
        if at == bytes.len() || bytes[at] == b';' {
            continue; // an empty parameter
        }
        if token(bytes, &mut at) == 0 {
            return Err(expected("a parameter name", bytes, at));
        }
        if bytes.get(at) != Some(&b'=') {
            return Err(expected("`=` after the parameter name", bytes, at));
        }
        at += 1;
        if bytes.get(at) == Some(&b'"') {
            quoted_string(bytes, &mut at)?;
        } else if token(bytes, &mut at) == 0 {
            return Err(expected(
                "a parameter value (a token or a quoted string)",
                bytes,
                at,
            ));
        }
    }
}

/// `tchar` of RFC 9110 section 5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Consumes a token; returns its length (0: none).
fn token(bytes: &[u8], at: &mut usize) -> usize {
    let start = *at;
    while bytes.get(*at).copied().is_some_and(is_tchar) {
        *at += 1;
    }
    *at - start
}

fn ows(bytes: &[u8], at: &mut usize) {
    while bytes.get(*at).copied().is_some_and(is_ows) {
        *at += 1;
    }
}

/// Consumes a quoted string starting at its opening quote.
fn quoted_string(bytes: &[u8], at: &mut usize) -> Result<(), String> {
    *at += 1;
    loop {
        match bytes.get(*at).copied() {
            None => return Err("a quoted parameter value has no closing `\"`".to_owned()),
            Some(b'"') => {
                *at += 1;
                return Ok(());
            }
            Some(b'\\') => {
                // quoted-pair: HTAB / SP / VCHAR / obs-text
                match bytes.get(*at + 1).copied() {
                    Some(b) if b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80 => {
                        *at += 2;
                    }
                    _ => return Err(expected("a character after `\\`", bytes, *at + 1)),
                }
            }
            // qdtext: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            Some(b) if b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80 => *at += 1,
            Some(_) => return Err(expected("no control character", bytes, *at)),
        }
    }
}

/// "expected …, found …" at byte `at`, naming what was found without
/// quoting the rest of the value.
fn expected(what: &str, bytes: &[u8], at: usize) -> String {
    match bytes.get(at) {
        None => format!("expected {what} at the end"),
        Some(b) if b.is_ascii_graphic() => {
            format!("expected {what} at byte {at}, found `{}`", *b as char)
        }
        Some(b) => format!("expected {what} at byte {at}, found byte 0x{b:02x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_what_rfc_9110_allows() {
        for ok in [
            "application/pdf",
            "text/plain; charset=utf-8",
            "text/plain;charset=utf-8",
            "text/plain ;charset=utf-8",
            "text/plain\t;\tcharset=utf-8",
            "text/plain; charset=\"utf-8\"",
            "text/plain; charset=utf-8; format=flowed",
            "multipart/form-data; boundary=\"a b;c\"",
            "text/plain; note=\"a \\\"quoted\\\" word\"",
            "text/plain;",
            "text/plain; ;charset=utf-8",
            "application/vnd.api+json",
            "application/x-www-form-urlencoded",
            "*/*",
            "Text/HTML; Charset=UTF-8",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_what_it_does_not() {
        for bad in [
            "",
            "pdf",
            "/pdf",
            "application/",
            "text / plain",
            "text/plain charset=utf-8",
            "text/plain; charset = utf-8",
            "text/plain; charset=",
            "text/plain; charset",
            "text/plain; =utf-8",
            "text/plain; charset=\"utf-8",
            "text/plain; charset=utf 8",
            "text/plain; a=\"x\\\u{1}\"",
            "text/plain; a=\"x\u{7f}\"",
            "text/plain\r\n",
            "text/\nplain",
            "tëxt/plain",
            "text/plain ",
            " text/plain",
            "text/plain/x",
            "text/plain; charset=utf-8,text/html",
        ] {
            assert!(check(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn the_error_says_where() {
        let err = check("text/plain charset=utf-8").unwrap_err();
        assert!(err.contains("`;`") && err.contains("byte 11"), "{err}");
        let err = check("text/plain; charset=\"utf-8").unwrap_err();
        assert!(err.contains("closing"), "{err}");
    }
}
