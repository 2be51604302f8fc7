//! The README's Rust example is `examples/readme.rs`, which `cargo test` builds: the README
//! must show exactly that code, so that what a new user copies compiles.

#[test]
fn the_readme_shows_the_example_that_compiles() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/../README.md")).unwrap();
    let after = &readme[readme.find("## In Rust").expect("the README's Rust section")..];
    let start = after.find("```rust\n").expect("its code block") + "```rust\n".len();
    let shown = &after[start..start + after[start..].find("```").expect("the block's end")];

    let example = std::fs::read_to_string(format!("{root}/examples/readme.rs")).unwrap();
    let begin = example.find("// README begins\n").expect("the begin marker") + "// README begins\n".len();
    let end = example.find("    // README ends").expect("the end marker");
    let compiled: String =
        example[begin..end].lines().map(|line| format!("{}\n", line.strip_prefix("    ").unwrap_or(line))).collect();
    assert_eq!(shown, compiled, "README.md's Rust example differs from core/examples/readme.rs");
}
