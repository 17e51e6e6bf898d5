//! `tradeloop report`: a Markdown report with SVG charts of what an engine learned.
//!
//! Nothing here is stored for the report: the state directory holds the genesis request and
//! every state-changing event, and the engine is deterministic, so the history is rebuilt by
//! replaying them through a native [`Engine`](tradeloop_core::Engine) (the code the plugin
//! runs, giving the same states bit for bit) and sampling what the charts need along the
//! way. The journal is read under the state's lock, which is released before the replay
//! starts; the replay is checked against the newest checkpoint when there is one.
//!
//! Memory: the journal's events are read once (so that the lock is not held during the
//! replay) and dropped one by one as they are applied; no snapshot is kept. Every plotted
//! series keeps at most [`MAX_POINTS`] points (thinned evenly as it grows, plus the newest
//! point), and the rolling windows hold only their last trades.
//!
//! Output: `report.md` and the SVG files named in [`CHARTS`], drawn with `plotters` (text
//! as SVG `<text>`, so no font files are involved). The default output directory is next to
//! the state directory, not in it: a state directory holds only tradeloop's own files.
//!
//! The parts: `replay` rebuilds the history and samples it; `charts` draws SVG charts and
//! `markdown` writes Markdown (both general, for any report of the host); this module puts
//! the report's charts together and writes the files, and `sections` writes its text.

use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

use plotters::style::RGBColor;
use serde::Serialize;
use tradeloop_core::learners::LEVEL_FEATURE_NAMES;
use tradeloop_core::lifecycle::mixture::Expert;

use crate::store::StoreError;

pub(crate) mod charts;
pub(crate) mod markdown;
mod replay;
mod sections;

use charts::{Chart, Line, Marks, Panel, Rules, Series, Shape, Style, XAxis, color};
use charts::{level_line, steps};
use replay::{DriftKind, History, LONG, Recorded, Report, SHORT, Samples, VersionTimeline};

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

/// One colour per expert of the mixture.
const EXPERT_COLORS: [RGBColor; 8] = [
    color::GRAY,
    color::LIGHT_BLUE,
    color::GREEN,
    color::LIGHT_ORANGE,
    color::ORANGE,
    color::PURPLE,
    color::BLUE,
    color::BROWN,
];

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
        let svg = chart.render().map_err(|e| ReportError::Chart {
            file,
            message: format!("{e:#}"),
        })?;
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

impl Report {
    /// The charts, in the order of [`CHARTS`].
    fn charts(&self) -> Vec<Chart> {
        let h = &self.h;
        let (start, end) = (h.created_at as f64, h.last_time as f64);
        let chart = |title: &str, panels: Vec<Panel>| Chart {
            default_x: (start, end),
            ..Chart::new(title, "time (UTC)", XAxis::Time, panels)
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

        let mut weights: [Samples; 6] = Default::default();
        for (t, w) in &self.end.levels {
            for (s, &x) in weights.iter_mut().zip(w) {
                s.push(*t as f64, f64::from(x));
            }
        }
        let weights: Vec<Series> = weights
            .iter()
            .zip(LEVEL_FEATURE_NAMES)
            .map(|(s, name)| Series::new(name, steps(&s.points(), end)))
            .collect();
        let mut levels = Panel::of("weight", &weights);
        levels.empty_note = "no level weights".into();
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
        let marks = |label: &str, c, shape, s: &Samples| Marks {
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
            .zip(EXPERT_COLORS)
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
