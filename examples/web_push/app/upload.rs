//! `GET /upload`, the form, and `POST /upload`: the browser's upload
//! streamed into the user's library.
//!
//! The handler never holds the file. It reads the request body as a
//! multipart stream (multer), takes the small text fields that come first,
//! and hands the `file` field, itself a stream of chunks, to
//! `FileData::from_stream`: each chunk goes on to digi.me as it arrives from
//! the browser, counted and hashed on its way for the result page. Memory
//! stays at the chunks in flight, whatever the file's size.
//!
//! The form puts `file` last, as browsers send fields in the form's order:
//! the descriptor (MIME type, tags, reference) is known before the file
//! starts. Fields after `file` are not read.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use bytes::Bytes;
use digime::push::FileData;
use digime::{Account, FileDescriptor};
use futures_util::StreamExt;
use maud::{Markup, html};
use multer::{Constraints, Multipart, SizeLimit};
use sha2::{Digest, Sha256};

use super::page::{PageError, layout};
use super::sessions::Pushed;
use super::{App, User};

/// What the form may add to the file: the text fields and the multipart
/// framing. A request longer than the size limit plus this is refused
/// before anything is read.
const FORM_OVERHEAD: u64 = 16 * 1024;
/// The longest value of a text field (`mime_type`, `tags`, `reference`).
const TEXT_FIELD_LIMIT: u64 = 4 * 1024;
/// Before an error page, what is left of an upload is read and dropped, up
/// to this much and for at most [`DRAIN_TIME`]: a browser that is still
/// sending would otherwise see the connection reset instead of the page.
const DRAIN_LIMIT: u64 = 64 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(30);

/// `GET /upload`: the form.
pub(super) async fn form(State(app): State<Arc<App>>, jar: CookieJar) -> Result<Markup, PageError> {
    app.user(&jar).await?;
    Ok(layout(
        "Upload a file",
        html! {
            form method="post" action="/upload" enctype="multipart/form-data" {
                label { "MIME type (leave empty to guess it from the file) "
                    input type="text" name="mime_type" placeholder="application/pdf"; }
                label { "Tags, comma-separated " input type="text" name="tags" placeholder="lab, 2024"; }
                label { "Reference " input type="text" name="reference"; }
                // Last: the text fields above reach the server first.
                label { "File (up to " (app.max_upload) " bytes) " input type="file" name="file" required; }
                button type="submit" { "Push" }
            }
        },
    ))
}

/// `POST /upload`: streams the `file` field into a library push.
pub(super) async fn push(
    State(app): State<Arc<App>>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let user = match app.user(&jar).await {
        Ok(user) => user,
        Err(error) => return drained(body, length, error).await,
    };
    let limit = app.max_upload;
    if length.is_some_and(|length| length > limit.saturating_add(FORM_OVERHEAD)) {
        // Known too large before a byte is read: nothing goes to digi.me.
        return drained(body, length, too_large(limit)).await;
    }
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok());
    let Some(boundary) = boundary else {
        let error = PageError::bad_input(
            "Content-Type",
            "the form must be sent as multipart/form-data",
        );
        return drained(body, length, error).await;
    };
    let constraints = Constraints::new()
        .allowed_fields(vec!["mime_type", "tags", "reference", "file"])
        .size_limit(
            SizeLimit::new()
                .whole_stream(limit.saturating_add(FORM_OVERHEAD))
                .per_field(TEXT_FIELD_LIMIT)
                .for_field("file", limit),
        );
    let mut multipart = Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    match push_upload(&user, &mut multipart, limit).await {
        Ok(pushed) => {
            let page = result_page(&pushed);
            app.sessions.record_push(&jar, pushed);
            page.into_response()
        }
        Err(error) => {
            drain_multipart(&mut multipart).await;
            error.into_response()
        }
    }
}

/// The text fields that come before the file.
#[derive(Default)]
struct Fields {
    mime_type: String,
    tags: String,
    reference: String,
}

async fn push_upload(
    user: &User,
    multipart: &mut Multipart<'static>,
    limit: u64,
) -> Result<Pushed, PageError> {
    let mut fields = Fields::default();
    let mut file = loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| form_error(e, limit))?
            .ok_or_else(|| PageError::bad_input("file", "the form has no file: choose one"))?;
        let slot = match field.name() {
            Some("file") => break field,
            Some("mime_type") => &mut fields.mime_type,
            Some("tags") => &mut fields.tags,
            _ => &mut fields.reference,
        };
        *slot = field.text().await.map_err(|e| form_error(e, limit))?;
    };
    let name = file.file_name().unwrap_or_default().trim().to_string();
    if name.is_empty() {
        return Err(PageError::bad_input("file", "no file was chosen"));
    }
    // Empty chunks are nothing; no chunk at all is an empty file, refused
    // before the push starts.
    let first = loop {
        match file.chunk().await.map_err(|e| form_error(e, limit))? {
            Some(chunk) if chunk.is_empty() => continue,
            Some(chunk) => break chunk,
            None => {
                return Err(PageError::bad_input(
                    "file",
                    format!("{name} is empty: there is nothing to push"),
                ));
            }
        }
    };
    let mime_type = match fields.mime_type.trim() {
        "" => mime_guess::from_path(&name)
            .first_raw()
            .map(str::to_string)
            .or_else(|| file.content_type().map(|m| m.essence_str().to_string()))
            .unwrap_or_else(|| "application/octet-stream".to_string()),
        given => given.to_string(),
    };
    let descriptor = descriptor(
        &mime_type,
        user.session
            .user_access_token()
            .user_id()
            .unwrap_or("web-push-user"),
        &fields,
    );

    let mut tap = Tap::default();
    let chunks = futures_util::stream::iter([Ok(first)]).chain(file);
    let outcome = user
        .session
        .push()
        .library()
        .file(FileData::from_stream(tap.pass(chunks)), name.clone())
        .descriptor(descriptor)
        .send()
        .await;
    match outcome {
        Ok(_) => {
            let (size, sha256) = tap.finish().await;
            // Not the file name: it can say what a health record is about.
            tracing::info!(size, "pushed a file");
            Ok(Pushed {
                name,
                mime_type,
                size,
                sha256,
            })
        }
        // The upload itself failed (too large, cut off): say that, with
        // what the SDK knows about digi.me's side.
        Err(err) => Err(match tap.failure() {
            Some(TapFailure::TooLarge) => too_large_midway(limit, &err),
            Some(TapFailure::Unreadable(reason)) => PageError::new(
                StatusCode::BAD_REQUEST,
                "The upload was cut off",
                html! {
                    p .error #error { code { "file" } ": the upload could not be read (" (reason) ")." }
                    p { "The push was stopped before its end: " (stored_note(&err)) }
                },
            ),
            None => PageError::from_sdk(&err),
        }),
    }
}

fn descriptor(mime_type: &str, account_id: &str, fields: &Fields) -> FileDescriptor {
    let list = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    };
    let tags = list(&fields.tags);
    let reference = fields.reference.trim();
    let builder = FileDescriptor::builder()
        .mime_type(mime_type)
        .accounts(vec![Account::new(account_id)]);
    match (tags.is_empty(), reference.is_empty()) {
        (true, true) => builder.build(),
        (false, true) => builder.tags(tags).build(),
        (true, false) => builder.reference(vec![reference.to_string()]).build(),
        (false, false) => builder
            .tags(tags)
            .reference(vec![reference.to_string()])
            .build(),
    }
}

/// How many chunks the SHA-256 thread may lag behind the upload.
const HASH_AHEAD: usize = 8;

/// Counts the file's chunks on their way to the SDK, has them hashed, and
/// notes why the upload stream failed, when it did.
///
/// SHA-256 is the one CPU-heavy step of the handler (about 2 GB/s a core):
/// it runs on a blocking thread of its own, beside the forwarding, rather
/// than on the async workers that move the bytes. The chunks reach it
/// through a bounded channel: it may lag by [`HASH_AHEAD`] chunks, no more.
#[derive(Default)]
struct Tap {
    state: Arc<Mutex<TapState>>,
    digest: Option<tokio::sync::oneshot::Receiver<String>>,
}

#[derive(Default)]
struct TapState {
    size: u64,
    failure: Option<TapFailure>,
}

#[derive(Clone)]
enum TapFailure {
    TooLarge,
    Unreadable(String),
}

impl Tap {
    fn pass<S>(
        &mut self,
        chunks: S,
    ) -> impl futures_util::Stream<Item = Result<Bytes, multer::Error>> + Send + 'static
    where
        S: futures_util::Stream<Item = Result<Bytes, multer::Error>> + Send + 'static,
    {
        let (to_hash, mut hashing) = tokio::sync::mpsc::channel::<Bytes>(HASH_AHEAD);
        let (done, digest) = tokio::sync::oneshot::channel();
        tokio::task::spawn_blocking(move || {
            let mut sha256 = Sha256::new();
            while let Some(chunk) = hashing.blocking_recv() {
                sha256.update(&chunk);
            }
            let _ = done.send(
                sha256
                    .finalize()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
            );
        });
        self.digest = Some(digest);
        let state = self.state.clone();
        // The sender goes with the stream: when the stream ends (or is
        // dropped), the hashing thread finishes.
        futures_util::stream::unfold((Box::pin(chunks), to_hash), move |(mut chunks, to_hash)| {
            let state = state.clone();
            async move {
                let chunk = chunks.next().await?;
                match &chunk {
                    Ok(bytes) => {
                        state.lock().unwrap_or_else(PoisonError::into_inner).size +=
                            bytes.len() as u64;
                        // A cheap clone: the bytes are shared, not copied.
                        let _ = to_hash.send(bytes.clone()).await;
                    }
                    Err(e) => {
                        let failure = match e {
                            multer::Error::FieldSizeExceeded { .. }
                            | multer::Error::StreamSizeExceeded { .. } => TapFailure::TooLarge,
                            e => TapFailure::Unreadable(e.to_string()),
                        };
                        state.lock().unwrap_or_else(PoisonError::into_inner).failure =
                            Some(failure);
                    }
                }
                Some((chunk, (chunks, to_hash)))
            }
        })
    }

    fn failure(&self) -> Option<TapFailure> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .failure
            .clone()
    }

    /// The size and the lowercase hex SHA-256 of everything that passed,
    /// once the stream has ended.
    async fn finish(self) -> (u64, String) {
        let size = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .size;
        let sha256 = match self.digest {
            Some(digest) => digest.await.unwrap_or_default(),
            None => String::new(),
        };
        (size, sha256)
    }
}

fn result_page(pushed: &Pushed) -> Markup {
    layout(
        "Pushed",
        html! {
            div #result {
                p { "Stored in your digi.me library:" }
                table {
                    tr { th { "name" } td #result-name { (pushed.name) } }
                    tr { th { "MIME type" } td #result-mime-type { (pushed.mime_type) } }
                    tr { th { "size" } td #result-size { (pushed.size) } }
                    tr { th { "SHA-256" } td { code #result-sha256 { (pushed.sha256) } } }
                }
            }
            p { a href="/upload" { "Push another file" } " · " a href="/library" { "See the library" } }
        },
    )
}

/// A multipart error as a page naming the field.
fn form_error(err: multer::Error, limit: u64) -> PageError {
    match err {
        multer::Error::FieldSizeExceeded { field_name, .. }
            if field_name.as_deref() != Some("file") =>
        {
            PageError::bad_input(
                field_name.as_deref().unwrap_or("form"),
                format!("longer than {TEXT_FIELD_LIMIT} bytes"),
            )
        }
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
            too_large(limit)
        }
        multer::Error::UnknownField { field_name } => PageError::bad_input(
            field_name.as_deref().unwrap_or("form"),
            "this form has no such field",
        ),
        other => PageError::bad_input("form", format!("the upload could not be read ({other})")),
    }
}

/// Refused before anything was sent to digi.me.
fn too_large(limit: u64) -> PageError {
    PageError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "The file is too large",
        html! {
            p .error #error { code { "file" } ": larger than this app's limit of " (limit) " bytes." }
            p { "Nothing was sent to digi.me." }
        },
    )
}

/// Found too large after part of it was streamed to digi.me.
fn too_large_midway(limit: u64, err: &digime::Error) -> PageError {
    PageError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "The file is too large",
        html! {
            p .error #error { code { "file" } ": larger than this app's limit of " (limit) " bytes." }
            p { "The upload was stopped before its end: " (stored_note(err)) }
        },
    )
}

fn stored_note(err: &digime::Error) -> &'static str {
    if err.may_have_been_stored() {
        "digi.me had received part of it. A cut-off upload is not a complete file, but check \
         the library before pushing it again."
    } else {
        "nothing was stored."
    }
}

/// Answers `error` once the rest of `body` was read, unless its declared
/// `length` is over the bound: then at once (the connection is closed).
async fn drained(body: Body, length: Option<u64>, error: PageError) -> Response {
    if length.is_some_and(|length| length > DRAIN_LIMIT) {
        return error.into_response();
    }
    let mut stream = body.into_data_stream();
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut read = 0u64;
        while let Some(Ok(chunk)) = stream.next().await {
            read += chunk.len() as u64;
            if read > DRAIN_LIMIT {
                break;
            }
        }
    })
    .await;
    error.into_response()
}

/// Reads what is left of a multipart upload (bounded), when the parser can
/// still read it.
async fn drain_multipart(multipart: &mut Multipart<'static>) {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut read = 0u64;
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(chunk)) = field.chunk().await {
                read += chunk.len() as u64;
                if read > DRAIN_LIMIT {
                    return;
                }
            }
        }
    })
    .await;
}
