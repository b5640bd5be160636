//! The import-loop checker's lexer: a source with its comments and string and character
//! literals blanked (lines kept), cut into identifiers, `::` and single characters.

/// The source with comments and string and character literals blanked (lines kept).
pub fn code_only(src: &str) -> String {
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
pub enum Tok {
    Ident(String),
    Path,
    Char(char),
}

pub fn tokens(code: &str) -> Vec<(Tok, usize)> {
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

pub fn ident(t: Option<&(Tok, usize)>) -> Option<&str> {
    match t {
        Some((Tok::Ident(s), _)) => Some(s),
        _ => None,
    }
}
