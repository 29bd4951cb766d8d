//! The journal against its file: crashes, corruption, concurrency.

use std::io::Write;

use super::*;

fn id(n: u32) -> FileIdentity {
    FileIdentity::of_bytes(format!("dir/f{n}.txt"), format!("file {n}").as_bytes())
}

fn append(path: &std::path::Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

#[tokio::test]
async fn a_rerun_skips_stored_holds_uncertain_and_retries_failed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let journal = Journal::open(&path).unwrap();
    for n in 0..4 {
        assert_eq!(
            journal.claim(&id(n), false).await.unwrap(),
            Claim::Push { previous: None }
        );
    }
    journal.finish(&id(0), Status::Stored, None).await.unwrap();
    journal
        .finish(&id(1), Status::Uncertain, Some("502"))
        .await
        .unwrap();
    journal
        .finish(&id(2), Status::Failed, Some("406"))
        .await
        .unwrap();
    // id(3): begun, then the process "dies".
    assert_eq!(
        journal.claim(&id(0), false).await.unwrap(),
        Claim::Duplicate
    );
    drop(journal);

    let journal = Journal::open(&path).unwrap();
    // 4 begun, 3 outcomes, and the duplicate's `skipped`, written at close.
    assert_eq!(journal.recovery().records(), 8);
    assert_eq!(journal.recovery().ignored(), 0);
    assert_eq!(journal.claim(&id(0), true).await.unwrap(), Claim::Stored);
    assert_eq!(
        journal.claim(&id(1), false).await.unwrap(),
        Claim::Uncertain
    );
    assert_eq!(
        journal.claim(&id(3), false).await.unwrap(),
        Claim::Uncertain,
        "begun, no outcome"
    );
    assert_eq!(
        journal.claim(&id(2), false).await.unwrap(),
        Claim::Push {
            previous: Some(Status::Failed)
        }
    );
    // Another path with the same content is another file.
    let moved = FileIdentity::of_bytes("elsewhere/f0.txt", b"file 0");
    assert!(journal.claim(&moved, false).await.unwrap().is_push());
    drop(journal);

    let journal = Journal::open(&path).unwrap();
    assert_eq!(
        journal.claim(&id(1), true).await.unwrap(),
        Claim::Push {
            previous: Some(Status::Uncertain)
        },
        "resending uncertain files is an opt-in"
    );
}

#[tokio::test]
async fn a_line_cut_by_a_crash_and_a_garbled_one_are_ignored_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let journal = Journal::open(&path).unwrap();
    journal.claim(&id(0), false).await.unwrap();
    journal.finish(&id(0), Status::Stored, None).await.unwrap();
    journal.claim(&id(1), false).await.unwrap();
    drop(journal);
    append(&path, b"\x00\xffgarbage\n{\"v\":1,\"event\":\"stor");

    let journal = Journal::open(&path).unwrap();
    let r = journal.recovery();
    assert_eq!((r.records(), r.ignored()), (3, 2), "{r}");
    assert!(r.cut_short());
    assert_eq!(r.ignored_lines()[0].line, 4);
    assert!(r.ignored_lines()[1].reason.contains("cut short"), "{r}");
    assert!(r.to_string().contains("line 5"), "{r}");
    assert_eq!(journal.previous(&id(0)), Some(Status::Stored));
    assert_eq!(journal.previous(&id(1)), Some(Status::Uncertain));
    // The next record starts on its own line, and reads back.
    journal.claim(&id(2), false).await.unwrap();
    journal.finish(&id(2), Status::Stored, None).await.unwrap();
    drop(journal);
    let journal = Journal::open(&path).unwrap();
    assert_eq!(journal.previous(&id(2)), Some(Status::Stored));
    assert_eq!(journal.recovery().ignored(), 2);
}

#[tokio::test]
async fn any_bytes_open_without_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let mut junk: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    junk.extend_from_slice(b"\n{}\n[]\nnull\n{\"v\":1}\n");
    std::fs::write(&path, &junk).unwrap();
    let journal = Journal::open(&path).unwrap();
    assert_eq!(journal.recovery().records(), 0);
    assert!(journal.recovery().ignored() >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_records_all_reach_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let journal = std::sync::Arc::new(Journal::open(&path).unwrap());
    let mut tasks = Vec::new();
    for n in 0..64 {
        let journal = journal.clone();
        tasks.push(tokio::spawn(async move {
            assert!(journal.claim(&id(n), false).await.unwrap().is_push());
            journal.finish(&id(n), Status::Stored, None).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    drop(journal);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 128);
    let journal = Journal::open(&path).unwrap();
    assert!((0..64).all(|n| journal.previous(&id(n)) == Some(Status::Stored)));
}

#[tokio::test]
async fn a_journal_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let _first = Journal::open(&path).unwrap();
    let err = Journal::open(&path).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    assert!(err.to_string().contains("in use"), "{err}");
}

#[tokio::test]
async fn a_missing_folder_is_an_error_naming_the_journal() {
    let err = Journal::open("/nonexistent-dir/j.jsonl").unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent-dir/j.jsonl"),
        "{err}"
    );
}

#[test]
fn of_push_never_calls_a_maybe_stored_push_failed() {
    let err: crate::Result<()> = Err(crate::Error::invalid_input("file", "x"));
    assert_eq!(Status::of_push(&err), Status::Failed);
    let maybe: crate::Result<()> =
        Err(crate::Error::invalid_input("file", "x").mark_may_have_been_stored(false));
    assert_eq!(Status::of_push(&maybe), Status::Uncertain);
}

#[tokio::test]
async fn blank_lines_left_by_a_crash_are_overwritten_and_given_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let journal = Journal::open(&path).unwrap();
    journal.claim(&id(0), false).await.unwrap();
    journal.finish(&id(0), Status::Stored, None).await.unwrap();
    drop(journal);
    let records = std::fs::read(&path).unwrap();
    // A crash leaves the space the writer reserved: blank lines.
    append(&path, &[b'\n'; 4096]);
    let journal = Journal::open(&path).unwrap();
    assert_eq!(journal.recovery().records(), 2);
    assert_eq!(journal.recovery().ignored(), 0, "{}", journal.recovery());
    journal.claim(&id(1), false).await.unwrap();
    drop(journal);
    let file = std::fs::read(&path).unwrap();
    assert!(file.starts_with(&records), "the records kept");
    let rest = std::str::from_utf8(&file[records.len()..]).unwrap();
    assert_eq!(
        rest.lines().count(),
        1,
        "one more record, then nothing: {rest:?}"
    );
    assert!(rest.contains("\"begun\""), "{rest}");
}

#[tokio::test]
async fn a_record_cut_short_before_blank_lines_is_ignored_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let journal = Journal::open(&path).unwrap();
    journal.claim(&id(0), false).await.unwrap();
    drop(journal);
    // A crash mid-write, in space reserved ahead.
    append(&path, b"{\"v\":1,\"event\":\"sto");
    append(&path, &[b'\n'; 100]);
    let journal = Journal::open(&path).unwrap();
    assert_eq!(journal.recovery().records(), 1);
    assert_eq!(journal.recovery().ignored(), 1, "{}", journal.recovery());
    assert_eq!(journal.previous(&id(0)), Some(Status::Uncertain));
    journal.finish(&id(0), Status::Stored, None).await.unwrap();
    drop(journal);
    let journal = Journal::open(&path).unwrap();
    assert_eq!(journal.previous(&id(0)), Some(Status::Stored));
    assert_eq!(journal.recovery().records(), 2);
}
