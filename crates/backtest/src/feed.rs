//! The bars every strategy of an experiment sees, and the candle features of each bar
//! (computed once for all strategies).

use alloc::vec::Vec;
use tradeloop_core::Error;
use tradeloop_core::market::{Candle, FEATURES, FeatureExtractor};
use tradeloop_strategy::abi::Bar;

/// Validated bars in time order, with their features.
#[derive(Debug, Clone)]
pub struct Feed {
    bars: Vec<Bar>,
    features: Vec<Option<[f32; FEATURES]>>,
}

/// Most bars of one feed (the ABI's bar index is a `u32`; this also bounds memory).
pub const MAX_BARS: usize = 10_000_000;

impl Feed {
    /// Checks every candle (finite, positive prices, high >= low, ...) and that the times
    /// strictly increase; computes the features of each bar from the bars up to it.
    pub fn new(candles: &[Candle]) -> Result<Feed, Error> {
        if candles.is_empty() || candles.len() > MAX_BARS {
            return Err(Error::InvalidConfig("a feed needs 1 to 10,000,000 bars"));
        }
        let mut fx = FeatureExtractor::new();
        let mut bars = Vec::with_capacity(candles.len());
        let mut features = Vec::with_capacity(candles.len());
        for (i, c) in candles.iter().enumerate() {
            if i > 0 && c.time <= candles[i - 1].time {
                return Err(Error::InvalidConfig("bar times must strictly increase"));
            }
            features.push(fx.try_push(c).map_err(Error::InvalidCandle)?);
            bars.push(Bar {
                time: c.time,
                open: c.open,
                high: c.high,
                low: c.low,
                close: c.close,
                volume: c.volume,
            });
        }
        Ok(Feed { bars, features })
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.bars.len()
    }

    /// Never: a feed has at least one bar.
    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }

    /// Every bar. A strategy is only ever shown the bars up to the current one (see
    /// [`crate::Run::history`]).
    pub fn bars(&self) -> &[Bar] {
        &self.bars
    }

    /// Bar `i`.
    pub fn bar(&self, i: usize) -> Option<&Bar> {
        self.bars.get(i)
    }

    /// Features of bar `i`, once defined.
    pub fn features(&self, i: usize) -> Option<&[f32; FEATURES]> {
        self.features.get(i).and_then(|f| f.as_ref())
    }
}
