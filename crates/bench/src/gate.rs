//! The peers' load gate (`shared/bench/anchors/common.py`): a timed repetition starts only
//! when the 1-minute load average is below `ANCHORS_LOAD_MAX` (default 1.2), and the time the
//! benchmark thread waited for a CPU is measured from `/proc/self/schedstat`.

use std::time::{Duration, Instant};

/// Worst loads and run-queue wait seen over a figure's repetitions.
#[derive(Debug, Default)]
pub struct Gate {
    /// Highest 1-minute load at a repetition start.
    pub load_before: f64,
    /// Highest 1-minute load at a repetition end.
    pub load_after: f64,
    /// Worst run-queue wait in % of a repetition's wall time.
    pub rq_wait_pct: f64,
    /// `false` if a repetition started after the wait budget ran out.
    pub ok: bool,
    budget: Duration,
    started: Option<(Instant, u64)>,
}

fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(0.0)
}

fn rq_wait_ns() -> u64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|x| x.parse().ok()))
        .unwrap_or(0)
}

impl Gate {
    /// A gate that waits at most `budget_s` seconds before each repetition; 0 disables the
    /// gate (smoke runs), which is then not reported as timed out.
    pub fn new(budget_s: u64) -> Self {
        Self {
            ok: true,
            budget: Duration::from_secs(budget_s),
            ..Self::default()
        }
    }

    /// Waits (up to the budget) for the load to drop below `ANCHORS_LOAD_MAX` (default 1.2).
    pub fn before_rep(&mut self) {
        let limit: f64 = std::env::var("ANCHORS_LOAD_MAX")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1.2);
        let t0 = Instant::now();
        let mut l = load1();
        while l >= limit && !self.budget.is_zero() {
            if t0.elapsed() >= self.budget {
                self.ok = false;
                break;
            }
            eprintln!("[load] {l:.2} >= {limit}, waiting ...");
            std::thread::sleep(Duration::from_secs(15));
            l = load1();
        }
        self.load_before = self.load_before.max(l);
        self.started = Some((Instant::now(), rq_wait_ns()));
    }

    /// Records the load and run-queue wait at the end of a repetition.
    pub fn after_rep(&mut self) {
        self.load_after = self.load_after.max(load1());
        if let Some((t, w0)) = self.started.take() {
            let wall = t.elapsed().as_nanos() as f64;
            if wall > 0.0 {
                self.rq_wait_pct = self
                    .rq_wait_pct
                    .max(100.0 * (rq_wait_ns().saturating_sub(w0)) as f64 / wall);
            }
        }
    }

    /// `load a -> b, rq c%` for reports.
    pub fn describe(&self) -> String {
        let flag = match (self.ok, self.budget.is_zero()) {
            (_, true) => ", no load gate",
            (true, false) => "",
            (false, false) => ", GATE TIMED OUT",
        };
        format!(
            "load {:.2} -> {:.2}, rq wait {:.1}%{flag}",
            self.load_before, self.load_after, self.rq_wait_pct
        )
    }
}
