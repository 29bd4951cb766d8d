//! The type-state rules of the push and consent-flow builders and of the
//! `FileDescriptor` builder, checked at compile time.
//!
//! Each file in `tests/ui/` breaks exactly one rule. Its `.expected` file
//! lists the diagnostics the compiler must give, pinning only what this crate
//! controls: the error code, our `on_unimplemented` sentence (or the missing
//! method's name), its label and its note. The rest of rustc's rendering
//! (help lines, spans, the marker and trait names in its notes) is free to
//! change with a new stable rustc. The files in `tests/ui/pass/` must compile.
//!
//! The format of an `.expected` file, one diagnostic per unindented line:
//!
//! ```text
//! error[E0277]: <text the diagnostic's message contains>
//!   label: <text its primary label contains>
//!   note: <text one of its notes contains>
//! warning: <text a warning's message contains>
//! ```
//!
//! A case passes when every listed diagnostic is found (each matched once)
//! and the compiler gave no error beyond those listed: a missing field that
//! is reported twice (at `.send()` and again at `.await`) fails. Warnings
//! that are not listed are ignored.
//!
//! How: the cases become the binaries of a scratch package that depends on
//! this crate by path (with this crate's `Cargo.lock`), checked with one
//! `cargo check --message-format=json`. The scratch package lives under
//! `target/tmp` and shares the crate's target folder, so the dependencies
//! are checked once, and later runs only re-check the cases.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// One diagnostic the compiler gave, reduced to what the checks read.
#[derive(Debug)]
struct Diagnostic {
    level: String,
    code: Option<String>,
    message: String,
    labels: Vec<String>,
    notes: Vec<String>,
}

impl Diagnostic {
    fn from_json(message: &Value) -> Option<Self> {
        let level = message["level"].as_str()?.to_owned();
        let code = message["code"]["code"].as_str().map(str::to_owned);
        let spans = message["spans"].as_array().cloned().unwrap_or_default();
        let labels = spans
            .iter()
            .filter(|s| s["is_primary"].as_bool() == Some(true))
            .filter_map(|s| s["label"].as_str().map(str::to_owned))
            .collect();
        let notes = message["children"]
            .as_array()
            .map(|children| {
                children
                    .iter()
                    .filter_map(|c| c["message"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            level,
            code,
            message: message["message"].as_str()?.to_owned(),
            labels,
            notes,
        })
    }

    fn is_error(&self) -> bool {
        self.level == "error"
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => writeln!(f, "{}[{code}]: {}", self.level, self.message)?,
            None => writeln!(f, "{}: {}", self.level, self.message)?,
        }
        for label in &self.labels {
            writeln!(f, "  label: {label}")?;
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        Ok(())
    }
}

/// One line of an `.expected` file and its indented `label:`/`note:` lines.
#[derive(Debug)]
struct Expected {
    level: String,
    code: Option<String>,
    message: String,
    labels: Vec<String>,
    notes: Vec<String>,
}

impl Expected {
    fn parse_file(path: &Path) -> Vec<Self> {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()));
        let mut out: Vec<Self> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let at = || format!("{}:{}", path.display(), n + 1);
            if line.trim().is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("  ") {
                let last = out
                    .last_mut()
                    .unwrap_or_else(|| panic!("{}: an indented line needs a diagnostic", at()));
                if let Some(label) = rest.strip_prefix("label: ") {
                    last.labels.push(label.to_owned());
                } else if let Some(note) = rest.strip_prefix("note: ") {
                    last.notes.push(note.to_owned());
                } else {
                    panic!("{}: expected `label: ` or `note: `", at());
                }
                continue;
            }
            let (head, message) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("{}: expected `level[code]: text`", at()));
            let (level, code) = match head.split_once('[') {
                Some((level, code)) => (level, Some(code.trim_end_matches(']').to_owned())),
                None => (head, None),
            };
            assert!(
                level == "error" || level == "warning",
                "{}: the level must be `error` or `warning`",
                at()
            );
            out.push(Self {
                level: level.to_owned(),
                code,
                message: message.trim().to_owned(),
                labels: Vec::new(),
                notes: Vec::new(),
            });
        }
        out
    }

    fn matches(&self, d: &Diagnostic) -> bool {
        d.level == self.level
            && (self.code.is_none() || d.code == self.code)
            && d.message.contains(&self.message)
            && self
                .labels
                .iter()
                .all(|l| d.labels.iter().any(|got| got.contains(l.as_str())))
            && self
                .notes
                .iter()
                .all(|n| d.notes.iter().any(|got| got.contains(n.as_str())))
    }
}

/// The `.rs` files directly in `dir`, by case name.
fn cases(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("the ui folder") {
        let path = entry.expect("a ui entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            found.insert(name, path);
        }
    }
    found
}

/// Writes the scratch package: one binary per case.
fn scratch_package(root: &Path, dir: &Path, all: &BTreeMap<String, PathBuf>) {
    std::fs::create_dir_all(dir).unwrap();
    let mut manifest = format!(
        r#"[package]
name = "digime-ui-cases"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
digime = {{ path = {root:?} }}
bytes = "1"
serde_json = "1"
"#,
        root = root.display().to_string()
    );
    for (name, path) in all {
        write!(
            manifest,
            "\n[[bin]]\nname = {name:?}\npath = {path:?}\ntest = false\n",
            path = path.display().to_string()
        )
        .unwrap();
    }
    write_if_changed(&dir.join("Cargo.toml"), &manifest);
    // The crate's own lock: the same dependency versions, nothing to fetch.
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).expect("Cargo.lock");
    write_if_changed(&dir.join("Cargo.lock"), &lock);
}

/// Leaves an unchanged file alone, so that cargo's fingerprints hold.
fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).unwrap();
    }
}

/// The target folder this test was built in (`CARGO_TARGET_TMPDIR` is its
/// `tmp`).
fn target_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map_or(tmp.clone(), Path::to_path_buf)
}

/// `cargo check` of every case; the diagnostics by case name.
fn check(dir: &Path) -> BTreeMap<String, Vec<Diagnostic>> {
    let output = Command::new(env!("CARGO"))
        .current_dir(dir)
        .args(["check", "--bins", "--keep-going", "--message-format=json"])
        // The crate's own target folder: the dependencies checked there
        // (by `cargo check`, CI's package check, or an earlier run) are not checked
        // again. Cargo holds no lock on it while tests run.
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("RUSTFLAGS")
        // CI builds the tests with clippy as rustc's wrapper (.ci/run): the
        // cases are judged on rustc's own diagnostics.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .output()
        .expect("cargo runs");
    let mut by_case: BTreeMap<String, Vec<Diagnostic>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if value["reason"] != "compiler-message" {
            continue;
        }
        let Some(name) = value["target"]["name"].as_str() else {
            continue;
        };
        if let Some(d) = Diagnostic::from_json(&value["message"]) {
            // rustc's summary line ("aborting due to…") is not a finding.
            if d.code.is_none() && d.message.starts_with("aborting due to") {
                continue;
            }
            by_case.entry(name.to_owned()).or_default().push(d);
        }
    }
    if by_case.is_empty() && !output.status.success() {
        panic!(
            "cargo check of the ui cases failed without diagnostics:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    by_case
}

/// What is wrong with one failing case, if anything.
fn judge(expected: &[Expected], got: &[Diagnostic]) -> Option<String> {
    let mut used = vec![false; got.len()];
    let mut problems = String::new();
    for e in expected {
        let hit = got
            .iter()
            .enumerate()
            .find(|(i, d)| !used[*i] && e.matches(d));
        match hit {
            Some((i, _)) => used[i] = true,
            None => writeln!(problems, "  not found: {e:?}").unwrap(),
        }
    }
    for (d, used) in got.iter().zip(&used) {
        if d.is_error() && !used {
            writeln!(problems, "  an error not in the .expected file:\n{d}").unwrap();
        }
    }
    if !got.iter().any(Diagnostic::is_error) {
        writeln!(problems, "  it compiled, but must not").unwrap();
    }
    (!problems.is_empty()).then_some(problems)
}

#[test]
fn type_states() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let ui = root.join("tests/ui");
    let failing = cases(&ui);
    let passing = cases(&ui.join("pass"));
    assert!(
        !failing.is_empty() && !passing.is_empty(),
        "no ui cases found"
    );
    let mut all = failing.clone();
    for (name, path) in &passing {
        all.insert(format!("pass_{name}"), path.clone());
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-cases");
    scratch_package(&root, &dir, &all);
    let diagnostics = check(&dir);

    let mut report = String::new();
    for (name, path) in &failing {
        let expected = Expected::parse_file(&path.with_extension("expected"));
        let got = diagnostics.get(name).map(Vec::as_slice).unwrap_or_default();
        if let Some(problems) = judge(&expected, got) {
            let mut actual = String::new();
            for d in got {
                write!(actual, "{d}").unwrap();
            }
            writeln!(
                report,
                "{}:\n{problems}  the compiler said:\n{actual}",
                path.display()
            )
            .unwrap();
        }
    }
    for name in passing.keys() {
        let case = format!("pass_{name}");
        for d in diagnostics.get(&case).into_iter().flatten() {
            if d.is_error() {
                writeln!(report, "tests/ui/pass/{name}.rs must compile:\n{d}").unwrap();
            }
        }
    }
    assert!(report.is_empty(), "compile-fail cases failed:\n{report}");
}

#[test]
fn the_expectations_reject_what_they_should() {
    // The matcher itself: a second report of the same error, a wrong code,
    // or a missing note each make a case fail.
    let expected = vec![Expected {
        level: "error".into(),
        code: Some("E0277".into()),
        message: "the state is missing".into(),
        labels: vec!["no state yet".into()],
        notes: vec!["needs both".into()],
    }];
    let diagnostic = |code: &str, note: &str| Diagnostic {
        level: "error".into(),
        code: Some(code.into()),
        message: "the state is missing: call `.state(..)`".into(),
        labels: vec!["this authorize call has no state yet".into()],
        notes: vec![note.into()],
    };
    let good = diagnostic("E0277", "an authorize call needs both");
    assert_eq!(judge(&expected, &[good]), None);
    let twice = [
        diagnostic("E0277", "an authorize call needs both"),
        diagnostic("E0277", "an authorize call needs both"),
    ];
    assert!(judge(&expected, &twice).is_some(), "a second report fails");
    let wrong_code = [diagnostic("E0599", "an authorize call needs both")];
    assert!(
        judge(&expected, &wrong_code).is_some(),
        "a wrong code fails"
    );
    let no_note = [diagnostic("E0277", "something else")];
    assert!(judge(&expected, &no_note).is_some(), "a missing note fails");
    assert!(judge(&expected, &[]).is_some(), "compiling fails");
}
