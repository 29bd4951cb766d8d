//! The web_push example's bad input and error pages, driven like a browser:
//! each gets a clear page naming the problem, and nothing is stored.

use crate::browser;

use browser::{Browser, file_part};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

fn imports(browser: &Browser) -> usize {
    browser
        .sandbox()
        .requests()
        .iter()
        .filter(|r| r.path == "permission-access/import")
        .count()
}

#[tokio::test]
async fn a_browser_that_has_not_connected_is_sent_to_connect() {
    let browser = Browser::start(1 << 20).await;
    for path in ["/upload", "/provider", "/library"] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            page.html
                .contains(r#"<a href="/connect">Connect digi.me</a>"#)
        );
    }
    let page = browser
        .upload(&[], file_part("a.txt", b"data".to_vec()))
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert_eq!(imports(&browser), 0);
    browser.shutdown().await;
}

#[tokio::test]
async fn an_empty_or_missing_file_is_refused_and_nothing_is_sent() {
    let browser = Browser::start(1 << 20).await;
    browser.connect().await;

    let page = browser
        .upload(&[], file_part("empty.txt", Vec::new()))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        page.text_of("error").as_deref(),
        Some("file : empty.txt is empty: there is nothing to push")
    );

    // What a browser sends when no file was chosen.
    let page = browser.upload(&[], file_part("", Vec::new())).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        page.text_of("error").as_deref(),
        Some("file : no file was chosen")
    );

    let page = browser
        .post_multipart(Form::new().text("mime_type", "text/plain"))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.text_of("error")
            .unwrap()
            .starts_with("file : the form has no file")
    );

    let page = browser
        .upload(
            &[("tags", &"t,".repeat(3000))],
            file_part("a.txt", b"a".to_vec()),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.text_of("error")
            .unwrap()
            .starts_with("tags : longer than")
    );

    let page = browser
        .upload(
            &[("mime_type", "not a mime type")],
            file_part("a.txt", b"a".to_vec()),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(
        page.text_of("error").unwrap().contains("mime_type"),
        "{}",
        page.html
    );

    assert_eq!(imports(&browser), 0, "nothing reached digi.me");
    browser.shutdown().await;
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_and_nothing_is_stored() {
    let limit = 10_000;
    let browser = Browser::start(limit).await;
    let user = browser.connect().await;

    // Far over: refused from its Content-Length, before reading it.
    let page = browser
        .upload(&[], file_part("big.bin", vec![1u8; 200_000]))
        .await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        page.text_of("error").as_deref(),
        Some("file : larger than this app's limit of 10000 bytes.")
    );
    assert!(page.html.contains("Nothing was sent to digi.me."));
    assert_eq!(imports(&browser), 0);

    // Just over: found while reading the file. The page tells which of the
    // two happened, and it matches what reached digi.me.
    let page = browser
        .upload(&[], file_part("big.bin", vec![1u8; limit as usize + 1]))
        .await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", page.html);
    assert!(
        page.text_of("error")
            .unwrap()
            .contains("limit of 10000 bytes")
    );
    assert_consistent(&page.html, &browser, 0);

    // No Content-Length at all (a chunked request), the excess arriving
    // later: found while streaming, the push is cut before its end.
    let chunks = futures_util::stream::unfold(0, |i| async move {
        if i == 5 {
            return None;
        }
        if i > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        Some((
            Ok::<_, std::io::Error>(bytes::Bytes::from(vec![2u8; 4000])),
            i + 1,
        ))
    });
    let part = Part::stream(reqwest::Body::wrap_stream(chunks)).file_name("stream.bin");
    let before = imports(&browser);
    let page = browser.upload(&[], part).await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", page.html);
    assert!(
        page.text_of("error")
            .unwrap()
            .contains("limit of 10000 bytes")
    );
    assert_consistent(&page.html, &browser, before);

    assert!(
        browser.sandbox().library(&user).is_empty(),
        "nothing over the limit is stored"
    );
    // Exactly at the limit is fine.
    let page = browser
        .upload(&[], file_part("ok.bin", vec![3u8; limit as usize]))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert_eq!(browser.sandbox().library(&user).len(), 1);
    browser.shutdown().await;
}

/// The page says "nothing was sent" exactly when no push left after
/// `before` imports; otherwise it says the upload was cut.
fn assert_consistent(html: &str, browser: &Browser, before: usize) {
    let sent = imports(browser) - before;
    if html.contains("Nothing was sent to digi.me.") {
        assert_eq!(sent, 0, "{html}");
    } else {
        assert!(
            html.contains("The upload was stopped before its end"),
            "{html}"
        );
        assert_eq!(sent, 1, "{html}");
    }
}

#[tokio::test]
async fn bad_fhir_input_is_refused_and_a_refused_push_shows_digime_s_words() {
    let browser = Browser::start(1 << 20).await;
    let user = browser.connect().await;
    let account = browser.accounts().await.remove(0);

    let page = browser
        .provider(&[("fhir", r#"{"resourceType":"Bundle"}"#)])
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        page.text_of("error").as_deref(),
        Some("account_id : choose the account to push to")
    );
    let page = browser
        .provider(&[
            ("account_id", &account),
            ("fhir", r#"[{"resourceType":"Bundle"}]"#),
        ])
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        page.text_of("error").as_deref(),
        Some("fhir : a FHIR bundle is a JSON object, not an array")
    );
    let page = browser
        .provider(&[("account_id", &account), ("fhir", "{not json")])
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.text_of("error")
            .unwrap()
            .starts_with("fhir : not JSON")
    );
    assert!(browser.sandbox().provider_pushes(&user).is_empty());

    // digi.me refuses an account that is not the user's: its code, message
    // and reference are on the page.
    let page = browser
        .provider(&[
            ("account_id", "acc-not-mine"),
            ("fhir", r#"{"resourceType":"Bundle"}"#),
        ])
        .await;
    assert_eq!(page.status, StatusCode::BAD_GATEWAY);
    let details = page.text_of("digime-error").expect("digi.me's answer");
    assert!(details.contains("HTTP status 406"), "{details}");
    assert!(details.contains("code ValidationErrors"), "{details}");
    assert!(
        details.contains("accountId: `acc-not-mine` is not one of the user's accounts"),
        "{details}"
    );
    assert!(details.contains("reference sbx-"), "{details}");
    assert!(browser.sandbox().provider_pushes(&user).is_empty());
    browser.shutdown().await;
}

#[tokio::test]
async fn a_spent_consent_goes_through_the_reauthorize_flow_and_keeps_the_library() {
    let browser = Browser::start(1 << 20).await;
    let user = browser.connect().await;
    let page = browser
        .upload(&[], file_part("before.txt", b"before".to_vec()))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    browser.sandbox().expire_access_token(&user);
    browser.sandbox().expire_refresh_token(&user);

    let page = browser
        .upload(&[], file_part("a.txt", b"data".to_vec()))
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.html);
    assert!(
        page.html
            .contains(r#"<a href="/reauthorize">Authorize again</a>"#)
    );
    assert!(page.text_of("digime-error").is_some(), "digi.me's answer");
    assert_eq!(
        browser.sandbox().library(&user).len(),
        1,
        "nothing more stored"
    );

    let page = browser.get("/reauthorize").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text_of("reauthorize").is_some());
    assert!(page.html.contains(r#"<a href="/reauthorize/start">"#));
    // digi.me's reauthorize page consents, and the callback leads back.
    let page = browser.get("/reauthorize/start").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert_eq!(page.path, "/upload");
    assert!(
        browser
            .sandbox()
            .requests()
            .iter()
            .any(|r| r.path.contains("user-reauth")),
        "the reauthorize flow, not a new authorization"
    );

    let page = browser
        .upload(&[], file_part("after.txt", b"after".to_vec()))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let library = browser.sandbox().library(&user);
    assert_eq!(library.len(), 2, "the same user, the same library");
    assert_eq!(library[1].sha256, browser::sha256_hex(b"after"));
    browser.shutdown().await;
}

#[tokio::test]
async fn a_token_refused_mid_upload_is_refreshed_and_the_user_asked_to_push_again() {
    let browser = Browser::start(1 << 20).await;
    let user = browser.connect().await;
    // digi.me ends the token early: the SDK cannot know in advance.
    browser.sandbox().expire_access_token(&user);
    let page = browser
        .upload(&[], file_part("a.txt", vec![5u8; 300_000]))
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.html);
    assert!(page.html.contains("Nothing was stored."));
    assert!(browser.sandbox().library(&user).is_empty());
    // The refreshed token was kept: the same upload now goes through.
    let page = browser
        .upload(&[], file_part("a.txt", vec![5u8; 300_000]))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert_eq!(browser.sandbox().library(&user).len(), 1);
    assert_eq!(browser.sandbox().refresh_count(), 1);
    browser.shutdown().await;
}

#[tokio::test]
async fn a_callback_not_started_in_this_browser_exchanges_nothing() {
    let browser = Browser::start(1 << 20).await;
    browser.connect().await;
    let tokens_before = browser
        .sandbox()
        .requests()
        .iter()
        .filter(|r| r.path == "oauth/token")
        .count();
    // Another browser, no session.
    let stranger = Browser::new_client();
    let page = stranger
        .get(format!(
            "{}callback?success=true&code=c-1&state=s-1",
            browser.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    // This browser, but its authorization was used already.
    let page = browser
        .get("/callback?success=true&code=c-1&state=s-1")
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("not for this browser"));
    let tokens_after = browser
        .sandbox()
        .requests()
        .iter()
        .filter(|r| r.path == "oauth/token")
        .count();
    assert_eq!(tokens_before, tokens_after, "no code was exchanged");
    browser.shutdown().await;
}

#[tokio::test]
async fn a_file_name_is_shown_as_text_never_as_html() {
    let browser = Browser::start(1 << 20).await;
    browser.connect().await;
    let page = browser
        .upload(
            &[],
            file_part("<img src=x onerror=alert(1)>.txt", b"x".to_vec()),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(!page.html.contains("<img"), "{}", page.html);
    assert!(page.html.contains("&lt;img src=x onerror=alert(1)&gt;.txt"));
    browser.shutdown().await;
}
