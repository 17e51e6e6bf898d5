//! The binding in node (`cargo test -p tradeloop-wasm --target wasm32-unknown-unknown`,
//! runner `wasm-bindgen-test-runner` from `.cargo/config.toml`): values in and out in their
//! JS shapes, errors as `TradeloopError`s that change nothing, snapshots, determinism, the
//! paper trader over real bars, and strategy backtests (`BacktestFeed`, `StrategyRun`) against
//! the `tradeloop-backtest` crate driven directly.
#![cfg(target_arch = "wasm32")]
#![allow(missing_docs)]

use js_sys::{Array, Function, JSON, Object, Reflect, Uint8Array};
use tradeloop_strategy::abi::{Action, Fill, Input, Side, Suggestion};
use tradeloop_wasm::{
    BacktestFeed, Engine, PaperTrader, StrategyRun, default_config, default_paper_config,
    inspect_checkpoint, parse_csv, version,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const T0: f64 = 1_700_000_000_000.0;
const HOUR: f64 = 3_600_000.0;
const SPY: &str = include_str!("../../../data/market/SPY_1h.csv");
/// The TypeScript declarations: generated (tests/typescript.rs), then written by hand.
const TYPES: &str = concat!(
    include_str!("../src/types.d.ts"),
    include_str!("../src/types.rs")
);

fn js(json: &str) -> JsValue {
    JSON::parse(json).unwrap_or_else(|e| panic!("bad test JSON {json}: {e:?}"))
}

fn get(v: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(v.clone(), |v, k| {
        Reflect::get(&v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
    })
}

fn num(v: &JsValue, path: &str) -> f64 {
    get(v, path)
        .as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number in {}", show(v)))
}

fn show(v: &JsValue) -> String {
    JSON::stringify(v)
        .map(String::from)
        .unwrap_or_else(|_| format!("{v:?}"))
}

fn bytes(a: &Uint8Array) -> Vec<u8> {
    a.to_vec()
}

/// A 4-feature engine (small and quick) with a fixed seed.
fn engine(seed: u64) -> Engine {
    Engine::new(
        Some(js(r#"{"features": 4, "exits": {"train_every": 5}}"#)),
        Some(JsValue::from_f64(seed as f64)),
        Some(T0),
    )
    .expect("engine")
}

fn open_json(price: f64, f: [f32; 4]) -> JsValue {
    js(&format!(
        r#"{{"symbol":"SPY","side":"Long","price":{price},"size":1,"features":[{},{},{},{}]}}"#,
        f[0], f[1], f[2], f[3]
    ))
}

/// The thrown value is a `TradeloopError` of `kind` whose message contains `text`.
#[track_caller]
fn assert_error(r: Result<JsValue, JsValue>, kind: &str, text: &str) -> js_sys::Error {
    let e = r.expect_err("expected an error");
    let err: js_sys::Error = e.dyn_into().expect("an Error instance");
    assert_eq!(String::from(err.name()), "TradeloopError");
    let message = String::from(err.message());
    assert!(message.contains(text), "message {message:?} lacks {text:?}");
    assert_eq!(
        get(&err, "kind").as_string().as_deref(),
        Some(kind),
        "{message}"
    );
    err
}

fn run_lifecycle(e: &mut Engine) {
    let mut t = T0;
    for i in 0..40 {
        t += HOUR;
        let x = (i % 7) as f32 / 7.0 - 0.5;
        let opened = e
            .open(open_json(100.0, [x, -x, 0.1, 0.2]), Some(t))
            .unwrap();
        let id = num(&opened, "trade_id");
        t += HOUR;
        let exit = if i % 3 == 0 { 99.0 } else { 101.5 };
        let close = js(&format!(
            r#"{{"trade_id":{id},"price":{exit},"reason":"Manual"}}"#
        ));
        e.close(close, Some(t)).unwrap();
        let obs = js(&format!(
            r#"{{"features":[{x},0.5,-0.25,1],"return_pct":{}}}"#,
            if i % 2 == 0 { 0.01 } else { -0.01 }
        ));
        e.observe(obs, Some(t)).unwrap();
    }
}

#[wasm_bindgen_test]
fn version_and_defaults() {
    let v = version();
    assert!(
        v.starts_with("tradeloop-wasm 0.1.0 (checkpoint schema "),
        "{v}"
    );
    let c = default_config().unwrap();
    assert_eq!(num(&c, "features"), 32.0);
    // Nested sections are plain objects, enums externally tagged or strings.
    assert!(get(&c, "replay.capacity").as_f64().is_some());
    assert_eq!(
        get(&c, "exits.mode").as_string().as_deref(),
        Some("Training")
    );
    assert_eq!(get(&c, "lifecycle.ab.enabled").as_bool(), Some(false));
    assert_eq!(num(&c, "lifecycle.gate.trial"), 2000.0);
    let p = default_paper_config().unwrap();
    assert_eq!(get(&p, "symbol").as_string().as_deref(), Some("PAPER"));
    assert_eq!(num(&p, "levels.window"), 200.0);
}

#[wasm_bindgen_test]
fn construct_with_and_without_seed() {
    let a = engine(7);
    let b = engine(7);
    assert_eq!(bytes(&a.snapshot()), bytes(&b.snapshot()));
    // A bigint seed is the same seed.
    let big = Engine::new(
        Some(js(r#"{"features": 4, "exits": {"train_every": 5}}"#)),
        Some(js_sys::BigInt::from(7u64).into()),
        Some(T0),
    )
    .unwrap();
    assert_eq!(bytes(&a.snapshot()), bytes(&big.snapshot()));
    // No config, no seed, no time: defaults, a random seed, Date.now().
    let mut r = Engine::new(None, None, None).unwrap();
    assert_eq!(num(&r.config().unwrap(), "features"), 32.0);
    let r2 = Engine::new(Some(JsValue::NULL), Some(JsValue::NULL), None).unwrap();
    assert_ne!(bytes(&r.snapshot()), bytes(&r2.snapshot()));
    // Bad configs and seeds.
    assert_error(
        Engine::new(Some(js(r#"{"features": 0}"#)), None, Some(T0)).map(|_| JsValue::NULL),
        "InvalidConfig",
        "features must be in 1..=1024",
    );
    assert_error(
        Engine::new(Some(js(r#"{"replay": {"capacty": 5}}"#)), None, Some(T0))
            .map(|_| JsValue::NULL),
        "InvalidInput",
        "unknown field `capacty` in config.replay",
    );
    assert_error(
        Engine::new(None, Some(JsValue::from_f64(-1.0)), Some(T0)).map(|_| JsValue::NULL),
        "InvalidConfig",
        "seed",
    );
}

#[wasm_bindgen_test]
fn every_command_and_query() {
    let mut e = engine(11);
    let mut t = T0;
    // open / suggest / close
    let opened = e
        .open(open_json(100.0, [0.1, 0.2, 0.3, 0.4]), Some(t))
        .unwrap();
    assert_eq!(num(&opened, "trade_id"), 1.0);
    assert_eq!(get(&opened, "arm").as_string().as_deref(), Some("Champion"));
    assert!(get(&opened, "level_score").is_null(), "None is null");
    let s = e
        .suggest(
            js(r#"{"side":"Short","price":100,"features":[0,0,0,0],"levels":[{"price":99,"kind":"Support","features":[0.1,0.2,0.3,0.4,0.5,0.6]}]}"#),
            Some(t),
        )
        .unwrap();
    assert_eq!(Array::from(&get(&s, "level_scores")).length(), 1);
    assert_eq!(Array::from(&get(&s, "signal.probs")).length(), 3);
    t += HOUR;
    let closed = e
        .close(
            js(r#"{"trade_id":1,"price":101,"reason":"Target"}"#),
            Some(t),
        )
        .unwrap();
    assert_eq!(get(&closed, "outcome").as_string().as_deref(), Some("Win"));
    // observe: its id has bit 63 set, beyond a JS number's exact range: a bigint.
    let obs = e
        .observe(js(r#"{"features":[0,1,0,1],"return_pct":-0.02}"#), Some(t))
        .unwrap();
    let id = get(&obs, "id");
    assert!(id.is_bigint(), "observation id {id:?}");
    assert_eq!(
        u64::try_from(id).unwrap(),
        (1 << 63) | 1,
        "bit 63 | replay count"
    );
    assert_eq!(get(&obs, "outcome").as_string().as_deref(), Some("Loss"));
    assert!(
        get(&obs, "forecast").is_null(),
        "no forecast was registered"
    );
    // forecast, then observe of the same features: the observation reveals that forecast.
    let fc = e
        .forecast(js(r#"{"features":[0.25,-0.5,0.75,1]}"#), Some(t))
        .unwrap();
    let forecast_id = num(&fc, "id");
    assert_eq!(forecast_id, 1.0, "forecast ids count from 1");
    assert_eq!(num(&fc, "model_version"), 1.0);
    assert_eq!(Array::from(&get(&fc, "signal.probs")).length(), 3);
    let experts = Array::from(&get(&fc, "experts"));
    assert_eq!(experts.length(), 8, "one forecast per expert");
    for p in experts.iter() {
        assert_eq!(Array::from(&p).length(), 3, "[loss, flat, win]");
    }
    let revealed = e
        .observe(
            js(r#"{"features":[0.25,-0.5,0.75,1],"return_pct":0.02}"#),
            Some(t),
        )
        .unwrap();
    assert_eq!(num(&revealed, "forecast"), forecast_id);
    assert_eq!(
        get(&revealed, "outcome").as_string().as_deref(),
        Some("Win")
    );

    run_lifecycle(&mut e);
    t = T0 + 100.0 * HOUR;
    let learned = e.learn(Some(js(r#""Retrain""#)), Some(t)).unwrap();
    assert!(get(&learned, "signal.decision.action").is_string());
    let learned = e.learn(None, Some(t)).unwrap();
    assert!(get(&learned, "signal").is_object());
    let versions = Array::from(&e.versions().unwrap());
    assert!(versions.length() >= 2, "{}", show(&versions));
    let first = num(&versions.get(0), "id") as u32;
    let champion = num(&e.stats().unwrap(), "signal.champion") as u32;
    assert_eq!(e.promote(first, Some(t)).unwrap(), first);
    if champion != first {
        assert_eq!(e.rollback(None, Some(t)).unwrap(), champion);
        assert_eq!(e.rollback(Some(first), Some(t)).unwrap(), first);
    }
    let ran = Array::from(&e.run_due(Some(t + 40.0 * 86_400_000.0)).unwrap());
    for r in ran.iter() {
        assert_eq!(Array::from(&r).length(), 2, "[Job, LearnReport]");
    }
    assert_eq!(
        e.set_exit_mode(js(r#""Deployment""#), Some(t))
            .unwrap()
            .as_string()
            .as_deref(),
        Some("Deployment")
    );
    assert_eq!(
        e.set_exit_mode(js(r#""Training""#), Some(t))
            .unwrap()
            .as_string()
            .as_deref(),
        Some("Training")
    );

    // rank with a JS scorer: the highest scores are picked and opened.
    let request = js(r#"{"candidates":[
        {"symbol":"AAA","price":10,"features":[1,0,0,0]},
        {"symbol":"BBB","price":20,"features":[2,0,0,0]},
        {"symbol":"CCC","price":30,"features":[3,0,0,0]}],"k":2,"size":1}"#);
    let scorer = Function::new_with_args(
        "rows, dim",
        "const n = rows.length / dim; const s = new Float32Array(n); \
         for (let i = 0; i < n; i++) s[i] = rows[i * dim]; \
         return { score: s, class: new Uint8Array(n).fill(2) };",
    );
    let ranked = e
        .rank(request.clone(), Some(scorer.into()), Some(t))
        .unwrap();
    assert_eq!(
        get(&ranked, "model").as_string().as_deref(),
        Some("js-scorer")
    );
    let picks: Vec<f64> = Array::from(&get(&ranked, "picks"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(picks, [2.0, 1.0]);
    assert_eq!(Array::from(&get(&ranked, "opened")).length(), 2);
    // A plain Float32Array answer works too.
    let plain = Function::new_with_args("rows, dim", "return new Float32Array(rows.length / dim);");
    let again =
        js(r#"{"candidates":[{"symbol":"DDD","price":5,"features":[0,0,0,0]}],"k":1,"size":1}"#);
    e.rank(again, Some(plain.into()), Some(t)).unwrap();

    // Every query.
    let stats = e.stats().unwrap();
    assert!(num(&stats, "opened") >= 44.0);
    assert!(get(&stats, "signal.challenger").is_null() || num(&stats, "signal.challenger") > 0.0);
    let trade = e.trade(1.0).unwrap();
    assert_eq!(
        get(&trade, "close.reason").as_string().as_deref(),
        Some("Target")
    );
    assert_eq!(Array::from(&e.open_trades().unwrap()).length(), 3);
    assert_eq!(Array::from(&e.closed_trades(5).unwrap()).length(), 5);
    assert!(Array::is_array(&e.level_history().unwrap()));
    assert_eq!(num(&e.config().unwrap(), "features"), 4.0);
    assert!(Array::from(&e.audit(3).unwrap()).length() <= 3);
    let m = e.monitor(None, Some(t)).unwrap();
    assert!(Array::is_array(&get(&m, "windows")));
    let mv = e.monitor(Some(first), Some(t)).unwrap();
    assert_eq!(num(&mv, "version"), f64::from(first));
    // `learn("Retrain")` and the scheduled jobs (an online snapshot, a retrain) each put a
    // candidate on trial; a trial lasts `gate.trial` (2,000) labels, and no label came since.
    let trial = e.trial().unwrap();
    assert!(trial.is_object(), "{}", show(&trial));
    assert_eq!(num(&trial, "candidate"), num(&stats, "signal.challenger"));
    assert_eq!(num(&trial, "champion"), num(&stats, "signal.champion"));
    assert_eq!(num(&trial, "target_rows"), 2000.0);
    assert_eq!(get(&trial, "interim.passed").as_bool(), Some(false));
    assert!(get(&trial, "ab").is_null(), "A/B routing is off by default");
    let mixture = e.mixture().unwrap();
    let experts = Array::from(&get(&mixture, "experts"));
    assert_eq!(experts.length(), 8);
    let weights: f64 = experts.iter().map(|x| num(&x, "weight")).sum();
    assert!((weights - 1.0).abs() < 1e-9, "weights sum to {weights}");
    assert_eq!(
        get(&experts.get(0), "expert").as_string().as_deref(),
        Some("Prior")
    );
    assert_eq!(
        get(&experts.get(7), "expert").as_string().as_deref(),
        Some("ChampionPooled")
    );
    assert!(num(&mixture, "rows") > 0.0);
    let accuracy = e.accuracy(30).unwrap();
    assert_eq!(num(&accuracy, "days"), 30.0);
    assert_eq!(
        num(&accuracy, "until"),
        T0 + 80.0 * HOUR,
        "the newest close, run_lifecycle's last"
    );
    assert_eq!(num(&accuracy, "window.days"), 30.0);
    assert_eq!(num(&accuracy, "window.trades"), 41.0, "every close so far");
    assert!(get(&e.drift().unwrap(), "drift").as_bool().is_some());
    assert!(Array::is_array(&e.due(Some(t)).unwrap()));
    assert!(num(&e.ranking().unwrap(), "rankings") >= 2.0);
    // The generic entry point: commands and replies in their tagged shapes.
    let reply = e.apply(js(r#"{"Query":"Stats"}"#), Some(t)).unwrap();
    assert!(get(&reply, "Stats.signal").is_object());
    let reply = e.apply(js(r#""RunDue""#), Some(t)).unwrap();
    assert!(Array::is_array(&get(&reply, "Ran")));
    let reply = e
        .apply(js(r#"{"Query":{"ClosedTrades":{"limit":2}}}"#), Some(t))
        .unwrap();
    assert_eq!(Array::from(&get(&reply, "Trades")).length(), 2);
    let reply = e.apply(js(r#"{"Query":"Trial"}"#), Some(t)).unwrap();
    assert_eq!(num(&reply, "Trial.candidate"), num(&trial, "candidate"));
    let reply = e.apply(js(r#"{"Query":"Mixture"}"#), Some(t)).unwrap();
    assert_eq!(Array::from(&get(&reply, "Mixture.experts")).length(), 8);
    let reply = e
        .apply(js(r#"{"Query":{"Accuracy":{"days":7}}}"#), Some(t))
        .unwrap();
    assert_eq!(num(&reply, "Accuracy.days"), 7.0);
    let reply = e
        .apply(js(r#"{"Forecast":{"features":[0,0,0,0]}}"#), Some(t))
        .unwrap();
    assert_eq!(num(&reply, "Forecast.id"), forecast_id + 1.0);
}

#[wasm_bindgen_test]
fn bad_input_throws_the_core_message_and_changes_nothing() {
    let mut e = engine(3);
    e.open(open_json(100.0, [0.0; 4]), Some(T0)).unwrap();
    let before = bytes(&e.snapshot());
    let unchanged = |e: &Engine| assert_eq!(bytes(&e.snapshot()), before);

    // NaN price (NaN cannot be written in JSON: build the object by hand).
    let o = open_json(1.0, [0.0; 4]);
    Reflect::set(&o, &"price".into(), &JsValue::from_f64(f64::NAN)).unwrap();
    assert_error(
        e.open(o, Some(T0)),
        "NonFinite",
        "price must be a finite number",
    );
    unchanged(&e);
    // Wrong feature length.
    let o = js(r#"{"symbol":"SPY","side":"Long","price":1,"size":1,"features":[1,2,3]}"#);
    assert_error(
        e.open(o, Some(T0)),
        "FeatureLength",
        "expected 4 features, got 3",
    );
    unchanged(&e);
    // Unknown trade id, as a close and as a query.
    let c = js(r#"{"trade_id":99,"price":1,"reason":"Manual"}"#);
    assert_error(
        e.close(c, Some(T0)),
        "UnknownTrade",
        "no trade with id 99 was opened",
    );
    assert_error(e.trade(99.0), "UnknownTrade", "no trade with id 99");
    assert_error(e.trade(-1.0), "InvalidInput", "trade id");
    unchanged(&e);
    // A value of the wrong shape.
    assert_error(
        e.open(js(r#"{"symbol":"SPY"}"#), Some(T0)),
        "InvalidInput",
        "invalid trade",
    );
    assert_error(
        e.apply(js(r#"{"Fly":1}"#), Some(T0)),
        "InvalidInput",
        "invalid command",
    );
    // A rank with a throwing scorer, one with the wrong count and one with bad classes.
    let request = js(
        r#"{"candidates":[{"symbol":"AAA","price":10,"features":[1,0,0,0]},{"symbol":"BBB","price":11,"features":[1,0,0,0]}],"k":1,"size":1}"#,
    );
    let throwing = Function::new_with_args("rows, dim", "throw new Error('model offline');");
    assert_error(
        e.rank(request.clone(), Some(throwing.into()), Some(T0)),
        "Ranker",
        "ranker failed: scorer threw: model offline",
    );
    let short = Function::new_with_args("rows, dim", "return new Float32Array(1);");
    assert_error(
        e.rank(request.clone(), Some(short.into()), Some(T0)),
        "ShapeMismatch",
        "ranker scores: expected length 2, got 1",
    );
    let bad_class = Function::new_with_args(
        "rows, dim",
        "return { score: new Float32Array(2), class: new Uint8Array([0, 7]) };",
    );
    assert_error(
        e.rank(request.clone(), Some(bad_class.into()), Some(T0)),
        "Ranker",
        "class 7 is not 0, 1 or 2",
    );
    let junk = Function::new_with_args("rows, dim", "return 'nope';");
    assert_error(
        e.rank(request.clone(), Some(junk.into()), Some(T0)),
        "Ranker",
        "scorer must return",
    );
    let nan = Function::new_with_args("rows, dim", "return new Float32Array([NaN, 1]);");
    assert_error(
        e.rank(request.clone(), Some(nan.into()), Some(T0)),
        "NonFinite",
        "ranker score",
    );
    assert_error(
        e.rank(request, None, Some(T0)),
        "NoRanker",
        "no ranker model is loaded",
    );
    unchanged(&e);
    // A non-finite `now`.
    assert_error(
        e.open(open_json(1.0, [0.0; 4]), Some(f64::INFINITY)),
        "NonFinite",
        "now must be a finite number",
    );
    unchanged(&e);

    // Corrupt and future-version snapshots.
    let mut corrupt = before.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let err = assert_error(
        Engine::restore(&corrupt).map(|_| JsValue::NULL),
        "Checkpoint",
        "checkpoint rejected: checksum mismatch",
    );
    assert_eq!(
        get(&err, "checkpoint").as_string().as_deref(),
        Some("ChecksumMismatch")
    );
    let mut future = before.clone();
    future[18..20].copy_from_slice(&99u16.to_le_bytes());
    let sum = tradeloop_core::checkpoint::xxh64(&future[16..], 0);
    future[8..16].copy_from_slice(&sum.to_le_bytes());
    assert_error(
        Engine::restore(&future).map(|_| JsValue::NULL),
        "Checkpoint",
        "schema 99 was written by a newer tradeloop",
    );
    assert_error(
        Engine::restore(b"hello").map(|_| JsValue::NULL),
        "Checkpoint",
        "truncated",
    );
    assert_error(
        inspect_checkpoint(&corrupt),
        "Checkpoint",
        "checksum mismatch",
    );
    unchanged(&e);

    // Malformed CSV: every bad line is named.
    let csv = "timestamp,open,high,low,close,volume\n\
               2020-01-01T00:00:00Z,1,2,0.5,1.5,10\n\
               2020-01-01T01:00:00Z,1,x,0.5,1.5,10\n\
               2020-01-01T02:00:00Z,1,2,0.5\n";
    let err = assert_error(parse_csv(csv), "Csv", "line 3");
    assert!(String::from(err.message()).contains("line 4"));

    // The paper trader: a bad candle changes neither trader nor engine.
    let mut p = PaperTrader::new(None).unwrap();
    let mut e32 = Engine::new(None, Some(JsValue::from_f64(1.0)), Some(T0)).unwrap();
    let (pb, eb) = (bytes(&p.snapshot()), bytes(&e32.snapshot()));
    let bad = js(r#"{"time":0,"open":1,"high":0.5,"low":1,"close":1,"volume":0}"#);
    assert_error(p.on_bar(&mut e32, bad), "InvalidCandle", "invalid candle");
    assert_eq!(
        (bytes(&p.snapshot()), bytes(&e32.snapshot())),
        (pb.clone(), eb)
    );
    let mut pc = pb.clone();
    let last = pc.len() - 1;
    pc[last] ^= 1;
    assert_error(
        PaperTrader::restore(&pc).map(|_| JsValue::NULL),
        "Checkpoint",
        "checksum mismatch",
    );
    assert_error(
        PaperTrader::restore(&before).map(|_| JsValue::NULL),
        "Checkpoint",
        "this is an engine checkpoint, not a paper trader snapshot",
    );
    assert_error(
        PaperTrader::new(Some(js(r#"{"entry_band": -1}"#))).map(|_| JsValue::NULL),
        "InvalidConfig",
        "paper.entry_band",
    );
}

#[wasm_bindgen_test]
fn snapshot_restore_and_determinism() {
    let mut a = engine(5);
    let mut b = engine(5);
    run_lifecycle(&mut a);
    run_lifecycle(&mut b);
    let sa = bytes(&a.snapshot());
    assert_eq!(sa, bytes(&b.snapshot()), "same seed and commands");
    let mut r = Engine::restore(&sa).unwrap();
    assert_eq!(bytes(&r.snapshot()), sa, "restore gives identical bytes");
    // And continues identically.
    let t = T0 + 1000.0 * HOUR;
    a.learn(None, Some(t)).unwrap();
    r.learn(None, Some(t)).unwrap();
    assert_eq!(bytes(&a.snapshot()), bytes(&r.snapshot()));
    // A different seed gives a different state.
    let mut c = engine(6);
    run_lifecycle(&mut c);
    assert_ne!(bytes(&c.snapshot()), sa);
    // inspectCheckpoint decodes what snapshot wrote.
    let doc = inspect_checkpoint(&sa).unwrap();
    for part in [
        "config",
        "journal",
        "replay",
        "lifecycle",
        "levels",
        "exits",
        "stats",
        "ranking",
    ] {
        assert!(get(&doc, part).is_object(), "{part} in {}", show(&doc));
    }
    let rng = get(&doc, "rng");
    assert!(rng.is_bigint() || rng.as_f64().is_some(), "rng {rng:?}");
}

#[wasm_bindgen_test]
fn paper_trader_over_spy_bars_and_resume() {
    let csv: String = SPY.lines().take(601).collect::<Vec<_>>().join("\n");
    let candles = Array::from(&parse_csv(&csv).unwrap());
    assert_eq!(candles.length(), 600);
    let bar = |i: u32| candles.get(i);
    assert_eq!(
        num(&bar(0), "time"),
        1_167_832_800_000.0,
        "2007-01-03T14:00Z in ms"
    );

    let mut engine = Engine::new(
        None,
        Some(JsValue::from_f64(42.0)),
        Some(num(&bar(0), "time")),
    )
    .unwrap();
    let mut trader = PaperTrader::new(None).unwrap();
    let (mut opened, mut closed) = (0, 0);
    let mut saved = None;
    for i in 0..candles.length() {
        if i == 300 {
            saved = Some((bytes(&engine.snapshot()), bytes(&trader.snapshot())));
        }
        if let Ok(ev) = trader.on_bar(&mut engine, bar(i)) {
            if get(&ev, "Opened").is_object() {
                opened += 1;
                assert_eq!(trader.open_trade(), Some(num(&ev, "Opened.trade_id")));
            } else if get(&ev, "Closed").is_object() {
                closed += 1;
            }
        } else {
            panic!("bar {i} rejected");
        }
        assert_eq!(trader.features().is_some(), i >= 96, "bar {i}");
    }
    assert!(
        opened >= 3 && closed >= 2,
        "opened {opened}, closed {closed}"
    );
    assert_eq!(trader.features().unwrap().len(), 32);
    let levels = Array::from(&trader.levels().unwrap());
    assert!(levels.length() > 0);
    assert!(get(&levels.get(0), "kind").is_string());
    let closed_trades = Array::from(&engine.closed_trades(1000).unwrap());
    assert_eq!(closed_trades.length(), closed);

    // Resume from bar 300: identical engine and trader at the end.
    let (eb, tb) = saved.unwrap();
    let mut e2 = Engine::restore(&eb).unwrap();
    let mut t2 = PaperTrader::restore(&tb).unwrap();
    assert_eq!(bytes(&t2.snapshot()), tb);
    for i in 300..candles.length() {
        t2.on_bar(&mut e2, bar(i)).unwrap();
    }
    assert_eq!(bytes(&e2.snapshot()), bytes(&engine.snapshot()));
    assert_eq!(bytes(&t2.snapshot()), bytes(&trader.snapshot()));

    // A manual trade on the last bar's features (a Float32Array).
    let f = trader.features().unwrap();
    let o = Object::new();
    for (k, v) in [
        ("symbol", JsValue::from_str("SPY")),
        ("side", JsValue::from_str("Long")),
        ("price", get(&bar(599), "close")),
        ("size", JsValue::from_f64(1.0)),
        ("features", js_sys::Float32Array::from(&f[..]).into()),
    ] {
        Reflect::set(&o, &k.into(), &v).unwrap();
    }
    let t = num(&bar(599), "time");
    let manual = engine.open(o.into(), Some(t)).unwrap();
    assert!(num(&manual, "exits.stop_price") < num(&bar(599), "close"));
}

/// The field names of `export interface {name} {...}` (or `export type {name} = Base & {...}`)
/// in the TypeScript declarations, sorted.
fn fields(name: &str) -> Vec<String> {
    let (start, mut out) = match TYPES.find(&format!("export interface {name} {{")) {
        Some(start) => (start, Vec::new()),
        None => {
            let head = format!("export type {name} = ");
            let start = TYPES
                .find(&head)
                .unwrap_or_else(|| panic!("no interface {name}"));
            let rest = &TYPES[start + head.len()..];
            let base = rest
                .split(" & {")
                .next()
                .filter(|b| !b.contains(char::is_whitespace))
                .unwrap_or_else(|| panic!("{name} is not an interface or `Base & {{...}}`"));
            (start, fields(base))
        }
    };
    let body = &TYPES[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap()];
    // A field a line, indented by two; doc comments and nested lines are deeper.
    out.extend(
        body.lines()
            .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
            .map(str::trim)
            .filter(|l| !l.starts_with("/**") && !l.is_empty())
            .map(|l| l.split([':', '?']).next().unwrap().to_string()),
    );
    out.sort();
    out
}

/// The own keys of a JS object, sorted.
fn keys(v: &JsValue) -> Vec<String> {
    let mut k: Vec<String> = Object::keys(v.unchecked_ref::<Object>())
        .iter()
        .map(|k| k.as_string().unwrap())
        .collect();
    k.sort();
    k
}

/// The TypeScript declarations name exactly the fields the values have.
#[wasm_bindgen_test]
fn typescript_interfaces_match_values() {
    let mut e = engine(9);
    run_lifecycle(&mut e);
    let t = T0 + 200.0 * HOUR;
    let opened = e.open(open_json(100.0, [0.0; 4]), Some(t)).unwrap();
    let suggestion = e
        .suggest(
            js(r#"{"side":"Long","price":1,"features":[0,0,0,0],"levels":[]}"#),
            Some(t),
        )
        .unwrap();
    let learned = e.learn(Some(js(r#""Retrain""#)), Some(t)).unwrap();
    let stats = e.stats().unwrap();
    let trade = Array::from(&e.closed_trades(1).unwrap()).get(0);
    let version = Array::from(&e.versions().unwrap()).get(0);
    let config = e.config().unwrap();
    let observed = e
        .observe(js(r#"{"features":[0,0,0,0],"return_pct":0}"#), Some(t))
        .unwrap();
    let forecast = e
        .forecast(js(r#"{"features":[0.5,0.5,0.5,0.5]}"#), Some(t))
        .unwrap();
    // A snapshot of the online network, put on trial.
    let snapshot = e.learn(Some(js(r#""Incremental""#)), Some(t)).unwrap();
    let trial = e.trial().unwrap();
    let evaluated = e.learn(Some(js(r#""Eval""#)), Some(t)).unwrap();
    let mixture = e.mixture().unwrap();
    let accuracy = e.accuracy(30).unwrap();
    let doc = inspect_checkpoint(&bytes(&e.snapshot())).unwrap();
    // A retrain spread over commands: with `retrain_every` 100 the 100th label starts one,
    // and 64 rows of work per command do not finish it (its first slice alone is the
    // train and validation rows, 60 of them, plus a mini-batch).
    let mut r = Engine::new(
        Some(js(r#"{"features": 4, "lifecycle": {"policy": {"retrain_every": 100, "min_train_samples": 50}, "retrain": {"rows_per_call": 64}, "drift": {"page_hinkley": {"lambda": 1e9}}}}"#)),
        Some(JsValue::from_f64(9.0)),
        Some(T0),
    )
    .unwrap();
    let mut running = None;
    for i in 0..150u32 {
        let x = (i % 7) as f32 / 7.0 - 0.5;
        let ret = if i % 3 == 0 { -0.01 } else { 0.01 };
        let obs = js(&format!(
            r#"{{"features":[{x},{},0.25,1],"return_pct":{ret}}}"#,
            -x
        ));
        let o = r.observe(obs, Some(T0 + f64::from(i) * HOUR)).unwrap();
        if get(&o, "learned.retrain").is_object() {
            running = Some(get(&o, "learned"));
            break;
        }
    }
    let running = running.expect("an automatic retrain started");
    assert!(get(&running, "run").is_null(), "{}", show(&running));
    let retrain = get(&running, "retrain");
    assert_eq!(Array::from(&get(&retrain, "rows")).length(), 2);
    let retraining = r.stats().unwrap();
    assert!(get(&retraining, "signal.retrain").is_object());
    let cases = [
        ("Opened", opened.clone()),
        ("Signal", get(&opened, "signal")),
        ("ExitPlan", get(&opened, "exits")),
        ("Suggestion", suggestion),
        ("Learned", learned.clone()),
        ("LearnReport", get(&learned, "signal")),
        ("Decision", get(&learned, "signal.decision")),
        ("Stats", stats.clone()),
        ("SignalStats", get(&stats, "signal")),
        ("LevelStats", get(&stats, "levels")),
        ("ExitStats", get(&stats, "exits")),
        ("TradeStats", get(&stats, "trades")),
        ("TradeRecord", trade.clone()),
        ("CloseRecord", get(&trade, "close")),
        ("VersionInfo", version),
        ("EngineConfig", config.clone()),
        ("ReplayConfig", get(&config, "replay")),
        ("LifecycleConfig", get(&config, "lifecycle")),
        ("ExitConfig", get(&config, "exits")),
        ("Observed", observed),
        ("Forecasted", forecast),
        ("RunReport", get(&snapshot, "signal.run")),
        ("DataRange", get(&snapshot, "signal.run.data")),
        ("TrialStatus", trial.clone()),
        ("TrialResult", get(&trial, "interim")),
        ("Evaluation", get(&evaluated, "signal.evaluation")),
        ("MixtureReport", mixture.clone()),
        ("ExpertScore", Array::from(&get(&mixture, "experts")).get(0)),
        ("AccuracyReport", accuracy.clone()),
        ("WindowStats", get(&accuracy, "window")),
        ("CheckpointDocument", doc.clone()),
        ("TradeStats", get(&doc, "stats")),
        ("LearnReport", running),
        ("RetrainStatus", retrain),
        ("SignalStats", get(&retraining, "signal")),
        ("MonitorReport", e.monitor(None, Some(t)).unwrap()),
        ("DriftReport", e.drift().unwrap()),
        ("RankReport", e.ranking().unwrap()),
        ("PaperConfig", default_paper_config().unwrap()),
        (
            "LevelDetectorConfig",
            get(&default_paper_config().unwrap(), "levels"),
        ),
    ];
    for (name, value) in cases {
        assert!(value.is_object(), "{name}: {}", show(&value));
        assert_eq!(
            keys(&value),
            fields(name),
            "interface {name} vs {}",
            show(&value)
        );
    }
    let c = Array::from(&parse_csv("timestamp,open,high,low,close,volume\n1,1,1,1,1,1\n").unwrap());
    assert_eq!(keys(&c.get(0)), fields("Candle"));
}

/// The first `n` bars of the bundled SPY hourly series as CSV.
fn spy(n: usize) -> String {
    SPY.lines().take(n + 1).collect::<Vec<_>>().join("\n")
}

/// The actions a scripted strategy returns at bar `i` (close: that bar's close, `pos`: its
/// position): entries, exits, a stop and a limit, a malformed action.
fn scripted(i: u32, close: f64, pos: f64) -> Vec<Action> {
    match i {
        5 => vec![Action::market(Side::Buy, 10.0, 1)],
        20 => vec![Action::market(Side::Buy, f64::NAN, 9)],
        40 => vec![Action::close(2)],
        60 => vec![Action::limit(Side::Buy, 5.0, close * 0.999, 3)],
        _ if i > 60 && i < 150 && pos > 0.0 && i.is_multiple_of(10) => {
            vec![Action::stop(Side::Sell, pos, close * 0.995, 4).reduce_only()]
        }
        150 => vec![Action::market(Side::Sell, 3.0, 5)],
        _ => vec![],
    }
}

fn encode(actions: &[Action]) -> Vec<u8> {
    let mut b = vec![0u8; actions.len() * Action::SIZE];
    for (k, a) in actions.iter().enumerate() {
        a.write(&mut b[k * Action::SIZE..]);
    }
    b
}

/// A `StrategyRun` gives the same fills, inputs, trades, equity, metrics and hash as the
/// crate's `Run` driven the same way (the hash as 16 hex digits).
#[wasm_bindgen_test]
fn strategy_run_is_the_backtest_crate() {
    let csv = spy(400);
    let feed = BacktestFeed::from_csv(&csv).unwrap();
    assert_eq!(feed.length(), 400);
    assert_eq!(feed.time(0), Some(1_167_832_800_000.0));
    assert_eq!(feed.time(400), None);
    let start = feed.fresh_engine(JsValue::from_f64(7.0)).unwrap();
    let mut js_run = StrategyRun::new(
        &feed,
        "SPY_1h",
        None,
        Some(start.clone().into()),
        Some(js(r#"{"slow": 30, "fast": 10.5}"#)),
    )
    .unwrap();
    assert_eq!(js_run.params_text(), "fast=10.5\nslow=30\n");
    assert_eq!(js_run.param(b"slow"), Some(30.0));
    assert_eq!(js_run.param(b"nope"), None);
    assert_eq!(js_run.param(&[0xff, 0xfe]), None);

    let candles = tradeloop_core::market::parse_csv(&csv).unwrap();
    let rfeed = tradeloop_backtest::Feed::new(&candles).unwrap();
    let fork = tradeloop_core::Engine::restore(
        &tradeloop_backtest::fresh_engine(7, &rfeed)
            .unwrap()
            .snapshot(),
    )
    .unwrap();
    assert_eq!(
        fork.snapshot(),
        start.to_vec(),
        "freshEngine is fresh_engine's snapshot"
    );
    let mut run =
        tradeloop_backtest::Run::new(tradeloop_backtest::Costs::default(), "SPY_1h", Some(fork))
            .unwrap();
    assert_eq!(
        js_run.config().unwrap().to_vec(),
        run.config().to_bytes().to_vec()
    );
    js_run.started(3.0).unwrap();
    run.started(3);

    let (mut fills, mut suggested) = (0, 0);
    for i in 0..400u32 {
        let a = js_run.open_bar(i).unwrap().to_vec();
        let b: Vec<u8> = run
            .open_bar(&rfeed, i as usize)
            .iter()
            .flat_map(|f| f.to_bytes())
            .collect();
        assert_eq!(a, b, "fills of bar {i}");
        fills += a.len() / Fill::SIZE;
        assert!(a.chunks_exact(Fill::SIZE).all(|f| Fill::read(f).is_some()));
        assert_eq!(js_run.wants_bar(i), run.wants_bar(i as usize), "bar {i}");
        assert_eq!(js_run.wants_bar(i), i >= 3);
        if !js_run.wants_bar(i) {
            continue;
        }
        let input = js_run.input(i).unwrap().to_vec();
        assert_eq!(input, run.input(&rfeed, i as usize), "input of bar {i}");
        let input = Input::read(&input).unwrap();
        assert_eq!(input.index, i);
        // The imports see the same bars, features and forecasts.
        let h = js_run.history(i as i32 - 2, 10).unwrap().unwrap().to_vec();
        let mut hb = Vec::new();
        run.history(&rfeed, i - 2, 10, &mut hb);
        assert_eq!(h, hb);
        assert_eq!(
            h.len(),
            3 * 48,
            "history is clipped to the bars that closed"
        );
        let f = js_run.features().unwrap().map(|u| u.to_vec());
        let g = run
            .features(&rfeed)
            .map(|f| f.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>());
        assert_eq!(f, g, "features of bar {i}");
        if let Some(f) = f
            && i.is_multiple_of(25)
        {
            let s = js_run.suggest(0, &f).unwrap();
            let bytes = Uint8Array::from(s).to_vec();
            let floats: Vec<f32> = f
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let want = run.suggest(&rfeed, 0, &floats).unwrap();
            assert_eq!(bytes, want.to_bytes().to_vec());
            assert!(Suggestion::read(&bytes).unwrap().probs.iter().sum::<f64>() > 0.99);
            suggested += 1;
        }
        let acts = encode(&scripted(i, input.bar.close, input.position));
        js_run
            .submit(i, (acts.len() / Action::SIZE) as i32, &acts)
            .unwrap();
        run.submit(i as usize, (acts.len() / Action::SIZE) as i32, &acts);
    }
    assert!(fills >= 4, "{fills} fills");
    assert!(suggested >= 10, "{suggested} suggestions");
    assert!(js_run.stopped().unwrap().is_null());
    let result = js_run.finish().unwrap();
    let outcome = run.finish(&rfeed);
    assert_eq!(
        get(&result, "trade_hash").as_string().unwrap(),
        format!("{:016x}", outcome.trade_hash)
    );
    assert_eq!(get(&result, "trade_hash").as_string().unwrap().len(), 16);
    let trades = Array::from(&get(&result, "trades"));
    assert_eq!(trades.length() as usize, outcome.trades.len());
    assert!(outcome.trades.len() >= 3, "{:?}", outcome.trades);
    assert_eq!(num(&result, "fills"), outcome.fills as f64);
    assert_eq!(num(&result, "rejections.bad_size"), 1.0);
    let equity = js_sys::Float64Array::from(get(&result, "equity")).to_vec();
    assert_eq!(equity, outcome.equity);
    let m = tradeloop_backtest::metrics(rfeed.bars(), &outcome, 10_000.0, 0..400);
    assert_eq!(num(&result, "metrics.total_return"), m.total_return);
    assert_eq!(num(&result, "metrics.trades"), f64::from(m.trades));
    assert_eq!(num(&result, "metrics.max_drawdown"), m.max_drawdown);
    assert!(get(&result, "stopped").is_null());
    for (name, v) in [
        ("BacktestResult", result.clone()),
        ("BacktestTrade", trades.get(0)),
        ("BacktestMetrics", get(&result, "metrics")),
        ("BacktestRejections", get(&result, "rejections")),
    ] {
        assert_eq!(keys(&v), fields(name), "interface {name} vs {}", show(&v));
    }
    // Finished: every method that needs the run throws.
    assert_error(js_run.finish(), "InvalidInput", "finished");
    assert!(js_run.config().is_err());
}

/// Out-of-order calls, bad arguments and the imports' edge cases throw or answer as the ABI
/// says, and change nothing; a stop is reported; seeds and snapshots give the same engine.
#[wasm_bindgen_test]
fn strategy_run_refuses_misuse() {
    let csv = spy(150);
    assert_error(
        BacktestFeed::from_csv("timestamp,open,high,low,close,volume\n1,1,x,1,1,1\n")
            .map(JsValue::from),
        "Csv",
        "line 2",
    );
    assert_error(
        BacktestFeed::from_csv("timestamp,open,high,low,close,volume\n").map(JsValue::from),
        "InvalidConfig",
        "bars",
    );
    assert_error(
        BacktestFeed::from_packed(&[1.0, 2.0]).map(JsValue::from),
        "InvalidInput",
        "6 numbers",
    );
    assert_error(
        BacktestFeed::from_packed(&[0.5, 1.0, 1.0, 1.0, 1.0, 1.0]).map(JsValue::from),
        "InvalidInput",
        "integer",
    );
    let packed = BacktestFeed::from_packed(&[
        0.0,
        1.0,
        2.0,
        0.5,
        1.5,
        10.0,
        3_600_000.0,
        1.5,
        2.0,
        1.0,
        1.8,
        5.0,
    ])
    .unwrap();
    assert_eq!(packed.length(), 2);
    let candles = parse_csv(&csv).unwrap();
    let feed = BacktestFeed::from_candles(candles).unwrap();
    assert_eq!(feed.length(), 150);
    assert_error(
        feed.fresh_engine(JsValue::NULL).map(JsValue::from),
        "InvalidInput",
        "seed",
    );

    let new = |symbol: &str, costs: Option<JsValue>, engine: Option<JsValue>| {
        StrategyRun::new(&feed, symbol, costs, engine, None).map(|_| JsValue::TRUE)
    };
    assert_error(new("has space", None, None), "InvalidSymbol", "symbol");
    assert_error(new("", None, None), "InvalidSymbol", "symbol");
    assert_error(
        new("SPY", Some(js(r#"{"cash": -1}"#)), None),
        "InvalidConfig",
        "cash",
    );
    assert_error(
        new("SPY", Some(js(r#"{"fees": 0.1}"#)), None),
        "InvalidInput",
        "fees",
    );
    assert_error(
        new("SPY", None, Some(Uint8Array::from(&b"junk"[..]).into())),
        "Checkpoint",
        "",
    );
    assert_error(
        StrategyRun::new(&feed, "SPY", None, None, Some(js(r#"{"a=b": 1}"#)))
            .map(|_| JsValue::TRUE),
        "InvalidInput",
        "parameter",
    );

    // A seed and the snapshot of a fresh engine with that seed are the same start.
    let by_seed = StrategyRun::new(&feed, "SPY", None, Some(JsValue::from_f64(7.0)), None).unwrap();
    let by_bytes = StrategyRun::new(
        &feed,
        "SPY",
        Some(js(r#"{"fee_rate": 0.001}"#)),
        Some(
            feed.fresh_engine(js_sys::BigInt::from(7u64).into())
                .unwrap()
                .into(),
        ),
        None,
    )
    .unwrap();
    assert_eq!(
        by_seed.config().unwrap().to_vec()[..8],
        by_bytes.config().unwrap().to_vec()[..8]
    );
    assert_eq!(by_seed.params_text(), "");

    let mut r =
        StrategyRun::new(&feed, "SPY_1h", None, Some(JsValue::from_f64(7.0)), None).unwrap();
    r.started(0.0).unwrap();
    assert_error(
        r.open_bar(1).map(JsValue::from),
        "InvalidInput",
        "next bar is 0",
    );
    assert_error(r.input(0).map(JsValue::from), "InvalidInput", "none yet");
    assert_eq!(r.next_bar(), 0);
    assert_eq!(r.history(0, 5).unwrap().unwrap().length(), 0, "no bar yet");
    assert!(r.features().unwrap().is_none());
    for i in 0..100 {
        r.open_bar(i).unwrap();
        assert!(r.wants_bar(i));
    }
    assert_eq!(r.next_bar(), 100);
    assert_error(
        r.open_bar(99).map(JsValue::from),
        "InvalidInput",
        "next bar is 100",
    );
    assert_error(
        r.input(98).map(JsValue::from),
        "InvalidInput",
        "just opened (99)",
    );
    assert_error(
        r.submit(98, 0, &[]).map(|_| JsValue::TRUE),
        "InvalidInput",
        "submit(98)",
    );
    assert_error(
        r.submit(99, 0, &[0u8; 513]).map(|_| JsValue::TRUE),
        "InvalidInput",
        "512 bytes",
    );
    assert!(r.history(-1, 5).unwrap().is_none());
    assert!(r.history(0, -5).unwrap().is_none());
    assert_eq!(r.history(95, 1000).unwrap().unwrap().length(), 5 * 48);
    assert_eq!(r.history(200, 1).unwrap().unwrap().length(), 0);
    let f = r
        .features()
        .unwrap()
        .expect("features after the warm-up")
        .to_vec();
    assert_eq!(f.len(), 128);
    assert_eq!(r.suggest(0, &f[..124]).unwrap().as_f64(), Some(-2.0));
    assert_eq!(r.suggest(0, &f[..126]).unwrap().as_f64(), Some(-2.0));
    let mut nan = f.clone();
    nan[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    assert_eq!(r.suggest(0, &nan).unwrap().as_f64(), Some(-3.0));
    assert_eq!(r.suggest(7, &f).unwrap().as_f64(), Some(-4.0));
    assert!(r.suggest(1, &f).unwrap().is_instance_of::<Uint8Array>());
    for k in 0..70 {
        r.log(format!("line {k} {}", "x".repeat(300)).as_bytes());
    }
    let logs = r.logs();
    assert_eq!(logs.len(), 64);
    assert_eq!(logs[0].len(), 256);
    r.log(&[0xff]);
    // A stop at bar 99: reported, and the module gets no more bars.
    r.stop(99, String::from("trap: unreachable")).unwrap();
    r.stop(99, String::from("second")).unwrap();
    let stopped = r.stopped().unwrap();
    assert_eq!(
        get(&stopped, "reason").as_string().as_deref(),
        Some("trap: unreachable")
    );
    assert_eq!(num(&stopped, "bar"), 99.0);
    assert_eq!(keys(&stopped), fields("BacktestStopped"));
    r.open_bar(100).unwrap();
    assert!(!r.wants_bar(100));
    let result = r.finish().unwrap();
    assert_eq!(num(&result, "logs_dropped"), 7.0);
    assert_eq!(Array::from(&get(&result, "logs")).length(), 64);
    assert_eq!(Array::from(&get(&result, "trades")).length(), 0);
    assert_eq!(num(&result, "metrics.trades"), 0.0);
    assert_eq!(
        get(&result, "trade_hash").as_string().unwrap(),
        format!("{:016x}", tradeloop_backtest::trades_hash(&[]))
    );

    // init refusing to start stops the run at bar 0.
    let mut refused = StrategyRun::new(&feed, "SPY", None, None, None).unwrap();
    refused.started(-1.0).unwrap();
    assert!(refused.stopped().unwrap().is_object());
    let fills = refused.open_bar(0).unwrap();
    assert_eq!(fills.length(), 0);
    assert!(!refused.wants_bar(0));
    // No engine: suggest answers -4.
    let mut bare = StrategyRun::new(&feed, "SPY", None, None, None).unwrap();
    bare.started(0.0).unwrap();
    for i in 0..100 {
        bare.open_bar(i).unwrap();
    }
    assert_eq!(bare.suggest(0, &f).unwrap().as_f64(), Some(-4.0));
    assert_eq!(
        u32::from_le_bytes(bare.config().unwrap().to_vec()[32..36].try_into().unwrap()),
        0
    );
}
