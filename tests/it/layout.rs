//! The house rules of `src/`, checked by reading the source: no import
//! circle between files or between top-level folders, no file over 600
//! lines and no function over 80. docs/architecture.md describes the layout
//! these rules keep (its "The rule" section).
//!
//! Why a test of our own and not `cargo modules dependencies --acyclic`: it
//! runs in `cargo test --workspace --all-features`, which CI and every contributor run
//! already, with no tool to install, no nightly rust-analyzer to keep in step
//! with, and it checks the size limits in the same pass. It reads the text,
//! not the compiler's view, so it follows only what it can see:
//!
//! - an edge is a path in a `use` declaration or in code that starts with
//!   `crate::`, `$crate::`, `super::`, `self::` or the name of a child module;
//! - a path is resolved to the file that defines its item: through the
//!   `use` declarations (re-exports included) of the module it names, so
//!   `crate::Error` leads to `error.rs`, not to `lib.rs`;
//! - comments, doc comments (intra-doc links) and string literals are not
//!   code and make no edge;
//! - `src/bin/` holds other crates: it gets the size limits, not the circle
//!   check.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;

/// The layers of docs/architecture.md, bottom up: each top-level folder or
/// file of `src/` imports only from layers below its own, or from its own
/// layer (no circle: see the folder check), except that the operations
/// never import each other, and the sandbox imports only values and signing.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "values and checks",
        &[
            "error",
            "token",
            "time",
            "models",
            "descriptor",
            "media_type",
            "validate",
            "typestate",
            "hex",
            "sync",
            "guide",
        ],
    ),
    ("signing", &["signer", "contract"]),
    ("transport", &["transport"]),
    ("stores", &["store"]),
    ("tokens", &["tokens"]),
    ("client", &["client"]),
    ("operations", &["push", "consent", "calls"]),
    ("over the operations", &["bulk"]),
    ("sandbox", &["sandbox"]),
];

/// The layout's debt: what breaks a size limit today and is to be paid off
/// (issue #18). Each entry must still break its rule, or the check fails, so the
/// lists only shrink.
const KNOWN_LONG_FILES: &[&str] = &[];
const KNOWN_LONG_FNS: &[&str] = &[];

/// The findings (key, message) not in `known`; panics on a known key no
/// longer found.
fn owed(found: Vec<(String, String)>, known: &[&str]) -> Vec<String> {
    let gone: Vec<&&str> = known
        .iter()
        .filter(|k| !found.iter().any(|(key, _)| key == **k))
        .collect();
    assert!(
        gone.is_empty(),
        "paid off, remove from the known list: {gone:?}"
    );
    found
        .into_iter()
        .filter(|(key, _)| !known.contains(&key.as_str()))
        .map(|(_, m)| m)
        .collect()
}

/// One `.rs` file of `src/`.
struct File {
    /// The path under `src/`, with `/`.
    rel: String,
    /// Its module path (`push/library.rs` → `["push", "library"]`).
    module: Vec<String>,
    /// Its text, comments and literals blanked, lines kept.
    code: String,
    lines: usize,
}

fn read_sources() -> Vec<File> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(&src).unwrap();
                let rel = rel.to_string_lossy().replace('\\', "/");
                let text = std::fs::read_to_string(&path).expect("a readable source file");
                out.push(File {
                    module: module_path(&rel),
                    lines: text.lines().count(),
                    code: blank(&text),
                    rel,
                });
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The text with comments, strings and char literals replaced by spaces
/// (newlines kept, so line numbers stay right).
fn blank(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let keep_lines = |out: &mut String, s: &[char]| {
        for &c in s {
            out.push(if c == '\n' { '\n' } else { ' ' });
        }
    };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let end = if c == '/' && next == Some('/') {
            (i..b.len()).find(|&j| b[j] == '\n').unwrap_or(b.len())
        } else if c == '/' && next == Some('*') {
            block_comment_end(&b, i)
        } else if c == '"' || (c == 'b' && next == Some('"')) {
            string_end(&b, if c == 'b' { i + 1 } else { i })
        } else if (c == 'r' || (c == 'b' && next == Some('r')))
            && raw_string_start(&b, if c == 'b' { i + 1 } else { i })
            && (i == 0 || !is_ident(b[i - 1]))
        {
            raw_string_end(&b, if c == 'b' { i + 1 } else { i })
        } else if c == '\'' {
            char_end(&b, i)
        } else {
            out.push(c);
            i += 1;
            continue;
        };
        keep_lines(&mut out, &b[i..end]);
        i = end;
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn block_comment_end(b: &[char], start: usize) -> usize {
    let (mut depth, mut j) = (0, start);
    while j + 1 < b.len() {
        if b[j] == '/' && b[j + 1] == '*' {
            depth += 1;
            j += 2;
        } else if b[j] == '*' && b[j + 1] == '/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j;
            }
        } else {
            j += 1;
        }
    }
    b.len()
}

fn string_end(b: &[char], quote: usize) -> usize {
    let mut j = quote + 1;
    while j < b.len() {
        match b[j] {
            '\\' => j += 2,
            '"' => return j + 1,
            _ => j += 1,
        }
    }
    b.len()
}

fn raw_string_start(b: &[char], r: usize) -> bool {
    let mut j = r + 1;
    while b.get(j) == Some(&'#') {
        j += 1;
    }
    b.get(r) == Some(&'r') && b.get(j) == Some(&'"')
}

fn raw_string_end(b: &[char], r: usize) -> usize {
    let hashes = b[r + 1..].iter().take_while(|&&c| c == '#').count();
    let mut j = r + 1 + hashes + 1;
    while j < b.len() {
        if b[j] == '"'
            && b[j + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
        {
            return j + 1 + hashes;
        }
        j += 1;
    }
    b.len()
}

/// A char literal's end, or `start + 1` for a lifetime's quote.
fn char_end(b: &[char], start: usize) -> usize {
    match (b.get(start + 1), b.get(start + 2)) {
        (Some('\\'), _) => (start + 2..b.len())
            .find(|&j| b[j] == '\'')
            .map_or(b.len(), |j| j + 1),
        (Some(_), Some('\'')) => start + 3,
        _ => start + 1,
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    text: String,
    line: usize,
}

fn tokens(code: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let len = if is_ident(c) || (c == '$' && chars.get(i + 1).is_some_and(|&c| is_ident(c)))
            {
                1 + chars[i + 1..].iter().take_while(|&&c| is_ident(c)).count()
            } else if c == ':' && chars.get(i + 1) == Some(&':') {
                2
            } else if c.is_whitespace() {
                i += 1;
                continue;
            } else {
                1
            };
            out.push(Token {
                text: chars[i..i + len].iter().collect(),
                line: n + 1,
            });
            i += len;
        }
    }
    out
}

/// A path in one file: where it starts (the module it is written in) and
/// its segments as written.
struct PathRef {
    scope: Vec<String>,
    segments: Vec<String>,
    line: usize,
    in_use: bool,
    /// A `pub use`, `pub(crate) use`…: a re-export.
    public: bool,
    /// The name it is known by in its scope (`use` only).
    name: Option<String>,
}

/// What one file declares and refers to.
#[derive(Default)]
struct Facts {
    paths: Vec<PathRef>,
    defines: BTreeSet<String>,
    /// Every name in the file's code outside its `use` declarations.
    names: BTreeSet<String>,
}

const ITEM_KEYWORDS: &[&str] = &[
    "struct", "enum", "trait", "type", "fn", "const", "static", "union", "mod",
];

fn facts(file: &File) -> Facts {
    let toks = tokens(&file.code);
    let mut facts = Facts::default();
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i].text.as_str();
        let next = toks.get(i + 1).map(|t| t.text.as_str());
        let scope = || {
            let mut s = file.module.clone();
            s.extend(inline.iter().map(|(n, _)| n.clone()));
            s
        };
        let declared = i > 0 && toks[i - 1].text == "mod";
        if t.chars().all(is_ident) && !declared {
            facts.names.insert(t.to_string());
        }
        if t == "{" {
            depth += 1;
        } else if t == "}" {
            depth = depth.saturating_sub(1);
            if inline.last().is_some_and(|(_, d)| *d == depth) {
                inline.pop();
            }
        } else if ITEM_KEYWORDS.contains(&t) || (t == "macro_rules" && next == Some("!")) {
            let at = if t == "macro_rules" { i + 2 } else { i + 1 };
            if let Some(name) = toks.get(at).filter(|n| n.text.chars().all(is_ident)) {
                facts.defines.insert(name.text.clone());
                if t == "mod" && toks.get(at + 1).is_some_and(|t| t.text == "{") {
                    inline.push((name.text.clone(), depth));
                }
            }
        } else if t == "use" {
            let end = (i..toks.len())
                .find(|&j| toks[j].text == ";")
                .unwrap_or(toks.len());
            let mut flat = Vec::new();
            use_tree(&toks[i + 1..end], &mut Vec::new(), &mut flat);
            let s = scope();
            let before = |k: usize| i.checked_sub(k).map(|j| toks[j].text.as_str());
            let public =
                before(1) == Some("pub") || (before(1) == Some(")") && before(4) == Some("pub"));
            for (segments, name) in flat {
                facts.paths.push(PathRef {
                    scope: s.clone(),
                    segments,
                    line: toks[i].line,
                    in_use: true,
                    public,
                    name,
                });
            }
            i = end;
            continue;
        } else if is_path_start(&toks, i) {
            let mut segments = vec![t.to_string()];
            let mut j = i + 1;
            while toks.get(j).is_some_and(|t| t.text == "::")
                && toks
                    .get(j + 1)
                    .is_some_and(|t| t.text.chars().all(is_ident))
            {
                segments.push(toks[j + 1].text.clone());
                j += 2;
            }
            facts.paths.push(PathRef {
                scope: scope(),
                segments,
                line: toks[i].line,
                in_use: false,
                public: false,
                name: None,
            });
            i = j;
            continue;
        }
        i += 1;
    }
    facts
}

fn is_path_start(toks: &[Token], i: usize) -> bool {
    let first = toks[i]
        .text
        .chars()
        .next()
        .is_some_and(|c| is_ident(c) || c == '$');
    first && toks.get(i + 1).is_some_and(|t| t.text == "::") && (i == 0 || toks[i - 1].text != "::")
}

/// Flattens a use tree into its paths, each with the name it binds.
fn use_tree(
    toks: &[Token],
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    let mut i = 0;
    let start = prefix.len();
    while i < toks.len() {
        match toks[i].text.as_str() {
            "::" => {}
            "{" => {
                let close = matching(toks, i);
                for part in split_top(&toks[i + 1..close]) {
                    use_tree(part, prefix, out);
                }
                prefix.truncate(start);
                return;
            }
            "*" => {
                let mut p = prefix.clone();
                p.push("*".into());
                out.push((p, None));
                prefix.truncate(start);
                return;
            }
            "as" => {
                let alias = toks.get(i + 1).map(|t| t.text.clone());
                out.push((prefix.clone(), alias));
                prefix.truncate(start);
                return;
            }
            seg => prefix.push(seg.to_string()),
        }
        i += 1;
    }
    if prefix.len() > start {
        let name = prefix.last().cloned();
        out.push((prefix.clone(), name));
    }
    prefix.truncate(start);
}

fn matching(toks: &[Token], open: usize) -> usize {
    let mut depth = 0;
    for (j, t) in toks.iter().enumerate().skip(open) {
        match t.text.as_str() {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    return j;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

fn split_top(toks: &[Token]) -> Vec<&[Token]> {
    let (mut parts, mut depth, mut from) = (Vec::new(), 0, 0);
    for (j, t) in toks.iter().enumerate() {
        match t.text.as_str() {
            "{" => depth += 1,
            "}" => depth -= 1,
            "," if depth == 0 => {
                parts.push(&toks[from..j]);
                from = j + 1;
            }
            _ => {}
        }
    }
    parts.push(&toks[from..]);
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// The crate as the check sees it.
struct Crate {
    files: Vec<File>,
    facts: Vec<Facts>,
    by_module: BTreeMap<Vec<String>, usize>,
}

impl Crate {
    fn read() -> Crate {
        let files: Vec<File> = read_sources()
            .into_iter()
            .filter(|f| !f.rel.starts_with("bin/"))
            .collect();
        let facts = files.iter().map(facts).collect();
        let by_module = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.module.clone(), i))
            .collect();
        Crate {
            files,
            facts,
            by_module,
        }
    }

    /// The absolute module path a path written in `scope` means, or `None`
    /// for another crate's.
    fn absolute(&self, p: &PathRef) -> Option<Vec<String>> {
        let mut segs = p.segments.iter().map(String::as_str).peekable();
        let mut at: Vec<String> = match *segs.peek()? {
            "crate" | "$crate" => {
                segs.next();
                Vec::new()
            }
            "self" => {
                segs.next();
                p.scope.clone()
            }
            "super" => {
                let mut s = p.scope.clone();
                while segs.peek() == Some(&"super") {
                    segs.next();
                    s.pop();
                }
                s
            }
            first => {
                let mut child = p.scope.clone();
                child.push(first.to_string());
                if !self.by_module.contains_key(&child) {
                    return None;
                }
                p.scope.clone()
            }
        };
        at.extend(segs.map(String::from));
        Some(at)
    }

    /// The file that defines what an absolute path names.
    fn resolve(&self, path: &[String], hops: usize) -> Option<usize> {
        let k = (0..=path.len())
            .rev()
            .find(|&k| self.by_module.contains_key(&path[..k]))?;
        let file = self.by_module[&path[..k]];
        let Some(item) = path.get(k).filter(|i| *i != "*") else {
            return Some(file);
        };
        if hops > 8 || self.facts[file].defines.contains(item) {
            return Some(file);
        }
        for u in self.facts[file].paths.iter().filter(|u| u.in_use) {
            let target = self.absolute(u);
            if u.name.as_deref() == Some(item.as_str()) {
                if let Some(t) = target.and_then(|t| self.resolve(&t, hops + 1)) {
                    return Some(t);
                }
            } else if u.segments.last().is_some_and(|s| s == "*") {
                let Some(mut t) = target else { continue };
                t.pop();
                t.push(item.clone());
                if let Some(f) = self.resolve(&t, hops + 1)
                    && self.facts[f].defines.contains(item)
                {
                    return Some(f);
                }
            }
        }
        Some(file)
    }

    /// Every file-to-file edge, with the first line that makes it.
    fn edges(&self) -> BTreeMap<(usize, usize), usize> {
        let mut edges = BTreeMap::new();
        for (from, facts) in self.facts.iter().enumerate() {
            for p in &facts.paths {
                let Some(abs) = self.absolute(p) else {
                    continue;
                };
                if self.is_door(from, p, &abs) {
                    continue;
                }
                if let Some(to) = self.resolve(&abs, 0).filter(|&to| to != from) {
                    edges.entry((from, to)).or_insert(p.line);
                }
            }
        }
        edges
    }

    /// The folder-to-folder edges of file edges, each with the first import
    /// that makes it.
    fn folder_edges(
        &self,
        edges: &BTreeMap<(usize, usize), usize>,
    ) -> BTreeMap<(String, String), String> {
        let mut why = BTreeMap::new();
        for (&(a, b), line) in edges {
            let (ra, rb) = (self.room(a), self.room(b));
            if ra != rb {
                let (from, to) = (&self.files[a].rel, &self.files[b].rel);
                why.entry((ra, rb))
                    .or_insert_with(|| format!("{from}:{line} uses {to}"));
            }
        }
        why
    }

    /// A module's re-export of what its descendants define, a name its own
    /// code does not use: the door of a folder, not a dependency of it
    /// (`store/mod.rs`'s `pub use file::FileTokenStore`). What comes through
    /// the door leads to its definition (see `resolve`).
    fn is_door(&self, file: usize, p: &PathRef, abs: &[String]) -> bool {
        let module = &self.files[file].module;
        let used = p
            .name
            .as_ref()
            .is_some_and(|n| self.facts[file].names.contains(n));
        p.in_use && p.public && !used && abs.len() > module.len() && abs.starts_with(module)
    }

    /// A file's top-level folder (or file) under `src/`.
    fn room(&self, file: usize) -> String {
        self.files[file]
            .module
            .first()
            .cloned()
            .unwrap_or_else(|| "lib.rs".into())
    }
}

/// The circles of a graph, one shortest circle per strongly connected part.
fn circles<N: Ord + Clone>(edges: &BTreeSet<(N, N)>) -> Vec<Vec<N>> {
    let mut next: BTreeMap<N, Vec<N>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a.clone()).or_default().push(b.clone());
    }
    let reach = |from: &N| -> BTreeMap<N, Option<N>> {
        let mut seen = BTreeMap::from([(from.clone(), None)]);
        let mut queue = VecDeque::from([from.clone()]);
        while let Some(n) = queue.pop_front() {
            for m in next.get(&n).into_iter().flatten() {
                if !seen.contains_key(m) {
                    seen.insert(m.clone(), Some(n.clone()));
                    queue.push_back(m.clone());
                }
            }
        }
        seen
    };
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for start in next.keys() {
        if done.contains(start) {
            continue;
        }
        let from_start = reach(start);
        // The shortest way back: a predecessor of `start` reachable from it.
        let back = edges
            .iter()
            .filter(|(a, b)| b == start && from_start.contains_key(a))
            .map(|(a, _)| a.clone())
            .next();
        let Some(mut n) = back else { continue };
        let mut circle = vec![start.clone()];
        let mut tail = vec![n.clone()];
        while let Some(Some(p)) = from_start.get(&n) {
            if p == start {
                break;
            }
            tail.push(p.clone());
            n = p.clone();
        }
        tail.reverse();
        circle.extend(tail);
        circle.push(start.clone());
        done.extend(circle.iter().cloned());
        out.push(circle);
    }
    out
}

/// Each circle of `graph` as one line: every step, then the start again.
fn describe_circles<N: Ord + Clone>(
    graph: &BTreeSet<(N, N)>,
    step: impl Fn(&N, &N) -> String,
    name: impl Fn(&N) -> String,
) -> Vec<String> {
    circles(graph)
        .iter()
        .map(|c| {
            let steps: Vec<String> = c.windows(2).map(|w| step(&w[0], &w[1])).collect();
            format!("{} -> {}", steps.join(" -> "), name(&c[0]))
        })
        .collect()
}

#[test]
fn no_import_circle_between_files() {
    let krate = Crate::read();
    let edges = krate.edges();
    let graph: BTreeSet<(usize, usize)> = edges.keys().copied().collect();
    let found = describe_circles(
        &graph,
        |a, b| format!("{}:{}", krate.files[*a].rel, edges[&(*a, *b)]),
        |a| krate.files[*a].rel.clone(),
    );
    assert!(
        found.is_empty(),
        "import circles between files (file:line of each import):\n{}",
        found.join("\n")
    );
}

#[test]
fn no_import_circle_between_folders() {
    let krate = Crate::read();
    let why = krate.folder_edges(&krate.edges());
    let graph: BTreeSet<(String, String)> = why.keys().cloned().collect();
    let found = describe_circles(
        &graph,
        |a, b| format!("{a} ({})", why[&(a.clone(), b.clone())]),
        |a| a.clone(),
    );
    assert!(
        found.is_empty(),
        "import circles between folders:\n{}",
        found.join("\n")
    );
}

/// The layer of a top-level folder or file of `src/` (`None`: the crate root).
fn layer(room: &str) -> Option<usize> {
    if room == "lib.rs" {
        return None;
    }
    let found = LAYERS.iter().position(|(_, rooms)| rooms.contains(&room));
    Some(found.unwrap_or_else(|| panic!("src/{room} is in no layer: add it to LAYERS")))
}

#[test]
fn each_layer_imports_only_from_below() {
    let krate = Crate::read();
    let operations = layer("push").unwrap();
    let signing = layer("signer").unwrap();
    let sandbox = layer("sandbox").unwrap();
    let mut wrong = Vec::new();
    for ((from, to), why) in krate.folder_edges(&krate.edges()) {
        let (Some(a), Some(b)) = (layer(&from), layer(&to)) else {
            continue;
        };
        let ok = if a == sandbox {
            b <= signing
        } else {
            b < a || (a == b && a != operations)
        };
        if !ok {
            wrong.push(format!(
                "{from} ({}) -> {to} ({}): {why}",
                LAYERS[a].0, LAYERS[b].0
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_file_over_the_limit() {
    let long = read_sources()
        .iter()
        .filter(|f| f.lines > MAX_FILE_LINES)
        .map(|f| (f.rel.clone(), format!("src/{}: {} lines", f.rel, f.lines)))
        .collect();
    let long = owed(long, KNOWN_LONG_FILES);
    assert!(
        long.is_empty(),
        "files over {MAX_FILE_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn no_function_over_the_limit() {
    let mut long = Vec::new();
    for file in read_sources() {
        for (line, len, name) in function_lengths(&file.code) {
            if len > MAX_FN_LINES {
                let key = format!("{}:{name}", file.rel);
                long.push((key, format!("src/{}:{line}: {len} lines", file.rel)));
            }
        }
    }
    let long = owed(long, KNOWN_LONG_FNS);
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines:\n{}",
        long.join("\n")
    );
}

/// Each function with a body: the line of its `fn` and its length in lines,
/// from that line to its closing brace.
fn function_lengths(code: &str) -> Vec<(usize, usize, String)> {
    let toks = tokens(code);
    let mut out = Vec::new();
    for i in 0..toks.len() {
        let named = toks
            .get(i + 1)
            .is_some_and(|t| t.text.chars().all(is_ident));
        if toks[i].text != "fn" || !named {
            continue;
        }
        let mut nesting = 0i32;
        let body = toks[i..].iter().position(|t| {
            match t.text.as_str() {
                "(" | "[" => nesting += 1,
                ")" | "]" => nesting -= 1,
                _ => {}
            }
            nesting == 0 && (t.text == "{" || t.text == ";")
        });
        let Some(open) = body.map(|b| i + b).filter(|&o| toks[o].text == "{") else {
            continue;
        };
        let close = matching(&toks, open).min(toks.len() - 1);
        let name = toks[i + 1].text.clone();
        out.push((toks[i].line, toks[close].line - toks[i].line + 1, name));
    }
    out
}

/// The check itself can fail: a circle, a long file and a long function
/// written here are found.
#[test]
fn the_check_finds_what_it_looks_for() {
    let circle = BTreeSet::from([(1, 2), (2, 3), (3, 1), (3, 4)]);
    assert_eq!(circles(&circle), vec![vec![1, 2, 3, 1]]);
    assert!(circles(&BTreeSet::from([(1, 2), (2, 3)])).is_empty());
    let long = format!(
        "fn long() {{\n{}}}\nfn short(x: [u8; 2]) {{ }}\n",
        "let s = \"}\";\n".repeat(90)
    );
    assert_eq!(
        function_lengths(&blank(&long)),
        vec![(1, 92, "long".into()), (93, 1, "short".into())]
    );
    let uses = tokens(&blank("use crate::{a::{B, c as d}, e::*};"));
    let mut flat = Vec::new();
    use_tree(&uses[1..uses.len() - 1], &mut Vec::new(), &mut flat);
    let names: Vec<_> = flat
        .iter()
        .map(|(p, n)| (p.join("::"), n.clone()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("crate::a::B".to_string(), Some("B".to_string())),
            ("crate::a::c".to_string(), Some("d".to_string())),
            ("crate::e::*".to_string(), None),
        ]
    );
}

/// Prints the size limits' debt lists as they stand (`cargo test --test it
/// layout::debt -- --ignored --nocapture`): for recording debt, not for
/// growing it.
#[test]
#[ignore]
fn debt() {
    for file in read_sources() {
        if file.lines > MAX_FILE_LINES {
            println!("FILE {:?},", file.rel);
        }
        for (_, len, name) in function_lengths(&file.code) {
            if len > MAX_FN_LINES {
                println!("FN \"{}:{name}\",", file.rel);
            }
        }
    }
}
