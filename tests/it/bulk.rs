#![cfg(unix)]
//! Bulk pushes with the `digime` binary against a sandbox in this process:
//! a tree of files with a refresh mid-run, a SIGKILL and a rerun, 502s
//! after storage, a consent that runs out mid-run, bad input, and a
//! corrupt journal. Every check reads the sandbox's library, not the
//! binary's word.
use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use digime::ContractDetails;
use digime::sandbox::{Fault, Sandbox};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_digime");
const APP: &str = "bulk-app";
const CONTRACT: &str = "bulk-contract";
const USER: &str = "bulk-user";
const IMPORT: &str = "permission-access/import";

/// A sandbox with a write contract and a user, the key and token files,
/// and a folder for the files to push.
struct Env {
    sandbox: Sandbox,
    dir: tempfile::TempDir,
    key: PathBuf,
    token: PathBuf,
}

/// What a run of the binary printed: the per-file JSON lines and the
/// summary (the last line).
struct Run {
    code: i32,
    files: Vec<Value>,
    summary: Value,
    stderr: String,
}

impl Run {
    fn expect(self, code: i32) -> Self {
        assert_eq!(self.code, code, "exit code; stderr:\n{}", self.stderr);
        self
    }

    /// The files reported with `status`, by path.
    fn with_status(&self, status: &str) -> BTreeSet<String> {
        self.files
            .iter()
            .filter(|f| f["status"] == status)
            .map(|f| f["file"].as_str().unwrap().to_owned())
            .collect()
    }

    fn count(&self, key: &str) -> u64 {
        self.summary[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in {}", self.summary))
    }
}

impl Env {
    async fn new() -> Env {
        let support::CliFiles {
            sandbox,
            dir,
            key,
            token,
        } = support::CliFiles::new(APP, CONTRACT, USER).await;
        Env {
            sandbox,
            dir,
            key,
            token,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The binary, configured by environment variables, in the scratch
    /// folder (so that relative paths name the files there), with its own
    /// state folder for default journals.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_remove("DIGIME_TOKEN_STORE")
            .env_remove("DIGIME_USER")
            .env("DIGIME_BASE_URL", self.sandbox.base_url())
            .env("DIGIME_APP_ID", APP)
            .env("DIGIME_CONTRACT_ID", CONTRACT)
            .env("DIGIME_KEY_FILE", &self.key)
            .env("DIGIME_TOKEN_FILE", &self.token)
            .env("XDG_STATE_HOME", self.path("state"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, args: &[&str]) -> Run {
        let out = tokio::time::timeout(Duration::from_secs(60), self.command(args).output())
            .await
            .expect("the binary finishes")
            .expect("the binary runs");
        parse(out.status.code().expect("exited"), &out.stdout, &out.stderr)
    }

    /// Writes `count` files of distinct content under `root`, spread over
    /// nested folders; returns path (relative, as the binary names it) →
    /// SHA-256.
    fn tree(&self, root: &str, count: usize) -> BTreeMap<String, String> {
        let mut files = BTreeMap::new();
        for i in 0..count {
            let rel = format!("{root}/d{}/e{}/f{i:04}.txt", i % 5, i % 3);
            let content = format!("file {i} of {root}: {}", "x".repeat(i % 97));
            files.insert(rel.clone(), self.write(&rel, content.as_bytes()));
        }
        files
    }

    /// Writes a file (and its folders); returns its SHA-256.
    fn write(&self, rel: &str, bytes: &[u8]) -> String {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        support::sha256_hex(bytes)
    }

    /// How many times each SHA-256 is in the user's library.
    fn library(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for entry in self.sandbox.library(USER) {
            *counts.entry(entry.sha256.clone()).or_default() += 1;
        }
        counts
    }

    fn imports(&self) -> usize {
        self.sandbox
            .requests()
            .iter()
            .filter(|r| r.path == IMPORT)
            .count()
    }

    fn delay_imports(&self, ms: u64) {
        self.sandbox
            .inject_fault(Fault::with_delay(IMPORT, Duration::from_millis(ms)).times(100_000));
    }
}

fn parse(code: i32, stdout: &[u8], stderr: &[u8]) -> Run {
    let mut lines: Vec<Value> = String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let summary = lines.pop().expect("a summary line");
    for file in &lines {
        let keys: BTreeSet<&str> = file
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["file", "status", "size", "sha256", "error"]),
            "{file}"
        );
    }
    Run {
        code,
        files: lines,
        summary,
        stderr: String::from_utf8_lossy(stderr).into_owned(),
    }
}

/// The journal's records: (event, file) in order. Panics on a line that
/// is not a record: the journal must never be corrupt. (Blank lines are
/// space the writer reserved, left by a killed run.)
fn journal(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            (
                v["event"].as_str().unwrap().to_owned(),
                v["file"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `--json push library DIR --account acc-1 --jobs N --journal FILE`.
fn library_run(dir: &'static str, jobs: &'static str, journal: &'static str) -> [&'static str; 10] {
    [
        "--json",
        "push",
        "library",
        dir,
        "--account",
        "acc-1",
        "--jobs",
        jobs,
        "--journal",
        journal,
    ]
}

/// Files with a `begun` record and no outcome after it.
fn begun_only(records: &[(String, String)]) -> BTreeSet<String> {
    let mut open = BTreeSet::new();
    for (event, file) in records {
        match event.as_str() {
            "begun" => open.insert(file.clone()),
            "skipped" => false,
            _ => open.remove(file),
        };
    }
    open
}

fn with_event(records: &[(String, String)], event: &str) -> BTreeSet<String> {
    records
        .iter()
        .filter(|(e, _)| e == event)
        .map(|(_, f)| f.clone())
        .collect()
}

/// Starts the binary; returns it and a channel of its stdout lines.
fn spawn(
    env: &Env,
    args: &[&str],
) -> (
    tokio::process::Child,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let mut child = env.command(args).spawn().expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits until `n` lines report a stored file; returns every line read.
async fn until_stored(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    n: usize,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut stored = 0;
    while stored < n {
        let line = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("progress in time")
            .expect("the run goes on");
        stored += usize::from(line.contains(r#""status":"stored""#));
        seen.push(line);
    }
    seen
}

/// Waits for the child to end; its exit code and the whole run.
async fn finish(
    child: tokio::process::Child,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<String>,
    mut seen: Vec<String>,
) -> Run {
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the run ends")
        .unwrap();
    while let Some(line) = rx.recv().await {
        seen.push(line);
    }
    let stdout = seen.join("\n");
    parse(
        out.status.code().unwrap_or(-1),
        stdout.as_bytes(),
        &out.stderr,
    )
}

// ---------------------------------------------------------------- a tree, 8 jobs

#[tokio::test(flavor = "multi_thread")]
async fn five_hundred_files_in_a_tree_are_stored_once_each_with_one_refresh() {
    let env = Env::new().await;
    let files = env.tree("tree", 500);
    env.delay_imports(8);
    let (child, mut rx) = spawn(
        &env,
        &[
            "--json",
            "push",
            "library",
            "tree",
            "--account",
            "acc-1",
            "--jobs",
            "8",
        ],
    );
    let seen = until_stored(&mut rx, 100).await;
    // The token expires mid-run: the run refreshes it once, for all jobs.
    env.sandbox.expire_access_token(USER);
    let run = finish(child, rx, seen).await.expect(0);

    assert_eq!(run.count("stored"), 500);
    assert_eq!(
        (
            run.count("failed"),
            run.count("uncertain"),
            run.count("skipped")
        ),
        (0, 0, 0)
    );
    for file in &run.files {
        let path = file["file"].as_str().unwrap();
        assert_eq!(file["status"], "stored", "{file}");
        assert_eq!(
            file["sha256"].as_str(),
            Some(files[path].as_str()),
            "{file}"
        );
    }
    let library = env.library();
    let expected: BTreeMap<String, usize> = files.values().map(|s| (s.clone(), 1)).collect();
    assert_eq!(
        library, expected,
        "each file exactly once, with its SHA-256"
    );
    assert_eq!(
        env.sandbox.refresh_count(),
        1,
        "one refresh for the whole run"
    );
    let refused = env
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.path == IMPORT && r.status == 401)
        .count();
    assert!(refused >= 1, "the token did expire mid-run");
    assert!(
        run.stderr.contains("journal"),
        "the run names its journal: {}",
        run.stderr
    );
    let state = env.path("state/digime/journals");
    assert_eq!(
        std::fs::read_dir(state).unwrap().count(),
        1,
        "the default journal"
    );
}

// ---------------------------------------------------------------- SIGKILL

/// Starts `args`, SIGKILLs it half-way through the pushes that follow the
/// 15th stored file (each push held 200 ms by the sandbox), and returns
/// the files the journal has as stored and as begun with no outcome.
async fn kill_mid_run(
    env: &Env,
    args: &[&str],
    journal_path: &Path,
) -> (BTreeSet<String>, BTreeSet<String>) {
    env.delay_imports(200);
    let (mut child, mut rx) = spawn(env, args);
    until_stored(&mut rx, 15).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    child.start_kill().unwrap(); // SIGKILL: no cleanup at all
    child.wait().await.unwrap();
    env.sandbox.clear_faults();
    let records = journal(journal_path);
    (with_event(&records, "stored"), begun_only(&records))
}

/// How many times the library holds the content `sha`.
fn copies(library: &BTreeMap<String, usize>, sha: &str) -> usize {
    library.get(sha).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sigkilled_run_resumes_and_never_stores_a_file_twice() {
    let env = Env::new().await;
    let files = env.tree("docs", 60);
    let args = library_run("docs", "4", "run.jsonl");
    let (stored, in_flight) = kill_mid_run(&env, &args, &env.path("run.jsonl")).await;
    assert!(stored.len() >= 15, "{}", stored.len());
    assert!(!in_flight.is_empty(), "the kill lands mid-push");
    let library = env.library();
    for (path, sha) in &files {
        let n = copies(&library, sha);
        assert!(n <= 1, "{path} stored {n} times");
        assert!(
            !stored.contains(path) || n == 1,
            "{path} is recorded stored"
        );
    }

    // The rerun pushes only the files with no record; the ones in flight
    // at the kill are uncertain and not sent again.
    let before = env.imports();
    let run = env.run(&args).await.expect(1);
    let missing = files.len() - stored.len() - in_flight.len();
    assert_eq!(
        env.imports() - before,
        missing,
        "only what was missing is pushed"
    );
    assert_eq!(run.with_status("uncertain"), in_flight);
    assert_eq!(run.count("skipped") as usize, stored.len());
    assert_eq!(run.count("stored") as usize, missing);
    let library = env.library();
    for (path, sha) in &files {
        let n = copies(&library, sha);
        assert_eq!(
            n,
            if in_flight.contains(path) {
                n.min(1)
            } else {
                1
            },
            "{path}"
        );
    }

    // Resolving: the uncertain files the library lacks are named again
    // with --resend-uncertain; then every file is there exactly once.
    let lacking: Vec<&str> = in_flight
        .iter()
        .filter(|p| copies(&library, &files[p.as_str()]) == 0)
        .map(String::as_str)
        .collect();
    if !lacking.is_empty() {
        let resend = [
            "--json",
            "push",
            "library",
            "--account",
            "acc-1",
            "--journal",
            "run.jsonl",
            "--resend-uncertain",
        ];
        env.run(&[&resend[..], &lacking].concat()).await.expect(0);
    }
    let expected: BTreeMap<String, usize> = files.values().map(|s| (s.clone(), 1)).collect();
    assert_eq!(env.library(), expected);
    let before = env.imports();
    env.run(&args).await;
    assert_eq!(env.imports(), before, "a third run sends nothing");
}

// ---------------------------------------------------------------- Ctrl-C

fn interrupt(child: &tokio::process::Child) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_waits_for_the_pushes_in_flight_and_a_second_one_exits_at_once() {
    let env = Env::new().await;
    let files = env.tree("inbox", 40);
    let args = library_run("inbox", "4", "j.jsonl");
    env.delay_imports(200);

    // One Ctrl-C: the pushes in flight end and are recorded; no new one starts.
    let (child, mut rx) = spawn(&env, &args);
    let seen = until_stored(&mut rx, 4).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    interrupt(&child);
    let run = finish(child, rx, seen).await.expect(130);
    assert_eq!(run.summary["stopped"], "interrupted");
    let records = journal(&env.path("j.jsonl"));
    assert!(
        begun_only(&records).is_empty(),
        "every push that began was recorded"
    );
    let stored = with_event(&records, "stored");
    assert!(
        stored.len() >= 8 && stored.len() < files.len(),
        "{}",
        stored.len()
    );
    assert_eq!(env.library().len(), stored.len());

    // Two: exit at once, pushes in flight left uncertain, the journal intact.
    let (child, mut rx) = spawn(&env, &args);
    let seen = until_stored(&mut rx, 4).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    interrupt(&child);
    tokio::time::sleep(Duration::from_millis(20)).await;
    interrupt(&child);
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("a second Ctrl-C exits at once")
        .unwrap();
    assert_eq!(out.status.code(), Some(130));
    drop((rx, seen));
    let records = journal(&env.path("j.jsonl")); // every line a record
    let in_flight = begun_only(&records);
    assert!(!in_flight.is_empty(), "the second Ctrl-C did not wait");

    env.sandbox.clear_faults();
    let run = env.run(&args).await.expect(1);
    assert_eq!(run.with_status("uncertain"), in_flight);
    let library = env.library();
    for (path, sha) in &files {
        let copies = library.get(sha).copied().unwrap_or(0);
        if in_flight.contains(path) {
            assert!(copies <= 1, "{path}");
        } else {
            assert_eq!(copies, 1, "{path}");
        }
    }
}

// ---------------------------------------------------------------- 502 after storage

#[tokio::test(flavor = "multi_thread")]
async fn a_502_after_storage_is_uncertain_and_only_resend_uncertain_sends_it_again() {
    let env = Env::new().await;
    let files = env.tree("scans", 10);
    // The first three pushes are stored, then answered 502.
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 502).after_handling().times(3));
    let args = library_run("scans", "1", "j.jsonl");
    let run = env.run(&args).await.expect(1);
    let uncertain = run.with_status("uncertain");
    assert_eq!(uncertain.len(), 3);
    assert_eq!((run.count("stored"), run.count("uncertain")), (7, 3));
    for file in run.files.iter().filter(|f| f["status"] == "uncertain") {
        assert!(file["error"].as_str().unwrap().contains("502"), "{file}");
    }
    assert_eq!(env.library().len(), 10, "the sandbox stored all ten");

    let before = env.imports();
    let run = env.run(&args).await.expect(1);
    assert_eq!(env.imports(), before, "a rerun sends nothing");
    assert_eq!(
        run.with_status("uncertain"),
        uncertain,
        "still uncertain, not resent"
    );
    assert_eq!(run.count("skipped"), 7);

    let resend = [&args[..], &["--resend-uncertain"]].concat();
    let run = env.run(&resend).await.expect(0);
    assert_eq!(
        env.imports(),
        before + 3,
        "--resend-uncertain resends the three"
    );
    assert_eq!(run.with_status("stored"), uncertain);
    let library = env.library();
    for (path, sha) in &files {
        let expected = if uncertain.contains(path) { 2 } else { 1 };
        assert_eq!(library[sha], expected, "{path}: the opt-in may store twice");
    }
    env.run(&resend).await.expect(0);
    assert_eq!(env.imports(), before + 3, "stored is final");
}

// ---------------------------------------------------------------- consent runs out

#[tokio::test(flavor = "multi_thread")]
async fn a_consent_that_runs_out_mid_run_exits_3_and_the_rerun_after_reauthorize_finishes() {
    let env = Env::new().await;
    let files = env.tree("records", 40);
    let args = library_run("records", "2", "j.jsonl");
    env.delay_imports(20);
    let (child, mut rx) = spawn(&env, &args);
    let seen = until_stored(&mut rx, 8).await;
    env.sandbox.expire_access_token(USER);
    env.sandbox.expire_refresh_token(USER);
    let run = finish(child, rx, seen).await.expect(3);
    env.sandbox.clear_faults();
    assert_eq!(run.summary["stopped"], "reauthorization_required");
    assert!(run.stderr.contains("digime reauthorize"), "{}", run.stderr);
    let records = journal(&env.path("j.jsonl")); // every line a record
    let stored = with_event(&records, "stored");
    assert!(
        begun_only(&records).is_empty(),
        "every push that began has its outcome"
    );
    assert!(stored.len() < files.len(), "the run stopped early");
    assert_eq!(run.with_status("stored"), stored);
    assert_eq!(env.library().len(), stored.len());

    reauthorize(&env).await;
    let run = env.run(&args).await.expect(0);
    assert_eq!(run.count("skipped") as usize, stored.len());
    assert_eq!(run.count("stored") as usize, files.len() - stored.len());
    let expected: BTreeMap<String, usize> = files.values().map(|s| (s.clone(), 1)).collect();
    assert_eq!(env.library(), expected);
}

/// `digime reauthorize --callback-port 0`, with the consent given as a
/// browser would.
async fn reauthorize(env: &Env) {
    let mut child = env
        .command(&["reauthorize", "--callback-port", "0"])
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the URL is printed");
            if line.starts_with("http") {
                return line;
            }
        }
    })
    .await
    .unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let consent = browser.get(&url).send().await.unwrap();
    let location = consent.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(reqwest::get(&location).await.unwrap().status(), 200);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

// ---------------------------------------------------------------- bad input

/// Good files, an empty one, a hidden one, a mode-0 one, an empty folder
/// and a dangling symlink. Returns the SHA-256s of the files that can be
/// pushed (the mode-0 file among them when this user reads it anyway, as
/// root does).
fn bad_input(env: &Env) -> BTreeSet<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut good: BTreeSet<String> = [
        env.write("in/a.txt", b"a"),
        env.write("in/sub/b.pdf", b"%PDF b"),
    ]
    .into();
    env.write("in/empty.txt", b"");
    env.write("in/.hidden", b"hidden: skipped unless named");
    let locked = env.write("in/locked.txt", b"locked");
    std::fs::create_dir_all(env.path("nothing/inside")).unwrap();
    std::os::unix::fs::symlink(env.path("gone"), env.path("dangling.txt")).unwrap();
    let mode_0 = std::fs::Permissions::from_mode(0o000);
    std::fs::set_permissions(env.path("in/locked.txt"), mode_0).unwrap();
    if std::fs::read(env.path("in/locked.txt")).is_ok() {
        good.insert(locked);
    }
    good
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_message_per_file_and_the_rest_is_stored() {
    let env = Env::new().await;
    let good = bad_input(&env);
    let args = [
        "--json",
        "push",
        "library",
        "in",
        "nothing",
        "dangling.txt",
        "missing.pdf",
        "--account",
        "acc-1",
    ];
    let run = env.run(&args).await.expect(1);
    let by_file: BTreeMap<&str, &Value> = run
        .files
        .iter()
        .map(|f| (f["file"].as_str().unwrap(), f))
        .collect();
    let error = |file: &str| {
        by_file[file]["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let expected = [
        ("in/empty.txt", "in/empty.txt is empty (0 bytes)"),
        ("nothing", "nothing holds no file to push"),
        ("dangling.txt", "cannot read dangling.txt"),
        ("missing.pdf", "cannot read missing.pdf"),
    ];
    for (file, message) in expected {
        assert!(error(file).contains(message), "{file}: {}", error(file));
        assert_eq!(by_file[file]["status"], "failed");
    }
    if !good.contains(&support::sha256_hex(b"locked")) {
        assert!(
            error("in/locked.txt").contains("ermission denied"),
            "{}",
            error("in/locked.txt")
        );
    }
    assert!(!by_file.contains_key("in/.hidden"));
    let library: BTreeSet<String> = env.library().into_keys().collect();
    assert_eq!(library, good, "exactly the good files, nothing else");
    assert_eq!(run.count("stored") as usize, good.len());
    assert_eq!(run.with_status("stored").len(), good.len());
    // A hidden file is pushed when named.
    let hidden = [
        "--json",
        "push",
        "library",
        "in/.hidden",
        "--journal",
        "h.jsonl",
        "--account",
        "acc-1",
    ];
    env.run(&hidden).await.expect(0);
    assert_eq!(env.library().len(), good.len() + 1);
}

// ---------------------------------------------------------------- corrupt journal

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_journal_is_recovered_and_no_stored_file_is_sent_again() {
    let env = Env::new().await;
    env.tree("batch", 6);
    let args = library_run("batch", "1", "j.jsonl");
    env.run(&args).await.expect(0);
    // A garbled line in the middle, and the last record cut mid-line by a crash.
    let path = env.path("j.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let last = lines.pop().unwrap();
    lines.insert(3, "\u{0}garbage{{{");
    let corrupt = format!("{}\n{}", lines.join("\n"), &last[..last.len() / 2]);
    std::fs::write(&path, corrupt).unwrap();

    let before = env.imports();
    let run = env.run(&args).await.expect(1);
    assert_eq!(env.imports(), before, "no stored file is sent again");
    assert!(
        run.stderr.contains("2 unreadable lines ignored"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("line 4"), "{}", run.stderr);
    assert!(run.stderr.contains("line 13: cut short"), "{}", run.stderr);
    // The file whose `stored` record was cut still has its `begun`: uncertain.
    assert_eq!((run.count("skipped"), run.count("uncertain")), (5, 1));
    assert!(env.library().values().all(|&n| n == 1));
    // The journal reads cleanly after the run's own records.
    let run = env.run(&args).await.expect(1);
    assert!(
        run.stderr.contains("2 unreadable lines ignored"),
        "{}",
        run.stderr
    );
    assert_eq!(env.imports(), before);
}

// ---------------------------------------------------------------- providers

#[tokio::test(flavor = "multi_thread")]
async fn provider_bulk_pushes_each_record_once_with_the_same_journal() {
    let env = Env::new().await;
    env.write("fhir/a.json", br#"{"resourceType":"Patient","id":"a"}"#);
    env.write("fhir/b.json", br#"{"resourceType":"Patient","id":"b"}"#);
    env.write("fhir/c.json", b"[1, 2]");
    let args = [
        "--json",
        "push",
        "provider",
        "fhir/a.json",
        "fhir/b.json",
        "fhir/c.json",
        "--account-id",
        "acc-1",
        "--journal",
        "p.jsonl",
    ];
    let run = env.run(&args).await.expect(1);
    assert_eq!(run.count("stored"), 2);
    assert!(run.files.iter().any(
        |f| f["file"] == "fhir/c.json" && f["error"].as_str().unwrap().contains("JSON object")
    ));
    let run = env.run(&args).await.expect(1);
    assert_eq!((run.count("skipped"), run.count("stored")), (2, 0));
    assert_eq!(env.sandbox.provider_pushes(USER).len(), 2);
}

// ---------------------------------------------------------------- the library

/// The pattern of `digime::bulk`'s docs, as a user writes it: a journal,
/// `buffer_unordered`, one session; then the same again.
async fn backfill(
    session: &digime::UserSession,
    journal: &digime::bulk::Journal,
    files: &[(String, Vec<u8>)],
) -> Vec<digime::bulk::Status> {
    use digime::bulk::{FileIdentity, Status};
    use futures_util::{StreamExt, stream};
    stream::iter(files)
        .map(|(name, bytes)| async move {
            let id = FileIdentity::of_bytes(name.as_str(), bytes);
            if !journal.claim(&id, false).await.unwrap().is_push() {
                return Status::Skipped;
            }
            let result = session
                .push()
                .library()
                .file(bytes.clone(), name.as_str())
                .descriptor(
                    digime::FileDescriptor::builder()
                        .mime_type("text/plain")
                        .accounts(vec![digime::Account::new("acc-1")])
                        .build(),
                )
                .send()
                .await;
            let status = Status::of_push(&result);
            let error = result.err().map(|e| e.to_string());
            journal.finish(&id, status, error.as_deref()).await.unwrap();
            status
        })
        .buffer_unordered(4)
        .collect()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_library_pattern_never_stores_a_file_twice() {
    use digime::bulk::{Journal, Status};
    let env = Env::new().await;
    let pem = std::fs::read_to_string(&env.key).unwrap();
    let contract = ContractDetails::new(CONTRACT, &pem).unwrap();
    let token = serde_json::from_str(&std::fs::read_to_string(&env.token).unwrap()).unwrap();
    let sdk = digime::DigiMe::builder()
        .application_id(APP)
        .base_url(&env.sandbox.base_url())
        .build()
        .unwrap();
    let session = sdk.session(&contract, token);
    let files: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| (format!("f{i}.txt"), format!("file {i}").into_bytes()))
        .collect();
    // Two pushes are stored and answered 502; one is refused (nothing stored).
    env.sandbox
        .inject_fault(Fault::with_status(IMPORT, 502).after_handling().times(2));
    env.sandbox.inject_fault(Fault::with_status(IMPORT, 400));
    let journal = Journal::open(env.path("lib.jsonl")).unwrap();
    let statuses = backfill(&session, &journal, &files).await;
    let count = |s: Status| statuses.iter().filter(|&&x| x == s).count();
    assert_eq!(
        (
            count(Status::Stored),
            count(Status::Uncertain),
            count(Status::Failed)
        ),
        (17, 2, 1)
    );
    assert_eq!(env.library().len(), 19);
    drop(journal);

    let journal = Journal::open(env.path("lib.jsonl")).unwrap();
    let before = env.imports();
    let statuses = backfill(&session, &journal, &files).await;
    assert_eq!(
        env.imports(),
        before + 1,
        "only the failed file is sent again"
    );
    assert_eq!(statuses.iter().filter(|&&s| s == Status::Stored).count(), 1);
    let expected: BTreeMap<String, usize> = files
        .iter()
        .map(|(_, b)| (support::sha256_hex(b), 1))
        .collect();
    assert_eq!(env.library(), expected, "each file once");
}
