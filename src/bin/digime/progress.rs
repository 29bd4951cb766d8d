//! The upload progress bar: on stderr, only when stderr is a terminal and
//! the file is big enough for a person to wait on it.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Files of this size or more get a bar: 4 MiB.
pub const THRESHOLD: u64 = 4 << 20;

/// Whether a file of `size` bytes gets a bar when stderr is (or is not) a
/// terminal.
pub fn wanted(size: u64, stderr_is_terminal: bool) -> bool {
    stderr_is_terminal && size >= THRESHOLD
}

/// A bar for an upload of `size` bytes, or `None` when none is wanted.
pub fn for_upload(size: u64) -> Option<ProgressBar> {
    if !wanted(size, std::io::stderr().is_terminal()) {
        return None;
    }
    Some(bytes_bar(
        size,
        "{spinner} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ))
}

/// A bar on stderr over `total` bytes, drawn with `template` (indicatif's
/// template syntax; a bad one leaves indicatif's default style).
pub fn bytes_bar(total: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

pub fn finish(bar: Option<&ProgressBar>) {
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

pub fn abandon(bar: Option<&ProgressBar>) {
    if let Some(bar) = bar {
        bar.abandon();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_big_files_on_a_terminal_get_a_bar() {
        assert!(wanted(THRESHOLD, true));
        assert!(!wanted(THRESHOLD - 1, true));
        assert!(!wanted(THRESHOLD * 10, false));
    }
}
