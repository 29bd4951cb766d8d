//! The web_push example driven like a browser: connect, consent, upload a
//! file, push a FHIR bundle, see both in the library; then a 256 MiB upload
//! through the same form, with this process's peak memory measured around
//! it. One test in its own binary, so that nothing else runs in the process
//! while its memory is measured.

use crate::browser;
use crate::support;

use std::sync::{Arc, Mutex};

use browser::{Browser, file_part, sha256_hex};
use bytes::Bytes;
use reqwest::StatusCode;
use sha2::Digest;

const MIB: u64 = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_connects_uploads_pushes_fhir_and_streams_256_mib_in_bounded_memory() {
    // The process's peak memory is measured: nothing else may run in it.
    if !support::own_process(
        module_path!(),
        "a_browser_connects_uploads_pushes_fhir_and_streams_256_mib_in_bounded_memory",
    ) {
        return;
    }
    let browser = Browser::start(app_max_upload()).await;
    let user = browser.connect().await;

    // The upload form, as fixed by the issue.
    let form = browser.get("/upload").await;
    for needle in [
        r#"enctype="multipart/form-data""#,
        r#"action="/upload""#,
        r#"name="file""#,
        r#"name="mime_type""#,
        r#"name="tags""#,
        r#"name="reference""#,
        r#"<button type="submit">Push</button>"#,
    ] {
        assert!(form.html.contains(needle), "{needle} in {}", form.html);
    }

    // A small file, MIME type guessed, tags and a reference.
    let pdf: Vec<u8> = b"%PDF-1.7\n"
        .iter()
        .copied()
        .chain((0..70_000u32).map(|i| (i % 253) as u8))
        .collect();
    let page = browser
        .upload(
            &[
                ("mime_type", ""),
                ("tags", "lab, 2024"),
                ("reference", "order-7"),
            ],
            file_part("lab report.pdf", pdf.clone()),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let result = page.text_of("result").expect("a result element");
    assert!(result.contains("lab report.pdf"), "{result}");
    assert_eq!(page.text_of("result-size").as_deref(), Some("70009"));
    assert_eq!(page.text_of("result-sha256"), Some(sha256_hex(&pdf)));
    assert_eq!(
        page.text_of("result-mime-type").as_deref(),
        Some("application/pdf")
    );

    // A FHIR bundle to the onboarded account.
    let accounts = browser.accounts().await;
    assert_eq!(accounts.len(), 1, "the account onboarded on consent");
    let provider_form = browser.get("/provider").await;
    assert!(provider_form.html.contains(r#"<select name="account_id">"#));
    assert!(provider_form.html.contains(r#"<textarea name="fhir""#));
    assert!(
        provider_form
            .html
            .contains(r#"<button type="submit">Push</button>"#)
    );
    let bundle = serde_json::json!({
        "resourceType": "Bundle", "type": "collection",
        "entry": [{ "resource": { "resourceType": "Observation", "status": "final",
            "code": { "text": "Haemoglobin" } } }]
    });
    let page = browser
        .provider(&[
            ("account_id", &accounts[0]),
            ("fhir", &serde_json::to_string_pretty(&bundle).unwrap()),
        ])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let bundle_sha = sha256_hex(&serde_json::to_vec(&bundle).unwrap());
    assert!(page.text_of("result").is_some(), "{}", page.html);
    assert_eq!(page.text_of("result-sha256"), Some(bundle_sha.clone()));

    // Both in the library page, and in the sandbox itself.
    let library = browser.get("/library").await;
    let files = library.text_of("library").expect("the library table");
    assert!(files.contains(&sha256_hex(&pdf)), "{files}");
    assert!(
        files.contains("lab report.pdf application/pdf 70009"),
        "{files}"
    );
    let records = library.text_of("provider").expect("the provider table");
    assert!(records.contains(&bundle_sha), "{records}");
    let stored = browser.sandbox().library(&user);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].sha256, sha256_hex(&pdf));
    assert_eq!(stored[0].size, pdf.len() as u64);
    assert_eq!(stored[0].mime_type, "application/pdf");
    assert_eq!(
        stored[0].descriptor["tags"],
        serde_json::json!(["lab", "2024"])
    );
    assert_eq!(
        stored[0].descriptor["reference"],
        serde_json::json!(["order-7"])
    );
    let records = browser.sandbox().provider_pushes(&user);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].account_id, accounts[0]);
    assert_eq!(records[0].sha256, bundle_sha);
    assert_eq!(records[0].body, bundle);

    // The app pushed the upload chunked, as it came.
    let import = browser
        .sandbox()
        .requests()
        .into_iter()
        .find(|r| r.path == "permission-access/import")
        .expect("the library push");
    assert!(
        import.headers.iter().any(|h| h == "transfer-encoding"),
        "{:?}",
        import.headers
    );

    // 256 MiB through the same form, generated as it is sent.
    let size = 256 * MIB;
    let (part, digest) = generated_file(size);
    let baseline = memory::reset_peak();
    let page = browser
        .upload(&[("mime_type", "application/octet-stream")], part)
        .await;
    let peak = memory::peak();
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let expected = hex(digest.lock().unwrap().clone().finalize().as_slice());
    assert_eq!(page.text_of("result-size"), Some(size.to_string()));
    assert_eq!(page.text_of("result-sha256"), Some(expected.clone()));
    let stored = browser.sandbox().library(&user);
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].size, size);
    assert_eq!(stored[1].sha256, expected, "every byte arrived, in order");
    if let (Some(baseline), Some(peak)) = (baseline, peak) {
        let growth = peak.saturating_sub(baseline);
        eprintln!(
            "peak RSS grew by {:.1} MiB during the 256 MiB upload",
            growth as f64 / MIB as f64
        );
        assert!(
            growth <= 32 * MIB,
            "the upload is not streamed: peak RSS grew by {} MiB",
            growth / MIB
        );
    }
    browser.shutdown().await;
}

fn app_max_upload() -> u64 {
    browser::app::DEFAULT_MAX_UPLOAD
}

/// A file of `size` bytes made as it is sent, 1 MiB at a time (a random
/// block, each copy stamped with its index), and the SHA-256 of what was
/// made, computed on the way.
fn generated_file(size: u64) -> (reqwest::multipart::Part, Arc<Mutex<sha2::Sha256>>) {
    let mut block = vec![0u8; MIB as usize];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in block.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let digest = Arc::new(Mutex::new(sha2::Sha256::new()));
    let d = digest.clone();
    let chunks = (0..size.div_ceil(MIB)).map(move |i| {
        let len = (size - i * MIB).min(MIB) as usize;
        let mut chunk = block[..len].to_vec();
        chunk[..8].copy_from_slice(&i.to_le_bytes());
        d.lock().unwrap().update(&chunk);
        Ok::<_, std::io::Error>(Bytes::from(chunk))
    });
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let part = reqwest::multipart::Part::stream_with_length(body, size).file_name("big.bin");
    (part, digest)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// This process's resident memory, from /proc (Linux; `None` elsewhere).
mod memory {
    fn status(key: &str) -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with(key))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// Resets the peak (`VmHWM`) to the current RSS and returns it; where
    /// the peak cannot be reset, returns the peak so far (growth is then
    /// measured from it).
    pub fn reset_peak() -> Option<u64> {
        if std::fs::write("/proc/self/clear_refs", "5").is_ok() {
            status("VmRSS:")
        } else {
            status("VmHWM:")
        }
    }

    /// The peak RSS since the reset.
    pub fn peak() -> Option<u64> {
        status("VmHWM:")
    }
}
