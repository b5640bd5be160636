//! The import-loop checker's graph: the modules each module's paths reach (on full module
//! paths, `{…}` groups and inline modules followed), the declarations of the modules with items
//! of their own, and the loops of the graph, each described by the lines along it; and a crate's
//! module files, read from its `src` folder. The tap's tests use it too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::lexer::{code_only, ident, tokens, Tok};

/// Module path (`lib` for the crate root, `a`, `a::b` below it) → source text.
pub type Sources = BTreeMap<String, String>;

/// (user, used) → `file:line` and how (`uses`, or `declares` for a parent with items).
pub type Edges = BTreeMap<(String, String), String>;

pub const ROOT: &str = "lib";

/// The out-of-line modules a file declares (`mod x;`).
pub fn declared_modules(toks: &[(Tok, usize)]) -> Vec<String> {
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
pub fn graph(sources: &Sources) -> Edges {
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
pub struct Loop {
    cycle: Vec<String>,
    rest: Vec<String>,
}

/// One loop per group of two or more modules that reach one another.
pub fn cycles(edges: &Edges) -> Vec<Loop> {
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

/// Fails on any import loop among `sources` (naming the line of every use along each), and on a
/// graph too thin to be believed (fewer uses than modules: the reader missed them).
pub fn assert_no_loops(sources: &Sources) {
    let edges = graph(sources);
    assert!(
        edges.len() >= sources.len(),
        "suspiciously few module uses found: {edges:?}"
    );
    let loops: Vec<String> = cycles(&edges).iter().map(|c| describe(c, &edges)).collect();
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

/// `a -> b -> a (a.rs:3 uses b, b.rs:7 uses a); in the same knot: c, d`.
pub fn describe(l: &Loop, edges: &Edges) -> String {
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

/// `lib.rs` of the crate folder `src` and every module file below it, by module path.
pub fn load(src: &Path) -> Sources {
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
