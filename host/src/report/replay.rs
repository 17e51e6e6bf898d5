//! Replaying the journal through a native [`Engine`] and sampling what it learned: the data
//! the report's charts and tables are drawn from.
//!
//! Memory: the journal's events are read once (so that the lock is not held during the
//! replay) and dropped one by one as they are applied; no snapshot is kept. Every sampled
//! series keeps at most [`MAX_POINTS`] points (thinned evenly as it grows, plus the newest
//! point), and the rolling windows hold only their last trades.

use std::collections::VecDeque;
use std::path::Path;

use tradeloop_core::command::Stats;
use tradeloop_core::event_log::{self, Genesis};
use tradeloop_core::lifecycle::ab::Arm;
use tradeloop_core::lifecycle::mixture::EXPERTS;
use tradeloop_core::lifecycle::monitor::MonitorReport;
use tradeloop_core::lifecycle::registry::{AuditEntry, AuditEvent};
use tradeloop_core::lifecycle::{DriftAlarm, DriftReport, MixtureReport, VersionInfo};
use tradeloop_core::{Command, Engine, EngineConfig, Outcome, Query, Reply};

use super::{MAX_POINTS, ReportError};
use crate::store::{EVENT_FORMAT, StateDir, StoreError};

/// The rolling windows over closed trades.
pub(super) const SHORT: usize = 50;
pub(super) const LONG: usize = 200;

/// What the state directory holds, read under its lock.
pub(super) struct Recorded {
    /// The engine before the journal's first event.
    genesis: Genesis,
    events: Vec<(u64, i64, Vec<u8>)>,
    /// The newest valid checkpoint, to check the replay against.
    checkpoint: Option<(u64, Vec<u8>)>,
}

/// The engine the first event applies to, when its history starts, and whether it was
/// imported (the genesis is a `Create`: the whole history is in the journal; a `Restore`:
/// the journal starts after the checkpoint).
fn genesis_engine(genesis: Genesis) -> Result<(Engine, i64, bool), ReportError> {
    let unusable = |e: tradeloop_core::Error| ReportError::Genesis(e.to_string());
    match genesis {
        Genesis::Create { config, seed, now } => Ok((
            Engine::new(*config, seed, now).map_err(unusable)?,
            now,
            false,
        )),
        Genesis::Restore(bytes) => {
            let engine = Engine::restore(&bytes).map_err(unusable)?;
            // The newest moment the checkpoint knows of: its newest model version.
            let at = engine
                .lifecycle()
                .versions()
                .iter()
                .map(|v| v.created_at)
                .max()
                .unwrap_or(0);
            Ok((engine, at, true))
        }
    }
}

impl Recorded {
    /// Reads the state in `dir`, waiting up to `wait` for its lock (released on return).
    pub(super) fn read(dir: &Path, wait: std::time::Duration) -> Result<Self, ReportError> {
        let store = StateDir::open_waiting(dir, false, wait)?;
        let genesis = store
            .genesis()?
            .ok_or_else(|| StoreError::NoState(dir.to_path_buf()))?;
        let genesis = event_log::decode_genesis(EVENT_FORMAT, &genesis)
            .map_err(|e| ReportError::Genesis(e.to_string()))?;
        let (checkpoint, _skipped) = store.newest_valid_checkpoint(|b| {
            Engine::restore(b).map(|_| ()).map_err(|e| e.to_string())
        })?;
        let events = store.events_after(0)?;
        Ok(Self {
            genesis,
            events,
            checkpoint,
        })
    }
}

/// A bounded series of points: while it grows it keeps every `stride`-th point pushed, and
/// doubles `stride` (dropping every other kept point) when full. The newest point is always
/// part of [`Samples::points`].
#[derive(Debug, Clone)]
pub(super) struct Samples {
    kept: Vec<(f64, f64)>,
    stride: u64,
    pushed: u64,
    last: Option<(f64, f64)>,
    cap: usize,
}

impl Default for Samples {
    fn default() -> Self {
        Self::new()
    }
}

impl Samples {
    pub(super) fn new() -> Self {
        Self::with_cap(MAX_POINTS)
    }

    fn with_cap(cap: usize) -> Self {
        Self {
            kept: Vec::new(),
            stride: 1,
            pushed: 0,
            last: None,
            cap: cap.max(2),
        }
    }

    pub(super) fn push(&mut self, x: f64, y: f64) {
        if !(x.is_finite() && y.is_finite()) {
            return;
        }
        if self.pushed.is_multiple_of(self.stride) {
            if self.kept.len() >= self.cap {
                let mut i = 0;
                self.kept.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
                self.stride *= 2;
            }
            if self.pushed.is_multiple_of(self.stride) {
                self.kept.push((x, y));
            }
        }
        self.pushed += 1;
        self.last = Some((x, y));
    }

    /// Breaks the line here: a point with a NaN value (kept like any other point).
    fn gap(&mut self, x: f64) {
        if self.last.is_some_and(|l| l.1.is_finite()) {
            self.last = None;
            if self.pushed.is_multiple_of(self.stride) && self.kept.len() < self.cap {
                self.kept.push((x, f64::NAN));
            }
            self.pushed += 1;
        }
    }

    /// The kept points and the newest one, in the order pushed.
    pub(super) fn points(&self) -> Vec<(f64, f64)> {
        let mut p = self.kept.clone();
        if let Some(l) = self.last
            && p.last().is_none_or(|k| k.0 != l.0 || k.1 != l.1)
        {
            p.push(l);
        }
        p
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pushed == 0
    }
}

/// The mean of the last `window` values (of all of them until there are `window`).
#[derive(Debug, Clone)]
struct Rolling {
    window: usize,
    values: VecDeque<f64>,
    sum: f64,
    pushed: u64,
}

impl Rolling {
    fn new(window: usize) -> Self {
        Self {
            window,
            values: VecDeque::with_capacity(window),
            sum: 0.0,
            pushed: 0,
        }
    }

    fn push(&mut self, x: f64) -> f64 {
        if self.values.len() == self.window
            && let Some(old) = self.values.pop_front()
        {
            self.sum -= old;
        }
        self.values.push_back(x);
        self.sum += x;
        self.pushed += 1;
        // Recompute once per window so that rounding errors do not accumulate.
        if self.pushed.is_multiple_of(self.window as u64) {
            self.sum = self.values.iter().sum();
        }
        self.sum / self.values.len() as f64
    }
}

/// What the drift detectors did at one event.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum DriftKind {
    /// Page-Hinkley alarm on the champion's error stream.
    PageHinkley,
    /// Population stability index above the threshold: the feature with the largest PSI.
    Psi { feature: u32, psi: f32 },
    /// The extreme-input guard paused learning.
    Paused,
    /// The guard resumed learning.
    Resumed,
}

#[derive(Debug, Clone)]
pub(super) struct DriftEvent {
    pub(super) at: i64,
    pub(super) seq: u64,
    pub(super) kind: DriftKind,
}

/// Per-arm tallies of one A/B experiment.
#[derive(Debug, Clone, Default)]
pub(super) struct ArmTally {
    pub(super) trades: u64,
    pub(super) wins: u64,
    pub(super) pnl_pct: f64,
}

#[derive(Debug, Clone)]
pub(super) struct Experiment {
    pub(super) champion: u32,
    pub(super) challenger: u32,
    pub(super) started_at: i64,
    pub(super) ended_at: Option<i64>,
    pub(super) arms: [ArmTally; 2],
}

/// The replayed history and the final state's reports.
pub(super) struct History {
    pub(super) config: EngineConfig,
    pub(super) created_at: i64,
    /// The genesis is an imported checkpoint: what the engine did before is in its totals
    /// but not in the journal, so the charts start at the import.
    pub(super) imported: bool,
    pub(super) events: u64,
    pub(super) last_time: i64,
    /// Per closed trade, by exit time.
    pub(super) equity: Samples,
    pub(super) drawdown: Samples,
    pub(super) win: [Samples; 2],
    pub(super) accuracy: [Samples; 2],
    pub(super) error: Samples,
    pub(super) epsilon: Samples,
    pub(super) reward: Samples,
    rolling: RollingSet,
    /// Per event.
    pub(super) page_hinkley: Samples,
    pub(super) psi: Samples,
    pub(super) drift: Vec<DriftEvent>,
    pub(super) drift_counts: [u64; 3],
    pub(super) pauses: Vec<(i64, Option<i64>)>,
    pub(super) experiments: Vec<Experiment>,
    pub(super) arm_pnl: [Samples; 2],
    arm_equity: [f64; 2],
    /// The mixture's mean weight of each expert after every label.
    pub(super) experts: [Samples; EXPERTS],
    /// After every label: the served forecast's summed log-loss minus the running prior's,
    /// and its proven bound, both per scored row.
    pub(super) excess: Samples,
    pub(super) bound: Samples,
    /// `(seq, identical)` when the replay was compared with a checkpoint.
    pub(super) checked: Option<(u64, bool)>,
}

/// The state after the last event.
pub(super) struct End {
    pub(super) stats: Stats,
    pub(super) versions: Vec<VersionInfo>,
    pub(super) audit: Vec<AuditEntry>,
    pub(super) levels: Vec<(i64, [f32; 6])>,
    pub(super) monitor: MonitorReport,
    pub(super) drift: DriftReport,
    pub(super) mixture: MixtureReport,
}

/// Everything the report shows.
pub(super) struct Report {
    pub(super) h: History,
    pub(super) end: End,
}

struct RollingSet {
    win: [Rolling; 2],
    accuracy: [Rolling; 2],
    reward: Rolling,
}

/// What is known about an event before it is applied.
struct Before {
    drift: DriftReport,
    /// For a close: the entry's predicted class and the A/B arm it counts for.
    close: Option<(Outcome, Option<Arm>)>,
}

impl History {
    /// Replays `recorded` from its genesis, checking the replay against its checkpoint.
    pub(super) fn replay(recorded: Recorded) -> Result<Report, ReportError> {
        let Recorded {
            genesis,
            events,
            checkpoint,
        } = recorded;
        let (mut engine, created_at, imported) = genesis_engine(genesis)?;
        let mut h = History::new(engine.config().clone(), created_at, imported);
        let mut checkpoint = checkpoint;
        if let Some((0, bytes)) = &checkpoint {
            h.checked = Some((0, same_state(&engine, bytes)));
            checkpoint = None;
        }
        for (seq, now, bytes) in events {
            let command =
                event_log::decode_event(EVENT_FORMAT, &bytes).map_err(|e| ReportError::Event {
                    seq,
                    message: format!("does not read: {e}"),
                })?;
            let before = h.before(&engine, &command);
            let reply = engine.apply(command, now).map_err(|e| ReportError::Event {
                seq,
                message: format!("no longer applies: {e}"),
            })?;
            h.after(&engine, before, &reply, seq, now);
            if let Some((at, bytes)) = &checkpoint
                && *at == seq
            {
                h.checked = Some((seq, same_state(&engine, bytes)));
                checkpoint = None;
            }
        }
        let end = h.end(&mut engine)?;
        Ok(Report { h, end })
    }

    fn new(config: EngineConfig, created_at: i64, imported: bool) -> Self {
        Self {
            created_at,
            imported,
            events: 0,
            last_time: created_at,
            equity: Samples::new(),
            drawdown: Samples::new(),
            win: [Samples::new(), Samples::new()],
            accuracy: [Samples::new(), Samples::new()],
            error: Samples::new(),
            epsilon: Samples::new(),
            reward: Samples::new(),
            rolling: RollingSet {
                win: [Rolling::new(SHORT), Rolling::new(LONG)],
                accuracy: [Rolling::new(SHORT), Rolling::new(LONG)],
                reward: Rolling::new(SHORT),
            },
            page_hinkley: Samples::new(),
            psi: Samples::new(),
            drift: Vec::new(),
            drift_counts: [0; 3],
            pauses: Vec::new(),
            experiments: Vec::new(),
            arm_pnl: [Samples::new(), Samples::new()],
            arm_equity: [0.0; 2],
            experts: Default::default(),
            excess: Samples::new(),
            bound: Samples::new(),
            checked: None,
            config,
        }
    }

    fn before(&self, engine: &Engine, command: &Command) -> Before {
        let lc = &engine.config().lifecycle;
        let close = match command {
            Command::Close(c) => engine.journal().get(c.trade_id).map(|t| {
                // The arm the engine credits: the one whose version made the prediction.
                let arms = engine.lifecycle().trial().and_then(|t| t.ab.as_ref());
                let arm = arms.and_then(|ab| {
                    if t.model_version == ab.challenger.version {
                        Some(Arm::Challenger)
                    } else if t.model_version == ab.champion.version {
                        Some(Arm::Champion)
                    } else {
                        None
                    }
                });
                (t.signal.class, arm)
            }),
            _ => None,
        };
        Before {
            drift: engine.lifecycle().drift_report(lc),
            close,
        }
    }

    fn after(&mut self, engine: &Engine, before: Before, reply: &Reply, seq: u64, now: i64) {
        self.events += 1;
        self.last_time = now;
        let t = now as f64;
        if let (Reply::Closed(c), Some((predicted, arm))) = (reply, before.close) {
            let s = engine.stats();
            self.equity.push(t, 100.0 * s.equity_pct);
            self.drawdown.push(t, 100.0 * (s.equity_pct - s.peak_pct));
            let win = f64::from(u8::from(c.outcome == Outcome::Win));
            let right = f64::from(u8::from(c.outcome == predicted));
            for i in 0..2 {
                let w = self.rolling.win[i].push(win);
                self.win[i].push(t, 100.0 * w);
                let a = self.rolling.accuracy[i].push(right);
                self.accuracy[i].push(t, 100.0 * a);
                if i == 0 {
                    self.error.push(t, 100.0 * (1.0 - a));
                }
            }
            let r = self.rolling.reward.push(f64::from(c.reward));
            self.reward.push(t, r);
            self.epsilon.push(t, f64::from(engine.exits().epsilon()));
            if let (Some(arm), Some(x)) = (arm, self.experiments.last_mut())
                && x.ended_at.is_none()
            {
                let i = arm_index(arm);
                x.arms[i].trades += 1;
                x.arms[i].wins += u64::from(c.outcome == Outcome::Win);
                x.arms[i].pnl_pct += c.pnl_pct;
                self.arm_equity[i] += 100.0 * c.pnl_pct;
                self.arm_pnl[i].push(t, self.arm_equity[i]);
            }
        }

        // The served mixture, after every label it scored.
        if matches!(reply, Reply::Closed(_) | Reply::Observed(_)) {
            let lc = &engine.config().lifecycle;
            let m = engine.lifecycle().mixture();
            for (series, w) in self.experts.iter_mut().zip(m.mean_weights(&lc.mixture)) {
                series.push(t, w);
            }
            let rows = m.scores().rows.max(1) as f64;
            let r = engine.lifecycle().mixture_report(lc);
            self.excess.push(t, r.excess_vs_prior / rows);
            self.bound.push(t, r.bound_vs_prior / rows);
        }

        // Drift detectors.
        let lc = &engine.config().lifecycle;
        let a = engine.lifecycle().drift_report(lc);
        let b = &before.drift;
        self.page_hinkley.push(t, a.page_hinkley);
        match a.psi {
            Some(p) => self.psi.push(t, f64::from(p.max)),
            None => self.psi.gap(t),
        }
        let mut push = |kind: DriftKind| self.drift.push(DriftEvent { at: now, seq, kind });
        // The alarms this event raised, as the engine's replies name them.
        let alarms: Vec<DriftAlarm> = match reply {
            Reply::Opened(o) => o.drift.into_iter().collect(),
            Reply::Closed(c) => c.drift.into_iter().collect(),
            Reply::Observed(o) => o.drift.into_iter().collect(),
            Reply::Ranked(r) => r.opened.iter().filter_map(|(_, o)| o.drift).collect(),
            _ => Vec::new(),
        };
        for alarm in alarms {
            if let Some(p) = alarm.psi {
                push(DriftKind::Psi {
                    feature: p.feature,
                    psi: p.max,
                });
                self.drift_counts[1] += 1;
            }
            if alarm.page_hinkley {
                push(DriftKind::PageHinkley);
                self.drift_counts[0] += 1;
            }
        }
        if a.paused && !b.paused {
            push(DriftKind::Paused);
            self.drift_counts[2] += 1;
            self.pauses.push((now, None));
        } else if b.paused && !a.paused {
            push(DriftKind::Resumed);
            if let Some(p) = self.pauses.last_mut() {
                p.1 = Some(now);
            }
        }
        if self.drift.len() > 4 * MAX_POINTS {
            // Keep the newest; the counts cover all of them.
            self.drift.drain(..2 * MAX_POINTS);
        }

        // A/B experiments: trials with A/B routing.
        let key = engine.lifecycle().trial().and_then(|t| {
            let ab = t.ab.as_ref()?;
            Some((ab.champion.version, ab.challenger.version, t.started_at))
        });
        let current = self
            .experiments
            .last()
            .filter(|x| x.ended_at.is_none())
            .map(|x| (x.champion, x.challenger, x.started_at));
        if key != current {
            if let Some(x) = self.experiments.last_mut()
                && x.ended_at.is_none()
            {
                x.ended_at = Some(now);
            }
            if let Some((champion, challenger, started_at)) = key {
                self.experiments.push(Experiment {
                    champion,
                    challenger,
                    started_at,
                    ended_at: None,
                    arms: Default::default(),
                });
            }
        }
    }

    /// The state after the last event.
    fn end(&self, engine: &mut Engine) -> Result<End, ReportError> {
        let as_of = self.last_time;
        let failed = |message: String| ReportError::Event {
            seq: self.events,
            message,
        };
        let Reply::Stats(stats) = engine
            .apply(Command::Query(Query::Stats), as_of)
            .map_err(|e| failed(format!("statistics: {e}")))?
        else {
            return Err(failed("unexpected reply to Query::Stats".into()));
        };
        let history = engine.levels().history();
        let start = history.first().map_or(engine.levels().weights(), |a| a.old);
        let mut levels = vec![(self.created_at, start)];
        levels.extend(history.iter().map(|a| (a.time, a.new)));
        let lc = &engine.config().lifecycle;
        Ok(End {
            stats: *stats,
            versions: engine.lifecycle().versions(),
            audit: engine
                .lifecycle()
                .registry()
                .audit()
                .iter()
                .cloned()
                .collect(),
            levels,
            monitor: engine
                .lifecycle()
                .monitor()
                .report(&lc.monitor, as_of, None),
            drift: engine.lifecycle().drift_report(lc),
            mixture: engine.lifecycle().mixture_report(lc),
        })
    }
}

fn arm_index(arm: Arm) -> usize {
    match arm {
        Arm::Champion => 0,
        Arm::Challenger => 1,
    }
}

/// Whether `engine` is the state in checkpoint `bytes` (compared as re-encoded
/// checkpoints, so an older checkpoint format compares by content).
fn same_state(engine: &Engine, bytes: &[u8]) -> bool {
    Engine::restore(bytes).is_ok_and(|e| e.snapshot() == engine.snapshot())
}

/// Version history read from the audit.
#[derive(Default)]
pub(super) struct VersionTimeline {
    /// `(time, id)` of each version created, by kind.
    pub(super) retrains: Samples,
    pub(super) fine_tunes: Samples,
    others: Samples,
    /// `(time, newest id)` whenever a version was created.
    pub(super) newest: Samples,
    /// `(time, champion id)` at each change.
    pub(super) champion: Samples,
    pub(super) promotions: Samples,
    pub(super) rollbacks: Samples,
    pub(super) counts: VersionCounts,
}

#[derive(Default)]
pub(super) struct VersionCounts {
    pub(super) promotions: u64,
    pub(super) rollbacks: u64,
    pub(super) rejected: u64,
    pub(super) held: u64,
}

impl VersionTimeline {
    /// The timeline of `audit`.
    pub(super) fn of(audit: &[AuditEntry]) -> Self {
        use tradeloop_core::lifecycle::registry::VersionKind;
        let mut v = Self::default();
        for e in audit {
            let t = e.at as f64;
            match e.event {
                AuditEvent::Created {
                    version,
                    kind,
                    parent,
                } => {
                    let y = f64::from(version);
                    match kind {
                        VersionKind::Retrain => v.retrains.push(t, y),
                        VersionKind::Incremental | VersionKind::Online => v.fine_tunes.push(t, y),
                        VersionKind::Initial | VersionKind::Imported => v.others.push(t, y),
                    }
                    v.newest.push(t, y);
                    if parent.is_none() && v.champion.is_empty() {
                        v.champion.push(t, y);
                    }
                }
                AuditEvent::Promoted { version, .. } => {
                    v.champion.push(t, f64::from(version));
                    v.promotions.push(t, f64::from(version));
                    v.counts.promotions += 1;
                }
                AuditEvent::RolledBack { to, .. } => {
                    v.champion.push(t, f64::from(to));
                    v.rollbacks.push(t, f64::from(to));
                    v.counts.rollbacks += 1;
                }
                AuditEvent::Rejected { .. } => v.counts.rejected += 1,
                AuditEvent::Held { .. } => v.counts.held += 1,
                AuditEvent::TrialStarted { .. }
                | AuditEvent::ChallengerEnded { .. }
                | AuditEvent::Retired { .. } => {}
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_thin_evenly_and_keep_the_newest_point() {
        let mut s = Samples::with_cap(8);
        for i in 0..8 {
            s.push(f64::from(i), 1.0);
        }
        assert_eq!(s.points().len(), 8);
        for i in 8..1000 {
            s.push(f64::from(i), 1.0);
        }
        let p = s.points();
        assert!(p.len() <= 9, "{p:?}");
        assert_eq!(p.last(), Some(&(999.0, 1.0)));
        // Evenly spaced: every kept point is a multiple of the stride.
        let xs: Vec<f64> = p[..p.len() - 1].iter().map(|q| q.0).collect();
        let stride = xs[1] - xs[0];
        assert!(stride >= 128.0, "{xs:?}");
        assert!(
            xs.iter().enumerate().all(|(i, &x)| x == i as f64 * stride),
            "{xs:?}"
        );
        // Non-finite values are not points; a gap is a NaN point, once.
        let mut g = Samples::new();
        g.push(0.0, f64::INFINITY);
        g.gap(0.5);
        assert!(g.is_empty());
        g.push(1.0, 2.0);
        g.gap(2.0);
        g.gap(3.0);
        g.push(4.0, 5.0);
        let p = g.points();
        assert_eq!(p.len(), 3);
        assert!(p[1].1.is_nan() && p[2] == (4.0, 5.0));
    }

    #[test]
    fn rolling_means_cover_the_last_window() {
        let mut r = Rolling::new(3);
        let means: Vec<f64> = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]
            .into_iter()
            .map(|x| r.push(x))
            .collect();
        assert_eq!(means, [1.0, 0.5, 1.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]);
    }
}
