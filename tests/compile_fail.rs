//! The type-state rules of the push builders and the `FileDescriptor`
//! builder, checked at compile time.
//!
//! Each file in `tests/ui/` breaks exactly one rule and has a checked-in
//! `.stderr` snapshot showing the compiler's message. The files in
//! `tests/ui/pass/` show the full chains compile, with the setters in any
//! order.
//!
//! Regenerate the snapshots after a deliberate message change with
//! `TRYBUILD=overwrite cargo test --test compile_fail`, then read every diff.

#[test]
fn type_states() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
