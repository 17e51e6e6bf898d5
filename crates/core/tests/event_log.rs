//! The event-log format (what a host journals): golden bytes of every journalled command and
//! of both kinds of genesis, which must decode to the same values forever, and round trips.
//!
//! Regenerate the golden file only when adding a new format version:
//! `TRADELOOP_BLESS=1 cargo test -p tradeloop-core --test event_log` (an existing golden
//! file is never overwritten).

mod common;

use common::fixture;
use tradeloop_core::command::{ForecastRequest, LearnRequest, Observation};
use tradeloop_core::event_log::{self, FORMAT, Genesis};
use tradeloop_core::lifecycle::policy::LearnMode;
use tradeloop_core::ranking::{Candidate, RankOutput, RankRequest, RankScore};
use tradeloop_core::{
    CloseTrade, Command, ExitMode, ExitReason, LevelInput, LevelKind, OpenTrade, Outcome, Side,
};

/// One command of every journalled kind, with every optional part present somewhere.
fn every_command() -> Vec<Command> {
    let open = |level, exits| {
        Command::Open(OpenTrade {
            symbol: "BTC-USD".into(),
            side: Side::Short,
            price: 42_000.5,
            size: 0.25,
            features: vec![0.5, -1.25, 3.0],
            level,
            exits,
        })
    };
    vec![
        open(None, None),
        open(
            Some(LevelInput {
                price: 41_000.0,
                kind: LevelKind::Resistance,
                features: std::array::from_fn(|i| i as f32 * 0.5),
            }),
            Some((43_000.0, 40_000.0)),
        ),
        Command::Close(CloseTrade {
            trade_id: 300,
            price: 1.5,
            reason: ExitReason::Target,
        }),
        Command::Observe(Observation {
            features: vec![1.0, 2.0],
            return_pct: -0.75,
        }),
        Command::Learn(LearnRequest {
            mode: LearnMode::Retrain,
        }),
        Command::Promote(7),
        Command::Rollback(None),
        Command::Rollback(Some(2)),
        Command::RunDue,
        Command::SetExitMode(ExitMode::Deployment),
        Command::Rank(RankRequest {
            candidates: vec![Candidate {
                symbol: "SPY".into(),
                price: 400.0,
                features: vec![0.25],
            }],
            k: 1,
            size: 2.0,
            scored: Some(RankOutput {
                model: "ranker@1".into(),
                scores: vec![RankScore {
                    score: 0.5,
                    class: Some(Outcome::Win),
                }],
            }),
        }),
        Command::Forecast(ForecastRequest {
            features: vec![-0.5],
        }),
    ]
}

fn geneses() -> Vec<Genesis> {
    vec![
        Genesis::Create {
            config: Box::default(),
            seed: 42,
            now: 1_700_000_000_000,
        },
        Genesis::Restore(vec![1, 2, 3]),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The golden file: one line per record, `event <hex>` or `genesis <hex>`.
fn golden_text() -> String {
    let mut out = String::new();
    for c in every_command() {
        out += &format!("event {}\n", hex(&event_log::encode_event(&c).unwrap()));
    }
    for g in geneses() {
        out += &format!("genesis {}\n", hex(&event_log::encode_genesis(&g)));
    }
    out
}

#[test]
fn golden_records_decode_to_the_same_values_and_encode_to_the_same_bytes() {
    let path = fixture("event_log/v1.txt");
    if std::env::var_os("TRADELOOP_BLESS").is_some() && !path.exists() {
        std::fs::write(&path, golden_text()).unwrap();
    }
    let golden = std::fs::read_to_string(&path).expect("golden file event_log/v1.txt");
    let (mut events, mut starts) = (Vec::new(), Vec::new());
    for line in golden.lines() {
        let (kind, bytes) = line.split_once(' ').unwrap();
        match kind {
            "event" => events.push(event_log::decode_event(1, &unhex(bytes)).unwrap()),
            "genesis" => starts.push(event_log::decode_genesis(1, &unhex(bytes)).unwrap()),
            other => panic!("unknown line kind {other}"),
        }
    }
    assert_eq!(events, every_command());
    assert_eq!(starts, geneses());
    // This build writes format 1 byte for byte like the golden file.
    assert_eq!(FORMAT, 1);
    assert_eq!(golden, golden_text());
}
