//! `tradeloop experiment`: strategy modules (strategy ABI v1, `docs/STRATEGY_ABI.md`) run
//! side by side on the same bars, each in its own wasmtime `Store` ([`sandbox`]) with its
//! own fork of the learning engine, fed in lockstep; buy-and-hold always runs beside them as
//! the baseline. The results, a manifest that pins everything the run depended on, and
//! the report ([`report`]) come out of one call to [`run`].

pub mod cli;
pub mod report;
pub mod sandbox;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};
use serde::Serialize;
use tradeloop_backtest::metrics::percentile;
use tradeloop_backtest::{Costs, Feed, Metrics, Outcome, Run, fresh_engine, metrics};
use tradeloop_core::Engine;
use tradeloop_core::market::parse_csv;
use tradeloop_strategy::abi;

pub use sandbox::Caps;
use sandbox::{Sandbox, Usage};

/// The buy-and-hold module built from `strategies/buy-and-hold` (see `build.rs`).
pub const BUY_AND_HOLD_WASM: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/strategies/buy-and-hold.wasm"));
/// Name of the baseline.
pub const BASELINE: &str = "buy-and-hold";

/// A strategy module to run.
#[derive(Debug, Clone)]
pub struct StrategySource {
    /// Its name in the report: the file stem.
    pub name: String,
    /// Where it came from (`None`: built in).
    pub path: Option<PathBuf>,
    /// The module (binary, or WebAssembly text).
    pub bytes: Vec<u8>,
}

impl StrategySource {
    /// Reads a module file; its name is the file's stem.
    pub fn read(path: &Path) -> anyhow::Result<StrategySource> {
        let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| anyhow!("{}: cannot name a strategy after this path", path.display()))?;
        Ok(StrategySource {
            name: name.into(),
            path: Some(path.into()),
            bytes,
        })
    }
}

/// A candle series to run on.
#[derive(Debug, Clone)]
pub struct SeriesSource {
    /// Its name (file stem); also the symbol the strategies trade.
    pub name: String,
    /// Where it came from (`None`: bundled).
    pub path: Option<PathBuf>,
    /// The CSV text.
    pub text: String,
}

impl SeriesSource {
    /// Reads a CSV file; its name is the file's stem.
    pub fn read(path: &Path) -> anyhow::Result<SeriesSource> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("series")
            .to_string();
        Ok(SeriesSource {
            name,
            path: Some(path.into()),
            text,
        })
    }
}

/// Where the in-sample part ends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// This fraction of the bars (in `(0, 1)`).
    Fraction(f64),
    /// The first bar at or after this time (ms).
    Time(i64),
}

impl Split {
    /// Parses `0.7` or a date / timestamp.
    pub fn parse(s: &str) -> anyhow::Result<Split> {
        if let Ok(f) = s.parse::<f64>() {
            if f > 0.0 && f < 1.0 {
                return Ok(Split::Fraction(f));
            }
            bail!("--split {s}: a fraction must be between 0 and 1");
        }
        tradeloop_core::market::parse_timestamp(s)
            .map(Split::Time)
            .map_err(|e| anyhow!("--split {s}: neither a fraction nor a date: {e}"))
    }

    fn index(self, feed: &Feed) -> usize {
        match self {
            Split::Fraction(f) => ((feed.len() as f64) * f).round() as usize,
            Split::Time(t) => feed.bars().partition_point(|b| b.time < t),
        }
        .clamp(1, feed.len().saturating_sub(1).max(1))
    }
}

/// Parameters: for every strategy, and per strategy name.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Params {
    /// Top-level keys of the file.
    pub all: BTreeMap<String, f64>,
    /// `[name]` tables.
    pub by_strategy: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Params {
    /// Reads a TOML file: `key = number` for every strategy, `[name]` tables for one.
    pub fn from_toml(text: &str) -> anyhow::Result<Params> {
        let table: toml::Table = text.parse().context("parameters are not TOML")?;
        let mut p = Params::default();
        let number = |k: &str, v: &toml::Value| -> anyhow::Result<f64> {
            let x = match v {
                toml::Value::Float(f) => *f,
                toml::Value::Integer(i) => *i as f64,
                toml::Value::Boolean(b) => f64::from(u8::from(*b)),
                _ => bail!("parameter `{k}` must be a number"),
            };
            if !x.is_finite() {
                bail!("parameter `{k}` must be finite");
            }
            if k.is_empty() || k.len() > 64 || k.contains(['=', '\n']) {
                bail!("parameter name `{k}` must be 1-64 characters without `=` or newlines");
            }
            Ok(x)
        };
        for (k, v) in &table {
            match v {
                toml::Value::Table(t) => {
                    let m = p.by_strategy.entry(k.clone()).or_default();
                    for (k2, v2) in t {
                        m.insert(k2.clone(), number(k2, v2)?);
                    }
                }
                v => {
                    p.all.insert(k.clone(), number(k, v)?);
                }
            }
        }
        Ok(p)
    }

    /// The text `tls_init` receives for strategy `name`.
    pub fn text_for(&self, name: &str) -> String {
        let mut m = self.all.clone();
        if let Some(own) = self.by_strategy.get(name) {
            m.extend(own.iter().map(|(k, v)| (k.clone(), *v)));
        }
        abi::params_text(m.iter().map(|(k, v)| (k.as_str(), *v)))
    }
}

/// Everything a run depends on.
#[derive(Debug, Clone)]
pub struct Options {
    /// The strategies (buy-and-hold is added if none is named so).
    pub strategies: Vec<StrategySource>,
    /// The series; each is a separate run of every strategy.
    pub series: Vec<SeriesSource>,
    /// Parameters.
    pub params: Params,
    /// Seed of the strategies and of a fresh engine.
    pub seed: u64,
    /// Cash, fees, slippage.
    pub costs: Costs,
    /// Fuel and memory.
    pub caps: Caps,
    /// The starting checkpoint of every engine fork (`None`: a fresh engine).
    pub engine: Option<Vec<u8>>,
    /// In-sample / out-of-sample split.
    pub split: Option<Split>,
    /// Show a progress bar on a terminal.
    pub progress: bool,
}

/// One strategy's results on one series.
#[derive(Debug, Clone, Serialize)]
pub struct StrategyResult {
    /// Its name.
    pub name: String,
    /// Metrics over the whole series.
    pub metrics: Metrics,
    /// Metrics before the split.
    pub in_sample: Option<Metrics>,
    /// Metrics after the split.
    pub out_of_sample: Option<Metrics>,
    /// What the sandbox measured.
    pub sandbox: SandboxFigures,
    /// Trades, fills, rejections, equity, and why it stopped.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The sandbox columns of the report.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxFigures {
    /// Median fuel of an `on_bar` call.
    pub fuel_p50: Option<u64>,
    /// 99th percentile.
    pub fuel_p99: Option<u64>,
    /// Largest linear memory, bytes.
    pub peak_memory: usize,
    /// Log lines kept.
    pub logs: Vec<String>,
    /// Log lines dropped.
    pub dropped_logs: u32,
    /// `on_bar` calls.
    pub calls: usize,
}

/// One series' results.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesResult {
    /// Its name.
    pub name: String,
    /// Bars.
    pub bars: usize,
    /// Time of each bar (ms), for the charts.
    #[serde(skip)]
    pub times: Vec<i64>,
    /// Index of the first out-of-sample bar.
    pub split_at: Option<usize>,
    /// One per strategy, in the order given (buy-and-hold first).
    pub strategies: Vec<StrategyResult>,
}

/// How long the run took.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Timing {
    /// Compiling the modules.
    pub compile_seconds: f64,
    /// Instantiating, `tls_init`, and the lockstep loop over every series.
    pub run_seconds: f64,
    /// Strategy-bars in that loop (bars × strategies, over every series).
    pub strategy_bars: u64,
}

/// Everything a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    /// What it depended on.
    pub manifest: serde_json::Value,
    /// Per series.
    pub series: Vec<SeriesResult>,
    /// Time.
    pub timing: Timing,
}

/// Runs the experiment.
pub fn run(opts: &Options) -> anyhow::Result<Experiment> {
    let mut strategies = opts.strategies.clone();
    if !strategies.iter().any(|s| s.name == BASELINE) {
        strategies.insert(
            0,
            StrategySource {
                name: BASELINE.into(),
                path: None,
                bytes: BUY_AND_HOLD_WASM.to_vec(),
            },
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in &strategies {
        if !seen.insert(&s.name) {
            bail!(
                "two strategies are named `{}`; rename one of the files",
                s.name
            );
        }
    }
    if opts.caps.fuel_per_call == 0 || opts.caps.memory < 1 << 16 {
        bail!("--fuel-per-bar must be > 0 and --memory-mb at least 1");
    }
    let costs = opts
        .costs
        .checked()
        .ok_or_else(|| anyhow!("cash must be > 0, and fee and slippage in [0, 0.5]"))?;
    let engine = sandbox::engine()?;
    let cache = crate::module_cache::default_dir();
    let started = Instant::now();
    // Identical files compile once.
    let mut compiled: BTreeMap<[u8; 32], Result<wasmtime::Module, String>> = BTreeMap::new();
    let modules: Vec<Result<wasmtime::Module, String>> = strategies
        .iter()
        .map(|s| {
            compiled
                .entry(*blake3::hash(&s.bytes).as_bytes())
                .or_insert_with(|| {
                    sandbox::compile(&engine, &s.bytes, cache.as_deref())
                        .map_err(|e| format!("{e:#}"))
                })
                .clone()
        })
        .collect();
    let compile_seconds = started.elapsed().as_secs_f64();
    let feeds = opts
        .series
        .iter()
        .map(|s| {
            let candles = parse_csv(&s.text).map_err(|e| anyhow!("{}:\n{e}", s.name))?;
            Feed::new(&candles).map_err(|e| anyhow!("{}: {e}", s.name))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = Instant::now();
    let mut series = Vec::new();
    let mut strategy_bars = 0u64;
    let total: u64 = feeds.iter().map(|f| f.len() as u64).sum();
    let bar = progress_bar(opts.progress, total);
    for (src, feed) in opts.series.iter().zip(feeds) {
        let feed = Arc::new(feed);
        // The starting engine, once per series; every fork is a clone of it.
        let start = match &opts.engine {
            Some(bytes) => {
                Engine::restore(bytes).map_err(|e| anyhow!("the starting checkpoint: {e}"))?
            }
            None => fresh_engine(opts.seed, &feed).map_err(|e| anyhow!("starting engine: {e}"))?,
        };
        let symbol = symbol_of(&src.name);
        let mut lanes: Vec<Lane> = Vec::new();
        for (s, m) in strategies.iter().zip(&modules) {
            // Only a module that can ask it (imports `suggest`) gets a fork: nothing else could
            // read one, and a fork learns from every trade.
            let asks = m.as_ref().is_ok_and(|m| {
                m.imports()
                    .any(|i| i.module() == abi::IMPORT_MODULE && i.name() == "suggest")
            });
            let fork = asks.then(|| start.clone());
            let run = Run::new(costs, &symbol, fork).map_err(|e| anyhow!("{e}"))?;
            let lane = match m {
                Ok(module) => match Sandbox::start(
                    &engine,
                    module,
                    run,
                    feed.clone(),
                    opts.params.text_for(&s.name),
                    opts.seed,
                    opts.caps,
                ) {
                    Ok(sb) => Lane::Running(sb),
                    Err((mut run, why)) => {
                        run.stop(0, why);
                        Lane::Refused(run)
                    }
                },
                Err(why) => {
                    let mut run = Box::new(run);
                    run.stop(0, format!("refused at load: {why}"));
                    Lane::Refused(run)
                }
            };
            lanes.push(lane);
        }
        for i in 0..feed.len() {
            for lane in &mut lanes {
                match lane {
                    Lane::Running(sb) => sb.step(i),
                    Lane::Refused(run) => {
                        let _ = run.open_bar(&feed, i);
                    }
                }
            }
            strategy_bars += lanes.len() as u64;
            bar.inc(1);
        }
        let split_at = opts.split.map(|s| s.index(&feed));
        let strategies = strategies
            .iter()
            .zip(lanes)
            .map(|(s, lane)| {
                let (run, usage) = match lane {
                    Lane::Running(sb) => sb.finish(),
                    Lane::Refused(run) => (*run, Usage::default()),
                };
                result(
                    &s.name,
                    run.finish(&feed),
                    usage,
                    &feed,
                    costs.cash,
                    split_at,
                )
            })
            .collect();
        series.push(SeriesResult {
            name: src.name.clone(),
            bars: feed.len(),
            times: feed.bars().iter().map(|b| b.time).collect(),
            split_at,
            strategies,
        });
    }
    bar.finish_and_clear();
    let timing = Timing {
        compile_seconds,
        run_seconds: started.elapsed().as_secs_f64(),
        strategy_bars,
    };
    Ok(Experiment {
        manifest: manifest(opts, &strategies, &series),
        series,
        timing,
    })
}

/// A strategy in the lockstep loop: its sandbox, or (refused at load or at `tls_init`) only
/// its run, which still marks its equity at every bar.
#[allow(
    clippy::large_enum_variant,
    reason = "one per strategy, never moved in the loop"
)]
enum Lane {
    Running(Sandbox),
    Refused(Box<Run>),
}

fn progress_bar(show: bool, total: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} experiment [{bar:40}] {pos}/{len} bars ({eta} left)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// A valid symbol from a series name: printable ASCII, at most 16 characters.
fn symbol_of(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(16)
        .collect();
    if s.is_empty() { "SERIES".into() } else { s }
}

fn result(
    name: &str,
    outcome: Outcome,
    usage: Usage,
    feed: &Feed,
    cash: f64,
    split_at: Option<usize>,
) -> StrategyResult {
    let bars = feed.bars();
    let n = feed.len();
    let calls = usage.fuel.len();
    let mut fuel = usage.fuel;
    let sandbox = SandboxFigures {
        fuel_p50: percentile(&mut fuel, 0.5),
        fuel_p99: percentile(&mut fuel, 0.99),
        peak_memory: usage.peak_memory,
        logs: usage.logs,
        dropped_logs: usage.dropped_logs,
        calls,
    };
    StrategyResult {
        name: name.into(),
        metrics: metrics(bars, &outcome, cash, 0..n),
        in_sample: split_at.map(|k| metrics(bars, &outcome, cash, 0..k)),
        out_of_sample: split_at.map(|k| metrics(bars, &outcome, cash, k..n)),
        sandbox,
        outcome,
    }
}

fn hash_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

fn manifest(
    opts: &Options,
    strategies: &[StrategySource],
    series: &[SeriesResult],
) -> serde_json::Value {
    let strategies: Vec<_> = strategies
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "file": s.path.as_ref().map_or("(built in)".into(), |p| p.display().to_string()),
                "blake3": hash_hex(&s.bytes),
                "bytes": s.bytes.len(),
                "params": opts.params.text_for(&s.name),
            })
        })
        .collect();
    let data: Vec<_> = opts
        .series
        .iter()
        .zip(series)
        .map(|(s, r)| {
            serde_json::json!({
                "name": s.name,
                "file": s.path.as_ref().map_or("(bundled)".into(), |p| p.display().to_string()),
                "blake3": hash_hex(s.text.as_bytes()),
                "bars": r.bars,
                "first": r.times.first().map(|&t| tradeloop_core::market::iso_datetime(t)),
                "last": r.times.last().map(|&t| tradeloop_core::market::iso_datetime(t)),
            })
        })
        .collect();
    serde_json::json!({
        "tools": {
            "tradeloop": env!("CARGO_PKG_VERSION"),
            "wasmtime": env!("TRADELOOP_WASMTIME_VERSION"),
            "strategy_abi": abi::VERSION,
            "target": format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        },
        "config": {
            "seed": opts.seed,
            "costs": opts.costs,
            "fuel_per_bar": opts.caps.fuel_per_call,
            "memory_bytes": opts.caps.memory,
            "split": opts.split,
            "engine": opts.engine.as_ref().map_or(
                serde_json::json!({"fresh": {"config": "default", "seed": opts.seed}}),
                |b| serde_json::json!({"checkpoint_blake3": hash_hex(b)}),
            ),
            "params": opts.params,
        },
        "strategies": strategies,
        "data": data,
    })
}
