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

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`lib` for the crate root, `a`, `a::b` below it) → source text.
type Sources = BTreeMap<String, String>;

/// (user, used) → `file:line` and how (`uses`, or `declares` for a parent with items).
type Edges = BTreeMap<(String, String), String>;

const ROOT: &str = "lib";

#[test]
fn simulator_modules_import_each_other_without_loops() {
    let sources = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        sources.keys().any(|m| m.contains("::")),
        "no module below a folder found: {:?}",
        sources.keys()
    );
    let edges = graph(&sources);
    assert!(
        edges.len() >= sources.len(),
        "suspiciously few module uses found: {edges:?}"
    );
    let loops: Vec<String> = cycles(&edges).iter().map(|c| describe(c, &edges)).collect();
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

/// `lib.rs` and every module file below it, by module path.
fn load(src: &Path) -> Sources {
    let read = |file: &str| {
        std::fs::read_to_string(src.join(file)).unwrap_or_else(|e| panic!("src/{file}: {e}"))
    };
    let mut sources = Sources::new();
    let mut todo = vec![(ROOT.to_string(), read("lib.rs"))];
    while let Some((module, text)) = todo.pop() {
        for name in declared_modules(&tokens(&code_only(&text))) {
            let child = if module == ROOT {
                name
            } else {
                format!("{module}::{name}")
            };
            let dir = child.replace("::", "/");
            let file = [format!("{dir}.rs"), format!("{dir}/mod.rs")]
                .into_iter()
                .find(|f| src.join(f).is_file())
                .unwrap_or_else(|| panic!("module {child}: neither {dir}.rs nor {dir}/mod.rs"));
            todo.push((child, read(&file)));
        }
        sources.insert(module, text);
    }
    sources
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

/// The source with comments and string and character literals blanked (lines kept).
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        let end = if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            (i..c.len()).find(|&j| c[j] == '\n').unwrap_or(c.len())
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            block_comment_end(&c, i)
        } else if c[i] == '"' {
            string_end(&c, i + 1, None)
        } else if let Some(hashes) = raw_string_start(&c, i) {
            string_end(&c, i + 2 + hashes, Some(hashes))
        } else if c[i] == '\'' && c.get(i + 1) == Some(&'\\') {
            (i + 3..c.len())
                .find(|&j| c[j] == '\'')
                .map_or(c.len(), |j| j + 1)
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            i + 3
        } else {
            out.push(c[i]);
            i += 1;
            continue;
        };
        let blank = c[i..end].iter().filter(|&&ch| ch == '\n').count();
        out.push(' ');
        out.extend(std::iter::repeat_n('\n', blank));
        i = end;
    }
    out
}

/// The number of `#` of a raw string literal (`r"…"`, `br#"…"#`) starting at `i`, if one does.
fn raw_string_start(c: &[char], i: usize) -> Option<usize> {
    let ident = |j: usize| c[j].is_alphanumeric() || c[j] == '_';
    let prefix = i == 0 || !ident(i - 1) || (c[i - 1] == 'b' && (i == 1 || !ident(i - 2)));
    if c[i] != 'r' || !prefix {
        return None;
    }
    let hashes = c[i + 1..].iter().take_while(|&&ch| ch == '#').count();
    (c.get(i + 1 + hashes) == Some(&'"')).then_some(hashes)
}

/// Index just past the `*/` closing the (nestable) block comment opening at `start`.
fn block_comment_end(c: &[char], start: usize) -> usize {
    let (mut depth, mut i) = (0, start);
    while i + 1 < c.len() {
        match (c[i], c[i + 1]) {
            ('/', '*') => depth += 1,
            ('*', '/') => depth -= 1,
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
        if depth == 0 {
            return i;
        }
    }
    c.len()
}

/// Index just past the closing quote of a string whose text starts at `from`: a plain string
/// (`raw` = `None`) skips its escapes, a raw one ends at a quote followed by its `#`s.
fn string_end(c: &[char], from: usize, raw: Option<usize>) -> usize {
    let mut i = from;
    while i < c.len() {
        match (c[i], raw) {
            ('\\', None) => i += 1,
            ('"', None) => return i + 1,
            ('"', Some(h)) if (1..=h).all(|k| c.get(i + k) == Some(&'#')) => return i + 1 + h,
            _ => {}
        }
        i += 1;
    }
    c.len()
}

/// A token of blanked source: an identifier, `::`, or one other character; with its line.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Path,
    Char(char),
}

fn tokens(code: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = code.chars().collect();
    let (mut out, mut line, mut i) = (Vec::new(), 1, 0);
    while i < c.len() {
        if c[i].is_alphanumeric() || c[i] == '_' {
            let n = c[i..]
                .iter()
                .take_while(|ch| ch.is_alphanumeric() || **ch == '_')
                .count();
            out.push((Tok::Ident(c[i..i + n].iter().collect()), line));
            i += n;
            continue;
        }
        if c[i] == ':' && c.get(i + 1) == Some(&':') {
            out.push((Tok::Path, line));
            i += 2;
            continue;
        }
        if c[i] == '\n' {
            line += 1;
        } else if !c[i].is_whitespace() {
            out.push((Tok::Char(c[i]), line));
        }
        i += 1;
    }
    out
}

fn ident(t: Option<&(Tok, usize)>) -> Option<&str> {
    match t {
        Some((Tok::Ident(s), _)) => Some(s),
        _ => None,
    }
}

/// The out-of-line modules a file declares (`mod x;`).
fn declared_modules(toks: &[(Tok, usize)]) -> Vec<String> {
    declarations(toks)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// The out-of-line modules a file declares, with the line of each declaration.
fn declarations(toks: &[(Tok, usize)]) -> Vec<(String, usize)> {
    toks.windows(3)
        .filter(|w| ident(Some(&w[0])) == Some("mod") && w[2].0 == Tok::Char(';'))
        .filter_map(|w| ident(Some(&w[1])).map(|n| (n.to_string(), w[1].1)))
        .collect()
}

/// Whether a file holds items of its own: anything at its top level but attributes, `mod x;`
/// declarations and `use` declarations (re-exports included).
fn holds_items(toks: &[(Tok, usize)]) -> bool {
    let mut i = 0;
    while i < toks.len() {
        match (&toks[i].0, ident(toks.get(i + 1))) {
            (Tok::Char('#'), _) => {
                let open = (i..toks.len()).find(|&j| toks[j].0 == Tok::Char('['));
                i = open.map_or(toks.len(), |j| group_end(toks, j));
            }
            (Tok::Ident(p), _) if p == "pub" => {
                i += 1;
                if toks.get(i).map(|t| &t.0) == Some(&Tok::Char('(')) {
                    i = group_end(toks, i);
                }
            }
            (Tok::Ident(m), Some(_)) if m == "mod" => {
                if toks.get(i + 2).map(|t| &t.0) != Some(&Tok::Char(';')) {
                    return true;
                }
                i += 3;
            }
            (Tok::Ident(u), _) if u == "use" => {
                let (mut depth, mut j) = (0usize, i);
                while j < toks.len() && !(depth == 0 && toks[j].0 == Tok::Char(';')) {
                    match toks[j].0 {
                        Tok::Char('{') => depth += 1,
                        Tok::Char('}') => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    j += 1;
                }
                i = j + 1;
            }
            _ => return true,
        }
    }
    false
}

/// Index just past the bracket closing the group (`[`, `(` or `{`) that opens at `open`.
fn group_end(toks: &[(Tok, usize)], open: usize) -> usize {
    let mut depth = 0usize;
    for (j, (t, _)) in toks.iter().enumerate().skip(open) {
        match t {
            Tok::Char('[' | '(' | '{') => depth += 1,
            Tok::Char(']' | ')' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

/// A module's path as segments (none for the crate root).
fn segments(module: &str) -> Vec<String> {
    if module == ROOT {
        Vec::new()
    } else {
        module.split("::").map(str::to_string).collect()
    }
}

/// The module path of segments (`lib` for none).
fn joined(path: &[String]) -> String {
    if path.is_empty() {
        ROOT.to_string()
    } else {
        path.join("::")
    }
}

/// The file a module's source comes from: `lib.rs`, `a/mod.rs` for a module with children,
/// `a/b.rs` for one without.
fn file_of(module: &str, modules: &BTreeSet<&str>) -> String {
    let prefix = format!("{module}::");
    if module == ROOT {
        "lib.rs".to_string()
    } else if modules.iter().any(|m| m.starts_with(&prefix)) {
        format!("{}/mod.rs", module.replace("::", "/"))
    } else {
        format!("{}.rs", module.replace("::", "/"))
    }
}

/// Every module use of every file, and the declarations of the modules with items.
fn graph(sources: &Sources) -> Edges {
    let modules: BTreeSet<&str> = sources.keys().map(String::as_str).collect();
    let mut edges = Edges::new();
    for (name, text) in sources {
        let toks = tokens(&code_only(text));
        let file = file_of(name, &modules);
        for (used, line) in uses(name, &toks, &modules) {
            if used != *name {
                edges
                    .entry((name.clone(), used))
                    .or_insert_with(|| format!("{file}:{line} uses"));
            }
        }
        if holds_items(&toks) {
            for (child, line) in declarations(&toks) {
                let mut path = segments(name);
                path.push(child);
                edges
                    .entry((name.clone(), joined(&path)))
                    .or_insert_with(|| format!("{file}:{line} declares"));
            }
        }
    }
    edges
}

/// The modules a file's paths reach: (module path, line).
fn uses(file: &str, toks: &[(Tok, usize)], modules: &BTreeSet<&str>) -> Vec<(String, usize)> {
    let here = segments(file);
    let (mut braces, mut inline_mods) = (0usize, Vec::<(usize, String)>::new());
    let mut out = Vec::new();
    for i in 0..toks.len() {
        match &toks[i].0 {
            Tok::Char('{') => {
                braces += 1;
                let head = i.checked_sub(2).map(|h| ident(toks.get(h)));
                if let (Some(Some("mod")), Some(name)) = (head, ident(toks.get(i - 1))) {
                    inline_mods.push((braces, name.to_string()));
                }
            }
            Tok::Char('}') => {
                if inline_mods.last().is_some_and(|(b, _)| *b == braces) {
                    inline_mods.pop();
                }
                braces = braces.saturating_sub(1);
            }
            _ => {}
        }
        let starts_path = i == 0 || toks[i - 1].0 != Tok::Path;
        if !starts_path || toks.get(i + 1).map(|t| &t.0) != Some(&Tok::Path) {
            continue;
        }
        let mut current = here.clone();
        current.extend(inline_mods.iter().map(|(_, n)| n.clone()));
        let (base, rest) = match ident(toks.get(i)) {
            Some("crate") => (Vec::new(), i + 2),
            Some("self") => (current, i + 2),
            Some("super") => {
                let supers = supers_from(toks, i);
                let keep = current.len().checked_sub(supers).unwrap_or_else(|| {
                    panic!("{file}: line {}: path above the crate root", toks[i].1)
                });
                current.truncate(keep);
                (current, i + 2 * supers)
            }
            Some(m) if inline_mods.is_empty() && is_child(&here, m, modules) => (here.clone(), i),
            _ => continue,
        };
        for target in reached(toks, rest, base, modules) {
            out.push((known_prefix(&target, modules), toks[i].1));
        }
    }
    out
}

/// Whether `name` is a module declared by the module at `path`.
fn is_child(path: &[String], name: &str, modules: &BTreeSet<&str>) -> bool {
    let mut child = path.to_vec();
    child.push(name.to_string());
    modules.contains(joined(&child).as_str())
}

/// The longest prefix of `path` that is a module file (an inline module counts as its file).
fn known_prefix(path: &[String], modules: &BTreeSet<&str>) -> String {
    (0..=path.len())
        .rev()
        .map(|n| joined(&path[..n]))
        .find(|m| modules.contains(m.as_str()))
        .unwrap_or_else(|| ROOT.to_string())
}

/// How many `super::` open the path at `i`.
fn supers_from(toks: &[(Tok, usize)], i: usize) -> usize {
    toks[i..]
        .chunks(2)
        .take_while(|w| {
            ident(w.first()) == Some("super") && w.get(1).map(|t| &t.0) == Some(&Tok::Path)
        })
        .count()
}

/// The modules the rest of a path at `at` reaches from module `base`: it goes down while its
/// segments name modules, and each branch of a `{…}` group goes its own way (`self` and `*`
/// stand for the module reached so far, and so does any other item).
fn reached(
    toks: &[(Tok, usize)],
    at: usize,
    base: Vec<String>,
    modules: &BTreeSet<&str>,
) -> Vec<Vec<String>> {
    match toks.get(at).map(|t| &t.0) {
        Some(Tok::Ident(name)) if is_child(&base, name, modules) => {
            let mut next = base;
            next.push(name.clone());
            if toks.get(at + 1).map(|t| &t.0) == Some(&Tok::Path) {
                reached(toks, at + 2, next, modules)
            } else {
                vec![next]
            }
        }
        Some(Tok::Char('{')) => {
            let end = group_end(toks, at) - 1;
            let mut starts = vec![at + 1];
            let mut depth = 0usize;
            for (j, (t, _)) in toks.iter().enumerate().take(end).skip(at + 1) {
                match t {
                    Tok::Char('{') => depth += 1,
                    Tok::Char('}') => depth -= 1,
                    Tok::Char(',') if depth == 0 => starts.push(j + 1),
                    _ => {}
                }
            }
            starts
                .into_iter()
                .filter(|&j| j < end)
                .flat_map(|j| reached(toks, j, base.clone(), modules))
                .collect()
        }
        _ => vec![base],
    }
}

/// Modules that reach one another: the shortest cycle through one of them, and the others.
#[derive(Debug)]
struct Loop {
    cycle: Vec<String>,
    rest: Vec<String>,
}

/// One loop per group of two or more modules that reach one another.
fn cycles(edges: &Edges) -> Vec<Loop> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        next.entry(a).or_default().push(b);
    }
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for start in next.keys() {
        if done.contains(start) {
            continue;
        }
        let group: BTreeSet<&str> = reach(start, &next)
            .into_iter()
            .filter(|n| n != start && reach(n, &next).contains(start))
            .collect();
        if !group.is_empty() {
            done.extend(group.iter().copied());
            let cycle = shortest_cycle(start, &next);
            let rest = group
                .into_iter()
                .filter(|m| !cycle.iter().any(|c| c == m))
                .map(str::to_string)
                .collect();
            out.push(Loop { cycle, rest });
        }
    }
    out
}

/// Every module `from` reaches, itself included.
fn reach<'a>(from: &'a str, next: &BTreeMap<&'a str, Vec<&'a str>>) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::from([from]);
    let mut todo = vec![from];
    while let Some(n) = todo.pop() {
        for &m in next.get(n).into_iter().flatten() {
            if seen.insert(m) {
                todo.push(m);
            }
        }
    }
    seen
}

/// The shortest path from `start` back to itself (breadth first).
fn shortest_cycle(start: &str, next: &BTreeMap<&str, Vec<&str>>) -> Vec<String> {
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for &m in next.get(n).into_iter().flatten() {
            if m == start {
                let mut path = vec![n];
                while let Some(&p) = parent.get(path[path.len() - 1]) {
                    path.push(p);
                }
                path.reverse();
                return path.into_iter().map(str::to_string).collect();
            }
            if !parent.contains_key(m) {
                parent.insert(m, n);
                queue.push_back(m);
            }
        }
    }
    Vec::new()
}

/// `a -> b -> a (a.rs:3 uses b, b.rs:7 uses a); in the same knot: c, d`.
fn describe(l: &Loop, edges: &Edges) -> String {
    let c = &l.cycle;
    let hops: Vec<String> = (0..c.len())
        .map(|k| {
            let (a, b) = (&c[k], &c[(k + 1) % c.len()]);
            format!("{} {b}", edges[&(a.clone(), b.clone())])
        })
        .collect();
    let mut text = format!("{} -> {} ({})", c.join(" -> "), c[0], hops.join(", "));
    if !l.rest.is_empty() {
        text.push_str(&format!("; in the same knot: {}", l.rest.join(", ")));
    }
    text
}
