//! The `PaperTrader` class.

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tradeloop_core::market::Candle;
use tradeloop_core::paper::PaperConfig;

use crate::convert::{OrRaise, from_py, list, merged, to_py};
use crate::engine::Engine;

/// The built-in rule strategy (the core's `paper::PaperTrader`): fed one candle at a time,
/// it computes the 32 candle features and the support/resistance levels, enters at the
/// close near a level (long at support, short at resistance) and exits at the exit
/// learner's stop-loss / take-profit or after `max_hold_bars`. Every entry and exit goes
/// through the engine, so it is journalled and learned from.
///
/// Its state is separate from the engine's: snapshot both to resume exactly.
#[pyclass(module = "tradeloop._tradeloop", unsendable)]
pub struct PaperTrader {
    inner: tradeloop_core::paper::PaperTrader,
}

#[pymethods]
impl PaperTrader {
    /// A trader with no history. `config` overrides any keys of `default_paper_config()`.
    #[new]
    #[pyo3(signature = (config=None))]
    fn new(py: Python<'_>, config: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let config: PaperConfig = merged(py, &PaperConfig::default(), config, "paper config")?;
        Ok(PaperTrader {
            inner: tradeloop_core::paper::PaperTrader::new(config).or_raise(py)?,
        })
    }

    /// A trader from `snapshot()` bytes, validated: bad bytes raise `tradeloop.Checkpoint`.
    #[staticmethod]
    fn restore(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(PaperTrader {
            inner: tradeloop_core::paper::PaperTrader::restore(data).or_raise(py)?,
        })
    }

    /// The trader's state as bytes (the checkpoint envelope, kind "paper trader").
    fn snapshot<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.snapshot())
    }

    /// Feeds the next bar (a candle dict: `time` in ms, `open`, `high`, `low`, `close`,
    /// `volume`): manages the open trade or looks for an entry. Returns the `Opened` /
    /// `Closed` event dict, or None when the bar did neither. A bad candle raises and
    /// neither trader nor engine changes.
    fn on_bar<'py>(
        &mut self,
        py: Python<'py>,
        mut engine: PyRefMut<'py, Engine>,
        candle: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let candle: Candle = from_py(candle, "candle")?;
        match self.inner.on_bar(&mut engine.inner, &candle).or_raise(py)? {
            Some(event) => to_py(py, &event),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// The current support/resistance levels, nearest to the last close first.
    fn levels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(list(py, self.inner.levels())?.into_any())
    }

    /// Id of the strategy's open trade, if any.
    fn open_trade(&self) -> Option<u64> {
        self.inner.open_trade()
    }

    /// The 32 candle features of the last bar (a `numpy.float32` array) once past the
    /// warm-up, else None.
    fn features<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<f32>>> {
        self.inner
            .features()
            .map(|f| PyArray1::from_slice(py, &f[..]))
    }

    /// The configuration, as a dict.
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, self.inner.config())
    }
}
