//! The state diagram in `core/src/flow/README.md` is checked against the code: every input of
//! the transition table must label an edge of one of its mermaid diagrams.

use std::collections::BTreeSet;

#[test]
fn every_input_is_drawn() {
    let root = env!("CARGO_MANIFEST_DIR");
    let table = std::fs::read_to_string(format!("{root}/src/flow/mod.rs")).unwrap();
    let readme = std::fs::read_to_string(format!("{root}/src/flow/README.md")).unwrap();
    let inputs: BTreeSet<&str> = table
        .match_indices("I::")
        .map(|(at, _)| {
            let rest = &table[at + 3..];
            &rest[..rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len())]
        })
        .collect();
    assert!(inputs.len() >= 30, "found only {} inputs in the table", inputs.len());
    let diagrams: String = readme.split("```mermaid").skip(1).filter_map(|block| block.split("```").next()).collect();
    // Whole words: `SignUp` inside `ConfirmSignUp` does not draw it.
    let drawn: BTreeSet<&str> = diagrams.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    let missing: Vec<&&str> = inputs.iter().filter(|input| !drawn.contains(**input)).collect();
    assert!(missing.is_empty(), "inputs missing from the flow diagrams: {missing:?}");
}
