//! Schema 3 (read only): schema 2 plus ranking ([`crate::ranking`]): which trades a ranker picked (model
//! version, score, class, place) and the top-K monitor.
//!
//! The schema-2 part is written exactly as schema 2 writes it ([`EngineV2`]); ranking follows
//! it. `RankedBy` and `RankMonitor` are persisted by their own serde derive and are frozen for
//! this schema like the `V*` types (a change is a schema 4); the golden files in
//! `tests/fixtures/v3` fail the tests if their encoding changes.
//!
//! Schema-1 and schema-2 checkpoints upgrade on load ([`upgrade`]): no trade was ranked and
//! the monitor starts empty.

use alloc::borrow::Cow;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::v1::Res;
use super::v2::EngineV2;
use crate::engine::Engine;
use crate::ranking::{MAX_CANDIDATES, MAX_MODEL_NAME, RankMonitor, RankedBy};

/// This module's schema number.
pub const SCHEMA: u16 = 3;

/// A whole engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct EngineV3<'a> {
    pub base: EngineV2<'a>,
    pub ranking: RankingV3<'a>,
}

/// Ranking state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct RankingV3<'a> {
    /// `(trade id, how it was picked)` for every kept trade a ranker picked, by id.
    pub trades: Vec<(u64, Cow<'a, RankedBy>)>,
    pub monitor: Cow<'a, RankMonitor>,
}

impl EngineV3<'_> {
    /// Rebuilds the engine (its lifecycle upgraded, see [`super::v2_lifecycle`]), checking
    /// every invariant.
    pub fn into_engine(self) -> Res<Engine> {
        let mut e = self.base.into_engine()?;
        ranking_into(self.ranking, &mut e)?;
        Ok(e)
    }
}

/// Puts the persisted ranking state into `e`, checking it (schemas 3 and 4).
pub(super) fn ranking_into(ranking: RankingV3<'_>, e: &mut Engine) -> Res<()> {
    let name_ok = |m: &str| {
        !m.is_empty() && m.len() <= MAX_MODEL_NAME && m.bytes().all(|b| b.is_ascii_graphic())
    };
    let mut prev = 0;
    for (id, r) in ranking.trades {
        let r = r.into_owned();
        if id <= prev {
            return Err("ranked trades are not in increasing id order");
        }
        prev = id;
        if !name_ok(&r.model) || !r.score.is_finite() || r.rank == 0 || r.rank > r.of {
            return Err("a ranked trade's ranking is out of range");
        }
        if !e.journal.set_ranked(id, r) {
            return Err("a ranked trade is not in the journal");
        }
    }
    let m = ranking.monitor.into_owned();
    let finite = [
        m.top_k_sum,
        m.universe_sum,
        m.excess_mean,
        m.excess_m2,
        m.ic_sum,
    ]
    .iter()
    .all(|x| x.is_finite());
    let last_ok = m.last.as_ref().is_none_or(|l| {
        !l.entries.is_empty()
            && l.entries.len() <= MAX_CANDIDATES
            && l.entries
                .iter()
                .all(|(_, p, s, _)| p.is_finite() && *p > 0.0 && s.is_finite())
    });
    if !finite
        || !last_ok
        || m.periods > m.rankings
        || m.hits > m.periods
        || m.ic_periods > m.periods
        || m.model.as_deref().is_some_and(|s| !name_ok(s))
    {
        return Err("the ranking monitor is inconsistent");
    }
    e.ranking = m;
    Ok(())
}

/// A schema-2 engine as schema 3: nothing was ranked.
pub fn upgrade(old: EngineV2<'_>) -> EngineV3<'_> {
    EngineV3 {
        base: old,
        ranking: RankingV3::default(),
    }
}
