//! The `tradeloop experiment` command line: its arguments, and what it prints and writes.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context as _;
use tradeloop_backtest::Costs;

use super::{Caps, Options, Params, SeriesSource, Split, StrategySource};

/// Run strategy modules side by side on the same bars, with buy-and-hold as the baseline.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A strategy module (`.wasm`, strategy ABI v1: docs/STRATEGY_ABI.md); repeat for more.
    /// Named after the file's stem.
    #[arg(long = "strategy", value_name = "FILE")]
    pub strategies: Vec<PathBuf>,
    /// A candle CSV `timestamp,open,high,low,close,volume`; repeat for more series (default:
    /// the bundled SPY hourly bars).
    #[arg(long = "data", value_name = "FILE")]
    pub data: Vec<PathBuf>,
    /// Parameters (TOML): `key = number` for every strategy, `[name]` tables for one.
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// Seed given to every strategy's `init` and to the fresh engine.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fuel for one call of a strategy (about one wasm instruction each); a call that runs
    /// out stops that strategy.
    #[arg(long, default_value_t = 50_000_000)]
    pub fuel_per_bar: u64,
    /// Memory cap of each strategy, MiB.
    #[arg(long, default_value_t = 64)]
    pub memory_mb: usize,
    /// Starting cash of each strategy.
    #[arg(long, default_value_t = 10_000.0)]
    pub cash: f64,
    /// Fee per fill, fraction of the traded value (0.001 = 0.1 %).
    #[arg(long, default_value_t = 0.0)]
    pub fee: f64,
    /// Slippage of market and stop fills, fraction of the price.
    #[arg(long, default_value_t = 0.0)]
    pub slippage: f64,
    /// Start every engine fork from this checkpoint (`tradeloop export`) instead of a fresh
    /// engine.
    #[arg(long, value_name = "CHECKPOINT")]
    pub engine: Option<PathBuf>,
    /// Report in-sample and out-of-sample figures split at this fraction of the bars
    /// (`0.7`) or date (`2019-01-01`).
    #[arg(long)]
    pub split: Option<String>,
    /// Write report.md, equity SVG charts, results.json and manifest.json here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl Args {
    /// The run's options; `bundled` is the series used when no `--data` is given.
    pub fn options(&self, bundled: &str) -> anyhow::Result<Options> {
        let strategies = self
            .strategies
            .iter()
            .map(|p| StrategySource::read(p))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let series = if self.data.is_empty() {
            vec![SeriesSource {
                name: "SPY_1h".into(),
                path: None,
                text: bundled.into(),
            }]
        } else {
            self.data
                .iter()
                .map(|p| SeriesSource::read(p))
                .collect::<anyhow::Result<Vec<_>>>()?
        };
        let params = match &self.params {
            Some(p) => Params::from_toml(
                &std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
            )
            .with_context(|| format!("{}", p.display()))?,
            None => Params::default(),
        };
        let engine = self
            .engine
            .as_ref()
            .map(|p| std::fs::read(p).with_context(|| format!("{}", p.display())))
            .transpose()?;
        Ok(Options {
            strategies,
            series,
            params,
            seed: self.seed,
            costs: Costs {
                cash: self.cash,
                fee_rate: self.fee,
                slippage: self.slippage,
            },
            caps: Caps {
                fuel_per_call: self.fuel_per_bar,
                memory: self.memory_mb.saturating_mul(1 << 20),
            },
            engine,
            split: self.split.as_deref().map(Split::parse).transpose()?,
            progress: std::io::stderr().is_terminal(),
        })
    }
}

/// Runs the command: prints the summary (or `--json`), writes `--out`.
pub fn main(args: &Args, json: bool, bundled: &str) -> anyhow::Result<()> {
    let opts = args.options(bundled)?;
    let x = super::run(&opts)?;
    for s in &x.series {
        for r in &s.strategies {
            if let Some(why) = &r.outcome.stopped {
                eprintln!("{} on {}: stopped: {}", r.name, s.name, why.reason);
            }
        }
    }
    if let Some(dir) = &args.out {
        super::report::write(&x, dir)?;
        eprintln!("report written to {}", dir.join("report.md").display());
    }
    let mut stdout = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut stdout, &x)?;
        std::io::Write::write_all(&mut stdout, b"\n")?;
    } else {
        std::io::Write::write_all(&mut stdout, super::report::summary(&x).as_bytes())?;
    }
    Ok(())
}
