//! `tradeloop report` end to end: a paper run on bundled data gives a Markdown report whose
//! numbers match `summary` and SVG charts that plot every closed trade, level adjustment and
//! version; a missing state is a clear error; a fresh state still gets a (nothing yet)
//! report; the output may not go inside the state directory.

use std::path::{Path, PathBuf};

use tradeloop_core::abi::Request;
use tradeloop_core::command::{Observation, Stats};
use tradeloop_core::market::parse_csv;
use tradeloop_core::paper::{PaperConfig, PaperTrader};
use tradeloop_core::rng::SplitMix64;
use tradeloop_core::{Apply, Command, Engine, EngineConfig, Error, Query, Reply};
use tradeloop_host::report::{CHARTS, default_out, write_report};
use tradeloop_host::runtime::changes_state;
use tradeloop_host::settings::Settings;
use tradeloop_host::store::StateDir;

use std::time::Duration;

mod common;
use common::{Temp, ok_json, tl};

/// The point lists of every `<polyline>` in an SVG, as point counts.
fn polylines(svg: &str) -> Vec<usize> {
    svg.split("<polyline")
        .skip(1)
        .filter_map(|rest| {
            let attrs = &rest[..rest.find('>')?];
            let start = attrs.find("points=\"")? + "points=\"".len();
            let end = start + attrs[start..].find('"')?;
            Some(attrs[start..end].split_whitespace().count())
        })
        .collect()
}

/// Polylines with at least `n` points.
fn lines_with(svg: &str, n: usize) -> usize {
    polylines(svg).into_iter().filter(|&k| k >= n).count()
}

/// Reads every chart of a report directory, checking it is a whole SVG document with its
/// title.
fn charts(dir: &Path) -> Vec<String> {
    let titles = [
        "Equity curve",
        "Rolling win rate and signal accuracy",
        "Support/resistance level weights",
        "Exit learner",
        "Signal model versions",
        "What the engine trusts",
        "Drift detection",
        "A/B tests",
    ];
    CHARTS
        .iter()
        .zip(titles)
        .map(|(name, title)| {
            let svg = std::fs::read_to_string(dir.join(name)).unwrap();
            assert!(
                svg.starts_with("<svg"),
                "{name}: {}",
                &svg[..svg.len().min(80)]
            );
            assert!(svg.trim_end().ends_with("</svg>"), "{name} is cut off");
            assert!(svg.len() > 2_000, "{name} is nearly empty");
            assert!(svg.contains(title), "{name} lacks its title {title:?}");
            // Axis labels are SVG text: no font files are needed to draw them.
            assert!(svg.contains("time (UTC)"), "{name} lacks its time axis");
            svg
        })
        .collect()
}

#[test]
fn report_of_a_paper_run_matches_the_summary_and_plots_everything() {
    let t = Temp::new("paper");
    let state = t.join("state");
    let btc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/market/BTC-USD_1d.csv");
    ok_json(&state, &["paper", "--data", btc.to_str().unwrap()]);
    let summary = ok_json(&state, &["summary"]);
    let closed = summary["trades"]["closed"].as_u64().unwrap() as usize;
    let created = summary["signal"]["created"].as_u64().unwrap() as usize;
    let adjustments = summary["levels"]["adjustments"].as_u64().unwrap() as usize;
    assert!(closed > 50 && created >= 1, "{summary}");

    let out = t.join("out");
    let written = ok_json(&state, &["report", "--out", out.to_str().unwrap()]);
    assert_eq!(
        written["dir"].as_str().map(PathBuf::from),
        Some(out.clone())
    );
    let md_path = out.join("report.md");
    assert_eq!(
        written["markdown"].as_str().map(PathBuf::from),
        Some(md_path.clone())
    );
    let listed: Vec<PathBuf> = written["charts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| PathBuf::from(p.as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        CHARTS.iter().map(|c| out.join(c)).collect::<Vec<_>>()
    );

    // The Markdown embeds every chart and states the summary's numbers.
    let md = std::fs::read_to_string(&md_path).unwrap();
    for c in CHARTS {
        assert!(
            md.contains(&format!("]({c})")),
            "report.md does not embed {c}"
        );
    }
    let f = |k: &[&str]| {
        k.iter()
            .fold(&summary, |v, k| &v[*k])
            .as_f64()
            .unwrap_or_else(|| panic!("{k:?} in {summary}"))
    };
    for row in [
        format!("| closed trades | {closed} |"),
        format!("| trades opened | {} |", summary["opened"]),
        format!("| win rate | {:.2}% |", 100.0 * f(&["win_rate"])),
        format!("| signal accuracy | {:.2}% |", 100.0 * f(&["accuracy"])),
        format!("| PnL | {:+.4} |", f(&["trades", "pnl"])),
        format!("| champion | v{} (", summary["signal"]["champion"]),
        format!(
            "| versions created / retained | {created} / {} |",
            summary["signal"]["versions"]
        ),
        format!("| level adjustments | {adjustments} |"),
    ] {
        assert!(md.contains(&row), "report.md lacks {row:?}:\n{md}");
    }
    assert!(
        md.contains("| 7 days |") && md.contains("| 30 days |"),
        "{md}"
    );
    assert!(!md.contains("Nothing to report yet"));
    // The native replay equals what the plugin computed (the paper run's checkpoint).
    assert!(
        md.contains("the replay equals the checkpoint at event"),
        "{md}"
    );

    // Each series has a point per closed trade (plus the starting point), per level
    // adjustment and per version.
    let svgs = charts(&out);
    let [
        equity,
        accuracy,
        levels,
        exits,
        versions,
        experts,
        drift,
        _ab,
    ] = &svgs[..]
    else {
        unreachable!()
    };
    assert!(
        lines_with(equity, closed) >= 1,
        "equity: {:?}",
        polylines(equity)
    );
    assert!(equity.contains("<polygon"), "no drawdown area");
    assert_eq!(lines_with(accuracy, closed), 4, "{:?}", polylines(accuracy));
    assert!(adjustments > 0, "{summary}");
    assert!(
        lines_with(levels, adjustments + 1) >= 6,
        "{:?}",
        polylines(levels)
    );
    assert!(lines_with(exits, closed) >= 2, "{:?}", polylines(exits));
    assert!(
        lines_with(versions, created) >= 1,
        "{:?}",
        polylines(versions)
    );
    assert!(lines_with(drift, closed) >= 2, "{:?}", polylines(drift));
    // A line per expert of the mixture and the served-minus-prior curve, each with a point
    // per label (every close); the bound is dashed.
    assert!(lines_with(experts, closed) >= 9, "{:?}", polylines(experts));
    assert!(md.contains("| online net pooled | "), "{md}");

    // Reporting changed nothing: the state still opens and has the same events.
    let again = ok_json(&state, &["summary"]);
    assert_eq!(again, summary);
    // A second report over the same directory rewrites it, identically but for the time it
    // was generated: the history is a function of the journal.
    let svg_before = std::fs::read_to_string(out.join(CHARTS[5])).unwrap();
    ok_json(&state, &["report", "--out", out.to_str().unwrap()]);
    let without_time = |md: &str| -> String {
        md.lines()
            .filter(|l| !l.starts_with("- Generated:"))
            .collect()
    };
    let md2 = std::fs::read_to_string(&md_path).unwrap();
    assert_eq!(without_time(&md2), without_time(&md));
    assert_eq!(
        std::fs::read_to_string(out.join(CHARTS[5])).unwrap(),
        svg_before
    );
}

#[test]
fn a_missing_state_is_a_clear_error() {
    let t = Temp::new("missing");
    let state = t.join("nope");
    let out = t.join("out");
    let o = tl(&state, &["report", "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.trim(),
        format!(
            "tradeloop: state directory {} does not exist",
            state.display()
        )
    );
    assert!(!state.exists() && !out.exists(), "nothing is created");

    // An existing empty directory is not a state either, and stays empty (no `LOCK`, no
    // journal); so do `summary` and the other commands that need a state.
    let empty = t.join("empty");
    std::fs::create_dir(&empty).unwrap();
    for args in [
        &["report", "--out", out.to_str().unwrap()][..],
        &["summary"],
        &["checkpoint"],
    ] {
        let o = tl(&empty, args);
        assert!(!o.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("holds no tradeloop state"), "{args:?}: {err}");
        let left: Vec<_> = std::fs::read_dir(&empty).unwrap().collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
    assert!(!out.exists(), "no report written");
}

#[test]
fn a_fresh_state_gets_a_report_saying_there_is_nothing_yet() {
    let t = Temp::new("fresh");
    let state = t.join("state");
    ok_json(&state, &["init"]);
    // Default output: next to the state directory, not in it.
    let written = ok_json(&state, &["report"]);
    let out = default_out(&state);
    assert_eq!(out, t.join("state-report"));
    assert_eq!(
        written["dir"].as_str().map(PathBuf::from),
        Some(out.clone())
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("Nothing to report yet"), "{md}");
    assert!(md.contains("| closed trades | 0 |"), "{md}");
    assert!(md.contains("No A/B test ran"), "{md}");
    let svgs = charts(&out);
    assert!(svgs[0].contains("no closed trades yet"));
    assert!(svgs[7].contains("no A/B test has run"));
    // The state directory is untouched and still usable.
    assert_eq!(ok_json(&state, &["summary"])["trades"]["closed"], 0);
}

#[test]
fn the_report_may_not_go_inside_the_state_directory() {
    let t = Temp::new("inside");
    let state = t.join("state");
    ok_json(&state, &["init"]);
    // Also through a symbolic link to the state directory.
    let link = t.join("link");
    std::os::unix::fs::symlink(&state, &link).unwrap();
    for out in [
        state.join("report"),
        state.clone(),
        state.join("x/../y"),
        link.join("report"),
        t.join("elsewhere/../state/z"),
    ] {
        let o = tl(&state, &["report", "--out", out.to_str().unwrap()]);
        assert!(!o.status.success(), "{}", out.display());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("inside the state directory"), "{err}");
    }
    for name in ["report", "x", "y", "z"] {
        assert!(!state.join(name).exists(), "{name} was created");
    }
    // Still a valid state (a stray directory would make it foreign).
    ok_json(&state, &["summary"]);
}

/// A native engine that journals what it applies, like the host's runtime does with the
/// plugin.
struct Journalled {
    engine: Engine,
    store: StateDir,
}

impl Apply for Journalled {
    fn apply(&mut self, command: Command, now: i64) -> Result<Reply, Error> {
        let bytes = postcard::to_allocvec(&command).unwrap();
        let keep = changes_state(&command);
        let reply = self.engine.apply(command, now)?;
        if keep {
            self.store.append(now, &bytes).unwrap();
        }
        Ok(reply)
    }
}

/// Paper-trades `bars` bars of a bundled series with a native engine configured by
/// `config`, journalled into a new state directory; writes a checkpoint after
/// `checkpoint_at` bars. Returns the engine.
fn native_paper_state(
    dir: &Path,
    data: &str,
    config: EngineConfig,
    bars: usize,
    checkpoint_at: usize,
) -> Engine {
    let csv = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../data/market")
            .join(data),
    )
    .unwrap();
    let candles = parse_csv(&csv).unwrap();
    let seed = Settings::default().seed;
    let now = candles[0].time;
    let mut store = StateDir::open(dir, true).unwrap();
    let genesis = Request::Create {
        config: Box::new(config.clone()),
        seed,
        now,
    };
    store
        .set_genesis(&postcard::to_allocvec(&genesis).unwrap())
        .unwrap();
    let engine = Engine::new(config, seed, now).unwrap();
    let mut j = Journalled { engine, store };
    let mut trader = PaperTrader::new(PaperConfig::default()).unwrap();
    for (i, c) in candles.iter().take(bars).enumerate() {
        trader.on_bar(&mut j, c).unwrap();
        if i + 1 == checkpoint_at {
            let seq = j.store.last_seq().unwrap();
            let bytes = j.engine.snapshot();
            j.store.write_checkpoint(seq, &bytes, 3).unwrap();
        }
    }
    j.engine
}

fn query(engine: &mut Engine, q: Query) -> Reply {
    engine.apply(Command::Query(q), 0).unwrap()
}

fn engine_stats(engine: &mut Engine) -> Stats {
    let Reply::Stats(s) = query(engine, Query::Stats) else {
        panic!("no stats")
    };
    *s
}

#[test]
fn report_of_a_natively_journalled_state() {
    let t = Temp::new("native");
    let state = t.join("state");
    let mut engine = native_paper_state(
        &state,
        "BTC-USD_1d.csv",
        Settings::default().engine,
        900,
        600,
    );
    let stats = engine_stats(&mut engine);
    assert!(stats.trades.closed > 20, "{stats:?}");
    let out = t.join("out");
    let w = write_report(&state, Some(&out), 1_700_000_000_000, Duration::ZERO).unwrap();
    assert_eq!(w.charts.len(), CHARTS.len());
    let md = std::fs::read_to_string(&w.markdown).unwrap();
    assert!(
        md.contains("- Generated: 2023-11-14T22:13:20Z (host clock)"),
        "{md}"
    );
    assert!(md.contains(&format!("| closed trades | {} |", stats.trades.closed)));
    assert!(md.contains(&format!("| win rate | {:.2}% |", 100.0 * stats.win_rate)));
    assert!(md.contains(&format!("| PnL | {:+.4} |", stats.trades.pnl)));
    // The checkpoint was written mid-way: the replay passes it and compares.
    assert!(
        md.contains("the replay equals the checkpoint at event"),
        "{md}"
    );
    let svgs = charts(&out);
    let closed = stats.trades.closed as usize;
    assert!(
        lines_with(&svgs[0], closed) >= 1,
        "{:?}",
        polylines(&svgs[0])
    );
    assert_eq!(lines_with(&svgs[1], closed), 4, "{:?}", polylines(&svgs[1]));
    assert!(
        lines_with(&svgs[2], stats.levels.adjustments as usize + 1) >= 6,
        "{:?}",
        polylines(&svgs[2])
    );
    assert!(
        lines_with(&svgs[4], stats.signal.created as usize) >= 1,
        "{:?}",
        polylines(&svgs[4])
    );
    // What the engine trusts: one line per expert with a point per label (every close),
    // and the final weights in the table are the engine's.
    assert!(
        lines_with(&svgs[5], closed) >= 8,
        "{:?}",
        polylines(&svgs[5])
    );
    let Reply::Mixture(m) = query(&mut engine, Query::Mixture) else {
        panic!("no mixture")
    };
    assert_eq!(m.rows as usize, closed);
    for x in &m.experts {
        let row = format!("| {} | {:.3} |", x.expert.name(), x.weight);
        assert!(md.contains(&row), "{row} not in:\n{md}");
    }
    // A/B routing is off by default: no experiment ran.
    assert!(md.contains("No A/B test ran"), "{md}");
    // The lock was released: the state opens again.
    drop(StateDir::open(&state, false).unwrap());
}

#[test]
fn drift_alarms_and_pauses_are_reported() {
    let t = Temp::new("drift");
    let state = t.join("state");
    let mut config = EngineConfig {
        features: 4,
        ..Settings::default().engine
    };
    config.lifecycle.drift.psi.window = 50;
    config.lifecycle.drift.page_hinkley.lambda = 5.0;
    // An early snapshot of the online network goes on a short trial and wins it, so the
    // champion is a network with a feature reference (PSI) and frozen statistics (the
    // extreme-input guard).
    config.lifecycle.policy.snapshot_every = 150;
    config.lifecycle.gate.trial = 60;
    config.lifecycle.gate.block = 6;
    let now0 = 1_600_000_000_000;
    let mut store = StateDir::open(&state, true).unwrap();
    let genesis = Request::Create {
        config: Box::new(config.clone()),
        seed: 3,
        now: now0,
    };
    store
        .set_genesis(&postcard::to_allocvec(&genesis).unwrap())
        .unwrap();
    let engine = Engine::new(config, 3, now0).unwrap();
    let mut j = Journalled { engine, store };
    // Labelled samples whose class follows feature 0: first as they are, then with the
    // inputs moved far away (PSI, and the extreme-input guard pauses learning), then back
    // but with the relation flipped (the error rate jumps: Page-Hinkley).
    let mut rng = SplitMix64::new(11);
    for i in 0..700u32 {
        let shift = if (300..400).contains(&i) { 25.0 } else { 0.0 };
        let sign = if i >= 400 { -1.0 } else { 1.0 };
        let x: Vec<f64> = (0..4).map(|_| rng.normal()).collect();
        let observe = Command::Observe(Observation {
            features: x.iter().map(|v| (v + shift) as f32).collect(),
            return_pct: sign * 0.01 * x[0].signum(),
        });
        j.apply(observe, now0 + i64::from(i) * 3_600_000).unwrap();
    }
    drop(j);
    let out = t.join("out");
    write_report(&state, Some(&out), 0, Duration::ZERO).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let count = |what: &str| -> u64 {
        let at = md
            .find(what)
            .unwrap_or_else(|| panic!("no {what:?}:\n{md}"))
            + what.len();
        let digits: String = md[at..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap()
    };
    let (ph, psi, pauses) = (
        count("Page-Hinkley alarms: "),
        count("PSI alarms: "),
        count("pauses: "),
    );
    assert!(ph > 0 && psi > 0 && pauses > 0, "{ph} {psi} {pauses}\n{md}");
    assert!(md.contains("| Page-Hinkley alarm |"), "{md}");
    assert!(md.contains("| PSI drift (feature "), "{md}");
    assert!(md.contains("| learning paused (extreme inputs) |"), "{md}");
    // One vertical line per alarm, and a shaded band per pause in each panel.
    let drift = std::fs::read_to_string(out.join("drift.svg")).unwrap();
    let two_point = polylines(&drift).iter().filter(|&&n| n == 2).count() as u64;
    assert!(two_point >= ph + psi, "{two_point} < {ph} + {psi}");
    assert!(drift.matches("<rect").count() as u64 >= 2 * pauses);
    // The Page-Hinkley statistic is plotted at every event.
    assert!(lines_with(&drift, 700) >= 1, "{:?}", polylines(&drift));
}
