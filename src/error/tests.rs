use super::*;

fn assert_traits<T: std::error::Error + Send + Sync + 'static>() {}

#[test]
fn error_is_send_sync_static() {
    assert_traits::<Error>();
}

#[test]
fn server_error_display_keeps_every_part() {
    let err = Error::from_server(ServerError::new(
        403,
        Some("InsufficientScope".into()),
        Some("read contract".into()),
        Some("ref-1".into()),
    ));
    let text = err.to_string();
    assert!(text.contains("403"), "{text}");
    assert!(text.contains("InsufficientScope"), "{text}");
    assert!(text.contains("read contract"), "{text}");
    assert!(text.contains("ref-1"), "{text}");
    assert_eq!(err.code(), Some("InsufficientScope"));
    assert_eq!(err.status(), Some(403));
}

#[test]
fn reauthorization_required_says_what_was_rejected_and_no_more() {
    let err = Error::reauthorization_required(ServerError::new(
        401,
        Some("InvalidToken".into()),
        None,
        None,
    ));
    let text = err.to_string();
    assert_eq!(
        text,
        "the refresh token was rejected (HTTP 401 InvalidToken)"
    );
    // A fact, not advice: `ErrorKind::ReauthorizationRequired` names the flow.
}

#[test]
fn a_push_of_unknown_fate_and_a_refresh_that_may_have_happened_say_so_in_one_clause() {
    let server = || ServerError::new(502, Some("BadGateway".into()), None, None);
    let push = Error::from_server(server()).mark_may_have_been_stored(false);
    assert_eq!(
        push.to_string(),
        "digi.me returned HTTP 502 BadGateway: the push may have been stored"
    );
    let twice = Error::from_server(server())
        .mark_may_have_been_stored(true)
        .mark_may_have_been_stored(true);
    assert_eq!(
        twice.to_string(),
        "digi.me returned HTTP 502 BadGateway: the push may have been stored, even more than once"
    );
    let code = Error::from_server(server()).mark_code_exchange_may_have_happened();
    assert_eq!(
        code.to_string(),
        "digi.me returned HTTP 502 BadGateway: the code exchange may have happened"
    );
}

#[test]
fn sdk_invalid_and_version_invalid_are_distinct() {
    let a = Error::from_server(ServerError::new(400, Some("SDKInvalid".into()), None, None));
    let b = Error::from_server(ServerError::new(
        400,
        Some("SDKVersionInvalid".into()),
        None,
        None,
    ));
    assert!(a.is_sdk_invalid() && !a.is_sdk_version_invalid());
    assert!(b.is_sdk_version_invalid() && !b.is_sdk_invalid());
}
