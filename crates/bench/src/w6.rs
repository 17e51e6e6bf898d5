//! W6: prequential (test-then-train) evaluation of the engine's signal lifecycle on the
//! bundled SPY hourly bars.
//!
//! The stream is the benchmark's W6 stream (`shared/bench/anchors/W6_SPEC.md`): one row per
//! bar `t` (after the 96-bar warm-up) with the 32 W6 features of bar `t` and the W6 label,
//! the class of the volatility-scaled 12-bar return `g = ln(c[t+12] / c[t]) / (sigma_t *
//! sqrt(12))` (loss if `g < -0.5`, win if `g > 0.5`, else flat). Its label is known at bar
//! `t + 12`, so the protocol is the spec's 12-row label delay: at row `k`, row `k - 12` is fed
//! to each engine as `Command::Observe` (time of bar `t + 12`), then row `k` is predicted with
//! `Command::Suggest` (which changes nothing). A row's prediction therefore only depends on
//! labels that were known at its bar, exactly like the peers' figures in
//! `shared/bench/anchors/W6_RESULTS_shared.md`.
//!
//! `Observe` classifies a return with `config.flat_band`; the row is sent with
//! `return_pct = g * 2 * flat_band`, which falls in the same class as the W6 label (checked
//! on every row, with an explicit fallback that is counted).
//!
//! Three predictors on the same stream:
//!
//! * **learning**: a default engine (`lifecycle.learn_on_close = true`: every `Observe` runs
//!   `learn` in auto mode);
//! * **static**: the same configuration with `learn_on_close = false`, one forced
//!   `Learn { mode: Retrain }` after its first `static_after` observations, never updated
//!   again;
//! * **prior**: the running class frequencies of the labels revealed so far, add-one
//!   smoothed (`(n_c + 1) / (n + 3)`), the spec's "majority" row.
//!
//! All three are scored on the same rows: those predicted after the static model's training
//! (row `static_after + 11` on). Metrics: accuracy (argmax, ties to the lowest class),
//! mean log-loss `-ln(clip(p[label], 1e-7, 1))` with `p` renormalised to sum 1 in `f64`,
//! macro-F1, overall and per calendar year.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tradeloop_core::command::{Observation, Observed};
use tradeloop_core::lifecycle::LearnReport;
use tradeloop_core::lifecycle::policy::{Action, LearnMode, Reason};
use tradeloop_core::lifecycle::registry::Verdict;
use tradeloop_core::market::{
    Candle, FEATURES, FeatureExtractor, HORIZON, parse_csv, w6_label, w6_stream,
};
use tradeloop_core::{
    Command, Engine, EngineConfig, LearnRequest, Outcome, Query, Reply, Side, SuggestRequest,
};

/// `2007-01-01T00:00:00Z` in ms: the spec uses SPY bars from this time on.
const SPY_FROM_MS: i64 = 1_167_609_600_000;

/// The log-loss floor of the spec.
const P_FLOOR: f64 = 1e-7;

/// Engine seed (both engines).
const SEED: u64 = 6;

/// How much of the stream to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct W6Sizes {
    /// Rows of the stream used (a prefix); `None`: the whole stream.
    pub rows: Option<usize>,
    /// Observations the static engine sees before its one retrain.
    pub static_after: usize,
}

impl W6Sizes {
    /// The whole SPY stream; the static model trains on the first 2,000 rows.
    pub const SPEC: W6Sizes = W6Sizes {
        rows: None,
        static_after: 2_000,
    };
    /// A CI smoke run: the first 5,000 rows, the static model trained on 20% of them.
    pub const QUICK: W6Sizes = W6Sizes {
        rows: Some(5_000),
        static_after: 1_000,
    };
}

/// The bundled SPY hourly bars (`data/market/SPY_1h.csv` at the workspace root).
pub fn spy_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/market/SPY_1h.csv")
}

/// One labelled row of the W6 stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The 32 W6 features of bar `t`.
    pub features: [f32; FEATURES],
    /// W6 label: 0 loss, 1 flat, 2 win.
    pub label: u8,
    /// Time of bar `t` (ms), when the row is predicted.
    pub time: i64,
    /// Time of bar `t + 12` (ms), when its label is known.
    pub label_time: i64,
    /// The volatility-scaled 12-bar log return that decided the label.
    pub g: f64,
}

/// The W6 stream of `candles` with times, identical to [`w6_stream`] (checked).
pub fn stream(candles: &[Candle]) -> Vec<Row> {
    let mut out = Vec::with_capacity(candles.len());
    let mut fx = FeatureExtractor::new();
    for (c, later) in candles.iter().zip(candles.iter().skip(HORIZON)) {
        if let (Some(features), Some(sigma)) = (fx.push(c), fx.sigma()) {
            out.push(Row {
                features,
                label: w6_label(c.close, later.close, sigma),
                time: c.time,
                label_time: later.time,
                g: (later.close / c.close).ln() / (sigma * (HORIZON as f64).sqrt()),
            });
        }
    }
    out
}

/// Accuracy, log-loss and confusion counts over some rows.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Scores {
    /// Rows scored.
    pub n: u64,
    /// Rows whose argmax class was the label.
    pub correct: u64,
    /// Sum of `-ln(clip(p[label], 1e-7, 1))`.
    pub log_loss_sum: f64,
    /// `confusion[label][predicted]`.
    pub confusion: [[u64; 3]; 3],
}

impl Scores {
    /// Adds one prediction.
    pub fn add(&mut self, p: [f64; 3], label: u8) {
        let predicted = argmax(p);
        let y = usize::from(label);
        self.n += 1;
        self.correct += u64::from(predicted == y);
        self.log_loss_sum += -p[y].clamp(P_FLOOR, 1.0).ln();
        self.confusion[y][predicted] += 1;
    }

    /// Share of correct predictions.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.n.max(1) as f64
    }

    /// Mean log-loss (nats).
    pub fn log_loss(&self) -> f64 {
        self.log_loss_sum / self.n.max(1) as f64
    }

    /// Mean over the classes of `2TP / (2TP + FP + FN)` (0 for a zero denominator).
    pub fn macro_f1(&self) -> f64 {
        let c = &self.confusion;
        (0..3)
            .map(|k| {
                let tp = c[k][k];
                let fn_: u64 = (0..3).filter(|&j| j != k).map(|j| c[k][j]).sum();
                let fp: u64 = (0..3).filter(|&j| j != k).map(|j| c[j][k]).sum();
                let d = 2 * tp + fp + fn_;
                if d == 0 {
                    0.0
                } else {
                    2.0 * tp as f64 / d as f64
                }
            })
            .sum::<f64>()
            / 3.0
    }

    /// How often each class was predicted.
    pub fn predicted(&self) -> [u64; 3] {
        let c = &self.confusion;
        [0, 1, 2].map(|k| c[0][k] + c[1][k] + c[2][k])
    }
}

/// Most probable class, ties to the lowest index.
fn argmax(p: [f64; 3]) -> usize {
    let mut best = 0;
    for k in 1..3 {
        if p[k] > p[best] {
            best = k;
        }
    }
    best
}

/// Engine probabilities as the spec reads them: widened, divided by their sum when it is
/// positive and finite, otherwise uniform.
fn normalise(p: [f32; 3]) -> [f64; 3] {
    let p = p.map(f64::from);
    let s: f64 = p.iter().sum();
    if s > 0.0 && s.is_finite() && p.iter().all(|x| x.is_finite() && *x >= 0.0) {
        p.map(|x| x / s)
    } else {
        [1.0 / 3.0; 3]
    }
}

/// Rows per block for the standard error of a paired difference: the 12-bar labels overlap
/// and market regimes last, so single rows are far from independent; blocks of 500 hourly
/// bars (about three months) are treated as independent instead.
pub const BLOCK: usize = 500;

/// Mean of `a - b` and its standard error over consecutive blocks of [`BLOCK`] rows (the
/// last, partial block dropped from the error): `(mean, standard error, blocks)`.
pub fn paired_difference(a: &[f64], b: &[f64]) -> (f64, f64, usize) {
    let n = a.len().min(b.len());
    let mean = a.iter().zip(b).map(|(x, y)| x - y).sum::<f64>() / n.max(1) as f64;
    let blocks: Vec<f64> = a[..n]
        .chunks_exact(BLOCK)
        .zip(b[..n].chunks_exact(BLOCK))
        .map(|(x, y)| x.iter().zip(y).map(|(p, q)| p - q).sum::<f64>() / BLOCK as f64)
        .collect();
    let k = blocks.len();
    if k < 2 {
        return (mean, f64::NAN, k);
    }
    let m = blocks.iter().sum::<f64>() / k as f64;
    let var = blocks.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (k - 1) as f64;
    (mean, (var / k as f64).sqrt(), k)
}

/// One predictor's scores.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelScores {
    /// Per-row log-loss on the common scored rows, in row order.
    pub losses: Vec<f64>,
    /// On the common scored rows.
    pub scored: Scores,
    /// On the common scored rows, by calendar year (UTC) of the predicted bar.
    pub by_year: BTreeMap<i32, Scores>,
    /// On every row of the stream (the peers' figure; for the static engine the rows before
    /// its retrain are the uniform prior's).
    pub all: Scores,
    /// Last 30% of the stream (rows `k >= floor(0.7 * M)`), as the peers report it.
    pub last30: Scores,
}

/// What the learning engine's automatic `learn` did over the stream.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LearnTally {
    /// `Observe` replies whose `learned` was set, by decision (`action / reason`).
    pub decisions: BTreeMap<String, u32>,
    /// Runs by kind and verdict (`Retrain promoted`, `Incremental held`, ...).
    pub runs: BTreeMap<String, u32>,
    /// Retrains whose candidate was the class prior (the network lost on validation).
    pub prior_chosen: u32,
    /// Epochs run by every training run, summed.
    pub epochs: u64,
    /// The slowest single `Observe` (ms) and the row it was fed at.
    pub slowest_ms: (f64, usize),
    /// Champion changes seen between consecutive predictions.
    pub champion_changes: u32,
    /// On the scored rows, split by what the learning engine's champion was when it
    /// predicted (`[network, class prior]`): the learning engine's scores and the running
    /// prior's on the same rows.
    pub by_champion: [(Scores, Scores); 2],
}

impl LearnTally {
    fn record(&mut self, r: &LearnReport) {
        let action = match r.decision.action {
            Action::Skip => "skip",
            Action::Incremental => "incremental",
            Action::Retrain => "retrain",
            Action::Eval => "eval",
        };
        let reason = match r.decision.reason {
            Reason::Forced => "forced",
            Reason::Paused => "paused",
            Reason::Drift => "drift",
            Reason::AccuracyDrop { .. } => "accuracy drop",
            Reason::NewSamples { .. } => "new samples",
            Reason::Stale { .. } => "stale",
            Reason::NoNetwork { .. } => "no network",
            Reason::TooFewSamples { .. } => "too few samples",
            Reason::NothingNew { .. } => "nothing new",
        };
        *self
            .decisions
            .entry(format!("{action} ({reason})"))
            .or_default() += 1;
        if let Some(run) = &r.run {
            let verdict = match (run.verdict, run.rejected) {
                (Some(Verdict::Promoted), _) => "promoted".to_string(),
                (Some(Verdict::Challenger), _) => "challenger".to_string(),
                (Some(Verdict::Held), _) => "held".to_string(),
                (None, Some(why)) => format!("rejected {why:?}"),
                (None, None) => "no verdict".to_string(),
            };
            *self
                .runs
                .entry(format!("{:?} {verdict}", run.kind))
                .or_default() += 1;
            self.prior_chosen += u32::from(run.prior_chosen);
            self.epochs += run.log.as_ref().map_or(0, |l| u64::from(l.epochs));
        }
    }
}

/// The static engine's one retrain.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticTraining {
    /// Row at whose time it ran (after `static_after` observations).
    pub at_row: usize,
    /// Wall time of the `Learn` command (ms).
    pub ms: f64,
    /// What it did.
    pub report: LearnReport,
    /// The champion afterwards is a network (`false`: a class prior).
    pub network: bool,
    /// The champion's version afterwards.
    pub champion: u32,
    /// How that champion was made (Debug of its `VersionKind`).
    pub champion_kind: String,
}

/// Everything W6 measured.
#[derive(Debug, Clone, PartialEq)]
pub struct W6Result {
    /// Bars read (after the 2007 filter), and the prefix of them used.
    pub bars: usize,
    /// Rows of the stream run.
    pub rows: usize,
    /// Label counts over those rows.
    pub label_counts: [u64; 3],
    /// Sum of every feature, widened, row by row (the spec's `feat_sum`).
    pub feat_sum: f64,
    /// Time of the first and last row's bar (ms).
    pub span: (i64, i64),
    /// First scored row.
    pub scored_from: usize,
    /// Time of its bar (ms).
    pub scored_from_time: i64,
    /// learning, static, prior.
    pub models: [(&'static str, ModelScores); 3],
    /// The learning engine's `Observe` replies scored on the rows they were given for
    /// (`k >= scored_from`, observed rows only): a prediction made after learning every
    /// earlier row, including the 12 whose labels overlap this row's horizon.
    pub observe_replies: Scores,
    /// The learning engine.
    pub tally: LearnTally,
    /// `Query::Stats` of the learning engine at the end: versions created, retained,
    /// champion id, champion is a network.
    pub learning_final: (u32, u32, u32, bool),
    /// Its final champion's version kind (Debug).
    pub learning_champion_kind: String,
    /// The static engine's retrain.
    pub static_training: StaticTraining,
    /// Seconds in the learning engine's `Observe` and `Suggest` calls.
    pub learning_s: f64,
    /// Seconds in the static engine's calls (including its retrain).
    pub static_s: f64,
    /// Rows whose `g`-scaled return classified differently from the label (fallback used).
    pub label_fallbacks: u32,
}

fn stats(e: &mut Engine, now: i64) -> tradeloop_core::command::Stats {
    match e.apply(Command::Query(Query::Stats), now) {
        Ok(Reply::Stats(s)) => *s,
        other => panic!("Query::Stats answered {other:?}"),
    }
}

fn suggest(e: &mut Engine, features: &[f32], now: i64) -> ([f32; 3], u32) {
    let ask = SuggestRequest {
        side: Side::Long,
        price: 1.0,
        features: features.to_vec(),
        levels: Vec::new(),
    };
    match e.apply(Command::Suggest(ask), now) {
        Ok(Reply::Suggestion(s)) => (s.signal.probs, s.model_version),
        other => panic!("Suggest answered {other:?}"),
    }
}

fn observe(e: &mut Engine, features: &[f32], return_pct: f64, now: i64) -> Observed {
    let o = Observation {
        features: features.to_vec(),
        return_pct,
    };
    match e.apply(Command::Observe(o), now) {
        Ok(Reply::Observed(o)) => o,
        other => panic!("Observe answered {other:?}"),
    }
}

/// Calendar date (UTC) `(year, month, day)` of a time in ms since the Unix epoch.
pub fn date_of(ms: i64) -> (i32, u32, u32) {
    // Howard Hinnant's civil_from_days.
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        (yoe + era * 400 + i64::from(month <= 2)) as i32,
        month as u32,
        day as u32,
    )
}

/// Calendar year (UTC) of a time in ms since the Unix epoch.
pub fn year_of(ms: i64) -> i32 {
    date_of(ms).0
}

/// Reads the SPY bars (from 2007 on, as the spec says) and runs W6.
pub fn run(sizes: W6Sizes) -> Result<W6Result, String> {
    let path = spy_path();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let candles = parse_csv(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let candles: Vec<Candle> = candles
        .into_iter()
        .filter(|c| c.time >= SPY_FROM_MS)
        .collect();
    run_on(&candles, sizes)
}

/// Runs W6 on `candles` (oldest first).
pub fn run_on(candles: &[Candle], sizes: W6Sizes) -> Result<W6Result, String> {
    let mut rows = stream(candles);
    let reference = w6_stream(candles);
    let same = rows.len() == reference.len()
        && rows
            .iter()
            .zip(&reference)
            .all(|(r, (f, y))| r.features == *f && r.label == *y);
    if !same {
        return Err("the timed stream differs from market::w6_stream".into());
    }
    if let Some(n) = sizes.rows {
        rows.truncate(n);
    }
    let m = rows.len();
    let bars = (m + 96 + HORIZON).min(candles.len());
    if sizes.static_after == 0 || m < sizes.static_after + HORIZON + 1 {
        return Err(format!(
            "{m} rows are too few for a static model trained on {} rows",
            sizes.static_after
        ));
    }
    let mut label_counts = [0u64; 3];
    let mut feat_sum = 0.0f64;
    for r in &rows {
        label_counts[usize::from(r.label)] += 1;
        for &x in &r.features {
            feat_sum += f64::from(x);
        }
    }

    let config = EngineConfig::default();
    let band = config.flat_band;
    let mut static_config = config.clone();
    static_config.lifecycle.learn_on_close = false;
    let start = rows[0].time;
    let mut learning = Engine::new(config, SEED, start).map_err(|e| e.to_string())?;
    let mut fixed = Engine::new(static_config, SEED, start).map_err(|e| e.to_string())?;
    let mut counts = [0u64; 3];

    // Row k is scored when the static model that predicts it has been trained: the static
    // engine's retrain runs when row `static_after - 1` is observed, at row
    // `static_after - 1 + 12`.
    let scored_from = sizes.static_after - 1 + HORIZON;
    let last30_from = (0.7 * m as f64).floor() as usize;
    let names = ["learning", "static", "prior"];
    let mut models: [ModelScores; 3] = Default::default();
    let mut observe_replies = Scores::default();
    let mut tally = LearnTally::default();
    let mut static_training = None;
    let (mut learning_s, mut static_s) = (0.0f64, 0.0f64);
    let mut label_fallbacks = 0u32;
    let mut last_champion = None;
    let mut champion_is_network = false;

    for k in 0..m {
        let row = &rows[k];
        if k >= HORIZON {
            let seen = &rows[k - HORIZON];
            let mut ret = seen.g * 2.0 * band;
            if !ret.is_finite() || Outcome::classify(ret, band).index() != seen.label {
                label_fallbacks += 1;
                ret = match seen.label {
                    0 => -2.0 * band,
                    2 => 2.0 * band,
                    _ => 0.0,
                };
            }
            let now = seen.label_time;
            let t0 = Instant::now();
            let o = observe(&mut learning, &seen.features, ret, now);
            let ms = t0.elapsed().as_secs_f64() * 1e3;
            learning_s += ms / 1e3;
            if ms > tally.slowest_ms.0 {
                tally.slowest_ms = (ms, k);
            }
            assert_eq!(
                o.outcome.index(),
                seen.label,
                "Observe classified row {}",
                k - HORIZON
            );
            if let Some(r) = &o.learned {
                tally.record(r);
            }
            if k - HORIZON >= scored_from {
                observe_replies.add(normalise(o.signal.probs), seen.label);
            }

            let t0 = Instant::now();
            let o = observe(&mut fixed, &seen.features, ret, now);
            assert!(o.learned.is_none(), "the static engine learned on its own");
            if k - HORIZON + 1 == sizes.static_after {
                let t1 = Instant::now();
                let report = match fixed.apply(
                    Command::Learn(LearnRequest {
                        mode: LearnMode::Retrain,
                    }),
                    now,
                ) {
                    Ok(Reply::Learned(l)) => l.signal,
                    other => return Err(format!("Learn answered {other:?}")),
                };
                let ms = t1.elapsed().as_secs_f64() * 1e3;
                let s = stats(&mut fixed, now);
                static_training = Some(StaticTraining {
                    at_row: k,
                    ms,
                    report,
                    network: s.signal.network,
                    champion: s.signal.champion,
                    champion_kind: format!("{:?}", s.signal.champion_kind),
                });
            }
            static_s += t0.elapsed().as_secs_f64();
            counts[usize::from(seen.label)] += 1;
        }

        let t0 = Instant::now();
        let (p_learning, version) = suggest(&mut learning, &row.features, row.time);
        learning_s += t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let (p_static, _) = suggest(&mut fixed, &row.features, row.time);
        static_s += t0.elapsed().as_secs_f64();
        if last_champion != Some(version) {
            if last_champion.is_some() {
                tally.champion_changes += 1;
            }
            let s = stats(&mut learning, row.time);
            assert_eq!(s.signal.champion, version, "Suggest used another version");
            champion_is_network = s.signal.network;
        }
        last_champion = Some(version);
        let n: u64 = counts.iter().sum();
        let p_prior = counts.map(|c| (c + 1) as f64 / (n + 3) as f64);

        let preds = [normalise(p_learning), normalise(p_static), p_prior];
        if k >= scored_from {
            let (l, p) = &mut tally.by_champion[usize::from(!champion_is_network)];
            l.add(preds[0], row.label);
            p.add(p_prior, row.label);
        }
        let year = year_of(row.time);
        for (scores, p) in models.iter_mut().zip(preds) {
            scores.all.add(p, row.label);
            if k >= last30_from {
                scores.last30.add(p, row.label);
            }
            if k >= scored_from {
                scores.scored.add(p, row.label);
                scores
                    .losses
                    .push(-p[usize::from(row.label)].clamp(P_FLOOR, 1.0).ln());
                scores.by_year.entry(year).or_default().add(p, row.label);
            }
        }
    }

    let end = rows[m - 1].label_time;
    let s = stats(&mut learning, end);
    let learning_final = (
        s.signal.created,
        s.signal.versions,
        s.signal.champion,
        s.signal.network,
    );

    // Sanity: every figure finite, every predictor scored on the same rows.
    let n_scored = (m - scored_from) as u64;
    for (name, sc) in names.iter().zip(&models) {
        assert_eq!(sc.scored.n, n_scored, "{name} scored on another count");
        assert_eq!(sc.losses.len() as u64, n_scored, "{name}");
        assert_eq!(sc.all.n, m as u64, "{name}");
        assert_eq!(
            sc.by_year.values().map(|s| s.n).sum::<u64>(),
            n_scored,
            "{name}"
        );
        for s in [&sc.scored, &sc.all, &sc.last30]
            .into_iter()
            .chain(sc.by_year.values())
        {
            assert!(
                s.log_loss().is_finite() && s.log_loss() >= 0.0,
                "{name} log-loss"
            );
        }
    }
    let static_training =
        static_training.ok_or("the static engine's retrain never ran".to_string())?;

    Ok(W6Result {
        bars,
        rows: m,
        label_counts,
        feat_sum,
        span: (rows[0].time, rows[m - 1].time),
        scored_from,
        scored_from_time: rows[scored_from].time,
        models: [
            (names[0], models[0].clone()),
            (names[1], models[1].clone()),
            (names[2], models[2].clone()),
        ],
        observe_replies,
        tally,
        learning_final,
        learning_champion_kind: format!("{:?}", s.signal.champion_kind),
        static_training,
        learning_s,
        static_s,
        label_fallbacks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years() {
        assert_eq!(year_of(0), 1970);
        assert_eq!(year_of(SPY_FROM_MS), 2007);
        assert_eq!(year_of(SPY_FROM_MS - 1), 2006);
        // 2020-12-31T23:59:59Z and 2021-01-01T00:00:00Z.
        assert_eq!(year_of(1_609_459_199_000), 2020);
        assert_eq!(year_of(1_609_459_200_000), 2021);
        assert_eq!(date_of(1_582_934_400_000), (2020, 2, 29));
        assert_eq!(date_of(1_169_578_800_000), (2007, 1, 23));
    }

    #[test]
    fn scores() {
        let mut s = Scores::default();
        s.add([0.2, 0.5, 0.3], 1);
        s.add([0.5, 0.5, 0.0], 2);
        assert_eq!(s.n, 2);
        assert_eq!(s.correct, 1);
        assert_eq!(s.predicted(), [1, 1, 0]);
        let expected = (-(0.5f64).ln() - (1e-7f64).ln()) / 2.0;
        assert!((s.log_loss() - expected).abs() < 1e-12);
        assert_eq!(normalise([0.0; 3]), [1.0 / 3.0; 3]);
        assert_eq!(normalise([1.0, 1.0, 2.0]), [0.25, 0.25, 0.5]);
    }

    #[test]
    fn paired_differences() {
        let a: Vec<f64> = (0..2 * BLOCK)
            .map(|i| if i < BLOCK { 1.0 } else { 3.0 })
            .collect();
        let b = vec![1.0; 2 * BLOCK + 7];
        let (mean, se, k) = paired_difference(&a, &b);
        assert_eq!((mean, k), (1.0, 2));
        // Block means 0 and 2: sd sqrt(2), se 1.
        assert!((se - 1.0).abs() < 1e-12);
    }
}
