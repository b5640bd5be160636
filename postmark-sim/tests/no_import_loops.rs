//! The simulator's modules import one another without loops: reads `src/lib.rs` and the module
//! files it declares, builds the graph of module uses (`super::x`, `crate::x`, and in `lib.rs`
//! the bare `x::` paths; a name that is not a module stands for the crate root, `lib`), and fails
//! on any cycle, naming the line of every use along it. `main.rs`, the program, is a crate of
//! its own and stays out of the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name (`lib` for the crate root) → source text.
type Sources = BTreeMap<String, String>;

/// (user, used) → `file:line` of the first use.
type Edges = BTreeMap<(String, String), String>;

const ROOT: &str = "lib";

#[test]
fn simulator_modules_import_each_other_without_loops() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let read = |file: &str| {
        std::fs::read_to_string(src.join(file)).unwrap_or_else(|e| panic!("src/{file}: {e}"))
    };
    let mut sources = Sources::new();
    let lib = read("lib.rs");
    for name in declared_modules(&tokens(&code_only(&lib))) {
        let text = read(&format!("{name}.rs"));
        sources.insert(name, text);
    }
    sources.insert(ROOT.to_string(), lib);
    let edges = graph(&sources);
    assert!(
        edges.len() >= sources.len(),
        "suspiciously few module uses found: {edges:?}"
    );
    let loops: Vec<String> = cycles(&edges).iter().map(|c| describe(c, &edges)).collect();
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
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
    let sources: Sources = files
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let edges = graph(&sources);
    let found: BTreeSet<(&str, &str)> = edges
        .keys()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let expected = [
        ("a", "b"),
        ("b", "c"),
        ("b", ROOT),
        ("c", "a"),
        ("c", "b"),
        (ROOT, "a"),
    ];
    assert_eq!(found, expected.into_iter().collect());
    let loops = cycles(&edges);
    assert_eq!(loops.len(), 1, "{loops:?}");
    assert!(describe(&loops[0], &edges).contains("a.rs:2 uses b"));
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
    toks.windows(3)
        .filter(|w| ident(Some(&w[0])) == Some("mod") && w[2].0 == Tok::Char(';'))
        .filter_map(|w| ident(Some(&w[1])).map(str::to_string))
        .collect()
}

/// Every module use of every file.
fn graph(sources: &Sources) -> Edges {
    let modules: BTreeSet<&str> = sources.keys().map(String::as_str).collect();
    let mut edges = Edges::new();
    for (name, text) in sources {
        let toks = tokens(&code_only(text));
        if name != ROOT {
            let nested = declared_modules(&toks);
            assert!(
                nested.is_empty(),
                "{name}.rs declares module files {nested:?}: teach this checker nested modules"
            );
        }
        for (used, line) in uses(name, &toks, &modules) {
            if used != *name {
                edges
                    .entry((name.clone(), used))
                    .or_insert_with(|| format!("{name}.rs:{line}"));
            }
        }
    }
    edges
}

/// The crate-root names a file's paths reach: (module used or `lib`, line).
fn uses(file: &str, toks: &[(Tok, usize)], modules: &BTreeSet<&str>) -> Vec<(String, usize)> {
    let file_depth = usize::from(file != ROOT);
    let (mut braces, mut inline_mods, mut out) = (0usize, Vec::<usize>::new(), Vec::new());
    for i in 0..toks.len() {
        match &toks[i].0 {
            Tok::Char('{') => {
                braces += 1;
                let head = i.checked_sub(2).map(|h| ident(toks.get(h)));
                if head == Some(Some("mod")) && ident(toks.get(i - 1)).is_some() {
                    inline_mods.push(braces);
                }
            }
            Tok::Char('}') => {
                if inline_mods.last() == Some(&braces) {
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
        let depth = file_depth + inline_mods.len();
        let (target_depth, rest) = match ident(toks.get(i)) {
            Some("crate") => (Some(0), i + 2),
            Some("self") => (Some(depth), i + 2),
            Some("super") => {
                let supers = supers_from(toks, i);
                (depth.checked_sub(supers), i + 2 * supers)
            }
            Some(m) if file == ROOT && modules.contains(m) => (Some(0), i),
            _ => continue,
        };
        let target_depth = target_depth
            .unwrap_or_else(|| panic!("{file}.rs:{}: path above the crate root", toks[i].1));
        if target_depth == 0 {
            for name in root_names(toks, rest) {
                let used = if modules.contains(name.as_str()) {
                    name
                } else {
                    ROOT.to_string()
                };
                out.push((used, toks[i].1));
            }
        }
    }
    out
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

/// The first segment(s) after a root prefix: one name, or each branch of a `{…}` group (`*` and
/// `self` stand for the root itself).
fn root_names(toks: &[(Tok, usize)], at: usize) -> Vec<String> {
    match toks.get(at).map(|t| &t.0) {
        Some(Tok::Ident(name)) => vec![name.clone()],
        Some(Tok::Char('{')) => {
            let (mut depth, mut names, mut expect) = (0, Vec::new(), true);
            for (t, _) in &toks[at..] {
                match t {
                    Tok::Char('{') => depth += 1,
                    Tok::Char('}') if depth == 1 => break,
                    Tok::Char('}') => depth -= 1,
                    Tok::Char(',') if depth == 1 => expect = true,
                    Tok::Ident(n) if depth == 1 && expect => {
                        names.push(n.clone());
                        expect = false;
                    }
                    Tok::Char('*') if depth == 1 && expect => {
                        names.push("*".to_string());
                        expect = false;
                    }
                    _ => {}
                }
            }
            names
        }
        _ => vec!["*".to_string()],
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
            format!("{} uses {b}", edges[&(a.clone(), b.clone())])
        })
        .collect();
    let mut text = format!("{} -> {} ({})", c.join(" -> "), c[0], hops.join(", "));
    if !l.rest.is_empty() {
        text.push_str(&format!("; in the same knot: {}", l.rest.join(", ")));
    }
    text
}
