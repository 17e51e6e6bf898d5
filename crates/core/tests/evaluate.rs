//! The served forecast on real candles (the bundled series), by the W6 protocol: never worse
//! than the running class prior by more than the proven bound, on SPY better than it, and
//! the engine's own scoring agrees with the protocol's.

use tradeloop_core::EngineConfig;
use tradeloop_core::evaluate::{Evaluation, Protocol, evaluate, stream};
use tradeloop_core::market::parse_csv;

/// `2007-01-01T00:00:00Z`: the W6 spec uses SPY from then on.
const SPY_FROM: i64 = 1_167_609_600_000;

fn run(file: &str, from: i64) -> Evaluation {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/market")
        .join(file);
    let candles: Vec<_> = parse_csv(&std::fs::read_to_string(&path).unwrap())
        .unwrap()
        .into_iter()
        .filter(|c| c.time >= from)
        .collect();
    let rows = stream(&candles, 12);
    evaluate(&rows, EngineConfig::default(), &Protocol::default()).unwrap()
}

/// The acceptance: over the whole stream, the served log-loss is at most the running
/// prior's plus the bound per row, and its accuracy at most half a point below the prior's.
fn check(e: &Evaluation, name: &str) -> (f64, f64) {
    let served = e.predictor("served").unwrap().all.unwrap();
    let prior = e.predictor("running prior").unwrap().all.unwrap();
    let m = &e.mixture;
    let bound = m.bound_vs_prior / m.rows as f64;
    let excess = served.log_loss() - prior.log_loss();
    assert!(
        excess <= bound,
        "{name}: served {:.4} vs prior {:.4}, bound {bound:.5} per row",
        served.log_loss(),
        prior.log_loss()
    );
    assert!(
        served.accuracy() >= prior.accuracy() - 0.005,
        "{name}: accuracy {:.4} vs {:.4}",
        served.accuracy(),
        prior.accuracy()
    );
    // The engine's own scores of the mixture (unclipped, on the rows it scored) hold the
    // bound too, and the engine's prior expert is the running prior.
    assert!(m.excess_vs_prior <= m.bound_vs_prior, "{name}: {m:?}");
    let expert = e.predictor("prior").unwrap().all.unwrap();
    assert!(
        (expert.log_loss() - prior.log_loss()).abs() < 1e-6,
        "{name}"
    );
    (excess, bound)
}

#[test]
fn on_spy_the_served_forecast_beats_the_running_prior() {
    let e = run("SPY_1h.csv", SPY_FROM);
    assert_eq!(e.rows, 24_910, "the W6 stream");
    let (excess, _) = check(&e, "SPY_1h");
    assert!(
        excess < -0.003,
        "served minus prior {excess:+.5} nats per row"
    );
    // Clearly, not by chance: the paired difference on the scored rows, block errors.
    let d = e.predictor("served").unwrap().vs_prior;
    assert!(d.mean < -2.0 * d.std_error.unwrap(), "{d:?}");
    // A frozen network does worse than the prior here: learning must go on.
    let frozen = e.predictor("frozen network").unwrap().vs_prior;
    assert!(frozen.mean > d.mean, "{frozen:?} vs {d:?}");
}

#[test]
fn on_short_and_other_series_the_served_forecast_stays_within_the_bound() {
    for (file, from) in [
        ("BTC-USD_1d.csv", 0),
        ("EURUSD_1h.csv", 0),
        ("XAUUSD_1h.csv", 0),
    ] {
        let e = run(file, from);
        check(&e, file);
    }
}
