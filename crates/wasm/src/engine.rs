//! The `Engine` class.

use js_sys::Uint8Array;
use tradeloop_core::command::{ForecastRequest, Observation, SuggestRequest};
use tradeloop_core::lifecycle::policy::LearnMode;
#[cfg(feature = "full")]
use tradeloop_core::ranking::{NoRanker, RankRequest, Ranker};
use tradeloop_core::{
    CloseTrade, Command, EngineConfig, Error, ExitMode, LearnRequest, OpenTrade, Query, Reply,
};
use wasm_bindgen::prelude::*;

use crate::convert::{OrThrow, from_js, given, id, merged, now, to_js};
#[cfg(feature = "full")]
use crate::ranker::JsRanker;

/// The learning engine: journal, replay buffer, signal model with its versions, level
/// weights and exit learner, behind one deterministic `apply(command, now)`.
///
/// Every command takes an optional `now` (ms since the epoch, default `Date.now()`); the
/// same seed and the same commands with the same `now` give the same snapshot bytes here,
/// in node, in the plugin and natively. A method that throws has changed nothing.
///
/// ```js
/// const engine = new Engine({ replay: { capacity: 5000 } }, 42, Date.now());
/// const opened = engine.open({ symbol: "SPY", side: "Long", price: 400, size: 1,
///   features: new Array(32).fill(0), level: null, exits: null });
/// engine.close({ trade_id: opened.trade_id, price: 404, reason: "Target" });
/// const bytes = engine.snapshot(); // Uint8Array, same format as host checkpoint files
/// ```
#[wasm_bindgen]
pub struct Engine {
    inner: tradeloop_core::Engine,
}

impl Engine {
    /// The core engine, for the other classes of this package.
    pub(crate) fn core_mut(&mut self) -> &mut tradeloop_core::Engine {
        &mut self.inner
    }

    /// Applies a command; the reply or a thrown `TradeloopError`.
    fn run(&mut self, command: Command, at: Option<f64>) -> Result<Reply, JsValue> {
        let at = now(at)?;
        self.inner.apply(command, at).or_throw()
    }

    /// Answers a query (changes nothing).
    fn ask(&mut self, q: Query, at: Option<f64>) -> Result<Reply, JsValue> {
        self.run(Command::Query(q), at)
    }
}

/// The reply of the expected variant, serialized; any other is a bug reported as an error.
macro_rules! expect {
    ($reply:expr, $variant:ident) => {
        match $reply {
            Reply::$variant(x) => to_js(&x),
            other => Err(unexpected(&other)),
        }
    };
}

/// A reply of another variant than the command's (a bug, reported rather than a panic).
fn unexpected(_: &Reply) -> JsValue {
    crate::convert::core_error(&Error::Host(String::from(
        "the engine answered with an unexpected reply",
    )))
}

/// A seed given as a JS number (a safe non-negative integer) or `BigInt` (below 2^64); a
/// random one when not given.
pub(crate) fn seed(v: Option<JsValue>) -> Result<u64, JsValue> {
    let bad = || {
        crate::convert::core_error(&Error::InvalidConfig(
            "seed must be a non-negative integer number or a BigInt below 2^64",
        ))
    };
    match given(v) {
        None => random_seed(),
        Some(v) if v.is_bigint() => u64::try_from(v).map_err(|_| bad()),
        Some(v) => match v.as_f64() {
            Some(x) => id(x, "seed").map_err(|_| bad()),
            None => Err(bad()),
        },
    }
}

/// A seed from the platform's random source (`crypto.getRandomValues`).
fn random_seed() -> Result<u64, JsValue> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| {
        crate::convert::core_error(&Error::Host(format!("no random source for a seed: {e}")))
    })?;
    Ok(u64::from_le_bytes(b))
}

#[wasm_bindgen]
impl Engine {
    /// A fresh engine. `config` overrides any fields of `defaultConfig()` (nested sections
    /// merge; an unknown field throws); `seed` (number or bigint) draws the network
    /// weights and exploration, random when omitted; `now` is the creation time.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "DeepPartial<EngineConfig> | null")] config: Option<
            JsValue,
        >,
        #[wasm_bindgen(unchecked_optional_param_type = "number | bigint | null")] seed: Option<
            JsValue,
        >,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: Option<f64>,
    ) -> Result<Engine, JsValue> {
        let config: EngineConfig = merged(&EngineConfig::default(), config, "config")?;
        let seed = self::seed(seed)?;
        let at = crate::convert::now(now)?;
        Ok(Engine {
            inner: tradeloop_core::Engine::new(config, seed, at).or_throw()?,
        })
    }

    /// An engine from checkpoint bytes: any checkpoint the host, the plugin or `snapshot()`
    /// wrote (schemas 1 to 4). Corrupt, truncated, foreign or future-version bytes throw
    /// (`kind` "Checkpoint").
    pub fn restore(bytes: &[u8]) -> Result<Engine, JsValue> {
        Ok(Engine {
            inner: tradeloop_core::Engine::restore(bytes).or_throw()?,
        })
    }

    /// The engine's state as checkpoint bytes, the same format as the host's files (readable
    /// by `tradeloop inspect`, loadable by `tradeloop import`).
    pub fn snapshot(&self) -> Uint8Array {
        Uint8Array::from(&self.inner.snapshot()[..])
    }

    /// Applies any core command (`{ Open: {...} }`, `"RunDue"`, `{ Query: "Stats" }`, ...)
    /// and returns the core's reply (`{ Opened: {...} }`, ...). A `Rank` here needs
    /// recorded scores (`scored`); use `rank()` to score with a JS function.
    #[wasm_bindgen(unchecked_return_type = "Reply")]
    pub fn apply(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Command")] command: JsValue,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let command: Command = from_js(command, "command")?;
        let reply = self.run(command, now)?;
        to_js(&reply)
    }

    /// Journals a new trade: the signal model scores it and the exit learner plans its
    /// stop-loss / take-profit (unless `exits` gives them).
    #[wasm_bindgen(unchecked_return_type = "Opened")]
    pub fn open(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "OpenTrade")] trade: JsValue,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let trade: OpenTrade = from_js(trade, "trade")?;
        expect!(self.run(Command::Open(trade), now)?, Opened)
    }

    /// Closes an open trade; its outcome becomes a learning experience.
    #[wasm_bindgen(unchecked_return_type = "Closed")]
    pub fn close(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "CloseTrade")] close: JsValue,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let close: CloseTrade = from_js(close, "close")?;
        expect!(self.run(Command::Close(close), now)?, Closed)
    }

    /// The models' view of a possible entry (changes nothing).
    #[wasm_bindgen(unchecked_return_type = "Suggestion")]
    pub fn suggest(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "SuggestRequest")] req: JsValue,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let req: SuggestRequest = from_js(req, "suggest request")?;
        expect!(self.run(Command::Suggest(req), now)?, Suggestion)
    }

    /// The served forecast for features whose label a later `observe` of the same features
    /// will reveal (each expert is then scored on what it said now).
    #[wasm_bindgen(unchecked_return_type = "Forecasted")]
    pub fn forecast(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "ForecastRequest")] req: JsValue,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let req: ForecastRequest = from_js(req, "forecast request")?;
        expect!(self.run(Command::Forecast(req), now)?, Forecast)
    }

    /// A labelled sample that is not a trade: reveals the label of the oldest `forecast` of
    /// the same features (or of a forecast made now), then everything learns it.
    #[wasm_bindgen(unchecked_return_type = "Observed")]
    pub fn observe(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Observation")] obs: JsValue,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let obs: Observation = from_js(obs, "observation")?;
        expect!(self.run(Command::Observe(obs), now)?, Observed)
    }

    /// Trains the signal model (`mode`, default `"Auto"`) and the exit learner.
    #[wasm_bindgen(unchecked_return_type = "Learned")]
    pub fn learn(
        &mut self,
        #[wasm_bindgen(unchecked_optional_param_type = "LearnMode")] mode: Option<JsValue>,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let mode: LearnMode = match given(mode) {
            Some(m) => from_js(m, "learn mode")?,
            None => LearnMode::Auto,
        };
        expect!(
            self.run(Command::Learn(LearnRequest { mode }), now)?,
            Learned
        )
    }

    /// Makes a retained version the champion; returns the champion's id.
    pub fn promote(&mut self, version: u32, now: Option<f64>) -> Result<u32, JsValue> {
        match self.run(Command::Promote(version), now)? {
            Reply::Champion(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    /// Makes an earlier version champion again (default: the previous champion); returns
    /// the champion's id.
    pub fn rollback(&mut self, version: Option<u32>, now: Option<f64>) -> Result<u32, JsValue> {
        match self.run(Command::Rollback(version), now)? {
            Reply::Champion(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    /// Runs the scheduled jobs due at `now`: each job and what it did.
    #[wasm_bindgen(js_name = runDue, unchecked_return_type = "[Job, LearnReport][]")]
    pub fn run_due(&mut self, now: Option<f64>) -> Result<JsValue, JsValue> {
        expect!(self.run(Command::RunDue, now)?, Ran)
    }

    /// Switches the exit learner between `"Training"` and `"Deployment"`; returns the mode.
    #[wasm_bindgen(js_name = setExitMode, unchecked_return_type = "ExitMode")]
    pub fn set_exit_mode(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "ExitMode")] mode: JsValue,
        now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let mode: ExitMode = from_js(mode, "exit mode")?;
        expect!(self.run(Command::SetExitMode(mode), now)?, ExitMode)
    }

    #[cfg(feature = "full")]
    /// Ranks a universe and opens a long trade for each of the top `k`. `scorer` gets the
    /// candidates' features row after row (`rows.length / dim` rows) and returns one score
    /// per row, optionally with a class per row (0 loss, 1 flat, 2 win); the model is
    /// recorded as `"js-scorer"`. Without a scorer the request must carry `scored`. A
    /// scorer that throws or answers the wrong shape throws (`kind` "Ranker",
    /// "ShapeMismatch", "NonFinite") and nothing changes.
    #[wasm_bindgen(unchecked_return_type = "Ranked")]
    pub fn rank(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "RankRequest")] request: JsValue,
        #[wasm_bindgen(
            unchecked_optional_param_type = "((rows: Float32Array, dim: number) => Float32Array | { score: Float32Array, class?: Uint8Array }) | null"
        )]
        scorer: Option<JsValue>,
        #[wasm_bindgen(unchecked_optional_param_type = "number")] now: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let request: RankRequest = from_js(request, "rank request")?;
        let at = crate::convert::now(now)?;
        let mut js;
        let mut none = NoRanker;
        let ranker: &mut dyn Ranker = match given(scorer) {
            Some(f) => {
                let f: js_sys::Function = f
                    .dyn_into()
                    .map_err(|_| crate::convert::input_error("scorer must be a function".into()))?;
                js = JsRanker::new(f);
                &mut js
            }
            None => &mut none,
        };
        let reply = self
            .inner
            .apply_with(Command::Rank(request), at, ranker)
            .or_throw()?;
        expect!(reply, Ranked)
    }

    /// Totals and learner state.
    #[wasm_bindgen(unchecked_return_type = "Stats")]
    pub fn stats(&mut self) -> Result<JsValue, JsValue> {
        expect!(self.ask(Query::Stats, None)?, Stats)
    }

    /// One trade by id.
    #[wasm_bindgen(unchecked_return_type = "TradeRecord")]
    pub fn trade(&mut self, id: f64) -> Result<JsValue, JsValue> {
        let id = crate::convert::id(id, "trade id")?;
        expect!(self.ask(Query::Trade(id), None)?, Trade)
    }

    /// All open trades.
    #[wasm_bindgen(js_name = openTrades, unchecked_return_type = "TradeRecord[]")]
    pub fn open_trades(&mut self) -> Result<JsValue, JsValue> {
        expect!(self.ask(Query::OpenTrades, None)?, Trades)
    }

    /// The most recent closed trades (at most `limit`), newest last.
    #[wasm_bindgen(js_name = closedTrades, unchecked_return_type = "TradeRecord[]")]
    pub fn closed_trades(&mut self, limit: u32) -> Result<JsValue, JsValue> {
        expect!(self.ask(Query::ClosedTrades { limit }, None)?, Trades)
    }

    /// Every level-weight adjustment.
    #[wasm_bindgen(js_name = levelHistory, unchecked_return_type = "LevelAdjustment[]")]
    pub fn level_history(&mut self) -> Result<JsValue, JsValue> {
        expect!(self.ask(Query::LevelHistory, None)?, LevelHistory)
    }

    /// The configuration.
    #[wasm_bindgen(unchecked_return_type = "EngineConfig")]
    pub fn config(&mut self) -> Result<JsValue, JsValue> {
        to_js(self.inner.config())
    }

    /// Every retained model version.
    #[wasm_bindgen(unchecked_return_type = "VersionInfo[]")]
    pub fn versions(&mut self) -> Result<JsValue, JsValue> {
        expect!(self.ask(Query::Versions, None)?, Versions)
    }

    /// The newest entries of the version history (at most `limit`).
    #[wasm_bindgen(unchecked_return_type = "AuditEntry[]")]
    pub fn audit(&mut self, limit: u32) -> Result<JsValue, JsValue> {
        expect!(self.ask(Query::Audit { limit }, None)?, Audit)
    }

    /// Monitoring (7 / 14 / 30-day windows ending at the newest close, or at `now` before
    /// the first) over all versions, or one version's trades.
    #[wasm_bindgen(unchecked_return_type = "MonitorReport")]
    pub fn monitor(&mut self, version: Option<u32>, now: Option<f64>) -> Result<JsValue, JsValue> {
        expect!(self.ask(Query::Monitor { version }, now)?, Monitor)
    }

    /// The candidate on trial (its interim test, its A/B arms), `null` without one.
    #[wasm_bindgen(unchecked_return_type = "TrialStatus | null")]
    pub fn trial(&mut self) -> Result<JsValue, JsValue> {
        expect!(self.ask(Query::Trial, None)?, Trial)
    }

    /// The served mixture: each expert's weight and prequential score, and the regret
    /// bound against the running prior.
    #[wasm_bindgen(unchecked_return_type = "MixtureReport")]
    pub fn mixture(&mut self) -> Result<JsValue, JsValue> {
        expect!(self.ask(Query::Mixture, None)?, Mixture)
    }

    /// Accuracy, win rate and PnL of the trades closed in the `days` days up to the newest
    /// close.
    #[wasm_bindgen(unchecked_return_type = "AccuracyReport")]
    pub fn accuracy(&mut self, days: u32) -> Result<JsValue, JsValue> {
        expect!(self.ask(Query::Accuracy { days }, None)?, Accuracy)
    }

    /// The drift detectors.
    #[wasm_bindgen(unchecked_return_type = "DriftReport")]
    pub fn drift(&mut self) -> Result<JsValue, JsValue> {
        expect!(self.ask(Query::Drift, None)?, Drift)
    }

    /// The scheduled jobs due at `now` (default `Date.now()`).
    #[wasm_bindgen(unchecked_return_type = "Job[]")]
    pub fn due(&mut self, now: Option<f64>) -> Result<JsValue, JsValue> {
        expect!(self.ask(Query::Due, now)?, Due)
    }

    /// How the ranker's top K did against their universe.
    #[wasm_bindgen(unchecked_return_type = "RankReport")]
    pub fn ranking(&mut self) -> Result<JsValue, JsValue> {
        expect!(self.ask(Query::Ranking, None)?, Ranking)
    }
}
