//! The simulator's modules import one another without loops: reads `src/lib.rs` and, module
//! by module, every module file it declares (`mod x;` → `x.rs` or `x/mod.rs`, down any depth of
//! folders), builds the graph of module uses on full module paths (`crate::a::b`, `super::x`,
//! `self::x`, a child module's bare `x::`, `{…}` groups at any depth; a path reaches the deepest
//! module it names, and a name that is not a module stands for the module holding it, `lib`
//! for the crate root), and fails on any cycle, naming the line of every use along it.
//!
//! A module with items of its own (functions, types, constants, inline modules) also depends on
//! the children it declares, so a child that imports such a parent's items closes a loop; a
//! parent that only declares its children and re-exports (`mod`, `use`, `pub use`) does not.
//! `src/main.rs`, the program, is a crate of its own and stays out of the graph.

mod graph;
mod lexer;

use std::collections::BTreeSet;
use std::path::Path;

use graph::{assert_no_loops, cycles, describe, graph, load, Edges, Sources, ROOT};

#[test]
fn simulator_modules_import_each_other_without_loops() {
    let sources = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        sources.keys().any(|m| m.contains("::")),
        "no module below a folder found: {:?}",
        sources.keys()
    );
    assert_no_loops(&sources);
}

#[test]
fn the_checker_sees_every_kind_of_module_path() {
    let files = [
        (ROOT, "mod a;\nmod b;\nmod c;\npub use a::X;\n"),
        (
            "a",
            r##"// crate::c in a comment
use super::b::Y;
/* crate::c /* nested */ crate::c */
const S: &str = "crate::c \" crate::c";
const R: &str = r#"crate::c "" crate::c"#;
"##,
        ),
        ("b", "use crate::{c::{Z, V}, W};\nfn f<'a>(_: &'a str) {}\n"),
        (
            "c",
            r#"fn g() -> char { super::a::h(); '"' }
#[cfg(test)]
mod tests {
    use super::*;
    use super::super::b;
}
"#,
        ),
    ];
    let edges = graph(&sources_of(&files));
    let expected = [
        ("a", "b"),
        ("b", "c"),
        ("b", ROOT),
        ("c", "a"),
        ("c", "b"),
        (ROOT, "a"),
    ];
    assert_eq!(edge_set(&edges), expected.into_iter().collect());
    let loops = cycles(&edges);
    assert_eq!(loops.len(), 1, "{loops:?}");
    assert!(describe(&loops[0], &edges).contains("a.rs:2 uses b"));
}

#[test]
fn the_checker_follows_nested_modules() {
    let files = [
        // A root with items of its own depends on what it declares.
        (ROOT, "mod g;\nmod h;\nmod k;\npub fn f() {}\n"),
        // So does `g`: its child `g::x` importing `helper` closes a loop.
        ("g", "mod x;\nmod y;\npub fn helper() {}\n"),
        ("g::x", "use super::helper;\nuse super::y::{self, Z};\n"),
        (
            "g::y",
            r#"use crate::h::W;
fn q() { crate::h::z::W; }
#[cfg(test)]
mod tests {
    use super::super::x;
}
"#,
        ),
        // `h` only declares and re-exports: `h::z2` importing through it is no loop.
        ("h", "mod z;\nmod z2;\npub use z::W;\n"),
        ("h::z", "pub struct W;\nuse super::super::k::V;\n"),
        ("h::z2", "use super::W;\nfn q() { crate::k::V::new(); }\n"),
        ("k", "pub struct V;\n"),
    ];
    let edges = graph(&sources_of(&files));
    let expected = [
        (ROOT, "g"),
        (ROOT, "h"),
        (ROOT, "k"),
        ("g", "g::x"),
        ("g", "g::y"),
        ("g::x", "g"),
        ("g::x", "g::y"),
        ("g::y", "h"),
        ("g::y", "h::z"),
        ("g::y", "g::x"),
        ("h", "h::z"),
        ("h::z", "k"),
        ("h::z2", "h"),
        ("h::z2", "k"),
    ];
    assert_eq!(edge_set(&edges), expected.into_iter().collect());
    let loops = cycles(&edges);
    assert_eq!(loops.len(), 1, "{loops:?}");
    let text = describe(&loops[0], &edges);
    assert!(text.starts_with("g -> g::x -> g "), "{text}");
    assert!(text.contains("g/mod.rs:1 declares g::x"), "{text}");
    assert!(text.contains("g/x.rs:1 uses g"), "{text}");
    assert!(text.ends_with("in the same knot: g::y"), "{text}");
}

fn sources_of(files: &[(&str, &str)]) -> Sources {
    files
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn edge_set(edges: &Edges) -> BTreeSet<(&str, &str)> {
    edges
        .keys()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect()
}
