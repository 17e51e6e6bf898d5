//! The state directory against real files: journal round trips, checkpoint atomicity,
//! pruning and fallback, refusal of foreign, locked, missing and newer state, and `kill -9`.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use tradeloop_core::{Engine, EngineConfig, checkpoint};
use tradeloop_host::store::{StateDir, StoreError};

mod common;
use common::Temp;

fn snapshot(seed: u64) -> Vec<u8> {
    let config = EngineConfig {
        features: 4,
        ..Default::default()
    };
    Engine::new(config, seed, 0).expect("engine").snapshot()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn ckpt(seq: u64) -> String {
    format!("ckpt-{seq:020}.tlc")
}

fn accept_all(_: &[u8]) -> Result<(), String> {
    Ok(())
}

/// A state with `events` events and checkpoints at the given seqs (keeping all of them).
fn state_with_checkpoints(dir: &Path, events: u64, at: &[u64]) -> StateDir {
    let mut s = StateDir::open(dir, true).expect("open");
    s.set_genesis(b"genesis").expect("genesis");
    for i in 1..=events {
        s.append(i as i64, &[i as u8]).expect("append");
    }
    for (k, &seq) in at.iter().enumerate() {
        s.write_checkpoint(seq, &snapshot(k as u64), 100)
            .expect("checkpoint");
    }
    s
}

#[test]
fn append_reopen_events_after_round_trip() {
    let tmp = Temp::new("roundtrip");
    let dir = tmp.join("state");
    {
        let mut s = StateDir::open(&dir, true).expect("open");
        assert_eq!(s.path(), dir);
        assert_eq!(s.last_seq().unwrap(), 0);
        assert_eq!(s.event_count().unwrap(), 0);
        assert!(s.events_after(0).unwrap().is_empty());
        for i in 1..=10u64 {
            let seq = s
                .append(1000 + i as i64, &vec![i as u8; i as usize])
                .unwrap();
            assert_eq!(seq, i);
        }
        assert_eq!(s.last_seq().unwrap(), 10);
    }
    // A clean close leaves no WAL behind.
    assert_eq!(names(&dir), ["LOCK", "journal.sqlite"]);

    let mut s = StateDir::open(&dir, false).expect("reopen");
    assert_eq!(s.last_seq().unwrap(), 10);
    assert_eq!(s.event_count().unwrap(), 10);
    let all = s.events_after(0).unwrap();
    assert_eq!(all.len(), 10);
    for (i, (seq, now, bytes)) in all.iter().enumerate() {
        let n = i as u64 + 1;
        assert_eq!(*seq, n);
        assert_eq!(*now, 1000 + n as i64);
        assert_eq!(*bytes, vec![n as u8; n as usize]);
    }
    let tail = s.events_after(7).unwrap();
    assert_eq!(
        tail.iter().map(|e| e.0).collect::<Vec<_>>(),
        [8, 9, 10],
        "events after 7"
    );
    assert!(s.events_after(10).unwrap().is_empty());
    assert!(s.events_after(u64::MAX).unwrap().is_empty());
    assert_eq!(s.append(-5, b"").unwrap(), 11, "numbering continues");
    assert_eq!(s.events_after(10).unwrap(), [(11, -5, Vec::new())]);
}

#[test]
fn genesis_is_set_once() {
    let tmp = Temp::new("genesis");
    let dir = tmp.join("state");
    {
        let mut s = StateDir::open(&dir, true).unwrap();
        assert_eq!(s.genesis().unwrap(), None);
        s.set_genesis(b"first").unwrap();
        let err = s.set_genesis(b"second").unwrap_err();
        assert!(matches!(err, StoreError::GenesisAlreadySet(_)), "{err}");
        assert_eq!(s.genesis().unwrap().as_deref(), Some(&b"first"[..]));
    }
    let mut s = StateDir::open(&dir, false).unwrap();
    assert_eq!(s.genesis().unwrap().as_deref(), Some(&b"first"[..]));
    assert!(matches!(
        s.set_genesis(b"third"),
        Err(StoreError::GenesisAlreadySet(_))
    ));
    // An empty genesis is still a genesis.
    let tmp2 = Temp::new("genesis-empty");
    let mut e = StateDir::open(tmp2.path(), true).unwrap();
    e.set_genesis(b"").unwrap();
    assert_eq!(e.genesis().unwrap(), Some(Vec::new()));
}

#[test]
fn checkpoints_are_atomic_and_pruned_to_keep() {
    let tmp = Temp::new("prune");
    let dir = tmp.join("state");
    let mut s = StateDir::open(&dir, true).unwrap();
    let mut written = Vec::new();
    for seq in 0..=6u64 {
        if seq > 0 {
            s.append(0, b"e").unwrap();
        }
        let bytes = snapshot(seq);
        let path = s.write_checkpoint(seq, &bytes, 3).unwrap();
        assert_eq!(path, dir.join(ckpt(seq)));
        assert_eq!(
            fs::read(&path).unwrap(),
            bytes,
            "file holds exactly the bytes"
        );
        written.push(bytes);
        // No temporary left behind, never more than `keep` generations.
        assert!(!names(&dir).iter().any(|n| n.ends_with(".tmp")));
        assert!(s.checkpoints().unwrap().len() <= 3);
    }
    let list = s.checkpoints().unwrap();
    assert_eq!(
        list,
        [6, 5, 4].map(|q| (q, dir.join(ckpt(q)))),
        "newest first, oldest pruned"
    );
    // Rewriting the same seq replaces it; keep = 1 prunes down to it.
    s.write_checkpoint(6, &written[2], 1).unwrap();
    assert_eq!(s.checkpoints().unwrap(), [(6, dir.join(ckpt(6)))]);
    assert_eq!(fs::read(dir.join(ckpt(6))).unwrap(), written[2]);
    // keep = 0 counts as 1: the checkpoint just written is never deleted.
    s.write_checkpoint(5, &written[5], 0).unwrap();
    assert_eq!(s.checkpoints().unwrap(), [(5, dir.join(ckpt(5)))]);

    let (found, warnings) = s.newest_valid_checkpoint(accept_all).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(found, Some((5, written[5].clone())));
}

#[test]
fn write_checkpoint_refuses_bad_bytes_and_future_seqs() {
    let tmp = Temp::new("refuse");
    let mut s = StateDir::open(tmp.path(), true).unwrap();
    s.append(0, b"e").unwrap();
    let before = names(tmp.path());

    let err = s
        .write_checkpoint(1, b"not a checkpoint at all", 2)
        .unwrap_err();
    assert!(
        matches!(err, StoreError::RejectedCheckpoint { seq: 1, .. }),
        "{err}"
    );
    let mut bytes = snapshot(1);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    let err = s.write_checkpoint(1, &bytes, 2).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::RejectedCheckpoint {
                error: tradeloop_core::CheckpointError::ChecksumMismatch,
                ..
            }
        ),
        "{err}"
    );
    let err = s.write_checkpoint(2, &snapshot(1), 2).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::CheckpointAhead {
                seq: 2,
                last_seq: 1
            }
        ),
        "{err}"
    );
    assert_eq!(names(tmp.path()), before, "nothing written");
}

#[test]
fn corrupt_newest_falls_back_to_previous() {
    let tmp = Temp::new("corrupt");
    let s = state_with_checkpoints(tmp.path(), 4, &[2, 4]);
    let newest = tmp.path().join(ckpt(4));
    let mut bytes = fs::read(&newest).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    fs::write(&newest, &bytes).unwrap();

    let (found, warnings) = s.newest_valid_checkpoint(accept_all).unwrap();
    assert_eq!(found, Some((2, snapshot(0))));
    assert_eq!(
        warnings,
        [format!(
            "checkpoint {} is corrupt (checksum mismatch): falling back to {}",
            ckpt(4),
            ckpt(2)
        )]
    );
    // The store does not delete the corrupt file: it is evidence, and pruning ages it out.
    assert!(newest.exists());
}

#[test]
fn truncated_newest_falls_back_to_previous() {
    let tmp = Temp::new("truncated");
    let s = state_with_checkpoints(tmp.path(), 4, &[1, 3]);
    let newest = tmp.path().join(ckpt(3));
    let bytes = fs::read(&newest).unwrap();
    fs::write(&newest, &bytes[..bytes.len() - 10]).unwrap();

    let (found, warnings) = s.newest_valid_checkpoint(accept_all).unwrap();
    assert_eq!(found.map(|f| f.0), Some(1));
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].starts_with(&format!("checkpoint {} is truncated (", ckpt(3))));
    assert!(warnings[0].ends_with(&format!("falling back to {}", ckpt(1))));

    // An empty file (a crash of a store that did not sync before renaming) is skipped too.
    fs::write(&newest, b"").unwrap();
    let (found, warnings) = s.newest_valid_checkpoint(accept_all).unwrap();
    assert_eq!(found.map(|f| f.0), Some(1));
    assert!(warnings[0].contains("is truncated"), "{warnings:?}");
}

#[test]
fn all_corrupt_gives_none_with_warnings() {
    let tmp = Temp::new("allcorrupt");
    let s = state_with_checkpoints(tmp.path(), 3, &[1, 2, 3]);
    fs::write(tmp.path().join(ckpt(3)), b"TRADLOOP but short").unwrap();
    fs::write(
        tmp.path().join(ckpt(2)),
        b"something else entirely, long enough for a header",
    )
    .unwrap();
    let mut b = fs::read(tmp.path().join(ckpt(1))).unwrap();
    b[40] ^= 0xff;
    fs::write(tmp.path().join(ckpt(1)), b).unwrap();

    let mut calls = 0;
    let (found, warnings) = s
        .newest_valid_checkpoint(|_| {
            calls += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(found, None);
    assert_eq!(
        calls, 0,
        "accept only sees files that pass checkpoint::open"
    );
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(warnings[0].contains(&format!("{} is truncated", ckpt(3))));
    assert!(warnings[0].ends_with(&format!("falling back to {}", ckpt(2))));
    assert!(warnings[1].contains("is not a tradeloop checkpoint (bad magic)"));
    assert!(warnings[2].contains(&format!("{} is corrupt (checksum mismatch)", ckpt(1))));
    assert!(
        warnings[2].ends_with("replaying the whole journal"),
        "{warnings:?}"
    );
}

#[test]
fn rejected_by_accept_and_ahead_of_journal_are_skipped() {
    let tmp = Temp::new("skip");
    let s = state_with_checkpoints(tmp.path(), 5, &[3, 5]);
    // A checkpoint beyond the journal's last event cannot belong to it.
    fs::copy(tmp.path().join(ckpt(5)), tmp.path().join(ckpt(9))).unwrap();
    let (found, warnings) = s
        .newest_valid_checkpoint(|b| {
            if b == snapshot(1).as_slice() {
                Err("engine says no".into())
            } else {
                Ok(())
            }
        })
        .unwrap();
    assert_eq!(found, Some((3, snapshot(0))));
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with(&format!(
        "checkpoint {} covers events up to 9, but the journal ends at event 5",
        ckpt(9)
    )));
    assert_eq!(
        warnings[1],
        format!(
            "checkpoint {} could not be restored (engine says no): falling back to {}",
            ckpt(5),
            ckpt(3)
        )
    );
}

#[test]
fn newer_checkpoint_schema_is_an_error_not_a_fallback() {
    let tmp = Temp::new("newerckpt");
    let s = state_with_checkpoints(tmp.path(), 2, &[1, 2]);
    let bytes = fs::read(tmp.path().join(ckpt(2))).unwrap();
    let (_, payload) = checkpoint::open(&bytes).unwrap();
    let future = checkpoint::seal(checkpoint::SCHEMA + 1, payload);
    fs::write(tmp.path().join(ckpt(2)), future).unwrap();
    let err = s.newest_valid_checkpoint(accept_all).unwrap_err();
    assert!(
        matches!(err, StoreError::NewerCheckpoint { found, .. } if found == checkpoint::SCHEMA + 1),
        "{err}"
    );
    assert!(err.to_string().contains(&ckpt(2)), "{err}");
}

#[test]
fn foreign_file_is_refused_and_nothing_touched() {
    let tmp = Temp::new("foreign");
    fs::write(tmp.path().join("notes.txt"), b"mine").unwrap();
    fs::write(tmp.path().join(format!("{}.tmp", ckpt(3))), b"half").unwrap();
    fs::write(tmp.path().join("other.tmp"), b"not ours either").unwrap();
    fs::create_dir(tmp.path().join("sub")).unwrap();
    let before = names(tmp.path());

    let err = StateDir::open(tmp.path(), true).unwrap_err();
    match &err {
        StoreError::Foreign { dir, files } => {
            assert_eq!(dir, tmp.path());
            assert_eq!(files, &["notes.txt", "other.tmp", "sub"]);
        }
        other => panic!("expected Foreign, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&tmp.path().display().to_string()) && msg.contains("notes.txt"),
        "{msg}"
    );
    assert_eq!(names(tmp.path()), before, "nothing created or deleted");
    assert_eq!(fs::read(tmp.path().join("notes.txt")).unwrap(), b"mine");
}

#[test]
fn missing_dir_and_not_a_directory() {
    let tmp = Temp::new("missing");
    let dir = tmp.join("nope");
    let err = StateDir::open(&dir, false).unwrap_err();
    assert!(matches!(&err, StoreError::Missing(p) if p == &dir), "{err}");
    assert!(!dir.exists(), "not created");

    let file = tmp.join("file");
    fs::write(&file, b"x").unwrap();
    let err = StateDir::open(&file, true).unwrap_err();
    assert!(
        matches!(&err, StoreError::NotADirectory(p) if p == &file),
        "{err}"
    );

    // create = true makes missing parents too.
    let deep = tmp.join("a/b/state");
    drop(StateDir::open(&deep, true).unwrap());
    assert_eq!(names(&deep), ["LOCK", "journal.sqlite"]);
}

#[test]
fn empty_existing_dir_becomes_a_state_only_when_creating() {
    let tmp = Temp::new("empty");
    // Not to be created (`summary`, `report`, ...): refused, and nothing is written there.
    let err = StateDir::open(tmp.path(), false).unwrap_err();
    assert!(
        matches!(&err, StoreError::NoState(p) if p == tmp.path()),
        "{err}"
    );
    assert!(names(tmp.path()).is_empty(), "{:?}", names(tmp.path()));
    // To be created (`init`, `paper`): it becomes a new state.
    let mut s = StateDir::open(tmp.path(), true).unwrap();
    assert_eq!(s.append(1, b"x").unwrap(), 1);
    drop(s);
    drop(StateDir::open(tmp.path(), false).expect("now a state"));
}

#[test]
fn second_open_while_alive_is_locked() {
    let tmp = Temp::new("lock");
    let first = StateDir::open(tmp.path(), true).unwrap();
    let err = StateDir::open(tmp.path(), true).unwrap_err();
    assert!(
        matches!(&err, StoreError::Locked { dir, .. } if dir == tmp.path()),
        "{err}"
    );
    drop(first);
    let _again = StateDir::open(tmp.path(), false).expect("lock released on drop");
}

#[test]
fn newer_journal_schema_is_refused_and_left_unchanged() {
    let tmp = Temp::new("newer");
    drop(state_with_checkpoints(tmp.path(), 2, &[2]));
    let journal = tmp.path().join("journal.sqlite");
    {
        let c = rusqlite::Connection::open(&journal).unwrap();
        c.execute("UPDATE meta SET value = 99 WHERE key = 'schema'", [])
            .unwrap();
    }
    // A leftover temporary must survive too: nothing is touched.
    fs::write(tmp.path().join(format!("{}.tmp", ckpt(2))), b"half").unwrap();
    let before = fs::read(&journal).unwrap();
    let names_before = names(tmp.path());

    let err = StateDir::open(tmp.path(), false).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NewerJournal {
                found: 99,
                supported: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("journal.sqlite"), "{err}");
    assert_eq!(
        fs::read(&journal).unwrap(),
        before,
        "journal bytes unchanged"
    );
    assert_eq!(names(tmp.path()), names_before);
}

#[test]
fn other_sqlite_databases_are_not_journals() {
    let tmp = Temp::new("othersqlite");
    {
        let c = rusqlite::Connection::open(tmp.path().join("journal.sqlite")).unwrap();
        c.execute("CREATE TABLE t (x)", []).unwrap();
    }
    let err = StateDir::open(tmp.path(), false).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    assert!(err.to_string().contains("not a tradeloop journal"), "{err}");
}

#[test]
fn checkpoints_without_a_journal_are_refused() {
    let tmp = Temp::new("nojournal");
    drop(state_with_checkpoints(tmp.path(), 2, &[2]));
    fs::remove_file(tmp.path().join("journal.sqlite")).unwrap();
    let err = StateDir::open(tmp.path(), false).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    assert!(
        !tmp.path().join("journal.sqlite").exists(),
        "no new journal made"
    );
    // Nor an empty journal file in its place.
    fs::write(tmp.path().join("journal.sqlite"), b"").unwrap();
    let err = StateDir::open(tmp.path(), false).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
}

#[test]
fn leftover_tmp_is_removed_on_open() {
    let tmp = Temp::new("tmp");
    drop(state_with_checkpoints(tmp.path(), 3, &[3]));
    let leftover = tmp.path().join(format!("{}.tmp", ckpt(4)));
    fs::write(&leftover, b"TRADLOOP half written").unwrap();
    let s = StateDir::open(tmp.path(), false).unwrap();
    assert!(!leftover.exists());
    assert_eq!(s.checkpoints().unwrap(), [(3, tmp.path().join(ckpt(3)))]);
    assert_eq!(s.last_seq().unwrap(), 3);
}

/// Environment variable that turns [`kill9_child`] into the writer of
/// [`kill_9_loses_no_acknowledged_event`].
const CHILD_ENV: &str = "TRADELOOP_STORE_KILL9_DIR";

fn event_bytes(seq: u64) -> Vec<u8> {
    let n = (seq % 97) as usize + 1;
    (0..n).map(|i| (seq as usize + i) as u8).collect()
}

/// Not a test on its own: when run by [`kill_9_loses_no_acknowledged_event`] it appends
/// events and checkpoints forever, acknowledging each event on stdout after `append` returned.
#[test]
fn kill9_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut s = StateDir::open(Path::new(&dir), true).unwrap();
    if s.genesis().unwrap().is_none() {
        s.set_genesis(b"genesis").unwrap();
    }
    let snap = snapshot(7);
    let mut out = std::io::stdout().lock();
    loop {
        let seq = s.last_seq().unwrap() + 1;
        assert_eq!(s.append(seq as i64, &event_bytes(seq)).unwrap(), seq);
        writeln!(out, "ack {seq}").unwrap();
        out.flush().unwrap();
        if seq.is_multiple_of(5) {
            s.write_checkpoint(seq, &snap, 2).unwrap();
        }
    }
}

#[test]
#[cfg(unix)]
fn kill_9_loses_no_acknowledged_event() {
    let tmp = Temp::new("kill9");
    let dir = tmp.join("state");
    let exe = std::env::current_exe().unwrap();
    let mut acked = 0u64;
    for round in 0..3u64 {
        let mut child = Command::new(&exe)
            .args(["--exact", "kill9_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let target = acked + 40 + round * 17;
        // Kill while it is mid-stream, then drain what it acknowledged before dying.
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("ack ") {
                acked = n.parse().unwrap();
                if acked >= target {
                    break;
                }
            }
        }
        child.kill().unwrap();
        for line in lines {
            if let Some(n) = line.unwrap().strip_prefix("ack ") {
                acked = n.parse().unwrap();
            }
        }
        child.wait().unwrap();

        let s = StateDir::open(&dir, false).expect("state readable after kill -9");
        assert!(
            !names(&dir).iter().any(|n| n.ends_with(".tmp")),
            "leftovers removed"
        );
        let last = s.last_seq().unwrap();
        assert!(
            last >= acked,
            "acknowledged {acked}, journal ends at {last}"
        );
        let events = s.events_after(0).unwrap();
        assert_eq!(events.len() as u64, last);
        for (i, (seq, now, bytes)) in events.iter().enumerate() {
            assert_eq!(*seq, i as u64 + 1);
            assert_eq!(*now, *seq as i64);
            assert_eq!(*bytes, event_bytes(*seq));
        }
        let (found, warnings) = s.newest_valid_checkpoint(accept_all).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let (seq, _) = found.expect("a checkpoint");
        assert!(seq <= last && seq.is_multiple_of(5));
        assert_eq!(s.genesis().unwrap().as_deref(), Some(&b"genesis"[..]));
    }
}

// ---- the frozen journal: golden state directories ------------------------------------------

/// A copy of a golden state directory in `host/tests/fixtures` (opening one takes its lock
/// and may upgrade it, so tests never open the committed files).
fn golden_copy(name: &str, into: &Path) -> std::path::PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let to = into.join(name);
    fs::create_dir_all(&to).unwrap();
    for e in fs::read_dir(&from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    to
}

/// The newest checkpoint file of a directory: (seq, bytes).
fn newest_checkpoint_file(dir: &Path) -> (u64, Vec<u8>) {
    let name = names(dir)
        .into_iter()
        .rfind(|n| n.starts_with("ckpt-") && n.ends_with(".tlc"))
        .unwrap();
    let seq = name["ckpt-".len()..name.len() - ".tlc".len()]
        .parse()
        .unwrap();
    (seq, fs::read(dir.join(name)).unwrap())
}

/// The engine a journal describes, replayed natively from its genesis (no checkpoint), and
/// the number of events.
fn replay_from_genesis(dir: &Path) -> (Vec<u8>, u64) {
    use tradeloop_core::event_log::{self, Genesis};
    use tradeloop_host::store::EVENT_FORMAT;
    let store = StateDir::open(dir, false).unwrap();
    let genesis = event_log::decode_genesis(EVENT_FORMAT, &store.genesis().unwrap().unwrap());
    let mut engine = match genesis.unwrap() {
        Genesis::Create { config, seed, now } => Engine::new(*config, seed, now).unwrap(),
        Genesis::Restore(bytes) => Engine::restore(&bytes).unwrap(),
    };
    let events = store.events_after(0).unwrap();
    for (seq, now, bytes) in &events {
        let command = event_log::decode_event(EVENT_FORMAT, bytes).unwrap();
        engine
            .apply(command, *now)
            .unwrap_or_else(|e| panic!("event {seq}: {e}"));
    }
    (engine.snapshot(), events.len() as u64)
}

fn schema_of(dir: &Path) -> i64 {
    let c = rusqlite::Connection::open(dir.join("journal.sqlite")).unwrap();
    c.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
        r.get(0)
    })
    .unwrap()
}

/// Golden state directories written by `tradeloop` (`paper` on 400 BTC bars, then
/// `record entry` / `exit`, `learn --mode retrain`, `promote`, `rollback`, `checkpoint`):
/// `journal-v1` by the build that wrote journal schema 1, `journal-v2` by this one (with
/// request ids). Each must open, through the plugin and natively from the genesis alone, to
/// exactly the bytes of its newest checkpoint, forever.
#[test]
fn golden_state_directories_replay_to_their_checkpoint_bytes() {
    let tmp = Temp::new("golden");
    for (name, schema) in [("journal-v1", 1), ("journal-v2", 2)] {
        let dir = golden_copy(name, tmp.path());
        assert_eq!(schema_of(&dir), schema, "{name} as committed");
        let (seq, expected) = newest_checkpoint_file(&dir);
        // Through the host: plugin, newest checkpoint, journal (upgrading schema 1).
        let mut rt = tradeloop_host::runtime::Runtime::open(
            &dir,
            tradeloop_host::settings::Settings::default(),
            None,
        )
        .unwrap();
        assert_eq!(rt.events().unwrap(), seq, "{name}");
        assert_eq!(rt.snapshot().unwrap(), expected, "{name}: runtime");
        drop(rt);
        assert_eq!(schema_of(&dir), 2, "{name} after opening");
        // From the genesis alone, natively, ignoring every checkpoint.
        let (replayed, events) = replay_from_genesis(&dir);
        assert_eq!(events, seq);
        assert_eq!(replayed, expected, "{name}: replay from the genesis");
    }
}

#[test]
fn a_schema_1_journal_whose_records_do_not_read_is_refused_and_left_unchanged() {
    let tmp = Temp::new("oldbad");
    let dir = golden_copy("journal-v1", tmp.path());
    {
        let c = rusqlite::Connection::open(dir.join("journal.sqlite")).unwrap();
        c.execute("UPDATE events SET event = x'0c00' WHERE seq = 17", [])
            .unwrap();
    }
    let journal = dir.join("journal.sqlite");
    let before = fs::read(&journal).unwrap();
    let err = StateDir::open(&dir, false).unwrap_err();
    assert!(
        matches!(&err, StoreError::OldJournal { found: 1, why, .. } if why.contains("event 17")),
        "{err}"
    );
    assert!(err.to_string().contains("tradeloop export"), "{err}");
    assert_eq!(schema_of(&dir), 1);
    assert_eq!(
        fs::read(&journal).unwrap(),
        before,
        "journal bytes unchanged"
    );
}

#[test]
fn request_ids_are_committed_with_their_event_in_one_transaction() {
    let tmp = Temp::new("requests");
    let mut s = StateDir::open(tmp.path(), true).unwrap();
    s.set_genesis(b"g").unwrap();
    assert_eq!(s.append_request(1, b"a", Some(("id-1", "{}"))).unwrap(), 1);
    assert_eq!(s.append(2, b"b").unwrap(), 2);
    assert_eq!(
        s.request("id-1").unwrap(),
        Some((1, b"a".to_vec(), "{}".to_string()))
    );
    assert_eq!(s.request("id-2").unwrap(), None);
    // A used id fails the whole transaction: no event is added.
    assert!(s.append_request(3, b"c", Some(("id-1", "{}"))).is_err());
    assert_eq!(s.last_seq().unwrap(), 2);
    drop(s);
    let s = StateDir::open(tmp.path(), false).unwrap();
    assert_eq!(s.events_after(0).unwrap().len(), 2);
}

// ---- the commit path -------------------------------------------------------------------

fn open_trade(symbol: &str) -> tradeloop_core::Command {
    tradeloop_core::Command::Open(tradeloop_core::OpenTrade {
        symbol: symbol.into(),
        side: tradeloop_core::Side::Long,
        price: 10.0,
        size: 1.0,
        features: vec![0.0; 4],
        level: None,
        exits: None,
    })
}

fn small_runtime(dir: &Path, checkpoint_every: u64) -> tradeloop_host::runtime::Runtime {
    let settings = tradeloop_host::settings::Settings {
        checkpoint_every,
        engine: EngineConfig {
            features: 4,
            ..Default::default()
        },
        ..Default::default()
    };
    tradeloop_host::runtime::Runtime::open(dir, settings, Some(1_000)).unwrap()
}

/// Another connection to a state's journal (the state's lock is a file lock, not SQLite's).
fn sql(dir: &Path, statement: &str) {
    rusqlite::Connection::open(dir.join("journal.sqlite"))
        .unwrap()
        .execute_batch(statement)
        .unwrap();
}

#[test]
fn a_failed_journal_write_undoes_the_command_or_stops_the_runtime() {
    let tmp = Temp::new("commit");
    let mut rt = small_runtime(tmp.path(), 100);
    rt.execute(open_trade("A"), 2_000).unwrap();
    let before = rt.snapshot().unwrap();
    // The journal refuses the next event: the command is an error, and the engine is back
    // at the journal's state (rebuilt), so the next command works on it.
    sql(
        tmp.path(),
        "CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'injected'); END;",
    );
    let err = rt.execute(open_trade("B"), 3_000).unwrap_err();
    assert!(err.to_string().contains("journal write failed"), "{err}");
    assert!(err.to_string().contains("not applied"), "{err}");
    assert_eq!(rt.snapshot().unwrap(), before);
    assert_eq!(rt.events().unwrap(), 1);
    // Now the rebuild cannot work either (the genesis no longer reads and there is no
    // checkpoint): the runtime stops and refuses everything after.
    sql(
        tmp.path(),
        "UPDATE meta SET value = x'ff' WHERE key = 'genesis';",
    );
    let err = rt.execute(open_trade("C"), 4_000).unwrap_err();
    assert!(err.to_string().contains("stops taking commands"), "{err}");
    let query = tradeloop_core::Command::Query(tradeloop_core::Query::Stats);
    let err = rt.execute(query, 5_000).unwrap_err();
    assert!(err.to_string().contains("the runtime stopped"), "{err}");
}

#[test]
fn a_failed_checkpoint_after_the_commit_is_a_warning_not_an_error() {
    let tmp = Temp::new("ckptfail");
    let mut rt = small_runtime(tmp.path(), 1);
    // The checkpoint after event 1 cannot be written: its temporary file's name is taken by
    // a directory.
    let blocker = tmp.path().join(format!("{}.tmp", ckpt(1)));
    fs::create_dir(&blocker).unwrap();
    let reply = rt.execute(open_trade("A"), 2_000);
    assert!(reply.is_ok(), "an acknowledged command: {reply:?}");
    let warnings = rt.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("event is committed"), "{warnings:?}");
    let expected = rt.snapshot().unwrap();
    drop(rt);
    fs::remove_dir(&blocker).unwrap();
    // The event is in the journal and the reopened state has it.
    let mut rt = small_runtime(tmp.path(), 1);
    assert_eq!(rt.events().unwrap(), 1);
    assert_eq!(rt.snapshot().unwrap(), expected);
}

/// A crash leaves the journal's committed transactions in the WAL; a WAL cut short (a torn
/// copy, a damaged disk) loses the transactions whose frames are cut, never the state: it
/// opens at a prefix of the events, consistent with them, skipping checkpoints ahead of it.
#[test]
fn a_truncated_wal_opens_at_a_consistent_prefix() {
    let tmp = Temp::new("wal");
    let live = tmp.path().join("live");
    let mut rt = small_runtime(&live, 4);
    for i in 0..24 {
        rt.execute(open_trade(&format!("S{i}")), 2_000 + i).unwrap();
    }
    // Copy the files as a crash would leave them: the WAL still holds the transactions.
    let wal_len = fs::metadata(live.join("journal.sqlite-wal")).unwrap().len();
    assert!(wal_len > 0);
    for cut in [wal_len / 3, wal_len / 2, wal_len - 100] {
        let copy = tmp.path().join(format!("cut-{cut}"));
        fs::create_dir_all(&copy).unwrap();
        for name in names(&live) {
            if name != "LOCK" {
                fs::copy(live.join(&name), copy.join(&name)).unwrap();
            }
        }
        fs::OpenOptions::new()
            .write(true)
            .open(copy.join("journal.sqlite-wal"))
            .unwrap()
            .set_len(cut)
            .unwrap();
        let mut reopened = small_runtime(&copy, 4);
        let n = reopened.events().unwrap();
        assert!(n < 24, "the cut lost the newest transactions ({n})");
        // The engine is exactly the first n events replayed.
        let mut fresh = small_runtime(&tmp.path().join(format!("fresh-{cut}")), 1_000);
        for i in 0..n {
            fresh
                .execute(open_trade(&format!("S{i}")), 2_000 + i as i64)
                .unwrap();
        }
        assert_eq!(
            reopened.snapshot().unwrap(),
            fresh.snapshot().unwrap(),
            "cut {cut}"
        );
    }
    drop(rt);
}
