//! `tradeloop`: journal trades, learn from them and paper-trade, with the engine running in
//! wasmtime and every acknowledged event durable. See README's "The tradeloop command".

#![allow(clippy::print_stdout)] // a command-line tool prints its results

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;
use tradeloop_core::command::{LearnRequest, OpenTrade, Query};
use tradeloop_core::lifecycle::policy::LearnMode;
use tradeloop_core::market::parse_csv;
use tradeloop_core::paper::topk::{TopKConfig, TopKTrader};
use tradeloop_core::paper::{PaperConfig, PaperEvent, PaperTrader};
use tradeloop_core::{CloseTrade, Command, ExitReason, Reply, Side, checkpoint};
use tradeloop_host::runtime::Runtime;
use tradeloop_host::settings::Settings;
use tradeloop_host::{ranker, universe};

/// The bundled series `paper` and `evaluate` use when no `--data` is given: SPY hourly bars 2007-2021
/// (QuantConnect Lean, Apache-2.0; see data/market/README.md).
const BUNDLED: &str = include_str!("../../data/market/SPY_1h.csv");

#[derive(Parser)]
#[command(
    name = "tradeloop",
    version,
    about = "Journal trades, learn from them, paper-trade. \
The engine runs sandboxed in wasmtime; every acknowledged event is durable."
)]
struct Cli {
    /// State directory (journal and checkpoints).
    #[arg(long, global = true, default_value = "./tradeloop-state")]
    state: PathBuf,
    /// Settings file (TOML); `tradeloop defaults` prints every key with its default.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Print JSON for scripts instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Seconds to wait for another process using the state directory (default 5, or
    /// `lock_wait_secs` from --config; 0: fail at once).
    #[arg(long, global = true, value_name = "SECS")]
    wait: Option<f64>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create the state directory and its engine (seed and [engine] from --config).
    Init {
        /// Seed of the new engine (default: `seed` from the settings).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Journal a trade's entry or exit.
    Record {
        #[command(subcommand)]
        what: Record,
    },
    /// List the journal: open trades, then the most recent closed ones.
    Trades {
        /// Most closed trades shown.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Signal accuracy and win rate over trades closed in the last N days (counted back
    /// from the newest close, so a historical run reports its own period).
    Accuracy {
        /// Days back from the newest close.
        #[arg(long)]
        days: u32,
    },
    /// Score the served forecast, each expert, the running prior and a frozen network on a
    /// CSV, prequentially (the W6 protocol), natively and without a state directory.
    Evaluate {
        /// CSV `timestamp,open,high,low,close,volume` (default: bundled SPY hourly bars).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Label horizon in bars.
        #[arg(long, default_value_t = 12)]
        horizon: u32,
        /// Only bars at or after this date (`YYYY-MM-DD` or any CSV timestamp); the W6
        /// spec uses SPY from 2007-01-01.
        #[arg(long)]
        from: Option<String>,
        /// Labels the frozen network is trained on (default: 2,000, or a fifth of the
        /// stream if that is less).
        #[arg(long)]
        frozen_after: Option<u32>,
        /// Engine seed.
        #[arg(long, default_value_t = 6)]
        seed: u64,
    },
    /// Trades, win rate, PnL, Sharpe, drawdown, model versions and learner state.
    Summary,
    /// Train the signal model (and the exit learner).
    Learn {
        /// auto lets the policy decide.
        #[arg(long, value_enum, default_value = "auto")]
        mode: Mode,
    },
    /// The signal model's versions.
    Versions,
    /// Make version ID the live model.
    Promote {
        /// Version id.
        id: u32,
    },
    /// Go back to an earlier version (default: the previous live one).
    Rollback {
        /// Version id.
        id: Option<u32>,
    },
    /// Decode any checkpoint file to readable JSON.
    Inspect {
        /// The checkpoint file.
        file: PathBuf,
    },
    /// Create a new state from a checkpoint file (e.g. one exported by the browser page).
    Import {
        /// The checkpoint file.
        file: PathBuf,
    },
    /// Write the engine's current checkpoint to a file (loadable by the browser page and by
    /// `import`).
    Export {
        /// Where to write it (replaced atomically if it exists).
        file: PathBuf,
    },
    /// Run the jobs the schedule says are due, until stopped (SIGINT / SIGTERM).
    Schedule {
        /// Run what is due now and exit.
        #[arg(long)]
        once: bool,
    },
    /// Paper-trade a price series with the built-in rule strategy, learning as it goes.
    Paper {
        /// CSV `timestamp,open,high,low,close,volume` (default: bundled SPY hourly bars).
        /// Give it several times to trade a universe with the ranker; the symbol is the file
        /// name up to its first `_` or `.`.
        #[arg(long)]
        data: Vec<PathBuf>,
        /// Seed of the engine if this creates the state (default: `seed` from the settings).
        #[arg(long)]
        seed: Option<u64>,
        /// Trade a universe: rank the symbols with the ranker and enter the top K (default
        /// universe: bundled SPY, EURUSD and XAUUSD hourly bars, over the years they share).
        #[arg(long)]
        universe: bool,
        /// Universe mode: symbols entered per ranking.
        #[arg(long, default_value_t = 1)]
        top_k: u32,
        /// Universe mode: rank every this many time steps at which every symbol has a bar; a
        /// trade is held at most as many bars of its symbol.
        #[arg(long, default_value_t = 24)]
        every: u32,
        /// Universe mode: the ONNX ranker (default: the bundled models/ranker.onnx).
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Score feature rows with an ONNX ranker, best first.
    Rank {
        /// The ONNX ranker (default: the bundled models/ranker.onnx).
        #[arg(long)]
        model: Option<PathBuf>,
        /// CSV of feature rows: `[label,]f1,...,fN` per line (N = engine features), optional
        /// header line.
        #[arg(long)]
        input: PathBuf,
    },
    /// Write a checkpoint now.
    Checkpoint,
    /// Write a Markdown report with SVG charts of what the engine learned.
    Report {
        /// Output directory (default: `<state>-report` next to the state directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print every setting with its default value (TOML, for --config).
    Defaults,
    /// Run strategy modules (WebAssembly, docs/STRATEGY_ABI.md) side by side on the same
    /// bars, sandboxed, with buy-and-hold as the baseline; no state directory is involved.
    Experiment(tradeloop_host::experiment::cli::Args),
}

#[derive(Subcommand)]
enum Record {
    /// A trade was entered: prints its id once it is durable.
    Entry {
        /// Instrument.
        #[arg(long)]
        symbol: String,
        /// Direction.
        #[arg(long, value_enum)]
        side: CliSide,
        /// Entry price.
        #[arg(long)]
        price: f64,
        /// Quantity.
        #[arg(long, default_value_t = 1.0)]
        size: f64,
        /// Feature vector, comma-separated (default: zeros, as many as the engine expects).
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
        features: Option<Vec<f32>>,
        /// Make a retry safe: a call repeated with the same id (e.g. your order id) gets
        /// the first call's reply and records nothing.
        #[arg(long, value_name = "ID")]
        request_id: Option<String>,
    },
    /// A trade was closed.
    Exit {
        /// Id printed by `record entry`.
        #[arg(long)]
        trade_id: u64,
        /// Exit price.
        #[arg(long)]
        price: f64,
        /// Why.
        #[arg(long, value_enum, default_value = "manual")]
        reason: CliReason,
        /// Make a retry safe: a call repeated with the same id gets the first call's reply
        /// and records nothing.
        #[arg(long, value_name = "ID")]
        request_id: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum CliSide {
    Long,
    Short,
}

#[derive(Clone, Copy, ValueEnum)]
enum CliReason {
    Stop,
    Target,
    Manual,
    Timeout,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Auto,
    Incremental,
    Retrain,
    Eval,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tradeloop: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints `value` as JSON, or `text` when not in JSON mode.
fn out<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", text());
    }
    Ok(())
}

fn open(cli: &Cli, settings: Settings, create: Option<i64>) -> anyhow::Result<Runtime> {
    let rt = Runtime::open(&cli.state, settings, create)?;
    for w in rt.warnings() {
        eprintln!("tradeloop: warning: {w}");
    }
    Ok(rt)
}

/// Applies a `record` command (once per request id, if one is given) and reports any
/// warning of the commit on stderr.
fn record(rt: &mut Runtime, command: Command, request_id: Option<&str>) -> anyhow::Result<Reply> {
    let reply = match request_id {
        None => rt.execute(command, now_ms())?,
        Some(id) => {
            let (reply, repeated) = rt.execute_once(command, now_ms(), id)?;
            if repeated {
                eprintln!(
                    "tradeloop: request id {id:?} was recorded before; this is its reply, and \
                     nothing new was recorded"
                );
            }
            reply
        }
    };
    for w in rt.take_warnings() {
        eprintln!("tradeloop: warning: {w}");
    }
    Ok(reply)
}

fn query(rt: &mut Runtime, q: Query) -> anyhow::Result<Reply> {
    Ok(rt.execute(Command::Query(q), now_ms())?)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    if let Some(wait) = cli.wait {
        settings.lock_wait_secs = wait;
        settings
            .validate()
            .map_err(|e| anyhow::anyhow!("--wait {wait}: {e}"))?;
    }
    let json = cli.json;
    match &cli.command {
        Cmd::Defaults => {
            print!("{}", Settings::default().to_toml());
        }
        Cmd::Inspect { file } => {
            let bytes = std::fs::read(file).with_context(|| format!("{}", file.display()))?;
            let dto = checkpoint::decode(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            println!("{}", serde_json::to_string_pretty(&dto)?);
        }
        Cmd::Import { file } => {
            let bytes = std::fs::read(file).with_context(|| format!("{}", file.display()))?;
            let rt = Runtime::import(&cli.state, settings, &bytes)
                .with_context(|| format!("import {}", file.display()))?;
            out(
                json,
                &serde_json::json!({ "state": rt.path(), "bytes": bytes.len() }),
                || {
                    format!(
                        "state created in {} from {}",
                        rt.path().display(),
                        file.display()
                    )
                },
            )?;
        }
        Cmd::Export { file } => {
            let mut rt = open(&cli, settings, None)?;
            let bytes = rt.snapshot()?;
            tradeloop_host::store::write_file_atomically(file, &bytes)?;
            out(
                json,
                &serde_json::json!({ "file": file, "bytes": bytes.len() }),
                || format!("{} bytes written to {}", bytes.len(), file.display()),
            )?;
        }
        Cmd::Init { seed } => {
            if let Some(s) = seed {
                settings.seed = *s;
            }
            let mut rt = open(&cli, settings, Some(now_ms()))?;
            let path = rt.checkpoint()?;
            out(
                json,
                &serde_json::json!({ "state": rt.path(), "checkpoint": path }),
                || format!("state ready in {}", rt.path().display()),
            )?;
        }
        Cmd::Record { what } => {
            let mut rt = open(&cli, settings, None)?;
            match what {
                Record::Entry {
                    symbol,
                    side,
                    price,
                    size,
                    features,
                    request_id,
                } => {
                    let features = match features {
                        Some(f) => f.clone(),
                        None => {
                            let Reply::Config(c) = query(&mut rt, Query::Config)? else {
                                bail!("unexpected reply to Query::Config");
                            };
                            vec![0.0; c.features as usize]
                        }
                    };
                    let open = OpenTrade {
                        symbol: symbol.clone(),
                        side: match side {
                            CliSide::Long => Side::Long,
                            CliSide::Short => Side::Short,
                        },
                        price: *price,
                        size: *size,
                        features,
                        level: None,
                        exits: None,
                    };
                    let reply = record(&mut rt, Command::Open(open), request_id.as_deref())?;
                    let Reply::Opened(o) = reply else {
                        bail!("unexpected reply to Open");
                    };
                    out(json, &o, || o.trade_id.to_string())?;
                }
                Record::Exit {
                    trade_id,
                    price,
                    reason,
                    request_id,
                } => {
                    let close = CloseTrade {
                        trade_id: *trade_id,
                        price: *price,
                        reason: match reason {
                            CliReason::Stop => ExitReason::Stop,
                            CliReason::Target => ExitReason::Target,
                            CliReason::Manual => ExitReason::Manual,
                            CliReason::Timeout => ExitReason::Timeout,
                        },
                    };
                    let reply = record(&mut rt, Command::Close(close), request_id.as_deref())?;
                    let Reply::Closed(c) = reply else {
                        bail!("unexpected reply to Close");
                    };
                    out(json, &c, || {
                        format!(
                            "trade {} closed: {:?}, PnL {:+.4} ({:+.3}%)",
                            c.trade_id,
                            c.outcome,
                            c.pnl,
                            100.0 * c.pnl_pct
                        )
                    })?;
                }
            }
        }
        Cmd::Trades { limit } => {
            let mut rt = open(&cli, settings, None)?;
            let Reply::Trades(mut trades) = query(&mut rt, Query::OpenTrades)? else {
                bail!("unexpected reply");
            };
            let Reply::Trades(closed) = query(&mut rt, Query::ClosedTrades { limit: *limit })?
            else {
                bail!("unexpected reply");
            };
            trades.extend(closed);
            out(json, &trades, || {
                let mut s = String::from(
                    "id      symbol  side   entry        exit         outcome  pnl%      model",
                );
                for t in &trades {
                    s += &format!(
                        "\n{:<7} {:<7} {:<6} {:<12.4} {:<12} {:<8} {:<9} v{}",
                        t.id,
                        t.symbol,
                        format!("{:?}", t.side).to_lowercase(),
                        t.entry_price,
                        t.close.map_or("open".into(), |c| format!("{:.4}", c.price)),
                        t.close
                            .map_or("-".into(), |c| format!("{:?}", c.outcome).to_lowercase()),
                        t.close
                            .map_or("-".into(), |c| format!("{:+.3}", 100.0 * c.pnl_pct)),
                        t.model_version
                    );
                }
                s
            })?;
        }
        Cmd::Accuracy { days } => {
            let mut rt = open(&cli, settings, None)?;
            let Reply::Accuracy(a) = query(&mut rt, Query::Accuracy { days: *days })? else {
                bail!("unexpected reply");
            };
            let w = a.window;
            out(json, &a, || match (w.trades, a.until) {
                (0, _) | (_, None) => "no trades closed yet".to_string(),
                (n, Some(until)) => format!(
                    "{days} days to the newest close ({}): {n} trades, signal accuracy {}, win \
                     rate {}",
                    tradeloop_core::market::iso_datetime(until),
                    w.accuracy
                        .map_or("-".into(), |x| format!("{:.1}%", 100.0 * x)),
                    w.win_rate
                        .map_or("-".into(), |x| format!("{:.1}%", 100.0 * x)),
                ),
            })?;
        }
        Cmd::Evaluate {
            data,
            horizon,
            from,
            frozen_after,
            seed,
        } => {
            let from = from
                .as_deref()
                .map(tradeloop_core::market::parse_timestamp)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--from: {e}"))?;
            let protocol = tradeloop_core::evaluate::Protocol {
                horizon: *horizon,
                frozen_after: frozen_after.unwrap_or(0),
                seed: *seed,
                ..Default::default()
            };
            let spinner = Spinner::start("evaluating");
            let engine = settings.engine.clone();
            let r = match data {
                Some(path) => tradeloop_host::evaluate::run_file(path, from, engine, protocol),
                None => tradeloop_host::evaluate::run(
                    "bundled SPY_1h.csv",
                    BUNDLED,
                    from,
                    engine,
                    protocol,
                ),
            };
            drop(spinner);
            let r = r?;
            out(json, &r, || tradeloop_host::evaluate::render(&r))?;
        }
        Cmd::Summary => {
            let mut rt = open(&cli, settings, None)?;
            let Reply::Stats(s) = query(&mut rt, Query::Stats)? else {
                bail!("unexpected reply");
            };
            out(json, &s, || {
                format!(
                    "trades: {} opened, {} open, {} closed (loss/flat/win {:?})\n\
                     win rate {:.1}%, signal accuracy {:.1}%, PnL {:+.4} ({:+.2}% summed), Sharpe per trade {:.3}, max drawdown {:.2}%\n\
                     signal model: version {} ({:?}, {}), challenger {}, {} versions created, {} retained, {} new samples{}{}\n\
                     level weights: {:?} after {} adjustments\n\
                     exit learner: {:?}, epsilon {:.3}, {} trainings\n\
                     replay buffer: {} experiences",
                    s.opened,
                    s.open,
                    s.trades.closed,
                    s.trades.outcomes,
                    100.0 * s.win_rate,
                    100.0 * s.accuracy,
                    s.trades.pnl,
                    100.0 * s.trades.equity_pct,
                    s.sharpe,
                    100.0 * s.trades.max_drawdown_pct,
                    s.signal.champion,
                    s.signal.champion_kind,
                    if s.signal.network {
                        "network"
                    } else {
                        "class prior"
                    },
                    s.signal.challenger.map_or("none".into(), |c| c.to_string()),
                    s.signal.created,
                    s.signal.versions,
                    s.signal.new_samples,
                    if s.signal.drift {
                        ", drift detected"
                    } else {
                        ""
                    },
                    if s.signal.paused {
                        ", learning paused (extreme inputs)"
                    } else {
                        ""
                    },
                    s.levels.weights,
                    s.levels.adjustments,
                    s.exits.mode,
                    s.exits.epsilon,
                    s.exits.trainings,
                    s.replay
                )
            })?;
        }
        Cmd::Learn { mode } => {
            let mut rt = open(&cli, settings, None)?;
            let mode = match mode {
                Mode::Auto => LearnMode::Auto,
                Mode::Incremental => LearnMode::Incremental,
                Mode::Retrain => LearnMode::Retrain,
                Mode::Eval => LearnMode::Eval,
            };
            let spinner = Spinner::start("learning");
            let reply = rt.execute(Command::Learn(LearnRequest { mode }), now_ms());
            drop(spinner);
            let Reply::Learned(l) = reply? else {
                bail!("unexpected reply");
            };
            out(json, &l, || {
                let d = l.signal.decision;
                let mut s = format!("decision: {:?} ({:?})", d.action, d.reason);
                if let Some(r) = &l.signal.run {
                    s += &format!(
                        "\nrun: {:?} -> version {}, {}{}",
                        r.kind,
                        r.version.map_or("none".into(), |v| v.to_string()),
                        r.verdict.map_or_else(
                            || format!("rejected ({:?})", r.rejected),
                            |v| format!("{v:?}")
                        ),
                        r.test.map_or(String::new(), |m| format!(
                            "; held-out log-loss {:.4}, accuracy {:.3} on {} samples",
                            m.log_loss, m.accuracy, m.samples
                        ))
                    );
                }
                if let Some(r) = &l.signal.retrain {
                    s += &format!(
                        "\nretrain running: {} epochs done on {} + {} samples",
                        r.epochs, r.rows[0], r.rows[1]
                    );
                }
                if let Some(e) = &l.signal.evaluation {
                    s += &format!("\nevaluation: {e:?}");
                }
                if let Some(x) = &l.exits {
                    s += &format!(
                        "\nexit learner: training {} (validation loss {:.4})",
                        x.training, x.validation_loss
                    );
                }
                s
            })?;
        }
        Cmd::Versions => {
            let mut rt = open(&cli, settings, None)?;
            let Reply::Versions(v) = query(&mut rt, Query::Versions)? else {
                bail!("unexpected reply");
            };
            out(json, &v, || {
                let mut s = String::from(
                    "id     parent kind         role        model    trial (log-loss vs champion, p)   created (ms)",
                );
                for x in &v {
                    s += &format!(
                        "\n{:<6} {:<6} {:<12} {:<11} {:<8} {:<33} {}",
                        x.id,
                        x.parent.map_or("-".into(), |p| p.to_string()),
                        format!("{:?}", x.kind),
                        if x.champion {
                            "live"
                        } else if x.challenger {
                            "on trial"
                        } else if x.best {
                            "best"
                        } else {
                            ""
                        },
                        if x.network { "network" } else { "prior" },
                        x.trial.map_or("-".into(), |t| format!(
                            "{} {:.4} vs {:.4}, p {:.3}",
                            if t.passed { "won" } else { "lost" },
                            t.candidate_log_loss,
                            t.champion_log_loss,
                            t.p_value
                        )),
                        x.created_at
                    );
                }
                s
            })?;
        }
        Cmd::Promote { id } => {
            let mut rt = open(&cli, settings, None)?;
            rt.execute(Command::Promote(*id), now_ms())?;
            out(json, &serde_json::json!({ "champion": id }), || {
                format!("version {id} is live")
            })?;
        }
        Cmd::Rollback { id } => {
            let mut rt = open(&cli, settings, None)?;
            let Reply::Champion(c) = rt.execute(Command::Rollback(*id), now_ms())? else {
                bail!("unexpected reply");
            };
            out(json, &serde_json::json!({ "champion": c }), || {
                format!("rolled back: version {c} is live")
            })?;
        }
        Cmd::Experiment(args) => tradeloop_host::experiment::cli::main(args, json, BUNDLED)?,
        Cmd::Report { out: dir } => {
            let w = tradeloop_host::report::write_report(
                &cli.state,
                dir.as_deref(),
                now_ms(),
                settings.lock_wait(),
            )?;
            out(json, &w, || {
                format!("report written to {}", w.markdown.display())
            })?;
        }
        Cmd::Checkpoint => {
            let mut rt = open(&cli, settings, None)?;
            let path = rt.checkpoint()?;
            out(json, &serde_json::json!({ "checkpoint": path }), || {
                format!("{}", path.display())
            })?;
        }
        Cmd::Schedule { once } => {
            let poll = Duration::from_secs(settings.schedule_poll_secs);
            // Before opening: a signal that arrives while the state is being opened (the lock
            // taken, the journal replayed) stops the loop gracefully too, instead of killing
            // the process mid-start.
            let stop = stop_flag()?;
            let mut rt = open(&cli, settings, None)?;
            loop {
                let now = now_ms();
                let Reply::Due(due) = rt.execute(Command::Query(Query::Due), now)? else {
                    bail!("unexpected reply");
                };
                if !due.is_empty() {
                    let Reply::Ran(ran) = rt.execute(Command::RunDue, now)? else {
                        bail!("unexpected reply");
                    };
                    for (job, report) in &ran {
                        out(
                            json,
                            &serde_json::json!({ "job": job, "report": report }),
                            || {
                                format!(
                                    "{job:?}: {:?} ({:?})",
                                    report.decision.action, report.decision.reason
                                )
                            },
                        )?;
                    }
                    rt.checkpoint()?;
                }
                if *once || wait(&stop, poll) {
                    break;
                }
            }
            rt.checkpoint_if_dirty()?;
            if stop.load(Ordering::Relaxed) {
                eprintln!("tradeloop: stopped by signal; checkpoint written");
            }
        }
        Cmd::Paper {
            data,
            seed,
            universe,
            top_k,
            every,
            model,
        } => {
            if let Some(s) = seed {
                settings.seed = *s;
            }
            if *universe || data.len() > 1 {
                let config = TopKConfig {
                    k: *top_k,
                    every_steps: *every,
                    max_hold_bars: *every,
                    ..TopKConfig::default()
                };
                return paper_universe(&cli, settings, data, config, model.as_deref());
            }
            return paper(&cli, settings, data.first().map(PathBuf::as_path));
        }
        Cmd::Rank { model, input } => rank(&cli, &settings, model.as_deref(), input)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Registers SIGINT and SIGTERM to set the returned flag (graceful shutdown).
fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&flag))?;
    }
    Ok(flag)
}

/// Sleeps up to `d`, in small steps; `true` if the stop flag was raised.
fn wait(stop: &AtomicBool, d: Duration) -> bool {
    let step = Duration::from_millis(100);
    let mut left = d;
    while !left.is_zero() {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        let s = left.min(step);
        std::thread::sleep(s);
        left -= s;
    }
    stop.load(Ordering::Relaxed)
}

#[derive(Serialize)]
struct PaperSummary {
    data: String,
    bars: usize,
    opened: u32,
    closed: u32,
    wins: u32,
    pnl_pct: f64,
    stopped_early: bool,
    engine: Box<tradeloop_core::command::Stats>,
    events: u64,
    checkpoint: PathBuf,
}

fn paper(cli: &Cli, settings: Settings, data: Option<&Path>) -> anyhow::Result<ExitCode> {
    let (name, text) = match data {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?,
        ),
        None => ("bundled SPY_1h.csv".to_string(), BUNDLED.to_string()),
    };
    let candles = parse_csv(&text).map_err(|e| anyhow::anyhow!("{name}:\n{e}"))?;
    let Some(first) = candles.first() else {
        bail!("{name}: no bars");
    };
    // A new state is created at the first bar's time, so the same data, settings and seed
    // give the same checkpoints byte for byte.
    let mut rt = open(cli, settings, Some(first.time))?;
    let stop = stop_flag()?;
    let mut trader = PaperTrader::new(PaperConfig::default())?;
    let (mut opened, mut closed, mut wins, mut pnl) = (0u32, 0u32, 0u32, 0.0f64);
    let mut progress = Progress::new(candles.len());
    let mut stopped = false;
    for (i, c) in candles.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            stopped = true;
            break;
        }
        match trader.on_bar(&mut rt, c)? {
            Some(PaperEvent::Opened { .. }) => opened += 1,
            Some(PaperEvent::Closed {
                outcome, pnl_pct, ..
            }) => {
                closed += 1;
                wins += u32::from(outcome == tradeloop_core::Outcome::Win);
                pnl += pnl_pct;
            }
            None => {}
        }
        progress.show(i + 1);
    }
    drop(progress);
    let checkpoint = rt.checkpoint()?;
    let Reply::Stats(engine) = rt.execute(Command::Query(Query::Stats), now_ms())? else {
        bail!("unexpected reply");
    };
    let summary = PaperSummary {
        data: name,
        bars: candles.len(),
        opened,
        closed,
        wins,
        pnl_pct: pnl,
        stopped_early: stopped,
        events: rt.events()?,
        engine,
        checkpoint,
    };
    out(cli.json, &summary, || {
        format!(
            "{} bars of {}: {} trades opened, {} closed, win rate {:.1}%, PnL {:+.2}% summed\n\
             engine: {} trades closed in all, signal model version {} ({} created), {} events journalled\n\
             checkpoint: {}{}",
            summary.bars,
            summary.data,
            opened,
            closed,
            if closed > 0 {
                100.0 * f64::from(wins) / f64::from(closed)
            } else {
                0.0
            },
            100.0 * pnl,
            summary.engine.trades.closed,
            summary.engine.signal.champion,
            summary.engine.signal.created,
            summary.events,
            summary.checkpoint.display(),
            if stopped {
                "\nstopped by signal before the end of the data"
            } else {
                ""
            }
        )
    })?;
    Ok(if stopped {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// `tradeloop rank`: scores the rows of `input`, prints them best first.
fn rank(cli: &Cli, settings: &Settings, model: Option<&Path>, input: &Path) -> anyhow::Result<()> {
    let ranker = ranker::load(model, settings.engine.features)?;
    let text = std::fs::read_to_string(input).with_context(|| format!("{}", input.display()))?;
    let tradeloop_core::market::FeatureRows {
        labels,
        values: rows,
    } = tradeloop_core::market::parse_feature_rows(&text, ranker.features())
        .map_err(|e| anyhow::anyhow!("{}:\n{e}", input.display()))?;
    let out = ranker::score(&ranker, &rows)?;
    let order = tradeloop_core::ranking::order(&out.scores);
    #[derive(Serialize)]
    struct Row<'a> {
        rank: usize,
        label: &'a str,
        score: f32,
        class: Option<tradeloop_core::Outcome>,
    }
    let ranked: Vec<Row> = order
        .iter()
        .enumerate()
        .map(|(place, &i)| Row {
            rank: place + 1,
            label: &labels[i],
            score: out.scores[i].score,
            class: out.scores[i].class,
        })
        .collect();
    let value = serde_json::json!({ "model": out.model, "rows": ranked });
    crate::out(cli.json, &value, || {
        let mut t = format!("model {}\nrank  score      class  label\n", out.model);
        for r in &ranked {
            let class = r
                .class
                .map_or("-".to_string(), |c| format!("{c:?}").to_lowercase());
            t.push_str(&format!(
                "{:>4}  {:+.6}  {:<5}  {}\n",
                r.rank, r.score, class, r.label
            ));
        }
        t.trim_end().to_string()
    })
}

#[derive(Serialize)]
struct UniverseSummary {
    data: Vec<String>,
    symbols: Vec<String>,
    from: i64,
    to: i64,
    run: universe::UniverseRun,
    events: u64,
    ranking: tradeloop_core::ranking::RankReport,
    checkpoint: PathBuf,
}

/// `tradeloop paper --universe` (or several `--data`): top-K trading with the ranker.
fn paper_universe(
    cli: &Cli,
    settings: Settings,
    data: &[PathBuf],
    config: TopKConfig,
    model: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let (names, series) = if data.is_empty() {
        let series = universe::BUNDLED
            .iter()
            .map(|(name, text)| universe::Series::parse(name, text))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let names = universe::BUNDLED
            .iter()
            .map(|(n, _)| format!("bundled {n}"))
            .collect();
        (names, series)
    } else {
        let series = data
            .iter()
            .map(|p| universe::Series::load(p))
            .collect::<anyhow::Result<Vec<_>>>()?;
        (
            data.iter().map(|p| p.display().to_string()).collect(),
            series,
        )
    };
    let steps = universe::align(&series)?;
    let symbols: Vec<String> = series.iter().map(|s| s.symbol.clone()).collect();
    let mut trader = TopKTrader::new(config, &symbols)?;
    let ranker = ranker::load(model, settings.engine.features)?;
    let (from, to) = (steps[0].0, steps[steps.len() - 1].0);
    let mut rt = open(cli, settings, Some(from))?;
    rt.set_ranker(Some(ranker::rank_fn(ranker)));
    let stop = stop_flag()?;
    let mut progress = Progress::new(steps.len());
    let result = universe::run(&mut rt, &mut trader, &steps, &stop, |i| progress.show(i));
    drop(progress);
    let run = result?;
    let checkpoint = rt.checkpoint()?;
    let Reply::Ranking(ranking) = rt.execute(Command::Query(Query::Ranking), now_ms())? else {
        bail!("unexpected reply");
    };
    let summary = UniverseSummary {
        data: names,
        symbols,
        from,
        to,
        events: rt.events()?,
        ranking: *ranking,
        checkpoint,
        run,
    };
    out(cli.json, &summary, || {
        let r = &summary.run;
        let k = &summary.ranking;
        format!(
            "{} steps of {} ({}): {} rankings by {}, {} trades opened, {} closed, win rate {:.1}%, PnL {:+.2}% summed\n\
             top K vs universe per ranking period: {:+.4}% vs {:+.4}% (excess {:+.4}%, t {:.2}, beat the universe {:.1}% of {} periods, mean rank IC {:+.3})\n\
             {} events journalled; checkpoint: {}{}",
            r.steps,
            summary.symbols.join(", "),
            summary.data.join(", "),
            r.rankings,
            r.model.as_deref().unwrap_or("-"),
            r.opened,
            r.closed,
            if r.closed > 0 {
                100.0 * f64::from(r.wins) / f64::from(r.closed)
            } else {
                0.0
            },
            100.0 * r.pnl_pct,
            100.0 * k.mean_top_k_return,
            100.0 * k.mean_universe_return,
            100.0 * k.mean_excess_return,
            k.excess_t,
            100.0 * k.hit_rate,
            k.periods,
            k.mean_ic,
            summary.events,
            summary.checkpoint.display(),
            if r.stopped_early {
                "\nstopped by signal before the end of the data"
            } else {
                ""
            }
        )
    })?;
    Ok(if summary.run.stopped_early {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
struct Progress {
    total: usize,
    last: usize,
    on: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        Self {
            total,
            last: usize::MAX,
            on: std::io::stderr().is_terminal(),
        }
    }

    fn show(&mut self, done: usize) {
        let pct = done * 100 / self.total.max(1);
        if !self.on || pct == self.last {
            return;
        }
        self.last = pct;
        let filled = pct * 40 / 100;
        eprint!(
            "\r[{}{}] {pct:>3}% {done}/{} bars",
            "=".repeat(filled),
            " ".repeat(40 - filled),
            self.total
        );
        let _ = std::io::stderr().flush();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.on {
            eprintln!();
        }
    }
}

/// A spinner on stderr while something long runs (terminal only).
struct Spinner {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    fn start(what: &'static str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::io::stderr().is_terminal().then(|| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let frames = ['|', '/', '-', '\\'];
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    eprint!("\r{what} {}", frames[i % 4]);
                    let _ = std::io::stderr().flush();
                    i += 1;
                    std::thread::sleep(Duration::from_millis(120));
                }
                eprint!("\r{}\r", " ".repeat(what.len() + 2));
            })
        });
        Self { stop, thread }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
