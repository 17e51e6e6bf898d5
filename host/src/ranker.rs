//! The host's ranker: an ONNX model run by tract ([`tradeloop_ranker`]), offered to the
//! plugin through its `tradeloop_host.rank` import and used directly by `tradeloop rank`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tradeloop_core::Outcome;
use tradeloop_core::ranking::{RankOutput, RankScore};
use tradeloop_ranker::Ranker;

use crate::plugin::RankFn;

/// The bundled ranker (`models/ranker.onnx`, see `models/README.md`): 32 candle features of
/// a bar in, `score` = P(up) - P(down) over the next 12 bars and its class out.
pub const BUNDLED_MODEL: &[u8] = include_bytes!("../../models/ranker.onnx");

/// Loads the ranker at `path` (or the bundled one) for rows of `features` values, checked
/// against the ranker contract and optimised once.
pub fn load(path: Option<&Path>, features: u32) -> anyhow::Result<Arc<Ranker>> {
    let features = features as usize;
    let ranker = match path {
        Some(p) => Ranker::load(p, features)
            .with_context(|| format!("cannot use {} as the ranker", p.display()))?,
        None => Ranker::from_bytes(BUNDLED_MODEL, "ranker", features)
            .context("cannot load the bundled ranker")?,
    };
    Ok(Arc::new(ranker))
}

/// The plugin's `rank` import over `ranker`: every score carries the model version.
pub fn rank_fn(ranker: Arc<Ranker>) -> RankFn {
    Arc::new(move |rows: &[f32], dim: usize| {
        if dim != ranker.features() {
            return Err(format!(
                "the ranker {} takes {} features per row, the engine sent {dim}",
                ranker.version(),
                ranker.features()
            ));
        }
        score(&ranker, rows).map_err(|e| e.to_string())
    })
}

/// Runs `ranker` on `rows` and pairs scores with classes.
pub fn score(ranker: &Ranker, rows: &[f32]) -> Result<RankOutput, tradeloop_ranker::RankerError> {
    let s = ranker.rank(rows);
    clear_upper_vector_state();
    let s = s?;
    let class = |i: usize| s.class.as_ref().and_then(|c| Outcome::from_index(c[i]));
    Ok(RankOutput {
        model: ranker.version(),
        scores: s
            .score
            .iter()
            .enumerate()
            .map(|(i, &score)| RankScore {
                score,
                class: class(i),
            })
            .collect(),
    })
}

/// tract's AVX kernels can return with the upper halves of the vector registers in use. On
/// Intel CPUs every legacy-SSE instruction executed after that (wasmtime's code for the
/// plugin uses them) pays a false dependency on those halves: plugin training after a
/// ranking ran about 50 times slower on this project's CI machine until something cleared
/// them. `vzeroupper` clears them; it changes no value anyone reads.
fn clear_upper_vector_state() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: `vzeroupper` needs AVX, checked just above; it only zeroes bits 128 and
        // up of the vector registers, which no live Rust value holds across this call.
        #[allow(unsafe_code)]
        unsafe {
            std::arch::x86_64::_mm256_zeroupper();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_model_ranks_through_the_import_function() {
        let ranker = load(None, 32).unwrap();
        let f = rank_fn(ranker.clone());
        let out = f(&[0.0; 64], 32).unwrap();
        assert_eq!(out.scores.len(), 2);
        assert_eq!(out.model, ranker.version());
        assert!(out.model.starts_with("ranker@"));
        assert!(
            out.scores
                .iter()
                .all(|s| s.class.is_some() && s.score.is_finite())
        );
        let err = f(&[0.0; 16], 16).unwrap_err();
        assert!(err.contains("takes 32 features per row"), "{err}");
        // A model for other rows is refused at load with the counts in the message.
        let err = format!("{:#}", load(None, 8).unwrap_err());
        assert!(err.contains("32") && err.contains('8'), "{err}");
    }
}
