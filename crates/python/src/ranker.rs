//! A Python callable as the core's [`Ranker`].

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use tradeloop_core::ranking::{RankOutput, RankScore, Ranker};
use tradeloop_core::{Error, Outcome};

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
        if let Some(c) = &class
            && c.len() != score.len()
        {
            return Err(fail(format!(
                "scorer returned {} classes for {} scores",
                c.len(),
                score.len()
            )));
        }
        let scores = score
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let class = match &class {
                    None => None,
                    Some(c) => {
                        let k = c[i];
                        let o = (k.fract() == 0.0 && (0.0..=2.0).contains(&k))
                            .then(|| Outcome::from_index(k as u8))
                            .flatten()
                            .ok_or_else(|| fail(format!("class {k} is not 0, 1 or 2")))?;
                        Some(o)
                    }
                };
                Ok(RankScore {
                    score: s as f32,
                    class,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(RankOutput {
            model: String::from(MODEL),
            scores,
        })
    }
}
