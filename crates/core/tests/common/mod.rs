//! Shared test support: small configurations and seeded command streams.
#![allow(dead_code)]

use tradeloop_core::command::{ForecastRequest, Observation};
use tradeloop_core::journal::{ExitReason, LevelInput, LevelKind, Side};
use tradeloop_core::learners::{ExitConfig, LevelConfig, SignalConfig};
use tradeloop_core::lifecycle::policy::LearnMode;
use tradeloop_core::replay::{ReplayConfig, ReplayMode};
use tradeloop_core::rng::SplitMix64;
use tradeloop_core::{
    CloseTrade, Command, Engine, EngineConfig, ExitMode, LearnRequest, OpenTrade, Query, Reply,
    SuggestRequest,
};

/// A small engine configuration that exercises eviction, level adjustments, exit training,
/// online snapshots, trials and spread retrains within a few hundred commands.
pub(crate) fn small_config() -> EngineConfig {
    let mut c = small_config_v3();
    let l = &mut c.lifecycle;
    l.policy.snapshot_every = 25;
    l.policy.retrain_every = 100;
    l.policy.min_train_samples = 20;
    l.gate.trial = 20;
    l.gate.block = 4;
    l.gate.embargo = 2;
    l.retrain.max_samples = 0;
    l.retrain.embargo = 2;
    l.retrain.rows_per_call = 64;
    l.retrain.max_epochs = 6;
    l.mixture.max_pending = 4;
    c
}

/// The default configuration as schemas 1 to 3 stored it (the exit learner trained on 2,000
/// experiences for 5 epochs then), for their golden files.
pub(crate) fn default_v3() -> EngineConfig {
    let mut c = EngineConfig::default();
    c.exits.window = 2_000;
    c.exits.epochs = 5;
    c
}

/// [`small_config`] as schemas 1 to 3 stored it (the lifecycle's defaults), for their
/// golden files.
pub(crate) fn small_config_v3() -> EngineConfig {
    EngineConfig {
        features: 8,
        journal: tradeloop_core::journal::JournalConfig {
            max_closed: 16,
            max_open: 64,
        },
        replay: ReplayConfig {
            capacity: 64,
            mode: ReplayMode::Ring,
        },
        signal: SignalConfig {
            hidden: vec![8],
            batch: 8,
            ..SignalConfig::default()
        },
        levels: LevelConfig {
            first_after: 5,
            every: 3,
            window: 12,
            ..LevelConfig::default()
        },
        exits: ExitConfig {
            hidden: vec![4],
            window: 2_000,
            train_every: 5,
            epochs: 2,
            batch: 8,
            ..ExitConfig::default()
        },
        ..EngineConfig::default()
    }
}

/// `n` commands (with their times) drawn from `seed`: opens, closes of open trades, and now
/// and then a learn, a suggestion, a query, a mode switch, or an invalid command.
pub(crate) fn stream(seed: u64, n: usize, features: usize) -> Vec<(Command, i64)> {
    let mut r = SplitMix64::new(seed);
    let mut open: Vec<u64> = Vec::new();
    let mut forecasts: Vec<Vec<f32>> = Vec::new();
    let mut next_id = 1u64;
    let mut t = 1_700_000_000_000i64;
    let mut out = Vec::with_capacity(n);
    let feats = |r: &mut SplitMix64| {
        (0..features)
            .map(|_| r.normal() as f32)
            .collect::<Vec<f32>>()
    };
    while out.len() < n {
        t += 60_000 * (1 + r.below(30) as i64);
        let price = 100.0 * (1.0 + 0.05 * r.normal());
        let cmd = match r.below(24) {
            0..=7 => {
                let level = r.chance(0.7).then(|| LevelInput {
                    price: price * 0.99,
                    kind: LevelKind::Support,
                    features: core::array::from_fn(|_| r.uniform() as f32),
                });
                let side = if r.chance(0.5) {
                    Side::Long
                } else {
                    Side::Short
                };
                let exits = r.chance(0.1).then_some(match side {
                    Side::Long => (price * 0.98, price * 1.03),
                    Side::Short => (price * 1.02, price * 0.97),
                });
                open.push(next_id);
                next_id += 1;
                Command::Open(OpenTrade {
                    symbol: "SPY".into(),
                    side,
                    price,
                    size: 1.0 + r.below(5) as f64,
                    features: feats(&mut r),
                    level,
                    exits,
                })
            }
            8..=14 if !open.is_empty() => {
                let i = r.below(open.len() as u64) as usize;
                let id = open.swap_remove(i);
                let reason = [
                    ExitReason::Stop,
                    ExitReason::Target,
                    ExitReason::Manual,
                    ExitReason::Timeout,
                ][r.below(4) as usize];
                Command::Close(CloseTrade {
                    trade_id: id,
                    price,
                    reason,
                })
            }
            15 => Command::Learn(LearnRequest {
                mode: [
                    LearnMode::Auto,
                    LearnMode::Incremental,
                    LearnMode::Retrain,
                    LearnMode::Eval,
                ][r.below(4) as usize],
            }),
            16 => Command::Suggest(SuggestRequest {
                side: Side::Long,
                price,
                features: feats(&mut r),
                levels: vec![],
            }),
            17 => Command::Query(if r.chance(0.5) {
                Query::Stats
            } else {
                Query::ClosedTrades { limit: 5 }
            }),
            18 => Command::SetExitMode(if r.chance(0.8) {
                ExitMode::Training
            } else {
                ExitMode::Deployment
            }),
            19 | 20 => {
                let x = feats(&mut r);
                forecasts.push(x.clone());
                Command::Forecast(ForecastRequest { features: x })
            }
            21 => Command::Observe(Observation {
                features: if forecasts.is_empty() || r.chance(0.2) {
                    feats(&mut r)
                } else {
                    forecasts.remove(0)
                },
                return_pct: 0.02 * r.normal(),
            }),
            _ => match r.below(3) {
                // Invalid on purpose: must be rejected without any change.
                0 => Command::Close(CloseTrade {
                    trade_id: 1_000_000,
                    price,
                    reason: ExitReason::Manual,
                }),
                1 => Command::Open(OpenTrade {
                    symbol: "SPY".into(),
                    side: Side::Long,
                    price: f64::NAN,
                    size: 1.0,
                    features: feats(&mut r),
                    level: None,
                    exits: None,
                }),
                _ => Command::Open(OpenTrade {
                    symbol: "SPY".into(),
                    side: Side::Long,
                    price,
                    size: 1.0,
                    features: vec![0.0; features + 1],
                    level: None,
                    exits: None,
                }),
            },
        };
        out.push((cmd, t));
    }
    out
}

/// Applies every command, ignoring rejections (they must not change state).
pub(crate) fn run(engine: &mut Engine, cmds: &[(Command, i64)]) {
    for (c, t) in cmds {
        let _ = engine.apply(c.clone(), *t);
    }
}

/// `rounds` rankings of a five-symbol universe (k = 2, scores recorded in the command, as a
/// host journals them), closing the trades of the previous round first.
pub(crate) fn rank_rounds(engine: &mut Engine, seed: u64, rounds: usize, features: usize) {
    use tradeloop_core::ranking::{Candidate, RankOutput, RankRequest, RankScore};
    let mut r = SplitMix64::new(seed ^ 0x005E_ED0F_4A4C);
    let mut t = 1_800_000_000_000i64;
    let mut opened: Vec<u64> = Vec::new();
    for _ in 0..rounds {
        t += 3_600_000;
        for id in opened.drain(..) {
            let price = 100.0 * (1.0 + 0.05 * r.normal());
            let _ = engine.apply(
                Command::Close(CloseTrade {
                    trade_id: id,
                    price,
                    reason: ExitReason::Timeout,
                }),
                t,
            );
        }
        let candidates: Vec<Candidate> = ["AAA", "BBB", "CCC", "DDD", "EEE"]
            .iter()
            .map(|s| Candidate {
                symbol: (*s).into(),
                price: 100.0 * (1.0 + 0.05 * r.normal()),
                features: (0..features).map(|_| r.normal() as f32).collect(),
            })
            .collect();
        let scores = candidates
            .iter()
            .map(|_| RankScore {
                score: r.normal() as f32,
                class: tradeloop_core::Outcome::from_index(r.below(3) as u8),
            })
            .collect();
        let request = RankRequest {
            candidates,
            k: 2,
            size: 1.0,
            scored: Some(RankOutput {
                model: "test-ranker@0123456789ab".into(),
                scores,
            }),
        };
        if let Ok(Reply::Ranked(x)) = engine.apply(Command::Rank(request), t) {
            opened.extend(x.opened.iter().map(|(_, o)| o.trade_id));
        }
    }
}

/// Path of a file under `tests/fixtures`.
pub(crate) fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `n` observations (features and a return) drawn from `seed`, a feature's sign deciding the
/// class, with their times.
pub(crate) fn observations(seed: u64, n: usize, features: usize) -> Vec<(Command, i64)> {
    let mut r = SplitMix64::new(seed);
    (0..n)
        .map(|i| {
            let x: Vec<f32> = (0..features).map(|_| r.normal() as f32).collect();
            let ret =
                if x[0] > 0.0 { 0.01 } else { -0.01 } * if r.chance(0.8) { 1.0 } else { -1.0 };
            (
                Command::Observe(Observation {
                    features: x,
                    return_pct: ret,
                }),
                1_700_000_000_000 + i as i64 * 60_000,
            )
        })
        .collect()
}
