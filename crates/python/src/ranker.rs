//! A Python callable as the core's [`Ranker`].

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use tradeloop_core::Error;
use tradeloop_core::ranking::{RankOutput, Ranker};

/// Model name recorded in the trades a Python scorer picked.
pub(crate) const MODEL: &str = "python-scorer";

/// Calls `scorer(rows)` with the candidates' features as a `(n, dim)` `numpy.float32` array;
/// it answers `n` scores (any sequence or array of numbers), or `(scores, classes)` with a
/// class per row (0 loss, 1 flat, 2 win). An exception or any other answer is an
/// [`Error::Ranker`].
pub(crate) struct PyRanker<'py> {
    scorer: Bound<'py, PyAny>,
}

impl<'py> PyRanker<'py> {
    pub(crate) fn new(scorer: Bound<'py, PyAny>) -> Self {
        Self { scorer }
    }
}

fn fail(why: String) -> Error {
    Error::Ranker(why)
}

impl Ranker for PyRanker<'_> {
    fn rank(&mut self, rows: &[f32], dim: usize) -> Result<RankOutput, Error> {
        let py = self.scorer.py();
        let n = rows.len().checked_div(dim).unwrap_or(0);
        let input = PyArray1::from_slice(py, rows)
            .reshape([n, dim])
            .map_err(|e| fail(format!("cannot shape the rows: {e}")))?;
        let input: Bound<'_, PyArray2<f32>> = input;
        let out = self
            .scorer
            .call1((input,))
            .map_err(|e| fail(format!("scorer raised: {e}")))?;
        let (score, class): (Vec<f64>, Option<Vec<f64>>) = if let Ok(s) = out.extract::<Vec<f64>>()
        {
            (s, None)
        } else if let Ok((s, c)) = out.extract::<(Vec<f64>, Vec<f64>)>() {
            (s, Some(c))
        } else {
            return Err(fail(String::from(
                "scorer must return scores (a sequence of numbers) or (scores, classes)",
            )));
        };
        RankOutput::from_numbers(MODEL, &score, class.as_deref())
    }
}
