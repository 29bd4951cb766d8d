// Proves: `FileDescriptor::builder()...build()` does not compile without `.mime_type(..)`.
use digime::{Account, FileDescriptor};

fn main() {
    let _ = FileDescriptor::builder()
        .accounts(vec![Account::new("a-1")])
        .build();
}
