//! W3 (ranker inference) on tract through `tradeloop_ranker::Ranker`, with the protocol of
//! `shared/bench/anchors/ranker_py.py`: the model `models/w3_mlp.onnx` (input `features`
//! f32 `[N, 64]` -> Gemm 64->128 -> Relu -> Gemm 128->128 -> Relu -> Gemm 128->1 -> `score`
//! `[N, 1]`, SplitMix64 seed-3 weights), one fixed input array per `N` (seed 4, `N * 64`
//! normals), timed per call.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tradeloop_core::rng::SplitMix64;
use tradeloop_ranker::Ranker;

use crate::gate::Gate;
use crate::workloads::median;

/// Features per row of the W3 model.
pub const FEATURES: usize = 64;

/// The peers' fingerprint for `N = 256` (onnxruntime, Python), as they print it:
/// `score[0]` to 6 decimals, `sum(score)` (in f64) to 5.
pub const FINGERPRINT: (&str, &str) = ("-0.505391", "-50.14347");

/// How much to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct W3Sizes {
    /// `(N, timed calls per repetition)`, in order.
    pub batches: [(usize, usize); 2],
    /// Warm-up once per `N`: at least this many calls ...
    pub long_warmup_calls: usize,
    /// ... and at least this long.
    pub long_warmup: Duration,
    /// Calls before every repetition.
    pub warmup: usize,
    /// Repetitions (median taken).
    pub reps: usize,
}

impl W3Sizes {
    /// The workload specification (the peers' protocol): N=1 10,000 calls, N=256 1,000
    /// calls; warm-up of at least 2 s and 2,000 calls once per N, 200 calls before every
    /// repetition; median of 3.
    pub const SPEC: W3Sizes = W3Sizes {
        batches: [(1, 10_000), (256, 1_000)],
        long_warmup_calls: 2_000,
        long_warmup: Duration::from_secs(2),
        warmup: 200,
        reps: 3,
    };
    /// A smoke run for CI (a few hundred calls): checks the harness, figures not meaningful.
    pub const QUICK: W3Sizes = W3Sizes {
        batches: [(1, 200), (256, 20)],
        long_warmup_calls: 20,
        long_warmup: Duration::ZERO,
        warmup: 5,
        reps: 1,
    };
}

/// One batch size's figure.
#[derive(Debug, Clone)]
pub struct W3 {
    /// Rows per call.
    pub n: usize,
    /// Timed calls per repetition.
    pub calls: usize,
    /// Median microseconds per call.
    pub us_per_call: f64,
    /// Every repetition, microseconds per call.
    pub reps: Vec<f64>,
    /// `score[0]` of the fixed input.
    pub score0: f32,
    /// `sum(score)` in f64.
    pub score_sum: f64,
    /// Load and run-queue wait over the repetitions.
    pub gate: String,
}

impl W3 {
    /// Rows scored per second at the median.
    pub fn rows_per_s(&self) -> f64 {
        self.n as f64 / self.us_per_call * 1e6
    }
}

/// `models/w3_mlp.onnx` at the workspace root.
pub fn model_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/w3_mlp.onnx")
}

/// The fixed W3 input for `n` rows: SplitMix64 seed 4, `n * 64` normals as f32, row-major.
pub fn inputs(n: usize) -> Vec<f32> {
    let mut r = SplitMix64::new(4);
    (0..n * FEATURES).map(|_| r.normal() as f32).collect()
}

/// `score[0]` and `sum(score)` (f64) of `x`, after checking one score per row.
fn fingerprint(ranker: &Ranker, x: &[f32], n: usize) -> Result<(f32, f64), String> {
    let s = ranker.rank(x).map_err(|e| e.to_string())?.score;
    if s.len() != n {
        return Err(format!("{} scores for {n} rows", s.len()));
    }
    Ok((s[0], s.iter().map(|&v| f64::from(v)).sum()))
}

/// Loads the model, checks the peers' fingerprint on `N = 256`, then times every batch size
/// of `sizes`, each repetition behind the load gate (`wait_s` seconds at most, 0: no gate).
pub fn run(model: &Path, sizes: W3Sizes, wait_s: u64) -> Result<(Ranker, Vec<W3>), String> {
    let ranker = Ranker::load(model, FEATURES).map_err(|e| e.to_string())?;
    let (s0, sum) = fingerprint(&ranker, &inputs(256), 256)?;
    let got = (format!("{s0:.6}"), format!("{sum:.5}"));
    if (got.0.as_str(), got.1.as_str()) != FINGERPRINT {
        return Err(format!(
            "fingerprint mismatch on N=256: score[0]={}, sum(score)={} (expected {}, {})",
            got.0, got.1, FINGERPRINT.0, FINGERPRINT.1
        ));
    }
    let mut figures = Vec::new();
    for (n, calls) in sizes.batches {
        let x = inputs(n);
        let (score0, score_sum) = fingerprint(&ranker, &x, n)?;
        let call = || {
            black_box(ranker.rank(black_box(&x)).map_err(|e| e.to_string())?);
            Ok::<(), String>(())
        };
        let t = Instant::now();
        let mut i = 0;
        while i < sizes.long_warmup_calls || t.elapsed() < sizes.long_warmup {
            call()?;
            i += 1;
        }
        let mut gate = Gate::new(wait_s);
        let mut reps = Vec::new();
        for _ in 0..sizes.reps {
            gate.before_rep();
            for _ in 0..sizes.warmup {
                call()?;
            }
            let t = Instant::now();
            for _ in 0..calls {
                call()?;
            }
            reps.push(t.elapsed().as_secs_f64() * 1e6 / calls as f64);
            gate.after_rep();
        }
        figures.push(W3 {
            n,
            calls,
            us_per_call: median(reps.clone()),
            reps,
            score0,
            score_sum,
            gate: gate.describe(),
        });
    }
    Ok((ranker, figures))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_run_checks_the_fingerprint_and_times_both_batches() {
        let (ranker, figures) = run(&model_path(), W3Sizes::QUICK, 0).expect("W3 runs");
        assert_eq!(ranker.features(), FEATURES);
        assert_eq!(
            figures.iter().map(|f| (f.n, f.calls)).collect::<Vec<_>>(),
            W3Sizes::QUICK.batches
        );
        for f in &figures {
            assert!(f.us_per_call > 0.0 && f.us_per_call.is_finite());
            assert_eq!(format!("{:.6}", f.score0), FINGERPRINT.0);
        }
        assert_eq!(format!("{:.5}", figures[1].score_sum), FINGERPRINT.1);
    }

    #[test]
    fn inputs_are_the_benchmark_spec() {
        // First values of the peers' seed-4 normals (models/w3_mlp.fixture.json).
        let x = inputs(2);
        assert_eq!(x.len(), 2 * FEATURES);
        assert_eq!(x[0], 0.828_982_1);
        assert_eq!(x[1], -1.977_167_7);
        assert_eq!(inputs(1)[..], x[..FEATURES]);
    }
}
