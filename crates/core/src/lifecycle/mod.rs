//! The model lifecycle: what keeps the signal model improving for months without
//! supervision and never ships a worse one.
//!
//! [`Lifecycle`] owns the signal model's versions and everything that decides when and
//! how they change:
//!
//! - [`policy`]: `learn` in mode auto / incremental / retrain / eval, and why.
//! - [`registry`]: versions, the champion / challenger gate, rollback, retention, audit.
//! - [`ab`]: routing trades between champion and challenger, per-arm results, significance.
//! - [`monitor`]: accuracy over 7 / 14 / 30 days, win rate, Sharpe, drawdown, bias.
//! - [`drift`]: Page-Hinkley on the error stream, PSI per feature, the extreme-input guard.
//! - [`schedule`]: the training schedule as data, and which job is due.
//! - [`stats`]: the significance tests.
//!
//! Training runs happen here too, on the engine's replay buffer: an incremental
//! fine-tune (learning rate scaled down, new samples mixed with replayed old ones,
//! normalisation frozen) or a full retrain (normalisation refitted, fresh weights,
//! date-ordered train / validation / test split, early stopping). The class prior is
//! always a candidate: on prices it is hard to beat.

pub mod ab;
pub mod drift;
pub mod monitor;
pub mod policy;
pub mod registry;
pub mod schedule;
pub mod stats;

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, check};
use crate::learners::SignalConfig;
use crate::learners::signal::{self, Data, Metrics, Predictor, Rejection, RunLog, RunSettings};
use crate::nn::Workspace;
use crate::replay::ReplayBuffer;
use crate::rng::SplitMix64;
use crate::vocab::{Outcome, Signal};

use ab::{AbConfig, AbReport, AbState, Arm};
use drift::{
    GuardConfig, InputGuard, PageHinkley, PageHinkleyConfig, PsiConfig, PsiReference, PsiSummary,
    PsiWindow,
};
use monitor::{Monitor, MonitorConfig, Record};
use policy::{Action, Decision, Facts, LearnMode, PolicyConfig, Reason};
use registry::{
    DataRange, GateCheck, GateConfig, PromotionReason, Registry, Verdict, Version, VersionKind,
};
use schedule::{Job, ScheduleConfig, ScheduleState};

/// Incremental fine-tune settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IncrementalConfig {
    /// Learning rate multiplier (default 0.1; in (0, 1]).
    pub lr_scale: f32,
    /// Epochs over the mix (default 3; 1..=100).
    pub epochs: u32,
    /// Old samples replayed per new sample (default 4; 0..=100). 0 fine-tunes on new
    /// samples only, which forgets faster.
    pub replay_per_new: u32,
    /// Share of the new samples held out for the gate (default 0.2; in [0, 0.9]).
    pub holdout: f32,
}

impl Default for IncrementalConfig {
    fn default() -> Self {
        Self {
            lr_scale: 0.1,
            epochs: 3,
            replay_per_new: 4,
            holdout: 0.2,
        }
    }
}

/// Full retrain settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetrainConfig {
    /// Most epochs (default 50; 1..=10000).
    pub max_epochs: u32,
    /// Epochs without a better validation loss before stopping (default 5; 1..=1000).
    pub patience: u32,
    /// Date-ordered train / validation / test proportions (default 5:3:2; each >= 1).
    pub split: [u32; 3],
    /// Use only the newest this many samples (default 0: all in the replay buffer).
    pub max_samples: u32,
    /// A training loss above this multiple of the starting loss rejects the run
    /// (default 4; in (1, 1000]).
    pub divergence: f32,
}

impl Default for RetrainConfig {
    fn default() -> Self {
        Self {
            max_epochs: 50,
            patience: 5,
            split: [5, 3, 2],
            max_samples: 0,
            divergence: 4.0,
        }
    }
}

/// Drift detection settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct DriftConfig {
    /// Page-Hinkley test on the champion's 0/1 error stream.
    pub page_hinkley: PageHinkleyConfig,
    /// Population stability index of recent inputs against the champion's training data.
    pub psi: PsiConfig,
    /// Extreme-input guard (z-scores under the champion's normalisation).
    pub guard: GuardConfig,
}

/// Everything configurable about the lifecycle. Every field has a documented default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LifecycleConfig {
    /// When `auto` fine-tunes, retrains or waits.
    pub policy: PolicyConfig,
    /// Incremental fine-tune.
    pub incremental: IncrementalConfig,
    /// Full retrain.
    pub retrain: RetrainConfig,
    /// Promotion gate.
    pub gate: GateConfig,
    /// A/B routing between champion and challenger.
    pub ab: AbConfig,
    /// Monitoring.
    pub monitor: MonitorConfig,
    /// Drift detection.
    pub drift: DriftConfig,
    /// The training schedule hosts follow.
    pub schedule: ScheduleConfig,
    /// Versions retained besides champion, challenger and best (default 5; 1..=1000).
    pub keep_versions: u32,
    /// Run `learn` in auto mode after every closed trade or observation (default true).
    pub learn_on_close: bool,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            policy: PolicyConfig::default(),
            incremental: IncrementalConfig::default(),
            retrain: RetrainConfig::default(),
            gate: GateConfig::default(),
            ab: AbConfig::default(),
            monitor: MonitorConfig::default(),
            drift: DriftConfig::default(),
            schedule: ScheduleConfig::default(),
            keep_versions: 5,
            learn_on_close: true,
        }
    }
}

impl LifecycleConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), Error> {
        self.policy.validate()?;
        let i = &self.incremental;
        check(
            i.lr_scale.is_finite() && i.lr_scale > 0.0 && i.lr_scale <= 1.0,
            "lifecycle.incremental.lr_scale must be in (0, 1]",
        )?;
        check(
            (1..=100).contains(&i.epochs),
            "lifecycle.incremental.epochs must be in 1..=100",
        )?;
        check(
            i.replay_per_new <= 100,
            "lifecycle.incremental.replay_per_new must be at most 100",
        )?;
        check(
            (0.0..=0.9).contains(&i.holdout),
            "lifecycle.incremental.holdout must be in [0, 0.9]",
        )?;
        let r = &self.retrain;
        check(
            (1..=10_000).contains(&r.max_epochs),
            "lifecycle.retrain.max_epochs must be in 1..=10000",
        )?;
        check(
            (1..=1000).contains(&r.patience),
            "lifecycle.retrain.patience must be in 1..=1000",
        )?;
        check(
            r.split.iter().all(|&p| (1..=1000).contains(&p)),
            "lifecycle.retrain.split parts must be in 1..=1000",
        )?;
        check(
            r.divergence.is_finite() && r.divergence > 1.0 && r.divergence <= 1000.0,
            "lifecycle.retrain.divergence must be in (1, 1000]",
        )?;
        self.gate.validate()?;
        self.ab.validate()?;
        self.monitor.validate()?;
        self.drift.page_hinkley.validate()?;
        self.drift.psi.validate()?;
        self.drift.guard.validate()?;
        self.schedule.validate()?;
        check(
            (1..=1000).contains(&self.keep_versions),
            "lifecycle.keep_versions must be in 1..=1000",
        )
    }
}

/// What a training run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Fine-tune or retrain.
    pub kind: VersionKind,
    /// The version created (`None` when the run was rejected).
    pub version: Option<u32>,
    /// Why the run was thrown away, if it was.
    pub rejected: Option<Rejection>,
    /// Samples used.
    pub data: Option<DataRange>,
    /// Epoch by epoch (`None` when the prior was chosen or the run was rejected early).
    pub log: Option<RunLog>,
    /// The network lost to the class prior on validation data, so the prior is the
    /// candidate.
    pub prior_chosen: bool,
    /// Candidate metrics on validation data.
    pub validation: Option<Metrics>,
    /// Candidate metrics on the held-out data.
    pub test: Option<Metrics>,
    /// The gate's comparison with the champion.
    pub gate: Option<GateCheck>,
    /// What became of the candidate.
    pub verdict: Option<Verdict>,
}

impl RunReport {
    /// A run of `kind` that has produced nothing yet.
    fn started(kind: VersionKind) -> Self {
        RunReport {
            kind,
            version: None,
            rejected: None,
            data: None,
            log: None,
            prior_chosen: false,
            validation: None,
            test: None,
            gate: None,
            verdict: None,
        }
    }
}

/// Champion (and challenger) measured on the newest held-out data, without training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Champion id.
    pub champion: u32,
    /// Its metrics on the newest `split[2]` share of the replay buffer.
    pub champion_metrics: Option<Metrics>,
    /// Challenger id.
    pub challenger: Option<u32>,
    /// Its metrics on the same samples.
    pub challenger_metrics: Option<Metrics>,
}

/// What `learn` did: the decision, and the run or evaluation that followed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnReport {
    /// The policy's decision and reason.
    pub decision: Decision,
    /// The training run, for incremental and retrain.
    pub run: Option<RunReport>,
    /// The evaluation, for eval.
    pub evaluation: Option<Evaluation>,
}

/// The drift detectors' state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Page-Hinkley statistic (alarm above `lambda`).
    pub page_hinkley: f64,
    /// Errors seen since the detector was last reset.
    pub page_hinkley_samples: u64,
    /// The largest PSI over the features, once the window is full.
    pub psi: Option<PsiSummary>,
    /// A detector has fired since the last retrain.
    pub drift: bool,
    /// Learning is paused by the extreme-input guard.
    pub paused: bool,
    /// Extreme inputs in the guard's window.
    pub extreme_inputs: u32,
}

/// The drift alarm a command raised: the detectors that fired while no drift was pending
/// (the `drift` flag of [`DriftReport`] was down), so one lasting shift is one alarm until a
/// retrain acts on it. Carried by the replies of the commands that feed the detectors
/// (`Opened`, `Closed`, `Observed`, and each trade a `Rank` opens).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DriftAlarm {
    /// The PSI of the window the entry's features made drift from the champion's training
    /// data (`drifted` is true).
    pub psi: Option<PsiSummary>,
    /// The Page-Hinkley test on the champion's errors fired (it restarts when it does).
    pub page_hinkley: bool,
}

impl DriftAlarm {
    /// The alarm of a command whose detectors gave `psi` and `page_hinkley`, if drift was
    /// not already pending before it (`was_pending`).
    pub(crate) fn raised(
        was_pending: bool,
        psi: Option<PsiSummary>,
        page_hinkley: bool,
    ) -> Option<Self> {
        (!was_pending && (psi.is_some() || page_hinkley)).then_some(Self { psi, page_hinkley })
    }
}

/// Version metadata, without weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Id.
    pub id: u32,
    /// Parent.
    pub parent: Option<u32>,
    /// How it was made.
    pub kind: VersionKind,
    /// Created at (ms since the Unix epoch).
    pub created_at: i64,
    /// Data used.
    pub data: Option<DataRange>,
    /// Validation metrics.
    pub validation: Option<Metrics>,
    /// Held-out metrics.
    pub test: Option<Metrics>,
    /// A network (`false`: the class prior).
    pub network: bool,
    /// It is the champion.
    pub champion: bool,
    /// It is the challenger.
    pub challenger: bool,
}

impl VersionInfo {
    fn of(v: &Version, r: &Registry) -> Self {
        VersionInfo {
            id: v.id,
            parent: v.parent,
            kind: v.kind,
            created_at: v.created_at,
            data: v.data,
            validation: v.validation,
            test: v.test,
            network: v.predictor.net().is_some(),
            champion: v.id == r.champion,
            challenger: Some(v.id) == r.challenger,
        }
    }
}

/// The signal model's lifecycle state.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    pub(crate) registry: Registry,
    pub(crate) monitor: Monitor,
    pub(crate) ab: Option<AbState>,
    pub(crate) page_hinkley: PageHinkley,
    pub(crate) psi: Option<PsiWindow>,
    pub(crate) guard: InputGuard,
    pub(crate) schedule: ScheduleState,
    /// A drift detector fired since the last retrain.
    pub(crate) drift: bool,
    /// When the last training run finished.
    pub(crate) last_update: Option<i64>,
    /// `replay.pushed()` at the last training run: experiences with `seq >=` this are new.
    pub(crate) trained_seq: u64,
    /// `replay.pushed()` at the last full retrain.
    pub(crate) retrained_seq: u64,
    pub(crate) ws: Workspace,
}

/// The engine's parts a training run needs.
pub(crate) struct Ctx<'a> {
    pub config: &'a LifecycleConfig,
    pub signal: &'a SignalConfig,
    pub replay: &'a ReplayBuffer,
    pub rng: &'a mut SplitMix64,
    pub now: i64,
}

impl Lifecycle {
    /// A lifecycle whose champion is version 1, the uniform prior.
    pub fn new(config: &LifecycleConfig, now: i64) -> Result<Self, Error> {
        Self::with_champion(config, Predictor::UNIFORM, VersionKind::Initial, now)
    }

    pub(crate) fn with_champion(
        config: &LifecycleConfig,
        first: Predictor,
        kind: VersionKind,
        now: i64,
    ) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self {
            registry: Registry::new(first, kind, now),
            monitor: Monitor::new(),
            ab: None,
            page_hinkley: PageHinkley::new(),
            psi: None,
            guard: InputGuard::new(&config.drift.guard)?,
            schedule: ScheduleState::new(now),
            drift: false,
            last_update: None,
            trained_seq: 0,
            retrained_seq: 0,
            ws: Workspace::default(),
        })
    }

    /// The versions.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The monitor.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// The running A/B test, if a challenger exists.
    pub fn ab(&self) -> Option<&AbState> {
        self.ab.as_ref()
    }

    /// When the schedule's jobs last ran.
    pub fn schedule(&self) -> &ScheduleState {
        &self.schedule
    }

    /// When the model was last trained.
    pub fn last_update(&self) -> Option<i64> {
        self.last_update
    }

    /// Experiences added since the last training run.
    pub fn new_samples(&self, replay: &ReplayBuffer) -> u32 {
        let n = replay.pushed().saturating_sub(self.trained_seq);
        n.min(replay.len() as u64) as u32
    }

    /// Version infos, oldest first.
    pub fn versions(&self) -> Vec<VersionInfo> {
        self.registry
            .versions()
            .iter()
            .map(|v| VersionInfo::of(v, &self.registry))
            .collect()
    }

    /// The drift detectors' state.
    pub fn drift_report(&self, config: &LifecycleConfig) -> DriftReport {
        let reference = self.registry.champion().reference.as_ref();
        DriftReport {
            page_hinkley: self.page_hinkley.statistic(),
            page_hinkley_samples: self.page_hinkley.count,
            psi: match (&self.psi, reference) {
                (Some(w), Some(r)) => w.check(r, &config.drift.psi),
                _ => None,
            },
            drift: self.drift,
            paused: self.guard.paused(&config.drift.guard),
            extreme_inputs: self.guard.extreme_count(),
        }
    }

    /// The A/B report, if a test is running.
    pub fn ab_report(&self, config: &LifecycleConfig) -> Option<AbReport> {
        self.ab.as_ref().map(|a| a.report(&config.ab))
    }

    /// Which arm decides trade `trade_id`, and that arm's version id.
    pub(crate) fn route(&self, config: &LifecycleConfig, trade_id: u64) -> (Arm, u32) {
        match &self.ab {
            Some(ab) => {
                let arm = ab.route(trade_id, &config.ab);
                (arm, ab.arm(arm).version)
            }
            None => (Arm::Champion, self.registry.champion),
        }
    }

    /// The prediction of version `id` (the champion if it is not retained).
    pub(crate) fn predict(&mut self, id: u32, features: &[f32]) -> Signal {
        let v = self.registry.get(id).unwrap_or(self.registry.champion());
        v.predictor.predict(&mut self.ws, features)
    }

    /// Whether a drift alarm is pending (raised, not yet acted on by a retrain).
    pub(crate) fn drift_pending(&self) -> bool {
        self.drift
    }

    /// Feeds an entry's features to the drift detectors and the extreme-input guard; the
    /// PSI summary if the window drifted.
    pub(crate) fn observe_input(
        &mut self,
        config: &LifecycleConfig,
        features: &[f32],
    ) -> Option<PsiSummary> {
        let champion = self.registry.champion();
        let mut drifted = None;
        if let (Some(w), Some(r)) = (&mut self.psi, &champion.reference) {
            w.push(r, features);
            drifted = w.check(r, &config.drift.psi).filter(|s| s.drifted);
            if drifted.is_some() {
                self.drift = true;
            }
        }
        if let Some(net) = champion.predictor.net() {
            let z = net.normalizer().z_scores(features);
            let extreme = drift::is_extreme(&z, &config.drift.guard);
            self.guard.push(&config.drift.guard, extreme);
        }
        drifted
    }

    /// Feeds a labelled outcome: the error stream, the monitor (for trades) and the A/B
    /// arms. True if the Page-Hinkley test on the champion's errors fired.
    pub(crate) fn outcome(
        &mut self,
        config: &LifecycleConfig,
        version: u32,
        signal: &Signal,
        actual: Outcome,
        trade: Option<(f64, f64)>,
        now: i64,
    ) -> bool {
        let error = if signal.class == actual { 0.0 } else { 1.0 };
        let fired = version == self.registry.champion
            && self.page_hinkley.update(&config.drift.page_hinkley, error);
        if fired {
            self.drift = true;
        }
        let Some((pnl, pnl_pct)) = trade else {
            return fired;
        };
        self.monitor.push(
            &config.monitor,
            Record {
                time: now,
                version,
                predicted: signal.class.index(),
                actual: actual.index(),
                score: signal.score,
                log_loss: signal::log_loss(&signal.probs, actual.index()),
                pnl,
                pnl_pct,
            },
        );
        if let Some(ab) = &mut self.ab {
            let arm = if version == ab.challenger.version {
                Some(Arm::Challenger)
            } else if version == ab.champion.version {
                Some(Arm::Champion)
            } else {
                None
            };
            if let Some(arm) = arm {
                ab.record(arm, actual == Outcome::Win, pnl_pct);
            }
            if ab.should_promote(&config.ab) {
                let challenger = ab.challenger.version;
                let r = ab.report(&config.ab);
                let p = [
                    r.win_rate_test.map(|t| t.p_value),
                    r.pnl_test.map(|t| t.p_value),
                ]
                .into_iter()
                .flatten()
                .fold(1.0f64, f64::min);
                if self
                    .registry
                    .promote(challenger, PromotionReason::AbTest { p_value: p }, now)
                    .is_ok()
                {
                    self.roles_changed(config, true, now);
                }
            }
        }
        fired
    }

    /// Gathers the facts and runs `learn` in `mode`.
    pub(crate) fn learn(&mut self, mode: LearnMode, ctx: Ctx<'_>) -> LearnReport {
        let champion = self.registry.champion();
        let facts = Facts {
            now: ctx.now,
            last_update: self.last_update,
            new_samples: self.new_samples(ctx.replay),
            since_retrain: ctx
                .replay
                .pushed()
                .saturating_sub(self.retrained_seq)
                .min(u64::from(u32::MAX)) as u32,
            total_samples: ctx.replay.len() as u32,
            baseline_accuracy: champion.test.map(|m| m.accuracy),
            recent_accuracy: self
                .monitor
                .recent_accuracy(ctx.config.policy.accuracy_window)
                .filter(|_| champion.test.is_some()),
            drift: self.drift,
            paused: self.guard.paused(&ctx.config.drift.guard),
            has_network: champion.predictor.net().is_some(),
        };
        let mut decision = policy::decide(mode, &facts, &ctx.config.policy);
        if decision.action == Action::Incremental && !facts.has_network {
            decision = Decision {
                action: Action::Retrain,
                reason: Reason::NoNetwork {
                    new: facts.new_samples,
                },
            };
        }
        let mut report = LearnReport {
            decision,
            run: None,
            evaluation: None,
        };
        match decision.action {
            Action::Skip => {}
            Action::Eval => report.evaluation = Some(self.evaluate(&ctx)),
            Action::Incremental => report.run = Some(self.fine_tune(ctx)),
            Action::Retrain => report.run = Some(self.retrain(ctx)),
        }
        report
    }

    /// Runs the scheduled jobs due at `ctx.now` (in schedule order) and marks them run.
    pub(crate) fn run_due(&mut self, ctx: Ctx<'_>) -> Vec<(Job, LearnReport)> {
        let due = self.schedule.due(&ctx.config.schedule, ctx.now);
        let mut out = Vec::with_capacity(due.len());
        for job in due {
            let mode = match job {
                Job::Incremental => LearnMode::Auto,
                Job::Retrain => LearnMode::Retrain,
                Job::Evaluation => LearnMode::Eval,
            };
            let report = self.learn(
                mode,
                Ctx {
                    config: ctx.config,
                    signal: ctx.signal,
                    replay: ctx.replay,
                    rng: &mut *ctx.rng,
                    now: ctx.now,
                },
            );
            if job == Job::Evaluation {
                self.registry
                    .retain(ctx.config.keep_versions, ctx.config.gate.metric, ctx.now);
            }
            self.schedule.mark_run(job, ctx.now);
            out.push((job, report));
        }
        out
    }

    /// Jobs due at `now`.
    pub fn due(&self, config: &LifecycleConfig, now: i64) -> Vec<Job> {
        self.schedule.due(&config.schedule, now)
    }

    /// Makes `id` champion by hand.
    pub(crate) fn promote(
        &mut self,
        config: &LifecycleConfig,
        id: u32,
        now: i64,
    ) -> Result<(), Error> {
        let new = id != self.registry.champion;
        self.registry.promote(id, PromotionReason::Manual, now)?;
        self.roles_changed(config, new, now);
        Ok(())
    }

    /// Rolls back to `to` (default: the previous champion).
    pub(crate) fn rollback(
        &mut self,
        config: &LifecycleConfig,
        to: Option<u32>,
        now: i64,
    ) -> Result<u32, Error> {
        let before = self.registry.champion;
        let id = self.registry.rollback(to, now)?;
        self.roles_changed(config, id != before, now);
        Ok(id)
    }

    /// After a change of champion or challenger: start or end the A/B test to match, and
    /// for a new champion restart the drift detectors against its reference.
    fn roles_changed(&mut self, config: &LifecycleConfig, new_champion: bool, now: i64) {
        let champion = self.registry.champion;
        self.ab = match (self.registry.challenger, self.ab.take()) {
            (Some(c), Some(ab))
                if ab.champion.version == champion && ab.challenger.version == c =>
            {
                Some(ab)
            }
            (Some(c), _) => Some(AbState::new(champion, c, now)),
            (None, _) => None,
        };
        if !new_champion {
            return;
        }
        // The error stream (Page-Hinkley) is the live system's and keeps running; the
        // feature distributions are compared with the new champion's training data.
        self.restart_psi(config);
        self.drift = false;
    }

    /// An empty PSI window against the champion's reference (none if it has none).
    fn restart_psi(&mut self, config: &LifecycleConfig) {
        self.psi = self
            .registry
            .champion()
            .reference
            .as_ref()
            .and_then(|r| PsiWindow::new(r, &config.drift.psi).ok());
    }

    fn evaluate(&mut self, ctx: &Ctx<'_>) -> Evaluation {
        let all = Data::from_replay(ctx.replay, &ctx.replay.by_age());
        let [_, _, test] = all.split(ctx.config.retrain.split);
        let champion = self.registry.champion;
        let challenger = self.registry.challenger;
        let champion_metrics = self
            .registry
            .champion()
            .predictor
            .evaluate(&mut self.ws, &test);
        let challenger_metrics = match self.registry.challenger() {
            Some(v) => v.predictor.evaluate(&mut self.ws, &test),
            None => None,
        };
        Evaluation {
            champion,
            champion_metrics,
            challenger,
            challenger_metrics,
        }
    }

    fn finish_run(&mut self, ctx: &Ctx<'_>) {
        self.last_update = Some(ctx.now);
        self.trained_seq = ctx.replay.pushed();
    }

    fn retrain(&mut self, ctx: Ctx<'_>) -> RunReport {
        let cfg = ctx.config;
        let mut slots = ctx.replay.by_age();
        if cfg.retrain.max_samples > 0 {
            let keep = cfg.retrain.max_samples as usize;
            slots.drain(..slots.len().saturating_sub(keep));
        }
        let all = Data::from_replay(ctx.replay, &slots);
        let mut report = RunReport::started(VersionKind::Retrain);
        // A retrain acts on a drift alarm whatever its outcome: the detectors restart, so
        // one alarm does not retrain on every sample that follows. The PSI window starts
        // empty too: if the candidate is held, the champion's reference stays, and a window
        // still full of the drifted inputs would raise the alarm again at once (a retrain
        // per sample); now the next alarm needs a full window of new inputs.
        if self.drift {
            self.drift = false;
            self.page_hinkley = PageHinkley::new();
            self.restart_psi(cfg);
        }
        self.finish_run(&ctx);
        self.retrained_seq = ctx.replay.pushed();
        if all.len() < 3 {
            report.rejected = Some(Rejection::NoData);
            self.registry
                .reject(VersionKind::Retrain, Rejection::NoData, ctx.now);
            return report;
        }
        let [train, validation, test] = all.split(cfg.retrain.split);
        let settings = RunSettings {
            optimizer: ctx.signal.optimizer,
            batch: ctx.signal.batch,
            epochs: cfg.retrain.max_epochs,
            patience: cfg.retrain.patience,
            divergence: cfg.retrain.divergence,
        };
        let (net, log) = match signal::retrain(
            ctx.signal,
            &train,
            &validation,
            &settings,
            ctx.rng,
            &mut self.ws,
        ) {
            Ok(x) => x,
            Err(why) => {
                report.rejected = Some(why);
                self.registry.reject(VersionKind::Retrain, why, ctx.now);
                return report;
            }
        };
        report.log = Some(log);
        let net = Predictor::Net(net);
        let prior = Predictor::prior_of(&train.y);
        let net_val = net.evaluate(&mut self.ws, &validation);
        let prior_val = prior.evaluate(&mut self.ws, &validation);
        let prior_wins = match (net_val, prior_val) {
            (Some(n), Some(p)) => p.log_loss < n.log_loss,
            _ => false,
        };
        let (candidate, val) = if prior_wins {
            (prior, prior_val)
        } else {
            (net, net_val)
        };
        report.prior_chosen = prior_wins;
        let reference = PsiReference::fit(&train.x, train.dim, cfg.drift.psi.bins as usize);
        self.submit(
            &ctx,
            &mut report,
            Version {
                id: 0,
                parent: Some(self.registry.champion),
                kind: VersionKind::Retrain,
                created_at: ctx.now,
                data: Some(DataRange {
                    from: all.range().map_or(0, |r| r.0),
                    to: all.range().map_or(0, |r| r.1),
                    train: train.len() as u32,
                    validation: validation.len() as u32,
                    test: test.len() as u32,
                }),
                validation: val,
                test: None,
                test_range: test.range(),
                predictor: candidate,
                reference,
            },
            &test,
        );
        report
    }

    fn fine_tune(&mut self, ctx: Ctx<'_>) -> RunReport {
        let cfg = ctx.config;
        let mut report = RunReport::started(VersionKind::Incremental);
        let champion = self.registry.champion();
        let (parent, test_range) = (champion.id, champion.test_range);
        let Some(net) = champion.predictor.net() else {
            report.rejected = Some(Rejection::NoData);
            return report;
        };
        // Date order; the champion's held-out range is never trained on.
        let since = self.trained_seq;
        let (from, to) = test_range.unwrap_or((i64::MAX, i64::MIN));
        let (mut new_slots, mut old, mut held_slots) = (Vec::new(), Vec::new(), Vec::new());
        for s in ctx.replay.by_age() {
            let Some(e) = ctx.replay.get(s) else { continue };
            if (from..=to).contains(&e.time) {
                held_slots.push(s);
            } else if e.seq >= since {
                new_slots.push(s);
            } else {
                old.push(s);
            }
        }
        // The newest `holdout` share of the new samples is kept for the gate too.
        let held = (new_slots.len() as f32 * cfg.incremental.holdout) as usize;
        held_slots.extend(new_slots.drain(new_slots.len() - held..));
        // Each remaining new sample is mixed with `replay_per_new` old ones drawn uniformly.
        let k_old = new_slots.len() * cfg.incremental.replay_per_new as usize;
        ctx.rng.shuffle_prefix(&mut old, k_old);
        old.truncate(k_old);
        new_slots.extend_from_slice(&old);
        let learn = Data::from_replay(ctx.replay, &new_slots);
        let test = Data::from_replay(ctx.replay, &held_slots);
        let settings = RunSettings {
            optimizer: crate::nn::OptimConfig {
                lr: ctx.signal.optimizer.lr * cfg.incremental.lr_scale,
                ..ctx.signal.optimizer
            },
            batch: ctx.signal.batch,
            epochs: cfg.incremental.epochs,
            patience: 0,
            divergence: cfg.retrain.divergence,
        };
        let tuned = signal::fine_tune(net, &learn, &settings, ctx.rng, &mut self.ws);
        let reference = self.registry.champion().reference.clone();
        self.finish_run(&ctx);
        let (tuned, log) = match tuned {
            Ok(x) => x,
            Err(why) => {
                report.rejected = Some(why);
                self.registry.reject(VersionKind::Incremental, why, ctx.now);
                return report;
            }
        };
        report.log = Some(log);
        let range = learn
            .times
            .iter()
            .chain(&test.times)
            .fold(None, |r: Option<(i64, i64)>, &t| {
                Some(r.map_or((t, t), |(a, b)| (a.min(t), b.max(t))))
            });
        self.submit(
            &ctx,
            &mut report,
            Version {
                id: 0,
                parent: Some(parent),
                kind: VersionKind::Incremental,
                created_at: ctx.now,
                data: range.map(|(from, to)| DataRange {
                    from,
                    to,
                    train: learn.len() as u32,
                    validation: 0,
                    test: test.len() as u32,
                }),
                validation: None,
                test: None,
                test_range,
                predictor: Predictor::Net(tuned),
                reference,
            },
            &test,
        );
        report
    }

    /// Measures the candidate and the champion on `test`, applies the gate and files the
    /// candidate.
    fn submit(&mut self, ctx: &Ctx<'_>, report: &mut RunReport, mut v: Version, test: &Data) {
        let cfg = ctx.config;
        let candidate = v.predictor.evaluate(&mut self.ws, test);
        let champion = self
            .registry
            .champion()
            .predictor
            .evaluate(&mut self.ws, test);
        let gate = match (candidate, champion) {
            (Some(c), Some(k)) => Some(cfg.gate.check(c, k)),
            _ => None,
        };
        v.test = candidate;
        report.validation = v.validation;
        report.test = candidate;
        report.data = v.data;
        report.gate = gate;
        let (id, verdict) = self.registry.submit(v, gate, ctx.now);
        report.version = Some(id);
        report.verdict = Some(verdict);
        match verdict {
            Verdict::Promoted => self.roles_changed(cfg, true, ctx.now),
            Verdict::Challenger => self.roles_changed(cfg, false, ctx.now),
            Verdict::Held => {}
        }
        self.registry
            .retain(cfg.keep_versions, cfg.gate.metric, ctx.now);
    }

    /// The invariants a restored lifecycle must meet.
    pub(crate) fn is_consistent(&self, config: &LifecycleConfig) -> bool {
        let reference = self.registry.champion().reference.as_ref();
        self.registry.is_consistent()
            && self.monitor.is_consistent(&config.monitor)
            && self.ab.as_ref().is_none_or(AbState::is_consistent)
            && self.page_hinkley.is_consistent()
            && match (&self.psi, reference) {
                (Some(w), Some(r)) => w.is_consistent(r),
                (Some(_), None) => false,
                (None, _) => true,
            }
            && self.guard.is_consistent()
    }
}
