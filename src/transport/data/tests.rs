use super::*;

/// Everything `stream` yields until its end, and the reason it failed.
async fn drain(mut stream: ChunkStream) -> (Vec<u8>, Option<String>) {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(e) => {
                let mismatch = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<LengthMismatch>())
                    .unwrap_or_else(|| panic!("not a LengthMismatch: {e:?}"));
                return (out, Some(mismatch.to_string()));
            }
        }
    }
    (out, None)
}

fn reader(bytes: Vec<u8>) -> BoxReader {
    Box::new(std::io::Cursor::new(bytes))
}

#[tokio::test]
async fn a_reader_of_its_length_is_sent_whole() {
    for len in [0usize, 1, CHUNK, CHUNK + 1, 3 * CHUNK] {
        let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let (out, err) = drain(reader_stream(reader(bytes.clone()), len as u64)).await;
        assert_eq!(err, None, "{len}");
        assert_eq!(out, bytes, "{len}");
    }
}

#[tokio::test]
async fn a_short_reader_fails_before_the_body_is_complete() {
    let (out, err) = drain(reader_stream(reader(vec![1u8; 5]), 10)).await;
    assert_eq!(out.len(), 5);
    let reason = err.expect("a short reader fails");
    assert!(
        reason.contains("5 bytes short") && reason.contains("declared length of 10 bytes"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_long_reader_fails_and_holds_back_its_last_chunk() {
    for (actual, declared) in [(11usize, 10u64), (CHUNK + 1, CHUNK as u64), (1, 0)] {
        let (out, err) = drain(reader_stream(reader(vec![1u8; actual]), declared)).await;
        let reason = err.expect("a long reader fails");
        assert!(
            reason.contains(&format!(
                "longer than its declared length of {declared} bytes"
            )),
            "{reason}"
        );
        assert!(
            (out.len() as u64) < declared.max(1),
            "the body never reaches its declared length: {} of {declared}",
            out.len()
        );
    }
}

#[tokio::test]
async fn a_file_that_grew_fails_before_the_body_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grows.bin");
    std::fs::write(&path, vec![2u8; 150]).unwrap();
    // Given as 100 bytes; it holds 150 when it is read.
    let (out, err) = drain(file_stream(std::fs::File::open(&path).unwrap(), 100)).await;
    let reason = err.expect("a longer file fails");
    assert!(reason.contains("declared length of 100 bytes"), "{reason}");
    assert!(out.len() < 100, "{}", out.len());
    // And one that shrank.
    let (out, err) = drain(file_stream(std::fs::File::open(&path).unwrap(), 200)).await;
    assert!(
        err.expect("a shorter file fails")
            .contains("50 bytes short")
    );
    assert_eq!(out.len(), 150);
}

#[tokio::test]
async fn a_stream_is_taken_once() {
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(&b"ab"[..])]);
    let data = FileData::from_stream(chunks);
    assert!(!data.is_replayable());
    assert!(data.can_send());
    data.open(None).await.unwrap();
    assert!(!data.can_send());
    assert_eq!(data.open(None).await.unwrap_err().field(), Some("file"));
}

/// The `(sent, total)` calls a progress callback received.
type Calls = Arc<Mutex<Vec<(u64, Option<u64>)>>>;

fn recorder() -> (Progress, Calls) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    (
        Arc::new(move |sent, total| s.lock().unwrap().push((sent, total))),
        seen,
    )
}

fn two_chunks() -> ChunkStream {
    futures_util::stream::iter(
        [&b"ab"[..], b"c"].map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))),
    )
    .boxed()
}

#[tokio::test]
async fn progress_of_an_unknown_length_gives_the_total_at_the_end() {
    let (progress, seen) = recorder();
    let out: Vec<_> = Counted::new(two_chunks(), None, progress).collect().await;
    assert_eq!(out.len(), 2);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(2, None), (3, None), (3, Some(3))],
        "no total while it goes, the total once the stream ended"
    );
}

#[tokio::test]
async fn progress_of_a_known_length_gives_the_total_throughout() {
    let (progress, seen) = recorder();
    let _: Vec<_> = Counted::new(two_chunks(), Some(3), progress)
        .collect()
        .await;
    assert_eq!(*seen.lock().unwrap(), vec![(2, Some(3)), (3, Some(3))]);
}

#[tokio::test]
async fn a_reader_is_taken_once() {
    let data = FileData::from_reader(std::io::Cursor::new(vec![0u8; 3]), 3);
    assert!(data.can_send());
    data.open(None).await.unwrap();
    assert!(!data.can_send());
    assert_eq!(data.open(None).await.unwrap_err().field(), Some("file"));
}
