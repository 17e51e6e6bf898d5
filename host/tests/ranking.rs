//! The ONNX ranker end to end through the `tradeloop` binary: `rank` on the bundled model
//! agrees with the onnxruntime fixture, a model for other features is refused at load, and a
//! multi-symbol `paper` run ranks through the plugin's `rank` import, journals every ranking
//! with its scores (so a replay without any model gives the same state) and reports top-K
//! monitoring.

use std::path::PathBuf;

use tradeloop_core::Command as EngineCommand;

mod common;
use common::{Temp, ok, root, tl as tradeloop};

#[test]
fn rank_matches_the_onnxruntime_fixture_best_first() {
    let t = Temp::new("fixture");
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("models/ranker.fixture.json")).unwrap(),
    )
    .unwrap();
    let labels = fixture["rows"].as_array().unwrap();
    let features = fixture["features"].as_array().unwrap();
    let mut csv = String::from("label");
    for i in 0..32 {
        csv.push_str(&format!(",f{i}"));
    }
    csv.push('\n');
    for (label, row) in labels.iter().zip(features) {
        csv.push_str(label.as_str().unwrap());
        for x in row.as_array().unwrap() {
            csv.push_str(&format!(",{}", x.as_f64().unwrap() as f32));
        }
        csv.push('\n');
    }
    std::fs::write(t.join("rows.csv"), csv).unwrap();
    let input = t.join("rows.csv");
    let out = ok(&tradeloop(
        &t.join("unused-state"),
        &["--json", "rank", "--input", input.to_str().unwrap()],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sha = fixture["model_sha256"].as_str().unwrap();
    assert_eq!(v["model"], format!("ranker@{}", &sha[..12]));
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), labels.len());
    let mut last = f64::INFINITY;
    for (place, r) in rows.iter().enumerate() {
        assert_eq!(r["rank"], place + 1);
        let score = r["score"].as_f64().unwrap();
        assert!(score <= last, "not best first");
        last = score;
        let i = labels.iter().position(|l| l == &r["label"]).unwrap();
        let expected = fixture["score"][i].as_f64().unwrap();
        assert!(
            (score - expected).abs() <= 1e-5,
            "{}: {score} vs {expected}",
            r["label"]
        );
        let class = ["Loss", "Flat", "Win"][fixture["class"][i].as_u64().unwrap() as usize];
        assert_eq!(r["class"], class);
    }
    // `rank` needs no state: none was created.
    assert!(!t.join("unused-state").exists());
}

#[test]
fn rank_refuses_a_model_for_other_features_and_bad_rows() {
    let t = Temp::new("refuse");
    std::fs::write(t.join("rows.csv"), "1,2\n").unwrap();
    let w3 = root().join("models/w3_mlp.onnx");
    let o = tradeloop(
        &t.join("s"),
        &[
            "rank",
            "--model",
            w3.to_str().unwrap(),
            "--input",
            t.join("rows.csv").to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("w3_mlp.onnx") && err.contains("64") && err.contains("32"),
        "{err}"
    );
    // Rows that do not fit the bundled model: the line is named.
    let o = tradeloop(
        &t.join("s"),
        &["rank", "--input", t.join("rows.csv").to_str().unwrap()],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 1: expected 32 feature values"), "{err}");
}

/// The rows of a bundled series from `from` (a timestamp prefix range) on, header kept.
fn slice(file: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(root().join("data/market").join(file)).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for l in lines
        .filter(|l| l.as_bytes()[..10] >= *from.as_bytes() && l.as_bytes()[..10] < *to.as_bytes())
    {
        out.push_str(l);
        out.push('\n');
    }
    out
}

#[test]
fn universe_paper_ranks_through_the_plugin_and_replays_without_the_model() {
    let t = Temp::new("universe");
    let mut args = vec!["--json".to_string(), "paper".to_string()];
    for f in ["SPY_1h.csv", "EURUSD_1h.csv", "XAUUSD_1h.csv"] {
        let p = t.join(f);
        std::fs::write(&p, slice(f, "2013-01-01", "2013-05-01")).unwrap();
        args.extend(["--data".to_string(), p.display().to_string()]);
    }
    args.extend(["--top-k", "2", "--every", "12"].map(String::from));
    let state = t.join("state");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let v: serde_json::Value = serde_json::from_str(&ok(&tradeloop(&state, &args))).unwrap();
    assert_eq!(v["symbols"], serde_json::json!(["SPY", "EURUSD", "XAUUSD"]));
    let run = &v["run"];
    let rankings = run["rankings"].as_u64().unwrap();
    assert!(rankings > 20, "{v}");
    assert!(
        run["opened"].as_u64().unwrap() > 20 && run["closed"].as_u64().unwrap() > 10,
        "{v}"
    );
    assert!(run["model"].as_str().unwrap().starts_with("ranker@"));
    // Monitoring: every ranking after the first is scored against its universe.
    let k = &v["ranking"];
    assert_eq!(k["rankings"].as_u64().unwrap(), rankings);
    assert_eq!(k["periods"].as_u64().unwrap(), rankings - 1, "{k}");
    assert!(k["mean_ic"].as_f64().unwrap().abs() <= 1.0);

    // The journal holds every ranking with the scores, class and model version it used.
    let db = rusqlite::Connection::open(state.join("journal.sqlite")).unwrap();
    let mut stmt = db.prepare("SELECT event FROM events ORDER BY seq").unwrap();
    let events: Vec<Vec<u8>> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let ranks: Vec<_> = events
        .iter()
        .filter_map(
            |b| match postcard::from_bytes::<EngineCommand>(b).unwrap() {
                EngineCommand::Rank(r) => Some(r),
                _ => None,
            },
        )
        .collect();
    assert_eq!(ranks.len() as u64, rankings);
    for r in &ranks {
        let s = r.scored.as_ref().expect("journalled with its scores");
        assert!(s.model.starts_with("ranker@"));
        assert_eq!(s.scores.len(), r.candidates.len());
        assert!(s.scores.iter().all(|x| x.class.is_some()));
    }
    drop(stmt);
    drop(db);

    // Trades opened by the ranker carry its score, class, place and model.
    let trades: serde_json::Value =
        serde_json::from_str(&ok(&tradeloop(&state, &["--json", "trades"]))).unwrap();
    let ranked = trades
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| !t["ranked"].is_null())
        .count();
    assert!(ranked > 0, "{trades}");

    // Replay from the journal alone (no checkpoint, no model given) reaches the same state.
    let ckpts: Vec<PathBuf> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tlc"))
        .collect();
    let newest = ckpts.iter().max().unwrap().clone();
    let before = std::fs::read(&newest).unwrap();
    for p in &ckpts {
        std::fs::remove_file(p).unwrap();
    }
    ok(&tradeloop(&state, &["checkpoint"]));
    assert_eq!(
        std::fs::read(&newest).unwrap(),
        before,
        "replayed state differs"
    );
}
