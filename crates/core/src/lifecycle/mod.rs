//! The model lifecycle: what the engine serves, how it keeps learning for months without
//! supervision, and why a model that lost never trades.
//!
//! [`Lifecycle`] owns everything behind the signal forecast:
//!
//! - [`mixture`]: the served forecast, a prequential mixture of [`experts`] (the priors, the
//!   linear learner, the online network, the champion, and those pooled with the prior),
//!   with its proven regret bound against each expert.
//! - the **online network** ([`crate::learners::OnlineLearner`]): one network that learns
//!   from every revealed label with a persistent optimiser.
//! - [`registry`]: versions (snapshots of the online network, full retrains), the champion,
//!   rollback, retention, audit.
//! - [`trial`]: the gate. A candidate is tried against the champion on labels neither has
//!   learned, with a sample size fixed in advance; a tie never promotes. [`ab`] optionally
//!   routes trades to the candidate during its trial.
//! - [`policy`]: when a snapshot or a full retrain is made. Retrains are rare and spread
//!   over many commands ([`crate::learners::training`]).
//! - [`monitor`], [`drift`], [`schedule`], [`stats`]: monitoring, drift detection, the
//!   training schedule, significance tests.

pub mod ab;
pub mod drift;
pub mod experts;
pub mod mixture;
pub mod monitor;
pub mod policy;
pub mod registry;
pub mod reports;
pub mod schedule;
pub mod stats;
pub mod trial;

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, check};
use crate::learners::signal::{Data, Metrics, Predictor, Rejection, RunSettings, signal_from};
use crate::learners::training::{Progress, Training};
use crate::learners::{OnlineConfig, OnlineLearner, SignalConfig};
use crate::nn::Workspace;
use crate::replay::ReplayBuffer;
use crate::rng::SplitMix64;
use crate::vocab::{Outcome, Signal};

use ab::{AbConfig, Arm};
use drift::{
    GuardConfig, InputGuard, PageHinkley, PageHinkleyConfig, PsiConfig, PsiReference, PsiSummary,
    PsiWindow,
};
use experts::Experts;
use mixture::{Awaiting, ExpertProbs, Mixture, MixtureConfig, Pending};
use monitor::{Monitor, MonitorConfig, Record};
use policy::{Action, Decision, Facts, LearnMode, PolicyConfig, Reason};
use registry::{DataRange, Registry, Verdict, Version, VersionKind};
use schedule::{Job, ScheduleConfig, ScheduleState};
use trial::{GateConfig, Trial};

pub use reports::{
    DriftAlarm, DriftReport, Evaluation, ExpertScore, LearnReport, MixtureReport, RetrainStatus,
    RunReport, TrialEnd, TrialStatus, VersionInfo,
};

/// Full retrain settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct RetrainConfig {
    /// Most epochs (default 30; 1..=10000).
    pub max_epochs: u32,
    /// Epochs without a better validation loss before stopping (default 4; 1..=1000).
    pub patience: u32,
    /// Date-ordered train / validation / test proportions (default 5:3:2; each >= 1).
    pub split: [u32; 3],
    /// Train on the newest this many samples of the replay buffer (default 5,000; 0: all).
    pub max_samples: u32,
    /// Samples left out between the train and validation ranges and between the validation
    /// and test ranges, so that overlapping label horizons do not leak (default 12, the W6
    /// label horizon; 0..=100,000).
    pub embargo: u32,
    /// A training loss above this multiple of the starting loss rejects the run
    /// (default 4; in (1, 1000]).
    pub divergence: f32,
    /// Rows of training work done per command while an automatic retrain runs (default
    /// 4,096; 64..=100,000,000): the retrain's cost is spread over the labels that follow.
    pub rows_per_call: u32,
}

impl Default for RetrainConfig {
    fn default() -> Self {
        Self {
            max_epochs: 30,
            patience: 4,
            split: [5, 3, 2],
            max_samples: 5_000,
            embargo: 12,
            divergence: 4.0,
            rows_per_call: 4_096,
        }
    }
}

/// Drift detection settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct DriftConfig {
    /// Page-Hinkley test on the served forecast's 0/1 error stream.
    pub page_hinkley: PageHinkleyConfig,
    /// Population stability index of recent inputs against the champion's training data.
    pub psi: PsiConfig,
    /// Extreme-input guard (z-scores under the champion network's statistics, or the online
    /// network's while the champion is a class prior).
    pub guard: GuardConfig,
}

/// Everything configurable about the lifecycle. Every field has a documented default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct LifecycleConfig {
    /// When a snapshot or a retrain is made.
    pub policy: PolicyConfig,
    /// The online network.
    pub online: OnlineConfig,
    /// Full retrains.
    pub retrain: RetrainConfig,
    /// The promotion gate (trials).
    pub gate: GateConfig,
    /// The served mixture and its experts.
    pub mixture: MixtureConfig,
    /// A/B routing of trades during a trial (off by default).
    pub ab: AbConfig,
    /// Monitoring.
    pub monitor: MonitorConfig,
    /// Drift detection.
    pub drift: DriftConfig,
    /// The training schedule hosts follow.
    pub schedule: ScheduleConfig,
    /// Versions retained besides champion, candidate and best (default 5; 1..=1000).
    pub keep_versions: u32,
    /// Learn from every closed trade or observation: the experts, the mixture's experts and
    /// the automatic policy (default true). With `false` labels are still scored and fed to
    /// monitoring and drift detection, and only `Learn` / `RunDue` make versions.
    pub learn_on_close: bool,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            policy: PolicyConfig::default(),
            online: OnlineConfig::default(),
            retrain: RetrainConfig::default(),
            gate: GateConfig::default(),
            mixture: MixtureConfig::default(),
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
        self.online.validate()?;
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
            r.embargo <= 100_000,
            "lifecycle.retrain.embargo must be at most 100000",
        )?;
        check(
            r.divergence.is_finite() && r.divergence > 1.0 && r.divergence <= 1000.0,
            "lifecycle.retrain.divergence must be in (1, 1000]",
        )?;
        check(
            (64..=100_000_000).contains(&r.rows_per_call),
            "lifecycle.retrain.rows_per_call must be in 64..=100000000",
        )?;
        self.gate.validate()?;
        self.mixture.validate()?;
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

/// A full retrain in progress. Persisted.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrain {
    /// The training run.
    pub(crate) run: Training,
    /// Its held-out test rows.
    pub(crate) test: Data,
    /// The samples it was given.
    pub(crate) range: DataRange,
    /// Replay sequence number after its newest validation sample.
    pub(crate) trained_through: u64,
    /// Why it started.
    pub(crate) reason: Reason,
    /// When it started.
    pub(crate) started_at: i64,
}

impl Retrain {
    fn status(&self) -> RetrainStatus {
        let (t, v) = self.run.rows();
        RetrainStatus {
            started_at: self.started_at,
            reason: self.reason,
            epochs: self.run.log().epochs,
            rows: [t as u32, v as u32],
        }
    }
}

/// A revealed trade's outcome, for monitoring and the A/B arms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TradeOutcome {
    pub pnl: f64,
    pub pnl_pct: f64,
    pub version: u32,
    pub arm: Arm,
}

/// What a revealed label did.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Revealed {
    /// The mixture's forecast for the row, as served.
    pub signal: Signal,
    /// The Page-Hinkley test fired.
    pub page_hinkley: bool,
    /// A trial that ended.
    pub trial: Option<TrialEnd>,
    /// A version made, or a retrain started.
    pub learned: Option<LearnReport>,
}

/// The signal model's lifecycle state.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    pub(crate) registry: Registry,
    pub(crate) trial: Option<Trial>,
    pub(crate) experts: Experts,
    pub(crate) online: OnlineLearner,
    pub(crate) mixture: Mixture,
    pub(crate) retrain: Option<Retrain>,
    pub(crate) monitor: Monitor,
    pub(crate) page_hinkley: PageHinkley,
    pub(crate) psi: Option<PsiWindow>,
    pub(crate) guard: InputGuard,
    pub(crate) schedule: ScheduleState,
    /// A drift detector fired since the last retrain.
    pub(crate) drift: bool,
    /// When a version was last made.
    pub(crate) last_update: Option<i64>,
    /// Labels revealed (and learned) so far.
    pub(crate) labels: u64,
    /// `labels` at the last snapshot.
    pub(crate) snapshot_at: u64,
    /// `labels` when the last retrain started.
    pub(crate) retrain_at: u64,
    /// `labels` when the last drift-started retrain started.
    pub(crate) drift_retrain_at: Option<u64>,
    /// The version retention keeps as the best.
    pub(crate) best: Option<u32>,
}

/// The engine's parts a lifecycle step needs.
pub(crate) struct Ctx<'a> {
    pub config: &'a LifecycleConfig,
    pub signal: &'a SignalConfig,
    pub replay: &'a ReplayBuffer,
    pub rng: &'a mut SplitMix64,
    pub ws: &'a mut Workspace,
    pub now: i64,
}

impl Lifecycle {
    /// A lifecycle whose champion is version 1, the uniform prior, with an untrained online
    /// network of `signal`'s shape (hidden weights drawn from `rng`).
    pub(crate) fn new(
        config: &LifecycleConfig,
        signal: &SignalConfig,
        features: u32,
        rng: &mut SplitMix64,
        now: i64,
    ) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self {
            registry: Registry::new(Predictor::UNIFORM, VersionKind::Initial, now),
            trial: None,
            experts: Experts::new(features as usize),
            online: OnlineLearner::new(signal, &config.online, features, rng)?,
            mixture: Mixture::new(),
            retrain: None,
            monitor: Monitor::new(),
            page_hinkley: PageHinkley::new(),
            psi: None,
            guard: InputGuard::new(&config.drift.guard)?,
            schedule: ScheduleState::new(now),
            drift: false,
            last_update: None,
            labels: 0,
            snapshot_at: 0,
            retrain_at: 0,
            drift_retrain_at: None,
            best: None,
        })
    }

    /// The versions.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The candidate on trial.
    pub fn trial(&self) -> Option<&Trial> {
        self.trial.as_ref()
    }

    /// The priors and the linear learner.
    pub fn experts(&self) -> &Experts {
        &self.experts
    }

    /// The online network.
    pub fn online(&self) -> &OnlineLearner {
        &self.online
    }

    /// The served mixture's state.
    pub fn mixture(&self) -> &Mixture {
        &self.mixture
    }

    /// The monitor.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// When the schedule's jobs last ran.
    pub fn schedule(&self) -> &ScheduleState {
        &self.schedule
    }

    /// When a version was last made.
    pub fn last_update(&self) -> Option<i64> {
        self.last_update
    }

    /// Labels revealed so far.
    pub fn labels(&self) -> u64 {
        self.labels
    }

    /// Labels since the last version was made.
    pub fn new_samples(&self) -> u32 {
        let since = self.snapshot_at.max(self.retrain_at);
        self.labels.saturating_sub(since).min(u64::from(u32::MAX)) as u32
    }

    /// The running retrain, if any.
    pub fn retrain_status(&self) -> Option<RetrainStatus> {
        self.retrain.as_ref().map(Retrain::status)
    }

    /// The version retention keeps as the best.
    pub fn best(&self) -> Option<u32> {
        self.best
    }

    /// Version infos, oldest first.
    pub fn versions(&self) -> Vec<VersionInfo> {
        self.registry
            .versions()
            .iter()
            .map(|v| VersionInfo::of(v, &self.registry, self.best))
            .collect()
    }

    /// The served mixture, scored so far.
    pub fn mixture_report(&self, config: &LifecycleConfig) -> MixtureReport {
        MixtureReport::of(&self.mixture, &config.mixture)
    }

    /// The running trial.
    pub fn trial_status(&self, config: &LifecycleConfig) -> Option<TrialStatus> {
        self.trial.as_ref().map(|t| TrialStatus {
            candidate: t.candidate,
            champion: t.champion,
            started_at: t.started_at,
            embargo_left: t.skip,
            target_rows: config.gate.trial,
            interim: t.result(&config.gate, &config.ab),
            ab: t.ab.as_ref().map(|a| a.report(&config.ab)),
        })
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

    /// Which arm serves trade `trade_id`, and the version in the champion's place on it.
    pub(crate) fn route(&self, config: &LifecycleConfig, trade_id: u64) -> (Arm, u32) {
        match self.trial.as_ref().and_then(|t| t.ab.as_ref()) {
            Some(arms) if config.ab.enabled => {
                let arm = arms.route(trade_id, &config.ab);
                (arm, arms.version(arm))
            }
            _ => (Arm::Champion, self.registry.champion),
        }
    }

    /// Every expert's forecast for a validated feature vector, with `version` in the
    /// champion's place (the champion if it is not retained).
    pub(crate) fn expert_probs(
        &self,
        config: &LifecycleConfig,
        version: u32,
        x: &[f32],
        ws: &mut Workspace,
    ) -> ExpertProbs {
        let champion = self
            .registry
            .get(version)
            .unwrap_or(self.registry.champion());
        self.experts.predict(
            &config.mixture,
            &self.online.net,
            &champion.predictor,
            x,
            ws,
        )
    }

    /// The forecast served now for `probs`: the mixture of the copy the next forecast is
    /// served from.
    pub(crate) fn mix(&self, config: &LifecycleConfig, probs: &ExpertProbs) -> Signal {
        let w = self.mixture.serving_weights(&config.mixture);
        signal_from(mixture::mix(&w, probs).map(|p| p as f32))
    }

    /// Registers a served forecast until its label comes.
    pub(crate) fn register(
        &mut self,
        config: &LifecycleConfig,
        awaiting: Awaiting,
        probs: ExpertProbs,
    ) {
        self.mixture.register(&config.mixture, awaiting, probs);
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
            if w.due() {
                drifted = w.check(r, &config.drift.psi).filter(|s| s.drifted);
            }
            if drifted.is_some() {
                self.drift = true;
            }
        }
        // The champion network's statistics (frozen since its training), or, while the
        // champion is a class prior, the online network's.
        let norm = champion
            .predictor
            .net()
            .map_or(&self.online.net.norm, |n| &n.norm);
        if norm.count() >= 2 {
            let z = norm.z_scores(features);
            let extreme = drift::is_extreme(&z, &config.drift.guard);
            self.guard.push(&config.drift.guard, extreme);
        }
        drifted
    }

    /// A label is revealed for features `x`: the forecast served for it (`served`, or one
    /// made now) is scored, the mixture's weights move, the trial scores both models,
    /// monitoring and drift detection take it in, the experts learn it, and the policy may
    /// make a version.
    pub(crate) fn reveal(
        &mut self,
        mut ctx: Ctx<'_>,
        x: &[f32],
        actual: Outcome,
        served: Option<Pending>,
        trade: Option<TradeOutcome>,
    ) -> Revealed {
        let cfg = ctx.config;
        let class = actual.index();
        let now_probs = match served {
            Some(_) => [[0.0; 3]; mixture::EXPERTS],
            None => self.expert_probs(cfg, self.registry.champion, x, ctx.ws),
        };
        let probs = self.mixture.reveal(&cfg.mixture, served, &now_probs, class);
        let signal = signal_from(probs);
        let error = if signal.class == actual { 0.0 } else { 1.0 };
        let page_hinkley = self.page_hinkley.update(&cfg.drift.page_hinkley, error);
        if page_hinkley {
            self.drift = true;
        }
        if let Some(t) = trade {
            let log_loss = crate::learners::signal::log_loss(&signal.probs, class);
            self.monitor.push(
                &cfg.monitor,
                Record {
                    time: ctx.now,
                    version: t.version,
                    predicted: signal.class.index(),
                    actual: class,
                    score: signal.score,
                    log_loss,
                    pnl: t.pnl,
                    pnl_pct: t.pnl_pct,
                },
            );
            if let Some(arms) = self.trial.as_mut().and_then(|t| t.ab.as_mut()) {
                arms.record(
                    t.arm,
                    actual == Outcome::Win,
                    t.pnl_pct,
                    f64::from(log_loss),
                );
            }
        }
        let trial = self.score_trial(&mut ctx, x, class);
        let mut learned = None;
        if cfg.learn_on_close && !self.guard.paused(&cfg.drift.guard) {
            self.experts.learn(&cfg.mixture, x, class);
            self.online
                .learn(&cfg.online, x, class, ctx.replay, ctx.rng, ctx.ws);
            self.labels += 1;
            learned = self.auto_learn(ctx);
        }
        Revealed {
            signal,
            page_hinkley,
            trial,
            learned,
        }
    }

    /// Scores the trial on a revealed row and ends it when its sample is complete.
    fn score_trial(&mut self, ctx: &mut Ctx<'_>, x: &[f32], class: u8) -> Option<TrialEnd> {
        let cfg = ctx.config;
        let t = self.trial.as_ref()?;
        let (candidate, champion) = (t.candidate, t.champion);
        let score = |id: u32, ws: &mut Workspace| {
            let p = self.registry.get(id).map(|v| v.predictor.predict(ws, x))?;
            let loss = -libm::log(f64::from(p.probs[usize::from(class)]));
            Some((loss, p.class.index() == class))
        };
        let a = score(candidate, ctx.ws)?;
        let b = score(champion, ctx.ws)?;
        let t = self.trial.as_mut()?;
        t.score(&cfg.gate, a, b);
        if !t.complete(&cfg.gate, &cfg.ab) {
            return None;
        }
        let result = t.result(&cfg.gate, &cfg.ab);
        self.trial = None;
        let verdict = self.registry.conclude_trial(result, ctx.now)?;
        if verdict == Verdict::Promoted {
            self.champion_changed(cfg);
        }
        self.best = self.best_version(cfg, ctx.replay, ctx.ws).or(self.best);
        self.registry.retain(cfg.keep_versions, self.best, ctx.now);
        Some(TrialEnd {
            candidate,
            verdict,
            result,
        })
    }

    /// The policy after a label: advance a running retrain, or make a version if due.
    fn auto_learn(&mut self, mut ctx: Ctx<'_>) -> Option<LearnReport> {
        let cfg = ctx.config;
        if let Some(reason) = self.retrain.as_ref().map(|r| r.reason) {
            let run = self.advance_retrain(&mut ctx, u64::from(cfg.retrain.rows_per_call))?;
            let decision = Decision {
                action: Action::Retrain,
                reason,
            };
            return Some(LearnReport {
                decision,
                run: Some(run),
                retrain: None,
                evaluation: None,
            });
        }
        let decision = policy::decide(LearnMode::Auto, &self.facts(&ctx), &cfg.policy);
        match decision.action {
            Action::Skip | Action::Eval => None,
            Action::Incremental => Some(LearnReport {
                decision,
                run: Some(self.snapshot(&ctx)),
                retrain: None,
                evaluation: None,
            }),
            Action::Retrain => Some(self.start_retrain(&mut ctx, decision, false)),
        }
    }

    fn facts(&self, ctx: &Ctx<'_>) -> Facts {
        let since = |at: u64| self.labels.saturating_sub(at).min(u64::from(u32::MAX)) as u32;
        Facts {
            since_snapshot: since(self.snapshot_at),
            since_retrain: since(self.retrain_at),
            since_drift_retrain: self.drift_retrain_at.map(since),
            samples: ctx.replay.len() as u32,
            drift: self.drift,
            paused: self.guard.paused(&ctx.config.drift.guard),
            trial: self.trial.as_ref().map(|t| t.candidate),
            retraining: self.retrain.is_some(),
        }
    }

    /// `learn` in `mode`, asked for by a command. A forced retrain runs to the end.
    pub(crate) fn learn(&mut self, mode: LearnMode, mut ctx: Ctx<'_>) -> LearnReport {
        let decision = policy::decide(mode, &self.facts(&ctx), &ctx.config.policy);
        let mut report = LearnReport {
            decision,
            run: None,
            retrain: None,
            evaluation: None,
        };
        match decision.action {
            Action::Skip => {}
            Action::Eval => report.evaluation = Some(self.evaluate(&mut ctx)),
            Action::Incremental => report.run = Some(self.snapshot(&ctx)),
            Action::Retrain => {
                let forced = mode == LearnMode::Retrain;
                report = self.start_retrain(&mut ctx, decision, forced);
            }
        }
        report
    }

    /// Runs the scheduled jobs due at `ctx.now` (in schedule order) and marks them run.
    pub(crate) fn run_due(&mut self, ctx: Ctx<'_>) -> Vec<(Job, LearnReport)> {
        let due = self.schedule.due(&ctx.config.schedule, ctx.now);
        let mut out = Vec::with_capacity(due.len());
        for job in due {
            let mode = match job {
                Job::Incremental => LearnMode::Incremental,
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
                    ws: &mut *ctx.ws,
                    now: ctx.now,
                },
            );
            if job == Job::Evaluation {
                self.registry
                    .retain(ctx.config.keep_versions, self.best, ctx.now);
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
        let before = self.registry.champion;
        self.registry.promote(id, now)?;
        self.roles_changed(config, before);
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
        self.roles_changed(config, before);
        Ok(id)
    }

    /// After a promotion or rollback by hand: the trial ends if the registry cut it, and a
    /// new champion restarts the drift detectors against its reference.
    fn roles_changed(&mut self, config: &LifecycleConfig, before: u32) {
        if self.registry.challenger.is_none() {
            self.trial = None;
        }
        if self.registry.champion != before {
            self.champion_changed(config);
        }
    }

    /// A new champion: the feature distributions are compared with its training data (the
    /// error stream, Page-Hinkley, is the served forecast's and keeps running).
    fn champion_changed(&mut self, config: &LifecycleConfig) {
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

    /// The newest `n` samples of the replay buffer with `seq >= from`, in date order.
    fn newest(replay: &ReplayBuffer, n: usize, from: u64) -> Data {
        let mut slots: Vec<usize> = replay
            .by_age()
            .into_iter()
            .filter(|&s| replay.get(s).is_some_and(|e| e.seq >= from))
            .collect();
        slots.drain(..slots.len().saturating_sub(n));
        Data::from_replay(replay, &slots)
    }

    /// Starts a new version's trial against the champion (a trial already running ends
    /// with its candidate held).
    fn start_trial(&mut self, ctx: &Ctx<'_>, id: u32) {
        let cfg = ctx.config;
        self.registry.start_trial(id, ctx.now);
        self.trial = Some(Trial::new(
            id,
            self.registry.champion,
            ctx.now,
            &cfg.gate,
            &cfg.ab,
        ));
        self.last_update = Some(ctx.now);
        self.registry.retain(cfg.keep_versions, self.best, ctx.now);
    }

    /// Makes a version of the online network as it is now and puts it on trial.
    fn snapshot(&mut self, ctx: &Ctx<'_>) -> RunReport {
        let cfg = ctx.config;
        let net = self.online.net.clone();
        let recent = Self::newest(ctx.replay, cfg.gate.trial as usize, 0);
        let reference = PsiReference::fit(&recent.x, recent.dim, cfg.drift.psi.bins as usize);
        let data = recent.range().map(|(from, to)| DataRange {
            from,
            to,
            train: self.online.seen().min(u64::from(u32::MAX)) as u32,
            validation: 0,
            test: 0,
        });
        let id = self.registry.add(Version {
            id: 0,
            parent: Some(self.registry.champion),
            kind: VersionKind::Online,
            created_at: ctx.now,
            data,
            validation: None,
            test: None,
            trained_through: ctx.replay.pushed(),
            trial: None,
            predictor: Predictor::Net(net),
            reference,
        });
        self.snapshot_at = self.labels;
        self.start_trial(ctx, id);
        RunReport {
            version: Some(id),
            data,
            verdict: Some(Verdict::OnTrial),
            ..RunReport::started(VersionKind::Online)
        }
    }

    /// Starts a retrain on the newest samples; `to_end` runs it to completion now, else the
    /// first slice runs and the rest follows the next labels.
    fn start_retrain(
        &mut self,
        ctx: &mut Ctx<'_>,
        decision: Decision,
        to_end: bool,
    ) -> LearnReport {
        let cfg = ctx.config;
        let mut report = LearnReport {
            decision,
            run: None,
            retrain: None,
            evaluation: None,
        };
        // A retrain acts on a drift alarm whatever its outcome: the detectors restart, so
        // one alarm does not start a retrain on every sample that follows.
        if self.drift {
            self.drift = false;
            self.page_hinkley = PageHinkley::new();
            self.restart_psi(cfg);
        }
        if self.retrain.is_none() {
            self.retrain_at = self.labels;
            if decision.reason == Reason::Drift {
                self.drift_retrain_at = Some(self.labels);
            }
            match self.new_retrain(ctx, decision.reason) {
                Ok(r) => self.retrain = Some(r),
                Err(why) => {
                    self.registry.reject(VersionKind::Retrain, why, ctx.now);
                    report.run = Some(RunReport {
                        rejected: Some(why),
                        ..RunReport::started(VersionKind::Retrain)
                    });
                    return report;
                }
            }
        }
        let budget = if to_end {
            u64::MAX
        } else {
            u64::from(cfg.retrain.rows_per_call)
        };
        report.run = self.advance_retrain(ctx, budget);
        report.retrain = self.retrain_status();
        report
    }

    /// The data of a new retrain: the newest `max_samples`, split by date into train,
    /// validation and test with `embargo` samples left out between the ranges.
    fn new_retrain(&self, ctx: &mut Ctx<'_>, reason: Reason) -> Result<Retrain, Rejection> {
        let rc = &ctx.config.retrain;
        let mut slots = ctx.replay.by_age();
        if rc.max_samples > 0 {
            slots.drain(..slots.len().saturating_sub(rc.max_samples as usize));
        }
        let e = rc.embargo as usize;
        let n = slots.len();
        let usable = n.saturating_sub(2 * e);
        let total: u64 = rc.split.iter().map(|&p| u64::from(p)).sum();
        let a = (usable as u64 * u64::from(rc.split[0]) / total) as usize;
        let b = a + (usable as u64 * u64::from(rc.split[1]) / total) as usize;
        if a == 0 || b == a || usable == b {
            return Err(Rejection::NoData);
        }
        let train = Data::from_replay(ctx.replay, &slots[..a]);
        let validation = Data::from_replay(ctx.replay, &slots[a + e..b + e]);
        let test = Data::from_replay(ctx.replay, &slots[b + 2 * e..]);
        let trained_through = ctx.replay.get(slots[b + e - 1]).map_or(0, |r| r.seq + 1);
        let range = DataRange {
            from: train.range().map_or(0, |r| r.0),
            to: test.range().map_or(0, |r| r.1),
            train: train.len() as u32,
            validation: validation.len() as u32,
            test: test.len() as u32,
        };
        let settings = RunSettings {
            optimizer: ctx.signal.optimizer,
            batch: ctx.signal.batch,
            epochs: rc.max_epochs,
            patience: rc.patience,
            divergence: rc.divergence,
        };
        Ok(Retrain {
            run: Training::new(ctx.signal, settings, train, validation, ctx.rng)?,
            test,
            range,
            trained_through,
            reason,
            started_at: ctx.now,
        })
    }

    /// Advances the running retrain by `budget` rows of work; its report once it is done.
    fn advance_retrain(&mut self, ctx: &mut Ctx<'_>, budget: u64) -> Option<RunReport> {
        let r = self.retrain.as_mut()?;
        let net = match r.run.advance(budget, ctx.ws) {
            Progress::Running => return None,
            Progress::Rejected(why) => {
                let log = r.run.log().clone();
                self.retrain = None;
                self.registry.reject(VersionKind::Retrain, why, ctx.now);
                return Some(RunReport {
                    rejected: Some(why),
                    log: Some(log),
                    ..RunReport::started(VersionKind::Retrain)
                });
            }
            Progress::Done(net) => net,
        };
        let r = self.retrain.take()?;
        let cfg = ctx.config;
        let net = Predictor::Net(net);
        let prior = Predictor::prior_of(&r.run.train.y);
        let net_val = net.evaluate(ctx.ws, &r.run.validation);
        let prior_val = prior.evaluate(ctx.ws, &r.run.validation);
        let prior_wins = match (net_val, prior_val) {
            (Some(n), Some(p)) => p.log_loss < n.log_loss,
            _ => false,
        };
        let (candidate, validation) = if prior_wins {
            (prior, prior_val)
        } else {
            (net, net_val)
        };
        let test = candidate.evaluate(ctx.ws, &r.test);
        // A class prior reads no features, so their drift says nothing about it: no PSI
        // reference (and no PSI alarm while it is champion).
        let reference = (!prior_wins)
            .then(|| {
                PsiReference::fit(&r.run.train.x, r.run.train.dim, cfg.drift.psi.bins as usize)
            })
            .flatten();
        let id = self.registry.add(Version {
            id: 0,
            parent: Some(self.registry.champion),
            kind: VersionKind::Retrain,
            created_at: ctx.now,
            data: Some(r.range),
            validation,
            test,
            trained_through: r.trained_through,
            trial: None,
            predictor: candidate,
            reference,
        });
        self.start_trial(ctx, id);
        Some(RunReport {
            kind: VersionKind::Retrain,
            version: Some(id),
            rejected: None,
            data: Some(r.range),
            log: Some(r.run.log().clone()),
            prior_chosen: prior_wins,
            validation,
            test,
            verdict: Some(Verdict::OnTrial),
        })
    }

    /// Champion and candidate on the newest samples, the best version, the mixture.
    fn evaluate(&mut self, ctx: &mut Ctx<'_>) -> Evaluation {
        let cfg = ctx.config;
        let recent = Self::newest(ctx.replay, cfg.gate.trial as usize, 0);
        let metrics = |v: Option<&Version>, ws: &mut Workspace| -> Option<Metrics> {
            v?.predictor.evaluate(ws, &recent)
        };
        self.best = self.best_version(cfg, ctx.replay, ctx.ws).or(self.best);
        Evaluation {
            champion: self.registry.champion,
            champion_metrics: metrics(Some(self.registry.champion()), ctx.ws),
            challenger: self.registry.challenger,
            challenger_metrics: metrics(self.registry.challenger(), ctx.ws),
            best: self.best,
            mixture: self.mixture_report(cfg),
        }
    }

    /// The retained version with the lowest log-loss on the newest samples that none of
    /// them learned (at most 500, after an embargo); `None` with fewer than 100 such
    /// samples.
    fn best_version(
        &self,
        config: &LifecycleConfig,
        replay: &ReplayBuffer,
        ws: &mut Workspace,
    ) -> Option<u32> {
        let versions = self.registry.versions();
        let unseen = versions.iter().map(|v| v.trained_through).max()?;
        let data = Self::newest(
            replay,
            500,
            unseen.saturating_add(u64::from(config.gate.embargo)),
        );
        if data.len() < 100 {
            return None;
        }
        let mut best: Option<(f32, u32)> = None;
        for v in versions {
            if let Some(m) = v.predictor.evaluate(ws, &data)
                && m.log_loss.is_finite()
                && best.is_none_or(|(l, _)| m.log_loss < l)
            {
                best = Some((m.log_loss, v.id));
            }
        }
        best.map(|b| b.1)
    }

    /// The invariants a restored lifecycle must meet.
    pub(crate) fn is_consistent(
        &self,
        config: &LifecycleConfig,
        signal: &SignalConfig,
        dim: usize,
    ) -> bool {
        let reference = self.registry.champion().reference.as_ref();
        let trial_ok = match (&self.trial, self.registry.challenger) {
            (Some(t), Some(c)) => {
                t.candidate == c
                    && self.registry.get(t.champion).is_some()
                    && t.is_consistent(&config.gate)
            }
            (None, None) => true,
            _ => false,
        };
        let online_ok = self.online.net.mlp.spec() == &signal.spec(dim as u32)
            && self.online.net.norm.dim() == dim
            && self.online.opt.first_moment().len() == self.online.net.mlp.params().len();
        self.registry.is_consistent()
            && trial_ok
            && online_ok
            && self.experts.is_consistent(dim)
            && self.mixture.is_consistent()
            && self.monitor.is_consistent(&config.monitor)
            && self.page_hinkley.is_consistent()
            && match (&self.psi, reference) {
                (Some(w), Some(r)) => w.is_consistent(r),
                (Some(_), None) => false,
                (None, _) => true,
            }
            && self.guard.is_consistent()
            && self.snapshot_at <= self.labels
            && self.retrain_at <= self.labels
            && self.drift_retrain_at.is_none_or(|a| a <= self.labels)
            && self.best.is_none_or(|b| b < self.registry.next_id)
    }
}
