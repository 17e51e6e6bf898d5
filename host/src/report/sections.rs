//! The text of `tradeloop report`: its Markdown sections, each under its chart, with the
//! numbers and tables of the final state.

use std::path::Path;

use tradeloop_core::learners::LEVEL_FEATURE_NAMES;
use tradeloop_core::lifecycle::registry::{AuditEvent, PromotionReason};
use tradeloop_core::market::{iso_date, iso_datetime};

use super::CHARTS;
use super::charts::Chart;
use super::markdown::{Markdown, Table, fixed, or_dash, pct, signed, signed_pct};
use super::replay::{ArmTally, DriftKind, LONG, Report, SHORT, VersionTimeline};

/// Rows of the audit and drift tables.
const TAIL: usize = 20;

impl Report {
    fn nothing_yet(&self) -> bool {
        self.end.stats.trades.closed == 0 && self.end.stats.signal.created <= 1
    }

    /// The Markdown text, embedding `charts` (in the order of [`CHARTS`]).
    pub(super) fn markdown(&self, state: &Path, generated_at: i64, charts: &[Chart]) -> String {
        let (h, e) = (&self.h, &self.end);
        let s = &e.stats;
        let mut md = Markdown::new();
        md.heading(1, "tradeloop report");
        md.line(&format!("- State directory: `{}`", state.display()));
        md.line(&format!(
            "- Generated: {} (host clock)",
            iso_datetime(generated_at)
        ));
        if h.imported {
            md.line(
                "- Imported from a checkpoint (`tradeloop import`): the charts show the history \
                 since the import; the totals include what the engine did before it",
            );
        }
        md.line(&format!(
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
        md.blank();
        if self.nothing_yet() {
            md.paragraph(
                "> Nothing to report yet: no trade has closed and no model has been trained \
                 since the state was created. The charts below are empty; run `tradeloop paper` \
                 or record trades, then report again.",
            );
        }

        md.heading(2, "Summary");
        let mut summary = Table::new(&["", ""]);
        for (k, v) in [
            ("events", h.events.to_string()),
            ("trades opened", s.opened.to_string()),
            ("trades open", s.open.to_string()),
            ("closed trades", s.trades.closed.to_string()),
            (
                "outcomes (loss / flat / win)",
                format!(
                    "{} / {} / {}",
                    s.trades.outcomes[0], s.trades.outcomes[1], s.trades.outcomes[2]
                ),
            ),
            ("win rate", pct(s.win_rate, 2)),
            ("signal accuracy", pct(s.accuracy, 2)),
            ("PnL", signed(s.trades.pnl, 4)),
            ("PnL % summed", signed_pct(s.trades.equity_pct, 2)),
            ("max drawdown", pct(s.trades.max_drawdown_pct, 2)),
            ("Sharpe per trade", fixed(s.sharpe, 3)),
            (
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
            (
                "challenger",
                s.signal
                    .challenger
                    .map_or("none".into(), |c| format!("v{c}")),
            ),
            (
                "versions created / retained",
                format!("{} / {}", s.signal.created, s.signal.versions),
            ),
            ("level adjustments", s.levels.adjustments.to_string()),
            (
                "exit learner",
                format!(
                    "{:?}, epsilon {:.3}, {} trainings",
                    s.exits.mode, s.exits.epsilon, s.exits.trainings
                ),
            ),
            (
                "drift",
                match (s.signal.drift, s.signal.paused) {
                    (_, true) => "learning paused (extreme inputs)".into(),
                    (true, false) => "detected, retrain pending".into(),
                    (false, false) => "none pending".into(),
                },
            ),
            ("replay buffer", format!("{} experiences", s.replay)),
        ] {
            summary.row([k, &v]);
        }
        md.table(&summary);

        let image = |md: &mut Markdown, i: usize, heading: &str| {
            md.heading(2, heading);
            md.image(&charts[i].title, CHARTS[i]);
        };

        image(&mut md, 0, "Equity");
        md.paragraph(&format!(
            "Cumulative PnL % (each closed trade's PnL as a fraction of its entry price, \
             summed) by exit time; the red area is the drawdown from the running peak. After \
             {} closed trades the curve is at {}, and the deepest drawdown was {}.",
            s.trades.closed,
            signed_pct(s.trades.equity_pct, 2),
            pct(s.trades.max_drawdown_pct, 2)
        ));

        image(&mut md, 1, "Win rate and signal accuracy");
        md.paragraph(&format!(
            "Win rate (share of closed trades that won) and signal accuracy (share whose \
             entry prediction, loss, flat or win, was the outcome) over the last {SHORT} and \
             {LONG} closed trades (over all of them until there are that many). Overall: win \
             rate {}, accuracy {}.",
            pct(s.win_rate, 2),
            pct(s.accuracy, 2)
        ));
        md.paragraph(&format!(
            "The engine's monitor over its newest {} trades, windows ending at the last \
             event ({}):",
            h.config.lifecycle.monitor.capacity,
            iso_datetime(h.last_time)
        ));
        let mut monitor = Table::new(&[
            "window",
            "trades",
            "accuracy",
            "win rate",
            "mean PnL %",
            "Sharpe",
            "max drawdown",
            "log-loss",
        ]);
        for win in &e.monitor.windows {
            monitor.row([
                win.days.map_or("all kept".into(), |d| format!("{d} days")),
                win.trades.to_string(),
                or_dash(win.accuracy, |x| pct(x, 2)),
                or_dash(win.win_rate, |x| pct(x, 2)),
                or_dash(win.mean_pnl_pct, |x| signed_pct(x, 3)),
                or_dash(win.sharpe, |x| fixed(x, 3)),
                pct(win.max_drawdown_pct, 2),
                or_dash(win.log_loss, |x| fixed(x, 4)),
            ]);
        }
        md.table(&monitor);

        image(&mut md, 2, "Level weights");
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
            md.paragraph(&format!(
                "The weights of the six support/resistance level features (exponentiated \
                 gradient on the simplex) have not been adjusted yet: the first adjustment \
                 comes after {} level trades ({} so far).",
                h.config.levels.first_after, s.levels.seen
            ));
        } else {
            md.paragraph(&format!(
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

        image(&mut md, 3, "Exit learner");
        md.paragraph(&format!(
            "The exit learner's exploration probability (it tries random stop / target \
             distances with this probability, decaying after each entry to {}) and the mean \
             reward (PnL over the stop distance, clamped to +-10) of the last {SHORT} closed \
             trades. Now: {:?} mode, epsilon {:.3}, {} trainings, best validation loss {}.",
            h.config.exits.epsilon_min,
            s.exits.mode,
            s.exits.epsilon,
            s.exits.trainings,
            or_dash(s.exits.best_validation_loss, |l| format!("{l:.5}"))
        ));

        image(&mut md, 4, "Model versions");
        let tl = VersionTimeline::of(&e.audit);
        md.paragraph(&format!(
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
        md.paragraph("Retained versions:");
        let mut versions = Table::new(&[
            "id",
            "parent",
            "kind",
            "role",
            "model",
            "created",
            "training data",
            "test log-loss",
            "trial",
        ]);
        for v in &e.versions {
            versions.row([
                format!("v{}", v.id),
                or_dash(v.parent, |p| format!("v{p}")),
                format!("{:?}", v.kind),
                if v.champion {
                    "live"
                } else if v.challenger {
                    "on trial"
                } else if v.best {
                    "best"
                } else {
                    ""
                }
                .to_owned(),
                if v.network { "network" } else { "class prior" }.to_owned(),
                iso_datetime(v.created_at),
                or_dash(v.data, |d| {
                    format!(
                        "{} / {} / {} samples, {} to {}",
                        d.train,
                        d.validation,
                        d.test,
                        iso_date(d.from),
                        iso_date(d.to)
                    )
                }),
                or_dash(v.test, |m| fixed(f64::from(m.log_loss), 4)),
                or_dash(v.trial, |t| {
                    format!(
                        "{} against v{}: {:.4} vs {:.4} on {} labels, p = {:.4}",
                        if t.passed { "won" } else { "lost" },
                        t.champion,
                        t.candidate_log_loss,
                        t.champion_log_loss,
                        t.rows,
                        t.p_value
                    )
                }),
            ]);
        }
        md.table(&versions);

        image(&mut md, 5, "What the engine trusts");
        let m = &e.mixture;
        let rows = m.rows.max(1) as f64;
        md.paragraph(&format!(
            "The forecast the engine serves is a mixture of {} experts, weighted by how each \
             forecast labels it had not seen (exponential weights with a fixed share). Top: \
             each expert's mean weight after every label. Bottom: the served forecast's \
             log-loss minus the running prior's, per scored row, and the proven bound on it \
             (ARCHITECTURE.md). After {} labels: served log-loss {}, {} nats per row \
             against the prior (bound {}).",
            m.experts.len(),
            m.rows,
            or_dash(m.log_loss, |l| fixed(l, 4)),
            signed(m.excess_vs_prior / rows, 5),
            fixed(m.bound_vs_prior / rows, 5)
        ));
        let mut experts = Table::new(&["expert", "weight now", "log-loss", "accuracy"]);
        for x in &m.experts {
            experts.row([
                x.expert.name().to_owned(),
                fixed(x.weight, 3),
                or_dash(x.log_loss, |l| fixed(l, 4)),
                or_dash(x.accuracy, |a| pct(a, 2)),
            ]);
        }
        md.table(&experts);

        image(&mut md, 6, "Drift");
        let d = &h.config.lifecycle.drift;
        md.paragraph(&format!(
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
        if !h.drift.is_empty() {
            md.paragraph(&format!(
                "The last {} drift events:",
                TAIL.min(h.drift.len())
            ));
            let mut events = Table::new(&["time", "event", "what"]);
            for ev in h.drift.iter().rev().take(TAIL).rev() {
                let what = match &ev.kind {
                    DriftKind::PageHinkley => "Page-Hinkley alarm".to_owned(),
                    DriftKind::Psi { feature, psi } => {
                        format!("PSI drift (feature {feature}, PSI {psi:.4})")
                    }
                    DriftKind::Paused => "learning paused (extreme inputs)".to_owned(),
                    DriftKind::Resumed => "learning resumed".to_owned(),
                };
                events.row([iso_datetime(ev.at), ev.seq.to_string(), what]);
            }
            md.table(&events);
        }

        image(&mut md, 7, "A/B tests");
        self.ab_tests(&mut md);

        md.heading(2, "Audit");
        md.paragraph(&format!(
            "The last {} of {} entries of the version history:",
            TAIL.min(e.audit.len()),
            e.audit.len()
        ));
        let mut audit = Table::new(&["time", "event"]);
        for a in e.audit.iter().rev().take(TAIL).rev() {
            audit.row([iso_datetime(a.at), describe(&a.event)]);
        }
        md.table(&audit);
        md.finish()
    }

    /// The A/B tests' text and table.
    fn ab_tests(&self, md: &mut Markdown) {
        let h = &self.h;
        if h.experiments.is_empty() {
            md.paragraph(
                "No A/B test ran: with `lifecycle.ab.enabled` (off by default) a candidate on \
                 trial gets a share of the trades, and its trial waits for enough trades per \
                 arm. The chart is empty.",
            );
            return;
        }
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
                pct(a.wins as f64 / n, 2),
                100.0 * a.pnl_pct / n
            )
        };
        md.paragraph(&format!(
            "Cumulative PnL % of the closed trades credited to each arm, over all {} \
             experiments (grey lines: an experiment started). In all: champion arms {}; \
             challenger arms {}. The last {}:",
            h.experiments.len(),
            sum(&total(0)),
            sum(&total(1)),
            TAIL.min(h.experiments.len())
        ));
        let mut table = Table::new(&[
            "champion",
            "challenger",
            "started",
            "ended",
            "champion arm trades",
            "win rate",
            "mean PnL %",
            "challenger arm trades",
            "win rate",
            "mean PnL %",
        ]);
        let arm = |a: &ArmTally| {
            let n = a.trades as f64;
            if a.trades == 0 {
                ["0".to_owned(), "-".to_owned(), "-".to_owned()]
            } else {
                [
                    a.trades.to_string(),
                    pct(a.wins as f64 / n, 2),
                    format!("{:+.3}%", 100.0 * a.pnl_pct / n),
                ]
            }
        };
        for x in h.experiments.iter().rev().take(TAIL).rev() {
            let mut row = vec![
                format!("v{}", x.champion),
                format!("v{}", x.challenger),
                iso_datetime(x.started_at),
                x.ended_at.map_or("running".into(), iso_datetime),
            ];
            row.extend(arm(&x.arms[0]));
            row.extend(arm(&x.arms[1]));
            table.row(row);
        }
        md.table(&table);
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
