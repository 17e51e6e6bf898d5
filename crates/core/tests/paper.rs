//! The paper trader's snapshot: a trader saved mid-series and restored continues exactly
//! like the one that never stopped; bad snapshot bytes are typed errors.

use tradeloop_core::checkpoint::xxh64;
use tradeloop_core::checkpoint::{self, HEADER_LEN, KIND_PAPER_TRADER};
use tradeloop_core::market::{Candle, FeatureExtractor, parse_csv};
use tradeloop_core::paper::{PaperConfig, PaperEvent, PaperTrader, SNAPSHOT_SCHEMA};
use tradeloop_core::{CheckpointError, Engine, EngineConfig, Error};

const SPY: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/market/SPY_1h.csv"
));

fn bars(n: usize) -> Vec<Candle> {
    let text: String = SPY.lines().take(n + 1).collect::<Vec<_>>().join("\n");
    parse_csv(&text).expect("bundled SPY parses")
}

/// A default engine and trader after the first 300 bundled SPY bars.
fn after_300_bars() -> (Engine, PaperTrader) {
    let mut engine = Engine::new(EngineConfig::default(), 1, 0).unwrap();
    let mut trader = PaperTrader::new(PaperConfig::default()).unwrap();
    for c in &bars(300) {
        trader.on_bar(&mut engine, c).unwrap();
    }
    (engine, trader)
}

/// Re-seals a trader snapshot whose bytes were edited after the header.
fn reseal(b: &mut [u8]) {
    let sum = xxh64(&b[16..], 0);
    b[8..16].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn trader_snapshot_round_trips_mid_series_and_continues_identically() {
    let candles = bars(1500);
    let mut engine = Engine::new(EngineConfig::default(), 42, candles[0].time).unwrap();
    let mut trader = PaperTrader::new(PaperConfig::default()).unwrap();
    let mut fx = FeatureExtractor::new();
    let (mut opened, mut closed) = (0, 0);
    let mut saved = None;
    for (i, c) in candles.iter().enumerate() {
        if i == 700 {
            let t = trader.snapshot();
            // Equal as state (the feature rings restore in canonical order, so compare bytes).
            let restored = PaperTrader::restore(&t).unwrap();
            assert_eq!(restored.snapshot(), t);
            assert_eq!(restored.features(), trader.features());
            assert_eq!(restored.levels(), trader.levels());
            assert_eq!(restored.open_trade(), trader.open_trade());
            saved = Some((engine.snapshot(), t));
        }
        match trader.on_bar(&mut engine, c).unwrap() {
            Some(PaperEvent::Opened { .. }) => opened += 1,
            Some(PaperEvent::Closed { .. }) => closed += 1,
            None => {}
        }
        // `features()` is the extractor's row for the bar just fed.
        let row = fx.push(c);
        assert_eq!(trader.features().copied(), row, "bar {i}");
    }
    assert!(
        opened >= 5 && closed >= 5,
        "opened {opened}, closed {closed}"
    );

    let (e, t) = saved.unwrap();
    let mut engine2 = Engine::restore(&e).unwrap();
    let mut trader2 = PaperTrader::restore(&t).unwrap();
    for c in &candles[700..] {
        trader2.on_bar(&mut engine2, c).unwrap();
    }
    assert_eq!(engine2.snapshot(), engine.snapshot());
    assert_eq!(trader2.snapshot(), trader.snapshot());
}

#[test]
fn bad_trader_snapshots_are_typed_errors() {
    let (engine, trader) = after_300_bars();
    let good = trader.snapshot();
    // The checkpoint envelope, with the paper trader's kind and schema.
    let (header, _) = checkpoint::open_kind(&good, KIND_PAPER_TRADER, SNAPSHOT_SCHEMA).unwrap();
    assert_eq!((header.kind, header.schema), (KIND_PAPER_TRADER, 1));
    assert_eq!(good[..8], *b"TRADLOOP");
    let err = |b: &[u8]| match PaperTrader::restore(b) {
        Err(Error::Checkpoint(e)) => e,
        other => panic!("expected a checkpoint error, got {other:?}"),
    };

    assert!(matches!(
        err(&good[..10]),
        CheckpointError::Truncated { .. }
    ));
    assert!(matches!(
        err(&good[..good.len() - 1]),
        CheckpointError::Truncated { .. }
    ));
    // Each kind refuses the other.
    assert_eq!(
        err(&engine.snapshot()),
        CheckpointError::Invalid("this is an engine checkpoint, not a paper trader snapshot")
    );
    assert_eq!(
        Engine::restore(&good),
        Err(Error::Checkpoint(CheckpointError::Invalid(
            "this is a paper trader snapshot, not an engine checkpoint"
        )))
    );
    let mut foreign = good.clone();
    foreign[0] = b'X';
    assert_eq!(err(&foreign), CheckpointError::Foreign);
    let mut longer = good.clone();
    longer.push(0);
    assert_eq!(err(&longer), CheckpointError::TrailingBytes(1));
    let mut flipped = good.clone();
    let n = flipped.len();
    flipped[n - 3] ^= 0x10;
    assert_eq!(err(&flipped), CheckpointError::ChecksumMismatch);
    let mut future = good.clone();
    future[18..20].copy_from_slice(&2u16.to_le_bytes());
    reseal(&mut future);
    assert!(matches!(
        err(&future),
        CheckpointError::FutureSchema {
            found: 2,
            supported: 1
        }
    ));
    // A symbol with a space fails the configuration check of the validating deserializer.
    let mut bad_symbol = good.clone();
    let at = HEADER_LEN
        + bad_symbol[HEADER_LEN..]
            .windows(5)
            .position(|w| w == b"PAPER")
            .expect("symbol in the payload");
    bad_symbol[at] = b' ';
    reseal(&mut bad_symbol);
    let e = err(&bad_symbol);
    assert!(matches!(e, CheckpointError::Invalid(_)), "{e:?}");
    // Garbage payload.
    let mut garbage = good.clone();
    for b in &mut garbage[HEADER_LEN..] {
        *b = 0xff;
    }
    reseal(&mut garbage);
    assert!(matches!(
        err(&garbage),
        CheckpointError::Decode | CheckpointError::Invalid(_)
    ));
}

/// A snapshot written by this build (schema 1: 300 SPY bars through the rule strategy) must
/// restore, and write itself again byte for byte, in every later build. A change to the
/// trader's persisted layout fails here: it needs a new snapshot schema that reads this one.
/// Regenerate only for a new schema: `TRADELOOP_BLESS=1 cargo test -p tradeloop-core --test
/// paper` (an existing file is never overwritten).
#[test]
fn the_golden_trader_snapshot_restores_to_the_same_bytes() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/paper/v1.snapshot");
    let (_, trader) = after_300_bars();
    if std::env::var_os("TRADELOOP_BLESS").is_some() && !path.exists() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, trader.snapshot()).unwrap();
    }
    let golden = std::fs::read(&path).expect("golden fixture paper/v1.snapshot");
    let restored = PaperTrader::restore(&golden).unwrap();
    assert_eq!(restored.snapshot(), golden);
    assert!(
        trader.snapshot() == golden,
        "this build's trader after the same bars writes the golden bytes"
    );
}

/// A snapshot in the layout before the checkpoint envelope (what a page saved before this
/// version) still restores, to the same trader; a corrupt one is refused.
#[test]
fn a_legacy_trader_snapshot_still_restores() {
    let (_, trader) = after_300_bars();
    let now = trader.snapshot();
    let payload = &now[HEADER_LEN..];
    let mut legacy = vec![0u8; 24];
    legacy[0..8].copy_from_slice(b"TLPAPER\0");
    legacy[16..18].copy_from_slice(&1u16.to_le_bytes());
    legacy[20..24].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    legacy.extend_from_slice(payload);
    reseal(&mut legacy);
    assert_eq!(PaperTrader::restore(&legacy).unwrap().snapshot(), now);
    let last = legacy.len() - 1;
    legacy[last] ^= 1;
    assert!(matches!(
        PaperTrader::restore(&legacy),
        Err(Error::Checkpoint(CheckpointError::ChecksumMismatch))
    ));
}
