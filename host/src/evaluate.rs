//! `tradeloop evaluate`: the W6 protocol on any OHLCV CSV, natively
//! ([`tradeloop_core::evaluate`]), with the figures as text tables or JSON.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use tradeloop_core::EngineConfig;
use tradeloop_core::evaluate::{Evaluation, Protocol, evaluate, stream};
use tradeloop_core::market::{iso_date, parse_csv};

/// An evaluation and how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// The series.
    pub data: String,
    /// The protocol.
    pub protocol: Protocol,
    /// Bars read (after `--from`).
    pub bars: usize,
    /// The figures.
    pub evaluation: Evaluation,
    /// Wall seconds of the whole protocol (engine commands, scoring, the frozen network).
    pub seconds: f64,
    /// Rows per second over it.
    pub rows_per_s: f64,
}

/// Reads the CSV file `path`, keeps the bars at or after `from` (ms), and runs the protocol.
pub fn run_file(
    path: &Path,
    from: Option<i64>,
    config: EngineConfig,
    protocol: Protocol,
) -> anyhow::Result<Run> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    run(&path.display().to_string(), &text, from, config, protocol)
}

/// Parses the CSV `text` (called `name` in messages), keeps the bars at or after `from`
/// (ms), and runs the protocol.
pub fn run(
    name: &str,
    text: &str,
    from: Option<i64>,
    config: EngineConfig,
    protocol: Protocol,
) -> anyhow::Result<Run> {
    let candles = parse_csv(text).map_err(|e| anyhow::anyhow!("{name}:\n{e}"))?;
    let candles: Vec<_> = candles
        .into_iter()
        .filter(|c| from.is_none_or(|f| c.time >= f))
        .collect();
    let rows = stream(&candles, protocol.horizon as usize);
    let started = Instant::now();
    let evaluation =
        evaluate(&rows, config, &protocol).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(Run {
        data: name.to_string(),
        protocol,
        bars: candles.len(),
        rows_per_s: evaluation.rows as f64 / seconds.max(1e-9),
        evaluation,
        seconds,
    })
}

/// The figures as Markdown tables, under a line saying what was read and how long it took.
pub fn render(r: &Run) -> String {
    let e = &r.evaluation;
    format!(
        "{}: {} bars, {} rows ({} .. {}), labels loss/flat/win {:?}, horizon {} bars; \
         {:.1} s, {:.0} rows/s\n\n{}",
        r.data,
        r.bars,
        e.rows,
        iso_date(e.span.0),
        iso_date(e.span.1),
        e.labels,
        r.protocol.horizon,
        r.seconds,
        r.rows_per_s,
        e.markdown(&r.protocol)
    )
}
