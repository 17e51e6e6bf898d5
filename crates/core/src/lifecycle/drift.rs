//! Drift detection and a guard against extreme inputs.
//!
//! - [`PageHinkley`] watches the signal model's per-trade error (0/1 or log-loss) and
//!   raises an alarm when its mean increases: the model has become worse than it was.
//! - [`PsiReference`] + [`PsiWindow`] compare each feature's recent distribution with the
//!   training distribution by the population stability index.
//! - [`InputGuard`] pauses learning while too many recent inputs are extreme (a data error,
//!   a flash crash), so that a few absurd bars cannot retrain the models.
//!
//! All state is plain numbers and vectors (no `usize`), updated deterministically; no input
//! can make these types panic, and non-finite inputs are ignored.

use alloc::vec;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::error::{Error, check};
use crate::vocab::MAX_FEATURES;

/// Page-Hinkley test configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct PageHinkleyConfig {
    /// Tolerated increase of the mean before evidence accumulates (default 0.05: five
    /// percentage points of a 0/1 error rate; 0..=1e6).
    pub delta: f64,
    /// Alarm threshold on `m_t - min m_t` (default 15; finite, > 0, at most 1e9).
    pub lambda: f64,
    /// No alarm before this many values since the last reset (default 30; at most 1e6).
    pub min_samples: u32,
}

impl Default for PageHinkleyConfig {
    fn default() -> Self {
        Self {
            delta: 0.05,
            lambda: 15.0,
            min_samples: 30,
        }
    }
}

impl PageHinkleyConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            self.delta.is_finite() && (0.0..=1e6).contains(&self.delta),
            "page_hinkley.delta must be in [0, 1e6]",
        )?;
        check(
            self.lambda.is_finite() && self.lambda > 0.0 && self.lambda <= 1e9,
            "page_hinkley.lambda must be in (0, 1e9]",
        )?;
        check(
            self.min_samples <= 1_000_000,
            "page_hinkley.min_samples must be in 0..=1000000",
        )
    }
}

/// Page-Hinkley test for an increase of the mean of a stream.
///
/// With `xbar_t` the running mean of the values since the last reset,
/// `m_t = sum_{i <= t} (x_i - xbar_i - delta)` (with `m_0 = 0`) and `M_t = min_{i <= t} m_i`,
/// the alarm fires when `m_t - M_t > lambda` after at least `min_samples` values; the
/// detector then resets itself and learns the new level from scratch.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PageHinkley {
    /// Values since the last reset.
    pub count: u64,
    /// Their running mean.
    pub mean: f64,
    /// The cumulative sum `m_t`.
    pub sum: f64,
    /// Its minimum `M_t` (including `m_0 = 0`).
    pub min_sum: f64,
}

impl PageHinkley {
    /// A detector that has seen nothing.
    pub const fn new() -> Self {
        Self {
            count: 0,
            mean: 0.0,
            sum: 0.0,
            min_sum: 0.0,
        }
    }

    /// Adds one value; `true` when the alarm fires (the detector has then reset itself).
    /// A non-finite value, or one so large that the sums would overflow, is ignored
    /// (returns `false`, state unchanged).
    pub fn update(&mut self, config: &PageHinkleyConfig, x: f64) -> bool {
        let Some(count) = self.count.checked_add(1) else {
            return false;
        };
        let mean = self.mean + (x - self.mean) / count as f64;
        let sum = self.sum + (x - mean - config.delta);
        if !(x.is_finite() && mean.is_finite() && sum.is_finite()) {
            return false;
        }
        let min_sum = self.min_sum.min(sum);
        *self = Self {
            count,
            mean,
            sum,
            min_sum,
        };
        if count >= u64::from(config.min_samples) && self.statistic() > config.lambda {
            *self = Self::new();
            return true;
        }
        false
    }

    /// The test statistic `m_t - M_t` (0 after a reset), for monitoring.
    pub fn statistic(&self) -> f64 {
        self.sum - self.min_sum
    }

    /// Whether the fields could have come from [`PageHinkley::update`]: finite,
    /// `min_sum <= min(sum, 0)`, all zero when `count == 0`. For checking restored state.
    pub fn is_consistent(&self) -> bool {
        self.mean.is_finite()
            && self.sum.is_finite()
            && self.min_sum.is_finite()
            && self.min_sum <= self.sum
            && self.min_sum <= 0.0
            && (self.count > 0 || (self.mean == 0.0 && self.sum == 0.0 && self.min_sum == 0.0))
    }
}

/// Population stability index configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct PsiConfig {
    /// Quantile bins per feature (default 10, deciles, the usual choice for PSI; 2..=100).
    pub bins: u32,
    /// Recent inputs compared with the reference (default 500: about 50 per bin, so the
    /// sampling noise of PSI stays well below the threshold; 10..=20,000).
    pub window: u32,
    /// PSI above which a feature has drifted (default 0.25, the customary "significant
    /// shift" level; 0.1..0.25 is "moderate"; finite, > 0).
    pub threshold: f32,
}

impl Default for PsiConfig {
    fn default() -> Self {
        Self {
            bins: 10,
            window: 500,
            threshold: 0.25,
        }
    }
}

impl PsiConfig {
    /// Most bins (bin indices are stored as `u8`).
    pub const MAX_BINS: u32 = 100;
    /// Longest window.
    pub const MAX_WINDOW: u32 = 20_000;

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            (2..=Self::MAX_BINS).contains(&self.bins),
            "psi.bins must be in 2..=100",
        )?;
        check(
            (10..=Self::MAX_WINDOW).contains(&self.window),
            "psi.window must be in 10..=20000",
        )?;
        check(
            self.threshold.is_finite() && self.threshold > 0.0,
            "psi.threshold must be finite and > 0",
        )
    }
}

/// Floor on both proportions in the PSI sum, so that an empty bin gives a large but finite
/// term (and a bin empty on both sides gives exactly 0).
pub const PSI_FLOOR: f64 = 1e-4;

/// The training distribution of every feature: quantile bin edges and the share of the
/// training data in each bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PsiReference {
    /// `features x (bins - 1)` bin edges, row-major, non-decreasing within a row. A value
    /// `x` falls in bin `#{edges e of its feature: e <= x}`.
    pub edges: Vec<f32>,
    /// `features x bins` proportions of the training data per bin, row-major.
    pub expected: Vec<f32>,
    /// Number of features.
    pub features: u32,
    /// Bins per feature.
    pub bins: u32,
}

impl PsiReference {
    /// Builds the reference from `rows` (row-major, `features` values per row).
    ///
    /// Edge `i` (1..bins) of a feature is the value of rank `i * n / bins` of its sorted
    /// column (sorted with `total_cmp`, so the result is unique). Ties in the data give
    /// equal edges; the bins between equal edges can receive no value, neither in training
    /// nor later, so with [`PSI_FLOOR`] on both sides they add exactly 0 to the PSI: the
    /// duplicates collapse without changing the fixed layout. The expected proportions are
    /// measured by binning the same data.
    ///
    /// `None` when `features` is 0 or above 1024, `bins` is outside 2..=100, `rows` is empty
    /// or not a whole number of rows, or any value is not finite.
    pub fn fit(rows: &[f32], features: usize, bins: usize) -> Option<Self> {
        let max_features = MAX_FEATURES as usize;
        let max_bins = PsiConfig::MAX_BINS as usize;
        if features == 0 || features > max_features || !(2..=max_bins).contains(&bins) {
            return None;
        }
        if rows.is_empty()
            || !rows.len().is_multiple_of(features)
            || rows.iter().any(|x| !x.is_finite())
        {
            return None;
        }
        let n = rows.len() / features;
        let mut edges = Vec::with_capacity(features * (bins - 1));
        let mut expected = Vec::with_capacity(features * bins);
        let mut column = Vec::with_capacity(n);
        let mut counts = vec![0u64; bins];
        for j in 0..features {
            column.clear();
            column.extend(rows.iter().skip(j).step_by(features).copied());
            column.sort_unstable_by(f32::total_cmp);
            let start = edges.len();
            for i in 1..bins {
                // i < bins, so the rank is below n.
                let rank = (i as u64 * n as u64 / bins as u64) as usize;
                edges.push(*column.get(rank)?);
            }
            let row = edges.get(start..)?;
            counts.fill(0);
            for &x in &column {
                *counts.get_mut(bin_of(row, x))? += 1;
            }
            expected.extend(counts.iter().map(|&c| (c as f64 / n as f64) as f32));
        }
        Some(Self {
            edges,
            expected,
            features: features as u32,
            bins: bins as u32,
        })
    }

    /// The bin of value `x` of feature `feature` (`None` if the feature does not exist).
    pub fn bin(&self, feature: u32, x: f32) -> Option<u8> {
        let w = self.bins.checked_sub(1)? as usize;
        let start = (feature as usize).checked_mul(w)?;
        let row = self.edges.get(start..start.checked_add(w)?)?;
        u8::try_from(bin_of(row, x)).ok()
    }

    /// Whether the shapes and values are possible results of [`PsiReference::fit`]. For
    /// checking restored state.
    pub fn is_consistent(&self) -> bool {
        let (f, b) = (self.features as usize, self.bins as usize);
        (1..=MAX_FEATURES).contains(&self.features)
            && (2..=PsiConfig::MAX_BINS).contains(&self.bins)
            && self.edges.len() == f * (b - 1)
            && self.expected.len() == f * b
            && self.edges.iter().all(|e| e.is_finite())
            && self
                .edges
                .chunks(b - 1)
                .all(|r| r.windows(2).all(|w| w[0] <= w[1]))
            && self
                .expected
                .iter()
                .all(|p| p.is_finite() && (0.0..=1.0).contains(p))
    }

    /// The PSI of each feature for the given per-bin counts (`features x bins`, row-major)
    /// out of `total` values. `None` on a shape mismatch or `total == 0`.
    fn psi_of_counts(&self, counts: &[u32], total: u32) -> Option<Vec<f32>> {
        let b = self.bins as usize;
        if total == 0 || b == 0 || counts.len() != self.expected.len() {
            return None;
        }
        let total = f64::from(total);
        let psi = counts
            .chunks(b)
            .zip(self.expected.chunks(b))
            .map(|(c, e)| {
                let mut s = 0.0f64;
                for (&c, &e) in c.iter().zip(e) {
                    // Rounded to f32 like the stored expected proportions, so identical
                    // histograms give exactly 0.
                    let a = f64::from((f64::from(c) / total) as f32).max(PSI_FLOOR);
                    let e = f64::from(e).max(PSI_FLOOR);
                    s += (a - e) * libm::log(a / e);
                }
                s as f32
            })
            .collect();
        Some(psi)
    }
}

/// Bin index of `x` in a row of non-decreasing edges: the number of edges `<= x`.
fn bin_of(row: &[f32], x: f32) -> usize {
    row.partition_point(|&e| e <= x)
}

/// The bins of the last `window` inputs, as a ring, for comparing with a [`PsiReference`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PsiWindow {
    /// Inputs kept.
    pub window: u32,
    /// `window x features` bin indices, row-major: one row per input slot.
    pub bin_codes: Vec<u8>,
    /// The slot the next input is written to.
    pub head: u32,
    /// Slots filled (at most `window`).
    pub len: u32,
}

impl PsiWindow {
    /// An empty window of `config.window` inputs of `reference.features` features.
    pub fn new(reference: &PsiReference, config: &PsiConfig) -> Result<Self, Error> {
        config.validate()?;
        let size = (config.window as usize).checked_mul(reference.features as usize);
        let Some(size) = size.filter(|_| reference.features <= MAX_FEATURES) else {
            return Err(Error::InvalidConfig("psi reference has too many features"));
        };
        Ok(Self {
            window: config.window,
            bin_codes: vec![0; size],
            head: 0,
            len: 0,
        })
    }

    /// Records one input. An input of the wrong length or with a non-finite value is
    /// ignored (returns `false`); so is everything when the window does not match the
    /// reference (inconsistent state).
    pub fn push(&mut self, reference: &PsiReference, x: &[f32]) -> bool {
        let f = reference.features as usize;
        if x.len() != f || x.iter().any(|v| !v.is_finite()) || self.window == 0 {
            return false;
        }
        if Some(self.bin_codes.len()) != (self.window as usize).checked_mul(f) {
            return false;
        }
        let Some(start) = (self.head as usize).checked_mul(f) else {
            return false;
        };
        let Some(slot) = self.bin_codes.get_mut(start..start + f) else {
            return false;
        };
        for (j, (code, &v)) in slot.iter_mut().zip(x).enumerate() {
            match reference.bin(j as u32, v) {
                Some(b) => *code = b,
                None => return false,
            }
        }
        self.head = (self.head + 1) % self.window;
        self.len = self.len.saturating_add(1).min(self.window);
        true
    }

    /// Whether the window holds `window` inputs.
    pub fn is_full(&self) -> bool {
        self.window > 0 && self.len >= self.window
    }

    /// The PSI of every feature between the window and the reference, `None` until the
    /// window is full (or if the window does not match the reference).
    pub fn psi(&self, reference: &PsiReference) -> Option<Vec<f32>> {
        if !self.is_full() {
            return None;
        }
        let (f, b) = (reference.features as usize, reference.bins as usize);
        if f == 0 || Some(self.bin_codes.len()) != (self.window as usize).checked_mul(f) {
            return None;
        }
        let mut counts = vec![0u32; f.checked_mul(b)?];
        for slot in self.bin_codes.chunks(f) {
            for (j, &code) in slot.iter().enumerate() {
                let code = usize::from(code);
                if code >= b {
                    return None;
                }
                *counts.get_mut(j * b + code)? += 1;
            }
        }
        reference.psi_of_counts(&counts, self.window)
    }

    /// Whether the detector tests the window after the input just pushed: once it is full,
    /// every `max(1, window / 10)` inputs (recounting a window is `window x features`
    /// work; the PSI of a 500-input window moves little in 50 inputs).
    pub fn due(&self) -> bool {
        let every = (self.window / 10).max(1);
        self.is_full() && self.head.is_multiple_of(every)
    }

    /// [`PsiWindow::psi`] summarised by [`summarize_psi`].
    pub fn check(&self, reference: &PsiReference, config: &PsiConfig) -> Option<PsiSummary> {
        summarize_psi(&self.psi(reference)?, config)
    }

    /// Whether the fields are consistent with `reference`. For checking restored state.
    pub fn is_consistent(&self, reference: &PsiReference) -> bool {
        let f = reference.features as usize;
        (10..=PsiConfig::MAX_WINDOW).contains(&self.window)
            && Some(self.bin_codes.len()) == (self.window as usize).checked_mul(f)
            && self.head < self.window
            && self.len <= self.window
            && (self.len == self.window || self.head == self.len)
            && self
                .bin_codes
                .iter()
                .all(|&c| u32::from(c) < reference.bins)
    }
}

/// The largest PSI over the features and whether it crosses the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PsiSummary {
    /// The largest PSI.
    pub max: f32,
    /// The feature it belongs to (the first one on ties).
    pub feature: u32,
    /// `max > config.threshold`.
    pub drifted: bool,
}

/// The largest PSI in `psi` (NaN counts as drift) and whether it is above
/// `config.threshold`; `None` for an empty slice.
pub fn summarize_psi(psi: &[f32], config: &PsiConfig) -> Option<PsiSummary> {
    let mut best: Option<(usize, f32)> = None;
    for (j, &v) in psi.iter().enumerate() {
        let v = if v.is_nan() { f32::INFINITY } else { v };
        if best.is_none_or(|(_, m)| v > m) {
            best = Some((j, v));
        }
    }
    let (feature, max) = best?;
    Some(PsiSummary {
        max,
        feature: u32::try_from(feature).unwrap_or(u32::MAX),
        drifted: max > config.threshold,
    })
}

/// Extreme-input guard configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct GuardConfig {
    /// An input is extreme when any feature's |z-score| is above this (default 8: beyond
    /// anything a normal distribution produces, p ~ 1e-15, and rare even for heavy-tailed
    /// returns; finite, > 0).
    pub z: f32,
    /// Recent inputs considered (default 50; 1..=10,000).
    pub window: u32,
    /// Learning pauses while at least this share of the window is extreme (default 0.3: a
    /// lone outlier never pauses, a broken feed or a crash regime does; in (0, 1]).
    pub share: f32,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            z: 8.0,
            window: 50,
            share: 0.3,
        }
    }
}

impl GuardConfig {
    /// Longest window.
    pub const MAX_WINDOW: u32 = 10_000;

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            self.z.is_finite() && self.z > 0.0,
            "guard.z must be finite and > 0",
        )?;
        check(
            (1..=Self::MAX_WINDOW).contains(&self.window),
            "guard.window must be in 1..=10000",
        )?;
        check(
            self.share > 0.0 && self.share <= 1.0,
            "guard.share must be in (0, 1]",
        )
    }
}

/// Whether an input is extreme: any |z-score| above `config.z`. A non-finite z-score
/// counts as extreme (a broken input should not be learned from).
pub fn is_extreme(z_scores: &[f32], config: &GuardConfig) -> bool {
    z_scores.iter().any(|z| z.is_nan() || z.abs() > config.z)
}

/// Remembers which of the last `window` inputs were extreme (one bit each) and says when
/// learning should pause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputGuard {
    /// Inputs remembered.
    pub window: u32,
    /// One bit per slot, `ceil(window / 64)` words; bit `i % 64` of word `i / 64` is slot `i`.
    pub bits: Vec<u64>,
    /// The slot the next input is written to.
    pub head: u32,
    /// Slots filled (at most `window`).
    pub len: u32,
}

impl InputGuard {
    /// An empty guard for `config.window` inputs.
    pub fn new(config: &GuardConfig) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self::with_window(config.window))
    }

    fn with_window(window: u32) -> Self {
        Self {
            window,
            bits: vec![0; window.div_ceil(64) as usize],
            head: 0,
            len: 0,
        }
    }

    /// Records whether the latest input was extreme. If `config.window` differs from the
    /// guard's window (the configuration changed) and is valid, the guard starts over with
    /// the new window first.
    pub fn push(&mut self, config: &GuardConfig, extreme: bool) {
        if config.window != self.window && (1..=GuardConfig::MAX_WINDOW).contains(&config.window) {
            *self = Self::with_window(config.window);
        }
        if self.window == 0 || self.head >= self.window {
            return;
        }
        let (word, bit) = ((self.head / 64) as usize, self.head % 64);
        let Some(w) = self.bits.get_mut(word) else {
            return;
        };
        if extreme {
            *w |= 1 << bit;
        } else {
            *w &= !(1 << bit);
        }
        self.head = (self.head + 1) % self.window;
        self.len = self.len.saturating_add(1).min(self.window);
    }

    /// Extreme inputs among the remembered ones.
    pub fn extreme_count(&self) -> u32 {
        let mut left = self.window;
        let mut n = 0;
        for &w in &self.bits {
            let take = left.min(64);
            let mask = if take == 64 {
                u64::MAX
            } else {
                (1u64 << take) - 1
            };
            n += (w & mask).count_ones();
            left -= take;
        }
        n
    }

    /// Whether learning should pause: the window is full and at least `config.share` of it
    /// is extreme.
    pub fn paused(&self, config: &GuardConfig) -> bool {
        // The observed share rounded to f32, like the configured one (3 of 10 is 0.3).
        self.window > 0
            && self.len >= self.window
            && self.extreme_count() as f32 / self.window as f32 >= config.share
    }

    /// Whether the fields are consistent. For checking restored state.
    pub fn is_consistent(&self) -> bool {
        (1..=GuardConfig::MAX_WINDOW).contains(&self.window)
            && self.bits.len() == self.window.div_ceil(64) as usize
            && self.head < self.window
            && self.len <= self.window
            && (self.len == self.window || self.head == self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// Runs a Bernoulli(0.4) error stream for `before` samples, then Bernoulli(0.7). Returns
    /// the number of alarms before the switch and the delay of the first alarm after it.
    fn shift_run(seed: u64, before: u32, after: u32) -> (u32, Option<u32>) {
        let config = PageHinkleyConfig::default();
        let mut ph = PageHinkley::new();
        let mut rng = SplitMix64::new(seed);
        let mut false_alarms = 0;
        for _ in 0..before {
            let x = f64::from(u8::from(rng.chance(0.4)));
            false_alarms += u32::from(ph.update(&config, x));
        }
        for i in 1..=after {
            let x = f64::from(u8::from(rng.chance(0.7)));
            if ph.update(&config, x) {
                return (false_alarms, Some(i));
            }
        }
        (false_alarms, None)
    }

    #[test]
    fn page_hinkley_detects_an_error_rate_increase() {
        // 100 seeds, 500 stationary samples then the switch from 0.4 to 0.7. Measured with
        // the defaults: detected within 150 samples in 100 of 100 seeds, delays 8..=121,
        // median 54 (one seed has a false alarm before the switch). Over seeds 0..1000:
        // 998 of 1000 within 150, median 54, mean 56, 95th percentile 91, max 231.
        let mut detected = 0;
        let mut delays = Vec::new();
        for seed in 0..100 {
            let (_, delay) = shift_run(seed, 500, 150);
            if let Some(d) = delay {
                detected += 1;
                delays.push(d);
            }
        }
        assert!(detected >= 95, "detected in {detected} of 100 seeds");
        delays.sort_unstable();
        let median = delays[delays.len() / 2];
        assert!(median <= 80, "median delay {median}");
    }

    #[test]
    fn page_hinkley_rarely_alarms_on_a_stationary_stream() {
        // 2,000 samples of Bernoulli(0.4) per seed, 100 seeds. Measured with the defaults:
        // 4 of these 100 seeds raise an alarm (4 alarms in 200,000 samples); over 1,000
        // other seeds 53 do (54 alarms in 2,000,000 samples, about one per 37,000). The
        // bound allows twice the 1,000-seed rate.
        let mut seeds_with_alarm = 0;
        let mut alarms = 0;
        for seed in 1000..1100 {
            let (a, _) = shift_run(seed, 2000, 0);
            alarms += a;
            seeds_with_alarm += u32::from(a > 0);
        }
        assert!(seeds_with_alarm <= 10, "{seeds_with_alarm} seeds alarmed");
        assert!(alarms <= 15, "{alarms} alarms");
    }

    #[test]
    fn page_hinkley_statistic_resets_and_ignores_bad_values() {
        let config = PageHinkleyConfig {
            delta: 0.0,
            lambda: 2.5,
            min_samples: 3,
        };
        let mut ph = PageHinkley::new();
        assert_eq!(ph.statistic(), 0.0);
        // Constant stream: x - mean = 0, so m_t stays 0.
        for _ in 0..5 {
            assert!(!ph.update(&config, 1.0));
        }
        assert_eq!(ph.statistic(), 0.0);
        let before = ph;
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(!ph.update(&config, bad));
            assert_eq!(ph, before);
        }
        // A finite value whose update would overflow is ignored too.
        let mut far = PageHinkley {
            count: 1,
            mean: -f64::MAX,
            ..PageHinkley::new()
        };
        let far_before = far;
        assert!(!far.update(&config, f64::MAX));
        assert_eq!(far, far_before);
        // A jump to 5: x_6 - mean_6 = 5 - 10/6 = 3.33 > 2.5 -> alarm, reset.
        assert!(ph.update(&config, 5.0));
        assert_eq!(ph, PageHinkley::new());
        // After the reset, min_samples applies again.
        assert!(!ph.update(&config, 0.0));
        assert!(!ph.update(&config, 100.0));
        assert!(ph.statistic() > config.lambda);
        assert!(ph.is_consistent());
        // A saturated counter is left alone.
        let mut full = PageHinkley {
            count: u64::MAX,
            ..PageHinkley::new()
        };
        assert!(!full.update(&config, 1.0));
        assert!(
            !PageHinkley {
                sum: -1.0,
                ..PageHinkley::new()
            }
            .is_consistent()
        );
    }

    #[test]
    fn configs_validate() {
        assert_eq!(PageHinkleyConfig::default().validate(), Ok(()));
        assert_eq!(PsiConfig::default().validate(), Ok(()));
        assert_eq!(GuardConfig::default().validate(), Ok(()));
        let ph = PageHinkleyConfig::default();
        for bad in [
            PageHinkleyConfig { delta: -0.1, ..ph },
            PageHinkleyConfig {
                delta: f64::NAN,
                ..ph
            },
            PageHinkleyConfig { lambda: 0.0, ..ph },
            PageHinkleyConfig {
                lambda: f64::INFINITY,
                ..ph
            },
            PageHinkleyConfig {
                min_samples: 1_000_001,
                ..ph
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::InvalidConfig(_))),
                "{bad:?}"
            );
        }
        let psi = PsiConfig::default();
        for bad in [
            PsiConfig { bins: 1, ..psi },
            PsiConfig { bins: 101, ..psi },
            PsiConfig { window: 9, ..psi },
            PsiConfig {
                window: 20_001,
                ..psi
            },
            PsiConfig {
                threshold: 0.0,
                ..psi
            },
            PsiConfig {
                threshold: f32::NAN,
                ..psi
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::InvalidConfig(_))),
                "{bad:?}"
            );
        }
        let g = GuardConfig::default();
        for bad in [
            GuardConfig { z: 0.0, ..g },
            GuardConfig { z: f32::NAN, ..g },
            GuardConfig { window: 0, ..g },
            GuardConfig {
                window: 10_001,
                ..g
            },
            GuardConfig { share: 0.0, ..g },
            GuardConfig { share: 1.01, ..g },
            GuardConfig {
                share: f32::NAN,
                ..g
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::InvalidConfig(_))),
                "{bad:?}"
            );
        }
        assert!(
            PsiWindow::new(
                &PsiReference::fit(&[0.0; 20], 2, 10).unwrap(),
                &PsiConfig { window: 5, ..psi }
            )
            .is_err()
        );
        assert!(InputGuard::new(&GuardConfig { window: 0, ..g }).is_err());
    }

    /// `n` rows of `features` values: feature j ~ N(shift * (j + 1), 1).
    fn normal_rows(seed: u64, n: usize, features: usize, shift: f64) -> Vec<f32> {
        let mut rng = SplitMix64::new(seed);
        (0..n * features)
            .map(|i| (rng.normal() + shift * ((i % features) + 1) as f64) as f32)
            .collect()
    }

    #[test]
    fn psi_is_small_for_the_same_distribution_and_large_for_a_shift() {
        let config = PsiConfig::default();
        let features = 3;
        let reference =
            PsiReference::fit(&normal_rows(1, 5000, features, 0.0), features, 10).expect("fit");
        assert!(reference.is_consistent());
        // Deciles: every expected proportion is 0.1 (continuous data, 5000 rows).
        for &e in &reference.expected {
            assert!((e - 0.1).abs() < 1e-6, "{e}");
        }
        let mut window = PsiWindow::new(&reference, &config).unwrap();
        let same = normal_rows(2, 500, features, 0.0);
        for (i, row) in same.chunks(features).enumerate() {
            assert_eq!(window.psi(&reference), None, "not full at {i}");
            assert!(window.push(&reference, row));
        }
        let psi = window.psi(&reference).expect("full");
        assert_eq!(psi.len(), features);
        for &p in &psi {
            // Sampling noise of PSI with 500 draws in 10 bins is about (bins - 1) / window.
            assert!((0.0..0.06).contains(&p), "{psi:?}");
        }
        assert!(!window.check(&reference, &config).unwrap().drifted);
        assert!(window.is_consistent(&reference));

        // Shift feature j by 0.5 * (j + 1) standard deviations: 0.5, 1.0, 1.5.
        let shifted = normal_rows(3, 500, features, 0.5);
        for row in shifted.chunks(features) {
            window.push(&reference, row);
        }
        let psi = window.psi(&reference).unwrap();
        assert!(psi[0] > 0.1 && psi[1] > 0.25 && psi[2] > psi[1], "{psi:?}");
        let summary = window.check(&reference, &config).unwrap();
        assert_eq!(summary.feature, 2);
        assert_eq!(summary.max, psi[2]);
        assert!(summary.drifted && summary.max > 0.25);
        // Deterministic: the same pushes give the same bits.
        let mut again = PsiWindow::new(&reference, &config).unwrap();
        for row in shifted.chunks(features) {
            again.push(&reference, row);
        }
        assert_eq!(again, window);
        assert_eq!(again.psi(&reference).unwrap(), psi);
    }

    #[test]
    fn psi_handles_ties_and_constant_features() {
        // Feature 0 is binary (70% zeros), feature 1 constant.
        let mut rows = Vec::new();
        for i in 0..1000 {
            rows.push(if i % 10 < 7 { 0.0 } else { 1.0 });
            rows.push(4.0);
        }
        let reference = PsiReference::fit(&rows, 2, 10).unwrap();
        assert!(reference.is_consistent());
        // Edges of feature 0 are six zeros then three ones; zeros fall in bin 6, ones in 9.
        assert_eq!(
            &reference.edges[..9],
            &[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
        );
        assert_eq!(reference.bin(0, 0.0), Some(6));
        assert_eq!(reference.bin(0, 1.0), Some(9));
        assert_eq!(reference.bin(0, -1.0), Some(0));
        assert_eq!(reference.bin(2, 0.0), None);
        let e0 = &reference.expected[..10];
        assert!(
            (e0[6] - 0.7).abs() < 1e-6 && (e0[9] - 0.3).abs() < 1e-6,
            "{e0:?}"
        );
        assert!((reference.expected[19] - 1.0).abs() < 1e-6);

        let config = PsiConfig {
            window: 100,
            ..PsiConfig::default()
        };
        let mut window = PsiWindow::new(&reference, &config).unwrap();
        for i in 0..100 {
            window.push(&reference, &[if i % 10 < 7 { 0.0 } else { 1.0 }, 4.0]);
        }
        // The same distribution: exactly zero, the empty bins contribute nothing.
        assert_eq!(window.psi(&reference).unwrap(), vec![0.0, 0.0]);
        // The constant moves; the binary feature flips to 30% zeros.
        for i in 0..100 {
            window.push(&reference, &[if i % 10 < 3 { 0.0 } else { 1.0 }, 3.0]);
        }
        let psi = window.psi(&reference).unwrap();
        assert!(psi[0] > 0.25 && psi[1] > 5.0, "{psi:?}");
    }

    #[test]
    fn psi_rejects_bad_inputs_without_panicking() {
        assert!(PsiReference::fit(&[], 1, 10).is_none());
        assert!(PsiReference::fit(&[1.0, 2.0, 3.0], 2, 10).is_none());
        assert!(PsiReference::fit(&[1.0, 2.0], 0, 10).is_none());
        assert!(PsiReference::fit(&[1.0, 2.0], 1, 1).is_none());
        assert!(PsiReference::fit(&[1.0, 2.0], 1, 101).is_none());
        assert!(PsiReference::fit(&[1.0, f32::NAN], 1, 10).is_none());
        assert!(PsiReference::fit(&[1.0; 2048], 1025, 2).is_none());
        // Fewer rows than bins is fine.
        let reference = PsiReference::fit(&[1.0, 2.0, 3.0], 1, 10).unwrap();
        assert!(reference.is_consistent());
        let config = PsiConfig {
            window: 10,
            ..PsiConfig::default()
        };
        let mut window = PsiWindow::new(&reference, &config).unwrap();
        let before = window.clone();
        assert!(!window.push(&reference, &[f32::NAN]));
        assert!(!window.push(&reference, &[f32::INFINITY]));
        assert!(!window.push(&reference, &[1.0, 2.0]));
        assert!(!window.push(&reference, &[]));
        assert_eq!(window, before);
        for _ in 0..10 {
            assert!(window.push(&reference, &[2.5]));
        }
        assert!(window.psi(&reference).is_some());
        // A window that does not match the reference (e.g. restored with another one).
        let other = PsiReference::fit(&[1.0, 2.0, 3.0, 4.0], 2, 10).unwrap();
        assert_eq!(window.psi(&other), None);
        assert!(!window.push(&other, &[1.0, 2.0]));
        assert!(!window.is_consistent(&other));
        // Corrupted state: nothing panics.
        let mut broken = PsiWindow {
            window: 10,
            bin_codes: vec![200; 10],
            head: 99,
            len: 10,
        };
        assert_eq!(broken.psi(&reference), None);
        assert!(!broken.push(&reference, &[1.0]));
        assert!(!broken.is_consistent(&reference));
        let mut zero = PsiWindow {
            window: 0,
            bin_codes: vec![],
            head: 0,
            len: 0,
        };
        assert!(!zero.push(&reference, &[1.0]));
        assert_eq!(zero.psi(&reference), None);
        let odd = PsiReference {
            edges: vec![f32::NAN; 3],
            expected: vec![0.5; 1],
            features: 7,
            bins: 0,
        };
        assert!(!odd.is_consistent());
        assert_eq!(odd.bin(0, 1.0), None);
        assert!(PsiWindow::new(&odd, &config).unwrap().psi(&odd).is_none());
        assert_eq!(summarize_psi(&[], &config), None);
        let s = summarize_psi(&[0.1, f32::NAN, 0.3], &config).unwrap();
        assert_eq!((s.feature, s.drifted), (1, true));
    }

    #[test]
    fn guard_pauses_and_resumes() {
        let config = GuardConfig {
            z: 8.0,
            window: 10,
            share: 0.3,
        };
        assert!(!is_extreme(&[0.0, -7.9, 8.0], &config));
        assert!(is_extreme(&[0.0, -8.5], &config));
        assert!(is_extreme(&[f32::NAN], &config));
        assert!(is_extreme(&[f32::INFINITY], &config));
        assert!(!is_extreme(&[], &config));

        let mut guard = InputGuard::new(&config).unwrap();
        // Three extreme inputs first: not paused until the window is full.
        for _ in 0..3 {
            guard.push(&config, true);
            assert!(!guard.paused(&config));
        }
        for i in 0..6 {
            guard.push(&config, false);
            assert!(!guard.paused(&config), "{i}");
        }
        guard.push(&config, false);
        // Full: 3 of 10 extreme = 0.3 >= share.
        assert_eq!(guard.extreme_count(), 3);
        assert!(guard.paused(&config));
        // The first extreme input leaves the window: 2 of 10.
        guard.push(&config, false);
        assert_eq!(guard.extreme_count(), 2);
        assert!(!guard.paused(&config));
        assert!(guard.is_consistent());
        // A changed window restarts the guard.
        let wide = GuardConfig {
            window: 100,
            ..config
        };
        guard.push(&wide, true);
        assert_eq!(
            (guard.window, guard.len, guard.extreme_count()),
            (100, 1, 1)
        );
        assert_eq!(guard.bits.len(), 2);
        for _ in 0..99 {
            guard.push(&wide, true);
        }
        assert!(guard.paused(&wide));
        assert_eq!(guard.extreme_count(), 100);
        for _ in 0..71 {
            guard.push(&wide, false);
        }
        assert_eq!(guard.extreme_count(), 29);
        assert!(!guard.paused(&wide));
        // Corrupted state: no panic.
        let mut broken = InputGuard {
            window: 100,
            bits: vec![],
            head: 7,
            len: 500,
        };
        broken.push(&wide, true);
        assert!(!broken.is_consistent());
        let _ = broken.paused(&wide);
    }
}
