//! Runs the peer benchmarks of `shared/bench/anchors` (PyTorch, NumPy, TensorFlow.js,
//! pickle/torch.save, onnxruntime in Python and onnxruntime-web in node) in the same
//! session, those whose packages are installed, and reads their `RESULT {json}` lines.

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
    /// What the figure is (`save`, `load`, `bytes`, `accuracy`, `n1`, `n256`, or empty for
    /// the main one).
    pub what: &'static str,
    /// The peer's context: load before and after, run-queue wait, versions, its notes.
    pub context: String,
}

/// What the peers of one session gave.
#[derive(Debug, Default)]
pub struct PeerRun {
    /// Every figure read.
    pub figures: Vec<PeerFigure>,
    /// Peers not run, each with the reason (a package not installed).
    pub not_run: Vec<String>,
}

/// Where the anchors and their installs are.
pub struct Anchors {
    /// The anchors folder.
    pub dir: PathBuf,
    /// Python of the anchors' venv.
    pub python: PathBuf,
    /// The anchors' npm `node_modules`.
    pub node_modules: PathBuf,
    venv: PathBuf,
}

/// The interpreter a peer script runs in.
#[derive(Clone, Copy, PartialEq)]
enum Runtime {
    Python,
    Node,
}

/// A package a peer script needs.
#[derive(Clone, Copy)]
enum Needs {
    /// A module in the venv's `site-packages`.
    Py(&'static str),
    /// A package in `node_modules`.
    Npm(&'static str),
}

/// One peer script: the workloads it measures, how to run it, what it needs.
struct Script {
    workloads: &'static [&'static str],
    runtime: Runtime,
    /// Script and arguments; `--reps <n>` is appended unless `fixed_reps` is set.
    args: &'static [&'static str],
    fixed_reps: Option<usize>,
    needs: &'static [Needs],
    /// Runs in a scratch copy of the anchors folder (the script writes files next to itself).
    scratch: bool,
}

/// The peer scripts, in the order they run. `ranker_ortweb.js` reads the model that
/// `ranker_py.py` writes next to itself, so the two share one scratch copy.
const SCRIPTS: &[Script] = &[
    Script {
        workloads: &["W1", "W2"],
        runtime: Runtime::Python,
        args: &["train_py.py"],
        fixed_reps: None,
        needs: &[Needs::Py("numpy"), Needs::Py("torch")],
        scratch: false,
    },
    Script {
        workloads: &["W1", "W2"],
        runtime: Runtime::Node,
        args: &["train_tfjs.js", "cpu"],
        fixed_reps: None,
        needs: &[
            Needs::Npm("@tensorflow/tfjs"),
            Needs::Npm("@tensorflow/tfjs-backend-wasm"),
        ],
        scratch: false,
    },
    Script {
        workloads: &["W1", "W2"],
        runtime: Runtime::Node,
        args: &["train_tfjs.js", "wasm"],
        fixed_reps: None,
        needs: &[
            Needs::Npm("@tensorflow/tfjs"),
            Needs::Npm("@tensorflow/tfjs-backend-wasm"),
        ],
        scratch: false,
    },
    Script {
        workloads: &["W3"],
        runtime: Runtime::Python,
        args: &["ranker_py.py"],
        fixed_reps: None,
        needs: &[
            Needs::Py("numpy"),
            Needs::Py("onnx"),
            Needs::Py("onnxruntime"),
        ],
        scratch: true,
    },
    Script {
        workloads: &["W3"],
        runtime: Runtime::Node,
        args: &["ranker_ortweb.js"],
        fixed_reps: None,
        needs: &[Needs::Npm("onnxruntime-web")],
        scratch: true,
    },
    Script {
        workloads: &["W5"],
        runtime: Runtime::Python,
        args: &["checkpoint_py.py"],
        fixed_reps: Some(5),
        needs: &[Needs::Py("numpy"), Needs::Py("torch")],
        scratch: false,
    },
];

/// The model `ranker_py.py` writes and `ranker_ortweb.js` reads.
const W3_PEER_MODEL: &str = "ranker_mlp.onnx";

impl Anchors {
    /// From `ANCHORS_DIR` (default `../shared/bench/anchors` next to the workspace),
    /// `ANCHORS_VENV` and `ANCHORS_NPM` (the defaults of the anchors' `setup.sh`). An error
    /// with the reason if the anchors folder is missing; missing packages are reported per
    /// peer by [`Anchors::run_all`].
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
        if !dir.join("common.py").exists() {
            return Err(format!("anchors folder not found at {}", dir.display()));
        }
        Ok(Anchors {
            python: venv.join("bin/python"),
            node_modules: npm.join("node_modules"),
            venv,
            dir,
        })
    }

    /// Whether the venv has `module` in a `lib/python*/site-packages`.
    fn has_py(&self, module: &str) -> bool {
        self.python.exists()
            && std::fs::read_dir(self.venv.join("lib")).is_ok_and(|entries| {
                entries
                    .flatten()
                    .any(|e| e.path().join("site-packages").join(module).exists())
            })
    }

    /// The first package `needs` lacks, described, or `None` if all are installed.
    fn missing(&self, needs: &[Needs]) -> Option<String> {
        needs.iter().find_map(|&n| match n {
            Needs::Py(m) if !self.has_py(m) => Some(format!(
                "python module {m} not found in the anchors venv {} (run the anchors' setup.sh)",
                self.venv.display()
            )),
            Needs::Npm(p) if !self.node_modules.join(p).exists() => Some(format!(
                "npm package {p} not found in {} (run the anchors' setup.sh)",
                self.node_modules.display()
            )),
            _ => None,
        })
    }

    fn run(&self, dir: &Path, program: &Path, args: &[&str]) -> Vec<serde_json::Value> {
        eprintln!("[peers] {} {}", program.display(), args.join(" "));
        let out = Command::new(program)
            .args(args)
            .current_dir(dir)
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

    /// A fresh copy of the anchors folder's files (not its subfolders) in the temp dir.
    fn scratch_copy(&self) -> std::io::Result<PathBuf> {
        let dir = std::env::temp_dir().join(format!("tradeloop-anchors-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        for e in std::fs::read_dir(&self.dir)? {
            let e = e?;
            if e.file_type()?.is_file() {
                std::fs::copy(e.path(), dir.join(e.file_name()))?;
            }
        }
        Ok(dir)
    }

    /// Runs the peers of the workloads `wants` selects whose packages are installed; `reps`
    /// as for our own figures.
    pub fn run_all(&self, reps: usize, wants: impl Fn(&str) -> bool) -> PeerRun {
        let mut result = PeerRun::default();
        let mut rows = Vec::new();
        let mut scratch: Option<PathBuf> = None;
        for s in SCRIPTS
            .iter()
            .filter(|s| s.workloads.iter().any(|w| wants(w)))
        {
            let what = format!("{} peer {}", s.workloads.join("/"), s.args.join(" "));
            if let Some(why) = self.missing(s.needs) {
                result.not_run.push(format!("{what}: {why}"));
                continue;
            }
            let dir = if s.scratch {
                if scratch.is_none() {
                    match self.scratch_copy() {
                        Ok(d) => scratch = Some(d),
                        Err(e) => {
                            result
                                .not_run
                                .push(format!("{what}: cannot copy the anchors folder: {e}"));
                            continue;
                        }
                    }
                }
                scratch.clone().unwrap_or_else(|| self.dir.clone())
            } else {
                self.dir.clone()
            };
            if s.args[0] == "ranker_ortweb.js" && !dir.join(W3_PEER_MODEL).exists() {
                result.not_run.push(format!(
                    "{what}: {W3_PEER_MODEL} missing (ranker_py.py writes it; it needs numpy, \
                     onnx and onnxruntime in the venv)"
                ));
                continue;
            }
            let program = match s.runtime {
                Runtime::Python => self.python.clone(),
                Runtime::Node => PathBuf::from("node"),
            };
            let reps = s.fixed_reps.unwrap_or(reps).to_string();
            let mut args = s.args.to_vec();
            args.extend(["--reps", reps.as_str()]);
            rows.extend(self.run(&dir, &program, &args));
        }
        if let Some(d) = scratch {
            let _ = std::fs::remove_dir_all(d);
        }
        result.figures = rows.iter().filter_map(figure).collect();
        result
    }
}

/// The online learners of W6/W7 run by `prequential_river.py` on the W6 stream, with the
/// short name of each.
pub const W7_PEERS: [(&str, &str); 5] = [
    ("majority", "majority"),
    ("vw_quad", "vw-quad"),
    ("softmax", "river-softmax"),
    ("arf", "river-arf"),
    ("torch_mlp", "pytorch-mlp"),
];

/// One online learner run by `prequential_river.py` on a W6 stream.
#[derive(Debug, Clone)]
pub struct OnlinePeer {
    /// Short name (see [`W7_PEERS`]).
    pub peer: &'static str,
    /// Rows per second, one example at a time, from Python.
    pub rows_per_s: f64,
    /// Log-loss over the whole stream.
    pub log_loss: f64,
    /// Accuracy over the whole stream.
    pub accuracy: f64,
    /// Versions and load, for the context line.
    pub context: String,
}

impl Anchors {
    /// Runs the online learners of [`W7_PEERS`] whose packages are installed on the W6
    /// stream of `series` (`PATH.csv@YYYY-MM-DD` as `prequential_river.py` takes it), one
    /// after another in this session. Peers not run are returned with the reason.
    pub fn run_online(&self, series: &str) -> (Vec<OnlinePeer>, Vec<String>) {
        let mut not_run = Vec::new();
        let mut models = Vec::new();
        for (model, _) in W7_PEERS {
            let needs: &[Needs] = match model {
                "majority" => &[Needs::Py("numpy")],
                "vw_quad" => &[Needs::Py("numpy"), Needs::Py("vowpalwabbit")],
                "torch_mlp" => &[Needs::Py("numpy"), Needs::Py("torch"), Needs::Py("river")],
                _ => &[Needs::Py("numpy"), Needs::Py("river")],
            };
            match self.missing(needs) {
                Some(why) => not_run.push(format!("W7 peer {model}: {why}")),
                None => models.push(model),
            }
        }
        if models.is_empty() {
            return (Vec::new(), not_run);
        }
        let out = std::env::temp_dir().join(format!("tradeloop-w7-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&out);
        let list = models.join(",");
        let out_s = out.display().to_string();
        let args = [
            "prequential_river.py",
            "--series",
            series,
            "--models",
            &list,
            "--results",
            &out_s,
        ];
        let _ = self.run(&self.dir, &self.python, &args);
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let _ = std::fs::remove_file(&out);
        let peers = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|row| {
                let model = row.get("model")?.as_str()?;
                let peer = W7_PEERS.iter().find(|(m, _)| *m == model)?.1;
                Some(OnlinePeer {
                    peer,
                    rows_per_s: row.get("rows_per_s")?.as_f64()?,
                    log_loss: row.get("log_loss")?.as_f64()?,
                    accuracy: row.get("accuracy")?.as_f64()?,
                    context: format!(
                        "{} rows, load {} before; {}",
                        row.get("rows_eval")
                            .map_or_else(String::new, ToString::to_string),
                        row.get("load1_before")
                            .map_or_else(String::new, ToString::to_string),
                        row.get("versions")
                            .map_or_else(String::new, ToString::to_string)
                    ),
                })
            })
            .collect();
        (peers, not_run)
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
        p if p.starts_with("onnxruntime (Python") => "onnxruntime-py",
        p if p.starts_with("onnxruntime-web") => "onnxruntime-web",
        _ => return None,
    }
    .to_string();
    let (workload, what) = match fig {
        f if f.starts_with("W1 online") => ("W1", ""),
        f if f.starts_with("W2 batch") => ("W2", ""),
        f if f.starts_with("W2 final train accuracy") => ("W2", "accuracy"),
        "W3 ranker inference N=1" => ("W3", "n1"),
        "W3 ranker inference N=256" => ("W3", "n256"),
        f if f.starts_with("W5 checkpoint file size") => ("W5", "bytes"),
        f if f.starts_with("W5 checkpoint save") => ("W5", "save"),
        f if f.starts_with("W5 checkpoint load") => ("W5", "load"),
        _ => return None,
    };
    let field = |k: &str| row.get(k).map_or_else(String::new, ToString::to_string);
    let text = |k: &str| {
        row.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let gate = if row.get("gate_ok").and_then(serde_json::Value::as_bool) == Some(false) {
        ", GATE TIMED OUT"
    } else {
        ""
    };
    let context = format!(
        "load {} -> {}, rq wait {}%{gate}; {}; {}",
        field("load_before"),
        field("load_after"),
        field("rq_wait_pct"),
        text("versions"),
        text("notes")
    );
    Some(PeerFigure {
        workload,
        peer: short,
        value,
        unit,
        what,
        context,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w3_rows_of_both_peers_are_recognised() {
        let row = |figure: &str, peer: &str| serde_json::json!({"figure": figure, "peer": peer, "value": 4.78, "unit": "us/call"});
        let f = figure(&row(
            "W3 ranker inference N=1",
            "onnxruntime (Python, CPU EP, 1 thread)",
        ))
        .expect("recognised");
        assert_eq!(
            (f.workload, f.what, f.peer.as_str()),
            ("W3", "n1", "onnxruntime-py")
        );
        let f = figure(&row(
            "W3 ranker inference N=256",
            "onnxruntime-web (node, wasm EP, 1 thread)",
        ))
        .expect("recognised");
        assert_eq!(
            (f.workload, f.what, f.peer.as_str()),
            ("W3", "n256", "onnxruntime-web")
        );
        assert!(figure(&row("W3 ranker inference N=2", "onnxruntime-web")).is_none());
    }
}
