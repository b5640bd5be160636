//! The tap's modules import one another without loops, checked by the simulator's checker
//! (`postmark-sim/tests/it/import_loops/`, where its rules and its own tests are): every module
//! file below `src/lib.rs`, every use on full module paths, a parent with items of its own
//! depending on the children it declares. `src/main.rs`, the program, stays out of the graph.

// The checker's files, shared with the simulator's tests (which use the rest of them).
#[allow(dead_code)]
#[path = "../../postmark-sim/tests/it/import_loops/graph.rs"]
mod graph;
#[allow(dead_code)]
#[path = "../../postmark-sim/tests/it/import_loops/lexer.rs"]
mod lexer;

use graph::{assert_no_loops, load};
use std::path::Path;

#[test]
fn tap_modules_import_each_other_without_loops() {
    let sources = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    for folder in [
        "sync::reads",
        "sync::search",
        "record",
        "client",
        "singer",
        "config",
    ] {
        assert!(
            sources
                .keys()
                .any(|m| m.starts_with(&format!("{folder}::"))),
            "no module below src/{} found: {:?}",
            folder.replace("::", "/"),
            sources.keys()
        );
    }
    assert_no_loops(&sources);
}
