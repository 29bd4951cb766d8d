// Proves: `FileDescriptor::builder()...build()` does not compile without `.accounts(..)`.
use digime::FileDescriptor;

fn main() {
    let _ = FileDescriptor::builder().mime_type("text/plain").build();
}
