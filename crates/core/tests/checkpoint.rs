//! The checkpoint format: round trips, resume-equals-never-stopped, hostile bytes, golden
//! files that must keep loading, and corrupt files that must be rejected with the right error.
//!
//! Regenerate fixtures only when adding a new schema version:
//! `TRADELOOP_BLESS=1 cargo test -p tradeloop-core --test checkpoint` (existing golden files
//! are never overwritten).

mod common;

use common::{default_v3, fixture, run, small_config, small_config_v3, stream};
use proptest::prelude::*;
use tradeloop_core::checkpoint::{self, HEADER_LEN, SCHEMA, xxh64};
use tradeloop_core::{CheckpointError, Command, Engine, EngineConfig, Error, Query, Reply};

fn engine_after(seed: u64, n: usize) -> Engine {
    let mut e = Engine::new(small_config(), seed, 0).unwrap();
    run(&mut e, &stream(seed ^ 0xABCD, n, 8));
    e
}

/// Re-seals a payload with a correct checksum, so decoding is reached.
fn reseal(bytes: &mut [u8]) {
    let sum = xxh64(&bytes[16..], 0);
    bytes[8..16].copy_from_slice(&sum.to_le_bytes());
}

fn ckpt_err(r: Result<Engine, Error>) -> CheckpointError {
    match r {
        Err(Error::Checkpoint(c)) => c,
        Err(other) => panic!("not a checkpoint error: {other:?}"),
        Ok(_) => panic!("accepted"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn restore_of_snapshot_is_the_same_engine(seed in any::<u64>(), n in 0usize..300) {
        let e = engine_after(seed, n);
        let bytes = e.snapshot();
        let back = Engine::restore(&bytes).unwrap();
        prop_assert!(back == e);
        prop_assert_eq!(back.snapshot(), bytes);
    }

    #[test]
    fn snapshot_restore_midway_equals_running_straight_through(seed in any::<u64>(), n in 2usize..300, cut in 0.0f64..1.0) {
        let cmds = stream(seed, n, 8);
        let k = ((n as f64) * cut) as usize;
        let mut straight = Engine::new(small_config(), seed, 0).unwrap();
        run(&mut straight, &cmds);
        let mut first = Engine::new(small_config(), seed, 0).unwrap();
        run(&mut first, &cmds[..k]);
        let mut resumed = Engine::restore(&first.snapshot()).unwrap();
        run(&mut resumed, &cmds[k..]);
        prop_assert_eq!(resumed.snapshot(), straight.snapshot());
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        prop_assert!(Engine::restore(&bytes).is_err());
    }

    #[test]
    fn random_bytes_behind_a_valid_header_never_panic(body in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let bytes = checkpoint::seal(SCHEMA, &body);
        prop_assert!(Engine::restore(&bytes).is_err());
    }

    #[test]
    fn mutated_payloads_with_valid_checksums_never_panic(seed in any::<u64>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = engine_after(seed, 150).snapshot();
        let payload = bytes.len() - HEADER_LEN;
        for (pos, val) in flips {
            bytes[HEADER_LEN + pos % payload] ^= val | 1;
        }
        reseal(&mut bytes);
        // May decode to a different valid engine or be rejected; it must not panic, and an
        // accepted engine must keep working.
        if let Ok(mut e) = Engine::restore(&bytes) {
            let _ = e.apply(Command::Query(Query::Stats), 0);
            let width = e.config().features as usize;
            run(&mut e, &stream(seed, 30, width));
            let _ = e.snapshot();
        }
    }

    #[test]
    fn truncations_are_typed_errors(seed in any::<u64>(), cut in 0.0f64..1.0) {
        let bytes = engine_after(seed, 80).snapshot();
        let k = ((bytes.len() as f64) * cut) as usize;
        let err = ckpt_err(Engine::restore(&bytes[..k]));
        prop_assert!(matches!(err, CheckpointError::Truncated { .. }), "{:?}", err);
    }
}

#[test]
fn every_single_bit_flip_is_detected() {
    let bytes = engine_after(1, 60).snapshot();
    for i in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[i] ^= 1 << (i % 8);
        assert!(
            Engine::restore(&b).is_err(),
            "flip at byte {i} went unnoticed"
        );
    }
}

#[test]
fn default_config_engine_round_trips() {
    let mut e = Engine::new(EngineConfig::default(), 77, 0).unwrap();
    run(&mut e, &stream(4, 200, 32));
    let bytes = e.snapshot();
    assert_eq!(Engine::restore(&bytes).unwrap(), e);
    let header = checkpoint::open(&bytes).unwrap().0;
    assert_eq!(
        (header.format, header.schema, header.payload_len as usize),
        (1, SCHEMA, bytes.len() - HEADER_LEN)
    );
}

/// The expected error for each file in `tests/fixtures/corrupt`.
fn corrupt_cases(valid: &[u8]) -> Vec<(&'static str, Vec<u8>, CheckpointError)> {
    let mut v = Vec::new();
    v.push((
        "empty.bin",
        Vec::new(),
        CheckpointError::Truncated { needed: 32, got: 0 },
    ));
    v.push((
        "short-header.bin",
        valid[..20].to_vec(),
        CheckpointError::Truncated {
            needed: 32,
            got: 20,
        },
    ));
    v.push((
        "foreign-png.bin",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde".to_vec(),
        CheckpointError::Foreign,
    ));
    let half = valid.len() / 2;
    v.push((
        "truncated-half.bin",
        valid[..half].to_vec(),
        CheckpointError::Truncated {
            needed: valid.len() as u64,
            got: half as u64,
        },
    ));
    let mut trailing = valid.to_vec();
    trailing.extend_from_slice(b"junk");
    v.push(("trailing.bin", trailing, CheckpointError::TrailingBytes(4)));
    let mut flipped = valid.to_vec();
    flipped[valid.len() - 10] ^= 0x40;
    v.push((
        "flipped-byte.bin",
        flipped,
        CheckpointError::ChecksumMismatch,
    ));
    // A schema far beyond this build's (a file from a much newer tradeloop).
    let mut future = valid.to_vec();
    future[18..20].copy_from_slice(&60_000u16.to_le_bytes());
    reseal(&mut future);
    v.push((
        "future-schema.bin",
        future,
        CheckpointError::FutureSchema {
            found: 60_000,
            supported: SCHEMA,
        },
    ));
    let mut format = valid.to_vec();
    format[16..18].copy_from_slice(&2u16.to_le_bytes());
    reseal(&mut format);
    v.push((
        "future-format.bin",
        format,
        CheckpointError::UnsupportedFormat(2),
    ));
    let mut flags = valid.to_vec();
    flags[20] = 1;
    reseal(&mut flags);
    v.push((
        "unknown-flags.bin",
        flags,
        CheckpointError::Invalid("unknown header flags"),
    ));
    v.push((
        "garbage-payload.bin",
        checkpoint::seal(1, &[0xFF; 64]),
        CheckpointError::Decode,
    ));
    v
}

fn bless() -> bool {
    std::env::var_os("TRADELOOP_BLESS").is_some()
}

#[test]
fn corrupt_fixture_files_are_rejected_with_the_right_error() {
    let valid = std::fs::read(fixture("v1/small.ckpt")).expect("golden fixture v1/small.ckpt");
    for (name, bytes, expected) in corrupt_cases(&valid) {
        let path = fixture(&format!("corrupt/{name}"));
        if bless() && !path.exists() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(on_disk, bytes, "{name} on disk differs from its recipe");
        assert_eq!(ckpt_err(Engine::restore(&on_disk)), expected, "{name}");
    }
}

/// Golden files: checkpoints written by earlier builds, committed, that must load forever.
struct Golden {
    file: &'static str,
    config: fn() -> EngineConfig,
    seed: u64,
    commands: usize,
    features: usize,
    /// Rankings (`Command::Rank`) after the commands (schema 3 on).
    rankings: usize,
}

const GOLDEN: &[Golden] = &[
    Golden {
        file: "v1/small.ckpt",
        config: small_config_v3,
        seed: 42,
        commands: 250,
        features: 8,
        rankings: 0,
    },
    Golden {
        file: "v1/default.ckpt",
        config: default_v3,
        seed: 7,
        commands: 120,
        features: 32,
        rankings: 0,
    },
    Golden {
        file: "v2/small.ckpt",
        config: small_config_v3,
        seed: 42,
        commands: 400,
        features: 8,
        rankings: 0,
    },
    Golden {
        file: "v2/default.ckpt",
        config: default_v3,
        seed: 7,
        commands: 200,
        features: 32,
        rankings: 0,
    },
    Golden {
        file: "v3/small.ckpt",
        config: small_config_v3,
        seed: 42,
        commands: 400,
        features: 8,
        rankings: 30,
    },
    Golden {
        file: "v3/default.ckpt",
        config: default_v3,
        seed: 7,
        commands: 200,
        features: 32,
        rankings: 12,
    },
    Golden {
        file: "v4/small.ckpt",
        config: small_config,
        seed: 42,
        commands: 600,
        features: 8,
        rankings: 30,
    },
    Golden {
        file: "v4/default.ckpt",
        config: EngineConfig::default,
        seed: 7,
        commands: 300,
        features: 32,
        rankings: 12,
    },
];

#[test]
fn golden_checkpoints_keep_loading() {
    for g in GOLDEN {
        let path = fixture(g.file);
        if bless() && !path.exists() {
            let mut e = Engine::new((g.config)(), g.seed, 0).unwrap();
            run(&mut e, &stream(g.seed, g.commands, g.features));
            common::rank_rounds(&mut e, g.seed, g.rankings, g.features);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, e.snapshot()).unwrap();
        }
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut e = Engine::restore(&bytes).unwrap_or_else(|err| panic!("{}: {err}", g.file));
        assert_eq!(e.config(), &(g.config)(), "{}", g.file);
        assert!(
            e.journal().next_id() > 1 && !e.replay().is_empty(),
            "{}",
            g.file
        );
        // While the fixture's schema is current, it round-trips byte for byte.
        if checkpoint::open(&bytes).unwrap().0.schema == SCHEMA {
            assert_eq!(e.snapshot(), bytes, "{} no longer round-trips", g.file);
        }
        // A restored engine keeps working.
        let Reply::Stats(s) = e.apply(Command::Query(Query::Stats), 0).unwrap() else {
            panic!()
        };
        assert_eq!(s.opened + 1, e.journal().next_id());
        run(&mut e, &stream(g.seed + 1, 50, g.features));
        common::rank_rounds(&mut e, g.seed + 1, 3, g.features);
    }
}

#[test]
fn small_golden_has_the_recorded_contents() {
    // Facts about tests/fixtures/v1/small.ckpt as written (schema 1). They pin the decoded
    // meaning of the bytes, not just that they decode.
    let e = Engine::restore(&std::fs::read(fixture("v1/small.ckpt")).unwrap()).unwrap();
    let dto = checkpoint::decode(&std::fs::read(fixture("v1/small.ckpt")).unwrap()).unwrap();
    assert_eq!(dto.journal.next_id, e.journal().next_id());
    assert_eq!(dto.replay.ids.0.len(), e.replay().len());
    assert_eq!(dto.stats.closed, e.stats().closed);
    assert!(dto.ranking.trades.is_empty() && dto.ranking.monitor.rankings == 0);
    let facts = format!(
        "next_id={} replay={} closed={} outcomes={:?} signal_version={} level_adjustments={} exit_trainings={}",
        e.journal().next_id(),
        e.replay().len(),
        e.stats().closed,
        e.stats().outcomes,
        e.lifecycle().registry().champion().id,
        e.levels().history().len(),
        e.exits().trainings(),
    );
    let path = fixture("v1/small.facts");
    if bless() && !path.exists() {
        std::fs::write(&path, format!("{facts}\n")).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(facts, expected.trim());
}

#[test]
fn a_schema_1_signal_model_becomes_the_imported_champion() {
    use tradeloop_core::lifecycle::registry::VersionKind;
    let bytes = std::fs::read(fixture("v1/small.ckpt")).unwrap();
    let dto = checkpoint::decode(&bytes).unwrap();
    let e = Engine::restore(&bytes).unwrap();
    let r = e.lifecycle().registry();
    let champion = r.champion();
    assert_eq!(champion.kind, VersionKind::Imported);
    assert_eq!(r.versions().len(), 1);
    assert!(
        champion.predictor.net().is_some(),
        "the schema-1 network is kept"
    );
    assert_eq!(dto.lifecycle.champion, champion.id);
    // Every trade in the journal was decided by the imported version.
    assert!(
        e.journal()
            .closed_trades()
            .all(|t| t.model_version <= champion.id)
    );
    // Nothing counts as new: the upgraded engine makes no version on its first close.
    assert_eq!(e.lifecycle().new_samples(), 0);
    // Saved again, it is a file of the current schema that round-trips.
    let again = e.snapshot();
    assert_eq!(checkpoint::open(&again).unwrap().0.schema, SCHEMA);
    assert_eq!(Engine::restore(&again).unwrap(), e);
}

#[test]
fn small_v2_golden_has_the_recorded_contents() {
    let bytes = std::fs::read(fixture("v2/small.ckpt")).unwrap();
    let e = Engine::restore(&bytes).unwrap();
    let l = e.lifecycle();
    // Schema 2's own count of samples since its last training run, read from its payload.
    let (_, payload) = checkpoint::open(&bytes).unwrap();
    let v2: checkpoint::v2::EngineV2<'_> = postcard::from_bytes(payload).unwrap();
    let trained_seq_new = v2.replay.pushed - v2.lifecycle.trained_seq;
    let facts = format!(
        "next_id={} replay={} closed={} champion={} versions={:?} created={} audit={} monitored={} trained_seq_new={}",
        e.journal().next_id(),
        e.replay().len(),
        e.stats().closed,
        l.registry().champion().id,
        l.registry()
            .versions()
            .iter()
            .map(|v| (v.id, v.kind))
            .collect::<Vec<_>>(),
        l.registry().created(),
        l.registry().audit().len(),
        l.monitor().len(),
        trained_seq_new,
    );
    let path = fixture("v2/small.facts");
    if bless() && !path.exists() {
        std::fs::write(&path, format!("{facts}\n")).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(facts, expected.trim());
}

#[test]
fn v3_golden_keeps_its_ranked_trades_and_monitor() {
    let bytes = std::fs::read(fixture("v3/small.ckpt")).unwrap();
    let dto = checkpoint::decode(&bytes).unwrap();
    let e = Engine::restore(&bytes).unwrap();
    assert!(!dto.ranking.trades.is_empty());
    for (id, by) in &dto.ranking.trades {
        let t = e.journal().get(*id).expect("a ranked trade is kept");
        assert_eq!(t.ranked.as_ref(), Some(by.as_ref()));
        assert_eq!(by.model, "test-ranker@0123456789ab");
        assert!(by.rank >= 1 && by.rank <= 2 && by.of == 5);
    }
    let m = &dto.ranking.monitor;
    assert_eq!(m.rankings, 30);
    assert_eq!(
        m.periods, 29,
        "every ranking after the first scores the one before"
    );
    assert!(m.last.as_ref().is_some_and(|l| l.entries.len() == 5));
}

#[test]
fn upgraded_checkpoints_keep_what_was_learned_and_start_the_new_parts_from_it() {
    use tradeloop_core::lifecycle::registry::AuditEvent;
    for file in ["v2/small.ckpt", "v3/default.ckpt"] {
        let bytes = std::fs::read(fixture(file)).unwrap();
        let e = Engine::restore(&bytes).unwrap();
        let l = e.lifecycle();
        // The priors and the linear learner learned the replay buffer.
        assert_eq!(
            l.experts().counts().iter().sum::<u64>(),
            e.replay().len() as u64,
            "{file}"
        );
        assert_eq!(l.experts().linear().seen(), e.replay().len() as u64);
        // The online network starts as the champion network when there is one.
        if let Some(net) = l.registry().champion().predictor.net() {
            assert_eq!(l.online().net().mlp(), net.mlp());
        }
        // No trial, no A/B routing: A/B is opt-in from schema 4.
        assert!(l.trial().is_none() && !e.config().lifecycle.ab.enabled);
        assert!(l.mixture().copies() == 0 && l.mixture().scores().rows == 0);
        // The history is kept, event for event.
        let dto = checkpoint::decode(&bytes).unwrap();
        assert_eq!(dto.lifecycle.audit.len(), l.registry().audit().len());
        assert!(
            l.registry()
                .audit()
                .iter()
                .any(|a| matches!(a.event, AuditEvent::Created { .. }))
        );
    }
}

#[test]
fn a_checkpoint_taken_mid_retrain_resumes_it_exactly() {
    use tradeloop_core::lifecycle::policy::LearnMode;
    let mut c = small_config();
    c.lifecycle.retrain.rows_per_call = 64;
    c.lifecycle.retrain.max_epochs = 20;
    c.replay.capacity = 400;
    let mut e = Engine::new(c, 11, 0).unwrap();
    run(&mut e, &common::observations(12, 300, 8));
    // Start an automatic retrain by hand (forced retrains run to the end): the policy's
    // count-based retrain at `retrain_every` labels is spread over commands.
    let mut t = 1_800_000_000_000i64;
    let mut obs = common::observations(13, 400, 8).into_iter();
    while e.lifecycle().retrain_status().is_none() {
        let (cmd, _) = obs
            .next()
            .expect("a retrain starts within 400 observations");
        t += 1000;
        e.apply(cmd, t).unwrap();
    }
    let mid = e.snapshot();
    let mut resumed = Engine::restore(&mid).unwrap();
    assert_eq!(resumed, e);
    for (cmd, _) in obs.by_ref().take(60) {
        t += 1000;
        let a = e.apply(cmd.clone(), t);
        let b = resumed.apply(cmd, t);
        assert_eq!(a, b);
    }
    assert_eq!(resumed.snapshot(), e.snapshot());
    let _ = LearnMode::Auto;
}

#[test]
fn v4_golden_holds_the_mixture_the_online_network_and_the_trials() {
    use tradeloop_core::checkpoint::v4::AuditEventV4;
    let bytes = std::fs::read(fixture("v4/small.ckpt")).unwrap();
    let dto = checkpoint::decode(&bytes).unwrap();
    let l = &dto.lifecycle;
    assert!(l.mixture.scores.rows > 0 && !l.mixture.copies.0.is_empty());
    assert!(
        !l.mixture.pending.is_empty(),
        "forecasts and trades wait for labels"
    );
    assert!(l.online.seen > 0 && l.experts.linear.seen > 0);
    assert!(l.experts.counts.iter().sum::<u64>() > 0);
    assert!(l.versions.len() > 1 && l.labels > 0);
    assert!(
        l.audit
            .iter()
            .any(|a| matches!(a.event, AuditEventV4::TrialStarted { .. }))
    );
    let e = Engine::restore(&bytes).unwrap();
    assert_eq!(e.lifecycle().mixture().scores().rows, l.mixture.scores.rows);
}

/// `dto`, sealed as a checkpoint, is refused as `Invalid` (`what` names the edit).
fn assert_invalid(dto: &checkpoint::v4::EngineV4<'static>, what: &str) {
    let bytes = checkpoint::seal(SCHEMA, &postcard::to_allocvec(dto).unwrap());
    assert!(
        matches!(
            Engine::restore(&bytes),
            Err(Error::Checkpoint(CheckpointError::Invalid(_)))
        ),
        "{what}"
    );
}

/// A checkpoint whose trades hold non-finite or non-positive values where the engine only
/// ever writes finite positive ones (a hand-edited or hostile file) is refused, not loaded
/// into an engine that would compute with them. Found by the `checkpoint_restore` fuzz
/// target: a NaN stop price was accepted.
#[test]
fn trades_with_out_of_range_values_are_refused() {
    let engine = engine_after(3, 200);
    let good = engine.snapshot();
    let dto = checkpoint::decode(&good).unwrap();
    assert!(!dto.journal.open.is_empty() && !dto.journal.closed.is_empty());
    type Edit = fn(&mut checkpoint::v1::TradeV1<'static>);
    let edits: [(&str, Edit); 8] = [
        ("stop price NaN", |t| t.stop_price = f64::NAN),
        ("target price 0", |t| t.target_price = 0.0),
        ("target pct -1", |t| t.target_pct = -1.0),
        ("score inf", |t| t.score = f32::INFINITY),
        ("prob 2", |t| t.probs[0] = 2.0),
        ("prob NaN", |t| t.probs[1] = f32::NAN),
        ("close price NaN", |t| {
            if let Some(c) = &mut t.close {
                c.price = f64::NAN;
            }
        }),
        ("close pnl inf", |t| {
            if let Some(c) = &mut t.close {
                c.pnl = f64::INFINITY;
            }
        }),
    ];
    for (what, edit) in edits {
        let mut bad = dto.clone();
        if what.starts_with("close") {
            edit(&mut bad.journal.closed[0]);
        } else {
            edit(&mut bad.journal.open[0]);
        }
        assert_invalid(&bad, what);
    }
    // The unedited form still loads: the checks reject only what is out of range.
    let bytes = checkpoint::seal(SCHEMA, &postcard::to_allocvec(&dto).unwrap());
    assert_eq!(Engine::restore(&bytes).unwrap().snapshot(), good);
}

/// The level learner's adjustment history holds statistics the engine computes finite (a
/// mean reward, correlations in [-1, 1]); a checkpoint with a NaN there is refused. Found by
/// the `checkpoint_restore` fuzz target in a schema-3 file.
#[test]
fn level_adjustments_with_out_of_range_statistics_are_refused() {
    let engine = engine_after(5, 400);
    let dto = checkpoint::decode(&engine.snapshot()).unwrap();
    assert!(
        !dto.levels.history.is_empty(),
        "the stream makes adjustments"
    );
    type Edit = fn(&mut checkpoint::v1::AdjustmentV1);
    let edits: [(&str, Edit); 3] = [
        ("mean reward NaN", |a| a.mean_reward = f32::NAN),
        ("correlation NaN", |a| a.correlation[0] = f32::NAN),
        ("correlation 3", |a| a.correlation[5] = 3.0),
    ];
    for (what, edit) in edits {
        let mut bad = dto.clone();
        edit(&mut bad.levels.history[0]);
        assert_invalid(&bad, what);
    }
}
