//! An [`Evaluation`] as Markdown: the one rendering `tradeloop evaluate` prints and the W6
//! benchmark logs.

use alloc::format;
use alloc::string::String;
use core::fmt::Write as _;

use super::{Evaluation, PredictorScores, Protocol};
use crate::market::iso_date;

/// A standard error, or `n/a` when the scored rows make fewer than two whole blocks.
fn std_error(se: Option<f64>) -> String {
    se.map_or("n/a".into(), |se| format!("{se:.4}"))
}

fn row(p: &PredictorScores) -> String {
    let all = p.all.map_or("- | - | -".into(), |s| {
        format!(
            "{:.4} | {:.4} | {:.4}",
            s.log_loss(),
            s.accuracy(),
            s.macro_f1()
        )
    });
    let d = p.vs_prior;
    format!(
        "| {} | {all} | {:.4} | {:.4} | {:.4} | {:+.4} ± {} |",
        p.name,
        p.last30.accuracy(),
        p.scored.log_loss(),
        p.scored.accuracy(),
        d.mean,
        std_error(d.std_error)
    )
}

impl Evaluation {
    /// The figures as Markdown: the predictors, the mixture's experts, the served forecast
    /// and the prior per year, what the engine did. `protocol` is the one it was run with.
    pub fn markdown(&self, protocol: &Protocol) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Scored rows: {} on ({} on, after the frozen network's training on the first {} \
             labels). The difference to the running prior is per row, with a standard error \
             over blocks of {} rows (n/a: fewer than two whole blocks).\n",
            self.scored_from.0,
            iso_date(self.scored_from.1),
            self.frozen_after,
            protocol.block
        );
        s += "| predictor | log-loss | accuracy | macro-F1 | last-30% acc | scored log-loss | scored acc | vs prior (scored) |\n";
        s += "|---|---:|---:|---:|---:|---:|---:|---:|\n";
        for p in &self.predictors {
            s += &row(p);
            s.push('\n');
        }
        let m = &self.mixture;
        let rows = m.rows.max(1) as f64;
        let _ = writeln!(
            s,
            "\nThe served mixture against the running prior, as the engine scores it: {:+.5} \
             nats per row (bound {:.5} per row: {} weight copies, fixed share over {} labels).",
            m.excess_vs_prior / rows,
            m.bound_vs_prior / rows,
            m.copies,
            m.rows
        );
        s += "\n| expert | weight now | log-loss | accuracy |\n|---|---:|---:|---:|\n";
        for x in &m.experts {
            let _ = writeln!(
                s,
                "| {} | {:.3} | {} | {} |",
                x.expert.name(),
                x.weight,
                x.log_loss.map_or("-".into(), |l| format!("{l:.4}")),
                x.accuracy.map_or("-".into(), |a| format!("{a:.4}"))
            );
        }
        if let (Some(served), Some(prior)) =
            (self.predictor("served"), self.predictor("running prior"))
        {
            s += "\n| year | rows | served log-loss | prior log-loss | served acc | prior acc |\n";
            s += "|---|---:|---:|---:|---:|---:|\n";
            for ((y, a), (_, b)) in served.by_year.iter().zip(&prior.by_year) {
                let _ = writeln!(
                    s,
                    "| {y} | {} | {:.4} | {:.4} | {:.4} | {:.4} |",
                    a.n,
                    a.log_loss(),
                    b.log_loss(),
                    a.accuracy(),
                    b.accuracy()
                );
            }
        }
        let t = &self.engine;
        let _ = write!(
            s,
            "\nThe engine: {} versions ({} online snapshots, {} retrains), {} trials promoted, \
             {} held; champion at the end: version {}.",
            t.versions, t.snapshots, t.retrains, t.promoted, t.held, t.champion
        );
        if t.label_fallbacks > 0 {
            let _ = write!(
                s,
                " {} rows sent as their class (scaled return out of class).",
                t.label_fallbacks
            );
        }
        s
    }
}
