//! Runs the peer benchmarks of `shared/bench/anchors` (PyTorch, NumPy, TensorFlow.js,
//! pickle/torch.save) in the same session, when they are installed, and reads their
//! `RESULT {json}` lines.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One peer figure.
#[derive(Debug, Clone)]
pub struct PeerFigure {
    /// Workload id, e.g. `W1`.
    pub workload: &'static str,
    /// Short peer name, e.g. `pytorch-eager`.
    pub peer: String,
    /// The figure's value.
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// What the figure is (`save`, `load`, `bytes`, `accuracy`, or empty for the main one).
    pub what: &'static str,
}

/// Where the anchors and their installs are.
pub struct Anchors {
    /// The anchors folder.
    pub dir: PathBuf,
    /// Python with the peers' packages.
    pub python: PathBuf,
    /// `node_modules` with TensorFlow.js.
    pub node_modules: PathBuf,
}

impl Anchors {
    /// From `ANCHORS_DIR` (default `../shared/bench/anchors` next to the workspace),
    /// `ANCHORS_VENV` and `ANCHORS_NPM` (the defaults of the anchors' `setup.sh`). `None` with
    /// the reason if something is missing.
    pub fn locate(workspace: &Path) -> Result<Self, String> {
        let home = std::env::var("HOME").unwrap_or_default();
        let dir = std::env::var_os("ANCHORS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("../shared/bench/anchors"));
        let venv = std::env::var_os("ANCHORS_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(&home).join(".cache/anchors-venv"));
        let npm = std::env::var_os("ANCHORS_NPM")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(&home).join(".cache/anchors-npm"));
        let a = Anchors {
            python: venv.join("bin/python"),
            node_modules: npm.join("node_modules"),
            dir,
        };
        for (p, what) in [
            (&a.dir.join("common.py"), "anchors folder"),
            (&a.python, "anchors venv"),
            (
                &a.node_modules.join("@tensorflow/tfjs"),
                "anchors npm folder",
            ),
        ] {
            if !p.exists() {
                return Err(format!(
                    "{what} not found at {} (run the anchors' setup.sh)",
                    p.display()
                ));
            }
        }
        Ok(a)
    }

    fn run(&self, program: &Path, args: &[&str]) -> Vec<serde_json::Value> {
        eprintln!("[peers] {} {}", program.display(), args.join(" "));
        let out = Command::new(program)
            .args(args)
            .current_dir(&self.dir)
            .env("NODE_PATH", &self.node_modules)
            .env_remove("ANCHORS_RESULTS")
            .envs(["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"].map(|k| (k, "1")))
            .output();
        match out {
            Ok(o) => {
                if !o.status.success() {
                    eprintln!(
                        "[peers] failed: {}",
                        String::from_utf8_lossy(&o.stderr)
                            .lines()
                            .last()
                            .unwrap_or("")
                    );
                }
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter_map(|l| l.strip_prefix("RESULT "))
                    .filter_map(|j| serde_json::from_str(j).ok())
                    .collect()
            }
            Err(e) => {
                eprintln!("[peers] could not start: {e}");
                Vec::new()
            }
        }
    }

    /// Runs the W1/W2 and W5 peers; `reps` as for our own figures.
    pub fn run_all(&self, reps: usize) -> Vec<PeerFigure> {
        let reps = reps.to_string();
        let py = self.python.clone();
        let node = PathBuf::from("node");
        let mut rows = self.run(&py, &["train_py.py", "--reps", &reps]);
        rows.extend(self.run(&node, &["train_tfjs.js", "cpu", "--reps", &reps]));
        rows.extend(self.run(&node, &["train_tfjs.js", "wasm", "--reps", &reps]));
        rows.extend(self.run(&py, &["checkpoint_py.py", "--reps", "5"]));
        rows.iter().filter_map(figure).collect()
    }
}

/// Maps a peer's result row to a short figure name.
fn figure(row: &serde_json::Value) -> Option<PeerFigure> {
    let fig = row.get("figure")?.as_str()?;
    let peer = row.get("peer")?.as_str()?;
    let value = row.get("value")?.as_f64()?;
    let unit = row.get("unit")?.as_str()?.to_string();
    let short = match peer {
        p if p.starts_with("PyTorch CPU eager (Adam default)") => "pytorch-eager",
        p if p.starts_with("PyTorch CPU eager (Adam fused") => "pytorch-fused",
        p if p.starts_with("NumPy hand-written") => "numpy",
        p if p.starts_with("TF.js cpu") => "tfjs-cpu",
        p if p.starts_with("TF.js wasm") => "tfjs-wasm",
        p if p.starts_with("pickle") => "pickle",
        p if p.starts_with("json") => "json",
        p if p.starts_with("torch.save") => "torch-save",
        p if p.starts_with("raw array bytes") => "py-raw-floor",
        _ => return None,
    }
    .to_string();
    let (workload, what) = match fig {
        f if f.starts_with("W1 online") => ("W1", ""),
        f if f.starts_with("W2 batch") => ("W2", ""),
        f if f.starts_with("W2 final train accuracy") => ("W2", "accuracy"),
        f if f.starts_with("W5 checkpoint file size") => ("W5", "bytes"),
        f if f.starts_with("W5 checkpoint save") => ("W5", "save"),
        f if f.starts_with("W5 checkpoint load") => ("W5", "load"),
        _ => return None,
    };
    Some(PeerFigure {
        workload,
        peer: short,
        value,
        unit,
        what,
    })
}
