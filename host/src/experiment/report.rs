//! The experiment's report: Markdown tables (one row per strategy: freqtrade's backtesting
//! summary as the reference, then the sandbox's figures, then the in-sample / out-of-sample
//! split) and one SVG chart of every strategy's equity per series, drawn with the same
//! machinery as `tradeloop report` ([`crate::report::markdown`], [`crate::report::charts`]).

use std::path::Path;

use anyhow::Context as _;
use tradeloop_backtest::Metrics;

use super::{Experiment, SeriesResult};
use crate::report::charts::{Series, time_line_chart};
use crate::report::markdown::{Align, Markdown, Table, fixed, or_dash, pct, signed_pct};

/// Most points of one equity curve in the chart (longer curves are thinned evenly).
const CHART_POINTS: usize = 2000;

/// Writes `report.md`, one `equity-<series>.svg` per series, `results.json` (everything,
/// every trade) and `manifest.json` into `dir`.
pub fn write(x: &Experiment, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    let put = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.join(name), bytes)
            .with_context(|| format!("{}", dir.join(name).display()))
    };
    for s in &x.series {
        put(&chart_file(s), equity_chart(s)?.as_bytes())?;
    }
    put("report.md", render(x, true).as_bytes())?;
    put("results.json", serde_json::to_string(x)?.as_bytes())?;
    put(
        "manifest.json",
        serde_json::to_string_pretty(&x.manifest)?.as_bytes(),
    )?;
    Ok(())
}

/// The tables without the charts, for the terminal.
pub fn summary(x: &Experiment) -> String {
    render(x, false)
}

fn chart_file(s: &SeriesResult) -> String {
    let safe: String = s
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("equity-{safe}.svg")
}

fn equity_chart(s: &SeriesResult) -> anyhow::Result<String> {
    let step = s.times.len().div_ceil(CHART_POINTS).max(1);
    let series: Vec<Series> = s
        .strategies
        .iter()
        .map(|r| {
            let points = r
                .outcome
                .equity
                .iter()
                .zip(&s.times)
                .enumerate()
                .filter(|(k, _)| k % step == 0 || k + 1 == s.times.len())
                .map(|(_, (&e, &t))| (t as f64, e))
                .collect();
            Series::new(r.name.clone(), points)
        })
        .collect();
    time_line_chart(&format!("Equity: {}", s.name), "equity", &series)
}

fn date(ms: i64) -> String {
    tradeloop_core::market::iso_datetime(ms)
        .chars()
        .take(10)
        .collect()
}

fn duration(ms: f64) -> String {
    let hours = ms / 3_600_000.0;
    if hours < 48.0 {
        format!("{hours:.1} h")
    } else {
        format!("{:.1} d", hours / 24.0)
    }
}

fn ratio(x: Option<f64>) -> String {
    or_dash(x, |v| fixed(v, 2))
}

fn render(x: &Experiment, images: bool) -> String {
    let mut md = Markdown::new();
    md.heading(1, "Strategy experiment");
    let c = &x.manifest["config"];
    let costs = &c["costs"];
    md.paragraph(&format!(
        "Seed {}; starting cash {}, fee {} and slippage {} per fill; fuel {} per call, memory \
         cap {} MiB; tradeloop {}, wasmtime {}, strategy ABI {}. {} strategy-bars in {:.2} s. \
         The modules and series (BLAKE3; the full manifest is `manifest.json` with `--out`, \
         and in `--json`):",
        c["seed"],
        costs["cash"],
        costs["fee_rate"],
        costs["slippage"],
        c["fuel_per_bar"],
        c["memory_bytes"].as_u64().unwrap_or(0) >> 20,
        x.manifest["tools"]["tradeloop"].as_str().unwrap_or("?"),
        x.manifest["tools"]["wasmtime"].as_str().unwrap_or("?"),
        x.manifest["tools"]["strategy_abi"],
        x.timing.strategy_bars,
        x.timing.run_seconds,
    ));
    md.table(&inputs_table(&x.manifest));
    for s in &x.series {
        let (first, last) = (s.times.first().copied(), s.times.last().copied());
        md.heading(2, &s.name);
        md.paragraph(&format!(
            "{} bars, {} to {}.",
            s.bars,
            or_dash(first, date),
            or_dash(last, date)
        ));
        md.heading(3, "Results");
        md.table(&results_table(
            s.strategies.iter().map(|r| (r.name.as_str(), &r.metrics)),
        ));
        if images {
            md.image(
                &format!("Equity of every strategy on {}", s.name),
                &chart_file(s),
            );
        }
        md.heading(3, "Sandbox");
        md.table(&sandbox_table(s));
        if let Some(k) = s.split_at {
            let at = s.times.get(k).copied().map_or("-".into(), date);
            md.heading(3, &format!("In-sample (bars before {at})"));
            md.table(&results_table(
                s.strategies
                    .iter()
                    .filter_map(|r| Some((r.name.as_str(), r.in_sample.as_ref()?))),
            ));
            md.heading(3, &format!("Out-of-sample (from {at})"));
            md.table(&results_table(s.strategies.iter().filter_map(|r| {
                Some((r.name.as_str(), r.out_of_sample.as_ref()?))
            })));
        }
    }
    md.finish()
}

/// The run's inputs from the manifest: each module and series with its BLAKE3 hash.
fn inputs_table(manifest: &serde_json::Value) -> Table {
    let mut t = Table::new(&["Input", "Name", "File", "BLAKE3"]);
    let empty = Vec::new();
    for (kind, key) in [("strategy", "strategies"), ("series", "data")] {
        for m in manifest[key].as_array().unwrap_or(&empty) {
            let hash = m["blake3"].as_str().unwrap_or("");
            t.row([
                kind.to_string(),
                m["name"].as_str().unwrap_or("").to_string(),
                m["file"].as_str().unwrap_or("").to_string(),
                format!("`{}`", &hash[..hash.len().min(16)]),
            ]);
        }
    }
    t
}

fn results_table<'a>(rows: impl Iterator<Item = (&'a str, &'a Metrics)>) -> Table {
    let header = [
        "Strategy",
        "Trades",
        "Total return",
        "Annual",
        "Sharpe",
        "Sortino",
        "Calmar",
        "Max drawdown",
        "Drawdown from - to (bars)",
        "Profit factor",
        "Expectancy",
        "Expectancy ratio",
        "Win rate",
        "Exposure",
        "Avg holding",
        "Best trade",
        "Worst trade",
    ];
    let mut t = Table::new(&header);
    for col in 1..header.len() {
        if col != 8 {
            t = t.align(col, Align::Right);
        }
    }
    for (name, m) in rows {
        t.row([
            name.to_string(),
            m.trades.to_string(),
            signed_pct(m.total_return, 2),
            or_dash(m.annual_return, |v| signed_pct(v, 2)),
            ratio(m.sharpe),
            ratio(m.sortino),
            ratio(m.calmar),
            pct(m.max_drawdown, 2),
            if m.max_drawdown > 0.0 {
                format!(
                    "{} - {} ({})",
                    date(m.drawdown_start),
                    date(m.drawdown_end),
                    m.drawdown_bars
                )
            } else {
                "-".into()
            },
            ratio(m.profit_factor),
            or_dash(m.expectancy, |v| fixed(v, 2)),
            ratio(m.expectancy_ratio),
            or_dash(m.win_rate, |v| pct(v, 1)),
            pct(m.exposure, 1),
            or_dash(m.avg_holding_ms, duration),
            or_dash(m.best_trade, |v| signed_pct(v, 2)),
            or_dash(m.worst_trade, |v| signed_pct(v, 2)),
        ]);
    }
    t
}

fn sandbox_table(s: &SeriesResult) -> Table {
    let header = [
        "Strategy",
        "on_bar calls",
        "fuel p50",
        "fuel p99",
        "Peak memory",
        "Fills",
        "Rejected actions",
        "Log lines (dropped)",
        "Stopped",
        "Trade hash",
    ];
    let mut t = Table::new(&header);
    for col in 1..8 {
        t = t.align(col, Align::Right);
    }
    for r in &s.strategies {
        let sb = &r.sandbox;
        t.row([
            r.name.clone(),
            sb.calls.to_string(),
            or_dash(sb.fuel_p50, |v| v.to_string()),
            or_dash(sb.fuel_p99, |v| v.to_string()),
            format!("{:.1} MiB", sb.peak_memory as f64 / f64::from(1 << 20)),
            r.outcome.fills.to_string(),
            r.outcome.rejections.total().to_string(),
            format!("{} ({})", sb.logs.len(), sb.dropped_logs),
            or_dash(r.outcome.stopped.as_ref(), |s| s.reason.clone()),
            format!("`{:016x}`", r.outcome.trade_hash),
        ]);
    }
    t
}
