//! The `BacktestFeed` and `StrategyRun` classes: backtests of strategy modules (strategy ABI
//! v1, `docs/STRATEGY_ABI.md`) driven from JS.
//!
//! The browser runs the strategy modules itself (`WebAssembly.instantiate` in a Worker,
//! `web/strategy-worker.js`); this package holds everything else, the same
//! `tradeloop-backtest` code the native host (`tradeloop experiment`) runs: the bars and
//! their features, each strategy's broker and fork of the learning engine, the ABI records,
//! the metrics and the trade hash. JS drives the loop and moves bytes between the module's
//! memory and a `StrategyRun`; no method here calls back into JS, so a strategy's imports
//! (which call `history`, `features`, `suggest`, `param`, `log` while its `tls_on_bar` runs)
//! never re-enter a method that is still running.
//!
//! ```js
//! const feed = BacktestFeed.fromCsv(text);
//! const start = feed.freshEngine(7);                       // engine snapshot, once
//! const run = new StrategyRun(feed, 'SPY_1h', null, start, { fast: 10 });
//! // setup: write run.config() and run.paramsText into the module, call tls_init,
//! run.started(ret);
//! for (let i = 0; i < feed.length; i++) {
//!   const fills = run.openBar(i);                          // 48 bytes per fill
//!   // ... tls_on_fill for each
//!   if (run.wantsBar(i)) {
//!     const input = run.input(i);                          // ... tls_on_bar -> n
//!     run.submit(i, n, actionBytes);                       // or run.stop(i, reason)
//!   }
//! }
//! const result = run.finish();  // { trade_hash: "0123456789abcdef", trades, metrics, ... }
//! ```

use std::collections::BTreeMap;
use std::rc::Rc;

use js_sys::{Float64Array, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use tradeloop_backtest::run::suggest_error;
use tradeloop_backtest::{Costs, Feed, Metrics, Rejections, Run, Stopped, Trade};
use tradeloop_core::market::Candle;
use tradeloop_strategy::abi::{self, Action, CANDLE_FEATURES, Fill, MAX_ACTIONS};
use wasm_bindgen::prelude::*;

use crate::convert::{OrThrow, from_js, given, input_error, js_error, merged, to_js};

/// Bytes of the actions buffer a host gives `tls_on_bar` (`MAX_ACTIONS` records).
const ACTIONS_BYTES: usize = MAX_ACTIONS * Action::SIZE;

/// The bars of an experiment, validated, with their candle features (computed once and
/// shared by every `StrategyRun` made from it).
#[wasm_bindgen]
pub struct BacktestFeed {
    feed: Rc<Feed>,
}

impl BacktestFeed {
    fn of(candles: &[Candle]) -> Result<BacktestFeed, JsValue> {
        Ok(BacktestFeed {
            feed: Rc::new(Feed::new(candles).or_throw()?),
        })
    }
}

#[wasm_bindgen]
impl BacktestFeed {
    /// Bars from market CSV (the contract of `parseCsv`, the parser `tradeloop experiment
    /// --data` uses). A malformed file throws (`kind` "Csv"); bars that are not possible
    /// (high below low, ...) or times that do not increase throw (`kind` "InvalidCandle",
    /// "InvalidConfig").
    #[wasm_bindgen(js_name = fromCsv)]
    pub fn from_csv(text: &str) -> Result<BacktestFeed, JsValue> {
        let candles = tradeloop_core::market::parse_csv(text)
            .map_err(|e| JsValue::from(js_error(&e.to_string(), "Csv")))?;
        Self::of(&candles)
    }

    /// Bars from candles (`parseCsv`'s objects, `time` in ms).
    #[wasm_bindgen(js_name = fromCandles)]
    pub fn from_candles(
        #[wasm_bindgen(unchecked_param_type = "Candle[]")] candles: JsValue,
    ) -> Result<BacktestFeed, JsValue> {
        let candles: Vec<Candle> = from_js(candles, "candles")?;
        Self::of(&candles)
    }

    /// Bars from six numbers each: time (ms, an integer), open, high, low, close, volume.
    #[wasm_bindgen(js_name = fromPacked)]
    pub fn from_packed(values: &[f64]) -> Result<BacktestFeed, JsValue> {
        if !values.len().is_multiple_of(6) {
            return Err(input_error(format!(
                "packed bars need 6 numbers each (got {})",
                values.len()
            )));
        }
        let candles = values
            .chunks_exact(6)
            .enumerate()
            .map(|(i, c)| {
                let t = c[0];
                if !(t.is_finite() && t.fract() == 0.0 && t.abs() <= 9.007_199_254_740_991e15) {
                    return Err(input_error(format!("bar {i}: time {t} is not an integer")));
                }
                Ok(Candle {
                    time: t as i64,
                    open: c[1],
                    high: c[2],
                    low: c[3],
                    close: c[4],
                    volume: c[5],
                })
            })
            .collect::<Result<Vec<_>, JsValue>>()?;
        Self::of(&candles)
    }

    /// Number of bars.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> u32 {
        self.feed.len() as u32
    }

    /// Open time of bar `i` (ms), `undefined` past the end.
    pub fn time(&self, i: u32) -> Option<f64> {
        self.feed.bar(i as usize).map(|b| b.time as f64)
    }

    /// The starting engine of an experiment as checkpoint bytes: the default configuration,
    /// `seed` (number or bigint) and the first bar's time as its clock (`fresh_engine`, as the
    /// native host makes it). Give the same bytes to every `StrategyRun`.
    #[wasm_bindgen(js_name = freshEngine)]
    pub fn fresh_engine(
        &self,
        #[wasm_bindgen(unchecked_param_type = "number | bigint")] seed: JsValue,
    ) -> Result<Uint8Array, JsValue> {
        let Some(seed) = given(Some(seed)) else {
            return Err(input_error(String::from("freshEngine needs a seed")));
        };
        let seed = crate::engine::seed(Some(seed))?;
        let engine = tradeloop_backtest::fresh_engine(seed, &self.feed).or_throw()?;
        Ok(Uint8Array::from(&engine.snapshot()[..]))
    }
}

/// Costs of a run, every field optional (defaults: cash 10000, no fee, no slippage).
#[derive(Serialize, Deserialize)]
struct CostsIn {
    cash: f64,
    fee_rate: f64,
    slippage: f64,
}

impl Default for CostsIn {
    fn default() -> Self {
        let c = Costs::default();
        CostsIn {
            cash: c.cash,
            fee_rate: c.fee_rate,
            slippage: c.slippage,
        }
    }
}

/// What `StrategyRun.finish()` returns, but `equity` (a `Float64Array` set beside it).
#[derive(Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "BacktestFinished"))]
pub(crate) struct Finished<'a> {
    /// XXH64 of the trades (`trades_hash`) as 16 hex digits, as `tradeloop experiment --json`
    /// prints it.
    trade_hash: String,
    /// Round trips, in order of their exit.
    trades: &'a [Trade],
    /// The figures over every bar.
    metrics: Metrics,
    /// Fills.
    fills: u64,
    /// Rejected actions and refused fills.
    rejections: Rejections,
    /// Trades the engine fork refused to record.
    engine_refusals: u32,
    /// Set if the strategy was stopped.
    stopped: Option<&'a Stopped>,
    /// The module's log lines (at most 64 of at most 256 bytes).
    logs: &'a [String],
    /// Log lines beyond the 64 kept.
    logs_dropped: u32,
}

/// One strategy's run over a `BacktestFeed`: its broker, its own fork of the learning
/// engine, its log, and the ABI records its module exchanges with the host. The methods
/// must be called in the order of the ABI (`openBar(i)` for i = 0, 1, ...; `input(i)` and
/// `submit(i, ...)` only for the bar just opened); any other order throws (`kind`
/// "InvalidInput") and changes nothing.
#[wasm_bindgen]
pub struct StrategyRun {
    feed: Rc<Feed>,
    run: Option<Run>,
    cash: f64,
    params: String,
    /// The next bar `openBar` accepts.
    next: usize,
    logs: Vec<String>,
    logs_dropped: u32,
    scratch: Vec<u8>,
}

/// The parameter text `tls_init` receives from `{ name: number }`: sorted `name=value`
/// lines (`abi::params_text`).
fn params_text(v: Option<JsValue>) -> Result<String, JsValue> {
    let Some(v) = given(v) else {
        return Ok(String::new());
    };
    let map: BTreeMap<String, f64> = from_js(v, "params")?;
    for (k, x) in &map {
        // The rule `tradeloop experiment --params` applies.
        if k.is_empty() || k.len() > 64 || k.contains(['=', '\n']) {
            return Err(input_error(format!(
                "parameter name {k:?} must be 1-64 bytes without '=' or line breaks"
            )));
        }
        if !x.is_finite() {
            return Err(input_error(format!(
                "parameter {k} must be finite (got {x})"
            )));
        }
    }
    Ok(abi::params_text(map.iter().map(|(k, v)| (k.as_str(), *v))))
}

fn finished() -> JsValue {
    input_error(String::from("the run has finished"))
}

#[wasm_bindgen]
impl StrategyRun {
    /// A run over `feed` journalling its trades as `symbol` (1-32 printable ASCII
    /// characters; `tradeloop experiment` uses the series name, e.g. "SPY_1h", with any other
    /// character replaced by `_` and cut to 16, and so does the page). `costs` overrides
    /// any of `{ cash, fee_rate, slippage }` (cash > 0, rates in [0, 0.5]). `engine` is the
    /// starting engine: checkpoint bytes (`feed.freshEngine(seed)`), or a seed (number or
    /// bigint) for a fresh one, or `null` for none (then `suggest` answers -4). `params`
    /// (`{ name: number }`) become `paramsText`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        feed: &BacktestFeed,
        symbol: &str,
        #[wasm_bindgen(unchecked_optional_param_type = "Partial<BacktestCosts> | null")]
        costs: Option<JsValue>,
        #[wasm_bindgen(unchecked_optional_param_type = "Uint8Array | number | bigint | null")]
        engine: Option<JsValue>,
        #[wasm_bindgen(unchecked_optional_param_type = "Record<string, number> | null")]
        params: Option<JsValue>,
    ) -> Result<StrategyRun, JsValue> {
        let costs: CostsIn = merged(&CostsIn::default(), costs, "costs")?;
        let costs = Costs {
            cash: costs.cash,
            fee_rate: costs.fee_rate,
            slippage: costs.slippage,
        };
        let params = params_text(params)?;
        let engine = match given(engine) {
            None => None,
            Some(v) if v.is_instance_of::<Uint8Array>() => {
                let bytes = Uint8Array::from(v).to_vec();
                Some(tradeloop_core::Engine::restore(&bytes).or_throw()?)
            }
            Some(v) => {
                let seed = crate::engine::seed(Some(v))?;
                let fresh = tradeloop_backtest::fresh_engine(seed, &feed.feed).or_throw()?;
                // Through a snapshot, as every fork of an experiment is made.
                Some(tradeloop_core::Engine::restore(&fresh.snapshot()).or_throw()?)
            }
        };
        let run = Run::new(costs, symbol, engine).or_throw()?;
        Ok(StrategyRun {
            feed: Rc::clone(&feed.feed),
            run: Some(run),
            cash: costs.cash,
            params,
            next: 0,
            logs: Vec::new(),
            logs_dropped: 0,
            scratch: Vec::new(),
        })
    }

    fn run(&self) -> Result<&Run, JsValue> {
        self.run.as_ref().ok_or_else(finished)
    }

    fn run_mut(&mut self) -> Result<&mut Run, JsValue> {
        self.run.as_mut().ok_or_else(finished)
    }

    /// `i` must be the bar `openBar` opened last.
    fn current(&self, i: u32, what: &str) -> Result<usize, JsValue> {
        let i = i as usize;
        if self.next == 0 || i != self.next - 1 {
            return Err(input_error(format!(
                "{what}({i}): bar {i} is not the bar just opened ({})",
                match self.next {
                    0 => String::from("none yet"),
                    n => format!("{}", n - 1),
                }
            )));
        }
        Ok(i)
    }

    /// The `Config` record for `tls_init` (56 bytes).
    pub fn config(&self) -> Result<Uint8Array, JsValue> {
        Ok(Uint8Array::from(&self.run()?.config().to_bytes()[..]))
    }

    /// The parameter text for `tls_init` (`name=value` lines, sorted; empty without params).
    #[wasm_bindgen(getter, js_name = paramsText)]
    pub fn params_text(&self) -> String {
        self.params.clone()
    }

    /// What `tls_init` returned: the number of warm-up bars, or (negative) a refusal that
    /// stops the run at bar 0.
    pub fn started(&mut self, returned: f64) -> Result<(), JsValue> {
        let r = if returned.is_finite() && returned.fract() == 0.0 {
            returned as i64
        } else {
            -1
        };
        self.run_mut()?.started(r);
        Ok(())
    }

    /// Opens bar `i` (0 first, then each next one): the orders placed before it execute at
    /// its prices. Returns the fills for `tls_on_fill`, 48 bytes each (none once stopped).
    #[wasm_bindgen(js_name = openBar)]
    pub fn open_bar(&mut self, i: u32) -> Result<Uint8Array, JsValue> {
        let i = i as usize;
        if i != self.next || i >= self.feed.len() {
            return Err(input_error(format!(
                "openBar({i}): the next bar is {} of {}",
                self.next,
                self.feed.len()
            )));
        }
        let feed = Rc::clone(&self.feed);
        let fills = self.run_mut()?.open_bar(&feed, i);
        self.next = i + 1;
        let mut out = Vec::with_capacity(fills.len() * Fill::SIZE);
        for f in &fills {
            out.extend_from_slice(&f.to_bytes());
        }
        Ok(Uint8Array::from(&out[..]))
    }

    /// Whether the module gets `tls_on_bar` for bar `i` (running and past its warm-up).
    #[wasm_bindgen(js_name = wantsBar)]
    pub fn wants_bar(&self, i: u32) -> bool {
        self.run.as_ref().is_some_and(|r| r.wants_bar(i as usize))
    }

    /// The `Input` record of the bar just opened, for `tls_on_bar` (at most `abi::MAX_INPUT`
    /// bytes: 88 plus 32 per open order).
    pub fn input(&mut self, i: u32) -> Result<Uint8Array, JsValue> {
        let i = self.current(i, "input")?;
        let feed = Rc::clone(&self.feed);
        Ok(Uint8Array::from(self.run_mut()?.input(&feed, i)))
    }

    /// What `tls_on_bar` returned for the bar just opened and the action records it wrote
    /// (`min(returned, 16)` × 32 bytes; empty when `returned` is outside 0..=16). A negative
    /// value stops the strategy; more than 16 rejects every action of the bar.
    pub fn submit(&mut self, i: u32, returned: i32, actions: &[u8]) -> Result<(), JsValue> {
        let i = self.current(i, "submit")?;
        if actions.len() > ACTIONS_BYTES {
            return Err(input_error(format!(
                "submit: at most {ACTIONS_BYTES} bytes of actions (got {})",
                actions.len()
            )));
        }
        self.run_mut()?.submit(i, returned, actions);
        Ok(())
    }

    /// Stops the strategy at bar `i` (a trap, a breach, the memory cap, ...): no more calls
    /// to the module; its orders are cancelled and its position closed at the next open.
    /// Only the first stop counts.
    pub fn stop(&mut self, i: u32, reason: String) -> Result<(), JsValue> {
        self.run_mut()?.stop(i as usize, reason);
        Ok(())
    }

    /// Why the strategy was stopped, or `null`.
    #[wasm_bindgen(getter, unchecked_return_type = "BacktestStopped | null")]
    pub fn stopped(&self) -> Result<JsValue, JsValue> {
        match self.run.as_ref().and_then(Run::stopped) {
            Some(s) => to_js(s),
            None => Ok(JsValue::NULL),
        }
    }

    /// The next bar `openBar` accepts (the number of bars opened so far).
    #[wasm_bindgen(getter, js_name = nextBar)]
    pub fn next_bar(&self) -> u32 {
        self.next as u32
    }

    /// The `history` import: bars `from .. from + count` clipped to the bars that have
    /// closed and to 65,536 bars (the native host's limit), as `Bar` records (48 bytes each;
    /// copy them into the module's memory and return their number). `undefined` for a
    /// negative `from` or `count` (the import returns -1).
    pub fn history(&mut self, from: i32, count: i32) -> Result<Option<Uint8Array>, JsValue> {
        let (Ok(from), Ok(count)) = (u32::try_from(from), u32::try_from(count)) else {
            return Ok(None);
        };
        let mut buf = std::mem::take(&mut self.scratch);
        let run = self.run()?;
        run.history(&self.feed, from, count, &mut buf);
        let out = Uint8Array::from(&buf[..]);
        self.scratch = buf;
        Ok(Some(out))
    }

    /// The `features` import: the current bar's 32 candle features as 128 bytes of
    /// little-endian `f32`, or `undefined` while they are not defined (the import returns 0).
    pub fn features(&self) -> Result<Option<Uint8Array>, JsValue> {
        let run = self.run()?;
        Ok(run.features(&self.feed).map(|f| {
            let mut b = [0u8; CANDLE_FEATURES * 4];
            for (d, x) in b.chunks_exact_mut(4).zip(f) {
                d.copy_from_slice(&x.to_le_bytes());
            }
            Uint8Array::from(&b[..])
        }))
    }

    /// The `suggest` import: `features` are the module's `n` little-endian `f32`s (4n bytes).
    /// Returns the `Suggestion` record (48 bytes) or the import's error code (-2 wrong
    /// length, -3 non-finite, -4 the engine refused or there is none).
    #[wasm_bindgen(unchecked_return_type = "Uint8Array | number")]
    pub fn suggest(&self, side: i32, features: &[u8]) -> Result<JsValue, JsValue> {
        let run = self.run()?;
        if !features.len().is_multiple_of(4) {
            return Ok(JsValue::from(suggest_error::LENGTH));
        }
        let f: Vec<f32> = features
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(match run.suggest(&self.feed, side, &f) {
            Ok(s) => Uint8Array::from(&s.to_bytes()[..]).into(),
            Err(code) => JsValue::from(code),
        })
    }

    /// The `param` import: the value of the parameter named by these bytes (UTF-8, invalid
    /// sequences replaced; the import passes at most 256), or `undefined` when it is absent.
    pub fn param(&self, name: &[u8]) -> Option<f64> {
        abi::param_in(&self.params, &String::from_utf8_lossy(name))
    }

    /// The `log` import: keeps the line (its first 256 bytes, invalid UTF-8 replaced) while
    /// fewer than 64 are kept, else counts it as dropped.
    pub fn log(&mut self, message: &[u8]) {
        if self.logs.len() >= abi::MAX_LOG_LINES {
            self.logs_dropped = self.logs_dropped.saturating_add(1);
            return;
        }
        let m = &message[..message.len().min(abi::MAX_LOG_LINE)];
        self.logs.push(String::from_utf8_lossy(m).into_owned());
    }

    /// The `log` import with a bad pointer or length: the line counts as dropped.
    #[wasm_bindgen(js_name = logDropped)]
    pub fn log_dropped(&mut self) {
        self.logs_dropped = self.logs_dropped.saturating_add(1);
    }

    /// The log lines kept so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.clone()
    }

    /// Ends the run after the last bar (a position still open is closed at the last close,
    /// marked `end_of_data`): `{ trade_hash, trades, metrics, fills, rejections,
    /// engine_refusals, stopped, logs, logs_dropped, equity }`, the hash as 16 hex digits as
    /// `tradeloop experiment --json` prints it, the metrics over every bar. The run cannot be
    /// used afterwards.
    #[wasm_bindgen(unchecked_return_type = "BacktestResult")]
    pub fn finish(&mut self) -> Result<JsValue, JsValue> {
        let run = self.run.take().ok_or_else(finished)?;
        let outcome = run.finish(&self.feed);
        let metrics =
            tradeloop_backtest::metrics(self.feed.bars(), &outcome, self.cash, 0..self.feed.len());
        let out = to_js(&Finished {
            trade_hash: format!("{:016x}", outcome.trade_hash),
            trades: &outcome.trades,
            metrics,
            fills: outcome.fills,
            rejections: outcome.rejections,
            engine_refusals: outcome.engine_refusals,
            stopped: outcome.stopped.as_ref(),
            logs: &self.logs,
            logs_dropped: self.logs_dropped,
        })?;
        let _ = Reflect::set(
            &out,
            &JsValue::from_str("equity"),
            &Float64Array::from(&outcome.equity[..]),
        );
        Ok(out)
    }
}
