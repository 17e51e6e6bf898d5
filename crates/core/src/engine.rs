//! The engine: one deterministic state machine behind `apply(command, now)`.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::checkpoint;
use crate::command::{
    AccuracyReport, CloseTrade, Closed, Command, ExitStats, ForecastRequest, Forecasted, Learned,
    LevelStats, Observation, Observed, OpenTrade, Opened, Query, Ranked, Reply, SignalStats, Stats,
    SuggestRequest, Suggestion,
};
use crate::config::EngineConfig;
use crate::error::{Error, all_finite, positive};
use crate::journal::{CloseRecord, ExitPlan, Journal, Outcome, Side, TradeRecord, validate_symbol};
use crate::learners::{ExitLearner, ExitMode, ExitSuggestion, LevelLearner};
use crate::lifecycle::ab::Arm;
use crate::lifecycle::mixture::Awaiting;
use crate::lifecycle::policy::LearnMode;
use crate::lifecycle::{Ctx, DriftAlarm, LearnReport, Lifecycle, TradeOutcome};
use crate::nn::Workspace;
use crate::ranking::{NoRanker, RankMonitor, RankRequest, RankedBy, Ranker};
use crate::replay::{Experience, OBSERVATION_BIT, ReplayBuffer};
use crate::rng::SplitMix64;
use crate::stats::TradeStats;

/// The whole learning state: journal, replay buffer, learners, statistics and the random
/// generator, under one configuration.
///
/// Determinism: the engine reads no clock and no global randomness; time arrives as `now`
/// (ms since the Unix epoch) with every command and randomness comes from the seed given to
/// [`Engine::new`]. The same seed and command stream give the same snapshot bytes on every
/// platform and kernel backend.
///
/// Atomicity: a command that returns `Err` has changed nothing.
///
/// Scratch memory for the networks' passes is kept beside the state, never in it (nor in
/// any checkpoint or comparison); reads (`Suggest`, queries) borrow it through a `RefCell`,
/// so an engine is `Send` but not `Sync`.
#[derive(Debug, Clone, PartialEq)]
pub struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) rng: SplitMix64,
    pub(crate) journal: Journal,
    pub(crate) replay: ReplayBuffer,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) levels: LevelLearner,
    pub(crate) exits: ExitLearner,
    pub(crate) stats: TradeStats,
    pub(crate) ranking: RankMonitor,
    /// Derived scratch, not state.
    pub(crate) scratch: RefCell<Workspace>,
}

impl Engine {
    /// A fresh engine created at `now` (ms since the Unix epoch; the schedule counts from
    /// it). Network weights are drawn from `seed`. The signal model starts as the uniform
    /// prior, version 1, until a training run produces something better.
    pub fn new(config: EngineConfig, seed: u64, now: i64) -> Result<Self, Error> {
        config.validate()?;
        let mut rng = SplitMix64::new(seed);
        let exits = ExitLearner::new(&config.exits, config.features, &mut rng)?;
        let lifecycle = Lifecycle::new(
            &config.lifecycle,
            &config.signal,
            config.features,
            &mut rng,
            now,
        )?;
        Ok(Self {
            journal: Journal::new(config.journal)?,
            replay: ReplayBuffer::new(config.replay, config.features as usize)?,
            lifecycle,
            levels: LevelLearner::new(),
            exits,
            stats: TradeStats::default(),
            ranking: RankMonitor::default(),
            rng,
            config,
            scratch: RefCell::new(Workspace::default()),
        })
    }

    /// Applies one command at time `now` (ms since the Unix epoch). A `Rank` without
    /// recorded scores fails with [`Error::NoRanker`]: use [`Engine::apply_with`].
    pub fn apply(&mut self, command: Command, now: i64) -> Result<Reply, Error> {
        self.apply_with(command, now, &mut NoRanker)
    }

    /// [`Engine::apply`] with a ranker for `Command::Rank`.
    pub fn apply_with(
        &mut self,
        command: Command,
        now: i64,
        ranker: &mut dyn Ranker,
    ) -> Result<Reply, Error> {
        match command {
            Command::Rank(r) => self.rank(r, now, ranker),
            Command::Open(o) => self.open(o, now),
            Command::Close(c) => self.close(c, now),
            Command::Suggest(s) => Ok(Reply::Suggestion(self.suggest(&s)?)),
            Command::Forecast(f) => self.forecast(f),
            Command::Observe(o) => self.observe(o, now),
            Command::Learn(req) => {
                let signal = self.learn_signal(req.mode, now);
                let exits = match self.exits.mode() {
                    ExitMode::Training => self.exits.train(
                        &self.config.exits,
                        &self.replay,
                        &mut self.rng,
                        self.scratch.get_mut(),
                    ),
                    ExitMode::Deployment => None,
                };
                Ok(Reply::Learned(Learned { signal, exits }))
            }
            Command::Promote(id) => {
                self.lifecycle.promote(&self.config.lifecycle, id, now)?;
                Ok(Reply::Champion(id))
            }
            Command::Rollback(to) => Ok(Reply::Champion(self.lifecycle.rollback(
                &self.config.lifecycle,
                to,
                now,
            )?)),
            Command::RunDue => {
                let (lifecycle, ctx) = self.lifecycle_ctx(now);
                Ok(Reply::Ran(lifecycle.run_due(ctx)))
            }
            Command::SetExitMode(mode) => {
                self.exits.set_mode(mode);
                Ok(Reply::ExitMode(mode))
            }
            Command::Query(q) => self.query(q, now),
        }
    }

    /// The engine's state as checkpoint bytes (see [`crate::checkpoint`]).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.snapshot_into(&mut out);
        out
    }

    /// Like [`Engine::snapshot`], into `out` (cleared first), so a host that checkpoints
    /// often can reuse one buffer instead of allocating megabytes each time.
    pub fn snapshot_into(&self, out: &mut Vec<u8>) {
        checkpoint::write(self, out);
    }

    /// An engine from checkpoint bytes. Corrupt, truncated, foreign and future-version input
    /// is an [`Error::Checkpoint`]; nothing panics on any input.
    pub fn restore(bytes: &[u8]) -> Result<Self, Error> {
        checkpoint::read(bytes).map_err(Error::Checkpoint)
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The trade journal.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The replay buffer.
    pub fn replay(&self) -> &ReplayBuffer {
        &self.replay
    }

    /// The signal model's versions, monitoring, drift detectors and schedule.
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// The level-weight learner.
    pub fn levels(&self) -> &LevelLearner {
        &self.levels
    }

    /// The exit learner.
    pub fn exits(&self) -> &ExitLearner {
        &self.exits
    }

    /// Totals over closed trades.
    pub fn stats(&self) -> &TradeStats {
        &self.stats
    }

    /// `Suggest`: the served forecast, the exit learner's plan (no exploration) and the
    /// level scores for a possible entry. Changes nothing.
    pub fn suggest(&self, s: &SuggestRequest) -> Result<Suggestion, Error> {
        positive("price", s.price)?;
        self.check_features(&s.features)?;
        if s.levels.len() > 64 {
            return Err(Error::InvalidLevel("at most 64 candidate levels"));
        }
        for l in &s.levels {
            l.validate()?;
        }
        let mut fresh = Workspace::default();
        let mut borrowed = self.scratch.try_borrow_mut();
        let ws = match &mut borrowed {
            Ok(ws) => &mut **ws,
            Err(_) => &mut fresh,
        };
        let lc = &self.config.lifecycle;
        let champion = self.lifecycle.registry().champion().id;
        let probs = self.lifecycle.expert_probs(lc, champion, &s.features, ws);
        let e = self.exits.predict(&self.config.exits, &s.features, ws);
        Ok(Suggestion {
            signal: self.lifecycle.mix(lc, &probs),
            model_version: champion,
            exits: plan(e, s.side, s.price),
            level_scores: s
                .levels
                .iter()
                .map(|l| self.levels.score(&l.features))
                .collect(),
        })
    }

    /// `Forecast`: serves the mixture for `f.features` and keeps the experts' forecasts
    /// until an `Observe` of the same features reveals the label.
    fn forecast(&mut self, f: ForecastRequest) -> Result<Reply, Error> {
        self.check_features(&f.features)?;
        let lc = &self.config.lifecycle;
        let champion = self.lifecycle.registry().champion().id;
        let probs = self
            .lifecycle
            .expert_probs(lc, champion, &f.features, self.scratch.get_mut());
        let signal = self.lifecycle.mix(lc, &probs);
        let id = self.lifecycle.mixture.issue_forecast_id();
        let key = features_key(&f.features);
        self.lifecycle
            .register(lc, Awaiting::Forecast { id, key }, probs);
        Ok(Reply::Forecast(Forecasted {
            id,
            signal,
            model_version: champion,
            experts: probs,
        }))
    }

    fn check_features(&self, f: &[f32]) -> Result<(), Error> {
        if f.len() != self.config.features as usize {
            return Err(Error::FeatureLength {
                expected: self.config.features,
                got: f.len() as u32,
            });
        }
        all_finite("features", f)
    }

    fn open(&mut self, o: OpenTrade, now: i64) -> Result<Reply, Error> {
        self.check_open(&o)?;
        self.journal.check_open()?;
        Ok(Reply::Opened(self.open_checked(o, now, None)))
    }

    /// Everything `open` checks but the journal's room.
    fn check_open(&self, o: &OpenTrade) -> Result<(), Error> {
        validate_symbol(&o.symbol)?;
        positive("price", o.price)?;
        positive("size", o.size)?;
        self.check_features(&o.features)?;
        if let Some(l) = &o.level {
            l.validate()?;
        }
        if let Some((stop, target)) = o.exits {
            positive("stop price", stop)?;
            positive("target price", target)?;
            let ok = match o.side {
                Side::Long => stop < o.price && o.price < target,
                Side::Short => target < o.price && o.price < stop,
            };
            if !ok {
                return Err(Error::InvalidExits(
                    "a long needs stop < price < target, a short target < price < stop",
                ));
            }
        }
        Ok(())
    }

    /// Opens a trade that passed `check_open` into a journal with room: nothing here fails.
    fn open_checked(&mut self, o: OpenTrade, now: i64, ranked: Option<RankedBy>) -> Opened {
        let trade_id = self.journal.next_id();
        let lc = &self.config.lifecycle;
        let (arm, model_version) = self.lifecycle.route(lc, trade_id);
        let probs =
            self.lifecycle
                .expert_probs(lc, model_version, &o.features, self.scratch.get_mut());
        let signal = self.lifecycle.mix(lc, &probs);
        self.lifecycle
            .register(lc, Awaiting::Trade(trade_id), probs);
        let pending = self.lifecycle.drift_pending();
        let psi = self
            .lifecycle
            .observe_input(&self.config.lifecycle, &o.features);
        let drift = DriftAlarm::raised(pending, psi, false);
        let exits = match o.exits {
            Some((stop, target)) => ExitPlan {
                stop_pct: ((o.price - stop).abs() / o.price) as f32,
                target_pct: ((target - o.price).abs() / o.price) as f32,
                stop_price: stop,
                target_price: target,
                explored: false,
                from_caller: true,
            },
            None => plan(
                self.exits.suggest_for_entry(
                    &self.config.exits,
                    &o.features,
                    &mut self.rng,
                    self.scratch.get_mut(),
                ),
                o.side,
                o.price,
            ),
        };
        let level = o.level.map(|l| (l, self.levels.score(&l.features)));
        self.journal.insert_open(TradeRecord {
            id: trade_id,
            symbol: o.symbol,
            side: o.side,
            size: o.size,
            entry_price: o.price,
            entry_time: now,
            features: o.features,
            signal,
            model_version,
            exits,
            level,
            close: None,
            ranked,
        });
        Opened {
            trade_id,
            signal,
            model_version,
            arm,
            exits,
            level_score: level.map(|l| l.1),
            drift,
        }
    }

    /// `Command::Rank`: scores the candidates (recorded scores, or the ranker's), opens a
    /// long trade for each of the top K without one, and updates the top-K monitor.
    fn rank(&mut self, r: RankRequest, now: i64, ranker: &mut dyn Ranker) -> Result<Reply, Error> {
        r.validate(self.config.features)?;
        let out = match &r.scored {
            Some(s) => s.clone(),
            None => {
                let out = ranker.rank(&r.rows(), self.config.features as usize)?;
                out.validate(r.candidates.len())?;
                out
            }
        };
        // Validated: nothing below fails.
        let order = crate::ranking::order(&out.scores);
        let picks: Vec<u32> = order[..r.k as usize].iter().map(|&i| i as u32).collect();
        let of = r.candidates.len() as u32;
        let mut opened = Vec::new();
        for (place, &i) in picks.iter().enumerate() {
            let c = &r.candidates[i as usize];
            if self.journal.free_slots() == 0 || self.journal.has_open(&c.symbol) {
                continue;
            }
            let s = out.scores[i as usize];
            let ranked = RankedBy {
                model: out.model.clone(),
                score: s.score,
                class: s.class,
                rank: place as u32 + 1,
                of,
            };
            let open = OpenTrade {
                symbol: c.symbol.clone(),
                side: Side::Long,
                price: c.price,
                size: r.size,
                features: c.features.clone(),
                level: None,
                exits: None,
            };
            opened.push((i, self.open_checked(open, now, Some(ranked))));
        }
        let picked = |i: usize| picks.contains(&(i as u32));
        self.ranking.record(
            now,
            &out.model,
            r.candidates
                .iter()
                .enumerate()
                .map(|(i, c)| (c.symbol.clone(), c.price, out.scores[i].score, picked(i))),
        );
        Ok(Reply::Ranked(Box::new(Ranked {
            model: out.model,
            scores: out.scores,
            picks,
            opened,
        })))
    }

    fn close(&mut self, c: CloseTrade, now: i64) -> Result<Reply, Error> {
        positive("price", c.price)?;
        let t = self.journal.check_close(c.trade_id, now)?;
        let sign = t.side.sign();
        let pnl_pct = sign * (c.price - t.entry_price) / t.entry_price;
        let pnl = sign * (c.price - t.entry_price) * t.size;
        if !pnl.is_finite() || !pnl_pct.is_finite() {
            return Err(Error::NonFinite { field: "pnl" });
        }
        let outcome = Outcome::classify(pnl_pct, self.config.flat_band);
        let stop_pct = f64::from(t.exits.stop_pct).max(1e-9);
        let reward = (pnl_pct / stop_pct).clamp(-10.0, 10.0) as f32;
        let exp = Experience {
            id: t.id,
            time: now,
            features: t.features.clone(),
            class: outcome.index(),
            exits: [
                self.config.exits.scale_stop(t.exits.stop_pct),
                self.config.exits.scale_target(t.exits.target_pct),
            ],
            reward,
        };
        self.replay.check(&exp)?;
        let predicted = t.signal.class;
        let version = t.model_version;
        let level = t.level;
        // Validated: nothing below fails.
        self.replay.push(&exp, &mut self.rng)?;
        let record = CloseRecord {
            price: c.price,
            time: now,
            reason: c.reason,
            pnl,
            pnl_pct,
            outcome,
        };
        self.journal.complete(c.trade_id, record);
        self.stats.record(pnl, pnl_pct, outcome, predicted);
        let pending = self.lifecycle.drift_pending();
        let served = self.lifecycle.mixture.take_trade(c.trade_id);
        let arm = match self.lifecycle.trial() {
            Some(t) if t.candidate == version && t.ab.is_some() => Arm::Challenger,
            _ => Arm::Champion,
        };
        let trade = TradeOutcome {
            pnl,
            pnl_pct,
            version,
            arm,
        };
        let (lifecycle, ctx) = self.lifecycle_ctx(now);
        let revealed = lifecycle.reveal(ctx, &exp.features, outcome, served, Some(trade));
        let drift = DriftAlarm::raised(pending, None, revealed.page_hinkley);
        let level_adjustment = level.and_then(|(l, _)| {
            self.levels
                .observe(&self.config.levels, l.features, reward, now)
        });
        let exit_training = self.exits.observe_close(
            &self.config.exits,
            &exp.features,
            &self.replay,
            &mut self.rng,
            self.scratch.get_mut(),
        );
        Ok(Reply::Closed(Closed {
            trade_id: c.trade_id,
            pnl,
            pnl_pct,
            outcome,
            reward,
            level_adjustment,
            exit_training,
            drift,
            trial: revealed.trial,
            learned: revealed.learned,
        }))
    }

    fn observe(&mut self, o: Observation, now: i64) -> Result<Reply, Error> {
        self.check_features(&o.features)?;
        crate::error::finite("return_pct", o.return_pct)?;
        let outcome = Outcome::classify(o.return_pct, self.config.flat_band);
        let id = OBSERVATION_BIT | self.replay.pushed();
        let exp = Experience {
            id,
            time: now,
            features: o.features,
            class: outcome.index(),
            exits: [0.0, 0.0],
            reward: 0.0,
        };
        self.replay.check(&exp)?;
        // Validated: nothing below fails.
        let pending = self.lifecycle.drift_pending();
        let psi = self
            .lifecycle
            .observe_input(&self.config.lifecycle, &exp.features);
        self.replay.push(&exp, &mut self.rng)?;
        let served = self
            .lifecycle
            .mixture
            .take_forecast(features_key(&exp.features));
        let forecast = served.as_ref().and_then(|p| match p.awaiting {
            Awaiting::Forecast { id, .. } => Some(id),
            Awaiting::Trade(_) => None,
        });
        let (lifecycle, ctx) = self.lifecycle_ctx(now);
        let revealed = lifecycle.reveal(ctx, &exp.features, outcome, served, None);
        let drift = DriftAlarm::raised(pending, psi, revealed.page_hinkley);
        Ok(Reply::Observed(Observed {
            id,
            forecast,
            signal: revealed.signal,
            model_version: self.lifecycle.registry().champion().id,
            outcome,
            drift,
            trial: revealed.trial,
            learned: revealed.learned,
        }))
    }

    /// The lifecycle and the rest of the engine a training run reads.
    fn lifecycle_ctx(&mut self, now: i64) -> (&mut Lifecycle, Ctx<'_>) {
        let ctx = Ctx {
            config: &self.config.lifecycle,
            signal: &self.config.signal,
            replay: &self.replay,
            rng: &mut self.rng,
            ws: self.scratch.get_mut(),
            now,
        };
        (&mut self.lifecycle, ctx)
    }

    fn learn_signal(&mut self, mode: LearnMode, now: i64) -> LearnReport {
        let (lifecycle, ctx) = self.lifecycle_ctx(now);
        lifecycle.learn(mode, ctx)
    }

    /// Answers a query; changes nothing.
    pub fn query(&self, q: Query, now: i64) -> Result<Reply, Error> {
        let lc = &self.config.lifecycle;
        Ok(match q {
            Query::Stats => Reply::Stats(Box::new(self.stats_report())),
            Query::Trade(id) => match self.journal.get(id) {
                Some(t) => Reply::Trade(Box::new(t.clone())),
                None if id >= 1 && id < self.journal.next_id() => {
                    return Err(Error::TradeNotKept(id));
                }
                None => return Err(Error::UnknownTrade(id)),
            },
            Query::OpenTrades => Reply::Trades(self.journal.open_trades().cloned().collect()),
            Query::ClosedTrades { limit } => {
                let n = self.journal.closed_trades().len();
                let skip = n.saturating_sub(limit as usize);
                Reply::Trades(self.journal.closed_trades().skip(skip).cloned().collect())
            }
            Query::LevelHistory => Reply::LevelHistory(self.levels.history().to_vec()),
            Query::Config => Reply::Config(Box::new(self.config.clone())),
            Query::Versions => Reply::Versions(self.lifecycle.versions()),
            Query::Audit { limit } => {
                let a = self.lifecycle.registry().audit();
                Reply::Audit(
                    a.iter()
                        .skip(a.len().saturating_sub(limit as usize))
                        .cloned()
                        .collect(),
                )
            }
            Query::Monitor { version } => {
                let m = self.lifecycle.monitor();
                let until = m.latest().unwrap_or(now);
                Reply::Monitor(Box::new(m.report(&lc.monitor, until, version)))
            }
            Query::Trial => Reply::Trial(self.lifecycle.trial_status(lc)),
            Query::Drift => Reply::Drift(self.lifecycle.drift_report(lc)),
            Query::Due => Reply::Due(self.lifecycle.due(lc, now)),
            Query::Ranking => Reply::Ranking(Box::new(self.ranking.report())),
            Query::Mixture => Reply::Mixture(Box::new(self.lifecycle.mixture_report(lc))),
            Query::Accuracy { days } => {
                let m = self.lifecycle.monitor();
                let until = m.latest();
                Reply::Accuracy(AccuracyReport {
                    days,
                    until,
                    window: m.window(days, until.unwrap_or(now)),
                })
            }
        })
    }

    fn stats_report(&self) -> Stats {
        let (suggestions, explorations) = self.exits.suggestion_counts();
        Stats {
            opened: self.journal.next_id() - 1,
            open: self.journal.open_count() as u32,
            trades: self.stats,
            win_rate: self.stats.win_rate(),
            accuracy: self.stats.accuracy(),
            sharpe: self.stats.sharpe(),
            replay: self.replay.len() as u32,
            signal: {
                let r = self.lifecycle.registry();
                let champion = r.champion();
                let drift = self.lifecycle.drift_report(&self.config.lifecycle);
                SignalStats {
                    champion: champion.id,
                    champion_kind: champion.kind,
                    network: champion.predictor.net().is_some(),
                    challenger: r.challenger().map(|v| v.id),
                    versions: r.versions().len() as u32,
                    created: r.created(),
                    labels: self.lifecycle.labels(),
                    new_samples: self.lifecycle.new_samples(),
                    last_update: self.lifecycle.last_update(),
                    retrain: self.lifecycle.retrain_status(),
                    drift: drift.drift,
                    paused: drift.paused,
                }
            },
            levels: LevelStats {
                weights: self.levels.weights(),
                seen: self.levels.seen(),
                adjustments: self.levels.history().len() as u32,
                next_adjustment_at: self.levels.next_adjustment_at(&self.config.levels),
            },
            exits: ExitStats {
                mode: self.exits.mode(),
                epsilon: self.exits.epsilon(),
                trainings: self.exits.trainings(),
                suggestions,
                explorations,
                best_validation_loss: self.exits.best_validation_loss(),
                last_training: self.exits.last_training(),
            },
        }
    }
}

/// Anything that applies engine commands: an [`Engine`], or a host that runs one elsewhere
/// (the wasm plugin) and journals what it applies. Drivers such as
/// [`crate::paper::PaperTrader`] work with either.
pub trait Apply {
    /// Applies one command at time `now` (ms since the Unix epoch); see [`Engine::apply`].
    fn apply(&mut self, command: Command, now: i64) -> Result<Reply, Error>;
}

impl Apply for Engine {
    fn apply(&mut self, command: Command, now: i64) -> Result<Reply, Error> {
        Engine::apply(self, command, now)
    }
}

/// The key a `Forecast` is found by when `Observe` reveals its label: XXH64 of the
/// features' little-endian bytes (bit-identical features, identical key).
fn features_key(features: &[f32]) -> u64 {
    let mut bytes = Vec::with_capacity(features.len() * 4);
    for x in features {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    checkpoint::xxh64(&bytes, 0)
}

/// Prices for exit distances on a trade entered at `price`.
fn plan(e: ExitSuggestion, side: Side, price: f64) -> ExitPlan {
    let (s, t) = (f64::from(e.stop_pct), f64::from(e.target_pct));
    let (stop_price, target_price) = match side {
        Side::Long => (price * (1.0 - s), price * (1.0 + t)),
        Side::Short => (price * (1.0 + s), price * (1.0 - t)),
    };
    ExitPlan {
        stop_pct: e.stop_pct,
        target_pct: e.target_pct,
        stop_price,
        target_price,
        explored: e.explored,
        from_caller: false,
    }
}
