//! Support / resistance levels over a rolling window, each with the six features the
//! level-weight learner weighs (DESIGN.md 2.3).

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::candle::{Candle, CandleError};

/// Number of features per level.
pub const LEVEL_FEATURES: usize = 6;

/// Names of the six level features, in order.
pub const LEVEL_FEATURE_NAMES: [&str; LEVEL_FEATURES] = [
    "volume_density",
    "touches",
    "bounce_magnitude",
    "failed_breakouts",
    "duration",
    "multi_timeframe",
];

/// Largest accepted [`LevelDetectorConfig::window`].
pub const MAX_LEVEL_WINDOW: u32 = 10_000;

/// Settings of a [`LevelDetector`]. [`LevelDetectorConfig::default`] gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LevelDetectorConfig {
    /// Bars looked back over. Default 200; `4 * pivot_radius + 1 ..= 10_000`.
    pub window: u32,
    /// Bars on each side a pivot must dominate. Default 3; `1..=50`.
    pub pivot_radius: u32,
    /// Bars in the ATR mean. Default 14; `1..=window`.
    pub atr_period: u32,
    /// Cluster tolerance in ATRs. Default 0.5; finite, `> 0` and `<= 10`.
    pub cluster_atr: f64,
    /// Bars per higher-timeframe bar for the multi-timeframe feature. Default 4; `2..=64`.
    pub htf_factor: u32,
    /// Most levels kept. Default 8; `1..=64`.
    pub max_levels: u32,
    /// Bars after a pivot / breakout looked at for bounces and failures. Default 10;
    /// `1..=window`.
    pub reaction_bars: u32,
}

impl Default for LevelDetectorConfig {
    fn default() -> Self {
        Self {
            window: 200,
            pivot_radius: 3,
            atr_period: 14,
            cluster_atr: 0.5,
            htf_factor: 4,
            max_levels: 8,
            reaction_bars: 10,
        }
    }
}

impl LevelDetectorConfig {
    /// Checks every field against its documented range; the error names the field.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(1..=50).contains(&self.pivot_radius) {
            return Err("pivot_radius must be in 1..=50");
        }
        if self.window > MAX_LEVEL_WINDOW || self.window < 4 * self.pivot_radius + 1 {
            return Err("window must be in (4 * pivot_radius + 1)..=10000");
        }
        if self.atr_period == 0 || self.atr_period > self.window {
            return Err("atr_period must be in 1..=window");
        }
        if !(self.cluster_atr.is_finite() && self.cluster_atr > 0.0 && self.cluster_atr <= 10.0) {
            return Err("cluster_atr must be finite, > 0 and <= 10");
        }
        if !(2..=64).contains(&self.htf_factor) {
            return Err("htf_factor must be in 2..=64");
        }
        if !(1..=64).contains(&self.max_levels) {
            return Err("max_levels must be in 1..=64");
        }
        if self.reaction_bars == 0 || self.reaction_bars > self.window {
            return Err("reaction_bars must be in 1..=window");
        }
        Ok(())
    }
}

/// Which side of the last close a level is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum LevelKind {
    /// At or below the last close.
    Support,
    /// Above the last close.
    Resistance,
}

/// One support or resistance level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Level {
    /// Price of the level (mean of its pivots' prices).
    pub price: f64,
    /// Support or resistance, relative to the last close.
    pub kind: LevelKind,
    /// The six features, each in `[0, 1]`, in the order of [`LEVEL_FEATURE_NAMES`].
    pub features: [f32; LEVEL_FEATURES],
    /// Pivots (turns of price) in the level's cluster.
    pub touches: u32,
    /// Time of the level's oldest pivot bar (ms since the epoch).
    pub first_time: i64,
    /// Time of the level's newest pivot bar (ms since the epoch).
    pub last_time: i64,
}

/// A confirmed pivot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Pivot {
    /// Bar index (for a higher-timeframe pivot: index of its first base bar).
    bar: u64,
    /// Time of that bar.
    time: i64,
    /// The pivot's high (pivot high) or low (pivot low).
    price: f64,
    /// Pivot high (`true`) or pivot low.
    high: bool,
}

/// One bar of the higher timeframe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct HtfBar {
    first_bar: u64,
    time: i64,
    high: f64,
    low: f64,
}

/// Streaming support/resistance detector: push bars oldest first, read [`levels`](Self::levels).
///
/// Memory is bounded by the configuration (`window` bars and at most two pivots per bar);
/// each [`push`](Self::push) recomputes the levels, O(window * max_levels) work (about 6 us
/// per bar natively with the defaults).
///
/// How levels are found, at every bar, over the last [`LevelDetectorConfig::window`] bars:
///
/// 1. **Pivots.** Bar `j` is a pivot high when its high is strictly above the highs of the
///    `radius` bars before it and at least the highs of the `radius` bars after it (so a flat
///    top yields one pivot, its first bar); a pivot low mirrors this with lows. A pivot is
///    confirmed `radius` bars later. One bar can be both.
/// 2. **ATR** = plain mean of the true range `max(h - l, |h - c_prev|, |l - c_prev|)` of the
///    last [`LevelDetectorConfig::atr_period`] bars of the window (the window's first bar uses
///    `h - l`). The tolerance is `tol = cluster_atr * ATR`.
/// 3. **Clusters.** Pivot prices (highs and lows together: old resistance can become support)
///    sorted ascending are grouped greedily: a pivot joins the current cluster when its price
///    is within `tol` above the cluster's running mean, else it starts a new cluster. The
///    level's price is the cluster mean, its `touches` the number of pivots in it.
/// 4. **Kind.** A level at or below the last close is [`LevelKind::Support`], above it
///    [`LevelKind::Resistance`].
/// 5. **Kept levels.** Up to `max_levels`: the nearest supports and the nearest resistances,
///    `ceil(max_levels / 2)` slots for supports and the rest for resistances, a side with
///    fewer levels giving its free slots to the other; then sorted by distance to the last
///    close (ties: lower price first).
///
/// The six features of a level at price `P` (all in `[0, 1]`, computed in `f64`, then
/// rounded to `f32`; `n` = bars in the window, `k` = [`LevelDetectorConfig::reaction_bars`]):
///
/// | # | name | formula |
/// |---|---|---|
/// | 0 | volume density | `V_in / V_all`: volume of the window's bars whose range `[low, high]` meets the band `[P - tol, P + tol]`, over the window's volume; when the window's volume is 0 (FX/CFD files) the share of bars instead: `count_in / n` |
/// | 1 | touches | `1 - exp(-touches / 3)` |
/// | 2 | bounce magnitude | `1 - exp(-m / 3)`, `m` = mean over the level's pivots (in bar order) of the move away from `P` within the `k` bars after the pivot, in ATR units: for a pivot low `max(high) - P`, for a pivot high `P - min(low)`, each floored at 0; `0` when ATR is 0 |
/// | 3 | failed breakouts | `1 - exp(-F / 3)`, `F` = number of crossings that failed: a close beyond the band (`> P + tol` or `< P - tol`) whose previous close beyond the band was on the other side, followed within `k` bars by a close back at or across `P` |
/// | 4 | duration | `(last pivot bar - first pivot bar) / window` |
/// | 5 | multi-timeframe | `max(0, 1 - d / tol)` with `d` the distance from `P` to the nearest pivot (high or low, same `radius`) of the bars aggregated by `htf_factor` (by bar index: bars `i` with equal `i / htf_factor` form one bar) inside the window; when `tol` is 0, `1` if `d == 0` else `0`; `0` without such pivots |
///
/// Everything is deterministic (sequential sums in a fixed order, `libm::exp`) and the whole
/// state is serde-serializable with a validating deserializer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LevelDetectorState")]
pub struct LevelDetector {
    config: LevelDetectorConfig,
    /// Bars pushed so far.
    bars: u64,
    /// The last `window` bars, oldest first.
    window: VecDeque<Candle>,
    /// Confirmed pivots inside the window, in bar order.
    pivots: VecDeque<Pivot>,
    /// The higher-timeframe bar being built.
    htf_current: Option<HtfBar>,
    /// The last `2 * radius + 1` completed higher-timeframe bars.
    htf_bars: VecDeque<HtfBar>,
    /// Confirmed higher-timeframe pivots starting inside the window.
    htf_pivots: VecDeque<Pivot>,
    /// ATR of the last bar.
    atr: f64,
    /// Current levels, nearest to the last close first.
    levels: Vec<Level>,
}

/// Unvalidated mirror of [`LevelDetector`] for deserialization.
#[derive(Deserialize)]
struct LevelDetectorState {
    config: LevelDetectorConfig,
    bars: u64,
    window: VecDeque<Candle>,
    pivots: VecDeque<Pivot>,
    htf_current: Option<HtfBar>,
    htf_bars: VecDeque<HtfBar>,
    htf_pivots: VecDeque<Pivot>,
    atr: f64,
    levels: Vec<Level>,
}

impl TryFrom<LevelDetectorState> for LevelDetector {
    type Error = &'static str;

    fn try_from(s: LevelDetectorState) -> Result<Self, Self::Error> {
        s.config.validate()?;
        let window = s.config.window as usize;
        if s.window.len() > window {
            return Err("level detector state: more bars than the window");
        }
        if s.pivots.len() > 2 * window || s.htf_pivots.len() > 2 * window {
            return Err("level detector state: too many pivots");
        }
        if s.htf_bars.len() > 2 * s.config.pivot_radius as usize + 1 {
            return Err("level detector state: too many higher-timeframe bars");
        }
        if s.levels.len() > s.config.max_levels as usize {
            return Err("level detector state: too many levels");
        }
        if (s.window.len() as u64) > s.bars {
            return Err("level detector state: bar count below window length");
        }
        Ok(Self {
            config: s.config,
            bars: s.bars,
            window: s.window,
            pivots: s.pivots,
            htf_current: s.htf_current,
            htf_bars: s.htf_bars,
            htf_pivots: s.htf_pivots,
            atr: s.atr,
            levels: s.levels,
        })
    }
}

/// `1 - exp(-x / scale)`, in `[0, 1]` for `x >= 0`.
fn squash(x: f64, scale: f64) -> f64 {
    1.0 - libm::exp(-x / scale)
}

/// `x` clamped to `[0, 1]` (NaN -> 0) as `f32`.
fn unit(x: f64) -> f32 {
    if x > 0.0 {
        if x < 1.0 { x as f32 } else { 1.0 }
    } else {
        0.0
    }
}

/// Whether `values[p]` is a pivot with `radius` values on each side: strictly `better`
/// than each value before it and not beaten by any value after it. `better(a, b)` means
/// "a is strictly beyond b" (`a > b` for highs, `a < b` for lows).
fn is_pivot(values: &[f64], p: usize, radius: usize, better: fn(f64, f64) -> bool) -> bool {
    let Some(&v) = values.get(p) else {
        return false;
    };
    let left = values.get(p.saturating_sub(radius)..p).unwrap_or(&[]);
    let right = values.get(p + 1..p + 1 + radius).unwrap_or(&[]);
    left.len() == radius
        && right.len() == radius
        && left.iter().all(|&x| better(v, x))
        && right.iter().all(|&x| !better(x, v))
}

fn above(a: f64, b: f64) -> bool {
    a > b
}

fn below(a: f64, b: f64) -> bool {
    a < b
}

impl LevelDetector {
    /// A detector with a validated configuration.
    pub fn new(config: LevelDetectorConfig) -> Result<Self, &'static str> {
        config.validate()?;
        Ok(Self {
            config,
            bars: 0,
            window: VecDeque::new(),
            pivots: VecDeque::new(),
            htf_current: None,
            htf_bars: VecDeque::new(),
            htf_pivots: VecDeque::new(),
            atr: 0.0,
            levels: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LevelDetectorConfig {
        &self.config
    }

    /// Bars pushed so far.
    pub fn bars(&self) -> u64 {
        self.bars
    }

    /// ATR of the last bar (`None` before the first bar).
    pub fn atr(&self) -> Option<f64> {
        (!self.window.is_empty()).then_some(self.atr)
    }

    /// Current levels, nearest to the last close first.
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    /// The nearest level of `kind`, if any.
    pub fn nearest(&self, kind: LevelKind) -> Option<&Level> {
        self.levels.iter().find(|l| l.kind == kind)
    }

    /// Consumes the next bar and recomputes the levels. An invalid candle
    /// ([`Candle::validate`]) is rejected and leaves the detector unchanged. Times are not
    /// required to increase; they are only copied into [`Level::first_time`] / `last_time`.
    pub fn push(&mut self, c: &Candle) -> Result<(), CandleError> {
        c.validate()?;
        let window = self.config.window as usize;
        let radius = self.config.pivot_radius as usize;
        while self.window.len() >= window {
            self.window.pop_front();
        }
        self.window.push_back(*c);
        let index = self.bars;
        self.bars = self.bars.saturating_add(1);
        let start = self.bars - self.window.len() as u64;

        // Base-timeframe pivot confirmed by this bar: the bar `radius` back.
        let n = self.window.len();
        if n > 2 * radius {
            let from = n - (2 * radius + 1);
            let highs: Vec<f64> = self.window.range(from..).map(|b| b.high).collect();
            let lows: Vec<f64> = self.window.range(from..).map(|b| b.low).collect();
            if let Some(bar) = self.window.get(n - 1 - radius) {
                let at = index - radius as u64;
                if is_pivot(&highs, radius, radius, above) {
                    self.pivots.push_back(Pivot {
                        bar: at,
                        time: bar.time,
                        price: bar.high,
                        high: true,
                    });
                }
                if is_pivot(&lows, radius, radius, below) {
                    self.pivots.push_back(Pivot {
                        bar: at,
                        time: bar.time,
                        price: bar.low,
                        high: false,
                    });
                }
            }
        }
        while self.pivots.front().is_some_and(|p| p.bar < start) {
            self.pivots.pop_front();
        }

        self.push_htf(c, index);
        while self.htf_pivots.front().is_some_and(|p| p.bar < start) {
            self.htf_pivots.pop_front();
        }
        self.window.make_contiguous();
        let (bars, _) = self.window.as_slices();
        self.atr = self.compute_atr(bars);
        self.levels = self.compute_levels(bars);
        Ok(())
    }

    /// Adds the bar to the higher timeframe; a completed higher-timeframe bar may confirm a
    /// pivot `radius` higher-timeframe bars back.
    fn push_htf(&mut self, c: &Candle, index: u64) {
        let f = u64::from(self.config.htf_factor);
        let radius = self.config.pivot_radius as usize;
        let cur = self.htf_current.get_or_insert(HtfBar {
            first_bar: index - index % f,
            time: c.time,
            high: c.high,
            low: c.low,
        });
        if c.high > cur.high {
            cur.high = c.high;
        }
        if c.low < cur.low {
            cur.low = c.low;
        }
        let Some(done) = self.htf_current.take_if(|_| index % f == f - 1) else {
            return;
        };
        while self.htf_bars.len() > 2 * radius {
            self.htf_bars.pop_front();
        }
        self.htf_bars.push_back(done);
        let highs: Vec<f64> = self.htf_bars.iter().map(|b| b.high).collect();
        let lows: Vec<f64> = self.htf_bars.iter().map(|b| b.low).collect();
        if let Some(b) = self.htf_bars.get(radius).copied() {
            if is_pivot(&highs, radius, radius, above) {
                self.htf_pivots.push_back(Pivot {
                    bar: b.first_bar,
                    time: b.time,
                    price: b.high,
                    high: true,
                });
            }
            if is_pivot(&lows, radius, radius, below) {
                self.htf_pivots.push_back(Pivot {
                    bar: b.first_bar,
                    time: b.time,
                    price: b.low,
                    high: false,
                });
            }
        }
    }

    /// Mean true range of the last `atr_period` bars of `bars` (the window, oldest first).
    fn compute_atr(&self, bars: &[Candle]) -> f64 {
        let n = bars.len();
        let m = n.min(self.config.atr_period as usize);
        if m == 0 {
            return 0.0;
        }
        let mut sum = 0.0;
        for j in n - m..n {
            let Some(b) = bars.get(j) else {
                continue;
            };
            let mut tr = b.high - b.low;
            if let Some(prev) = j.checked_sub(1).and_then(|p| bars.get(p)) {
                let up = libm::fabs(b.high - prev.close);
                let down = libm::fabs(b.low - prev.close);
                if up > tr {
                    tr = up;
                }
                if down > tr {
                    tr = down;
                }
            }
            sum += tr;
        }
        sum / m as f64
    }

    /// Clusters the pivots and builds the kept levels over `bars` (the window, oldest first).
    fn compute_levels(&self, bars: &[Candle]) -> Vec<Level> {
        let Some(last) = bars.last() else {
            return Vec::new();
        };
        let close = last.close;
        let tol = self.config.cluster_atr * self.atr;
        let mut volume = 0.0f64;
        for b in bars {
            volume += b.volume;
        }

        // Pivots by price (ties: bar, then lows first): deterministic.
        let mut sorted: Vec<Pivot> = self.pivots.iter().copied().collect();
        sorted.sort_by(|a, b| {
            a.price
                .total_cmp(&b.price)
                .then(a.bar.cmp(&b.bar))
                .then(a.high.cmp(&b.high))
        });

        // Greedy clustering: (start, end, mean) over `sorted`.
        let mut clusters: Vec<(usize, usize, f64)> = Vec::new();
        let mut begin = 0usize;
        let mut sum = 0.0f64;
        for (i, p) in sorted.iter().enumerate() {
            let count = i - begin;
            if count > 0 && p.price - sum / count as f64 > tol {
                clusters.push((begin, i, sum / count as f64));
                begin = i;
                sum = 0.0;
            }
            sum += p.price;
        }
        if sorted.len() > begin {
            clusters.push((begin, sorted.len(), sum / (sorted.len() - begin) as f64));
        }

        // Balanced selection of the nearest supports and resistances.
        let mut supports: Vec<&(usize, usize, f64)> =
            clusters.iter().filter(|c| c.2 <= close).collect();
        let mut resistances: Vec<&(usize, usize, f64)> =
            clusters.iter().filter(|c| c.2 > close).collect();
        supports.sort_by(|a, b| b.2.total_cmp(&a.2));
        resistances.sort_by(|a, b| a.2.total_cmp(&b.2));
        let max = self.config.max_levels as usize;
        let take_s = supports
            .len()
            .min(max.div_ceil(2).max(max.saturating_sub(resistances.len())));
        let take_r = resistances.len().min(max - take_s);
        let mut kept: Vec<(LevelKind, &(usize, usize, f64))> = supports
            .into_iter()
            .take(take_s)
            .map(|c| (LevelKind::Support, c))
            .chain(
                resistances
                    .into_iter()
                    .take(take_r)
                    .map(|c| (LevelKind::Resistance, c)),
            )
            .collect();
        kept.sort_by(|a, b| {
            libm::fabs(a.1.2 - close)
                .total_cmp(&libm::fabs(b.1.2 - close))
                .then(a.1.2.total_cmp(&b.1.2))
        });

        kept.into_iter()
            .map(|(kind, &(from, to, price))| {
                let mut members: Vec<Pivot> = sorted.get(from..to).unwrap_or(&[]).to_vec();
                members.sort_by(|a, b| a.bar.cmp(&b.bar).then(a.high.cmp(&b.high)));
                self.level(bars, volume, kind, price, tol, &members)
            })
            .collect()
    }

    /// Builds one level from its pivots (in bar order) over `bars` (the window, whose total
    /// volume is `volume`).
    fn level(
        &self,
        bars: &[Candle],
        volume: f64,
        kind: LevelKind,
        price: f64,
        tol: f64,
        members: &[Pivot],
    ) -> Level {
        let n = bars.len();
        let start = self.bars - n as u64;
        let k = self.config.reaction_bars as usize;
        let (band_lo, band_hi) = (price - tol, price + tol);
        // The `k` bars after bar `i` of the window.
        let after = |i: usize| {
            bars.get(i.saturating_add(1).min(n)..i.saturating_add(1 + k).min(n))
                .unwrap_or(&[])
        };

        // 0: volume density and 3: failed breakouts, in one pass.
        let (mut v_in, mut c_in) = (0.0f64, 0u64);
        let mut failed = 0u32;
        let mut last_side = 0i8;
        for (i, b) in bars.iter().enumerate() {
            if b.low <= band_hi && b.high >= band_lo {
                v_in += b.volume;
                c_in += 1;
            }
            let side = if b.close > band_hi {
                1
            } else if b.close < band_lo {
                -1
            } else {
                0
            };
            if side != 0 {
                if last_side == -side {
                    let back = after(i).iter().any(|a| {
                        if side > 0 {
                            a.close <= price
                        } else {
                            a.close >= price
                        }
                    });
                    if back {
                        failed = failed.saturating_add(1);
                    }
                }
                last_side = side;
            }
        }
        let density = if volume > 0.0 {
            v_in / volume
        } else if n > 0 {
            c_in as f64 / n as f64
        } else {
            0.0
        };
        let failed_f = squash(f64::from(failed), 3.0);

        // 1: touches.
        let touches = u32::try_from(members.len()).unwrap_or(u32::MAX);
        let touch_f = squash(f64::from(touches), 3.0);

        // 2: bounce magnitude.
        let mut moves = 0.0f64;
        for p in members {
            let next = after(p.bar.saturating_sub(start) as usize).iter();
            let mv = if p.high {
                price - next.fold(price, |m, b| if b.low < m { b.low } else { m })
            } else {
                next.fold(price, |m, b| if b.high > m { b.high } else { m }) - price
            };
            moves += if mv > 0.0 { mv } else { 0.0 };
        }
        let bounce = if self.atr > 0.0 && !members.is_empty() {
            squash(moves / members.len() as f64 / self.atr, 3.0)
        } else {
            0.0
        };

        // 4: duration.
        let (first, last) = match (members.first(), members.last()) {
            (Some(a), Some(b)) => (*a, *b),
            _ => {
                let zero = Pivot {
                    bar: 0,
                    time: 0,
                    price,
                    high: false,
                };
                (zero, zero)
            }
        };
        let duration = (last.bar - first.bar.min(last.bar)) as f64 / f64::from(self.config.window);

        // 5: multi-timeframe confirmation.
        let mut mtf = 0.0f64;
        for h in &self.htf_pivots {
            let d = libm::fabs(h.price - price);
            let g = if tol > 0.0 {
                1.0 - d / tol
            } else if d == 0.0 {
                1.0
            } else {
                0.0
            };
            if g > mtf {
                mtf = g;
            }
        }

        Level {
            price,
            kind,
            features: [
                unit(density),
                unit(touch_f),
                unit(bounce),
                unit(failed_f),
                unit(duration),
                unit(mtf),
            ],
            touches,
            first_time: first.time,
            last_time: last.time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bar from `open` to `close` with wicks of `wick` beyond the body.
    fn bar(i: usize, open: f64, close: f64, wick: f64) -> Candle {
        Candle {
            time: i as i64 * 3_600_000,
            open,
            high: open.max(close) + wick,
            low: open.min(close) - wick,
            close,
            volume: 1000.0,
        }
    }

    /// Closes of a triangle wave between `lo` and `hi`, 10 bars per leg, starting at `hi`.
    fn triangle(cycles: usize, lo: f64, hi: f64) -> Vec<f64> {
        let step = (hi - lo) / 10.0;
        let mut out = Vec::new();
        for _ in 0..cycles {
            for j in 0..10 {
                out.push(hi - step * j as f64);
            }
            for j in 0..10 {
                out.push(lo + step * j as f64);
            }
        }
        out
    }

    fn candles(closes: &[f64]) -> Vec<Candle> {
        let mut prev = closes.first().copied().unwrap_or(1.0);
        closes
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let b = bar(i, prev, c, 0.1);
                prev = c;
                b
            })
            .collect()
    }

    fn run(config: LevelDetectorConfig, bars: &[Candle]) -> LevelDetector {
        let mut d = LevelDetector::new(config).unwrap_or_else(|e| panic!("{e}"));
        for b in bars {
            assert_eq!(d.push(b), Ok(()));
        }
        d
    }

    #[test]
    fn default_config_is_valid_and_bad_ones_are_rejected() {
        assert_eq!(LevelDetectorConfig::default().validate(), Ok(()));
        let d = LevelDetectorConfig::default();
        let bad = [
            LevelDetectorConfig {
                window: 10_001,
                ..d
            },
            LevelDetectorConfig { window: 12, ..d },
            LevelDetectorConfig {
                window: u32::MAX,
                ..d
            },
            LevelDetectorConfig {
                pivot_radius: 0,
                ..d
            },
            LevelDetectorConfig {
                pivot_radius: 51,
                ..d
            },
            LevelDetectorConfig { atr_period: 0, ..d },
            LevelDetectorConfig {
                atr_period: 201,
                ..d
            },
            LevelDetectorConfig {
                cluster_atr: 0.0,
                ..d
            },
            LevelDetectorConfig {
                cluster_atr: -1.0,
                ..d
            },
            LevelDetectorConfig {
                cluster_atr: f64::NAN,
                ..d
            },
            LevelDetectorConfig {
                cluster_atr: f64::INFINITY,
                ..d
            },
            LevelDetectorConfig {
                cluster_atr: 10.5,
                ..d
            },
            LevelDetectorConfig { htf_factor: 1, ..d },
            LevelDetectorConfig {
                htf_factor: 65,
                ..d
            },
            LevelDetectorConfig { max_levels: 0, ..d },
            LevelDetectorConfig {
                max_levels: 65,
                ..d
            },
            LevelDetectorConfig {
                reaction_bars: 0,
                ..d
            },
            LevelDetectorConfig {
                reaction_bars: 201,
                ..d
            },
        ];
        for c in bad {
            assert!(c.validate().is_err(), "{c:?}");
            assert!(LevelDetector::new(c).is_err(), "{c:?}");
        }
    }

    #[test]
    fn finds_a_support_bounced_five_times() {
        let mut closes = triangle(5, 100.0, 110.0);
        closes.extend([110.0, 109.0, 108.0, 107.0, 106.0, 105.0]);
        let d = run(LevelDetectorConfig::default(), &candles(&closes));
        // Troughs: close 100 after open 101, low 99.9; the level is their mean.
        let s = d.nearest(LevelKind::Support).copied();
        let Some(s) = s else {
            panic!("no support in {:?}", d.levels());
        };
        assert!((s.price - 99.9).abs() < 0.2, "{s:?}");
        assert!(s.touches >= 5, "{s:?}");
        // Bounces of ~10 points in ~1.2-point ATRs, no close below, 80 of 200 bars apart.
        assert!(s.features[2] > 0.9, "{s:?}");
        assert_eq!(s.features[3], 0.0, "{s:?}");
        assert!((s.features[4] - 0.4).abs() < 0.03, "{s:?}");
        assert!(s.features[5] > 0.5, "{s:?}");
        let r = d.nearest(LevelKind::Resistance).copied();
        assert!(r.is_some_and(|r| (r.price - 110.1).abs() < 0.2), "{r:?}");
        assert!(s.first_time < s.last_time);
    }

    #[test]
    fn counts_failed_breakouts() {
        // Resistance at ~110; twice a close pokes above it and falls back.
        let mut closes = triangle(2, 100.0, 110.0);
        closes.extend([110.0, 111.5, 109.0, 108.0]);
        closes.extend(triangle(1, 100.0, 110.0));
        closes.extend([110.0, 111.5, 109.0, 108.0, 107.0, 106.0]);
        let d = run(LevelDetectorConfig::default(), &candles(&closes));
        let r = d
            .levels()
            .iter()
            .find(|l| l.kind == LevelKind::Resistance && (l.price - 110.1).abs() < 0.7)
            .copied();
        let Some(r) = r else {
            panic!("no resistance near 110 in {:?}", d.levels());
        };
        // F = 2 -> 1 - e^(-2/3).
        assert!(
            (f64::from(r.features[3]) - (1.0 - libm::exp(-2.0 / 3.0))).abs() < 1e-6,
            "{r:?}"
        );
    }

    #[test]
    fn zero_volume_falls_back_to_bar_share() {
        let mut bars = candles(&triangle(4, 100.0, 110.0));
        for b in &mut bars {
            b.volume = 0.0;
        }
        let d = run(LevelDetectorConfig::default(), &bars);
        assert!(!d.levels().is_empty());
        for l in d.levels() {
            assert!(l.features[0] > 0.0 && l.features[0] <= 1.0, "{l:?}");
        }
    }

    #[test]
    fn levels_are_sorted_by_distance_and_bounded() {
        let config = LevelDetectorConfig {
            max_levels: 3,
            ..LevelDetectorConfig::default()
        };
        // A staircase leaves many distinct levels.
        let mut closes = Vec::new();
        for step in 0..12 {
            let base = 100.0 + 3.0 * f64::from(step);
            closes.extend(triangle(1, base, base + 2.0));
        }
        let d = run(config, &candles(&closes));
        assert!(d.levels().len() <= 3);
        let close = closes.last().copied().unwrap_or(0.0);
        let dist: Vec<f64> = d.levels().iter().map(|l| (l.price - close).abs()).collect();
        assert!(dist.windows(2).all(|w| w[0] <= w[1]), "{dist:?}");
        for l in d.levels() {
            let want = if l.price <= close {
                LevelKind::Support
            } else {
                LevelKind::Resistance
            };
            assert_eq!(l.kind, want);
        }
    }

    #[test]
    fn bad_candle_is_rejected_and_state_kept() {
        let bars = candles(&triangle(2, 100.0, 110.0));
        let mut d = run(LevelDetectorConfig::default(), &bars);
        let before = d.clone();
        let mut bad = bars[0];
        bad.low = bad.high + 1.0;
        assert!(d.push(&bad).is_err());
        assert_eq!(d, before);
    }

    #[test]
    fn serde_round_trip_continues_identically() {
        let closes = triangle(6, 100.0, 110.0);
        let bars = candles(&closes);
        let (head, tail) = bars.split_at(70);
        let mut a = run(LevelDetectorConfig::default(), head);
        let bytes = postcard::to_allocvec(&a).unwrap_or_default();
        let mut b: LevelDetector = postcard::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, b);
        for c in tail {
            assert_eq!(a.push(c), Ok(()));
            assert_eq!(b.push(c), Ok(()));
            assert_eq!(a.levels(), b.levels());
        }
        assert_eq!(a, b);
    }

    #[test]
    fn hostile_state_is_rejected() {
        let mut d = run(
            LevelDetectorConfig::default(),
            &candles(&triangle(1, 100.0, 110.0)),
        );
        d.config.window = 5;
        let bytes = postcard::to_allocvec(&d).unwrap_or_default();
        assert!(postcard::from_bytes::<LevelDetector>(&bytes).is_err());
        let mut d = run(
            LevelDetectorConfig::default(),
            &candles(&triangle(1, 100.0, 110.0)),
        );
        d.config.window = 13;
        let bytes = postcard::to_allocvec(&d).unwrap_or_default();
        // 20 bars in a 13-bar window.
        assert!(postcard::from_bytes::<LevelDetector>(&bytes).is_err());
        assert!(postcard::from_bytes::<LevelDetector>(&[0xff; 40]).is_err());
    }
}
