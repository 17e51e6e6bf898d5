//! Helpers shared by the host's integration tests: temporary directories, the repository's
//! bundled files, and running the `tradeloop` binary.
//!
//! Each test file is its own crate and uses a subset of these, hence the `dead_code` allow.
#![allow(
    dead_code,
    reason = "each integration test crate uses a subset of the helpers"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

/// The `tradeloop` binary Cargo built for this test run.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_tradeloop");

/// The repository's root directory.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A bundled price series in `data/market/`.
pub(crate) fn data(name: &str) -> PathBuf {
    root().join("data/market").join(name)
}

/// A fresh, empty temporary directory, removed on drop. Names are unique per process and
/// call, so tests running in parallel never share one.
pub(crate) struct Temp(PathBuf);

impl Temp {
    /// Creates `tradeloop-<tag>-<pid>-<n>` under the system temp directory.
    pub(crate) fn new(tag: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "tradeloop-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        Temp(path)
    }

    /// The directory itself.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside the directory (not created).
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `tradeloop --state STATE ARGS...` to completion.
pub(crate) fn tl(state: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--state")
        .arg(state)
        .args(args)
        .output()
        .expect("run tradeloop")
}

/// The standard output of a run that must have succeeded.
pub(crate) fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "tradeloop failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

/// Runs `tradeloop --json ARGS...`, which must succeed, and parses its output.
pub(crate) fn ok_json(state: &Path, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let o = tl(state, &a);
    assert!(
        o.status.success(),
        "tradeloop {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("JSON output")
}
