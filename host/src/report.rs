//! `tradeloop report`: a Markdown report with SVG charts of what an engine learned.
//!
//! Nothing here is stored for the report: the state directory holds the genesis request and
//! every state-changing event, and the engine is deterministic, so the history is rebuilt by
//! replaying them through a native [`Engine`] (the code the plugin runs, giving the same
//! states bit for bit) and sampling what the charts need along the way. The journal is read
//! under the state's lock, which is released before the replay starts; the replay is checked
//! against the newest checkpoint when there is one.
//!
//! Memory: the journal's events are read once (so that the lock is not held during the
//! replay) and dropped one by one as they are applied; no snapshot is kept. Every plotted
//! series keeps at most [`MAX_POINTS`] points (thinned evenly as it grows, plus the newest
//! point), and the rolling windows hold only their last trades.
//!
//! Output: `report.md` and the SVG files named in [`CHARTS`], drawn with `plotters` (text
//! as SVG `<text>`, so no font files are involved). The default output directory is next to
//! the state directory, not in it: a state directory holds only tradeloop's own files.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Serialize;
use tradeloop_core::command::Stats;
use tradeloop_core::event_log::{self, Genesis};
use tradeloop_core::learners::LEVEL_FEATURE_NAMES;
use tradeloop_core::lifecycle::ab::Arm;
use tradeloop_core::lifecycle::mixture::{EXPERTS, Expert};
use tradeloop_core::lifecycle::monitor::MonitorReport;
use tradeloop_core::lifecycle::registry::{AuditEntry, AuditEvent, PromotionReason};
use tradeloop_core::lifecycle::{DriftAlarm, DriftReport, MixtureReport, VersionInfo};
use tradeloop_core::market::{date_of, iso_date, iso_datetime};
use tradeloop_core::{Command, Engine, EngineConfig, Outcome, Query, Reply};

use crate::store::{EVENT_FORMAT, StateDir, StoreError};

/// The chart files a report consists of, besides `report.md`, in report order.
pub const CHARTS: [&str; 8] = [
    "equity.svg",
    "accuracy.svg",
    "levels.svg",
    "exits.svg",
    "versions.svg",
    "experts.svg",
    "drift.svg",
    "ab.svg",
];

/// Points kept per plotted series (besides the newest).
pub const MAX_POINTS: usize = 4096;

/// The rolling windows over closed trades.
const SHORT: usize = 50;
const LONG: usize = 200;
/// Rows of the audit and drift tables.
const TAIL: usize = 20;

/// Where `report` writes when no output directory is given: `<state>-report` next to the
/// state directory (the state directory itself must hold only tradeloop's files).
pub fn default_out(state: &Path) -> PathBuf {
    if let Some(name) = state.file_name() {
        return state.with_file_name(format!("{}-report", name.to_string_lossy()));
    }
    // `.`, `..` or `/`: name the directory by its absolute path.
    match resolve(state) {
        Some(abs) if abs.file_name().is_some() => default_out(&abs),
        _ => PathBuf::from("tradeloop-report"),
    }
}

/// What [`write_report`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    /// The output directory.
    pub dir: PathBuf,
    /// The Markdown report.
    pub markdown: PathBuf,
    /// The charts, in the order of [`CHARTS`].
    pub charts: Vec<PathBuf>,
}

/// Why a report could not be written.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReportError {
    /// The state directory could not be opened or read.
    Store(StoreError),
    /// The genesis request does not decode, is not a `Create` or `Restore`, or its engine
    /// cannot be built.
    Genesis(String),
    /// An event does not decode or no longer applies.
    Event {
        /// Its sequence number.
        seq: u64,
        /// What went wrong.
        message: String,
    },
    /// The output directory is the state directory or inside it.
    OutInsideState {
        /// The output directory asked for.
        out: PathBuf,
        /// The state directory.
        state: PathBuf,
    },
    /// `plotters` failed to draw a chart.
    Chart {
        /// The chart file.
        file: &'static str,
        /// Its error.
        message: String,
    },
    /// Writing the output failed.
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Store(e) => write!(f, "{e}"),
            ReportError::Genesis(why) => write!(f, "the state's genesis is unusable: {why}"),
            ReportError::Event { seq, message } => {
                write!(f, "journal event {seq}: {message}")
            }
            ReportError::OutInsideState { out, state } => write!(
                f,
                "refusing to write the report to {}: it is inside the state directory {}, \
                 which may hold only tradeloop's own files (choose another --out)",
                out.display(),
                state.display()
            ),
            ReportError::Chart { file, message } => write!(f, "drawing {file}: {message}"),
            ReportError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for ReportError {
    // The messages above already include the wrapped error's, so the chain continues below
    // it (and `{:#}` does not print it twice).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReportError::Store(e) => e.source(),
            ReportError::Io { source, .. } => source.source(),
            _ => None,
        }
    }
}

impl From<StoreError> for ReportError {
    fn from(e: StoreError) -> Self {
        ReportError::Store(e)
    }
}

/// Writes the report of the state in `state` to `out` (default [`default_out`]):
/// `report.md` and the [`CHARTS`]. `generated_at` (ms since the Unix epoch, the host's
/// clock) is printed in the report. The state is only read; its lock (waited for up to
/// `wait`) is held while the journal is read and released before the replay.
pub fn write_report(
    state: &Path,
    out: Option<&Path>,
    generated_at: i64,
    wait: std::time::Duration,
) -> Result<Written, ReportError> {
    let recorded = Recorded::read(state, wait)?;
    let out = out.map_or_else(|| default_out(state), Path::to_path_buf);
    if inside(&out, state) {
        return Err(ReportError::OutInsideState {
            out,
            state: state.to_path_buf(),
        });
    }
    let report = History::replay(recorded)?;
    let charts = report.charts();
    let mut rendered = Vec::with_capacity(charts.len());
    for (file, chart) in CHARTS.iter().zip(&charts) {
        let svg = render(chart).map_err(|message| ReportError::Chart { file, message })?;
        rendered.push((*file, svg));
    }
    let markdown = report.markdown(state, generated_at, &charts);

    std::fs::create_dir_all(&out).map_err(|source| ReportError::Io {
        path: out.clone(),
        source,
    })?;
    let write = |name: &str, text: &str| {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|source| ReportError::Io {
            path: path.clone(),
            source,
        })?;
        Ok::<_, ReportError>(path)
    };
    let mut paths = Vec::with_capacity(rendered.len());
    for (file, svg) in &rendered {
        paths.push(write(file, svg)?);
    }
    let md = write("report.md", &markdown)?;
    Ok(Written {
        dir: out,
        markdown: md,
        charts: paths,
    })
}

/// Whether `out` is `state` or inside it.
fn inside(out: &Path, state: &Path) -> bool {
    match (resolve(out), state.canonicalize()) {
        (Some(out), Ok(state)) => out.starts_with(state),
        _ => false,
    }
}

/// `path` made absolute, component by component: each prefix that exists is canonicalised
/// (resolving symbolic links), and `..` after one that does not is applied lexically (as
/// `create_dir_all` will).
fn resolve(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in std::path::absolute(path).ok()?.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => {
                out.push(other);
                if let Ok(real) = out.canonicalize() {
                    out = real;
                }
            }
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------
// Reading the state

/// What the state directory holds, read under its lock.
struct Recorded {
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
    fn read(dir: &Path, wait: std::time::Duration) -> Result<Self, ReportError> {
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

// ---------------------------------------------------------------------------------------
// Sampling the replay

/// A bounded series of points: while it grows it keeps every `stride`-th point pushed, and
/// doubles `stride` (dropping every other kept point) when full. The newest point is always
/// part of [`Series::points`].
#[derive(Debug, Clone)]
struct Series {
    kept: Vec<(f64, f64)>,
    stride: u64,
    pushed: u64,
    last: Option<(f64, f64)>,
    cap: usize,
}

impl Series {
    fn new() -> Self {
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

    fn push(&mut self, x: f64, y: f64) {
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

    fn points(&self) -> Vec<(f64, f64)> {
        let mut p = self.kept.clone();
        if let Some(l) = self.last
            && p.last().is_none_or(|k| k.0 != l.0 || k.1 != l.1)
        {
            p.push(l);
        }
        p
    }

    fn is_empty(&self) -> bool {
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
enum DriftKind {
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
struct DriftEvent {
    at: i64,
    seq: u64,
    kind: DriftKind,
}

/// Per-arm tallies of one A/B experiment.
#[derive(Debug, Clone, Default)]
struct ArmTally {
    trades: u64,
    wins: u64,
    pnl_pct: f64,
}

#[derive(Debug, Clone)]
struct Experiment {
    champion: u32,
    challenger: u32,
    started_at: i64,
    ended_at: Option<i64>,
    arms: [ArmTally; 2],
}

/// The replayed history and the final state's reports.
struct History {
    config: EngineConfig,
    created_at: i64,
    /// The genesis is an imported checkpoint: what the engine did before is in its totals
    /// but not in the journal, so the charts start at the import.
    imported: bool,
    events: u64,
    last_time: i64,
    /// Per closed trade, by exit time.
    equity: Series,
    drawdown: Series,
    win: [Series; 2],
    accuracy: [Series; 2],
    error: Series,
    epsilon: Series,
    reward: Series,
    rolling: RollingSet,
    /// Per event.
    page_hinkley: Series,
    psi: Series,
    drift: Vec<DriftEvent>,
    drift_counts: [u64; 3],
    pauses: Vec<(i64, Option<i64>)>,
    experiments: Vec<Experiment>,
    arm_pnl: [Series; 2],
    arm_equity: [f64; 2],
    /// The mixture's mean weight of each expert after every label.
    experts: [Series; EXPERTS],
    /// After every label: the served forecast's summed log-loss minus the running prior's,
    /// and its proven bound, both per scored row.
    excess: Series,
    bound: Series,
    /// `(seq, identical)` when the replay was compared with a checkpoint.
    checked: Option<(u64, bool)>,
}

/// The state after the last event.
struct End {
    stats: Stats,
    versions: Vec<VersionInfo>,
    audit: Vec<AuditEntry>,
    levels: Vec<(i64, [f32; 6])>,
    monitor: MonitorReport,
    drift: DriftReport,
    mixture: MixtureReport,
}

/// Everything the report shows.
struct Report {
    h: History,
    end: End,
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
    fn replay(recorded: Recorded) -> Result<Report, ReportError> {
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
            equity: Series::new(),
            drawdown: Series::new(),
            win: [Series::new(), Series::new()],
            accuracy: [Series::new(), Series::new()],
            error: Series::new(),
            epsilon: Series::new(),
            reward: Series::new(),
            rolling: RollingSet {
                win: [Rolling::new(SHORT), Rolling::new(LONG)],
                accuracy: [Rolling::new(SHORT), Rolling::new(LONG)],
                reward: Rolling::new(SHORT),
            },
            page_hinkley: Series::new(),
            psi: Series::new(),
            drift: Vec::new(),
            drift_counts: [0; 3],
            pauses: Vec::new(),
            experiments: Vec::new(),
            arm_pnl: [Series::new(), Series::new()],
            arm_equity: [0.0; 2],
            experts: Default::default(),
            excess: Series::new(),
            bound: Series::new(),
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

// ---------------------------------------------------------------------------------------
// Charts

/// Size of the SVGs: width, and height per panel.
const WIDTH: u32 = 1000;
const PANEL_HEIGHT: u32 = 400;
const DAY_MS: f64 = 86_400_000.0;

mod color {
    use plotters::style::RGBColor;
    pub(super) const BLUE: RGBColor = RGBColor(31, 119, 180);
    pub(super) const ORANGE: RGBColor = RGBColor(255, 127, 14);
    pub(super) const GREEN: RGBColor = RGBColor(44, 160, 44);
    pub(super) const RED: RGBColor = RGBColor(214, 39, 40);
    pub(super) const PURPLE: RGBColor = RGBColor(148, 103, 189);
    pub(super) const BROWN: RGBColor = RGBColor(140, 86, 75);
    pub(super) const GRAY: RGBColor = RGBColor(110, 110, 110);
    pub(super) const LIGHT_BLUE: RGBColor = RGBColor(140, 190, 230);
    pub(super) const LIGHT_ORANGE: RGBColor = RGBColor(255, 190, 130);
    /// One colour per level feature.
    pub(super) const SIX: [RGBColor; 6] = [BLUE, ORANGE, GREEN, RED, PURPLE, BROWN];
    /// One colour per expert of the mixture.
    pub(super) const EIGHT: [RGBColor; 8] = [
        GRAY,
        LIGHT_BLUE,
        GREEN,
        LIGHT_ORANGE,
        ORANGE,
        PURPLE,
        BLUE,
        BROWN,
    ];
}

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Solid,
    /// Thin and dashed (thresholds).
    Dashed,
    /// Filled down to zero.
    Area,
}

#[derive(Debug, Clone)]
struct Line {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
    secondary: bool,
    style: Style,
}

impl Line {
    fn new(label: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            color,
            points,
            secondary: false,
            style: Style::Solid,
        }
    }

    fn secondary(mut self) -> Self {
        self.secondary = true;
        self
    }

    fn style(mut self, style: Style) -> Self {
        self.style = style;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Circle,
    Triangle,
    Cross,
}

/// Point markers on the primary axis.
#[derive(Debug, Clone)]
struct Marks {
    label: String,
    color: RGBColor,
    shape: Shape,
    points: Vec<(f64, f64)>,
}

/// Vertical lines at the given times.
#[derive(Debug, Clone)]
struct Rules {
    label: String,
    color: RGBColor,
    /// Opacity (many rules need a light touch).
    alpha: f64,
    xs: Vec<f64>,
}

/// One plot area of a chart.
#[derive(Debug, Clone, Default)]
struct Panel {
    y_desc: String,
    y2_desc: Option<String>,
    lines: Vec<Line>,
    marks: Vec<Marks>,
    rules: Vec<Rules>,
    /// Shaded time intervals and their legend label.
    spans: Vec<(f64, f64)>,
    span_label: String,
    /// Values the primary axis must include (e.g. 0).
    y_include: Vec<f64>,
    /// What to say when there is nothing to plot.
    empty_note: String,
}

impl Panel {
    fn new(y_desc: impl Into<String>, empty_note: impl Into<String>) -> Self {
        Self {
            y_desc: y_desc.into(),
            empty_note: empty_note.into(),
            ..Self::default()
        }
    }

    fn is_empty(&self) -> bool {
        self.lines
            .iter()
            .filter(|l| l.style != Style::Dashed)
            .all(|l| l.points.is_empty())
            && self.marks.iter().all(|m| m.points.is_empty())
    }

    fn y_range(&self, secondary: bool) -> (f64, f64) {
        if self.is_empty() {
            return (0.0, 1.0);
        }
        let mut values: Vec<f64> = self
            .lines
            .iter()
            .filter(|l| l.secondary == secondary)
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .collect();
        if !secondary {
            values.extend(self.marks.iter().flat_map(|m| m.points.iter().map(|p| p.1)));
            values.extend(&self.y_include);
        }
        padded(values.into_iter())
    }
}

/// A titled chart of one or more panels sharing a time axis.
#[derive(Debug, Clone)]
struct Chart {
    title: String,
    x_desc: String,
    panels: Vec<Panel>,
    /// The x range when the panels have no data.
    default_x: (f64, f64),
}

impl Chart {
    fn x_range(&self) -> (f64, f64) {
        let mut xs = Vec::new();
        for p in &self.panels {
            xs.extend(p.lines.iter().flat_map(|l| l.points.iter().map(|q| q.0)));
            xs.extend(p.marks.iter().flat_map(|m| m.points.iter().map(|q| q.0)));
            xs.extend(p.rules.iter().flat_map(|r| r.xs.iter().copied()));
            xs.extend(p.spans.iter().flat_map(|s| [s.0, s.1]));
        }
        if xs.iter().all(|x| !x.is_finite()) {
            xs = vec![self.default_x.0, self.default_x.1];
        }
        let (lo, hi) = min_max(xs.into_iter()).unwrap_or((0.0, DAY_MS));
        if hi - lo < 1.0 {
            (lo - DAY_MS, hi + DAY_MS)
        } else {
            let pad = (hi - lo) * 0.01;
            (lo - pad, hi + pad)
        }
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// A plotting range for `values` with a margin; never empty (a classic: min == max).
fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    match min_max(values) {
        None => (0.0, 1.0),
        Some((lo, hi)) if hi - lo <= f64::EPSILON * hi.abs().max(1.0) => {
            let d = (lo.abs() * 0.1).max(1e-3);
            (lo - d, hi + d)
        }
        Some((lo, hi)) => {
            let d = (hi - lo) * 0.06;
            (lo - d, hi + d)
        }
    }
}

/// Renders a chart to SVG text.
fn render(chart: &Chart) -> Result<String, String> {
    let mut svg = String::new();
    {
        let n = chart.panels.len().max(1);
        let height = 50 + PANEL_HEIGHT * n as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let body = root
            .titled(&chart.title, ("sans-serif", 26).into_font().color(&BLACK))
            .map_err(err)?;
        let x = chart.x_range();
        // The same margins on every panel, so that their time axes line up.
        let right = chart.panels.iter().any(|p| p.y2_desc.is_some());
        for (area, panel) in body.split_evenly((n, 1)).iter().zip(&chart.panels) {
            draw_panel(area, panel, x, &chart.x_desc, right)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn err(e: impl fmt::Display) -> String {
    e.to_string()
}

fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    p: &Panel,
    (x0, x1): (f64, f64),
    x_desc: &str,
    right_axis: bool,
) -> Result<(), String> {
    let (y0, y1) = p.y_range(false);
    let (z0, z1) = p.y_range(true);
    let mut chart = ChartBuilder::on(area)
        .margin(14)
        .x_label_area_size(50)
        .y_label_area_size(76)
        .right_y_label_area_size(if right_axis { 76 } else { 0 })
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?
        .set_secondary_coord(x0..x1, z0..z1);
    let span = x1 - x0;
    let x_fmt = |x: &f64| time_label(*x, span);
    let y_fmt = |y: &f64| num_label(*y);
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(p.y_desc.as_str())
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    if let Some(d) = &p.y2_desc {
        chart
            .configure_secondary_axes()
            .y_desc(d.as_str())
            .y_labels(8)
            .y_label_formatter(&y_fmt)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(err)?;
    }
    if !p.spans.is_empty() {
        let fill = color::GRAY.mix(0.18).filled();
        chart
            .draw_series(
                p.spans
                    .iter()
                    .map(|&(a, b)| Rectangle::new([(a, y0), (b, y1)], fill)),
            )
            .map_err(err)?
            .label(p.span_label.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], fill));
    }
    for r in p.rules.iter().filter(|r| !r.xs.is_empty()) {
        let style = r.color.mix(r.alpha).stroke_width(1);
        chart
            .draw_series(
                r.xs.iter()
                    .map(|&x| PathElement::new(vec![(x, y0), (x, y1)], style)),
            )
            .map_err(err)?
            .label(r.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x + 9, y - 7), (x + 9, y + 7)], style));
    }
    for l in p.lines.iter().filter(|l| !l.points.is_empty()) {
        let solid = l.color.stroke_width(2);
        let thin = l.color.stroke_width(1);
        // A NaN value breaks the line; the legend entry goes with the last piece.
        let pieces: Vec<&[(f64, f64)]> = l
            .points
            .split(|q| !q.1.is_finite())
            .filter(|s| !s.is_empty())
            .collect();
        let Some((last, rest)) = pieces.split_last() else {
            continue;
        };
        for piece in rest {
            let pts = piece.iter().copied();
            if l.secondary {
                chart.draw_secondary_series(LineSeries::new(pts, solid))
            } else {
                chart.draw_series(LineSeries::new(pts, solid))
            }
            .map_err(err)?;
        }
        let pts = last.iter().copied();
        let anno = match (l.style, l.secondary) {
            (Style::Solid, false) => chart.draw_series(LineSeries::new(pts, solid)),
            (Style::Solid, true) => chart.draw_secondary_series(LineSeries::new(pts, solid)),
            (Style::Dashed, false) => chart.draw_series(DashedLineSeries::new(pts, 8, 5, thin)),
            (Style::Dashed, true) => {
                chart.draw_secondary_series(DashedLineSeries::new(pts, 8, 5, thin))
            }
            (Style::Area, false) => {
                chart.draw_series(AreaSeries::new(pts, 0.0, l.color.mix(0.25)).border_style(thin))
            }
            (Style::Area, true) => chart.draw_secondary_series(
                AreaSeries::new(pts, 0.0, l.color.mix(0.25)).border_style(thin),
            ),
        }
        .map_err(err)?;
        let legend = if l.style == Style::Dashed {
            thin
        } else {
            solid
        };
        anno.label(l.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], legend));
    }
    for m in p.marks.iter().filter(|m| !m.points.is_empty()) {
        let style = m.color.filled();
        let pts = m.points.iter().copied();
        let anno = match m.shape {
            Shape::Circle => chart.draw_series(pts.map(|q| Circle::new(q, 4, style))),
            Shape::Triangle => chart.draw_series(pts.map(|q| TriangleMarker::new(q, 7, style))),
            Shape::Cross => {
                chart.draw_series(pts.map(|q| Cross::new(q, 6, m.color.stroke_width(2))))
            }
        }
        .map_err(err)?;
        let shape = m.shape;
        let c = m.color;
        anno.label(m.label.as_str()).legend(
            move |(x, y)| -> DynElement<'static, SVGBackend<'_>, (i32, i32)> {
                match shape {
                    Shape::Circle => Circle::new((x + 9, y), 4, c.filled()).into_dyn(),
                    Shape::Triangle => TriangleMarker::new((x + 9, y), 7, c.filled()).into_dyn(),
                    Shape::Cross => Cross::new((x + 9, y), 6, c.stroke_width(2)).into_dyn(),
                }
            },
        );
    }
    if p.is_empty() {
        let style = ("sans-serif", 20)
            .into_font()
            .color(&color::GRAY)
            .pos(Pos::new(HPos::Center, VPos::Center));
        chart
            .draw_series(std::iter::once(Text::new(
                p.empty_note.clone(),
                ((x0 + x1) / 2.0, (y0 + y1) / 2.0),
                style,
            )))
            .map_err(err)?;
    } else {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

/// A time axis label for ms since the Unix epoch, as precise as the axis span needs.
fn time_label(ms: f64, span_ms: f64) -> String {
    if !ms.is_finite() {
        return String::new();
    }
    let t = ms as i64;
    if span_ms > 2.0 * 365.0 * DAY_MS {
        let (y, m, _) = date_of(t);
        format!("{y}-{m:02}")
    } else if span_ms > 3.0 * DAY_MS {
        let (y, m, d) = date_of(t);
        format!("{y}-{m:02}-{d:02}")
    } else {
        let (_, m, d) = date_of(t);
        let s = t.rem_euclid(86_400_000) / 1000;
        format!("{m:02}-{d:02} {:02}:{:02}", s / 3600, s / 60 % 60)
    }
}

/// An axis label for a value: at most three decimals, without trailing zeros.
fn num_label(v: f64) -> String {
    if v.abs() >= 1000.0 {
        return format!("{v:.0}");
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

// ---------------------------------------------------------------------------------------
// The report

/// `(t, y)` points as a step line: each value holds until the next point, and the last
/// one until `end`.
fn steps(points: &[(f64, f64)], end: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(2 * points.len() + 1);
    for (i, &(t, y)) in points.iter().enumerate() {
        if i > 0 {
            out.push((t, points[i - 1].1));
        }
        out.push((t, y));
    }
    if let Some(&(t, y)) = points.last()
        && end > t
    {
        out.push((end, y));
    }
    out
}

/// A horizontal threshold line over `[from, to]`.
fn level_line(value: f64, from: f64, to: f64) -> Vec<(f64, f64)> {
    vec![(from, value), (to, value)]
}

/// Version history read from the audit.
#[derive(Default)]
struct VersionTimeline {
    /// `(time, id)` of each version created, by kind.
    retrains: Series,
    fine_tunes: Series,
    others: Series,
    /// `(time, newest id)` whenever a version was created.
    newest: Series,
    /// `(time, champion id)` at each change.
    champion: Series,
    promotions: Series,
    rollbacks: Series,
    counts: VersionCounts,
}

#[derive(Default)]
struct VersionCounts {
    promotions: u64,
    rollbacks: u64,
    rejected: u64,
    held: u64,
}

impl Default for Series {
    fn default() -> Self {
        Series::new()
    }
}

impl VersionTimeline {
    fn of(audit: &[AuditEntry]) -> Self {
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

impl Report {
    fn nothing_yet(&self) -> bool {
        self.end.stats.trades.closed == 0 && self.end.stats.signal.created <= 1
    }

    /// The charts, in the order of [`CHARTS`].
    fn charts(&self) -> Vec<Chart> {
        let h = &self.h;
        let (start, end) = (h.created_at as f64, h.last_time as f64);
        let chart = |title: &str, panels: Vec<Panel>| Chart {
            title: title.to_owned(),
            x_desc: "time (UTC)".to_owned(),
            panels,
            default_x: (start, end),
        };
        let no_trades = "no closed trades yet";

        let mut equity = Panel::new("cumulative PnL (% of one unit)", no_trades);
        equity.lines = vec![
            Line::new("drawdown from peak", color::RED, h.drawdown.points()).style(Style::Area),
            Line::new("equity (sum of PnL %)", color::BLUE, h.equity.points()),
        ];
        equity.y_include = vec![0.0];

        let mut accuracy = Panel::new("% of closed trades", no_trades);
        accuracy.lines = vec![
            Line::new(
                format!("win rate, last {LONG}"),
                color::LIGHT_ORANGE,
                h.win[1].points(),
            ),
            Line::new(
                format!("accuracy, last {LONG}"),
                color::LIGHT_BLUE,
                h.accuracy[1].points(),
            ),
            Line::new(
                format!("win rate, last {SHORT}"),
                color::ORANGE,
                h.win[0].points(),
            ),
            Line::new(
                format!("accuracy, last {SHORT}"),
                color::BLUE,
                h.accuracy[0].points(),
            ),
        ];
        accuracy.y_include = vec![0.0, 100.0];

        let mut levels = Panel::new("weight", "no level weights");
        let mut weights: [Series; 6] = Default::default();
        for (t, w) in &self.end.levels {
            for (s, &x) in weights.iter_mut().zip(w) {
                s.push(*t as f64, f64::from(x));
            }
        }
        levels.lines = weights
            .iter()
            .zip(LEVEL_FEATURE_NAMES)
            .zip(color::SIX)
            .map(|((s, name), c)| Line::new(name, c, steps(&s.points(), end)))
            .collect();
        levels.y_include = vec![0.0];

        let mut exits = Panel::new("exploration probability epsilon", no_trades);
        exits.y2_desc = Some(format!("mean reward, last {SHORT} trades (risk multiple)"));
        let mut eps = vec![(start, f64::from(h.config.exits.epsilon))];
        eps.extend(h.epsilon.points());
        exits.lines = vec![
            Line::new("epsilon", color::PURPLE, eps),
            Line::new(
                format!("mean reward, last {SHORT}"),
                color::ORANGE,
                h.reward.points(),
            )
            .secondary(),
        ];
        exits.y_include = vec![0.0];
        if h.epsilon.is_empty() {
            // Only the starting epsilon: nothing learned yet.
            exits.lines.truncate(0);
        }

        let tl = VersionTimeline::of(&self.end.audit);
        let mut versions = Panel::new("version id", "no versions");
        versions.lines = vec![
            Line::new(
                "newest version created",
                color::GRAY,
                steps(&tl.newest.points(), end),
            ),
            Line::new(
                "champion (live)",
                color::BLUE,
                steps(&tl.champion.points(), end),
            ),
        ];
        let marks = |label: &str, c, shape, s: &Series| Marks {
            label: label.to_owned(),
            color: c,
            shape,
            points: s.points(),
        };
        versions.marks = vec![
            marks("full retrain", color::ORANGE, Shape::Circle, &tl.retrains),
            marks("fine-tune", color::GREEN, Shape::Circle, &tl.fine_tunes),
            marks("promoted", color::BLUE, Shape::Triangle, &tl.promotions),
            marks("rolled back", color::RED, Shape::Cross, &tl.rollbacks),
        ];
        versions.y_include = vec![0.0];

        let mut trust = Panel::new("weight in the served mixture", "no labels yet");
        trust.lines = h
            .experts
            .iter()
            .zip(Expert::ALL)
            .zip(color::EIGHT)
            .map(|((s, x), c)| Line::new(x.name(), c, s.points()))
            .collect();
        trust.y_include = vec![0.0, 1.0];
        let mut regret = Panel::new(
            "served log-loss minus the running prior's (nats per row)",
            "no labels yet",
        );
        regret.lines = vec![
            Line::new("proven bound", color::RED, h.bound.points()).style(Style::Dashed),
            Line::new("served minus prior", color::BLUE, h.excess.points()),
        ];
        regret.y_include = vec![0.0];

        let lc = &h.config.lifecycle.drift;
        let pauses: Vec<(f64, f64)> = h
            .pauses
            .iter()
            .map(|&(a, b)| (a as f64, b.unwrap_or(h.last_time) as f64))
            .collect();
        let rules = |label: &str, c, pick: fn(&DriftKind) -> bool| Rules {
            label: label.to_owned(),
            color: c,
            alpha: 0.7,
            xs: h
                .drift
                .iter()
                .filter(|e| pick(&e.kind))
                .map(|e| e.at as f64)
                .collect(),
        };
        let mut ph = Panel::new("Page-Hinkley statistic", "no outcomes yet");
        ph.y2_desc = Some(format!("error rate, last {SHORT} trades (%)"));
        ph.lines = vec![
            Line::new(
                format!("error rate, last {SHORT}"),
                color::LIGHT_ORANGE,
                h.error.points(),
            )
            .secondary(),
            Line::new(
                format!("alarm threshold (lambda = {})", lc.page_hinkley.lambda),
                color::RED,
                level_line(lc.page_hinkley.lambda, start, end),
            )
            .style(Style::Dashed),
            Line::new(
                "Page-Hinkley statistic",
                color::BLUE,
                h.page_hinkley.points(),
            ),
        ];
        ph.rules = vec![rules("Page-Hinkley alarm", color::RED, |k| {
            *k == DriftKind::PageHinkley
        })];
        ph.spans.clone_from(&pauses);
        ph.span_label = "learning paused".into();
        ph.y_include = vec![0.0];
        let mut psi = Panel::new(
            "largest PSI over the features",
            format!(
                "no PSI yet: it needs a network champion and {} entries since it went live",
                lc.psi.window
            ),
        );
        psi.lines = vec![
            Line::new(
                format!("drift threshold ({})", lc.psi.threshold),
                color::RED,
                level_line(f64::from(lc.psi.threshold), start, end),
            )
            .style(Style::Dashed),
            Line::new("PSI", color::PURPLE, h.psi.points()),
        ];
        if h.psi.is_empty() {
            psi.lines.truncate(0);
        }
        psi.rules = vec![rules("PSI drift", color::PURPLE, |k| {
            matches!(k, DriftKind::Psi { .. })
        })];
        psi.spans = pauses;
        psi.span_label = "learning paused".into();
        psi.y_include = vec![0.0];

        let mut ab = Panel::new(
            "cumulative PnL of the arm's trades (%)",
            "no A/B test has run",
        );
        ab.lines = vec![
            Line::new("champion arm", color::BLUE, h.arm_pnl[0].points()),
            Line::new("challenger arm", color::ORANGE, h.arm_pnl[1].points()),
        ];
        ab.rules = vec![Rules {
            label: "experiment started".into(),
            color: color::GRAY,
            alpha: 0.25,
            xs: h.experiments.iter().map(|x| x.started_at as f64).collect(),
        }];
        ab.y_include = vec![0.0];
        if h.experiments.is_empty() {
            ab.rules.clear();
        }

        vec![
            chart("Equity curve over closed trades", vec![equity]),
            chart("Rolling win rate and signal accuracy", vec![accuracy]),
            chart("Support/resistance level weights", vec![levels]),
            chart("Exit learner: exploration and reward", vec![exits]),
            chart("Signal model versions", vec![versions]),
            chart(
                "What the engine trusts: the served mixture's experts",
                vec![trust, regret],
            ),
            chart("Drift detection", vec![ph, psi]),
            chart("A/B tests: PnL per arm", vec![ab]),
        ]
    }

    /// The Markdown text.
    fn markdown(&self, state: &Path, generated_at: i64, charts: &[Chart]) -> String {
        let (h, e) = (&self.h, &self.end);
        let s = &e.stats;
        let mut md = String::new();
        let mut w = |text: &str| {
            md.push_str(text);
            md.push('\n');
        };
        w("# tradeloop report");
        w("");
        w(&format!("- State directory: `{}`", state.display()));
        w(&format!(
            "- Generated: {} (host clock)",
            iso_datetime(generated_at)
        ));
        if h.imported {
            w(
                "- Imported from a checkpoint (`tradeloop import`): the charts show the history \
               since the import; the totals include what the engine did before it",
            );
        }
        w(&format!(
            "- History: {} events from {} to {}, replayed natively from the journal{}",
            h.events,
            iso_datetime(h.created_at),
            iso_datetime(h.last_time),
            match h.checked {
                Some((seq, true)) => format!("; the replay equals the checkpoint at event {seq}"),
                Some((seq, false)) => format!(
                    "; **warning: the replay differs from the checkpoint at event {seq}** \
                     (the charts show the replayed history)"
                ),
                None => String::new(),
            }
        ));
        w("");
        if self.nothing_yet() {
            w(
                "> Nothing to report yet: no trade has closed and no model has been trained \
               since the state was created. The charts below are empty; run `tradeloop paper` \
               or record trades, then report again.",
            );
            w("");
        }

        w("## Summary");
        w("");
        w("| | |");
        w("|---|---|");
        let row = |k: &str, v: String| format!("| {k} | {v} |");
        let pct = |x: f64| format!("{:.2}%", 100.0 * x);
        for line in [
            row("events", h.events.to_string()),
            row("trades opened", s.opened.to_string()),
            row("trades open", s.open.to_string()),
            row("closed trades", s.trades.closed.to_string()),
            row(
                "outcomes (loss / flat / win)",
                format!(
                    "{} / {} / {}",
                    s.trades.outcomes[0], s.trades.outcomes[1], s.trades.outcomes[2]
                ),
            ),
            row("win rate", pct(s.win_rate)),
            row("signal accuracy", pct(s.accuracy)),
            row("PnL", format!("{:+.4}", s.trades.pnl)),
            row(
                "PnL % summed",
                format!("{:+.2}%", 100.0 * s.trades.equity_pct),
            ),
            row("max drawdown", pct(s.trades.max_drawdown_pct)),
            row("Sharpe per trade", format!("{:.3}", s.sharpe)),
            row(
                "champion",
                format!(
                    "v{} ({:?}, {})",
                    s.signal.champion,
                    s.signal.champion_kind,
                    if s.signal.network {
                        "network"
                    } else {
                        "class prior"
                    }
                ),
            ),
            row(
                "challenger",
                s.signal
                    .challenger
                    .map_or("none".into(), |c| format!("v{c}")),
            ),
            row(
                "versions created / retained",
                format!("{} / {}", s.signal.created, s.signal.versions),
            ),
            row("level adjustments", s.levels.adjustments.to_string()),
            row(
                "exit learner",
                format!(
                    "{:?}, epsilon {:.3}, {} trainings",
                    s.exits.mode, s.exits.epsilon, s.exits.trainings
                ),
            ),
            row(
                "drift",
                match (s.signal.drift, s.signal.paused) {
                    (_, true) => "learning paused (extreme inputs)".into(),
                    (true, false) => "detected, retrain pending".into(),
                    (false, false) => "none pending".into(),
                },
            ),
            row("replay buffer", format!("{} experiences", s.replay)),
        ] {
            w(&line);
        }
        w("");

        let image = |w: &mut dyn FnMut(&str), i: usize, heading: &str| {
            w(&format!("## {heading}"));
            w("");
            w(&format!("![{}]({})", charts[i].title, CHARTS[i]));
            w("");
        };

        image(&mut w, 0, "Equity");
        w(&format!(
            "Cumulative PnL % (each closed trade's PnL as a fraction of its entry price, \
             summed) by exit time; the red area is the drawdown from the running peak. After \
             {} closed trades the curve is at {:+.2}%, and the deepest drawdown was {:.2}%.",
            s.trades.closed,
            100.0 * s.trades.equity_pct,
            100.0 * s.trades.max_drawdown_pct
        ));
        w("");

        image(&mut w, 1, "Win rate and signal accuracy");
        w(&format!(
            "Win rate (share of closed trades that won) and signal accuracy (share whose \
             entry prediction, loss, flat or win, was the outcome) over the last {SHORT} and \
             {LONG} closed trades (over all of them until there are that many). Overall: win \
             rate {}, accuracy {}.",
            pct(s.win_rate),
            pct(s.accuracy)
        ));
        w("");
        w(&format!(
            "The engine's monitor over its newest {} trades, windows ending at the last \
             event ({}):",
            h.config.lifecycle.monitor.capacity,
            iso_datetime(h.last_time)
        ));
        w("");
        w(
            "| window | trades | accuracy | win rate | mean PnL % | Sharpe | max drawdown | log-loss |",
        );
        w("|---|---|---|---|---|---|---|---|");
        let opt = |x: Option<f64>, f: &dyn Fn(f64) -> String| x.map_or("-".into(), f);
        for win in &e.monitor.windows {
            w(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                win.days.map_or("all kept".into(), |d| format!("{d} days")),
                win.trades,
                opt(win.accuracy, &|x| pct(x)),
                opt(win.win_rate, &|x| pct(x)),
                opt(win.mean_pnl_pct, &|x| format!("{:+.3}%", 100.0 * x)),
                opt(win.sharpe, &|x| format!("{x:.3}")),
                pct(win.max_drawdown_pct),
                opt(win.log_loss, &|x| format!("{x:.4}")),
            ));
        }
        w("");

        image(&mut w, 2, "Level weights");
        let weights = s.levels.weights;
        let by = |better: bool| {
            let mut i = 0;
            for j in 1..weights.len() {
                if (weights[j] > weights[i]) == better && weights[j] != weights[i] {
                    i = j;
                }
            }
            i
        };
        let (hi, lo) = (by(true), by(false));
        if s.levels.adjustments == 0 {
            w(&format!(
                "The weights of the six support/resistance level features (exponentiated \
                 gradient on the simplex) have not been adjusted yet: the first adjustment \
                 comes after {} level trades ({} so far).",
                h.config.levels.first_after, s.levels.seen
            ));
        } else {
            w(&format!(
                "The weights of the six support/resistance level features (exponentiated \
                 gradient on the simplex, moved towards features whose values went with higher \
                 rewards), adjusted {} times over {} level trades. Now the heaviest is {} \
                 ({:.3}) and the lightest {} ({:.3}).",
                s.levels.adjustments,
                s.levels.seen,
                LEVEL_FEATURE_NAMES[hi],
                weights[hi],
                LEVEL_FEATURE_NAMES[lo],
                weights[lo]
            ));
        }
        w("");

        image(&mut w, 3, "Exit learner");
        w(&format!(
            "The exit learner's exploration probability (it tries random stop / target \
             distances with this probability, decaying after each entry to {}) and the mean \
             reward (PnL over the stop distance, clamped to +-10) of the last {SHORT} closed \
             trades. Now: {:?} mode, epsilon {:.3}, {} trainings, best validation loss {}.",
            h.config.exits.epsilon_min,
            s.exits.mode,
            s.exits.epsilon,
            s.exits.trainings,
            s.exits
                .best_validation_loss
                .map_or("-".into(), |l| format!("{l:.5}"))
        ));
        w("");

        image(&mut w, 4, "Model versions");
        let tl = VersionTimeline::of(&e.audit);
        w(&format!(
            "Every signal-model version created (dots) and the live champion (step line); \
             triangles mark promotions, crosses rollbacks. {} versions created, {} \
             promotions, {} rollbacks, {} candidates held back by the gate, {} training runs \
             rejected; v{} is live.",
            s.signal.created,
            tl.counts.promotions,
            tl.counts.rollbacks,
            tl.counts.held,
            tl.counts.rejected,
            s.signal.champion
        ));
        w("");
        w("Retained versions:");
        w("");
        w(
            "| id | parent | kind | role | model | created | training data | test log-loss | trial |",
        );
        w("|---|---|---|---|---|---|---|---|---|");
        for v in &e.versions {
            w(&format!(
                "| v{} | {} | {:?} | {} | {} | {} | {} | {} | {} |",
                v.id,
                v.parent.map_or("-".into(), |p| format!("v{p}")),
                v.kind,
                if v.champion {
                    "live"
                } else if v.challenger {
                    "on trial"
                } else if v.best {
                    "best"
                } else {
                    ""
                },
                if v.network { "network" } else { "class prior" },
                iso_datetime(v.created_at),
                v.data.map_or("-".into(), |d| format!(
                    "{} / {} / {} samples, {} to {}",
                    d.train,
                    d.validation,
                    d.test,
                    iso_date(d.from),
                    iso_date(d.to)
                )),
                v.test.map_or("-".into(), |m| format!("{:.4}", m.log_loss)),
                v.trial.map_or("-".into(), |t| format!(
                    "{} against v{}: {:.4} vs {:.4} on {} labels, p = {:.4}",
                    if t.passed { "won" } else { "lost" },
                    t.champion,
                    t.candidate_log_loss,
                    t.champion_log_loss,
                    t.rows,
                    t.p_value
                )),
            ));
        }
        w("");

        image(&mut w, 5, "What the engine trusts");
        let m = &e.mixture;
        let rows = m.rows.max(1) as f64;
        w(&format!(
            "The forecast the engine serves is a mixture of {} experts, weighted by how each \
             forecast labels it had not seen (exponential weights with a fixed share). Top: \
             each expert's mean weight after every label. Bottom: the served forecast's \
             log-loss minus the running prior's, per scored row, and the proven bound on it \
             (ARCHITECTURE.md). After {} labels: served log-loss {}, {:+.5} nats per row \
             against the prior (bound {:.5}).",
            m.experts.len(),
            m.rows,
            m.log_loss.map_or("-".into(), |l| format!("{l:.4}")),
            m.excess_vs_prior / rows,
            m.bound_vs_prior / rows
        ));
        w("");
        w("| expert | weight now | log-loss | accuracy |");
        w("|---|---|---|---|");
        for x in &m.experts {
            w(&format!(
                "| {} | {:.3} | {} | {} |",
                x.expert.name(),
                x.weight,
                x.log_loss.map_or("-".into(), |l| format!("{l:.4}")),
                x.accuracy.map_or("-".into(), pct)
            ));
        }
        w("");

        image(&mut w, 6, "Drift");
        let d = &h.config.lifecycle.drift;
        w(&format!(
            "Top: the Page-Hinkley statistic on the served forecast's 0/1 error stream (alarm above \
             lambda = {}) with the error rate over the last {SHORT} closed trades; bottom: the \
             largest population stability index of the last {} inputs against the champion's \
             training data (drift above {}). Vertical lines mark alarms, grey bands the times \
             the extreme-input guard paused learning. Page-Hinkley alarms: {}, PSI alarms: {}, \
             pauses: {}. Now: Page-Hinkley statistic {:.3} after {} outcomes, PSI {}.",
            d.page_hinkley.lambda,
            d.psi.window,
            d.psi.threshold,
            h.drift_counts[0],
            h.drift_counts[1],
            h.drift_counts[2],
            e.drift.page_hinkley,
            e.drift.page_hinkley_samples,
            e.drift.psi.map_or("not measured".into(), |p| format!(
                "{:.4} (feature {})",
                p.max, p.feature
            ))
        ));
        w("");
        if !h.drift.is_empty() {
            w(&format!(
                "The last {} drift events:",
                TAIL.min(h.drift.len())
            ));
            w("");
            w("| time | event | what |");
            w("|---|---|---|");
            for ev in h.drift.iter().rev().take(TAIL).rev() {
                let what = match &ev.kind {
                    DriftKind::PageHinkley => "Page-Hinkley alarm".to_owned(),
                    DriftKind::Psi { feature, psi } => {
                        format!("PSI drift (feature {feature}, PSI {psi:.4})")
                    }
                    DriftKind::Paused => "learning paused (extreme inputs)".to_owned(),
                    DriftKind::Resumed => "learning resumed".to_owned(),
                };
                w(&format!(
                    "| {} | {} | {what} |",
                    iso_datetime(ev.at),
                    ev.seq
                ));
            }
            w("");
        }

        image(&mut w, 7, "A/B tests");
        if h.experiments.is_empty() {
            w(
                "No A/B test ran: with `lifecycle.ab.enabled` (off by default) a candidate on \
               trial gets a share of the trades, and its trial waits for enough trades per \
               arm. The chart is empty.",
            );
        } else {
            let total = |i: usize| {
                h.experiments.iter().fold(ArmTally::default(), |mut t, x| {
                    t.trades += x.arms[i].trades;
                    t.wins += x.arms[i].wins;
                    t.pnl_pct += x.arms[i].pnl_pct;
                    t
                })
            };
            let sum = |a: &ArmTally| {
                let n = a.trades.max(1) as f64;
                format!(
                    "{} trades, win rate {}, mean PnL {:+.3}%",
                    a.trades,
                    pct(a.wins as f64 / n),
                    100.0 * a.pnl_pct / n
                )
            };
            w(&format!(
                "Cumulative PnL % of the closed trades credited to each arm, over all {} \
                 experiments (grey lines: an experiment started). In all: champion arms {}; \
                 challenger arms {}. The last {}:",
                h.experiments.len(),
                sum(&total(0)),
                sum(&total(1)),
                TAIL.min(h.experiments.len())
            ));
            w("");
            w(
                "| champion | challenger | started | ended | champion arm trades | win rate | mean PnL % | challenger arm trades | win rate | mean PnL % |",
            );
            w("|---|---|---|---|---|---|---|---|---|---|");
            for x in h.experiments.iter().rev().take(TAIL).rev() {
                let arm = |a: &ArmTally| {
                    let n = a.trades as f64;
                    if a.trades == 0 {
                        "0 | - | -".to_owned()
                    } else {
                        format!(
                            "{} | {} | {:+.3}%",
                            a.trades,
                            pct(a.wins as f64 / n),
                            100.0 * a.pnl_pct / n
                        )
                    }
                };
                w(&format!(
                    "| v{} | v{} | {} | {} | {} | {} |",
                    x.champion,
                    x.challenger,
                    iso_datetime(x.started_at),
                    x.ended_at.map_or("running".into(), iso_datetime),
                    arm(&x.arms[0]),
                    arm(&x.arms[1])
                ));
            }
        }
        w("");

        w("## Audit");
        w("");
        w(&format!(
            "The last {} of {} entries of the version history:",
            TAIL.min(e.audit.len()),
            e.audit.len()
        ));
        w("");
        w("| time | event |");
        w("|---|---|");
        for a in e.audit.iter().rev().take(TAIL).rev() {
            w(&format!(
                "| {} | {} |",
                iso_datetime(a.at),
                describe(&a.event)
            ));
        }
        md
    }
}

/// One audit event in words.
fn describe(e: &AuditEvent) -> String {
    match e.clone() {
        AuditEvent::Created {
            version,
            kind,
            parent,
        } => format!(
            "v{version} created ({kind:?}{})",
            parent.map_or(String::new(), |p| format!(", from v{p}"))
        ),
        AuditEvent::Promoted {
            version,
            replaced,
            reason,
        } => format!(
            "v{version} promoted over v{replaced}: {}",
            match reason {
                PromotionReason::Trial(r) => format!(
                    "won its trial (log-loss {:.4} vs {:.4} on {} labels, p = {:.4})",
                    r.candidate_log_loss, r.champion_log_loss, r.rows, r.p_value
                ),
                PromotionReason::Manual => "by hand".to_owned(),
                PromotionReason::HeldOut {
                    candidate,
                    champion,
                    samples,
                } => format!(
                    "passed the held-out gate of schemas 2-3 ({candidate:.4} vs {champion:.4} on \
                     {samples} samples)"
                ),
                PromotionReason::AbTest { p_value } => {
                    format!("won the A/B test (p = {p_value:.4})")
                }
            }
        ),
        AuditEvent::TrialStarted { version, champion } => {
            format!("v{version} on trial against v{champion}")
        }
        AuditEvent::Held { version, trial } => format!(
            "v{version} held: {}",
            trial.map_or("its trial was cut short".to_owned(), |r| format!(
                "lost its trial (log-loss {:.4} vs {:.4} on {} labels, p = {:.4})",
                r.candidate_log_loss, r.champion_log_loss, r.rows, r.p_value
            ))
        ),
        AuditEvent::Rejected { kind, why } => format!("{kind:?} run rejected ({why:?})"),
        AuditEvent::RolledBack { from, to } => format!("rolled back from v{from} to v{to}"),
        AuditEvent::ChallengerEnded { version } => format!("v{version} is no longer challenger"),
        AuditEvent::Retired { version } => format!("v{version} retired (weights dropped)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_thin_evenly_and_keep_the_newest_point() {
        let mut s = Series::with_cap(8);
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
        let mut g = Series::new();
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

    #[test]
    fn ranges_are_never_empty() {
        assert_eq!(padded(std::iter::empty()), (0.0, 1.0));
        for v in [0.0, 5.0, -3.0, 1e12] {
            let (lo, hi) = padded([v, v].into_iter());
            assert!(lo < v && v < hi, "{v}: {lo}..{hi}");
        }
        let (lo, hi) = padded([1.0, f64::NAN, 3.0].into_iter());
        assert!(lo < 1.0 && hi > 3.0 && hi - lo < 2.5);
        let one_time = Chart {
            title: String::new(),
            x_desc: String::new(),
            panels: vec![],
            default_x: (5.0, 5.0),
        };
        let (a, b) = one_time.x_range();
        assert!(a < 5.0 && b > 5.0);
    }

    #[test]
    fn labels() {
        let t = 1_700_000_000_000.0;
        assert_eq!(time_label(t, 3.0 * 365.0 * DAY_MS), "2023-11");
        assert_eq!(time_label(t, 30.0 * DAY_MS), "2023-11-14");
        assert_eq!(time_label(t, DAY_MS), "11-14 22:13");
        assert_eq!(num_label(20.0), "20");
        assert_eq!(num_label(0.25), "0.25");
        assert_eq!(num_label(-0.0004), "0");
        assert_eq!(num_label(12345.6), "12346");
    }

    #[test]
    fn step_lines_hold_each_value_until_the_next() {
        assert_eq!(
            steps(&[(0.0, 1.0), (2.0, 3.0)], 5.0),
            [(0.0, 1.0), (2.0, 1.0), (2.0, 3.0), (5.0, 3.0)]
        );
        assert!(steps(&[], 5.0).is_empty());
    }

    #[test]
    fn the_default_output_is_next_to_the_state() {
        assert_eq!(
            default_out(Path::new("/a/state")),
            PathBuf::from("/a/state-report")
        );
        assert_eq!(
            default_out(Path::new("./tradeloop-state")),
            PathBuf::from("./tradeloop-state-report")
        );
        let here = std::env::current_dir().unwrap();
        let name = here.file_name().unwrap().to_string_lossy().into_owned();
        let dot = default_out(Path::new("."));
        assert_eq!(
            dot.file_name().unwrap().to_string_lossy(),
            format!("{name}-report")
        );
        assert!(!resolve(&dot).unwrap().starts_with(&here) || here.parent().is_none());
    }
}
