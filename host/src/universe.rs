//! Paper trading a universe of series with the ranker: the series are aligned on their
//! timestamps and fed step by step to the core's [`TopKTrader`], which ranks the symbols
//! through the plugin (whose `rank` import runs the host's ONNX ranker) and enters the top K.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use tradeloop_core::Outcome;
use tradeloop_core::market::{Candle, parse_csv};
use tradeloop_core::paper::topk::{TopKEvent, TopKTrader};

use crate::runtime::Runtime;

/// The bundled universe: SPY, EUR/USD and gold hourly bars (QuantConnect Lean, Apache-2.0;
/// see `data/market/README.md`), as `(file name, CSV text)`.
pub const BUNDLED: [(&str, &str); 3] = [
    ("SPY_1h.csv", include_str!("../../data/market/SPY_1h.csv")),
    (
        "EURUSD_1h.csv",
        include_str!("../../data/market/EURUSD_1h.csv"),
    ),
    (
        "XAUUSD_1h.csv",
        include_str!("../../data/market/XAUUSD_1h.csv"),
    ),
];

/// One symbol's bars.
#[derive(Debug, Clone)]
pub struct Series {
    /// Symbol, from the file name (`EURUSD_1h.csv` -> `EURUSD`).
    pub symbol: String,
    /// Bars, ascending.
    pub candles: Vec<Candle>,
}

impl Series {
    /// Parses a CSV named `name` (its symbol is the file name up to the first `_` or `.`).
    pub fn parse(name: &str, text: &str) -> anyhow::Result<Self> {
        let stem = Path::new(name)
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or(name);
        let symbol: String = stem
            .split(['_', '.'])
            .next()
            .unwrap_or(stem)
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(32)
            .collect();
        if symbol.is_empty() {
            bail!("{name}: cannot take a symbol from the file name");
        }
        let candles = parse_csv(text).map_err(|e| anyhow::anyhow!("{name}:\n{e}"))?;
        if candles.is_empty() {
            bail!("{name}: no bars");
        }
        Ok(Series { symbol, candles })
    }

    /// Reads and parses a CSV file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        Self::parse(&path.display().to_string(), &text)
    }
}

/// One time step: its time and the bars of the symbols that have one.
pub type Step = (i64, Vec<(usize, Candle)>);

/// The steps of the period every series covers (from the latest first bar to the earliest
/// last bar), in time order. An error if the series do not overlap or share a symbol.
pub fn align(series: &[Series]) -> anyhow::Result<Vec<Step>> {
    for (i, s) in series.iter().enumerate() {
        if series[..i].iter().any(|o| o.symbol == s.symbol) {
            bail!("two series have the symbol {}", s.symbol);
        }
    }
    let from = series
        .iter()
        .filter_map(|s| s.candles.first())
        .map(|c| c.time)
        .max();
    let to = series
        .iter()
        .filter_map(|s| s.candles.last())
        .map(|c| c.time)
        .min();
    let (Some(from), Some(to)) = (from, to) else {
        bail!("no series given");
    };
    if from > to {
        bail!("the series do not overlap in time");
    }
    let mut steps: BTreeMap<i64, Vec<(usize, Candle)>> = BTreeMap::new();
    for (i, s) in series.iter().enumerate() {
        for c in s.candles.iter().filter(|c| (from..=to).contains(&c.time)) {
            steps.entry(c.time).or_default().push((i, *c));
        }
    }
    Ok(steps.into_iter().collect())
}

/// What a universe run did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct UniverseRun {
    /// Steps fed.
    pub steps: usize,
    /// Rankings made.
    pub rankings: u32,
    /// Trades opened.
    pub opened: u32,
    /// Trades closed.
    pub closed: u32,
    /// Closed trades that were wins.
    pub wins: u32,
    /// Sum of the closed trades' PnL %.
    pub pnl_pct: f64,
    /// Model version of the last ranking.
    pub model: Option<String>,
    /// Stopped by `stop` before the end.
    pub stopped_early: bool,
}

/// Feeds `steps` to `trader` against `rt`, until the end or until `stop` is set;
/// `progress(done)` after each step.
pub fn run(
    rt: &mut Runtime,
    trader: &mut TopKTrader,
    steps: &[Step],
    stop: &AtomicBool,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<UniverseRun> {
    let mut r = UniverseRun::default();
    for (i, (time, bars)) in steps.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            r.stopped_early = true;
            break;
        }
        let events = trader
            .on_step(rt, *time, bars)
            .with_context(|| format!("step {} (time {time})", i + 1))?;
        for e in events {
            match e {
                TopKEvent::Ranked { model, opened, .. } => {
                    r.rankings += 1;
                    r.opened += opened.len() as u32;
                    r.model = Some(model);
                }
                TopKEvent::Closed {
                    outcome, pnl_pct, ..
                } => {
                    r.closed += 1;
                    r.wins += u32::from(outcome == Outcome::Win);
                    r.pnl_pct += pnl_pct;
                }
            }
        }
        r.steps = i + 1;
        progress(i + 1);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "timestamp,open,high,low,close,volume\n\
        2020-01-01T00:00:00Z,1,1,1,1,0\n2020-01-01T01:00:00Z,1,1,1,1,0\n\
        2020-01-01T02:00:00Z,1,1,1,1,0\n2020-01-01T03:00:00Z,1,1,1,1,0\n";
    const B: &str = "timestamp,open,high,low,close,volume\n\
        2020-01-01T01:00:00Z,2,2,2,2,0\n2020-01-01T03:00:00Z,2,2,2,2,0\n\
        2020-01-01T04:00:00Z,2,2,2,2,0\n";

    #[test]
    fn symbols_come_from_file_names() {
        assert_eq!(
            Series::parse("data/EURUSD_1h.csv", A).unwrap().symbol,
            "EURUSD"
        );
        assert_eq!(Series::parse("x/btc.csv", A).unwrap().symbol, "btc");
    }

    #[test]
    fn alignment_keeps_the_common_period_and_every_bar_in_it() {
        let s = [
            Series::parse("A.csv", A).unwrap(),
            Series::parse("B.csv", B).unwrap(),
        ];
        let steps = align(&s).unwrap();
        // From 01:00 (B's first) to 03:00 (A's last): 01:00 both, 02:00 A only, 03:00 both.
        let shape: Vec<Vec<usize>> = steps
            .iter()
            .map(|(_, b)| b.iter().map(|x| x.0).collect())
            .collect();
        assert_eq!(shape, vec![vec![0, 1], vec![0], vec![0, 1]]);
        assert!(
            align(&[s[0].clone(), s[0].clone()]).is_err(),
            "same symbol twice"
        );
        let late = "timestamp,open,high,low,close,volume\n2021-01-01T00:00:00Z,1,1,1,1,0\n";
        let err = align(&[s[0].clone(), Series::parse("C.csv", late).unwrap()]).unwrap_err();
        assert!(err.to_string().contains("do not overlap"), "{err}");
    }
}
