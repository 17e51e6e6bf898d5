//! `cargo bench -p tradeloop-host --bench cli [-- --quick]`
//!
//! W8, **a whole `tradeloop` call** as a trading bot makes it on every fill: the process
//! starts, loads the compiled plugin (from the module cache), opens the state (newest
//! checkpoint plus the journal after it), applies the command, commits it to the SQLite
//! journal (WAL, `synchronous=FULL`) and exits. Timed from outside, spawn to exit, on a
//! state that already holds 10,000 events (trades opened and closed with features, so the
//! engine has learned from them).
//!
//! The floor, measured in the same run and interleaved call by call: one `sqlite3` CLI
//! process inserting one row into a WAL database with `synchronous=FULL`, the least a
//! durable write from a new process costs on this machine.
//!
//! Prints `W8 <call> p50 <ms> ms` and `p99` lines, then `W8 ratio` lines against the floor.
//! `W8_KEEP=1` keeps the state and the cache (in the system temp directory) for a look.

#![allow(clippy::print_stdout)] // printing the figures is this program's job

use std::path::Path;
use std::process::Command as Process;
use std::time::Instant;

use tradeloop_core::rng::SplitMix64;
use tradeloop_core::{CloseTrade, Command, ExitReason, OpenTrade, Reply, Side};
use tradeloop_host::runtime::Runtime;
use tradeloop_host::settings::Settings;

const BIN: &str = env!("CARGO_BIN_EXE_tradeloop");
const T0: i64 = 1_700_000_000_000;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (events, calls) = if quick { (1_000, 15) } else { (10_000, 200) };
    let root = std::env::temp_dir().join(format!("tradeloop-bench-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("temp dir");
    let state = root.join("state");
    let cache = root.join("cache");
    let features = Settings::default().engine.features as usize;

    println!(
        "# W8: whole `tradeloop record` processes on a state of {events} events, {calls} calls each{}",
        if quick {
            " (QUICK smoke run: figures not meaningful)"
        } else {
            ""
        }
    );
    let started = Instant::now();
    fill(&state, events, features);
    println!("# state filled in {:.1} s", started.elapsed().as_secs_f64());

    let floor_db = root.join("floor.db");
    let sqlite = Process::new("sqlite3")
        .arg(&floor_db)
        .arg("PRAGMA journal_mode=WAL; CREATE TABLE events(seq INTEGER PRIMARY KEY, now INTEGER, bytes BLOB);")
        .output()
        .is_ok_and(|o| o.status.success());
    if !sqlite {
        println!("# floor skipped: no sqlite3 command on this machine");
    }

    let run = |cache: &Path, args: &[&str]| {
        let t = Instant::now();
        let out = Process::new(BIN)
            .env("TRADELOOP_CACHE_DIR", cache)
            .arg("--state")
            .arg(&state)
            .args(args)
            .output()
            .expect("tradeloop runs");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        assert!(
            out.status.success(),
            "tradeloop {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (ms, String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let tradeloop = |args: &[&str]| run(&cache, args);
    // The first call compiles the plugin into the (empty) cache.
    let (cold, _) = tradeloop(&["trades"]);
    println!("W8 first-call-cold-cache {cold:.1} ms");

    let f = vec!["0.1"; features].join(",");
    let entry = |price: String| -> Vec<String> {
        let mut args: Vec<String> = ["record", "entry", "--symbol", "SPY", "--side", "long"]
            .map(String::from)
            .to_vec();
        args.extend(["--price".into(), price, "--features".into(), f.clone()]);
        args
    };
    // Without the cache (`TRADELOOP_CACHE_DIR=off`), as every call was before it.
    let mut uncached: Vec<f64> = (0..if quick { 2 } else { 7 })
        .map(|_| run(Path::new("off"), &strs(&entry("100".into()))).0)
        .collect();

    let (mut entries, mut exit, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    // Where a call's time goes: the process alone, and opening the state without writing.
    let (mut start, mut open) = (Vec::new(), Vec::new());
    for i in 0..calls {
        start.push(tradeloop(&["--version"]).0);
        open.push(tradeloop(&["trades", "--limit", "1"]).0);
        let price = format!("{}", 100.0 + i as f64 * 0.01);
        let (ms, id) = tradeloop(&strs(&entry(price)));
        entries.push(ms);
        let (ms, _) = tradeloop(&["record", "exit", "--trade-id", &id, "--price", "101"]);
        exit.push(ms);
        if sqlite {
            let t = Instant::now();
            let ok = Process::new("sqlite3")
                .arg(&floor_db)
                .arg(format!(
                    "PRAGMA synchronous=FULL; INSERT INTO events(now, bytes) VALUES ({i}, randomblob(80));"
                ))
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(ok, "the sqlite3 insert failed");
            floor.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let p = |v: &mut Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q).round() as usize]
    };
    let mut rows = vec![("record-entry", entries), ("record-exit", exit)];
    if sqlite {
        rows.push(("sqlite3-insert-floor", floor));
    }
    rows.push(("context-process-start-only(--version)", start));
    rows.push(("context-open-state-no-write(trades)", open));
    println!(
        "W8 record-entry-without-cache p50 {:.1} ms",
        p(&mut uncached, 0.5)
    );
    let mut p50s = Vec::new();
    for (name, v) in &mut rows {
        let (p50, p99) = (p(v, 0.5), p(v, 0.99));
        println!("W8 {name} p50 {p50:.2} ms");
        println!("W8 {name} p99 {p99:.2} ms");
        p50s.push((*name, p50, p99));
    }
    if let Some(&(_, f50, f99)) = p50s.iter().find(|r| r.0 == "sqlite3-insert-floor") {
        for &(name, p50, p99) in &p50s[..2] {
            println!(
                "W8 ratio {name} vs sqlite3-insert-floor p50 {:.2}x",
                p50 / f50
            );
            println!(
                "W8 ratio {name} vs sqlite3-insert-floor p99 {:.2}x",
                p99 / f99
            );
        }
    }
    if std::env::var_os("W8_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&root);
    }
}

/// A state of `events` events: trades opened and closed in turn, with random features.
fn fill(state: &Path, events: u64, features: usize) {
    let mut rt = Runtime::open(state, Settings::default(), Some(T0)).expect("state opens");
    let mut rng = SplitMix64::new(8);
    let mut now = T0;
    for _ in 0..events / 2 {
        now += 60_000;
        let open = Command::Open(OpenTrade {
            symbol: "SPY".into(),
            side: Side::Long,
            price: 100.0,
            size: 1.0,
            features: (0..features).map(|_| rng.normal() as f32).collect(),
            level: None,
            exits: None,
        });
        let Ok(Reply::Opened(o)) = rt.execute(open, now) else {
            panic!("open refused")
        };
        now += 60_000;
        let close = Command::Close(CloseTrade {
            trade_id: o.trade_id,
            price: 100.0 + rng.normal(),
            reason: ExitReason::Manual,
        });
        rt.execute(close, now).expect("close accepted");
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
