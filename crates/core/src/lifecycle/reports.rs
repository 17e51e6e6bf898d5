//! What the lifecycle reports: in replies (a run, a trial's end, a drift alarm) and to
//! queries (versions, the mixture, the trial, the drift detectors).

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::ab::AbReport;
use super::drift::PsiSummary;
use super::mixture::{Expert, Mixture, MixtureConfig};
use super::policy::{Decision, Reason};
use super::registry::{DataRange, Registry, Verdict, Version, VersionKind};
use super::trial::TrialResult;
use crate::learners::signal::{Metrics, Rejection, RunLog};

/// What a training run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RunReport {
    /// Online snapshot or retrain.
    pub kind: VersionKind,
    /// The version created (`None` when the run was rejected).
    pub version: Option<u32>,
    /// Why the run was thrown away, if it was.
    pub rejected: Option<Rejection>,
    /// Samples used.
    pub data: Option<DataRange>,
    /// Epoch by epoch (retrains).
    pub log: Option<RunLog>,
    /// The network lost to the class prior on validation data, so the prior is the
    /// candidate (retrains).
    pub prior_chosen: bool,
    /// Candidate metrics on validation data.
    pub validation: Option<Metrics>,
    /// Candidate metrics on the held-out test data (retrains).
    pub test: Option<Metrics>,
    /// What became of the candidate: on trial.
    pub verdict: Option<Verdict>,
}

impl RunReport {
    /// A run of `kind` that has produced nothing yet.
    pub(crate) fn started(kind: VersionKind) -> Self {
        RunReport {
            kind,
            version: None,
            rejected: None,
            data: None,
            log: None,
            prior_chosen: false,
            validation: None,
            test: None,
            verdict: None,
        }
    }
}

/// A retrain spread over many commands, while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RetrainStatus {
    /// When it started.
    pub started_at: i64,
    /// Why.
    pub reason: Reason,
    /// Epochs finished.
    pub epochs: u32,
    /// Training and validation samples.
    pub rows: [u32; 2],
}

/// The champion (and candidate) measured on the newest samples, without training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Evaluation {
    /// Champion id.
    pub champion: u32,
    /// Its metrics on the newest `gate.trial` samples of the replay buffer.
    pub champion_metrics: Option<Metrics>,
    /// The candidate on trial.
    pub challenger: Option<u32>,
    /// Its metrics on the same samples.
    pub challenger_metrics: Option<Metrics>,
    /// The version retention keeps as the best (compared on samples none of them learned).
    pub best: Option<u32>,
    /// The served mixture, scored on every label so far.
    pub mixture: MixtureReport,
}

/// What `learn` did: the decision, and the run, retrain or evaluation that followed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LearnReport {
    /// The policy's decision and reason.
    pub decision: Decision,
    /// A version made (online snapshot or finished retrain), or a run thrown away.
    pub run: Option<RunReport>,
    /// A retrain still running after this command.
    pub retrain: Option<RetrainStatus>,
    /// The evaluation, for eval.
    pub evaluation: Option<Evaluation>,
}

/// A trial that ended with this command.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TrialEnd {
    /// The candidate.
    pub candidate: u32,
    /// Promoted (the champion changed) or held.
    pub verdict: Verdict,
    /// The test.
    pub result: TrialResult,
}

/// The running trial.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TrialStatus {
    /// The candidate.
    pub candidate: u32,
    /// The champion it is tried against.
    pub champion: u32,
    /// When it started.
    pub started_at: i64,
    /// Labels still skipped (embargo).
    pub embargo_left: u32,
    /// Rows the test is computed on, fixed in advance (`gate.trial`).
    pub target_rows: u32,
    /// The test on the rows so far: interim, not a verdict (`passed` is false until the
    /// sample is complete).
    pub interim: TrialResult,
    /// The A/B arms, with routing on.
    pub ab: Option<AbReport>,
}

/// One expert in a [`MixtureReport`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExpertScore {
    /// The expert.
    pub expert: Expert,
    /// Its mean weight over the copies now.
    pub weight: f64,
    /// Mean log-loss of its forecasts on the scored rows (`None` before the first).
    pub log_loss: Option<f64>,
    /// Accuracy of its forecasts on the scored rows.
    pub accuracy: Option<f64>,
}

/// The served mixture and its experts, scored prequentially.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MixtureReport {
    /// Every expert, in [`Expert::ALL`] order.
    pub experts: Vec<ExpertScore>,
    /// Forecasts scored.
    pub rows: u64,
    /// Mean log-loss of the mixture's forecasts (`None` before the first).
    pub log_loss: Option<f64>,
    /// Their accuracy.
    pub accuracy: Option<f64>,
    /// Weight copies in use (one more than the most forecasts ever waiting at once).
    pub copies: u32,
    /// Forecasts waiting for their label now.
    pub pending: u32,
    /// Registered forecasts dropped unscored.
    pub dropped: u64,
    /// Summed log-loss of the mixture minus the running prior's, on the same rows (nats).
    pub excess_vs_prior: f64,
    /// The proven bound on that excess (nats): `copies * ln(1 / prior_weight) + rows * ln(1 /
    /// (1 - share))`.
    pub bound_vs_prior: f64,
}

impl MixtureReport {
    pub(crate) fn of(m: &Mixture, config: &MixtureConfig) -> Self {
        let s = m.scores();
        let n = s.rows as f64;
        let mean = |x: f64| (s.rows > 0).then(|| x / n);
        let w = m.mean_weights(config);
        MixtureReport {
            experts: Expert::ALL
                .iter()
                .map(|&e| ExpertScore {
                    expert: e,
                    weight: w[e.index()],
                    log_loss: mean(s.experts[e.index()]),
                    accuracy: mean(s.experts_correct[e.index()] as f64),
                })
                .collect(),
            rows: s.rows,
            log_loss: mean(s.mixture),
            accuracy: mean(s.mixture_correct as f64),
            copies: m.copies() as u32,
            pending: m.pending().count() as u32,
            dropped: m.dropped(),
            excess_vs_prior: s.mixture - s.experts[Expert::Prior.index()],
            bound_vs_prior: m.bound_vs(Expert::Prior, config),
        }
    }
}

/// The drift detectors' state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DriftAlarm {
    /// The PSI of the window the entry's features made drift from the champion's training
    /// data (`drifted` is true).
    pub psi: Option<PsiSummary>,
    /// The Page-Hinkley test on the served forecast's errors fired (it restarts when it
    /// does).
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
    /// How its trial ended.
    pub trial: Option<TrialResult>,
    /// A network (`false`: a class prior).
    pub network: bool,
    /// It is the champion.
    pub champion: bool,
    /// It is on trial.
    pub challenger: bool,
    /// Retention keeps it as the best.
    pub best: bool,
}

impl VersionInfo {
    pub(crate) fn of(v: &Version, r: &Registry, best: Option<u32>) -> Self {
        VersionInfo {
            id: v.id,
            parent: v.parent,
            kind: v.kind,
            created_at: v.created_at,
            data: v.data,
            validation: v.validation,
            test: v.test,
            trial: v.trial,
            network: v.predictor.net().is_some(),
            champion: v.id == r.champion,
            challenger: Some(v.id) == r.challenger,
            best: Some(v.id) == best,
        }
    }
}
