//! Paper trading a universe: on every `every_steps`-th step at which every symbol has a bar,
//! rank the symbols with the ranker and enter the top K (long), through [`Command::Rank`]. Each trade's
//! stop-loss and take-profit come from the exit learner; a trade closes on a later bar of its
//! symbol when the bar's range reaches its stop (checked first) or its target, or after
//! `max_hold_bars` bars of its symbol. Gaps fill at the bar's open. The same bars give the
//! same engine state anywhere.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::command::{CloseTrade, Command, Opened, Query, Reply};
use crate::engine::Apply;
use crate::error::{Error, check};
use crate::journal::{ExitReason, Outcome, Side, validate_symbol};
use crate::market::{Candle, FEATURES, FeatureExtractor};
use crate::ranking::{Candidate, MAX_CANDIDATES, RankRequest};

/// Universe paper-trading configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TopKConfig {
    /// Symbols entered per ranking (default 1).
    pub k: u32,
    /// Rank every this many complete steps (every symbol has a bar; default 24).
    pub every_steps: u32,
    /// Close after this many bars of the symbol (default 24).
    pub max_hold_bars: u32,
    /// Quantity per trade (default 1).
    pub size: f64,
}

impl Default for TopKConfig {
    fn default() -> Self {
        Self {
            k: 1,
            every_steps: 24,
            max_hold_bars: 24,
            size: 1.0,
        }
    }
}

impl TopKConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            (1..=MAX_CANDIDATES as u32).contains(&self.k),
            "topk.k must be in 1..=1024",
        )?;
        check(
            (1..=100_000).contains(&self.every_steps),
            "topk.every_steps must be in 1..=100000",
        )?;
        check(
            (1..=100_000).contains(&self.max_hold_bars),
            "topk.max_hold_bars must be in 1..=100000",
        )?;
        check(
            self.size.is_finite() && self.size > 0.0,
            "topk.size must be > 0",
        )
    }
}

/// What a step did.
#[derive(Debug, Clone, PartialEq)]
pub enum TopKEvent {
    /// A ranking was made; `opened` are the trades it entered.
    Ranked {
        /// Model version that scored.
        model: String,
        /// Symbols ranked.
        candidates: u32,
        /// The top K, best first: `(symbol, score, class)`.
        picks: Vec<(String, f32, Option<Outcome>)>,
        /// Trades opened: `(symbol, open reply)`.
        opened: Vec<(String, Opened)>,
    },
    /// A trade was closed.
    Closed {
        /// Symbol.
        symbol: String,
        /// Trade id.
        trade_id: u64,
        /// Exit price.
        price: f64,
        /// Why.
        reason: ExitReason,
        /// PnL as a fraction of the entry price.
        pnl_pct: f64,
        /// Outcome class.
        outcome: Outcome,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Position {
    trade_id: u64,
    stop: f64,
    target: f64,
    bars: u32,
}

#[derive(Debug, Clone, PartialEq)]
struct Symbol {
    name: String,
    features: FeatureExtractor,
    /// Features as of this symbol's newest bar, if warm.
    latest: Option<[f32; FEATURES]>,
    position: Option<Position>,
}

/// The universe strategy's state: per symbol, its features and open trade.
#[derive(Debug, Clone, PartialEq)]
pub struct TopKTrader {
    config: TopKConfig,
    symbols: Vec<Symbol>,
    /// Complete steps seen.
    steps: u64,
    checked_engine: bool,
}

impl TopKTrader {
    /// A trader for `symbols` (distinct, at most 1024) with no history.
    pub fn new(config: TopKConfig, symbols: &[String]) -> Result<Self, Error> {
        config.validate()?;
        if symbols.is_empty() || symbols.len() > MAX_CANDIDATES {
            return Err(Error::InvalidConfig("a universe needs 1 to 1024 symbols"));
        }
        for (i, s) in symbols.iter().enumerate() {
            validate_symbol(s)?;
            if symbols[..i].contains(s) {
                return Err(Error::InvalidConfig(
                    "a symbol appears twice in the universe",
                ));
            }
        }
        Ok(Self {
            config,
            symbols: symbols
                .iter()
                .map(|s| Symbol {
                    name: s.clone(),
                    features: FeatureExtractor::new(),
                    latest: None,
                    position: None,
                })
                .collect(),
            steps: 0,
            checked_engine: false,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TopKConfig {
        &self.config
    }

    /// Open trade ids, by symbol.
    pub fn open_trades(&self) -> impl Iterator<Item = (&str, u64)> {
        self.symbols
            .iter()
            .filter_map(|s| Some((s.name.as_str(), s.position?.trade_id)))
    }

    /// One time step at `time`: the bars of the symbols that have one, as `(symbol index,
    /// candle)` with distinct indices. Closes trades whose exits the bars reach, updates the
    /// features, and ranks on every `every_steps`-th complete step (every symbol has a bar
    /// and warm features; the first one included). An
    /// invalid bar or index is an error that changes nothing; an engine error (no ranker, a
    /// host failure) stops the step where it happened, with what the engine applied before
    /// it kept.
    pub fn on_step<E: Apply + ?Sized>(
        &mut self,
        engine: &mut E,
        time: i64,
        bars: &[(usize, Candle)],
    ) -> Result<Vec<TopKEvent>, Error> {
        for (i, (s, c)) in bars.iter().enumerate() {
            if *s >= self.symbols.len() || bars[..i].iter().any(|b| b.0 == *s) {
                return Err(Error::InvalidConfig(
                    "a step's bars need distinct symbol indices of the universe",
                ));
            }
            c.validate().map_err(Error::InvalidCandle)?;
        }
        if !self.checked_engine {
            let Reply::Config(config) = engine.apply(Command::Query(Query::Config), time)? else {
                return Err(Error::InvalidConfig(
                    "engine answered Query::Config with another reply",
                ));
            };
            if config.features as usize != FEATURES {
                return Err(Error::FeatureLength {
                    expected: config.features,
                    got: FEATURES as u32,
                });
            }
            self.checked_engine = true;
        }
        let mut events = Vec::new();
        for (s, c) in bars {
            let sym = &mut self.symbols[*s];
            if let Some(p) = sym.position {
                if let Some((price, reason)) = exit(p, c, self.config.max_hold_bars) {
                    let close = CloseTrade {
                        trade_id: p.trade_id,
                        price,
                        reason,
                    };
                    let Reply::Closed(done) = engine.apply(Command::Close(close), c.time)? else {
                        return Err(Error::InvalidConfig(
                            "engine answered Close with another reply",
                        ));
                    };
                    sym.position = None;
                    events.push(TopKEvent::Closed {
                        symbol: sym.name.clone(),
                        trade_id: p.trade_id,
                        price,
                        reason,
                        pnl_pct: done.pnl_pct,
                        outcome: done.outcome,
                    });
                } else if let Some(p) = &mut sym.position {
                    p.bars += 1;
                }
            }
            sym.latest = sym.features.push(c);
        }
        // Rank only when the whole universe has a bar now and warm features, so every
        // ranking compares the same symbols; count those steps.
        let complete =
            bars.len() == self.symbols.len() && self.symbols.iter().all(|s| s.latest.is_some());
        if !complete {
            return Ok(events);
        }
        self.steps += 1;
        if !(self.steps - 1).is_multiple_of(u64::from(self.config.every_steps)) {
            return Ok(events);
        }
        let fresh: Vec<(usize, f64)> = bars.iter().map(|(s, c)| (*s, c.close)).collect();
        let candidates: Vec<Candidate> = fresh
            .iter()
            .map(|&(s, price)| Candidate {
                symbol: self.symbols[s].name.clone(),
                price,
                features: self.symbols[s]
                    .latest
                    .map(|x| x.to_vec())
                    .unwrap_or_default(),
            })
            .collect();
        let request = RankRequest {
            k: self.config.k.min(candidates.len() as u32),
            candidates,
            size: self.config.size,
            scored: None,
        };
        let Reply::Ranked(r) = engine.apply(Command::Rank(request), time)? else {
            return Err(Error::InvalidConfig(
                "engine answered Rank with another reply",
            ));
        };
        let name = |i: u32| self.symbols[fresh[i as usize].0].name.clone();
        let picks = r
            .picks
            .iter()
            .map(|&i| {
                (
                    name(i),
                    r.scores[i as usize].score,
                    r.scores[i as usize].class,
                )
            })
            .collect();
        let mut opened = Vec::new();
        for (i, o) in &r.opened {
            let sym = &mut self.symbols[fresh[*i as usize].0];
            sym.position = Some(Position {
                trade_id: o.trade_id,
                stop: o.exits.stop_price,
                target: o.exits.target_price,
                bars: 0,
            });
            opened.push((sym.name.clone(), *o));
        }
        events.push(TopKEvent::Ranked {
            model: r.model,
            candidates: fresh.len() as u32,
            picks,
            opened,
        });
        Ok(events)
    }
}

/// Where a long position exits on this bar, if it does.
fn exit(p: Position, c: &Candle, max_hold: u32) -> Option<(f64, ExitReason)> {
    super::stop_or_target(Side::Long, p.stop, p.target, c)
        .or_else(|| (p.bars + 1 >= max_hold).then_some((c.close, ExitReason::Timeout)))
}
