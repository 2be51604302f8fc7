//! Placeholder replaced by the benchmark suite.
#![allow(missing_docs, reason = "criterion generates undocumented items")]
fn main() {}
