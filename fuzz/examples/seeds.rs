//! Writes the seed corpus of the `abi_request` target: postcard-encoded `abi::Request`s.
//!
//! `cargo run --no-default-features --example seeds -- corpus/abi_request` (from fuzz/).

use std::path::PathBuf;

use tradeloop_core::abi::Request;
use tradeloop_core::command::{ForecastRequest, Observation};
use tradeloop_core::{
    CloseTrade, Command, EngineConfig, ExitReason, LearnRequest, LevelInput, LevelKind, OpenTrade,
    Query, Side, SuggestRequest,
};

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "corpus/abi_request".into()),
    );
    std::fs::create_dir_all(&dir).expect("create the corpus directory");
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/core/tests/fixtures");
    let features = vec![0.1, -0.2, 0.3, 0.05];
    let level = LevelInput {
        price: 99.0,
        kind: LevelKind::Support,
        features: [0.5, 0.2, 0.1, 0.0, 0.7, 1.0],
    };
    let apply = |command| Request::Apply {
        command,
        now: 1_700_000_000_000,
    };
    let seeds: Vec<(&str, Request)> = vec![
        (
            "create-4-features",
            Request::Create {
                config: Box::new(EngineConfig {
                    features: 4,
                    ..Default::default()
                }),
                seed: 1,
                now: 0,
            },
        ),
        (
            "open-long",
            apply(Command::Open(OpenTrade {
                symbol: "EURUSD".into(),
                side: Side::Long,
                price: 100.0,
                size: 1.0,
                features: features.clone(),
                level: Some(level),
                exits: Some((98.0, 104.0)),
            })),
        ),
        (
            "open-short",
            apply(Command::Open(OpenTrade {
                symbol: "SPY".into(),
                side: Side::Short,
                price: 450.5,
                size: 2.0,
                features: features.clone(),
                level: None,
                exits: None,
            })),
        ),
        (
            "close-1",
            apply(Command::Close(CloseTrade {
                trade_id: 1,
                price: 101.0,
                reason: ExitReason::Target,
            })),
        ),
        (
            "close-0-stop",
            apply(Command::Close(CloseTrade {
                trade_id: 0,
                price: 97.0,
                reason: ExitReason::Stop,
            })),
        ),
        ("query-stats", apply(Command::Query(Query::Stats))),
        ("query-open", apply(Command::Query(Query::OpenTrades))),
        (
            "query-closed",
            apply(Command::Query(Query::ClosedTrades { limit: 10 })),
        ),
        ("query-config", apply(Command::Query(Query::Config))),
        ("query-versions", apply(Command::Query(Query::Versions))),
        ("query-trade-1", apply(Command::Query(Query::Trade(1)))),
        (
            "suggest",
            apply(Command::Suggest(SuggestRequest {
                side: Side::Long,
                price: 100.0,
                features: features.clone(),
                levels: vec![level],
            })),
        ),
        (
            "observe",
            apply(Command::Observe(Observation {
                features: features.clone(),
                return_pct: 0.4,
            })),
        ),
        (
            "forecast",
            apply(Command::Forecast(ForecastRequest {
                features: features.clone(),
            })),
        ),
        ("learn", apply(Command::Learn(LearnRequest::default()))),
        ("run-due", apply(Command::RunDue)),
        ("snapshot", Request::Snapshot),
        (
            "create-4-features-again",
            Request::Create {
                config: Box::new(EngineConfig {
                    features: 4,
                    ..Default::default()
                }),
                seed: 7,
                now: 1_700_000_000_000,
            },
        ),
        (
            "restore-v4-small",
            Request::Restore(std::fs::read(format!("{golden}/v4/small.ckpt")).expect("v4 golden")),
        ),
        (
            "restore-v1-small",
            Request::Restore(std::fs::read(format!("{golden}/v1/small.ckpt")).expect("v1 golden")),
        ),
        (
            "restore-corrupt",
            Request::Restore(
                std::fs::read(format!("{golden}/corrupt/garbage-payload.bin")).expect("corrupt"),
            ),
        ),
        (
            "create-default",
            Request::Create {
                config: Box::new(EngineConfig::default()),
                seed: 42,
                now: 0,
            },
        ),
    ];
    // Each seed's status, sent in order to one plugin state (created by the second seed).
    let mut engine = None;
    for (name, request) in &seeds {
        let bytes = postcard::to_allocvec(request).expect("requests encode");
        let (status, _) = tradeloop_core::abi::handle(&mut engine, &bytes);
        eprintln!("{name}: {} bytes, {status:?}", bytes.len());
        let path = dir.join(format!("seed-{name}"));
        std::fs::write(&path, bytes).expect("write a seed");
    }
    eprintln!("wrote {} seeds to {}", seeds.len(), dir.display());
}
