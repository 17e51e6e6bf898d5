//! `tradeloop experiment`: the example strategies run for real under wasmtime, and hostile
//! modules are contained: each hostile run leaves the other strategies' trades (their hash)
//! exactly as in a run without it.

use std::path::{Path, PathBuf};
use std::process::Command;

use tradeloop_backtest::Costs;
use tradeloop_host::experiment::{
    self, Caps, Experiment, Options, Params, SeriesSource, Split, StrategyResult, StrategySource,
};

const EXAMPLES: &str = env!("TRADELOOP_EXAMPLE_STRATEGIES");

fn example(name: &str) -> StrategySource {
    StrategySource::read(&Path::new(EXAMPLES).join(format!("{name}.wasm"))).unwrap()
}

fn wat(name: &str, text: &str) -> StrategySource {
    StrategySource {
        name: name.into(),
        path: None,
        bytes: text.as_bytes().to_vec(),
    }
}

/// The SPY bars, cut to `bars` (the first line is the header).
fn spy(bars: usize) -> SeriesSource {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/market/SPY_1h.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let text: String = text
        .lines()
        .take(bars + 1)
        .map(|l| format!("{l}\n"))
        .collect();
    SeriesSource {
        name: "SPY_1h".into(),
        path: None,
        text,
    }
}

fn options(strategies: Vec<StrategySource>, bars: usize) -> Options {
    Options {
        strategies,
        series: vec![spy(bars)],
        params: Params::default(),
        seed: 7,
        costs: Costs::default(),
        caps: Caps {
            fuel_per_call: 5_000_000,
            memory: 16 << 20,
        },
        engine: None,
        split: None,
        progress: false,
    }
}

fn by_name<'a>(x: &'a Experiment, name: &str) -> &'a StrategyResult {
    x.series[0]
        .strategies
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no strategy {name}"))
}

/// A strategy in WebAssembly text: a bump allocator and `tls_on_bar` = `body` (params
/// `$in $len $out $cap`, bar index in `$bar`), plus `extra` module fields.
fn module(body: &str, extra: &str) -> String {
    format!(
        r#"(module
  {extra}
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (func (export "tls_abi_version") (result i32) i32.const 1)
  (func (export "tls_alloc") (param $n i32) (result i32) (local $p i32)
    global.get $heap
    local.set $p
    global.get $heap
    local.get $n
    i32.add
    i32.const 15
    i32.add
    i32.const -8
    i32.and
    global.set $heap
    local.get $p)
  (func (export "tls_init") (param i32 i32 i32 i32 i64) (result i32) i32.const 0)
  (func (export "tls_on_bar") (param $in i32) (param $len i32) (param $out i32) (param $cap i32)
    (result i32) (local $bar i32)
    local.get $in
    i32.load
    local.set $bar
    {body}))"#
    )
}

/// Runs sma-cross with and without `hostile`; checks that sma-cross and buy-and-hold did
/// exactly the same, and returns the hostile strategy's result.
fn contained(hostile: StrategySource, bars: usize) -> StrategyResult {
    let name = hostile.name.clone();
    let alone = experiment::run(&options(vec![example("sma-cross")], bars)).unwrap();
    let mixed = experiment::run(&options(vec![hostile, example("sma-cross")], bars)).unwrap();
    for s in ["sma-cross", "buy-and-hold"] {
        let (a, b) = (by_name(&alone, s), by_name(&mixed, s));
        assert_eq!(
            a.outcome.trade_hash, b.outcome.trade_hash,
            "{s} changed next to {name}"
        );
        assert_eq!(
            a.outcome.equity, b.outcome.equity,
            "{s}'s equity changed next to {name}"
        );
        assert!(
            b.outcome.stopped.is_none(),
            "{s} was stopped next to {name}"
        );
    }
    assert!(
        by_name(&alone, "sma-cross").metrics.trades > 0,
        "sma-cross must trade"
    );
    by_name(&mixed, &name).clone()
}

#[test]
fn the_examples_run_deterministically_and_buy_and_hold_is_always_there() {
    let names = ["sma-cross", "rule", "forecast"];
    let opts = options(names.iter().map(|n| example(n)).collect(), 3000);
    let a = experiment::run(&opts).unwrap();
    let b = experiment::run(&opts).unwrap();
    let s = &a.series[0];
    assert_eq!(
        s.strategies[0].name, "buy-and-hold",
        "the baseline comes first"
    );
    assert_eq!(s.strategies.len(), 4);
    for (x, y) in s.strategies.iter().zip(&b.series[0].strategies) {
        assert_eq!(
            x.outcome.trade_hash, y.outcome.trade_hash,
            "{} is not deterministic",
            x.name
        );
        assert_eq!(x.outcome.equity, y.outcome.equity);
        assert!(
            x.outcome.stopped.is_none(),
            "{}: {:?}",
            x.name,
            x.outcome.stopped
        );
        assert_eq!(x.outcome.equity.len(), 3000);
        assert!(
            x.sandbox.fuel_p50.is_some() && x.sandbox.peak_memory > 0,
            "{}",
            x.name
        );
        assert_eq!(
            x.outcome.rejections.total(),
            0,
            "{}: {:?}",
            x.name,
            x.outcome.rejections
        );
    }
    for n in names {
        assert!(by_name(&a, n).metrics.trades > 0, "{n} never traded");
    }
    // Buy-and-hold: one trade, entered at the second bar's open, still open at the end.
    let bh = by_name(&a, "buy-and-hold");
    assert_eq!(bh.outcome.trades.len(), 1);
    assert_eq!(bh.outcome.trades[0].entry_bar, 1);
    assert!(bh.outcome.trades[0].end_of_data);
    // The forecast strategy asked its engine fork, which learned from its trades.
    let f = by_name(&a, "forecast");
    assert!(f.outcome.engine_refusals == 0 && f.metrics.trades > 1);
    // A different seed changes nothing for strategies that do not use it or the engine...
    let mut other = opts.clone();
    other.seed = 8;
    let c = experiment::run(&other).unwrap();
    assert_eq!(
        by_name(&c, "sma-cross").outcome.trade_hash,
        by_name(&a, "sma-cross").outcome.trade_hash
    );
}

#[test]
fn an_infinite_loop_stops_at_its_fuel_cap_and_only_that_strategy_stops() {
    let body = r#"local.get $bar
    i32.const 100
    i32.eq
    if
      loop $forever
        br $forever
      end
    end
    i32.const 0"#;
    let r = contained(wat("spin", &module(body, "")), 1500);
    let stopped = r.outcome.stopped.expect("stopped");
    assert_eq!(stopped.bar, 100);
    assert_eq!(stopped.reason, "out of fuel at bar 100");
}

#[test]
fn a_memory_bomb_stops_at_its_cap() {
    let body = r#"local.get $bar
    i32.const 50
    i32.eq
    if
      loop $grow
        i32.const 16
        memory.grow
        drop
        br $grow
      end
    end
    i32.const 0"#;
    let r = contained(wat("bomb", &module(body, "")), 1500);
    let stopped = r.outcome.stopped.expect("stopped");
    assert_eq!(stopped.bar, 50);
    assert!(
        stopped.reason.starts_with("memory cap (16 MiB) reached"),
        "{}",
        stopped.reason
    );
    assert!(r.sandbox.peak_memory <= 16 << 20);
}

#[test]
fn a_trap_ends_that_strategy_only_and_its_position_is_closed() {
    // Buys on bar 5 (a market action written at $out), traps on bar 10.
    let body = r#"local.get $bar
    i32.const 10
    i32.eq
    if
      unreachable
    end
    local.get $bar
    i32.const 5
    i32.eq
    if (result i32)
      local.get $out
      i32.const 1
      i32.store8
      local.get $out
      f64.const 1
      f64.store offset=8
      i32.const 1
    else
      i32.const 0
    end"#;
    let r = contained(wat("panics", &module(body, "")), 1500);
    let stopped = r.outcome.stopped.expect("stopped");
    assert_eq!(stopped.bar, 10);
    assert!(stopped.reason.starts_with("trapped"), "{}", stopped.reason);
    // Its one trade: filled at bar 6, liquidated at the open after the trap.
    assert_eq!(r.outcome.trades.len(), 1);
    assert_eq!(
        (r.outcome.trades[0].entry_bar, r.outcome.trades[0].exit_bar),
        (6, 11)
    );
    assert!(!r.outcome.trades[0].end_of_data);
}

#[test]
fn unknown_imports_are_refused_at_load_with_a_clear_message() {
    let wasi = r#"(import "wasi_snapshot_preview1" "fd_write"
      (func $w (param i32 i32 i32 i32) (result i32)))"#;
    let r = contained(wat("wasi", &module("i32.const 0", wasi)), 500);
    let why = r.outcome.stopped.expect("refused").reason;
    assert!(
        why.starts_with("refused at load: imports `wasi_snapshot_preview1.fd_write`, which strategy ABI v1 does not offer"),
        "{why}"
    );
    assert!(r.outcome.trades.is_empty() && r.sandbox.calls == 0);
    let env = r#"(import "env" "clock" (func $c (result i64)))"#;
    let r = contained(wat("clock", &module("i32.const 0", env)), 500);
    assert!(r.outcome.stopped.unwrap().reason.contains("`env.clock`"));
    // A known name with the wrong signature is refused when it is linked.
    let typed = r#"(import "tradeloop_strategy" "log" (func $l (param i64)))"#;
    let r = contained(wat("mistyped", &module("i32.const 0", typed)), 500);
    assert!(
        r.outcome
            .stopped
            .unwrap()
            .reason
            .starts_with("could not start")
    );
}

#[test]
fn bad_actions_are_rejected_and_counted() {
    // Every bar: action 0 a market buy of size NaN, 1 of +inf, 2 of -1, 3 a limit at price
    // 0, 4 an unknown kind; on bars 20..30 it claims 17 actions (over the cap of 16).
    let body = r#"local.get $out
    i32.const 1
    i32.store8
    local.get $out
    f64.const nan
    f64.store offset=8
    local.get $out
    i32.const 1
    i32.store8 offset=32
    local.get $out
    f64.const inf
    f64.store offset=40
    local.get $out
    i32.const 1
    i32.store8 offset=64
    local.get $out
    f64.const -1
    f64.store offset=72
    local.get $out
    i32.const 2
    i32.store8 offset=96
    local.get $out
    f64.const 1
    f64.store offset=104
    local.get $out
    f64.const 0
    f64.store offset=112
    local.get $out
    i32.const 9
    i32.store8 offset=128
    local.get $bar
    i32.const 20
    i32.ge_u
    local.get $bar
    i32.const 30
    i32.lt_u
    i32.and
    if (result i32)
      i32.const 17
    else
      i32.const 5
    end"#;
    let r = contained(wat("garbage", &module(body, "")), 200);
    let rej = r.outcome.rejections;
    assert!(r.outcome.stopped.is_none());
    assert!(r.outcome.trades.is_empty() && r.outcome.fills == 0);
    assert_eq!(rej.too_many_actions, 10 * 17);
    assert_eq!(rej.bad_size, 190 * 3);
    assert_eq!(rej.bad_price, 190);
    assert_eq!(rej.malformed, 190);
}

#[test]
fn oversized_outputs_are_bounded() {
    // Logs a megabyte per bar, asks history for a billion bars into a small buffer, and
    // claims a billion actions: the log is capped, the history call fails cleanly, the
    // actions are rejected, and the strategy is not stopped.
    let imports = r#"(import "tradeloop_strategy" "log" (func $log (param i32 i32)))
    (import "tradeloop_strategy" "history" (func $history (param i32 i32 i32) (result i32)))"#;
    let body = r#"i32.const 0
    i32.const 1000000
    call $log
    i32.const 0
    i32.const 1000000000
    i32.const 65530
    call $history
    i32.const -1
    i32.ne
    if
      unreachable
    end
    i32.const 1000000000"#;
    let r = contained(wat("loud", &module(body, imports)), 300);
    assert!(r.outcome.stopped.is_none(), "{:?}", r.outcome.stopped);
    assert_eq!(r.sandbox.logs.len(), 64);
    assert!(r.sandbox.logs.iter().all(|l| l.len() <= 256));
    assert_eq!(r.sandbox.dropped_logs, 300 - 64);
    assert_eq!(r.outcome.rejections.too_many_actions, u32::MAX, "saturates");
}

#[test]
fn history_shows_no_bar_after_the_current_one() {
    // Asks for bars [bar, bar + 10) and traps unless exactly one came back, with the
    // current bar's time.
    let imports = r#"(import "tradeloop_strategy" "history" (func $history (param i32 i32 i32) (result i32)))"#;
    let body = r#"local.get $bar
    i32.const 10
    i32.const 60000
    call $history
    i32.const 1
    i32.ne
    if
      unreachable
    end
    i32.const 60000
    i64.load
    local.get $in
    i64.load offset=8
    i64.ne
    if
      unreachable
    end
    i32.const 0"#;
    let r = contained(wat("peek", &module(body, imports)), 300);
    assert!(r.outcome.stopped.is_none(), "{:?}", r.outcome.stopped);
    assert_eq!(r.sandbox.calls, 300);
}

#[test]
fn the_split_reports_in_sample_and_out_of_sample() {
    let mut opts = options(vec![example("sma-cross")], 3000);
    opts.split = Some(Split::Fraction(0.5));
    let x = experiment::run(&opts).unwrap();
    let r = by_name(&x, "sma-cross");
    let (a, b) = (
        r.in_sample.as_ref().unwrap(),
        r.out_of_sample.as_ref().unwrap(),
    );
    assert_eq!((a.bars, b.bars), (1500, 1500));
    assert_eq!(a.trades + b.trades, r.metrics.trades);
    assert_eq!(b.start_equity, r.outcome.equity[1499]);
    assert_eq!(b.final_equity, r.metrics.final_equity);
}

#[test]
fn two_strategies_with_one_name_are_refused() {
    let err = experiment::run(&options(
        vec![example("sma-cross"), example("sma-cross")],
        100,
    ))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("two strategies are named `sma-cross`")
    );
}

fn tradeloop() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tradeloop"))
}

#[test]
fn the_command_prints_json_and_writes_the_report_and_manifest() {
    let dir = std::env::temp_dir().join(format!("tl-experiment-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("spy.csv");
    std::fs::write(&data, spy(2000).text).unwrap();
    let params = dir.join("params.toml");
    std::fs::write(
        &params,
        "fraction = 0.5\n[sma-cross]\nfast = 5\nslow = 20\n",
    )
    .unwrap();
    let out = dir.join("out");
    let sma: PathBuf = Path::new(EXAMPLES).join("sma-cross.wasm");
    let o = tradeloop()
        .args([
            "--json",
            "experiment",
            "--seed",
            "3",
            "--split",
            "0.6",
            "--fee",
            "0.001",
        ])
        .arg("--strategy")
        .arg(&sma)
        .arg("--data")
        .arg(&data)
        .arg("--params")
        .arg(&params)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = &v["series"][0];
    assert_eq!(s["name"], "spy");
    assert_eq!(s["bars"], 2000);
    assert_eq!(s["strategies"][1]["name"], "sma-cross");
    assert_eq!(s["strategies"][1]["trade_hash"].as_str().unwrap().len(), 16);
    assert!(s["strategies"][1]["in_sample"]["bars"].as_u64() == Some(1200));
    assert_eq!(v["timing"]["strategy_bars"], 4000);
    let m = &v["manifest"];
    assert_eq!(m["config"]["seed"], 3);
    assert_eq!(
        m["strategies"][1]["params"],
        "fast=5\nfraction=0.5\nslow=20\n"
    );
    assert_eq!(
        m["strategies"][1]["blake3"].as_str().unwrap(),
        blake3::hash(&std::fs::read(&sma).unwrap())
            .to_hex()
            .as_str()
    );
    assert_eq!(
        m["data"][0]["blake3"].as_str().unwrap(),
        blake3::hash(&std::fs::read(&data).unwrap())
            .to_hex()
            .as_str()
    );
    assert!(m["tools"]["wasmtime"].as_str().unwrap().starts_with("48."));
    for f in [
        "report.md",
        "manifest.json",
        "results.json",
        "equity-spy.svg",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in [
        "sma-cross",
        "buy-and-hold",
        "Sharpe",
        "Max drawdown",
        "Out-of-sample",
        "fuel p99",
        "equity-spy.svg",
        "| series | spy |",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_saved_strategy_state_loads_into_a_fresh_instance() {
    use std::sync::Arc;
    use tradeloop_backtest::{Feed, Run, fresh_engine};
    use tradeloop_host::experiment::sandbox::{self, Sandbox};
    let candles = tradeloop_core::market::parse_csv(&spy(50).text).unwrap();
    let feed = Arc::new(Feed::new(&candles).unwrap());
    let engine = sandbox::engine().unwrap();
    let caps = Caps {
        fuel_per_call: 1_000_000,
        memory: 16 << 20,
    };
    let start = |name: &str| {
        let module = sandbox::compile(&engine, &example(name).bytes, None).unwrap();
        let fork = fresh_engine(7, &feed).unwrap();
        let run = Run::new(Costs::default(), "SPY", Some(fork)).unwrap();
        Sandbox::start(&engine, &module, run, feed.clone(), String::new(), 7, caps)
            .unwrap_or_else(|(_, why)| panic!("{why}"))
    };
    // Buy-and-hold orders on bar 0 and holds from bar 1; its state says so.
    let mut first = start("buy-and-hold");
    first.step(0);
    first.step(1);
    assert!(first.run().broker().position() > 0.0);
    let state = first.save().unwrap();
    assert_eq!(state, [1]);
    // A fresh instance that loads it never buys; one that does not, buys.
    let mut loaded = start("buy-and-hold");
    loaded.load(&state).unwrap();
    let mut fresh = start("buy-and-hold");
    for i in 0..5 {
        loaded.step(i);
        fresh.step(i);
    }
    assert_eq!(loaded.run().broker().position(), 0.0);
    assert!(fresh.run().broker().position() > 0.0);
    // A state it cannot read is refused; a strategy without state says so.
    assert!(loaded.load(&[7, 7]).unwrap_err().contains("refused"));
    assert!(
        start("sma-cross")
            .save()
            .unwrap_err()
            .contains("tls_save returned -1")
    );
}

#[test]
fn a_start_function_that_calls_the_host_gets_no_service_and_harms_no_one() {
    // The start function runs during instantiation, before any bar and before the host knows
    // the memory: `features` has none to give, a log line is dropped, and the host goes on.
    let imports = r#"(import "tradeloop_strategy" "log" (func $log (param i32 i32)))
    (import "tradeloop_strategy" "features" (func $features (param i32) (result i32)))
    (func $early
      i32.const 0
      i32.const 4
      call $log
      i32.const 0
      call $features
      i32.const 0
      i32.ne
      if
        unreachable
      end)
    (start $early)"#;
    let r = contained(wat("early", &module("i32.const 0", imports)), 300);
    assert!(r.outcome.stopped.is_none(), "{:?}", r.outcome.stopped);
    assert_eq!((r.sandbox.logs.len(), r.sandbox.dropped_logs), (0, 1));
    assert_eq!(r.sandbox.calls, 300);
}

#[test]
fn the_assemblyscript_strategy_trades_exactly_like_the_rust_one() {
    // strategies/assemblyscript: the same SMA crossover written against the raw ABI (no
    // Rust SDK), its committed build (the test command checks it rebuilds byte for byte).
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../strategies/assemblyscript/sma-cross-as.wasm");
    let mut opts = options(
        vec![example("sma-cross"), StrategySource::read(&path).unwrap()],
        5000,
    );
    opts.params = Params::from_toml("fast = 7\nslow = 25\nfraction = 0.5\n").unwrap();
    let x = experiment::run(&opts).unwrap();
    let (rust, asc) = (by_name(&x, "sma-cross"), by_name(&x, "sma-cross-as"));
    assert!(asc.outcome.stopped.is_none(), "{:?}", asc.outcome.stopped);
    assert!(rust.metrics.trades > 10);
    assert_eq!(rust.outcome.trades, asc.outcome.trades);
    assert_eq!(rust.outcome.trade_hash, asc.outcome.trade_hash);
}
