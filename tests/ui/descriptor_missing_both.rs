// Proves: `build()` names both missing fields of a file descriptor.
use digime::FileDescriptor;

fn main() {
    let _ = FileDescriptor::builder().tags(vec!["lab".to_string()]).build();
}
