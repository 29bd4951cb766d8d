// Proves: a file descriptor's MIME type cannot be set twice.
use digime::{Account, FileDescriptor};

fn main() {
    let _ = FileDescriptor::builder()
        .mime_type("text/plain")
        .accounts(vec![Account::new("a-1")])
        .mime_type("application/pdf")
        .build();
}
