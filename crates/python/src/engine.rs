//! The `Engine` class.

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use tradeloop_core::command::{ForecastRequest, Observation, SuggestRequest};
use tradeloop_core::event_log::{self, Genesis};
use tradeloop_core::journal::{LevelInput, TradeRecord};
use tradeloop_core::lifecycle::policy::LearnMode;
use tradeloop_core::ranking::{NoRanker, RankRequest, Ranker};
use tradeloop_core::{
    CloseTrade, Command, EngineConfig, Error, ExitMode, LearnRequest, OpenTrade, Query, Reply,
};

use crate::convert::{OrRaise, core_error, from_py, invalid, merged, now, to_py};
use crate::ranker::PyRanker;

/// The learning engine: journal, replay buffer, signal model with its versions, level
/// weights and exit learner, behind one deterministic `apply(command, now)`.
///
/// Every command takes an optional keyword `now` (ms since the epoch; the system clock when
/// omitted). The same seed and the same commands with the same `now` give the same snapshot
/// bytes here, in the host, the plugin and the browser. A method that raises has changed
/// nothing.
///
/// ```python
/// engine = tradeloop.Engine({"replay": {"capacity": 5000}}, seed=42, now=1_700_000_000_000)
/// opened = engine.open("SPY", "Long", 400.0, 1.0, np.zeros(32, np.float32))
/// engine.close(opened["trade_id"], 404.0, "Target")
/// data = engine.snapshot()  # bytes, the host's checkpoint format
/// ```
#[pyclass(module = "tradeloop._tradeloop", unsendable)]
pub struct Engine {
    pub(crate) inner: tradeloop_core::Engine,
}

impl Engine {
    /// Applies a command; the reply, or the core's error raised.
    fn run(&mut self, py: Python<'_>, command: Command, at: Option<i64>) -> PyResult<Reply> {
        let at = now(py, at)?;
        self.inner.apply(command, at).or_raise(py)
    }

    /// Answers a query (changes nothing).
    fn ask(&mut self, py: Python<'_>, q: Query, at: Option<i64>) -> PyResult<Reply> {
        self.run(py, Command::Query(q), at)
    }
}

/// The reply of the expected variant as Python objects; any other is a bug, raised.
macro_rules! expect {
    ($py:expr, $reply:expr, $variant:ident) => {
        match $reply {
            Reply::$variant(x) => to_py($py, &x),
            _ => Err(unexpected($py)),
        }
    };
}

/// A reply of another variant than the command's (a bug, raised rather than a panic).
fn unexpected(py: Python<'_>) -> PyErr {
    core_error(
        py,
        &Error::Host(String::from("the engine answered with an unexpected reply")),
    )
}

/// A trade record as a dict, its `features` a `numpy.float32` array.
fn record<'py>(py: Python<'py>, t: &TradeRecord) -> PyResult<Bound<'py, PyAny>> {
    let d = to_py(py, t)?;
    if let Ok(dict) = d.cast::<PyDict>() {
        dict.set_item("features", PyArray1::from_slice(py, &t.features))?;
    }
    Ok(d)
}

/// Trade records as a list of [`record`] dicts.
fn records<'py>(py: Python<'py>, ts: &[TradeRecord]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for t in ts {
        out.append(record(py, t)?)?;
    }
    Ok(out)
}

#[pymethods]
impl Engine {
    /// A fresh engine. `config` overrides any keys of `default_config()` (nested sections
    /// merge; an unknown key raises); `seed` draws the network weights and exploration
    /// (random when omitted); `now` is the creation time.
    #[new]
    #[pyo3(signature = (config=None, seed=None, now=None))]
    fn new(
        py: Python<'_>,
        config: Option<&Bound<'_, PyAny>>,
        seed: Option<u64>,
        now: Option<i64>,
    ) -> PyResult<Self> {
        let config: EngineConfig = merged(py, &EngineConfig::default(), config, "config")?;
        let seed = crate::convert::seed(py, seed)?;
        let at = crate::convert::now(py, now)?;
        Ok(Engine {
            inner: tradeloop_core::Engine::new(config, seed, at).or_raise(py)?,
        })
    }

    /// An engine from checkpoint bytes: any checkpoint the host, the plugin, the browser or
    /// `snapshot()` wrote (schemas 1 to 4, upgraded). Corrupt, truncated, foreign or
    /// future-version bytes raise `tradeloop.Checkpoint`.
    #[staticmethod]
    fn restore(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(Engine {
            inner: tradeloop_core::Engine::restore(data).or_raise(py)?,
        })
    }

    /// The engine a host state directory's journal starts from: its genesis record
    /// (event-log `format`, 1 today), a new engine or an imported checkpoint.
    #[staticmethod]
    fn from_genesis(py: Python<'_>, format: u16, record: &[u8]) -> PyResult<Self> {
        let genesis = event_log::decode_genesis(format, record)
            .map_err(|e| invalid(py, format!("the genesis record does not read: {e}")))?;
        let inner = match genesis {
            Genesis::Create { config, seed, now } => {
                tradeloop_core::Engine::new(*config, seed, now)
            }
            Genesis::Restore(bytes) => tradeloop_core::Engine::restore(&bytes),
        };
        Ok(Engine {
            inner: inner.or_raise(py)?,
        })
    }

    /// Applies one journal record of a host state directory (event-log `format`, 1 today)
    /// at its `now`, as the host does when it replays its journal. A record that does not
    /// read raises `InvalidInput`; one the engine refuses raises its error.
    fn apply_event(
        &mut self,
        py: Python<'_>,
        format: u16,
        record: &[u8],
        now: i64,
    ) -> PyResult<()> {
        let command = event_log::decode_event(format, record)
            .map_err(|e| invalid(py, format!("the journal record does not read: {e}")))?;
        self.inner.apply(command, now).or_raise(py)?;
        Ok(())
    }

    /// The engine's state as checkpoint bytes, the same format as the host's files
    /// (readable by `tradeloop inspect`, loadable by `tradeloop import` and the browser).
    fn snapshot<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.snapshot())
    }

    /// Applies any core command in its serde shape (`{"Open": {...}}`, `"RunDue"`,
    /// `{"Query": "Stats"}`, ...) and returns the core's reply (`{"Opened": {...}}`, ...).
    #[pyo3(signature = (command, *, now=None))]
    fn apply<'py>(
        &mut self,
        py: Python<'py>,
        command: &Bound<'py, PyAny>,
        now: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let command: Command = from_py(command, "command")?;
        let reply = self.run(py, command, now)?;
        to_py(py, &reply)
    }

    /// Journals a new trade: the signal model scores it and the exit learner plans its
    /// stop-loss / take-profit (unless `exits` gives them as `(stop, target)`). `side` is
    /// `"Long"` or `"Short"`; `level` the level dict it trades at, if any.
    #[pyo3(signature = (symbol, side, price, size, features, *, level=None, exits=None, now=None))]
    #[allow(clippy::too_many_arguments)]
    fn open<'py>(
        &mut self,
        py: Python<'py>,
        symbol: String,
        side: &Bound<'py, PyAny>,
        price: f64,
        size: f64,
        features: &Bound<'py, PyAny>,
        level: Option<&Bound<'py, PyAny>>,
        exits: Option<(f64, f64)>,
        now: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let level: Option<LevelInput> = match level.filter(|l| !l.is_none()) {
            Some(l) => Some(from_py(l, "level")?),
            None => None,
        };
        let trade = OpenTrade {
            symbol,
            side: from_py(side, "side")?,
            price,
            size,
            features: crate::convert::features(features, "features")?,
            level,
            exits,
        };
        expect!(py, self.run(py, Command::Open(trade), now)?, Opened)
    }

    /// Closes an open trade (`reason`: `"Stop"`, `"Target"`, `"Manual"` or `"Timeout"`);
    /// its outcome becomes a learning experience.
    #[pyo3(signature = (trade_id, price, reason="Manual", *, now=None))]
    fn close<'py>(
        &mut self,
        py: Python<'py>,
        trade_id: u64,
        price: f64,
        reason: &str,
        now: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let close = CloseTrade {
            trade_id,
            price,
            reason: from_py(&pyo3::types::PyString::new(py, reason).into_any(), "reason")?,
        };
        expect!(py, self.run(py, Command::Close(close), now)?, Closed)
    }

    /// The models' view of a possible entry (changes nothing).
    #[pyo3(signature = (side, price, features, *, levels=None, now=None))]
    fn suggest<'py>(
        &mut self,
        py: Python<'py>,
        side: &Bound<'py, PyAny>,
        price: f64,
        features: &Bound<'py, PyAny>,
        levels: Option<&Bound<'py, PyAny>>,
        now: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let levels: Vec<LevelInput> = match levels.filter(|l| !l.is_none()) {
            Some(l) => from_py(l, "levels")?,
            None => Vec::new(),
        };
        let req = SuggestRequest {
            side: from_py(side, "side")?,
            price,
            features: crate::convert::features(features, "features")?,
            levels,
        };
        expect!(py, self.run(py, Command::Suggest(req), now)?, Suggestion)
    }

    /// The served forecast for `features`, whose label a later `observe` of the same
    /// features reveals (each expert is then scored on what it said now).
    #[pyo3(signature = (features, *, now=None))]
    fn forecast<'py>(
        &mut self,
        py: Python<'py>,
        features: &Bound<'py, PyAny>,
        now: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let req = ForecastRequest {
            features: crate::convert::features(features, "features")?,
        };
        expect!(py, self.run(py, Command::Forecast(req), now)?, Forecast)
    }

    /// A labelled sample that is not a trade (`return_pct`: what followed, as a fraction):
    /// reveals the label of the oldest `forecast` of the same features (or of one made
    /// now), then everything learns it.
    #[pyo3(signature = (features, return_pct, *, now=None))]
    fn observe<'py>(
        &mut self,
        py: Python<'py>,
        features: &Bound<'py, PyAny>,
        return_pct: f64,
        now: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let obs = Observation {
            features: crate::convert::features(features, "features")?,
            return_pct,
        };
        expect!(py, self.run(py, Command::Observe(obs), now)?, Observed)
    }

    /// Trains the signal model (`mode`, default `"Auto"`) and the exit learner.
    #[pyo3(signature = (mode=None, *, now=None))]
    fn learn<'py>(
        &mut self,
        py: Python<'py>,
        mode: Option<&Bound<'py, PyAny>>,
        now: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mode: LearnMode = match mode.filter(|m| !m.is_none()) {
            Some(m) => from_py(m, "learn mode")?,
            None => LearnMode::Auto,
        };
        expect!(
            py,
            self.run(py, Command::Learn(LearnRequest { mode }), now)?,
            Learned
        )
    }

    /// Makes a retained version the champion; returns the champion's id.
    #[pyo3(signature = (version, *, now=None))]
    fn promote(&mut self, py: Python<'_>, version: u32, now: Option<i64>) -> PyResult<u32> {
        match self.run(py, Command::Promote(version), now)? {
            Reply::Champion(v) => Ok(v),
            _ => Err(unexpected(py)),
        }
    }

    /// Makes an earlier version champion again (default: the previous champion); returns
    /// the champion's id.
    #[pyo3(signature = (version=None, *, now=None))]
    fn rollback(
        &mut self,
        py: Python<'_>,
        version: Option<u32>,
        now: Option<i64>,
    ) -> PyResult<u32> {
        match self.run(py, Command::Rollback(version), now)? {
            Reply::Champion(v) => Ok(v),
            _ => Err(unexpected(py)),
        }
    }

    /// Runs the scheduled jobs due at `now`: a list of `(job, report)`.
    #[pyo3(signature = (*, now=None))]
    fn run_due<'py>(&mut self, py: Python<'py>, now: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        expect!(py, self.run(py, Command::RunDue, now)?, Ran)
    }

    /// Switches the exit learner between `"Training"` and `"Deployment"`; returns the mode.
    #[pyo3(signature = (mode, *, now=None))]
    fn set_exit_mode<'py>(
        &mut self,
        py: Python<'py>,
        mode: &Bound<'py, PyAny>,
        now: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mode: ExitMode = from_py(mode, "exit mode")?;
        expect!(py, self.run(py, Command::SetExitMode(mode), now)?, ExitMode)
    }

    /// Ranks a universe (`request`: the `RankRequest` dict: `candidates`, `k`, `size`,
    /// optional `scored`) and opens a long trade for each of the top `k`. `scorer` gets the
    /// candidates' features as a `(n, dim)` `numpy.float32` array and returns `n` scores, or
    /// `(scores, classes)`; the model is recorded as `"python-scorer"`. Without a scorer the
    /// request must carry `scored`. A scorer that raises or answers the wrong shape raises
    /// (`tradeloop.Ranker`, `ShapeMismatch`, `NonFinite`) and nothing changes.
    #[pyo3(signature = (request, scorer=None, *, now=None))]
    fn rank<'py>(
        &mut self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
        scorer: Option<Bound<'py, PyAny>>,
        now: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request: RankRequest = from_py(request, "rank request")?;
        let at = crate::convert::now(py, now)?;
        let mut none = NoRanker;
        let mut python;
        let ranker: &mut dyn Ranker = match scorer.filter(|s| !s.is_none()) {
            Some(f) if f.is_callable() => {
                python = PyRanker::new(f);
                &mut python
            }
            Some(_) => return Err(invalid(py, "scorer must be callable".into())),
            None => &mut none,
        };
        let reply = self
            .inner
            .apply_with(Command::Rank(request), at, ranker)
            .or_raise(py)?;
        expect!(py, reply, Ranked)
    }

    /// Totals and learner state.
    fn stats<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        expect!(py, self.ask(py, Query::Stats, None)?, Stats)
    }

    /// One trade by id (its `features` a `numpy.float32` array); an unknown id raises
    /// `tradeloop.UnknownTrade`.
    fn trade<'py>(&mut self, py: Python<'py>, trade_id: u64) -> PyResult<Bound<'py, PyAny>> {
        match self.ask(py, Query::Trade(trade_id), None)? {
            Reply::Trade(t) => record(py, &t),
            _ => Err(unexpected(py)),
        }
    }

    /// All open trades.
    fn open_trades<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        match self.ask(py, Query::OpenTrades, None)? {
            Reply::Trades(ts) => records(py, &ts),
            _ => Err(unexpected(py)),
        }
    }

    /// The most recent closed trades (at most `limit`), newest last.
    #[pyo3(signature = (limit=u32::MAX))]
    fn closed_trades<'py>(&mut self, py: Python<'py>, limit: u32) -> PyResult<Bound<'py, PyList>> {
        match self.ask(py, Query::ClosedTrades { limit }, None)? {
            Reply::Trades(ts) => records(py, &ts),
            _ => Err(unexpected(py)),
        }
    }

    /// Every level-weight adjustment.
    fn level_history<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        expect!(py, self.ask(py, Query::LevelHistory, None)?, LevelHistory)
    }

    /// The configuration, as a dict.
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, self.inner.config())
    }

    /// Every retained model version.
    fn versions<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        expect!(py, self.ask(py, Query::Versions, None)?, Versions)
    }

    /// The newest entries of the version history (at most `limit`).
    #[pyo3(signature = (limit=u32::MAX))]
    fn audit<'py>(&mut self, py: Python<'py>, limit: u32) -> PyResult<Bound<'py, PyAny>> {
        expect!(py, self.ask(py, Query::Audit { limit }, None)?, Audit)
    }

    /// Monitoring (7 / 14 / 30-day windows) over all versions, or one version's trades.
    #[pyo3(signature = (version=None, *, now=None))]
    fn monitor<'py>(
        &mut self,
        py: Python<'py>,
        version: Option<u32>,
        now: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        expect!(py, self.ask(py, Query::Monitor { version }, now)?, Monitor)
    }

    /// The candidate on trial, or None without one.
    fn trial<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        expect!(py, self.ask(py, Query::Trial, None)?, Trial)
    }

    /// The served mixture: each expert's weight and prequential score, and the regret
    /// bound against the running prior.
    fn mixture<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        expect!(py, self.ask(py, Query::Mixture, None)?, Mixture)
    }

    /// Accuracy, win rate and PnL of the trades closed in the last `days` days.
    fn accuracy<'py>(&mut self, py: Python<'py>, days: u32) -> PyResult<Bound<'py, PyAny>> {
        expect!(py, self.ask(py, Query::Accuracy { days }, None)?, Accuracy)
    }

    /// The drift detectors.
    fn drift<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        expect!(py, self.ask(py, Query::Drift, None)?, Drift)
    }

    /// The scheduled jobs due at `now`.
    #[pyo3(signature = (*, now=None))]
    fn due<'py>(&mut self, py: Python<'py>, now: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        expect!(py, self.ask(py, Query::Due, now)?, Due)
    }

    /// How the ranker's top K did against their universe.
    fn ranking<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        expect!(py, self.ask(py, Query::Ranking, None)?, Ranking)
    }
}
