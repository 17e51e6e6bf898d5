//! Ranking a universe of symbols with an outside model (an ONNX ranker the host runs) and
//! entering the top K.
//!
//! The core decides; the host only computes. [`Command::Rank`](crate::Command::Rank) carries
//! the candidates (symbol, price, features). The engine asks a [`Ranker`] for one score per
//! candidate, takes the `k` best, opens a long trade for each pick that has no open trade
//! yet, and records the score, class and model version in the trade. The scores come back
//! in the reply ([`Ranked`](crate::command::Ranked)), and a host journals the request *with* them
//! ([`RankRequest::resolved`]): a replay then reuses the recorded scores instead of running
//! the model again, so the state replays bit for bit even if the model file changed since.
//!
//! Monitoring ([`RankMonitor`]): each ranking also scores the previous one. Between two
//! rankings every symbol present in both has a return; the monitor accumulates the mean
//! return of the previous top K against the mean of the whole universe (the excess return
//! of the picks), how often the picks beat the universe, and the rank correlation between
//! score and return (the information coefficient).

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, all_finite, positive};
pub use crate::vocab::{MAX_CANDIDATES, MAX_MODEL_NAME, RankedBy};
use crate::vocab::{Outcome, validate_symbol};

/// One symbol that may be entered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Candidate {
    /// Instrument (1-32 printable ASCII characters); unique within a ranking.
    pub symbol: String,
    /// Entry price if picked (finite, > 0).
    pub price: f64,
    /// Feature vector, `config.features` long, finite.
    #[cfg_attr(feature = "ts", ts(type = "number[] | Float32Array"))]
    pub features: Vec<f32>,
}

/// The ranker's view of one candidate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RankScore {
    /// Higher is better (finite).
    pub score: f32,
    /// The class the model predicts, if it has a class output.
    pub class: Option<Outcome>,
}

/// What a ranker answered for a batch: one score per candidate, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RankOutput {
    /// The model version that scored (e.g. `ranker@3f2a9c01b2d4`), 1-64 printable ASCII
    /// characters.
    pub model: String,
    /// One score per candidate.
    pub scores: Vec<RankScore>,
}

impl RankOutput {
    /// An output from a scorer's plain numbers, as a binding's scorer (a JS or Python
    /// function) answers: one score per row and, optionally, one class per row as 0 (loss),
    /// 1 (flat) or 2 (win). A class list of another length or a class that is not one of
    /// those is an [`Error::Ranker`]; the scores are checked later by [`Self::validate`].
    pub fn from_numbers(
        model: &str,
        scores: &[f64],
        classes: Option<&[f64]>,
    ) -> Result<RankOutput, Error> {
        if let Some(c) = classes
            && c.len() != scores.len()
        {
            return Err(Error::Ranker(alloc::format!(
                "scorer returned {} classes for {} scores",
                c.len(),
                scores.len()
            )));
        }
        let class_of = |k: f64| {
            (libm::trunc(k) == k && (0.0..=2.0).contains(&k))
                .then(|| Outcome::from_index(k as u8))
                .flatten()
                .ok_or_else(|| Error::Ranker(alloc::format!("class {k} is not 0, 1 or 2")))
        };
        let scores = scores
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                Ok(RankScore {
                    score: s as f32,
                    class: classes.map(|c| class_of(c[i])).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(RankOutput {
            model: String::from(model),
            scores,
        })
    }

    /// Checks the output against a batch of `n` candidates.
    pub fn validate(&self, n: usize) -> Result<(), Error> {
        if self.model.is_empty()
            || self.model.len() > MAX_MODEL_NAME
            || !self.model.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Error::InvalidRanking(
                "model version must be 1 to 64 printable ASCII characters",
            ));
        }
        if self.scores.len() != n {
            return Err(Error::ShapeMismatch {
                what: "ranker scores",
                expected: n as u64,
                got: self.scores.len() as u64,
            });
        }
        if self.scores.iter().any(|s| !s.score.is_finite()) {
            return Err(Error::NonFinite {
                field: "ranker score",
            });
        }
        Ok(())
    }
}

/// Something that scores feature rows: the host's ONNX ranker (through the plugin's
/// `tradeloop_host.rank` import), or a test double. It must be a pure function of the rows
/// for a given model.
pub trait Ranker {
    /// Scores `rows.len() / dim` rows of `dim` features each.
    fn rank(&mut self, rows: &[f32], dim: usize) -> Result<RankOutput, Error>;
}

/// The ranker of an engine with none attached: every ranking without recorded scores fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRanker;

impl Ranker for NoRanker {
    fn rank(&mut self, _rows: &[f32], _dim: usize) -> Result<RankOutput, Error> {
        Err(Error::NoRanker)
    }
}

/// Rank a universe and enter the top K.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RankRequest {
    /// The universe, 1 to [`MAX_CANDIDATES`] distinct symbols.
    pub candidates: Vec<Candidate>,
    /// How many to pick, `1..=candidates.len()`.
    pub k: u32,
    /// Quantity of each trade opened (finite, > 0).
    pub size: f64,
    /// Scores recorded earlier (a replay); `None` asks the engine's ranker.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub scored: Option<RankOutput>,
}

impl RankRequest {
    /// This request with the scores the reply carries, as a host journals it.
    pub fn resolved(mut self, model: &str, scores: &[RankScore]) -> Self {
        self.scored = Some(RankOutput {
            model: model.into(),
            scores: scores.to_vec(),
        });
        self
    }

    /// Checks everything but the scores; `features` is the configured feature count.
    pub(crate) fn validate(&self, features: u32) -> Result<(), Error> {
        let n = self.candidates.len();
        if n == 0 || n > MAX_CANDIDATES {
            return Err(Error::InvalidRanking(
                "a ranking needs 1 to 1024 candidates",
            ));
        }
        if self.k == 0 || self.k as usize > n {
            return Err(Error::InvalidRanking(
                "k must be between 1 and the number of candidates",
            ));
        }
        positive("size", self.size)?;
        for (i, c) in self.candidates.iter().enumerate() {
            validate_symbol(&c.symbol)?;
            positive("price", c.price)?;
            if c.features.len() != features as usize {
                return Err(Error::FeatureLength {
                    expected: features,
                    got: c.features.len() as u32,
                });
            }
            all_finite("features", &c.features)?;
            if self.candidates[..i].iter().any(|o| o.symbol == c.symbol) {
                return Err(Error::InvalidRanking("a symbol appears twice"));
            }
        }
        if let Some(s) = &self.scored {
            s.validate(n)?;
        }
        Ok(())
    }

    /// The candidates' features, row after row.
    pub(crate) fn rows(&self) -> Vec<f32> {
        self.candidates
            .iter()
            .flat_map(|c| c.features.iter().copied())
            .collect()
    }
}

/// Indices by descending score; ties keep the given order (how `Rank` picks).
pub fn order(scores: &[RankScore]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].score.total_cmp(&scores[a].score).then(a.cmp(&b)));
    idx
}

/// A ranking kept until the next one scores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastRanking {
    /// When it was made (ms since the Unix epoch).
    pub time: i64,
    /// `(symbol, price, score, picked)` per candidate.
    pub entries: Vec<(String, f64, f32, bool)>,
}

/// Running top-K statistics (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RankMonitor {
    /// Model version of the newest ranking.
    pub model: Option<String>,
    /// Rankings made.
    pub rankings: u64,
    /// Rankings scored by a later one (with at least one pick and two symbols in common).
    pub periods: u64,
    /// Sum of the picks' mean return per period.
    pub top_k_sum: f64,
    /// Sum of the universe's mean return per period.
    pub universe_sum: f64,
    /// Running mean of the excess return (picks minus universe) per period.
    pub excess_mean: f64,
    /// Running sum of squared deviations of the excess return (Welford).
    pub excess_m2: f64,
    /// Periods in which the picks beat the universe.
    pub hits: u64,
    /// Sum of the Spearman correlations between score and return.
    pub ic_sum: f64,
    /// Periods with a defined correlation (at least 3 symbols, not all tied).
    pub ic_periods: u64,
    /// The newest ranking.
    pub last: Option<LastRanking>,
}

impl RankMonitor {
    /// Scores the previous ranking with the prices of `now_prices` (`(symbol, price)`), then
    /// keeps the new one.
    pub(crate) fn record(
        &mut self,
        time: i64,
        model: &str,
        now: impl Iterator<Item = (String, f64, f32, bool)>,
    ) {
        let entries: Vec<_> = now.collect();
        if let Some(prev) = self.last.take() {
            self.score(&prev, &entries);
        }
        self.rankings += 1;
        self.model = Some(String::from(model));
        self.last = Some(LastRanking { time, entries });
    }

    fn score(&mut self, prev: &LastRanking, now: &[(String, f64, f32, bool)]) {
        // (return, score, picked) of every symbol present in both rankings.
        let rows: Vec<(f64, f32, bool)> = prev
            .entries
            .iter()
            .filter_map(|(sym, p0, score, picked)| {
                let (_, p1, _, _) = now.iter().find(|e| &e.0 == sym)?;
                Some((p1 / p0 - 1.0, *score, *picked))
            })
            .collect();
        let picks: Vec<f64> = rows.iter().filter(|r| r.2).map(|r| r.0).collect();
        if rows.len() < 2 || picks.is_empty() {
            return;
        }
        let top = mean(&picks);
        let all = mean(&rows.iter().map(|r| r.0).collect::<Vec<_>>());
        let excess = top - all;
        self.periods += 1;
        self.top_k_sum += top;
        self.universe_sum += all;
        let d = excess - self.excess_mean;
        self.excess_mean += d / self.periods as f64;
        self.excess_m2 += d * (excess - self.excess_mean);
        if excess > 0.0 {
            self.hits += 1;
        }
        let scores: Vec<f64> = rows.iter().map(|r| f64::from(r.1)).collect();
        let returns: Vec<f64> = rows.iter().map(|r| r.0).collect();
        if let Some(ic) = spearman(&scores, &returns) {
            self.ic_sum += ic;
            self.ic_periods += 1;
        }
    }

    /// The report for `Query::Ranking`.
    pub fn report(&self) -> RankReport {
        let n = self.periods as f64;
        let per = |s: f64| if self.periods == 0 { 0.0 } else { s / n };
        let sd = if self.periods > 1 {
            libm::sqrt(self.excess_m2 / (n - 1.0))
        } else {
            0.0
        };
        RankReport {
            model: self.model.clone(),
            rankings: self.rankings,
            periods: self.periods,
            mean_top_k_return: per(self.top_k_sum),
            mean_universe_return: per(self.universe_sum),
            mean_excess_return: if self.periods == 0 {
                0.0
            } else {
                self.excess_mean
            },
            excess_t: if sd > 0.0 {
                self.excess_mean / (sd / libm::sqrt(n))
            } else {
                0.0
            },
            hit_rate: per(self.hits as f64),
            mean_ic: if self.ic_periods == 0 {
                0.0
            } else {
                self.ic_sum / self.ic_periods as f64
            },
        }
    }
}

/// Answer to `Query::Ranking`: how the ranker's picks did against their universe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RankReport {
    /// Model version of the newest ranking (`None`: no ranking yet).
    pub model: Option<String>,
    /// Rankings made.
    pub rankings: u64,
    /// Ranking-to-ranking periods scored.
    pub periods: u64,
    /// Mean return of the top K per period (fraction).
    pub mean_top_k_return: f64,
    /// Mean return of the whole universe per period.
    pub mean_universe_return: f64,
    /// Mean of top K minus universe per period.
    pub mean_excess_return: f64,
    /// t statistic of the mean excess return (0 with fewer than 2 periods).
    pub excess_t: f64,
    /// Share of periods in which the top K beat the universe.
    pub hit_rate: f64,
    /// Mean Spearman correlation between score and the return that followed.
    pub mean_ic: f64,
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Ranks with ties averaged (1-based).
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = alloc::vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation; `None` with fewer than 3 points or no variation.
fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() < 3 {
        return None;
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let (ma, mb) = (mean(&ra), mean(&rb));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / libm::sqrt(saa * sbb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn a_scorers_numbers_become_an_output_or_a_ranker_error() {
        let out = RankOutput::from_numbers("m", &[0.5, -1.0], Some(&[2.0, 0.0])).unwrap();
        assert_eq!(out.model, "m");
        assert_eq!(out.scores[0].class, Some(Outcome::Win));
        assert_eq!(out.scores[1].class, Some(Outcome::Loss));
        assert_eq!(out.scores[1].score, -1.0);
        assert_eq!(
            RankOutput::from_numbers("m", &[1.0], None).unwrap().scores[0].class,
            None
        );
        for (classes, why) in [
            (&[1.0][..], "1 classes for 2 scores"),
            (&[0.0, 3.0][..], "class 3 is not 0, 1 or 2"),
            (&[0.5, 1.0][..], "class 0.5 is not 0, 1 or 2"),
            (&[f64::NAN, 1.0][..], "class NaN is not 0, 1 or 2"),
        ] {
            match RankOutput::from_numbers("m", &[0.0, 1.0], Some(classes)) {
                Err(Error::Ranker(m)) => assert!(m.contains(why), "{m}"),
                other => panic!("{classes:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn order_is_descending_and_stable_on_ties() {
        let s = |v: f32| RankScore {
            score: v,
            class: None,
        };
        assert_eq!(order(&[s(0.1), s(0.5), s(0.1), s(-1.0)]), vec![1, 0, 2, 3]);
    }

    #[test]
    fn spearman_matches_hand_computation() {
        // Perfect order, reversed order, and a tie (ranks 1, 2.5, 2.5, 4).
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(ranks(&[5.0, 7.0, 7.0, 9.0]), vec![1.0, 2.5, 2.5, 4.0]);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        // scipy.stats.spearmanr([1,2,3,4,5],[5,6,7,8,7]) = 0.8207826816681233
        let r = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 7.0]).unwrap();
        assert!((r - 0.820_782_681_668_123_3).abs() < 1e-12, "{r}");
    }

    #[test]
    fn monitor_scores_the_previous_picks_against_the_universe() {
        let mut m = RankMonitor::default();
        let e = |s: &str, p: f64, sc: f32, pick: bool| (s.to_string(), p, sc, pick);
        m.record(
            0,
            "m@1",
            [
                e("A", 100.0, 0.9, true),
                e("B", 100.0, 0.1, false),
                e("C", 50.0, -0.5, false),
            ]
            .into_iter(),
        );
        assert_eq!(m.report().periods, 0);
        // A +10%, B 0%, C -10%: picks +10%, universe 0%, excess +10%, IC +1.
        m.record(
            1,
            "m@1",
            [
                e("A", 110.0, 0.0, false),
                e("B", 100.0, 0.0, true),
                e("C", 45.0, 0.0, false),
            ]
            .into_iter(),
        );
        let r = m.report();
        assert_eq!((r.rankings, r.periods, r.hit_rate), (2, 1, 1.0));
        assert!((r.mean_top_k_return - 0.10).abs() < 1e-12);
        assert!(r.mean_universe_return.abs() < 1e-12);
        assert!((r.mean_excess_return - 0.10).abs() < 1e-12);
        assert!((r.mean_ic - 1.0).abs() < 1e-12);
        // B (picked) falls 20% while the universe (A, B; C is gone) falls 10%.
        m.record(
            2,
            "m@2",
            [e("A", 110.0, 0.0, false), e("B", 80.0, 0.0, true)].into_iter(),
        );
        let r = m.report();
        assert_eq!((r.periods, m.hits, m.ic_periods), (2, 1, 1));
        assert!(
            r.mean_excess_return.abs() < 1e-12,
            "{}",
            r.mean_excess_return
        );
        assert!((r.hit_rate - 0.5).abs() < 1e-12);
        assert_eq!(r.model.as_deref(), Some("m@2"));
    }
}
