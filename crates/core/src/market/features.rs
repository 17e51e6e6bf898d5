//! The 32 "W6" features of a bar, computed in a stream, bit-exact with the benchmark.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::candle::{Candle, CandleError};
use super::cr_log::ln;

/// Number of W6 features.
pub const FEATURES: usize = 32;

/// Bars consumed before the first feature row: features exist for bar index `t >= WARM`.
pub const WARM: u64 = 96;

/// Label horizon in bars: the label of bar `t` needs the close of bar `t + HORIZON`.
pub const HORIZON: usize = 12;

/// Names of the 32 features, in order.
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "ret_0",
    "ret_1",
    "ret_2",
    "ret_3",
    "ret_4",
    "ret_5",
    "ret_6",
    "ret_7",
    "ret_8",
    "ret_9",
    "ret_10",
    "ret_11",
    "ret_12",
    "ret_13",
    "ret_14",
    "ret_15",
    "log_range",
    "body",
    "mom_4",
    "mom_8",
    "mom_16",
    "mom_32",
    "mom_64",
    "range_pos_4",
    "range_pos_8",
    "range_pos_16",
    "range_pos_32",
    "range_pos_64",
    "log_volume_dev",
    "ret_0_capped",
    "sigma_ratio",
    "upper_wick",
];

/// Long window (EWMA span, ring length).
const W: usize = 64;
const ALPHA: f64 = 2.0 / (64.0 + 1.0);
const EPS: f64 = 1e-12;
const CLIP: f64 = 10.0;
const WINDOWS: [usize; 5] = [4, 8, 16, 32, 64];

/// The last 64 values of a series, oldest overwritten first.
///
/// Serialized as the 64 values oldest-first (a canonical form, independent of where the
/// write position happens to be).
#[derive(Debug, Clone, PartialEq)]
struct Ring {
    buf: [f64; W],
    /// Index of the oldest value = where the next value is written.
    head: usize,
}

impl Ring {
    const fn new() -> Self {
        Self {
            buf: [0.0; W],
            head: 0,
        }
    }

    fn push(&mut self, x: f64) {
        self.buf[self.head % W] = x;
        self.head = (self.head + 1) % W;
    }

    /// The newest `n` values (`n <= 64`), oldest first.
    fn last(&self, n: usize) -> impl Iterator<Item = f64> + '_ {
        let n = n.min(W);
        (W - n..W).map(move |i| self.buf[(self.head + i) % W])
    }

    /// The value `k` steps back from the newest (`k = 0` is the newest).
    fn back(&self, k: usize) -> f64 {
        self.buf[(self.head + W - 1 - (k % W)) % W]
    }
}

impl Serialize for Ring {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(W)?;
        for x in self.last(W) {
            t.serialize_element(&x)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Ring {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ring;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("64 f64 values")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Ring, A::Error> {
                let mut ring = Ring::new();
                for i in 0..W {
                    ring.buf[i] = seq
                        .next_element()?
                        .ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
                }
                Ok(ring)
            }
        }
        d.deserialize_tuple(W, V)
    }
}

/// Streaming W6 feature extractor: push bars oldest first, get each bar's 32 features.
///
/// Constant memory (five rings of 64 `f64`) and O(64) work per bar. The whole state is
/// serde-serializable, so it can ride in a checkpoint and continue bit-identically.
///
/// The specification is the header of `shared/bench/anchors/stream.py` (mirrored in
/// `W6_SPEC.md`); this extractor reproduces its float32 features (and [`w6_label`] / [`w6_stream`]
/// its labels) bit for bit, so a learner here is scored on the very stream the benchmark
/// peers were scored on.
///
/// Summary (bar index `t`, `r_i = ln(c_i / c_{i-1})`, `sigma_t` an EWMA volatility with
/// `ALPHA = 2/65` seeded by the mean of the first 64 squared returns, defined from bar 64):
///
/// | index | feature |
/// |---|---|
/// | 0..=15 | `r_{t-k} / sigma_t`, k = 0..15 |
/// | 16 | `ln(h_t / l_t) / sigma_t` |
/// | 17 | `(c_t - o_t) / ((h_t - l_t) + 1e-12)` |
/// | 18..=22 | momentum `S_w / (sigma_t * sqrt(w))`, w = 4, 8, 16, 32, 64 |
/// | 23..=27 | range position `(c_t - LO_w) / ((HI_w - LO_w) + 1e-12)`, same windows |
/// | 28 | `ln(v_t + 1)` minus its 64-bar mean |
/// | 29 | `sign(r_t) * min(|r_t| / sigma_t, 5)` |
/// | 30 | `sigma_t` / mean of the last (up to) 64 sigmas |
/// | 31 | upper-wick fraction `(h_t - max(o_t, c_t)) / ((h_t - l_t) + 1e-12)` |
///
/// `ln` is a correctly rounded natural log (not `libm::log`, which is one ulp off often
/// enough to change the bits). Every feature is clipped to `[-10, 10]` in `f64`, then rounded
/// to `f32`. Sums run oldest-first and are re-summed at every bar (no running sums), which
/// is what makes the bits equal. Features exist from bar 96 on ([`WARM`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureExtractor {
    /// Bars pushed so far (= index of the next bar).
    bars: u64,
    /// Close of the previous bar.
    prev_close: f64,
    /// Running sequential sum of r_i^2 for i = 1..=64 (only used until bar 64).
    sq_sum: f64,
    /// EWMA variance of the last bar (valid from bar 64 on).
    var: f64,
    /// r_i of the last 64 bars (bar >= 1).
    returns: Ring,
    /// sigma_i of the last 64 bars (bar >= 64).
    sigmas: Ring,
    /// Highs of the last 64 bars.
    highs: Ring,
    /// Lows of the last 64 bars.
    lows: Ring,
    /// ln(v + 1) of the last 64 bars.
    log_volumes: Ring,
}

impl Default for FeatureExtractor {
    fn default() -> Self {
        Self::new()
    }
}

/// `x` clipped to `[-10, 10]` (NaN stays NaN).
fn clip(x: f64) -> f64 {
    x.clamp(-CLIP, CLIP)
}

fn min_f(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

fn max_f(a: f64, b: f64) -> f64 {
    if b > a { b } else { a }
}

/// Sequential oldest-first float64 sum, starting at 0.0.
fn seq_sum(it: impl Iterator<Item = f64>) -> f64 {
    let mut s = 0.0;
    for x in it {
        s += x;
    }
    s
}

impl FeatureExtractor {
    /// An extractor that has seen no bar.
    pub const fn new() -> Self {
        Self {
            bars: 0,
            prev_close: 0.0,
            sq_sum: 0.0,
            var: 0.0,
            returns: Ring::new(),
            sigmas: Ring::new(),
            highs: Ring::new(),
            lows: Ring::new(),
            log_volumes: Ring::new(),
        }
    }

    /// Number of bars pushed so far.
    pub fn bars(&self) -> u64 {
        self.bars
    }

    /// `sigma_t` of the last pushed bar (defined from bar index 64 on), else `None`.
    pub fn sigma(&self) -> Option<f64> {
        (self.bars > W as u64).then(|| self.sigmas.back(0))
    }

    /// Validates the candle ([`Candle::validate`]) and then [`push`](Self::push)es it.
    /// On `Err` the extractor is unchanged.
    pub fn try_push(&mut self, c: &Candle) -> Result<Option<[f32; FEATURES]>, CandleError> {
        c.validate()?;
        Ok(self.push(c))
    }

    /// Consumes the next bar; returns its 32 features once its index `t >= 96`.
    ///
    /// The candle is not validated (see [`try_push`](Self::try_push)); bad numbers never
    /// panic. `None` is also returned for a bar whose `sigma_t` is not finite and positive
    /// (e.g. 64 bars with an unchanged close), a case the reference program rejects; the
    /// state still advances. Bars' `time` is not used.
    pub fn push(&mut self, c: &Candle) -> Option<[f32; FEATURES]> {
        let i = self.bars;
        if i >= 1 {
            let r = ln(c.close / self.prev_close);
            self.returns.push(r);
            if i <= W as u64 {
                self.sq_sum += r * r;
            }
            if i == W as u64 {
                self.var = self.sq_sum / W as f64;
            } else if i > W as u64 {
                self.var = ((1.0 - ALPHA) * self.var) + (ALPHA * (r * r));
            }
            if i >= W as u64 {
                self.sigmas.push(libm::sqrt(self.var));
            }
        }
        self.prev_close = c.close;
        self.highs.push(c.high);
        self.lows.push(c.low);
        self.log_volumes.push(ln(c.volume + 1.0));
        self.bars = i.saturating_add(1);
        if i < WARM {
            return None;
        }
        let s = self.sigmas.back(0);
        if !(s.is_finite() && s > 0.0) {
            return None;
        }
        Some(self.features(c, i, s))
    }

    fn features(&self, c: &Candle, t: u64, s: f64) -> [f32; FEATURES] {
        let mut row = [0.0f64; FEATURES];
        for (k, slot) in row.iter_mut().take(16).enumerate() {
            *slot = self.returns.back(k) / s;
        }
        row[16] = ln(c.high / c.low) / s;
        let range = (c.high - c.low) + EPS;
        row[17] = (c.close - c.open) / range;
        for (j, &w) in WINDOWS.iter().enumerate() {
            let sw = seq_sum(self.returns.last(w));
            row[18 + j] = sw / (s * libm::sqrt(w as f64));
        }
        for (j, &w) in WINDOWS.iter().enumerate() {
            let lo = self.lows.last(w).fold(f64::INFINITY, min_f);
            let hi = self.highs.last(w).fold(f64::NEG_INFINITY, max_f);
            row[23 + j] = (c.close - lo) / ((hi - lo) + EPS);
        }
        row[28] = self.log_volumes.back(0) - seq_sum(self.log_volumes.last(W)) / 64.0;
        let rt = self.returns.back(0);
        let sgn = if rt > 0.0 {
            1.0
        } else if rt < 0.0 {
            -1.0
        } else {
            0.0
        };
        row[29] = sgn * min_f(libm::fabs(rt) / s, 5.0);
        // sigma_j for j = max(64, t-63) ..= t: t - 63 values before bar 127, else 64.
        let n = (t - 63).min(W as u64) as usize;
        row[30] = s / (seq_sum(self.sigmas.last(n)) / n as f64);
        row[31] = (c.high - max_f(c.open, c.close)) / range;
        let mut out = [0.0f32; FEATURES];
        for (o, x) in out.iter_mut().zip(row) {
            *o = clip(x) as f32;
        }
        out
    }
}

/// The W6 label of a bar: `g = ln(close_{t+12} / close_t) / (sigma_t * sqrt(12))`;
/// `0` if `g < -0.5`, `2` if `g > 0.5`, else `1` (also for NaN).
pub fn w6_label(close_t: f64, close_t_plus_12: f64, sigma_t: f64) -> u8 {
    label_of(scaled_return(close_t, close_t_plus_12, sigma_t, HORIZON))
}

/// The volatility-scaled return over `horizon` bars,
/// `g = ln(close_later / close_t) / (sigma_t * sqrt(horizon))`, with the W6 `ln`.
pub fn scaled_return(close_t: f64, close_later: f64, sigma_t: f64, horizon: usize) -> f64 {
    ln(close_later / close_t) / (sigma_t * libm::sqrt(horizon as f64))
}

/// The class of a scaled return: `0` if `g < -0.5`, `2` if `g > 0.5`, else `1` (also for
/// NaN).
pub fn label_of(g: f64) -> u8 {
    if g < -0.5 {
        0
    } else if g > 0.5 {
        2
    } else {
        1
    }
}

/// The whole labelled W6 stream of a series, exactly as `stream.py` builds it: one row per
/// bar `t` with `96 <= t <= N - 1 - 12`, features of bar `t` and the label from bar `t + 12`.
///
/// Rows where [`FeatureExtractor::push`] gives `None` (non-positive sigma) are skipped;
/// the reference program would refuse such a series.
pub fn w6_stream(candles: &[Candle]) -> Vec<([f32; FEATURES], u8)> {
    let rows = candles.len().saturating_sub(WARM as usize + HORIZON);
    let mut out = Vec::with_capacity(rows);
    let mut fx = FeatureExtractor::new();
    for (c, later) in candles.iter().zip(candles.iter().skip(HORIZON)) {
        if let (Some(features), Some(sigma)) = (fx.push(c), fx.sigma()) {
            out.push((features, w6_label(c.close, later.close, sigma)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic(n: usize) -> Vec<Candle> {
        // Deterministic wiggle, no RNG needed.
        (0..n)
            .map(|i| {
                let x = i as f64;
                let close = 100.0 + 5.0 * libm::sin(x * 0.37) + 0.01 * x;
                let open = close - 0.3 * libm::cos(x * 1.3);
                Candle {
                    time: i as i64 * 60_000,
                    open,
                    high: max_f(open, close) + 0.2,
                    low: min_f(open, close) - 0.25,
                    close,
                    volume: (i % 7) as f64 * 10.0,
                }
            })
            .collect()
    }

    #[test]
    fn ring_orders_oldest_first() {
        let mut r = Ring::new();
        for i in 0..70 {
            r.push(f64::from(i));
        }
        let last: Vec<f64> = r.last(3).collect();
        assert_eq!(last, [67.0, 68.0, 69.0]);
        assert_eq!(r.back(0), 69.0);
        assert_eq!(r.back(63), 6.0);
        assert_eq!(r.last(64).next(), Some(6.0));
    }

    #[test]
    fn warm_up_and_row_count() {
        let bars = synthetic(300);
        let mut fx = FeatureExtractor::new();
        for (i, c) in bars.iter().enumerate() {
            let f = fx.push(c);
            assert_eq!(f.is_some(), i >= 96, "bar {i}");
            assert_eq!(fx.sigma().is_some(), i >= 64, "bar {i}");
            if let Some(f) = f {
                assert!(f.iter().all(|x| x.is_finite() && x.abs() <= 10.0));
            }
        }
        assert_eq!(w6_stream(&bars).len(), 300 - 96 - 12);
        assert!(w6_stream(&bars[..108]).is_empty());
        assert_eq!(w6_stream(&bars[..109]).len(), 1);
    }

    #[test]
    fn flat_series_gives_no_rows_and_no_panic() {
        let c = Candle {
            time: 0,
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: 0.0,
        };
        let mut fx = FeatureExtractor::new();
        for _ in 0..200 {
            assert_eq!(fx.push(&c), None);
        }
        assert_eq!(fx.sigma(), Some(0.0));
    }

    #[test]
    fn try_push_rejects_bad_candles_without_changing_state() {
        let bars = synthetic(100);
        let mut fx = FeatureExtractor::new();
        for c in &bars {
            assert!(fx.try_push(c).is_ok());
        }
        let before = fx.clone();
        let mut bad = bars[0];
        bad.close = f64::NAN;
        assert!(fx.try_push(&bad).is_err());
        assert_eq!(fx, before);
    }

    #[test]
    fn labels() {
        let s = 0.01;
        let edge = libm::exp(0.5 * s * libm::sqrt(12.0));
        assert_eq!(w6_label(100.0, 100.0, s), 1);
        assert_eq!(w6_label(100.0, 100.0 * edge * 1.001, s), 2);
        assert_eq!(w6_label(100.0, 100.0 / (edge * 1.001), s), 0);
        assert_eq!(w6_label(100.0, f64::NAN, s), 1);
    }

    #[test]
    fn names_are_unique() {
        for (i, a) in FEATURE_NAMES.iter().enumerate() {
            for b in &FEATURE_NAMES[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
