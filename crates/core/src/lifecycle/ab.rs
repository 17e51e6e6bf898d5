//! A/B routing between the champion and a challenger model.
//!
//! While a challenger is on trial, each decision goes to one arm by a deterministic hash of
//! the trade id ([`route`]): the same id lands on the same arm everywhere, natively and in
//! WebAssembly, and no RNG state is kept. The salt is the challenger's version id, so each
//! experiment gets a fresh split. Closed trades are attributed to their arm
//! ([`AbState::record`]), and [`AbState::report`] compares the arms with a two-proportion
//! z-test on the win rate and Welch's t-test on the PnL % (both from
//! [`stats`](super::stats)); every difference is **challenger minus champion**. With
//! `auto_promote`, [`AbState::should_promote`] says when the challenger is significantly
//! better and may replace the champion.

use serde::{Deserialize, Serialize};

use super::stats::{Moments, ProportionTest, WelchTest, two_proportion_z_test, welch_t_test};
use crate::error::{Error, check};

/// A/B test configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AbConfig {
    /// Whether a challenger, when there is one, gets a share of the trades (default true).
    pub enabled: bool,
    /// Share of the trades routed to the challenger (default 0.5; finite, in (0, 1)).
    pub challenger_share: f32,
    /// Significance level of the two-sided tests (default 0.05; in (0, 0.5]).
    pub alpha: f64,
    /// Closed trades each arm needs before any difference is reported as significant
    /// (default 30; 1..=1,000,000).
    pub min_trades: u32,
    /// Whether [`AbState::should_promote`] may promote the challenger (default false).
    pub auto_promote: bool,
}

impl Default for AbConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            challenger_share: 0.5,
            alpha: 0.05,
            min_trades: 30,
            auto_promote: false,
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

/// One side of an A/B test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arm {
    /// The model in production.
    Champion,
    /// The model on trial.
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
}

impl ArmStats {
    /// Fresh statistics for model `version`.
    pub const fn new(version: u32) -> Self {
        Self {
            version,
            trades: 0,
            wins: 0,
            pnl: Moments::new(),
        }
    }

    /// The report line for this arm.
    fn report(&self) -> ArmReport {
        ArmReport {
            version: self.version,
            trades: self.trades,
            win_rate: (self.trades > 0 && self.wins <= self.trades)
                .then(|| self.wins as f64 / self.trades as f64),
            mean_pnl_pct: self.pnl.mean(),
        }
    }

    fn is_consistent(&self) -> bool {
        self.wins <= self.trades && self.pnl.n <= self.trades && self.pnl.is_consistent()
    }
}

/// A running A/B experiment: both arms' statistics. Persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbState {
    /// The champion's arm.
    pub champion: ArmStats,
    /// The challenger's arm.
    pub challenger: ArmStats,
    /// When the experiment started, ms since the Unix epoch.
    pub started_at: i64,
}

impl AbState {
    /// An experiment of model `challenger` against model `champion`, started at `now`.
    pub fn new(champion: u32, challenger: u32, now: i64) -> Self {
        Self {
            champion: ArmStats::new(champion),
            challenger: ArmStats::new(challenger),
            started_at: now,
        }
    }

    /// The arm for a trade in this experiment: [`route`] salted with the challenger's
    /// version and `config.challenger_share`, or always the champion when A/B testing is
    /// disabled.
    pub fn route(&self, trade_id: u64, config: &AbConfig) -> Arm {
        if !config.enabled {
            return Arm::Champion;
        }
        route(
            trade_id,
            u64::from(self.challenger.version),
            config.challenger_share,
        )
    }

    /// The statistics of `arm`.
    pub fn arm(&self, arm: Arm) -> &ArmStats {
        match arm {
            Arm::Champion => &self.champion,
            Arm::Challenger => &self.challenger,
        }
    }

    /// Attributes a closed trade to `arm`. Returns `false` and changes nothing when the
    /// PnL is not finite (or so large that the running moments would overflow) or the
    /// trade counter is full, so that win rate and PnL always cover the same trades.
    pub fn record(&mut self, arm: Arm, win: bool, pnl_pct: f64) -> bool {
        let stats = match arm {
            Arm::Champion => &mut self.champion,
            Arm::Challenger => &mut self.challenger,
        };
        let Some(trades) = stats.trades.checked_add(1) else {
            return false;
        };
        let mut pnl = stats.pnl;
        if !pnl.push(pnl_pct) {
            return false;
        }
        stats.trades = trades;
        stats.wins = stats.wins.saturating_add(u64::from(win));
        stats.pnl = pnl;
        true
    }

    /// Compares the arms (challenger minus champion).
    ///
    /// The differences are reported whenever the tests are defined; they count as
    /// `significant` only when both arms have at least `config.min_trades` trades and the
    /// smaller p-value is below `config.alpha`. `challenger_better` is then the sign of the
    /// difference of the test with the smaller p-value (the win-rate test on a tie).
    pub fn report(&self, config: &AbConfig) -> AbReport {
        let win_rate_test = self.win_rate_test();
        let pnl_test = welch_t_test(&self.champion.pnl, &self.challenger.pnl);
        let enough_trades = self.enough_trades(config);
        // The deciding test: the smaller p-value, as (p, diff).
        let win = win_rate_test.map(|t| (t.p_value, t.diff));
        let pnl = pnl_test.map(|t| (t.p_value, t.diff));
        let best = match (win, pnl) {
            (Some(w), Some(p)) => Some(if p.0 < w.0 { p } else { w }),
            (w, p) => w.or(p),
        };
        let deciding = best.filter(|&(p, _)| enough_trades && p < config.alpha);
        AbReport {
            champion: self.champion.report(),
            challenger: self.challenger.report(),
            win_rate_test,
            pnl_test,
            enough_trades,
            significant: deciding.is_some(),
            challenger_better: deciding.map(|(_, diff)| diff > 0.0),
        }
    }

    /// Whether the challenger should replace the champion: `config.auto_promote` is on,
    /// both arms have at least `config.min_trades` trades, and the challenger is
    /// significantly better (`p < alpha`, challenger minus champion `> 0`) on the win rate
    /// or on the mean PnL %, and not significantly worse on the other.
    /// Only the challenger can be promoted, so the answer is a `bool`.
    pub fn should_promote(&self, config: &AbConfig) -> bool {
        if !config.auto_promote || !self.enough_trades(config) {
            return false;
        }
        let alpha = config.alpha;
        let win = self.win_rate_test().map(|t| (t.p_value, t.diff));
        let pnl =
            welch_t_test(&self.champion.pnl, &self.challenger.pnl).map(|t| (t.p_value, t.diff));
        let better = |t: Option<(f64, f64)>| t.is_some_and(|(p, diff)| p < alpha && diff > 0.0);
        let worse = |t: Option<(f64, f64)>| t.is_some_and(|(p, diff)| p < alpha && diff < 0.0);
        (better(win) || better(pnl)) && !worse(win) && !worse(pnl)
    }

    /// Whether the fields could have come from [`AbState::record`]: per arm, `wins <=
    /// trades`, `pnl.n <= trades` and consistent moments. For checking restored state.
    pub fn is_consistent(&self) -> bool {
        self.champion.is_consistent() && self.challenger.is_consistent()
    }

    /// Both arms have at least `min_trades` trades.
    fn enough_trades(&self, config: &AbConfig) -> bool {
        let min = u64::from(config.min_trades);
        self.champion.trades >= min && self.challenger.trades >= min
    }

    /// Win rate, challenger minus champion.
    fn win_rate_test(&self) -> Option<ProportionTest> {
        two_proportion_z_test(
            self.champion.wins,
            self.champion.trades,
            self.challenger.wins,
            self.challenger.trades,
        )
    }
}

/// One arm in an [`AbReport`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ArmReport {
    /// The model version.
    pub version: u32,
    /// Closed trades attributed to the arm.
    pub trades: u64,
    /// Share of winners (`None` before the first trade).
    pub win_rate: Option<f64>,
    /// Mean PnL % (`None` before the first trade).
    pub mean_pnl_pct: Option<f64>,
}

/// The comparison of the arms; every difference is challenger minus champion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AbReport {
    /// The champion.
    pub champion: ArmReport,
    /// The challenger.
    pub challenger: ArmReport,
    /// Two-proportion z-test on the win rate; `diff` and `z` are challenger minus champion
    /// (`None` when undefined, e.g. an empty arm or all trades won).
    pub win_rate_test: Option<ProportionTest>,
    /// Welch's t-test on the PnL %; `diff` and `t` are challenger minus champion (`None`
    /// when undefined, e.g. fewer than two trades in an arm).
    pub pnl_test: Option<WelchTest>,
    /// Both arms have at least `min_trades` trades.
    pub enough_trades: bool,
    /// `enough_trades` and the smaller p-value is below `alpha`.
    pub significant: bool,
    /// When significant, whether the challenger is the better arm on the test with the
    /// smaller p-value; `None` when not significant.
    pub challenger_better: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    // Wikipedia, "Welch's t-test", example 1 (also in stats.rs).
    const A1: [f64; 15] = [
        27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4,
    ];
    const A2: [f64; 15] = [
        27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4,
    ];

    /// Records `n` trades on `arm`, the first `wins` of them winners, with PnL `pnl(i)`.
    fn fill(s: &mut AbState, arm: Arm, n: u64, wins: u64, pnl: impl Fn(u64) -> f64) {
        for i in 0..n {
            assert!(s.record(arm, i < wins, pnl(i)));
        }
    }

    #[test]
    fn defaults_are_valid_and_validate_rejects_bad_values() {
        let ok = AbConfig::default();
        assert_eq!(ok.validate(), Ok(()));
        assert!(ok.enabled && !ok.auto_promote);
        assert_eq!(
            (ok.challenger_share, ok.alpha, ok.min_trades),
            (0.5, 0.05, 30)
        );
        let bad = [
            AbConfig {
                challenger_share: 0.0,
                ..ok
            },
            AbConfig {
                challenger_share: 1.0,
                ..ok
            },
            AbConfig {
                challenger_share: f32::NAN,
                ..ok
            },
            AbConfig { alpha: 0.0, ..ok },
            AbConfig { alpha: 0.51, ..ok },
            AbConfig {
                alpha: f64::NAN,
                ..ok
            },
            AbConfig {
                min_trades: 0,
                ..ok
            },
            AbConfig {
                min_trades: 1_000_001,
                ..ok
            },
        ];
        for c in bad {
            assert!(
                matches!(c.validate(), Err(Error::InvalidConfig(m)) if m.starts_with("lifecycle.ab.")),
                "{c:?}"
            );
        }
        let edges = AbConfig {
            challenger_share: 1e-6,
            alpha: 0.5,
            min_trades: 1_000_000,
            ..ok
        };
        assert_eq!(edges.validate(), Ok(()));
    }

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
    fn state_route_uses_the_challenger_version_and_the_enabled_flag() {
        let s = AbState::new(1, 2, 0);
        let on = AbConfig::default();
        let off = AbConfig {
            enabled: false,
            ..on
        };
        for id in 1..=200u64 {
            assert_eq!(s.route(id, &on), route(id, 2, 0.5));
            assert_eq!(s.route(id, &off), Arm::Champion);
        }
    }

    #[test]
    fn record_attributes_trades_and_ignores_bad_pnl() {
        let mut s = AbState::new(3, 4, 1_700_000_000_000);
        assert_eq!(s.champion.version, 3);
        assert_eq!(s.challenger.version, 4);
        assert!(s.record(Arm::Champion, true, 1.5));
        assert!(s.record(Arm::Champion, false, -0.5));
        assert!(s.record(Arm::Challenger, true, 2.0));
        let before = s.clone();
        assert!(!s.record(Arm::Champion, true, f64::NAN));
        assert!(!s.record(Arm::Challenger, true, f64::INFINITY));
        assert!(!s.record(Arm::Challenger, false, f64::NEG_INFINITY));
        assert!(!s.record(Arm::Challenger, false, f64::MAX));
        assert_eq!(s, before);
        assert_eq!((s.champion.trades, s.champion.wins), (2, 1));
        assert_eq!((s.challenger.trades, s.challenger.wins), (1, 1));
        assert_eq!(s.arm(Arm::Champion).pnl.mean(), Some(0.5));
        let r = s.report(&AbConfig::default());
        assert_eq!(r.champion.win_rate, Some(0.5));
        assert_eq!(r.challenger.mean_pnl_pct, Some(2.0));
        assert_eq!((r.champion.version, r.challenger.trades), (3, 1));
        assert!(!r.enough_trades && !r.significant);
        assert_eq!(r.challenger_better, None);
        // A full counter refuses further trades.
        s.champion.trades = u64::MAX;
        let before = s.clone();
        assert!(!s.record(Arm::Champion, true, 1.0));
        assert_eq!(s, before);
        // An empty experiment reports nothing.
        let r = AbState::new(1, 2, 0).report(&AbConfig::default());
        assert_eq!(r.champion.win_rate, None);
        assert_eq!(r.challenger.mean_pnl_pct, None);
        assert_eq!((r.win_rate_test, r.pnl_test), (None, None));
    }

    #[test]
    fn win_rate_test_matches_a_hand_computation() {
        // Champion 600 / 1000 wins, challenger 640 / 1000.
        // Pooled p = 1240 / 2000 = 0.62; SE = sqrt(0.62 * 0.38 * (1/1000 + 1/1000))
        // = sqrt(0.0004712) = 0.0217071417; z = (0.64 - 0.60) / SE = 1.8427115;
        // two-sided p = erfc(z / sqrt 2) = 0.0653711 (python3: math.erfc).
        let mut s = AbState::new(1, 2, 0);
        // Equal PnL on both arms' trades (no variance): the Welch test is undefined.
        fill(&mut s, Arm::Champion, 1000, 600, |_| 1.0);
        fill(&mut s, Arm::Challenger, 1000, 640, |_| 1.0);
        let config = AbConfig::default();
        let r = s.report(&config);
        let t = r.win_rate_test.unwrap();
        assert!((t.diff - 0.04).abs() < 1e-12, "{}", t.diff);
        assert!((t.z - 1.842_711_5).abs() < 1e-6, "{}", t.z);
        assert!((t.p_value - 0.065_371_1).abs() < 1e-6, "{}", t.p_value);
        assert_eq!(r.pnl_test, None);
        assert_eq!(r.champion.win_rate, Some(0.6));
        assert_eq!(r.challenger.win_rate, Some(0.64));
        assert!(r.enough_trades);
        // p = 0.065: not significant at 0.05, significant at 0.1.
        assert!(!r.significant);
        assert_eq!(r.challenger_better, None);
        let loose = AbConfig {
            alpha: 0.1,
            ..config
        };
        let r = s.report(&loose);
        assert!(r.significant);
        assert_eq!(r.challenger_better, Some(true));
        // Swapping the arms flips the sign: challenger minus champion.
        let swapped = AbState {
            champion: s.challenger,
            challenger: s.champion,
            started_at: 0,
        };
        let r = swapped.report(&loose);
        let t2 = r.win_rate_test.unwrap();
        assert_eq!((t2.z, t2.diff), (-t.z, -t.diff));
        assert_eq!(r.challenger_better, Some(false));
    }

    #[test]
    fn pnl_test_matches_welchs_example() {
        // Champion = A2, challenger = A1: t is A1 minus A2 = -2.455356 (Wikipedia -2.46),
        // df = 24.98853, two-sided p = 0.021378 (scipy, as in stats.rs).
        let mut s = AbState::new(1, 2, 0);
        for &x in &A2 {
            assert!(s.record(Arm::Champion, true, x));
        }
        for &x in &A1 {
            assert!(s.record(Arm::Challenger, true, x));
        }
        let config = AbConfig {
            min_trades: 15,
            ..AbConfig::default()
        };
        let r = s.report(&config);
        let w = r.pnl_test.unwrap();
        assert!((w.t - (-2.455_356)).abs() < 1e-3, "{}", w.t);
        assert!((w.df - 24.988_53).abs() < 1e-3, "{}", w.df);
        assert!((w.p_value - 0.021_378).abs() < 1e-3, "{}", w.p_value);
        let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((w.diff - (mean(&A1) - mean(&A2))).abs() < 1e-9);
        assert!(w.diff < 0.0);
        // All trades won on both arms: the win-rate test is undefined.
        assert_eq!(r.win_rate_test, None);
        assert!(r.enough_trades && r.significant);
        assert_eq!(r.challenger_better, Some(false));
        // With the default 30 trades per arm, nothing is significant yet.
        let r = s.report(&AbConfig::default());
        assert!(!r.enough_trades && !r.significant);
        assert_eq!(r.challenger_better, None);
        assert!(r.pnl_test.is_some());
    }

    #[test]
    fn challenger_better_follows_the_smaller_p_value() {
        // Challenger much better on PnL (p tiny), slightly worse on win rate (p ~ 0.047).
        let mut s = AbState::new(1, 2, 0);
        fill(&mut s, Arm::Champion, 400, 240, |i| (i % 7) as f64 * 0.1);
        fill(&mut s, Arm::Challenger, 400, 212, |i| {
            5.0 + (i % 7) as f64 * 0.1
        });
        let r = s.report(&AbConfig::default());
        let (w, p) = (r.win_rate_test.unwrap(), r.pnl_test.unwrap());
        assert!(w.p_value < 0.05 && w.diff < 0.0, "{w:?}");
        assert!(p.p_value < w.p_value && p.diff > 0.0, "{p:?}");
        assert!(r.significant);
        assert_eq!(r.challenger_better, Some(true));
    }

    #[test]
    fn should_promote_only_a_significantly_better_challenger() {
        let promote = AbConfig {
            auto_promote: true,
            min_trades: 15,
            ..AbConfig::default()
        };
        // Champion = A1, challenger = A2: the challenger's PnL is significantly higher
        // (p = 0.021), and the win rates are equal.
        let mut better = AbState::new(1, 2, 0);
        for (i, (&a, &b)) in A1.iter().zip(&A2).enumerate() {
            assert!(better.record(Arm::Champion, i % 2 == 0, a));
            assert!(better.record(Arm::Challenger, i % 2 == 0, b));
        }
        assert!(better.should_promote(&promote));
        // Not without auto_promote, nor before both arms have min_trades.
        assert!(!better.should_promote(&AbConfig {
            auto_promote: false,
            ..promote
        }));
        assert!(!better.should_promote(&AbConfig {
            min_trades: 16,
            ..promote
        }));
        // Not at a stricter level (p = 0.021 > 0.01).
        assert!(!better.should_promote(&AbConfig {
            alpha: 0.01,
            ..promote
        }));
        // Not the other way round: a significantly worse challenger.
        let worse = AbState {
            champion: better.challenger,
            challenger: better.champion,
            started_at: 0,
        };
        assert!(!worse.should_promote(&promote));

        // Better on win rate (p ~ 0.0005), equal PnL distribution: promote.
        let mut wins = AbState::new(1, 2, 0);
        fill(&mut wins, Arm::Champion, 400, 200, |i| (i % 5) as f64);
        fill(&mut wins, Arm::Challenger, 400, 250, |i| (i % 5) as f64);
        let r = wins.report(&promote);
        assert!(r.win_rate_test.unwrap().p_value < 0.001);
        assert!(r.pnl_test.unwrap().p_value > 0.5);
        assert!(wins.should_promote(&promote));

        // Better on win rate but significantly worse on PnL: keep the champion.
        let mut mixed = AbState::new(1, 2, 0);
        fill(&mut mixed, Arm::Champion, 400, 200, |i| {
            1.0 + (i % 5) as f64
        });
        fill(&mut mixed, Arm::Challenger, 400, 250, |i| (i % 5) as f64);
        let r = mixed.report(&promote);
        let (w, p) = (r.win_rate_test.unwrap(), r.pnl_test.unwrap());
        assert!(w.p_value < 0.05 && w.diff > 0.0);
        assert!(p.p_value < 0.05 && p.diff < 0.0);
        assert!(!mixed.should_promote(&promote));

        // No difference at all: nothing to promote.
        let mut same = AbState::new(1, 2, 0);
        fill(&mut same, Arm::Champion, 100, 50, |i| (i % 5) as f64);
        fill(&mut same, Arm::Challenger, 100, 50, |i| (i % 5) as f64);
        assert!(!same.should_promote(&promote));
        assert!(!same.report(&promote).significant);
        // Empty arms: no tests, no promotion.
        assert!(!AbState::new(1, 2, 0).should_promote(&AbConfig {
            min_trades: 1,
            ..promote
        }));
    }

    #[test]
    fn consistency_of_restored_state() {
        let mut s = AbState::new(1, 2, 0);
        assert!(s.is_consistent());
        fill(&mut s, Arm::Champion, 10, 4, |i| i as f64);
        fill(&mut s, Arm::Challenger, 3, 3, |i| -(i as f64));
        assert!(s.is_consistent());
        let bytes = postcard::to_allocvec(&s).unwrap();
        assert_eq!(postcard::from_bytes::<AbState>(&bytes).unwrap(), s);

        let mut t = s.clone();
        t.champion.wins = 11;
        assert!(!t.is_consistent());
        let mut t = s.clone();
        t.challenger.pnl.n = 4;
        assert!(!t.is_consistent());
        let mut t = s.clone();
        t.challenger.pnl.m2 = -1.0;
        assert!(!t.is_consistent());
        let mut t = s.clone();
        t.champion.pnl.mean = f64::NAN;
        assert!(!t.is_consistent());
        // Inconsistent state still reports without panicking.
        let mut t = s.clone();
        t.champion.wins = u64::MAX;
        t.challenger.pnl.mean = f64::INFINITY;
        let r = t.report(&AbConfig::default());
        assert_eq!(r.champion.win_rate, None);
        assert_eq!((r.win_rate_test, r.pnl_test), (None, None));
        assert!(!t.should_promote(&AbConfig {
            auto_promote: true,
            min_trades: 1,
            ..AbConfig::default()
        }));
    }
}
