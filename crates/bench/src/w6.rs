//! W6: prequential learning quality on the bundled SPY hourly bars (from 2007, as the spec
//! says): the W6 protocol of [`tradeloop_core::evaluate`] (the served mixture, each expert
//! alone, the running prior and a frozen network), the same code `tradeloop evaluate` runs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use tradeloop_core::EngineConfig;
use tradeloop_core::evaluate::{Evaluation, Protocol, Row, evaluate, stream};
use tradeloop_core::market::{Candle, parse_csv, w6_stream};

/// `2007-01-01T00:00:00Z` in ms: the spec uses SPY bars from this time on.
pub const SPY_FROM_MS: i64 = 1_167_609_600_000;

/// How much of the stream to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct W6Sizes {
    /// Rows of the stream used (a prefix); `None`: the whole stream.
    pub rows: Option<usize>,
}

impl W6Sizes {
    /// The whole SPY stream.
    pub const SPEC: W6Sizes = W6Sizes { rows: None };
    /// A CI smoke run: the first 5,000 rows.
    pub const QUICK: W6Sizes = W6Sizes { rows: Some(5_000) };
}

/// The bundled SPY hourly bars (`data/market/SPY_1h.csv` at the workspace root).
pub fn spy_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/market/SPY_1h.csv")
}

/// The SPY bars of the spec (from 2007-01-01).
pub fn spy_candles() -> Result<Vec<Candle>, String> {
    let path = spy_path();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let candles = parse_csv(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(candles
        .into_iter()
        .filter(|c| c.time >= SPY_FROM_MS)
        .collect())
}

/// The W6 stream of the SPY bars, checked against [`w6_stream`] (the bit-exact
/// reimplementation of the spec), cut to `sizes`.
pub fn spy_rows(sizes: W6Sizes) -> Result<Vec<Row>, String> {
    let candles = spy_candles()?;
    let mut rows = stream(&candles, 12);
    let reference = w6_stream(&candles);
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
    Ok(rows)
}

/// What W6 measured.
#[derive(Debug, Clone)]
pub struct W6Result {
    /// The figures.
    pub evaluation: Evaluation,
    /// Wall seconds of the whole protocol.
    pub seconds: f64,
}

/// Runs W6 with the default engine.
pub fn run(sizes: W6Sizes) -> Result<W6Result, String> {
    let rows = spy_rows(sizes)?;
    let started = Instant::now();
    let evaluation = evaluate(&rows, EngineConfig::default(), &Protocol::default())
        .map_err(|e| e.to_string())?;
    Ok(W6Result {
        evaluation,
        seconds: started.elapsed().as_secs_f64(),
    })
}
