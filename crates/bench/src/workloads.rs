//! W1 (online update), W2 (batch retrain) and W5 (checkpoint) on the core, as specified in
//! `shared/bench/WORKLOADS.md`.

use std::fs;
use std::path::Path;
use std::time::Instant;

use tradeloop_core::checkpoint::v2::PredictorV2;
use tradeloop_core::journal::{ExitReason, LevelInput, LevelKind, Side};
use tradeloop_core::learners::SignalConfig;
use tradeloop_core::lifecycle::policy::LearnMode;
use tradeloop_core::nn::{Backend, Batch, Loss, Mlp, OptimConfig, Optimizer, Target, Workspace};
use tradeloop_core::rng::SplitMix64;
use tradeloop_core::{CloseTrade, Command, Engine, EngineConfig, LearnRequest, OpenTrade, Reply};

use crate::data::{self, D_IN, D_OUT, Dataset};
use crate::gate::Gate;

/// Sizes of a run: the spec's, or a quick smoke run.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// W1 warm-up steps.
    pub w1_warmup: usize,
    /// W1 timed steps.
    pub w1_steps: usize,
    /// W2 samples.
    pub w2_samples: usize,
    /// W2 epochs.
    pub w2_epochs: usize,
    /// W5 replay experiences.
    pub w5_experiences: usize,
    /// Repetitions (median taken).
    pub reps: usize,
    /// W5 repetitions.
    pub w5_reps: usize,
}

impl Sizes {
    /// The workload specification.
    pub const SPEC: Sizes = Sizes {
        w1_warmup: 1_000,
        w1_steps: 20_000,
        w2_samples: 20_000,
        w2_epochs: 5,
        w5_experiences: 10_000,
        reps: 3,
        w5_reps: 5,
    };
    /// A smoke run for CI: checks the harness works, figures are not meaningful.
    pub const QUICK: Sizes = Sizes {
        w1_warmup: 50,
        w1_steps: 500,
        w2_samples: 640,
        w2_epochs: 1,
        w5_experiences: 300,
        reps: 1,
        w5_reps: 1,
    };
}

/// Median of a non-empty list.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn accuracy(net: &Mlp, ws: &mut Workspace, d: &Dataset, n: usize) -> f64 {
    let out = net
        .forward(ws, &d.x[..n * D_IN], n)
        .expect("dataset rows fit the network");
    let correct = out
        .chunks_exact(D_OUT)
        .zip(&d.y)
        .filter(|(o, y)| {
            let best = (0..D_OUT).fold(0, |b, k| if o[k] > o[b] { k } else { b });
            best == usize::from(**y)
        })
        .count();
    correct as f64 / n as f64
}

/// W1 result.
#[derive(Debug, Clone)]
pub struct W1 {
    /// Median steps per second.
    pub steps_per_s: f64,
    /// Every repetition.
    pub reps: Vec<f64>,
    /// Accuracy on the first `min(N, steps)` samples after the run.
    pub train_accuracy: f64,
}

/// W1: MLP 32-64-64-3, batch 1, Adam lr 1e-3, step `i` trains on sample `i mod N`.
pub fn w1(backend: Backend, d: &Dataset, sizes: Sizes, gate: &mut Gate) -> W1 {
    let n = d.y.len();
    let mut reps = Vec::new();
    let mut train_accuracy = 0.0;
    for _ in 0..sizes.reps {
        let mut net = data::mlp();
        let mut opt =
            Optimizer::new(OptimConfig::adam(1e-3), net.params().len()).expect("valid optimizer");
        let mut ws = Workspace::new(backend);
        let mut step = |i: usize, net: &mut Mlp| {
            let s = i % n;
            let b = Batch {
                x: &d.x[s * D_IN..(s + 1) * D_IN],
                rows: 1,
                target: Target::Classes(&d.y[s..s + 1]),
                weights: None,
            };
            net.train(&mut ws, &mut opt, &b, Loss::SoftmaxCrossEntropy, 1.0)
                .expect("valid batch");
        };
        for i in 0..sizes.w1_warmup {
            step(i, &mut net);
        }
        gate.before_rep();
        let t = Instant::now();
        for i in sizes.w1_warmup..sizes.w1_warmup + sizes.w1_steps {
            step(i, &mut net);
        }
        reps.push(sizes.w1_steps as f64 / t.elapsed().as_secs_f64());
        gate.after_rep();
        train_accuracy = accuracy(
            &net,
            &mut Workspace::new(backend),
            d,
            n.min(sizes.w1_warmup + sizes.w1_steps),
        );
    }
    W1 {
        steps_per_s: median(reps.clone()),
        reps,
        train_accuracy,
    }
}

/// W2 result.
#[derive(Debug, Clone)]
pub struct W2 {
    /// Median samples per second.
    pub samples_per_s: f64,
    /// Every repetition.
    pub reps: Vec<f64>,
    /// Accuracy on the training samples after the last epoch.
    pub train_accuracy: f64,
}

/// W2: same MLP, batch 64, fixed order (last batch shorter), `epochs` epochs.
pub fn w2(backend: Backend, d: &Dataset, sizes: Sizes, gate: &mut Gate) -> W2 {
    let n = sizes.w2_samples.min(d.y.len());
    let mut reps = Vec::new();
    let mut train_accuracy = 0.0;
    for _ in 0..sizes.reps {
        let mut net = data::mlp();
        let mut opt =
            Optimizer::new(OptimConfig::adam(1e-3), net.params().len()).expect("valid optimizer");
        let mut ws = Workspace::new(backend);
        gate.before_rep();
        let t = Instant::now();
        for _ in 0..sizes.w2_epochs {
            let mut s = 0;
            while s < n {
                let rows = 64.min(n - s);
                let b = Batch {
                    x: &d.x[s * D_IN..(s + rows) * D_IN],
                    rows,
                    target: Target::Classes(&d.y[s..s + rows]),
                    weights: None,
                };
                net.train(&mut ws, &mut opt, &b, Loss::SoftmaxCrossEntropy, 1.0)
                    .expect("valid batch");
                s += rows;
            }
        }
        reps.push((n * sizes.w2_epochs) as f64 / t.elapsed().as_secs_f64());
        gate.after_rep();
        train_accuracy = accuracy(&net, &mut ws, d, n);
    }
    W2 {
        samples_per_s: median(reps.clone()),
        reps,
        train_accuracy,
    }
}

/// W5 result (times in milliseconds, medians).
#[derive(Debug, Clone)]
pub struct W5 {
    /// Checkpoint file size.
    pub bytes: usize,
    /// `snapshot()` + durable write.
    pub save_ms: f64,
    /// Read + `Engine::restore`.
    pub load_ms: f64,
    /// `snapshot()` alone (encode + checksum).
    pub encode_ms: f64,
    /// `Engine::restore` alone (verify + decode + validate).
    pub decode_ms: f64,
    /// The raw-bytes floor measured in the same run: size, save, load.
    pub floor_bytes: usize,
    /// Floor save.
    pub floor_save_ms: f64,
    /// Floor load.
    pub floor_load_ms: f64,
    /// Experiences in the replay buffer.
    pub experiences: usize,
}

/// Which engine a W5 run checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum W5State {
    /// The W5 learner state: W1's network (32-64-64-3, Adam) as the signal model and a
    /// replay buffer of 10,000 experiences; the journal keeps one closed trade and the trades
    /// carry no level, so there is no level history. This measures the format's overhead.
    Spec,
    /// The same trades with the default journal (1,000 closed trades kept) and a level on
    /// every trade (1,000 level-weight adjustments in the history): a checkpoint as users
    /// write it.
    Full,
}

/// The W5 engine after `n` closed trades (the replay buffer holds `min(n, 10,000)`
/// experiences of 32 features).
pub fn w5_engine(n: usize, state: W5State) -> Engine {
    let mut config = EngineConfig {
        signal: SignalConfig {
            hidden: vec![64, 64],
            ..SignalConfig::default()
        },
        ..EngineConfig::default()
    };
    if state == W5State::Spec {
        config.journal.max_closed = 1;
    }
    // One retrain at the end instead of the policy's every 50 trades: the state is the
    // same kind (a trained champion), built in a fraction of the time.
    config.lifecycle.learn_on_close = false;
    let mut t = 1_700_000_000_000i64;
    let mut e = Engine::new(config, 6, t).expect("valid config");
    let mut r = SplitMix64::new(6);
    for _ in 0..n {
        let features: Vec<f32> = (0..32).map(|_| r.normal() as f32).collect();
        let level = LevelInput {
            price: 99.0,
            kind: LevelKind::Support,
            features: std::array::from_fn(|_| r.uniform() as f32),
        };
        let level = (state == W5State::Full).then_some(level);
        let open = OpenTrade {
            symbol: "SPY".into(),
            side: Side::Long,
            price: 100.0,
            size: 1.0,
            features,
            level,
            exits: None,
        };
        let Ok(Reply::Opened(o)) = e.apply(Command::Open(open), t) else {
            panic!("open failed")
        };
        t += 3_600_000;
        let price = 100.0 * (1.0 + 0.01 * r.normal());
        e.apply(
            Command::Close(CloseTrade {
                trade_id: o.trade_id,
                price,
                reason: ExitReason::Manual,
            }),
            t,
        )
        .expect("close");
    }
    e.apply(
        Command::Learn(LearnRequest {
            mode: LearnMode::Retrain,
        }),
        t,
    )
    .expect("learn");
    e
}

/// The product's durable save: the host's atomic writer (temp file, fsync, rename over
/// `path`, fsync the directory).
fn durable_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    tradeloop_host::store::write_file_atomically(path, bytes).map_err(std::io::Error::other)
}

/// The state's large arrays as raw bytes without any format (the floor).
fn raw_floor(e: &Engine) -> Vec<u8> {
    let dto = tradeloop_core::checkpoint::v4::EngineV4::from_engine(e);
    let mut out = Vec::new();
    let mut f32s = |v: &[f32]| {
        v.iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes()))
    };
    for v in &dto.lifecycle.versions {
        if let PredictorV2::Net { net, .. } = &v.predictor {
            f32s(&net.params.0);
        }
    }
    f32s(&dto.lifecycle.online.net.params.0);
    f32s(&dto.replay.features.0);
    f32s(&dto.replay.exits.0);
    f32s(&dto.replay.rewards.0);
    for t in dto.replay.times.0.iter() {
        out.extend_from_slice(&(*t as f64).to_le_bytes());
    }
    out
}

/// W5: save (`snapshot_into` a reused buffer + durable write) and load (read + restore) of
/// the W5 engine, and the raw-bytes floor of the same arrays, in `dir`, interleaved.
pub fn w5(sizes: Sizes, state: W5State, dir: &Path, gate: &mut Gate) -> std::io::Result<W5> {
    fs::create_dir_all(dir)?;
    let e = w5_engine(sizes.w5_experiences, state);
    let path = dir.join("engine.ckpt");
    let floor_path = dir.join("floor.raw");
    let floor = raw_floor(&e);
    // Warm-up: page cache, allocator.
    durable_write(&path, &e.snapshot())?;
    durable_write(&floor_path, &floor)?;
    assert!(
        Engine::restore(&fs::read(&path)?).expect("restore") == e,
        "W5 round trip"
    );
    let (mut save, mut load, mut enc, mut dec, mut fsave, mut fload) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    gate.before_rep();
    // A checkpointing host reuses its snapshot buffer; the floor reuses its bytes too.
    let mut bytes = Vec::new();
    for _ in 0..sizes.w5_reps {
        let t = Instant::now();
        e.snapshot_into(&mut bytes);
        enc.push(ms(t));
        durable_write(&path, &bytes)?;
        save.push(ms(t));
        let t = Instant::now();
        let read = fs::read(&path)?;
        let t2 = Instant::now();
        let back = Engine::restore(&read).expect("restore");
        dec.push(ms(t2));
        load.push(ms(t));
        drop(back);
        let t = Instant::now();
        durable_write(&floor_path, &floor)?;
        fsave.push(ms(t));
        let t = Instant::now();
        let raw = fs::read(&floor_path)?;
        fload.push(ms(t));
        drop(raw);
    }
    gate.after_rep();
    Ok(W5 {
        bytes: fs::metadata(&path)?.len() as usize,
        save_ms: median(save),
        load_ms: median(load),
        encode_ms: median(enc),
        decode_ms: median(dec),
        floor_bytes: floor.len(),
        floor_save_ms: median(fsave),
        floor_load_ms: median(fload),
        experiences: e.replay().len(),
    })
}
