//! The `PaperTrader` class.

use js_sys::Uint8Array;
use tradeloop_core::market::Candle;
use tradeloop_core::paper::PaperConfig;
use wasm_bindgen::prelude::*;

use crate::convert::{OrThrow, from_js, merged, to_js};
use crate::engine::Engine;

/// The built-in rule strategy (the core's `paper::PaperTrader`): fed one candle at a
/// time, it computes the 32 candle features and the support/resistance levels, enters at
/// the close near a level (long at support, short at resistance) and exits at the
/// exit learner's stop-loss / take-profit or after `max_hold_bars`. Every entry and exit
/// goes through the engine, so it is journalled and learned from.
///
/// Its state (features, levels, open position) is separate from the engine's:
/// checkpoint both (`engine.snapshot()` and `trader.snapshot()`) to resume exactly.
#[wasm_bindgen]
pub struct PaperTrader {
    inner: tradeloop_core::paper::PaperTrader,
}

#[wasm_bindgen]
impl PaperTrader {
    /// A trader with no history. `config` overrides any fields of `defaultPaperConfig()`
    /// (nested sections merge; an unknown field throws).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "DeepPartial<PaperConfig> | null")]
        config: Option<JsValue>,
    ) -> Result<PaperTrader, JsValue> {
        let config: PaperConfig = merged(&PaperConfig::default(), config, "paper config")?;
        Ok(PaperTrader {
            inner: tradeloop_core::paper::PaperTrader::new(config).or_throw()?,
        })
    }

    /// A trader from `snapshot()` bytes, validated: corrupt, truncated, foreign,
    /// future-version or inconsistent bytes throw (`kind` "Checkpoint").
    pub fn restore(bytes: &[u8]) -> Result<PaperTrader, JsValue> {
        Ok(PaperTrader {
            inner: tradeloop_core::paper::PaperTrader::restore(bytes).or_throw()?,
        })
    }

    /// The trader's state as bytes (the checkpoint envelope, kind "paper trader").
    pub fn snapshot(&self) -> Uint8Array {
        Uint8Array::from(&self.inner.snapshot()[..])
    }

    /// Feeds the next bar (at `candle.time`): manages the open trade or looks for an
    /// entry. Returns the `Opened` / `Closed` event, or `undefined` when the bar did
    /// neither. An invalid candle, an engine not configured for 32 features or a full
    /// journal throws, and neither trader nor engine changes.
    #[wasm_bindgen(js_name = onBar, unchecked_return_type = "PaperEvent | undefined")]
    pub fn on_bar(
        &mut self,
        engine: &mut Engine,
        #[wasm_bindgen(unchecked_param_type = "Candle")] candle: JsValue,
    ) -> Result<JsValue, JsValue> {
        let candle: Candle = from_js(candle, "candle")?;
        match self.inner.on_bar(engine.core_mut(), &candle).or_throw()? {
            Some(event) => to_js(&event),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// The current support/resistance levels, nearest to the last close first.
    #[wasm_bindgen(unchecked_return_type = "Level[]")]
    pub fn levels(&self) -> Result<JsValue, JsValue> {
        to_js(self.inner.levels())
    }

    /// Id of the strategy's open trade, if any.
    #[wasm_bindgen(js_name = openTrade)]
    pub fn open_trade(&self) -> Option<f64> {
        self.inner.open_trade().map(|id| id as f64)
    }

    /// The 32 candle features of the last bar once past the warm-up (96 bars), e.g. for a
    /// manual `engine.open` on that bar.
    pub fn features(&self) -> Option<Vec<f32>> {
        self.inner.features().map(|f| f.to_vec())
    }

    /// The configuration.
    #[wasm_bindgen(unchecked_return_type = "PaperConfig")]
    pub fn config(&self) -> Result<JsValue, JsValue> {
        to_js(self.inner.config())
    }
}
