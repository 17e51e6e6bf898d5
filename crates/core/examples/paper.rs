//! Streams a real price series through the engine with the built-in rule strategy and shows
//! what the learners learned.
//!
//! `cargo run --release -p tradeloop-core --example paper [-- FILE.csv [SEED]]`
//! (default: the bundled SPY hourly bars, 2007-2021).

#![allow(clippy::print_stdout)] // printing what was learned is this example's job

use std::error::Error;
use std::time::Instant;

use tradeloop_core::learners::LEVEL_FEATURE_NAMES;
use tradeloop_core::lifecycle::policy::LearnMode;
use tradeloop_core::market::parse_csv;
use tradeloop_core::paper::{PaperConfig, PaperEvent, PaperTrader};
use tradeloop_core::{Command, Engine, EngineConfig, LearnRequest, Query, Reply};

const DEFAULT_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/market/SPY_1h.csv");

fn weights(w: &[f32; 6]) -> String {
    LEVEL_FEATURE_NAMES
        .iter()
        .zip(w)
        .map(|(n, v)| format!("{n} {v:.3}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().map(String::as_str).unwrap_or(DEFAULT_DATA);
    let seed: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(42);
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let candles = parse_csv(&text).map_err(|e| format!("{path}:\n{e}"))?;
    println!("{} bars from {path}", candles.len());

    let start = candles.first().map_or(0, |c| c.time);
    let mut engine = Engine::new(EngineConfig::default(), seed, start)?;
    let mut trader = PaperTrader::new(PaperConfig::default())?;
    let (w0, eps0) = (engine.levels().weights(), engine.exits().epsilon());
    let started = Instant::now();
    let (mut wins, mut closed, mut explored) = (0u32, 0u32, 0u32);
    let (mut correct_window, mut window) = (0u32, 0u32);
    for c in &candles {
        match trader.on_bar(&mut engine, c)? {
            Some(PaperEvent::Opened { explored: e, .. }) => explored += u32::from(e),
            Some(PaperEvent::Closed {
                trade_id,
                outcome,
                level_adjustment,
                exit_training,
                learned,
                trial,
                ..
            }) => {
                if let Some((d, r)) = learned.and_then(|l| l.run.map(|r| (l.decision, r))) {
                    println!(
                        "  signal  {:?} ({:?}): {:?} version {}{}",
                        d.action,
                        d.reason,
                        r.kind,
                        r.version
                            .map_or("rejected".into(), |v| format!("{v}, on trial")),
                        if r.prior_chosen { " (class prior)" } else { "" },
                    );
                }
                if let Some(t) = trial {
                    println!(
                        "  trial   version {} {:?} against {}: log-loss {:.4} vs {:.4} on {} trades, p = {:.3}",
                        t.candidate,
                        t.verdict,
                        t.result.champion,
                        t.result.candidate_log_loss,
                        t.result.champion_log_loss,
                        t.result.rows,
                        t.result.p_value
                    );
                }
                closed += 1;
                wins += u32::from(outcome == tradeloop_core::Outcome::Win);
                if let Some(t) = engine.journal().get(trade_id) {
                    window += 1;
                    correct_window += u32::from(t.signal.class == outcome);
                }
                if let Some(a) = level_adjustment
                    && (a.at_trade <= 30 || a.at_trade.is_multiple_of(200))
                {
                    println!("  levels  #{:<5} {a}", a.at_trade);
                }
                if let Some(t) = exit_training
                    && (t.training <= 2 || t.training.is_multiple_of(25))
                {
                    println!(
                        "  exits   training {:<3} on {} trades: surprise {:.4}, validation loss {:.4}{}, epsilon {:.3}",
                        t.training,
                        t.train_samples,
                        t.mean_error,
                        t.validation_loss,
                        if t.improved { " (best so far)" } else { "" },
                        engine.exits().epsilon()
                    );
                }
                if closed.is_multiple_of(250) {
                    println!(
                        "after {closed:>5} trades: win rate {:.1}%, signal accuracy on the last {window} {:.1}%, champion version {}",
                        100.0 * f64::from(wins) / f64::from(closed),
                        100.0 * f64::from(correct_window) / f64::from(window.max(1)),
                        engine.lifecycle().registry().champion().id
                    );
                    (correct_window, window) = (0, 0);
                }
            }
            None => {}
        }
    }
    let elapsed = started.elapsed();
    let end = candles.last().map_or(0, |c| c.time);
    let Reply::Learned(learned) = engine.apply(
        Command::Learn(LearnRequest {
            mode: LearnMode::Eval,
        }),
        end,
    )?
    else {
        unreachable!("Learn answers Learned")
    };
    let Reply::Stats(s) = engine.apply(Command::Query(Query::Stats), end)? else {
        unreachable!()
    };
    let Reply::Monitor(m) = engine.apply(Command::Query(Query::Monitor { version: None }), end)?
    else {
        unreachable!()
    };

    println!();
    println!(
        "{} bars, {} trades in {:.2?} ({:.1} us per bar)",
        candles.len(),
        s.trades.closed,
        elapsed,
        elapsed.as_secs_f64() * 1e6 / candles.len() as f64
    );
    println!(
        "trades: win rate {:.1}%, outcomes loss/flat/win {:?}, PnL {:+.2}% summed, Sharpe per trade {:.3}, max drawdown {:.2}%",
        100.0 * s.win_rate,
        s.trades.outcomes,
        100.0 * s.trades.equity_pct,
        s.sharpe,
        100.0 * s.trades.max_drawdown_pct
    );
    let e = learned.signal.evaluation;
    println!(
        "signal model: champion version {} ({:?}, {}), {} versions created, entry-time accuracy {:.1}%; \
         on the newest held-out fifth of the replay buffer: {}",
        s.signal.champion,
        s.signal.champion_kind,
        if s.signal.network {
            "network"
        } else {
            "class prior"
        },
        s.signal.created,
        100.0 * s.accuracy,
        e.and_then(|e| e.champion_metrics)
            .map_or("-".into(), |m| format!(
                "accuracy {:.1}%, log-loss {:.4} (ln 3 = 1.0986 is chance) on {} samples",
                100.0 * m.accuracy,
                m.log_loss,
                m.samples
            ))
    );
    let Reply::Mixture(mix) = engine.apply(Command::Query(Query::Mixture), end)? else {
        unreachable!()
    };
    println!(
        "served forecast (the mixture) on {} trades: log-loss {}, {:.2} nats {} than the running \
         prior in all (proven: never more than {:.2} nats worse); weights now:",
        mix.rows,
        mix.log_loss.map_or("-".into(), |l| format!("{l:.4}")),
        mix.excess_vs_prior.abs(),
        if mix.excess_vs_prior <= 0.0 {
            "better"
        } else {
            "worse"
        },
        mix.bound_vs_prior
    );
    for x in &mix.experts {
        println!(
            "  {:<18} weight {:.3}  log-loss {}",
            x.expert.name(),
            x.weight,
            x.log_loss.map_or("-".into(), |l| format!("{l:.4}"))
        );
    }
    let all = m.windows[3];
    println!(
        "monitor: {} trades kept, accuracy {}, prediction bias loss/flat/win {:+.3?}",
        all.trades,
        all.accuracy
            .map_or("-".into(), |a| format!("{:.1}%", 100.0 * a)),
        m.bias
    );
    println!("level weights: {} adjustments", s.levels.adjustments);
    println!("  before: {}", weights(&w0));
    println!("  after:  {}", weights(&s.levels.weights));
    if let Some(last) = engine.levels().history().last() {
        println!("  last:   {last}");
    }
    println!(
        "exit learner: epsilon {eps0:.3} -> {:.3}, {explored} of {} entries explored, {} trainings, best validation loss {}",
        s.exits.epsilon,
        s.exits.suggestions,
        s.exits.trainings,
        s.exits
            .best_validation_loss
            .map_or("-".into(), |l| format!("{l:.4}"))
    );
    let bytes = engine.snapshot();
    println!(
        "checkpoint: {} bytes, restores to the same engine: {}",
        bytes.len(),
        Engine::restore(&bytes)? == engine
    );
    Ok(())
}
