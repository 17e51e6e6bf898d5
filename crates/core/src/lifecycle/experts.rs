//! The experts' own state and their forecasts: the two priors and the linear learner live
//! here; the online network and the champion are passed in (the lifecycle owns them).

use crate::learners::signal::Predictor;
use crate::learners::{LinearLearner, SignalNet};
use crate::nn::Workspace;
use crate::vocab::Outcome;

use super::mixture::{EXPERTS, Expert, ExpertProbs, MixtureConfig, Probs};

const CLASSES: usize = Outcome::COUNT;

/// The priors and the linear learner. Persisted.
#[derive(Debug, Clone, PartialEq)]
pub struct Experts {
    /// Labels revealed per class, ever.
    pub(crate) counts: [u64; CLASSES],
    /// Labels per class, each discounted by `recent_decay` per later label.
    pub(crate) recent: [f64; CLASSES],
    /// The linear learner.
    pub(crate) linear: LinearLearner,
}

impl Experts {
    /// Nothing learned yet, for `dim` features.
    pub fn new(dim: usize) -> Self {
        Self {
            counts: [0; CLASSES],
            recent: [0.0; CLASSES],
            linear: LinearLearner::new(dim),
        }
    }

    /// Labels revealed per class.
    pub fn counts(&self) -> [u64; CLASSES] {
        self.counts
    }

    /// The recency-discounted label counts.
    pub fn recent(&self) -> [f64; CLASSES] {
        self.recent
    }

    /// The linear learner.
    pub fn linear(&self) -> &LinearLearner {
        &self.linear
    }

    /// The running class prior, `(n_c + 1) / (n + 3)`.
    pub fn prior(&self) -> Probs {
        let n: u64 = self.counts.iter().sum();
        let total = n as f64 + CLASSES as f64;
        self.counts.map(|c| ((c as f64 + 1.0) / total) as f32)
    }

    /// The recency-weighted prior, add-one smoothed like the running one.
    pub fn recent_prior(&self) -> Probs {
        let total: f64 = self.recent.iter().sum::<f64>() + CLASSES as f64;
        self.recent.map(|c| ((c + 1.0) / total) as f32)
    }

    /// Learns a revealed label (and its features, for the linear learner).
    pub(crate) fn learn(&mut self, config: &MixtureConfig, x: &[f32], class: u8) {
        let c = usize::from(class).min(CLASSES - 1);
        self.counts[c] = self.counts[c].saturating_add(1);
        let d = config.recent_decay();
        self.recent = self.recent.map(|r| r * d);
        self.recent[c] += 1.0;
        self.linear.learn(x, class, f64::from(config.linear_lr));
    }

    /// Every expert's class probabilities for a validated feature vector. `online` is the
    /// online network, `champion` the model in the champion's place.
    pub(crate) fn predict(
        &self,
        config: &MixtureConfig,
        online: &SignalNet,
        champion: &Predictor,
        x: &[f32],
        ws: &mut Workspace,
    ) -> ExpertProbs {
        let prior = self.prior();
        let lam = f64::from(config.pool);
        let pooled = |p: Probs| -> Probs {
            core::array::from_fn(|c| {
                (lam * f64::from(p[c]) + (1.0 - lam) * f64::from(prior[c])) as f32
            })
        };
        let linear = self.linear.predict(x).map(|p| p as f32);
        let online = online.probs_one(ws, x);
        let champion = champion.predict(ws, x).probs;
        let mut out: ExpertProbs = [[0.0; CLASSES]; EXPERTS];
        for e in Expert::ALL {
            out[e.index()] = match e {
                Expert::Prior => prior,
                Expert::Recent => self.recent_prior(),
                Expert::Linear => linear,
                Expert::LinearPooled => pooled(linear),
                Expert::Online => online,
                Expert::OnlinePooled => pooled(online),
                Expert::Champion => champion,
                Expert::ChampionPooled => pooled(champion),
            };
        }
        out
    }

    /// Whether a restored state is usable for `dim` features.
    pub(crate) fn is_consistent(&self, dim: usize) -> bool {
        self.linear.dim() == dim && self.recent.iter().all(|r| r.is_finite() && *r >= 0.0)
    }
}
