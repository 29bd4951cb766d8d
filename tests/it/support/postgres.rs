//! A throwaway PostgreSQL cluster for the tests: `initdb` into a temporary
//! directory, `pg_ctl start` on a free loopback port with its socket in that
//! directory, stopped and removed when the test process exits (by a
//! watchdog, so that a failing test cleans up too).
//!
//! The server's binaries are looked for, in this order: `PG_BIN`,
//! `pg_config --bindir`, `initdb` on `PATH`, the newest
//! `/usr/lib/postgresql/*/bin` (Debian, Ubuntu), then Homebrew's prefix.
//! Any version the store's SQL supports will do (11 or newer). When none is
//! found, the tests that need one fail with one line saying what to install:
//! they are never skipped.
//!
//! PostgreSQL refuses to run as root: as root, the cluster runs as the
//! `postgres` user (through `runuser`); as anyone else, as that user.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The oldest PostgreSQL the store's SQL supports (`src/store/postgres.rs`).
pub const OLDEST: u32 = 11;

/// What to do when no PostgreSQL is found: one line.
const INSTALL: &str = "install PostgreSQL 11 or newer (Debian/Ubuntu: `apt-get install postgresql`; \
    Fedora: `dnf install postgresql-server`; macOS: `brew install postgresql@17`), \
    or set PG_BIN to the folder that holds its `initdb` and `pg_ctl`";

/// Where the binaries could be, as read from this machine.
#[derive(Default)]
pub struct Places {
    /// `PG_BIN`.
    pub pg_bin: Option<PathBuf>,
    /// What `pg_config --bindir` printed.
    pub pg_config: Option<PathBuf>,
    /// The folders of `PATH`.
    pub path: Vec<PathBuf>,
    /// The `bin` folders under `/usr/lib/postgresql/*/`, with their version.
    pub debian: Vec<(u32, PathBuf)>,
    /// Homebrew's prefix (`brew --prefix`, else its default places).
    pub homebrew: Vec<PathBuf>,
}

impl Places {
    /// Reads them from the environment, `pg_config` and the file system.
    fn of_this_machine() -> Places {
        let pg_config = path_printed_by("pg_config", "--bindir");
        let debian = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let version = e.file_name().to_str()?.parse().ok()?;
                Some((version, e.path().join("bin")))
            })
            .collect();
        let brew = path_printed_by("brew", "--prefix");
        let homebrew = brew
            .into_iter()
            .chain(["/opt/homebrew", "/usr/local"].map(PathBuf::from))
            .collect();
        Places {
            pg_bin: std::env::var_os("PG_BIN").map(PathBuf::from),
            pg_config,
            path: std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect())
                .unwrap_or_default(),
            debian,
            homebrew,
        }
    }

    /// The folders to try, in order. Homebrew's `postgresql@N` kegs are
    /// not linked into its `bin`: each prefix is tried as `bin`, then as
    /// `opt/postgresql@N/bin`, newest first.
    fn candidates(&self, brew_kegs: impl Fn(&Path) -> Vec<(u32, PathBuf)>) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self.pg_bin.iter().chain(&self.pg_config).cloned().collect();
        out.extend(self.path.iter().cloned());
        let mut debian = self.debian.clone();
        debian.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
        out.extend(debian.into_iter().map(|(_, p)| p));
        for prefix in &self.homebrew {
            out.push(prefix.join("bin"));
            let mut kegs = brew_kegs(prefix);
            kegs.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
            out.extend(kegs.into_iter().map(|(_, p)| p));
        }
        out
    }

    /// The first folder that holds `initdb`, where `PG_BIN`, when set,
    /// must be it.
    pub fn find(
        &self,
        brew_kegs: impl Fn(&Path) -> Vec<(u32, PathBuf)>,
        has_initdb: impl Fn(&Path) -> bool,
    ) -> Result<PathBuf, String> {
        if let Some(dir) = &self.pg_bin {
            return if has_initdb(dir) {
                Ok(dir.clone())
            } else {
                Err(format!(
                    "PG_BIN={} holds no `initdb`: {INSTALL}",
                    dir.display()
                ))
            };
        }
        self.candidates(brew_kegs)
            .into_iter()
            .find(|dir| has_initdb(dir))
            .ok_or_else(|| {
                format!(
                    "no PostgreSQL found (PG_BIN, pg_config, PATH, /usr/lib/postgresql, \
                     Homebrew) for the fleet tests: {INSTALL}"
                )
            })
    }
}

/// The path `program arg` prints, if it runs and succeeds.
fn path_printed_by(program: &str, arg: &str) -> Option<PathBuf> {
    let out = Command::new(program)
        .arg(arg)
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Homebrew's `opt/postgresql@N/bin` folders under `prefix`.
fn brew_kegs(prefix: &Path) -> Vec<(u32, PathBuf)> {
    std::fs::read_dir(prefix.join("opt"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let version = name.to_str()?.strip_prefix("postgresql@")?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .collect()
}

/// The major version in `initdb --version`'s answer, such as
/// "initdb (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)" or "initdb
/// (PostgreSQL) 9.6.24".
pub fn major_version(version_line: &str) -> Option<u32> {
    let mut words = version_line.split_whitespace();
    words.find(|w| *w == "(PostgreSQL)")?;
    words
        .next()?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The folder of this machine's PostgreSQL binaries, checked to be new
/// enough; panics with one line that says what to do otherwise.
pub fn bin_dir() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if as_root() {
            let postgres = Command::new("id").args(["-u", "postgres"]).output();
            assert!(
                postgres.is_ok_and(|o| o.status.success()),
                "the tests run as root, so the cluster must run as the user `postgres`, \
                 and there is none: create it (`useradd --system postgres`) or run as a normal user"
            );
        }
        let dir = Places::of_this_machine()
            .find(brew_kegs, |d| d.join("initdb").is_file())
            .unwrap_or_else(|e| panic!("{e}"));
        let out = Command::new(dir.join("initdb"))
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("{}/initdb does not run ({e}): {INSTALL}", dir.display()));
        let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        match major_version(&line) {
            Some(v) if v >= OLDEST => dir,
            _ => panic!(
                "{}/initdb is {line:?}, older than PostgreSQL {OLDEST} or unreadable: {INSTALL}",
                dir.display()
            ),
        }
    })
}

/// A running cluster.
pub struct Cluster {
    pub port: u16,
    dir: PathBuf,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

fn as_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false)
    })
}

/// A command run as the cluster's owner: `postgres` when the tests run as
/// root, the current user otherwise.
fn pg_command(program: &str) -> Command {
    let path = bin_dir().join(program);
    if as_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(path);
        cmd
    } else {
        Command::new(path)
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run ({e})"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Cluster {
    /// The cluster of this test process, started on first use.
    pub fn get() -> &'static Cluster {
        CLUSTER.get_or_init(Cluster::start)
    }

    fn start() -> Cluster {
        let bin = bin_dir();
        let dir =
            std::env::temp_dir().join(format!("digime-pg-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("cluster directory");
        if as_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["-R", "postgres:postgres"]).arg(&dir);
                    c
                },
                "chown",
            );
        }
        let data = dir.join("data");
        let mut initdb = pg_command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(initdb, "initdb");
        let port = free_port();
        let mut start = pg_command("pg_ctl");
        start
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("log"))
            .arg("-o")
            .arg(format!(
                "-p {port} -h 127.0.0.1 -k {} -c fsync=off -c synchronous_commit=off \
                 -c full_page_writes=off -c max_connections=200",
                dir.display()
            ))
            .args(["-w", "start"]);
        run(start, "pg_ctl start");
        // Stop and remove the cluster when this process exits, however it
        // exits. The watchdog outlives this process on purpose: it is never
        // waited for.
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {runas}{bin}/pg_ctl -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            runas = if as_root() {
                "runuser -u postgres -- "
            } else {
                ""
            },
            data = data.display(),
            dir = dir.display(),
            bin = bin.display(),
        );
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .args(["-c", &stop])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the cluster's watchdog starts");
        Cluster { port, dir }
    }

    /// A new, empty database, and its URL.
    pub fn database(&self, name: &str) -> String {
        let mut create = pg_command("createdb");
        create.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
            name,
        ]);
        run(create, "createdb");
        self.url(name)
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The cluster's directory (its log is `log` there).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod discovery {
    use super::*;

    fn places() -> Places {
        Places {
            pg_bin: None,
            pg_config: Some("/pgc/bin".into()),
            path: vec!["/p1".into(), "/p2".into()],
            debian: vec![
                (13, "/usr/lib/postgresql/13/bin".into()),
                (16, "/usr/lib/postgresql/16/bin".into()),
                (15, "/usr/lib/postgresql/15/bin".into()),
            ],
            homebrew: vec!["/opt/homebrew".into()],
        }
    }

    fn kegs(prefix: &Path) -> Vec<(u32, PathBuf)> {
        [14, 17, 16]
            .map(|v| (v, prefix.join(format!("opt/postgresql@{v}/bin"))))
            .to_vec()
    }

    /// Which folder is found when `initdb` sits only in `with`.
    fn found(places: &Places, with: &[&str]) -> Result<PathBuf, String> {
        places.find(kegs, |d| with.iter().any(|w| Path::new(w) == d))
    }

    #[test]
    fn the_places_are_tried_in_the_documented_order() {
        let p = places();
        let all = [
            "/pgc/bin",
            "/p2",
            "/usr/lib/postgresql/15/bin",
            "/usr/lib/postgresql/16/bin",
            "/opt/homebrew/bin",
            "/opt/homebrew/opt/postgresql@17/bin",
        ];
        assert_eq!(found(&p, &all).unwrap(), Path::new("/pgc/bin"));
        assert_eq!(found(&p, &all[1..]).unwrap(), Path::new("/p2"));
        // Debian's and Homebrew's: the newest version.
        assert_eq!(
            found(&p, &all[2..]).unwrap(),
            Path::new("/usr/lib/postgresql/16/bin")
        );
        assert_eq!(
            found(&p, &all[4..]).unwrap(),
            Path::new("/opt/homebrew/bin")
        );
        assert_eq!(
            found(&p, &["/opt/homebrew/opt/postgresql@14/bin", all[5]]).unwrap(),
            Path::new("/opt/homebrew/opt/postgresql@17/bin")
        );
    }

    #[test]
    fn pg_bin_wins_and_a_wrong_one_is_an_error_not_a_fallback() {
        let mut p = places();
        p.pg_bin = Some("/mine".into());
        assert_eq!(
            found(&p, &["/mine", "/pgc/bin"]).unwrap(),
            Path::new("/mine")
        );
        let err = found(&p, &["/pgc/bin"]).unwrap_err();
        assert!(err.starts_with("PG_BIN=/mine holds no `initdb`"), "{err}");
    }

    #[test]
    fn none_found_says_what_to_install_in_one_line() {
        let err = found(&places(), &[]).unwrap_err();
        assert!(!err.contains('\n'), "{err}");
        for what in ["PostgreSQL 11 or newer", "apt-get", "dnf", "brew", "PG_BIN"] {
            assert!(err.contains(what), "{what} in {err}");
        }
    }

    #[test]
    fn versions_are_read_from_initdb() {
        for (line, v) in [
            ("initdb (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)", Some(15)),
            ("initdb (PostgreSQL) 9.6.24", Some(9)),
            ("initdb (PostgreSQL) 17beta1", Some(17)),
            ("initdb 15", None),
        ] {
            assert_eq!(major_version(line), v, "{line}");
        }
    }
}
