//! A/B routing of trades during a trial (opt-in).
//!
//! While a candidate is on trial ([`super::trial`]) and `ab.enabled` is set, each new trade
//! goes to one arm by a deterministic hash of its id ([`route`]): the same id lands on the
//! same arm everywhere, natively and in WebAssembly, and no RNG state is kept. The salt is
//! the candidate's version id, so each trial splits the trades afresh. A trade on the
//! challenger's arm is served the mixture with the candidate in the champion's place. Closed
//! trades are attributed to their arm ([`AbArms::record`]) with their PnL % and the
//! log-loss of what they were served; [`AbArms::report`] compares the arms (two-proportion
//! z-test on the win rate, Welch's t-test on the PnL %, both from [`stats`](super::stats);
//! every difference is **challenger minus champion**). The trial's decision waits until
//! both arms have `min_trades` closed trades (a sample size fixed in advance, tested once),
//! and a challenger whose PnL is significantly worse is not promoted.

use serde::{Deserialize, Serialize};

use super::stats::{Moments, ProportionTest, WelchTest, two_proportion_z_test, welch_t_test};
use crate::error::{Error, check};

/// A/B routing configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct AbConfig {
    /// Whether a candidate on trial gets a share of the new trades (default false: the
    /// trial is scored on every revealed label without routing any trade to the candidate).
    pub enabled: bool,
    /// Share of the trades routed to the candidate (default 0.5; finite, in (0, 1)).
    pub challenger_share: f32,
    /// Significance level of the two-sided PnL and win-rate tests (default 0.05; in
    /// (0, 0.5]).
    pub alpha: f64,
    /// Closed trades each arm needs before the trial decides (default 30;
    /// 1..=1,000,000).
    pub min_trades: u32,
}

impl Default for AbConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            challenger_share: 0.5,
            alpha: 0.05,
            min_trades: 30,
        }
    }
}

impl AbConfig {
    /// Largest `min_trades`.
    pub const MAX_MIN_TRADES: u32 = 1_000_000;

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            self.challenger_share.is_finite()
                && self.challenger_share > 0.0
                && self.challenger_share < 1.0,
            "lifecycle.ab.challenger_share must be in (0, 1)",
        )?;
        check(
            self.alpha.is_finite() && self.alpha > 0.0 && self.alpha <= 0.5,
            "lifecycle.ab.alpha must be in (0, 0.5]",
        )?;
        check(
            (1..=Self::MAX_MIN_TRADES).contains(&self.min_trades),
            "lifecycle.ab.min_trades must be in 1..=1000000",
        )
    }
}

/// One side of an A/B split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Arm {
    /// The model in production.
    Champion,
    /// The candidate on trial.
    Challenger,
}

/// The SplitMix64 output finaliser (Stafford's "Mix13"): a bijection of `u64` with full
/// avalanche.
const fn mix64(x: u64) -> u64 {
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The arm for a trade: the SplitMix64 finaliser of `trade_id ^ salt`, mapped to `[0, 1)` by
/// its top 53 bits, is [`Arm::Challenger`] when below `share`, else [`Arm::Champion`].
///
/// Pure: the same inputs give the same arm on every platform. `salt` is the challenger's
/// version id, so each experiment splits the trades afresh. A `share` of 0 or less (or
/// `NaN`) routes everything to the champion, 1 or more everything to the challenger.
pub fn route(trade_id: u64, salt: u64, share: f32) -> Arm {
    // 2^-53: the top 53 bits as a fraction, exactly representable.
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    let u = (mix64(trade_id ^ salt) >> 11) as f64 * SCALE;
    if u < f64::from(share) {
        Arm::Challenger
    } else {
        Arm::Champion
    }
}

/// What one arm has done so far. Persisted.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ArmStats {
    /// The model version on this arm.
    pub version: u32,
    /// Closed trades attributed to it.
    pub trades: u64,
    /// Of which winners.
    pub wins: u64,
    /// Moments of the trades' PnL %.
    pub pnl: Moments,
    /// Summed log-loss of the forecasts the trades were served.
    pub log_loss: f64,
}

impl ArmStats {
    /// Fresh statistics for model `version`.
    pub const fn new(version: u32) -> Self {
        Self {
            version,
            trades: 0,
            wins: 0,
            pnl: Moments::new(),
            log_loss: 0.0,
        }
    }

    fn report(&self) -> ArmReport {
        let n = self.trades as f64;
        ArmReport {
            version: self.version,
            trades: self.trades,
            win_rate: (self.trades > 0).then(|| self.wins as f64 / n),
            mean_pnl_pct: self.pnl.mean(),
            log_loss: (self.trades > 0).then(|| self.log_loss / n),
        }
    }

    fn is_consistent(&self) -> bool {
        self.wins <= self.trades
            && self.pnl.n <= self.trades
            && self.pnl.is_consistent()
            && self.log_loss.is_finite()
            && self.log_loss >= 0.0
    }
}

/// Both arms of a trial with A/B routing. Persisted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AbArms {
    /// The champion's arm.
    pub champion: ArmStats,
    /// The candidate's arm.
    pub challenger: ArmStats,
}

impl AbArms {
    /// Empty arms for `champion` and the candidate `challenger`.
    pub fn new(champion: u32, challenger: u32) -> Self {
        Self {
            champion: ArmStats::new(champion),
            challenger: ArmStats::new(challenger),
        }
    }

    /// The arm of a new trade: [`route`] salted with the candidate's version.
    pub fn route(&self, trade_id: u64, config: &AbConfig) -> Arm {
        route(
            trade_id,
            u64::from(self.challenger.version),
            config.challenger_share,
        )
    }

    /// The version serving `arm`.
    pub fn version(&self, arm: Arm) -> u32 {
        match arm {
            Arm::Champion => self.champion.version,
            Arm::Challenger => self.challenger.version,
        }
    }

    /// Attributes a closed trade to `arm`. Returns `false` and changes nothing when the
    /// PnL or log-loss is not finite (or so large that the running moments would overflow)
    /// or the trade counter is full.
    pub fn record(&mut self, arm: Arm, win: bool, pnl_pct: f64, log_loss: f64) -> bool {
        let stats = match arm {
            Arm::Champion => &mut self.champion,
            Arm::Challenger => &mut self.challenger,
        };
        let Some(trades) = stats.trades.checked_add(1) else {
            return false;
        };
        let mut pnl = stats.pnl;
        if !pnl.push(pnl_pct) || !log_loss.is_finite() || log_loss < 0.0 {
            return false;
        }
        stats.trades = trades;
        stats.wins = stats.wins.saturating_add(u64::from(win));
        stats.pnl = pnl;
        stats.log_loss += log_loss;
        true
    }

    /// Both arms have at least `min_trades` trades.
    pub fn enough_trades(&self, config: &AbConfig) -> bool {
        let min = u64::from(config.min_trades);
        self.champion.trades >= min && self.challenger.trades >= min
    }

    /// Compares the arms (challenger minus champion).
    pub fn report(&self, config: &AbConfig) -> AbReport {
        let win_rate_test = two_proportion_z_test(
            self.champion.wins,
            self.champion.trades,
            self.challenger.wins,
            self.challenger.trades,
        );
        let pnl_test = welch_t_test(&self.champion.pnl, &self.challenger.pnl);
        let enough_trades = self.enough_trades(config);
        AbReport {
            champion: self.champion.report(),
            challenger: self.challenger.report(),
            win_rate_test,
            pnl_test,
            enough_trades,
            challenger_worse: enough_trades
                && pnl_test.is_some_and(|t| t.p_value < config.alpha && t.diff < 0.0),
        }
    }

    /// Whether the fields could have come from [`AbArms::record`].
    pub fn is_consistent(&self) -> bool {
        self.champion.is_consistent() && self.challenger.is_consistent()
    }
}

/// One arm in an [`AbReport`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ArmReport {
    /// The model version.
    pub version: u32,
    /// Closed trades attributed to the arm.
    pub trades: u64,
    /// Share of winners (`None` before the first trade).
    pub win_rate: Option<f64>,
    /// Mean PnL % (`None` before the first trade).
    pub mean_pnl_pct: Option<f64>,
    /// Mean log-loss of what the trades were served (`None` before the first trade).
    pub log_loss: Option<f64>,
}

/// The comparison of the arms; every difference is challenger minus champion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AbReport {
    /// The champion.
    pub champion: ArmReport,
    /// The challenger.
    pub challenger: ArmReport,
    /// Two-proportion z-test on the win rate (`None` when undefined, e.g. an empty arm).
    pub win_rate_test: Option<ProportionTest>,
    /// Welch's t-test on the PnL % (`None` when undefined, e.g. fewer than two trades).
    pub pnl_test: Option<WelchTest>,
    /// Both arms have at least `min_trades` trades.
    pub enough_trades: bool,
    /// `enough_trades` and the challenger's mean PnL % is significantly lower.
    pub challenger_worse: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_is_deterministic_and_splits_by_share() {
        let count = |salt: u64, share: f32| {
            (1..=10_000u64)
                .filter(|&id| route(id, salt, share) == Arm::Challenger)
                .count()
        };
        // Binomial(10000, 0.5): sd 50, so +-300 is six sd.
        let half = count(7, 0.5);
        assert!((4700..=5300).contains(&half), "{half}");
        // Binomial(10000, 0.1): sd 30.
        let tenth = count(7, 0.1);
        assert!((820..=1180).contains(&tenth), "{tenth}");
        for salt in [0, 1, 2, 12345, u64::MAX] {
            let h = count(salt, 0.5);
            assert!((4700..=5300).contains(&h), "salt {salt}: {h}");
        }
        // Same inputs, same arm.
        for id in [0, 1, 99, u64::MAX] {
            assert_eq!(route(id, 3, 0.5), route(id, 3, 0.5));
        }
        // A fixed vector, so that a change of the hash cannot go unnoticed: the finaliser of
        // 0 is 0 (u = 0, always the challenger), and the known SplitMix64 first output for
        // seed 0 is mix64(0x9E3779B97F4A7C15) = 0xE220A8397B1DCDAF (u ~ 0.883).
        assert_eq!(mix64(0), 0);
        assert_eq!(mix64(0x9E37_79B9_7F4A_7C15), 0xE220_A839_7B1D_CDAF);
        assert_eq!(route(5, 5, 1e-30), Arm::Challenger);
        assert_eq!(route(0x9E37_79B9_7F4A_7C15, 0, 0.88), Arm::Champion);
        assert_eq!(route(0x9E37_79B9_7F4A_7C15, 0, 0.89), Arm::Challenger);
        // A larger share only moves trades to the challenger.
        for id in 1..=2000u64 {
            if route(id, 9, 0.3) == Arm::Challenger {
                assert_eq!(route(id, 9, 0.6), Arm::Challenger);
            }
        }
    }

    #[test]
    fn a_different_salt_gives_a_different_split() {
        let arms = |salt: u64| -> alloc::vec::Vec<Arm> {
            (1..=1000u64).map(|id| route(id, salt, 0.5)).collect()
        };
        let (a, b) = (arms(1), arms(2));
        let differ = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        // Independent splits differ on about half of the ids.
        assert!((400..=600).contains(&differ), "{differ}");
    }

    #[test]
    fn route_never_panics_on_odd_shares() {
        for id in [0, 1, 42, u64::MAX] {
            for salt in [0, 7, u64::MAX] {
                assert_eq!(route(id, salt, f32::NAN), Arm::Champion);
                assert_eq!(route(id, salt, 0.0), Arm::Champion);
                assert_eq!(route(id, salt, -1.0), Arm::Champion);
                assert_eq!(route(id, salt, f32::NEG_INFINITY), Arm::Champion);
                assert_eq!(route(id, salt, 1.0), Arm::Challenger);
                assert_eq!(route(id, salt, 2.0), Arm::Challenger);
                assert_eq!(route(id, salt, f32::INFINITY), Arm::Challenger);
            }
        }
    }

    #[test]
    fn arms_record_trades_refuse_bad_values_and_report() {
        let mut a = AbArms::new(3, 4);
        assert!(a.record(Arm::Champion, true, 1.5, 0.9));
        assert!(a.record(Arm::Champion, false, -0.5, 1.2));
        assert!(a.record(Arm::Challenger, true, 2.0, 1.0));
        let before = a;
        assert!(!a.record(Arm::Champion, true, f64::NAN, 1.0));
        assert!(!a.record(Arm::Challenger, true, 1.0, f64::INFINITY));
        assert!(!a.record(Arm::Challenger, false, f64::MAX, 1.0));
        assert_eq!(a, before);
        let r = a.report(&AbConfig::default());
        assert_eq!(r.champion.win_rate, Some(0.5));
        assert_eq!(r.champion.log_loss, Some(1.05));
        assert_eq!(
            (r.challenger.mean_pnl_pct, r.challenger.trades),
            (Some(2.0), 1)
        );
        assert!(!r.enough_trades && !r.challenger_worse);
        assert_eq!(a.version(Arm::Challenger), 4);
        for id in 1..=100u64 {
            assert_eq!(a.route(id, &AbConfig::default()), route(id, 4, 0.5));
        }
    }

    #[test]
    fn a_significantly_worse_challenger_is_flagged_once_both_arms_are_full() {
        let config = AbConfig {
            min_trades: 20,
            ..AbConfig::default()
        };
        let mut a = AbArms::new(1, 2);
        for i in 0..20u32 {
            let wiggle = f64::from(i % 5) * 0.1;
            a.record(Arm::Champion, true, 1.0 + wiggle, 1.0);
            assert!(
                !a.report(&config).challenger_worse,
                "not before both arms are full"
            );
            a.record(Arm::Challenger, false, -1.0 + wiggle, 1.0);
        }
        let r = a.report(&config);
        assert!(r.enough_trades && r.challenger_worse, "{r:?}");
        assert!(AbConfig::default().validate().is_ok());
        assert!(!AbConfig::default().enabled, "A/B routing is opt-in");
        assert!(
            AbConfig {
                challenger_share: 1.0,
                ..config
            }
            .validate()
            .is_err()
        );
    }
}
