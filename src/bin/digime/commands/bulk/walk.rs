//! The files of a bulk run, one at a time: named files as they are, named
//! folders walked recursively in name order. Nothing holds the list.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use walkdir::{DirEntry, WalkDir};

/// What the walk yields.
pub enum Item {
    /// A file to push.
    File(PathBuf),
    /// A named path that cannot be pushed, with what is wrong.
    Problem { path: PathBuf, message: String },
    /// Something inside a folder that is passed over (a symlink, a socket).
    Passed { path: PathBuf, why: &'static str },
}

type Entries = Box<dyn Iterator<Item = walkdir::Result<DirEntry>> + Send>;

/// The folder being walked.
struct Folder {
    root: PathBuf,
    entries: Entries,
    files: u64,
}

/// The walk over the named paths; it ends early once `stop` is set.
pub struct Walk {
    roots: std::vec::IntoIter<PathBuf>,
    folder: Option<Folder>,
    stop: Arc<AtomicBool>,
}

impl Walk {
    pub fn new(roots: Vec<PathBuf>, stop: Arc<AtomicBool>) -> Self {
        Self {
            roots: roots.into_iter(),
            folder: None,
            stop,
        }
    }

    /// The next entry of the folder under way, if there is one.
    fn next_in_folder(&mut self) -> Option<Item> {
        let folder = self.folder.as_mut()?;
        loop {
            let entry = match folder.entries.next() {
                Some(Ok(entry)) => entry,
                Some(Err(e)) => {
                    let path = e.path().unwrap_or(&folder.root).to_path_buf();
                    let message = format!("cannot read {}: {}", path.display(), io_reason(&e));
                    return Some(Item::Problem { path, message });
                }
                None => break,
            };
            let kind = entry.file_type();
            if entry.depth() == 0 || kind.is_dir() {
                continue;
            }
            if kind.is_file() {
                folder.files += 1;
                return Some(Item::File(entry.into_path()));
            }
            let why = if kind.is_symlink() {
                "a symlink inside a folder (symlinks are followed only when named)"
            } else {
                "not a regular file"
            };
            return Some(Item::Passed {
                path: entry.into_path(),
                why,
            });
        }
        let folder = self.folder.take()?;
        (folder.files == 0).then(|| Item::Problem {
            message: format!(
                "{} holds no file to push (hidden files and symlinks inside a folder are skipped)",
                folder.root.display()
            ),
            path: folder.root,
        })
    }

    /// The item for a named path: a file, a folder to walk, or a problem.
    fn start(&mut self, root: PathBuf) -> Option<Item> {
        // A named symlink is followed: metadata, not symlink_metadata.
        match std::fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => {
                let entries = WalkDir::new(&root)
                    .follow_links(false)
                    .follow_root_links(true)
                    .sort_by_file_name()
                    .into_iter()
                    .filter_entry(|e| e.depth() == 0 || !is_hidden(e));
                self.folder = Some(Folder {
                    root,
                    entries: Box::new(entries),
                    files: 0,
                });
                None
            }
            Ok(meta) if meta.is_file() => Some(Item::File(root)),
            Ok(_) => Some(Item::Problem {
                message: format!("{} is not a regular file or a folder", root.display()),
                path: root,
            }),
            Err(e) => Some(Item::Problem {
                message: format!("cannot read {}: {e}", root.display()),
                path: root,
            }),
        }
    }
}

impl Iterator for Walk {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return None;
            }
            if self.folder.is_some() {
                if let Some(item) = self.next_in_folder() {
                    return Some(item);
                }
                continue;
            }
            let root = self.roots.next()?;
            if let Some(item) = self.start(root) {
                return Some(item);
            }
        }
    }
}

fn is_hidden(entry: &DirEntry) -> bool {
    entry.file_name().to_string_lossy().starts_with('.')
}

fn io_reason(e: &walkdir::Error) -> String {
    match e.io_error() {
        Some(io) => io.to_string(),
        None => e.to_string(),
    }
}

/// How many files, and how many bytes, the walk of `roots` yields: for the
/// progress bar's totals (a second walk, counting only).
pub fn count(roots: &[PathBuf]) -> (u64, u64) {
    let mut files = 0;
    let mut bytes = 0;
    for item in Walk::new(roots.to_vec(), Arc::new(AtomicBool::new(false))) {
        if let Item::File(path) = item {
            files += 1;
            bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        }
    }
    (files, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(roots: &[PathBuf]) -> Vec<String> {
        Walk::new(roots.to_vec(), Arc::new(AtomicBool::new(false)))
            .map(|item| match item {
                Item::File(p) => format!("file {}", p.display()),
                Item::Problem { path, .. } => format!("problem {}", path.display()),
                Item::Passed { path, .. } => format!("passed {}", path.display()),
            })
            .collect()
    }

    #[test]
    fn folders_walk_in_name_order_without_hidden_files_or_inner_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("b/c")).unwrap();
        std::fs::create_dir_all(d.join("empty")).unwrap();
        std::fs::create_dir_all(d.join(".hidden-dir")).unwrap();
        for f in [
            "b/z.txt",
            "b/a.txt",
            "b/c/m.txt",
            ".hidden",
            ".hidden-dir/x",
            "a.txt",
        ] {
            std::fs::write(d.join(f), f).unwrap();
        }
        std::os::unix::fs::symlink(d.join("a.txt"), d.join("b/link")).unwrap();
        let root = d.to_path_buf();
        let got = files(&[root.clone(), d.join(".hidden"), d.join("b/link")]);
        let p = |s: &str| d.join(s).display().to_string();
        assert_eq!(
            got,
            vec![
                format!("file {}", p("a.txt")),
                format!("file {}", p("b/a.txt")),
                format!("file {}", p("b/c/m.txt")),
                format!("passed {}", p("b/link")),
                format!("file {}", p("b/z.txt")),
                format!("file {}", p(".hidden")),
                format!("file {}", p("b/link")),
            ]
        );
        assert_eq!(
            files(&[d.join("empty")]),
            vec![format!("problem {}", p("empty"))]
        );
        assert_eq!(
            files(&[d.join("missing")]),
            vec![format!("problem {}", p("missing"))]
        );
        assert_eq!(count(&[root]), (4, 28));
    }

    #[test]
    fn a_stop_ends_the_walk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "a").unwrap();
        let stop = Arc::new(AtomicBool::new(true));
        assert_eq!(Walk::new(vec![dir.path().to_path_buf()], stop).count(), 0);
    }
}
