//! Engine-level workloads: the whole engine behind `Engine::apply`, not a kernel.
//!
//! * **W7, engine online:** the W6 stream (bundled SPY hourly bars) through `Engine::apply`
//!   with the default lifecycle: per row, `Observe` of the row whose label came due (12
//!   rows back), then `Forecast` of the row (the registering form of `Suggest`, so the
//!   label scores what was served). Rows per second over the whole stream, and the slowest
//!   single call. The same with `Suggest` instead of `Forecast` (the forecast is then not
//!   registered, and the label scores a forecast made when it comes), and the same stream
//!   through the plugin in wasmtime (cargo feature `plugin`).
//! * **W1-engine:** `apply(Close)` per second with the journal, the replay buffer, every
//!   learner and the lifecycle, default configuration, random features: open a trade, close
//!   it; only the closes are timed. Also the slowest single close.

use std::time::Instant;

use tradeloop_core::command::{ForecastRequest, Observation};
use tradeloop_core::evaluate::Row;
use tradeloop_core::rng::SplitMix64;
use tradeloop_core::{
    CloseTrade, Command, Engine, EngineConfig, ExitReason, OpenTrade, Reply, Side, SuggestRequest,
};

/// What the serving command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serve {
    /// `Forecast` (registered, scored on what was served).
    Forecast,
    /// `Suggest` (a query; nothing registered).
    Suggest,
}

/// One stream run.
#[derive(Debug, Clone, Copy)]
pub struct Online {
    /// Rows run.
    pub rows: usize,
    /// Commands applied (two per row after the first 12).
    pub calls: usize,
    /// Rows per second over the whole run.
    pub rows_per_s: f64,
    /// The slowest single call (ms) and the row it was at.
    pub worst_ms: (f64, usize),
    /// The 99th percentile of the calls (ms).
    pub p99_ms: f64,
    /// The median call (ms).
    pub p50_ms: f64,
}

/// The command that reveals row `r`'s label (`return_pct` classifies into its class).
fn observe(r: &Row, band: f64) -> Command {
    let ret = match r.label {
        0 => -2.0 * band,
        2 => 2.0 * band,
        _ => 0.0,
    };
    Command::Observe(Observation {
        features: r.features.to_vec(),
        return_pct: ret,
    })
}

fn serve(r: &Row, how: Serve) -> Command {
    match how {
        Serve::Forecast => Command::Forecast(ForecastRequest {
            features: r.features.to_vec(),
        }),
        Serve::Suggest => Command::Suggest(SuggestRequest {
            side: Side::Long,
            price: 1.0,
            features: r.features.to_vec(),
            levels: Vec::new(),
        }),
    }
}

/// Runs `rows` with a 12-row label delay through `apply`, timing every call.
pub fn online(
    rows: &[Row],
    how: Serve,
    mut apply: impl FnMut(Command, i64) -> Result<Reply, String>,
) -> Result<Online, String> {
    let band = EngineConfig::default().flat_band;
    let mut times = Vec::with_capacity(2 * rows.len());
    let mut worst = (0.0f64, 0usize);
    let started = Instant::now();
    for (k, row) in rows.iter().enumerate() {
        let mut commands = Vec::with_capacity(2);
        if k >= 12 {
            let seen = &rows[k - 12];
            commands.push((observe(seen, band), seen.label_time));
        }
        commands.push((serve(row, how), row.time));
        for (c, t) in commands {
            let t0 = Instant::now();
            apply(c, t)?;
            let ms = t0.elapsed().as_secs_f64() * 1e3;
            times.push(ms);
            if ms > worst.0 {
                worst = (ms, k);
            }
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let calls = times.len();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((calls as f64 - 1.0) * q).round() as usize];
    Ok(Online {
        rows: rows.len(),
        calls,
        rows_per_s: rows.len() as f64 / wall.max(1e-9),
        worst_ms: worst,
        p99_ms: at(0.99),
        p50_ms: at(0.5),
    })
}

/// W7 natively: a default engine behind `Engine::apply`.
pub fn native(rows: &[Row], how: Serve) -> Result<Online, String> {
    let mut e = Engine::new(
        EngineConfig::default(),
        6,
        rows.first().map_or(0, |r| r.time),
    )
    .map_err(|e| e.to_string())?;
    online(rows, how, |c, t| e.apply(c, t).map_err(|e| e.to_string()))
}

/// W7 through the plugin in wasmtime (the host's `Plugin`, with its default limits).
pub fn plugin(rows: &[Row], how: Serve) -> Result<Online, String> {
    use tradeloop_host::plugin::{Limits, Plugin};
    let mut p = Plugin::embedded(Limits::default()).map_err(|e| e.to_string())?;
    p.create(
        EngineConfig::default(),
        6,
        rows.first().map_or(0, |r| r.time),
    )
    .map_err(|e| e.to_string())?;
    online(rows, how, |c, t| p.apply(c, t).map_err(|e| e.to_string()))
}

/// W1-engine.
#[derive(Debug, Clone, Copy)]
pub struct Closes {
    /// Trades opened and closed.
    pub trades: usize,
    /// Closes per second (close calls only).
    pub closes_per_s: f64,
    /// Open + close pairs per second.
    pub pairs_per_s: f64,
    /// The slowest single close (ms).
    pub worst_close_ms: f64,
}

/// W1-engine: `n` trades on random features (seeded), each opened and closed at once.
pub fn closes(n: usize) -> Result<Closes, String> {
    let config = EngineConfig::default();
    let dim = config.features as usize;
    let mut e = Engine::new(config, 1, 1_700_000_000_000).map_err(|e| e.to_string())?;
    let mut r = SplitMix64::new(7);
    let (mut close_s, mut worst) = (0.0f64, 0.0f64);
    let mut t = 1_700_000_000_000i64;
    let started = Instant::now();
    for _ in 0..n {
        t += 60_000;
        let features: Vec<f32> = (0..dim).map(|_| r.normal() as f32).collect();
        let open = OpenTrade {
            symbol: "SPY".into(),
            side: if r.chance(0.5) {
                Side::Long
            } else {
                Side::Short
            },
            price: 100.0,
            size: 1.0,
            features,
            level: None,
            exits: None,
        };
        let Ok(Reply::Opened(o)) = e.apply(Command::Open(open), t) else {
            return Err("Open failed".into());
        };
        let close = Command::Close(CloseTrade {
            trade_id: o.trade_id,
            price: 100.0 * (1.0 + 0.01 * r.normal()),
            reason: ExitReason::Manual,
        });
        let t0 = Instant::now();
        e.apply(close, t + 30_000).map_err(|e| e.to_string())?;
        let s = t0.elapsed().as_secs_f64();
        close_s += s;
        worst = worst.max(s * 1e3);
    }
    let wall = started.elapsed().as_secs_f64();
    Ok(Closes {
        trades: n,
        closes_per_s: n as f64 / close_s.max(1e-9),
        pairs_per_s: n as f64 / wall.max(1e-9),
        worst_close_ms: worst,
    })
}
