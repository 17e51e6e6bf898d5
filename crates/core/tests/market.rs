//! Market data: the CSV contract, the bit-exact W6 features and support/resistance levels,
//! on the bundled real series in `data/market/`.

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use tradeloop_core::market::{
    CSV_HEADER, Candle, CandleError, CsvError, FEATURES, FeatureExtractor, LEVEL_FEATURES,
    LevelDetector, LevelDetectorConfig, LevelKind, MAX_ROW_ERRORS, RowProblem, TimestampError,
    WARM, parse_csv, parse_timestamp, w6_label, w6_stream,
};

const SPY: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/market/SPY_1h.csv"
));
const BTC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/market/BTC-USD_1d.csv"
));

fn ms(iso: &str) -> i64 {
    match parse_timestamp(iso) {
        Ok(t) => t,
        Err(e) => panic!("{iso}: {e}"),
    }
}

fn parse_ok(text: &str) -> Vec<Candle> {
    match parse_csv(text) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

fn parse_err(text: &str) -> CsvError {
    match parse_csv(text) {
        Ok(c) => panic!("accepted {} rows", c.len()),
        Err(e) => e,
    }
}

fn spy() -> Vec<Candle> {
    parse_ok(SPY)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------

#[test]
fn bundled_spy_parses() {
    let c = spy();
    assert_eq!(c.len(), 25_018);
    let first = c[0];
    assert_eq!(first.time, ms("2007-01-03T14:00:00Z"));
    assert_eq!(
        (first.open, first.high, first.low, first.close, first.volume),
        (142.27, 142.78, 141.93, 142.3, 11_203_500.0)
    );
    let last = c[c.len() - 1];
    assert_eq!(last.time, ms("2021-03-31T19:00:00Z"));
    assert_eq!(last.close, 396.33);
    assert!(c.windows(2).all(|w| w[0].time < w[1].time));
    assert!(c.iter().all(|b| b.validate().is_ok()));
}

#[test]
fn bundled_btc_parses() {
    let c = parse_ok(BTC);
    assert_eq!(c.len(), 1_297);
    assert_eq!(c[0].time, ms("2015-01-25T00:00:00Z"));
    assert_eq!(c[0].open, 248.02);
    let last = c[c.len() - 1];
    assert_eq!(last.time, ms("2018-08-13T00:00:00Z"));
    assert_eq!(last.close, 6253.67);
    // Daily bars, no gaps.
    assert!(c.windows(2).all(|w| w[1].time - w[0].time == 86_400_000));
}

#[test]
fn unix_seconds_and_iso_forms_agree() {
    let csv = "timestamp,open,high,low,close,volume\n\
               2020-01-01,1,1,1,1,0\n\
               1577840400,1,1,1,1,0\n\
               2020-01-01T02:00:00Z,1,1,1,1,0\n\
               2020-01-01 03:00:00,1,1,1,1,0\n\
               2020-01-01T04:00:00.500Z,1,1,1,1,0\n\
               2020-01-01T05:00:00+00:00,1,1,1,1,0\n\
               2020-01-01T08:00:00+02:00,1,1,1,1,0\n";
    let t: Vec<i64> = parse_ok(csv).iter().map(|c| c.time).collect();
    let h = 3_600_000;
    let t0 = 1_577_836_800_000;
    assert_eq!(
        t,
        [
            t0,
            t0 + h,
            t0 + 2 * h,
            t0 + 3 * h,
            t0 + 4 * h + 500,
            t0 + 5 * h,
            t0 + 6 * h
        ]
    );
}

#[test]
fn bom_crlf_blank_lines_and_whitespace() {
    let csv = "\u{feff}Timestamp, Open ,HIGH,low,close,Volume\r\n\
               \r\n\
               2020-01-01T00:00:00Z, 1.5 ,2,1,1.5,10\r\n\
               \r\n\
               \"2020-01-02T00:00:00Z\",1.5,2,1,1.75,0\r\n";
    let c = parse_ok(csv);
    assert_eq!(c.len(), 2);
    assert_eq!(c[1].close, 1.75);
    assert_eq!(c[1].time - c[0].time, 86_400_000);
    // No trailing newline is fine too.
    assert_eq!(parse_ok(&format!("{CSV_HEADER}\n1,1,1,1,1,1")).len(), 1);
    assert_eq!(parse_ok(CSV_HEADER), Vec::new());
}

#[test]
fn each_malformed_row_kind_names_line_and_column() {
    let csv = "timestamp,open,high,low,close,volume\n\
               2020-01-01T00:00:00Z,100,101,99,100.5,10\n\
               2020-01-01T01:00:00Z,100,abc,99,100.5,10\n\
               2020-01-01T02:00:00Z,100.2,99.5,99,99.8,10\n\
               2020-01-01T03:00:00Z,100,101,99,100.5\n\
               2020-01-01T04:00:00Z,100,101,,100.5,10\n\
               2020-13-01T05:00:00Z,100,101,99,100.5,10\n\
               2020-01-01T06:00:00Z,100,101,99,100.5,-1\n\
               2020-01-01T07:00:00Z,0,101,99,100.5,10\n\
               2020-01-01T08:00:00Z,100,101,100.2,100.5,10\n\
               2020-01-01T09:00:00Z,100,101,99,inf,10\n\
               2020-01-01T10:00:00Z,100,99,101,100,10\n\
               2020-01-01T10:00:00Z,100,101,99,100.5,10\n\
               2020-01-01T09:30:00Z,100,101,99,100.5,10\n\
               2020-01-01T11:00:00Z,100,101,99,100.5,10\n";
    let e = parse_err(csv);
    let lines: Vec<String> = e.errors().iter().map(ToString::to_string).collect();
    let want = [
        "line 3: column 'high': 'abc' is not a number",
        "line 4: high 99.5 is below max(open, close) 100.2",
        "line 5: expected 6 columns (timestamp,open,high,low,close,volume), found 5",
        "line 6: column 'low' is empty",
        "line 7: column 'timestamp': '2020-13-01T05:00:00Z' is not a valid calendar date",
        "line 8: volume -1 is negative",
        "line 9: open 0 is not a positive price",
        "line 10: low 100.2 is above min(open, close) 100",
        "line 11: close inf is not finite",
        "line 12: high 99 is below low 101",
        "line 13: timestamp 2020-01-01T10:00:00Z repeats the time of the previous row (line 12)",
        "line 14: timestamp 2020-01-01T09:30:00Z is not after the previous row (line 13)",
    ];
    assert_eq!(lines, want);
    assert_eq!(e.bad_rows(), 12);
    // Display: one line per bad row.
    assert_eq!(e.to_string(), want.join("\n"));
    assert!(matches!(
        e.errors()[1].problem,
        RowProblem::Candle(CandleError::HighBelowBody { .. })
    ));
}

#[test]
fn all_bad_rows_are_reported_and_truncated_with_a_count() {
    let mut csv = String::from(CSV_HEADER);
    let mut bad_lines = Vec::new();
    for i in 0..200u32 {
        let line = i + 2;
        if i % 3 == 0 {
            csv.push_str(&format!("\n{},1,1,1,x{i},1", 1_000 + i));
            bad_lines.push(u64::from(line));
        } else {
            csv.push_str(&format!("\n{},1,1,1,1,1", 1_000 + i));
        }
    }
    let e = parse_err(&csv);
    assert_eq!(e.bad_rows(), bad_lines.len() as u64);
    assert_eq!(e.errors().len(), MAX_ROW_ERRORS);
    let reported: Vec<u64> = e.errors().iter().map(|r| r.line).collect();
    assert_eq!(reported, bad_lines[..MAX_ROW_ERRORS]);
    let shown = e.to_string();
    assert_eq!(shown.lines().count(), MAX_ROW_ERRORS + 1);
    assert!(
        shown.ends_with(&format!(
            "... and {} more bad rows",
            bad_lines.len() - MAX_ROW_ERRORS
        )),
        "{shown}"
    );
}

#[test]
fn one_mistyped_time_does_not_cascade() {
    // Line 4 jumps a year ahead: line 5 is reported against it, line 6 is fine again
    // relative to line 5.
    let csv = "timestamp,open,high,low,close,volume\n\
               2020-01-01T00:00:00Z,1,1,1,1,1\n\
               2020-01-01T01:00:00Z,1,1,1,1,1\n\
               2021-01-01T02:00:00Z,1,1,1,1,1\n\
               2020-01-01T03:00:00Z,1,1,1,1,1\n\
               2020-01-01T04:00:00Z,1,1,1,1,1\n";
    let e = parse_err(csv);
    assert_eq!(e.bad_rows(), 1);
    assert_eq!(
        e.to_string(),
        "line 5: timestamp 2020-01-01T03:00:00Z is not after the previous row (line 4)"
    );
}

#[test]
fn invalid_dates_are_rejected() {
    for bad in [
        "2021-02-29",
        "2020-02-30",
        "2020-04-31",
        "2020-13-01",
        "2020-00-01",
        "1900-02-29T00:00:00Z",
        "2020-01-01T24:00:00Z",
        "2020-01-01T12:60:00Z",
        "2020-01-01T12:00:61Z",
    ] {
        let csv = format!("{CSV_HEADER}\n{bad},1,1,1,1,1\n");
        let e = parse_err(&csv);
        assert_eq!(e.errors()[0].line, 2);
        assert!(
            matches!(
                e.errors()[0].problem,
                RowProblem::Timestamp {
                    error: TimestampError::InvalidDate | TimestampError::InvalidTime,
                    ..
                }
            ),
            "{bad}: {e}"
        );
    }
    assert_eq!(ms("2000-02-29"), 951_782_400_000);
    assert_eq!(ms("2024-02-29T00:00:00Z"), 1_709_164_800_000);
}

#[test]
fn empty_file_and_bad_header_are_line_1() {
    for text in [
        "",
        "\u{feff}",
        "\n\n",
        "date,open,high,low,close,volume\n1,1,1,1,1,1",
    ] {
        let e = parse_err(text);
        assert_eq!(e.bad_rows(), 1);
        assert_eq!(e.errors()[0].line, 1, "{text:?}");
        assert!(e.to_string().starts_with("line 1: "), "{e}");
    }
    let e = parse_err("\n\nopen,high\n");
    assert_eq!(e.errors()[0].line, 3);
}

proptest! {
    #[test]
    fn random_text_never_panics(text in ".{0,400}") {
        let _ = parse_csv(&text);
        let _ = parse_csv(&format!("{CSV_HEADER}\n{text}"));
    }

    #[test]
    fn random_rows_never_panic(
        rows in proptest::collection::vec(
            "[0-9T:Z+. -]{0,22},[-0-9.e]{0,6},[0-9.einfa]{0,6},[-0-9.]{0,5},[0-9.,]{0,6},[0-9.-]{0,5}",
            0..30,
        )
    ) {
        let text = format!("{CSV_HEADER}\n{}", rows.join("\n"));
        match parse_csv(&text) {
            Ok(c) => {
                prop_assert!(c.iter().all(|b| b.validate().is_ok()));
                prop_assert!(c.windows(2).all(|w| w[0].time < w[1].time));
            }
            Err(e) => {
                prop_assert!(e.bad_rows() >= 1);
                prop_assert!(e.errors().iter().all(|r| r.line >= 2));
            }
        }
    }

    #[test]
    fn random_timestamps_never_panic(text in "[0-9T:Zz+. -]{0,30}") {
        let _ = parse_timestamp(&text);
    }
}

// ---------------------------------------------------------------------------------------
// W6 features
// ---------------------------------------------------------------------------------------

/// SPY_1h fingerprint from `shared/bench/anchors/W6_fingerprints_shared.json` (series
/// `SPY_1h`, start 2007-01-01; also the table in `W6_SPEC.md` section 3), produced by
/// `stream.py` in Python. The bundled `data/market/SPY_1h.csv` is exactly the bars it uses.
const SPY_ROWS: usize = 24_910;
const SPY_CLASSES: [u64; 3] = [6_611, 9_633, 8_666];
const SPY_FEAT_SUM: &str = "1.6388184552e5";
const SPY_SHA256: &str = "49da1b46c03060725f642c538848ac1717c218af2cad57044db9d682e93acdde";

#[test]
fn w6_stream_of_spy_is_bit_exact_with_the_benchmark() {
    let rows = w6_stream(&spy());
    assert_eq!(rows.len(), SPY_ROWS);
    let mut hash = Sha256::new();
    let mut classes = [0u64; 3];
    let mut feat_sum = 0.0f64;
    for (features, label) in &rows {
        for x in features {
            hash.update(x.to_le_bytes());
            feat_sum += f64::from(*x);
        }
        hash.update([*label]);
        classes[usize::from(*label)] += 1;
    }
    assert_eq!(classes, SPY_CLASSES);
    assert_eq!(format!("{feat_sum:.10e}"), SPY_FEAT_SUM);
    assert_eq!(hex(&hash.finalize()), SPY_SHA256);
    // First row (bar 2007-01-23T19:00:00Z) from the same JSON, printed %.9g there (which
    // parses back to the identical f32).
    let (first, label) = rows[0];
    assert_eq!(label, 2);
    for (i, text) in [(0, "-1.57255292"), (16, "2.0848403"), (31, "0.0877192989")] {
        assert_eq!(Ok(first[i]), text.parse::<f32>(), "f{i}");
    }
}

#[test]
fn streaming_push_agrees_with_w6_stream() {
    let bars = spy();
    let stream = w6_stream(&bars);
    let mut fx = FeatureExtractor::new();
    let mut rows = Vec::new();
    for (t, c) in bars.iter().enumerate() {
        let f = fx.push(c);
        assert_eq!(fx.bars(), t as u64 + 1);
        assert_eq!(f.is_some(), t as u64 >= WARM, "bar {t}");
        if let (Some(f), Some(later)) = (f, bars.get(t + 12)) {
            let sigma = fx.sigma().unwrap_or(f64::NAN);
            rows.push((f, w6_label(c.close, later.close, sigma)));
        }
    }
    assert_eq!(rows.len(), stream.len());
    assert!(rows == stream);
    assert!(
        stream
            .iter()
            .all(|(f, _)| f.len() == FEATURES && f.iter().all(|x| x.is_finite() && x.abs() <= 10.0))
    );
}

#[test]
fn extractor_survives_a_postcard_round_trip_mid_stream() {
    let bars = spy();
    let (head, tail) = bars.split_at(5_000);
    let mut a = FeatureExtractor::new();
    for c in head {
        let _ = a.push(c);
    }
    let bytes = match postcard::to_allocvec(&a) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    let mut b: FeatureExtractor = match postcard::from_bytes(&bytes) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(b.bars(), 5_000);
    assert_eq!(a.sigma().map(f64::to_bits), b.sigma().map(f64::to_bits));
    for c in tail {
        let fa = a.push(c);
        let fb = b.push(c);
        assert!(fa.is_some());
        assert_eq!(
            fa.map(|f| f.map(f32::to_bits)),
            fb.map(|f| f.map(f32::to_bits))
        );
    }
    // Truncated or garbage state is an error, not a panic.
    assert!(postcard::from_bytes::<FeatureExtractor>(&bytes[..bytes.len() / 2]).is_err());
    assert!(postcard::from_bytes::<FeatureExtractor>(&[]).is_err());
}

#[test]
fn try_push_rejects_invalid_candles() {
    let mut fx = FeatureExtractor::new();
    let bad = Candle {
        time: 0,
        open: 1.0,
        high: 0.5,
        low: 0.9,
        close: 1.0,
        volume: 0.0,
    };
    assert!(fx.try_push(&bad).is_err());
    assert_eq!(fx.bars(), 0);
}

// ---------------------------------------------------------------------------------------
// Levels
// ---------------------------------------------------------------------------------------

fn check_levels(d: &LevelDetector, close: f64) {
    let levels = d.levels();
    assert!(levels.len() <= d.config().max_levels as usize);
    for l in levels {
        assert!(l.price.is_finite() && l.price > 0.0, "{l:?}");
        assert_eq!(l.features.len(), LEVEL_FEATURES);
        assert!(
            l.features
                .iter()
                .all(|x| x.is_finite() && (0.0..=1.0).contains(x)),
            "{l:?}"
        );
        assert!(l.touches >= 1 && l.first_time <= l.last_time, "{l:?}");
        let want = if l.price <= close {
            LevelKind::Support
        } else {
            LevelKind::Resistance
        };
        assert_eq!(l.kind, want, "{l:?}");
    }
    let dist: Vec<f64> = levels.iter().map(|l| (l.price - close).abs()).collect();
    assert!(dist.windows(2).all(|w| w[0] <= w[1]), "{dist:?}");
}

#[test]
fn levels_on_bundled_series_are_well_formed() {
    for (name, bars) in [("SPY_1h", spy()), ("BTC-USD_1d", parse_ok(BTC))] {
        let mut d = match LevelDetector::new(LevelDetectorConfig::default()) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        let mut with_both = 0u32;
        for (i, c) in bars.iter().enumerate() {
            assert_eq!(d.push(c), Ok(()));
            // Checking every bar is slow in debug builds; every 7th covers all phases.
            if i % 7 == 0 {
                check_levels(&d, c.close);
            }
            if d.nearest(LevelKind::Support).is_some() && d.nearest(LevelKind::Resistance).is_some()
            {
                with_both += 1;
            }
        }
        // Most of the time there are levels on both sides; not at new highs or lows of the
        // window (SPY_1h: 87 % of the bars, BTC-USD_1d: 88 %).
        assert!(
            with_both as usize > bars.len() * 3 / 4,
            "{name}: {with_both}"
        );
        let atr = d.atr().unwrap_or(0.0);
        assert!(atr > 0.0 && atr.is_finite(), "{name}");
    }
}

#[test]
fn level_config_validation_rejects_hostile_configs() {
    let d = LevelDetectorConfig::default();
    for bad in [
        LevelDetectorConfig {
            window: 1_000_000,
            ..d
        },
        LevelDetectorConfig { window: 0, ..d },
        LevelDetectorConfig {
            pivot_radius: 0,
            ..d
        },
        LevelDetectorConfig {
            cluster_atr: f64::NAN,
            ..d
        },
        LevelDetectorConfig { max_levels: 0, ..d },
        LevelDetectorConfig { htf_factor: 0, ..d },
        LevelDetectorConfig {
            reaction_bars: 0,
            ..d
        },
        LevelDetectorConfig { atr_period: 0, ..d },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
        assert!(LevelDetector::new(bad).is_err(), "{bad:?}");
    }
    let big = LevelDetectorConfig {
        window: 10_000,
        ..d
    };
    assert_eq!(big.validate(), Ok(()));
}

#[test]
fn level_detector_round_trips_through_postcard() {
    let bars = parse_ok(BTC);
    let (head, tail) = bars.split_at(600);
    let mut a = match LevelDetector::new(LevelDetectorConfig::default()) {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    for c in head {
        assert_eq!(a.push(c), Ok(()));
    }
    let bytes = postcard::to_allocvec(&a).unwrap_or_default();
    let mut b: LevelDetector = match postcard::from_bytes(&bytes) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    for c in tail {
        assert_eq!(a.push(c), Ok(()));
        assert_eq!(b.push(c), Ok(()));
    }
    assert_eq!(a, b);
    assert!(postcard::from_bytes::<LevelDetector>(&bytes[..bytes.len() - 9]).is_err());
}

fn arb_candle() -> impl Strategy<Value = Candle> {
    (
        0.01f64..1_000.0,
        0.0f64..0.2,
        0.0f64..0.2,
        -0.1f64..0.1,
        prop_oneof![Just(0.0), 0.0f64..1e6],
    )
        .prop_map(|(mid, up, down, body, volume)| {
            let open = mid * (1.0 - body / 2.0);
            let close = mid * (1.0 + body / 2.0);
            Candle {
                time: 0,
                open,
                high: open.max(close) * (1.0 + up),
                low: open.min(close) * (1.0 - down),
                close,
                volume,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn level_detector_on_random_bars_stays_in_range(
        bars in proptest::collection::vec(arb_candle(), 1..160),
        radius in 1u32..4,
        max_levels in 1u32..10,
        htf in 2u32..6,
    ) {
        let config = LevelDetectorConfig {
            window: 40,
            pivot_radius: radius,
            atr_period: 5,
            max_levels,
            htf_factor: htf,
            reaction_bars: 4,
            ..LevelDetectorConfig::default()
        };
        let mut d = match LevelDetector::new(config) {
            Ok(d) => d,
            Err(e) => return Err(TestCaseError::fail(e)),
        };
        for (i, c) in bars.iter().enumerate() {
            let c = Candle { time: i as i64, ..*c };
            prop_assert_eq!(c.validate(), Ok(()));
            prop_assert_eq!(d.push(&c), Ok(()));
            check_levels(&d, c.close);
        }
    }

    #[test]
    fn random_bytes_are_not_a_state(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = postcard::from_bytes::<FeatureExtractor>(&bytes);
        let _ = postcard::from_bytes::<LevelDetector>(&bytes);
    }

    /// A valid detector state with a few bytes changed either fails to load or loads into
    /// something that keeps working without panicking.
    #[test]
    fn corrupted_detector_state_never_panics(
        edits in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..4),
    ) {
        let bars = parse_ok(BTC);
        let config = LevelDetectorConfig { window: 30, ..LevelDetectorConfig::default() };
        let mut d = match LevelDetector::new(config) {
            Ok(d) => d,
            Err(e) => return Err(TestCaseError::fail(e)),
        };
        for c in &bars[..60] {
            prop_assert_eq!(d.push(c), Ok(()));
        }
        let mut bytes = postcard::to_allocvec(&d).unwrap_or_default();
        prop_assert!(!bytes.is_empty());
        for (pos, value) in edits {
            let i = usize::from(pos) % bytes.len();
            bytes[i] = value;
        }
        if let Ok(mut restored) = postcard::from_bytes::<LevelDetector>(&bytes) {
            for c in &bars[60..100] {
                prop_assert_eq!(restored.push(c), Ok(()));
                prop_assert!(restored.levels().len() <= restored.config().max_levels as usize);
            }
        }
    }
}
