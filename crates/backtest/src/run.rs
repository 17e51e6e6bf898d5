//! One strategy's run: its broker, its fork of the learning engine, and the ABI records a
//! host exchanges with its module. A host (wasmtime, or a browser Worker) drives it bar by
//! bar, in this order for bar `i`:
//!
//! 1. [`Run::open_bar`]: the orders placed before `i` execute at its prices; the fills go to
//!    the module's `tls_on_fill`, the fork learns of trades that opened or closed.
//! 2. If [`Run::wants_bar`]: [`Run::input`] is the record for `tls_on_bar`, whose actions
//!    go to [`Run::submit`]. While the module runs, [`Run::history`], [`Run::features`] and
//!    [`Run::suggest`] serve its imports; they see bars `0..=i` only.
//! 3. After the last bar, [`Run::finish`].

use alloc::string::String;
use alloc::vec::Vec;
use serde::Serialize;
use tradeloop_core::command::{CloseTrade, Command, OpenTrade, Reply, SuggestRequest};
use tradeloop_core::{Engine, ExitReason, Side as EngineSide};
use tradeloop_strategy::abi::{
    Bar, CANDLE_FEATURES, Config, Fill, Input, MAX_ACTIONS, MAX_HISTORY, Side, Suggestion,
};

use crate::broker::{Broker, Costs, Rejections, Trade, TradeEvent};
use crate::feed::Feed;
use crate::trades_hash;

/// Why a strategy stopped before the end of the data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "BacktestStopped"))]
pub struct Stopped {
    /// The bar it was on.
    pub bar: u32,
    /// What happened ("out of fuel", "memory cap", a trap's message, an ABI breach).
    pub reason: String,
}

/// What a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Round trips, in order of their exit.
    pub trades: Vec<Trade>,
    /// Equity at each bar's close (not serialized: a curve per strategy is what the charts
    /// are for).
    #[serde(skip)]
    pub equity: Vec<f64>,
    /// Whether a position was open at each bar's close (not serialized).
    #[serde(skip)]
    pub exposed: Vec<bool>,
    /// Fills.
    pub fills: u64,
    /// Rejected actions and refused fills.
    pub rejections: Rejections,
    /// Trades the engine fork refused to record.
    pub engine_refusals: u32,
    /// Set if the strategy was stopped.
    pub stopped: Option<Stopped>,
    /// [`trades_hash`] of `trades` (serialized as 16 hex digits, as every host prints it).
    #[serde(serialize_with = "hex")]
    pub trade_hash: u64,
}

fn hex<S: serde::Serializer>(h: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{h:016x}"))
}

/// A strategy's run.
#[derive(Debug)]
pub struct Run {
    config: Config,
    symbol: String,
    broker: Broker,
    engine: Option<Engine>,
    engine_trade: Option<u64>,
    engine_refusals: u32,
    warmup: u32,
    current: Option<usize>,
    equity: Vec<f64>,
    exposed: Vec<bool>,
    stopped: Option<Stopped>,
    events: Vec<TradeEvent>,
    input: Vec<u8>,
}

/// `suggest`'s error codes (`docs/STRATEGY_ABI.md`).
pub mod suggest_error {
    /// A pointer outside the module's memory (the host's to report).
    pub const BAD_POINTER: i32 = -1;
    /// Not the engine's feature length.
    pub const LENGTH: i32 = -2;
    /// A feature is NaN or infinite.
    pub const NOT_FINITE: i32 = -3;
    /// The engine refused, or there is no engine or no bar yet.
    pub const REFUSED: i32 = -4;
}

/// The starting engine when no checkpoint is given: the default configuration, `seed`, and
/// the feed's first bar as its clock. Every strategy's fork is restored from its snapshot.
pub fn fresh_engine(seed: u64, feed: &Feed) -> Result<Engine, tradeloop_core::Error> {
    let now = feed.bar(0).map_or(0, |b| b.time);
    Engine::new(tradeloop_core::EngineConfig::default(), seed, now)
}

impl Run {
    /// A run with `costs`, journalling its trades as `symbol` in `engine` (its own fork).
    pub fn new(
        costs: Costs,
        symbol: &str,
        engine: Option<Engine>,
    ) -> Result<Run, tradeloop_core::Error> {
        let costs = costs.checked().ok_or(tradeloop_core::Error::InvalidConfig(
            "cash must be > 0, fee and slippage in [0, 0.5]",
        ))?;
        tradeloop_core::journal::validate_symbol(symbol)?;
        let mut sym = [0u8; 16];
        for (d, s) in sym.iter_mut().zip(symbol.bytes()) {
            *d = s;
        }
        let features = match &engine {
            Some(e) => match e.query(tradeloop_core::Query::Config, 0) {
                Ok(Reply::Config(c)) => c.features,
                _ => 0,
            },
            None => 0,
        };
        Ok(Run {
            config: Config {
                max_actions: MAX_ACTIONS as u32,
                cash: costs.cash,
                fee_rate: costs.fee_rate,
                slippage: costs.slippage,
                features,
                symbol: sym,
            },
            symbol: symbol.into(),
            broker: Broker::new(costs),
            engine,
            engine_trade: None,
            engine_refusals: 0,
            warmup: 0,
            current: None,
            equity: Vec::new(),
            exposed: Vec::new(),
            stopped: None,
            events: Vec::new(),
            input: Vec::new(),
        })
    }

    /// The record for `tls_init`.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What `tls_init` returned: warm-up bars, or a refusal.
    pub fn started(&mut self, returned: i64) {
        match u32::try_from(returned) {
            Ok(n) => self.warmup = n,
            Err(_) => self.stop(0, alloc::format!("init refused to start ({returned})")),
        }
    }

    /// The account: cash, position, orders, trades so far.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// The engine fork.
    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    /// Executes the orders placed before bar `i` and marks the equity at its close; returns
    /// the fills for `tls_on_fill`.
    pub fn open_bar(&mut self, feed: &Feed, i: usize) -> Vec<Fill> {
        let Some(bar) = feed.bar(i).copied() else {
            return Vec::new();
        };
        self.current = Some(i);
        let fills = self.broker.execute(i as u32, &bar, &mut self.events);
        for e in core::mem::take(&mut self.events) {
            self.teach(feed, &bar, e);
        }
        self.equity.push(self.broker.equity(bar.close));
        self.exposed.push(self.broker.position() != 0.0);
        if self.stopped.is_some() {
            Vec::new()
        } else {
            fills
        }
    }

    /// The fork learns of a trade the strategy opened or closed.
    fn teach(&mut self, feed: &Feed, bar: &Bar, e: TradeEvent) {
        let Some(engine) = &mut self.engine else {
            return;
        };
        match e {
            TradeEvent::Opened {
                long,
                price,
                size,
                placed,
            } => {
                let Some(f) = feed.features(placed as usize) else {
                    return;
                };
                if self.config.features as usize != CANDLE_FEATURES {
                    return;
                }
                let open = OpenTrade {
                    symbol: self.symbol.clone(),
                    side: if long {
                        EngineSide::Long
                    } else {
                        EngineSide::Short
                    },
                    price,
                    size,
                    features: f.to_vec(),
                    level: None,
                    exits: None,
                };
                match engine.apply(Command::Open(open), bar.time) {
                    Ok(Reply::Opened(o)) => self.engine_trade = Some(o.trade_id),
                    _ => self.engine_refusals += 1,
                }
            }
            TradeEvent::Closed { price } => {
                if let Some(id) = self.engine_trade.take() {
                    let close = CloseTrade {
                        trade_id: id,
                        price,
                        reason: ExitReason::Manual,
                    };
                    if engine.apply(Command::Close(close), bar.time).is_err() {
                        self.engine_refusals += 1;
                    }
                }
            }
        }
    }

    /// Whether the module gets `tls_on_bar` for bar `i`: it is running and warmed up.
    pub fn wants_bar(&self, i: usize) -> bool {
        self.stopped.is_none() && i >= self.warmup as usize
    }

    /// Whether the strategy was stopped.
    pub fn stopped(&self) -> Option<&Stopped> {
        self.stopped.as_ref()
    }

    /// The `Input` record of bar `i` (after [`Run::open_bar`]).
    pub fn input(&mut self, feed: &Feed, i: usize) -> &[u8] {
        let bar = feed.bar(i).copied().unwrap_or_default();
        Input {
            index: i as u32,
            bar,
            position: self.broker.position(),
            entry_price: self.broker.entry_price(),
            cash: self.broker.cash(),
            equity: self.broker.equity(bar.close),
            orders: self.broker.open_orders(),
        }
        .write(&mut self.input);
        &self.input
    }

    /// What `tls_on_bar` returned at bar `i`: a negative value stops the strategy,
    /// otherwise `actions` holds the action records (see [`Broker::submit`]).
    pub fn submit(&mut self, i: usize, returned: i32, actions: &[u8]) {
        match usize::try_from(returned) {
            Ok(n) => self.broker.submit(i as u32, n, actions),
            Err(_) => self.stop(i, alloc::format!("on_bar returned {returned}")),
        }
    }

    /// Stops the strategy at bar `i`: no more calls; its orders are cancelled and its
    /// position is closed at the next open.
    pub fn stop(&mut self, i: usize, reason: String) {
        if self.stopped.is_none() {
            self.stopped = Some(Stopped {
                bar: i as u32,
                reason,
            });
            self.broker.liquidate(i as u32);
        }
    }

    /// `history`: bars `from .. from + count` clipped to the bars that have closed and to
    /// [`MAX_HISTORY`], written to `out` (cleared); returns how many.
    pub fn history(&self, feed: &Feed, from: u32, count: u32, out: &mut Vec<u8>) -> usize {
        out.clear();
        let Some(cur) = self.current else { return 0 };
        let from = from as usize;
        let count = count.min(MAX_HISTORY) as usize;
        let end = from.saturating_add(count).min(cur + 1);
        if from >= end {
            return 0;
        }
        out.resize((end - from) * Bar::SIZE, 0);
        for (k, b) in feed.bars()[from..end].iter().enumerate() {
            b.write(&mut out[k * Bar::SIZE..]);
        }
        end - from
    }

    /// `features`: the current bar's candle features, once defined.
    pub fn features<'a>(&self, feed: &'a Feed) -> Option<&'a [f32; CANDLE_FEATURES]> {
        feed.features(self.current?)
    }

    /// `suggest`: the fork's view of entering `side` (its code) at the current close.
    pub fn suggest(&self, feed: &Feed, side: i32, features: &[f32]) -> Result<Suggestion, i32> {
        let (Some(engine), Some(cur)) = (&self.engine, self.current) else {
            return Err(suggest_error::REFUSED);
        };
        if features.len() != self.config.features as usize {
            return Err(suggest_error::LENGTH);
        }
        if features.iter().any(|x| !x.is_finite()) {
            return Err(suggest_error::NOT_FINITE);
        }
        let side = match u8::try_from(side).ok().and_then(Side::from_code) {
            Some(Side::Buy) => EngineSide::Long,
            Some(Side::Sell) => EngineSide::Short,
            None => return Err(suggest_error::REFUSED),
        };
        let price = feed.bar(cur).map_or(1.0, |b| b.close);
        let ask = SuggestRequest {
            side,
            price,
            features: features.to_vec(),
            levels: Vec::new(),
        };
        let s = engine.suggest(&ask).map_err(|_| suggest_error::REFUSED)?;
        let p = s.signal.probs;
        Ok(Suggestion {
            probs: [f64::from(p[0]), f64::from(p[1]), f64::from(p[2])],
            stop_pct: f64::from(s.exits.stop_pct),
            target_pct: f64::from(s.exits.target_pct),
            model_version: s.model_version,
        })
    }

    /// Ends the run after the last bar.
    pub fn finish(mut self, feed: &Feed) -> Outcome {
        let last = feed.len().saturating_sub(1);
        if let Some(b) = feed.bar(last) {
            self.broker.finish(last as u32, b.time, b.close);
        }
        let trades = self.broker.trades().to_vec();
        Outcome {
            trade_hash: trades_hash(&trades),
            trades,
            equity: self.equity,
            exposed: self.exposed,
            fills: self.broker.fills(),
            rejections: self.broker.rejections(),
            engine_refusals: self.engine_refusals,
            stopped: self.stopped,
        }
    }
}
