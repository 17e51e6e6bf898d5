//! `tradeloop evaluate`: the W6 protocol on any OHLCV CSV, natively
//! ([`tradeloop_core::evaluate`]), with the figures as text tables or JSON.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use tradeloop_core::EngineConfig;
use tradeloop_core::evaluate::{Evaluation, PredictorScores, Protocol, evaluate, stream};
use tradeloop_core::market::{date_of, parse_csv};

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

fn date(ms: i64) -> String {
    let (y, m, d) = date_of(ms);
    format!("{y}-{m:02}-{d:02}")
}

/// A standard error, or `n/a` when the scored rows make fewer than two whole blocks.
fn std_error(se: Option<f64>) -> String {
    se.map_or("n/a".into(), |se| format!("{se:.4}"))
}

fn row(p: &PredictorScores) -> String {
    let all = p.all.map_or("- | - | -".into(), |s| {
        format!(
            "{:.4} | {:.4} | {:.4}",
            s.log_loss(),
            s.accuracy(),
            s.macro_f1()
        )
    });
    let d = p.vs_prior;
    format!(
        "| {} | {all} | {:.4} | {:.4} | {:.4} | {:+.4} ± {} |",
        p.name,
        p.last30.accuracy(),
        p.scored.log_loss(),
        p.scored.accuracy(),
        d.mean,
        std_error(d.std_error)
    )
}

/// The figures as Markdown tables.
pub fn render(r: &Run) -> String {
    let e = &r.evaluation;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}: {} bars, {} rows ({} .. {}), labels loss/flat/win {:?}, horizon {} bars; \
         {:.1} s, {:.0} rows/s",
        r.data,
        r.bars,
        e.rows,
        date(e.span.0),
        date(e.span.1),
        e.labels,
        r.protocol.horizon,
        r.seconds,
        r.rows_per_s
    );
    let _ = writeln!(
        s,
        "\nScored rows: {} on ({} on, after the frozen network's training on the first {} \
         labels). The difference to the running prior is per row, with a standard error over \
         blocks of {} rows (n/a: fewer than two whole blocks).\n",
        e.scored_from.0,
        date(e.scored_from.1),
        e.frozen_after,
        r.protocol.block
    );
    s += "| predictor | log-loss | accuracy | macro-F1 | last-30% acc | scored log-loss | scored acc | vs prior (scored) |\n";
    s += "|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for p in &e.predictors {
        s += &row(p);
        s.push('\n');
    }
    let m = &e.mixture;
    let rows = m.rows.max(1) as f64;
    let _ = writeln!(
        s,
        "\nThe served mixture against the running prior, as the engine scores it: {:+.5} nats \
         per row (bound {:.5} per row: {} weight copies, fixed share over {} labels).",
        m.excess_vs_prior / rows,
        m.bound_vs_prior / rows,
        m.copies,
        m.rows
    );
    s += "\n| expert | weight now | log-loss | accuracy |\n|---|---:|---:|---:|\n";
    for x in &m.experts {
        let _ = writeln!(
            s,
            "| {} | {:.3} | {} | {} |",
            x.expert.name(),
            x.weight,
            x.log_loss.map_or("-".into(), |l| format!("{l:.4}")),
            x.accuracy.map_or("-".into(), |a| format!("{a:.4}"))
        );
    }
    if let (Some(served), Some(prior)) = (e.predictor("served"), e.predictor("running prior")) {
        s += "\n| year | rows | served log-loss | prior log-loss | served acc | prior acc |\n";
        s += "|---|---:|---:|---:|---:|---:|\n";
        for ((y, a), (_, b)) in served.by_year.iter().zip(&prior.by_year) {
            let _ = writeln!(
                s,
                "| {y} | {} | {:.4} | {:.4} | {:.4} | {:.4} |",
                a.n,
                a.log_loss(),
                b.log_loss(),
                a.accuracy(),
                b.accuracy()
            );
        }
    }
    let t = &e.engine;
    let _ = write!(
        s,
        "\nThe engine: {} versions ({} online snapshots, {} retrains), {} trials promoted, {} \
         held; champion at the end: version {}.",
        t.versions, t.snapshots, t.retrains, t.promoted, t.held, t.champion
    );
    if t.label_fallbacks > 0 {
        let _ = write!(
            s,
            " {} rows sent as their class (scaled return out of class).",
            t.label_fallbacks
        );
    }
    s
}
