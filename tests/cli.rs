//! Tests of the `digime` binary (filled in below).
