//! Tests on the real models of `models/` (made by `models/make_models.py`, with
//! onnxruntime's outputs in their fixtures) and on hand-edited copies of them.

use std::path::{Path, PathBuf};

use prost::Message;
use serde_json::Value;
use tract_onnx::pb;
use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension};
use tract_onnx::pb::type_proto;

use super::*;

/// Tolerance against onnxruntime's outputs.
const TOL: f32 = 1e-5;

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

fn model_bytes(file: &str) -> Vec<u8> {
    let path = models().join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixture(file: &str) -> Value {
    let path = models().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}

/// A list of rows (arrays of numbers), flattened row-major.
fn matrix(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("an array of rows")
        .iter()
        .flat_map(floats)
        .collect()
}

fn assert_close(what: &str, ours: &[f32], theirs: &[f32]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            (a - b).abs() <= TOL,
            "{what}[{i}]: tract {a}, onnxruntime {b}"
        );
    }
}

fn w3() -> Ranker {
    Ranker::load(&models().join("w3_mlp.onnx"), 64).expect("w3_mlp.onnx loads")
}

/// The benchmark's W3 inputs: SplitMix64 seed 4, `n * 64` normals as f32.
fn w3_inputs(n: usize) -> Vec<f32> {
    let mut r = tradeloop_core::rng::SplitMix64::new(4);
    (0..n * 64).map(|_| r.normal() as f32).collect()
}

fn proto(file: &str) -> pb::ModelProto {
    pb::ModelProto::decode(&*model_bytes(file)).expect("the model decodes")
}

fn graph(m: &mut pb::ModelProto) -> &mut pb::GraphProto {
    m.graph.as_mut().expect("the model has a graph")
}

/// Loads a hand-edited copy of `w3_mlp.onnx` for 64 features.
fn load_edited(edit: impl FnOnce(&mut pb::GraphProto)) -> Result<Ranker, RankerError> {
    let mut m = proto("w3_mlp.onnx");
    edit(graph(&mut m));
    Ranker::from_bytes(&m.encode_to_vec(), "edited", 64)
}

fn input_dims(g: &mut pb::GraphProto) -> &mut Vec<Dimension> {
    let Some(type_proto::Value::TensorType(t)) =
        g.input[0].r#type.as_mut().and_then(|t| t.value.as_mut())
    else {
        panic!("the input is a tensor")
    };
    &mut t.shape.as_mut().expect("the input has a shape").dim
}

fn mismatch(r: Result<Ranker, RankerError>) -> String {
    match r {
        Err(e @ RankerError::Mismatch(_)) => e.to_string(),
        other => panic!("expected a Mismatch error, got {other:?}"),
    }
}

// ---- the ranker model: tract against onnxruntime --------------------------------------------

#[test]
fn ranker_matches_onnxruntime_on_its_fixture() {
    let fx = fixture("ranker.fixture.json");
    let bytes = model_bytes("ranker.onnx");
    let ranker = Ranker::build(&bytes, "ranker", 32, &["probs"]).expect("ranker.onnx loads");
    assert_eq!(
        ranker.sha256(),
        fx["model_sha256"].as_str().expect("sha"),
        "fixture is for this model"
    );
    let rows = matrix(&fx["features"]);
    let n = fx["n"].as_u64().expect("n") as usize;
    assert_eq!(n, 64);
    assert_eq!(rows.len(), n * 32);
    let score = floats(&fx["score"]);
    let probs = matrix(&fx["probs"]);
    let class: Vec<u8> = fx["class"]
        .as_array()
        .expect("classes")
        .iter()
        .map(|c| u8::try_from(c.as_u64().expect("a class")).expect("0..=2"))
        .collect();
    assert!(
        class.iter().any(|&c| c != class[0]),
        "the fixture exercises several classes"
    );

    // The whole 64 at once, then one row at a time.
    let all = ranker.rank(&rows).expect("ranks");
    assert_close("score", &all.score, &score);
    assert_eq!(all.class.as_deref(), Some(&class[..]));
    let out = ranker.run(&rows).expect("runs");
    let got_probs = plain_slice::<f32>(&out[2], "probs").expect("probs are f32");
    assert_close("probs", got_probs, &probs);
    for (i, row) in rows.chunks_exact(32).enumerate() {
        let one = ranker.rank(row).expect("ranks one row");
        assert_close(
            &format!("score of row {i} alone"),
            &one.score,
            &score[i..=i],
        );
        assert_eq!(one.class, Some(vec![class[i]]), "class of row {i} alone");
        let out = ranker.run(row).expect("runs");
        let p = plain_slice::<f32>(&out[2], "probs").expect("probs are f32");
        assert_close(
            &format!("probs of row {i} alone"),
            p,
            &probs[3 * i..3 * i + 3],
        );
    }
}

#[test]
fn public_loader_names_and_versions_the_model() {
    let ranker = Ranker::load(&models().join("ranker.onnx"), 32).expect("loads");
    let sha = ranker.sha256().to_string();
    assert_eq!(sha.len(), 64);
    assert!(
        sha.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(ranker.name(), "ranker");
    assert_eq!(ranker.features(), 32);
    assert_eq!(ranker.version(), format!("ranker@{}", &sha[..12]));
    let from_bytes = Ranker::from_bytes(&model_bytes("ranker.onnx"), "other", 32).expect("loads");
    assert_eq!(from_bytes.sha256(), sha);
    assert_eq!(from_bytes.version(), format!("other@{}", &sha[..12]));
    let scores = ranker.rank(&[0.0; 3 * 32]).expect("ranks");
    assert_eq!(scores.score.len(), 3);
    assert_eq!(scores.class.as_ref().map(Vec::len), Some(3));
}

#[test]
fn one_ranker_serves_several_threads() {
    let ranker = w3();
    let rows = w3_inputs(8);
    let expected = ranker.rank(&rows).expect("ranks");
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| ranker.rank(&rows))).collect();
        for h in handles {
            assert_eq!(h.join().expect("no panic").expect("ranks"), expected);
        }
    });
}

// ---- the W3 benchmark model ------------------------------------------------------------------

#[test]
fn w3_matches_onnxruntime_and_the_benchmark_fingerprint() {
    let fx = fixture("w3_mlp.fixture.json");
    let ranker = w3();
    assert_eq!(
        ranker.sha256(),
        fx["model_sha256"].as_str().expect("sha"),
        "fixture is for this model"
    );
    assert_eq!(ranker.name(), "w3_mlp");

    // Our generator gives the fixture's inputs bit for bit, and tract onnxruntime's scores.
    let rows = matrix(&fx["features"]);
    let n = fx["n"].as_u64().expect("n") as usize;
    assert_eq!(rows, w3_inputs(n), "SplitMix64 seed-4 inputs");
    let scores = ranker.rank(&rows).expect("ranks");
    assert_close("score", &scores.score, &matrix(&fx["score"]));
    assert_eq!(scores.class, None);

    // The benchmark's N=256 fingerprint: score[0] = -0.505391, sum(score) = -50.14347.
    let rows = w3_inputs(256);
    let scores = ranker.rank(&rows).expect("ranks");
    let s0 = fx["n256_score0"].as_f64().expect("score0") as f32;
    assert!(
        (scores.score[0] - s0).abs() <= TOL,
        "score[0] {} vs {s0}",
        scores.score[0]
    );
    assert!((f64::from(scores.score[0]) - -0.505391).abs() < 5e-7);
    let sum: f64 = scores.score.iter().map(|&v| f64::from(v)).sum();
    let ort_sum = fx["n256_score_sum_f64"].as_f64().expect("sum");
    assert!(
        (sum - ort_sum).abs() < 1e-3,
        "sum(score) {sum} vs {ort_sum}"
    );
    assert!((sum - -50.14347).abs() < 1e-3, "sum(score) {sum}");
    // A row scores the same alone as in the batch.
    for i in [0, 1, 255] {
        let one = ranker.rank(&rows[64 * i..64 * (i + 1)]).expect("ranks");
        assert!((one.score[0] - scores.score[i]).abs() <= TOL, "row {i}");
    }
}

// ---- the model contract ------------------------------------------------------------------

#[test]
fn wrong_feature_count_is_rejected_with_both_counts() {
    let e = mismatch(Ranker::load(&models().join("w3_mlp.onnx"), 32));
    assert!(
        e.contains(
            "model input `features` has 64 features per row, the engine is configured for 32"
        ),
        "{e}"
    );
    let e = mismatch(Ranker::load(&models().join("ranker.onnx"), 64));
    assert!(
        e.contains("has 32 features per row, the engine is configured for 64"),
        "{e}"
    );
    let e = mismatch(Ranker::load(&models().join("ranker.onnx"), 0));
    assert!(e.contains("0 features"), "{e}");
}

#[test]
fn bytes_that_are_not_a_model_are_errors() {
    // Arbitrary bytes, text, nothing at all.
    let mut r = tradeloop_core::rng::SplitMix64::new(9);
    let random: Vec<u8> = (0..4096).map(|_| r.next_u64() as u8).collect();
    for (what, bytes) in [
        ("random bytes", &random[..]),
        (
            "text",
            &b"timestamp,open,high,low,close,volume\n1,2,3,4,5,6\n"[..],
        ),
        ("nothing", &[][..]),
    ] {
        match Ranker::from_bytes(bytes, "junk", 64) {
            Err(RankerError::Model(m)) => assert!(!m.is_empty(), "{what}"),
            other => panic!("{what}: expected a Model error, got {other:?}"),
        }
    }
}

#[test]
fn truncated_models_are_errors() {
    for file in ["w3_mlp.onnx", "ranker.onnx"] {
        let bytes = model_bytes(file);
        // Cuts inside the graph (the weights are most of the file).
        for cut in [bytes.len() / 4, bytes.len() / 2, bytes.len() - 700] {
            let r = Ranker::from_bytes(
                &bytes[..cut],
                "cut",
                if file == "ranker.onnx" { 32 } else { 64 },
            );
            assert!(
                matches!(r, Err(RankerError::Model(_))),
                "{file} cut at {cut}: {r:?}"
            );
        }
    }
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let path = models().join("no-such-model.onnx");
    match Ranker::load(&path, 64) {
        Err(e @ RankerError::Io(..)) => {
            assert!(e.to_string().contains("no-such-model.onnx"), "{e}")
        }
        other => panic!("expected an Io error, got {other:?}"),
    }
}

#[test]
fn model_without_a_score_output_is_rejected() {
    let e = mismatch(load_edited(|g| {
        g.output[0].name = "logit".into();
        let last = g.node.last_mut().expect("nodes");
        last.output[0] = "logit".into();
    }));
    assert!(
        e.contains("no output named `score` (its outputs: `logit`)"),
        "{e}"
    );
}

#[test]
fn graph_naming_a_missing_tensor_is_a_model_error_not_a_panic() {
    // tract indexes its name table with the graph's output names.
    let r = load_edited(|g| g.output[0].name = "nowhere".into());
    match r {
        Err(RankerError::Model(m)) => assert!(m.contains("tract panicked"), "{m}"),
        other => panic!("expected a Model error, got {other:?}"),
    }
}

#[test]
fn weights_in_external_files_are_refused() {
    // The SHA-256 of the model bytes must cover every weight.
    let r = load_edited(|g| {
        let w = &mut g.initializer[0];
        w.raw_data.clear();
        w.data_location = Some(pb::tensor_proto::DataLocation::External as i32);
        w.external_data = vec![pb::StringStringEntryProto {
            key: "location".into(),
            value: "w3_mlp.onnx".into(),
        }];
    });
    match r {
        Err(RankerError::Model(m)) => assert!(m.contains("external data"), "{m}"),
        other => panic!("expected a Model error, got {other:?}"),
    }
}

#[test]
fn score_of_the_wrong_shape_is_rejected() {
    // Drop the last Gemm: `score` is then the 128-wide hidden layer.
    let e = mismatch(load_edited(|g| {
        g.node.pop();
        let relu2 = g.node.last_mut().expect("nodes");
        relu2.output[0] = "score".into();
    }));
    assert!(
        e.contains("output `score` is float32 [N, 128], expected float32 [N] or [N, 1]"),
        "{e}"
    );
}

#[test]
fn inputs_other_than_one_float_matrix_with_a_batch_symbol_are_rejected() {
    let e = mismatch(load_edited(|g| {
        let mut extra = g.input[0].clone();
        extra.name = "extra".into();
        g.input.push(extra);
    }));
    assert!(e.contains("2 inputs (`features`, `extra`)"), "{e}");

    let e = mismatch(load_edited(|g| {
        if let Some(type_proto::Value::TensorType(t)) =
            g.input[0].r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            t.elem_type = pb::tensor_proto::DataType::Int64 as i32;
        }
    }));
    assert!(
        e.contains("model input `features` is int64, expected float32"),
        "{e}"
    );

    let e = mismatch(load_edited(|g| {
        input_dims(g)[0].value = Some(dimension::Value::DimValue(1));
    }));
    assert!(e.contains("fixed batch size of 1"), "{e}");

    let e = mismatch(load_edited(|g| {
        input_dims(g).push(Dimension {
            denotation: String::new(),
            value: Some(dimension::Value::DimValue(1)),
        });
    }));
    assert!(
        e.contains("has rank 3 ([N, 64, 1]), expected [N, 64]"),
        "{e}"
    );
}

#[test]
fn a_batch_symbol_of_another_name_is_accepted() {
    let ranker = load_edited(|g| {
        input_dims(g)[0].value = Some(dimension::Value::DimParam("batch".into()));
    })
    .expect("loads");
    let rows = w3_inputs(3);
    assert_eq!(
        ranker.rank(&rows).expect("ranks"),
        w3().rank(&rows).expect("ranks")
    );
}

#[test]
fn class_output_must_be_integers_per_row_in_range() {
    // `class` = ArgMax over the 128 hidden units: int64 [N], but mostly above 2.
    let argmax = |g: &mut pb::GraphProto| {
        let attr = |name: &str, i: i64| pb::AttributeProto {
            name: name.into(),
            r#type: pb::attribute_proto::AttributeType::Int as i32,
            i,
            ..Default::default()
        };
        g.node.push(pb::NodeProto {
            input: vec!["h2".into()],
            output: vec!["class".into()],
            name: "argmax".into(),
            op_type: "ArgMax".into(),
            attribute: vec![attr("axis", 1), attr("keepdims", 0)],
            ..Default::default()
        });
        let mut out = g.output[0].clone();
        out.name = "class".into();
        out.r#type = None;
        g.output.push(out);
    };
    let ranker = load_edited(argmax).expect("loads: int64 [N] is a valid class output");
    let rows = w3_inputs(64);
    match ranker.rank(&rows) {
        Err(RankerError::Run(m)) => assert!(m.contains("classes are 0..=2"), "{m}"),
        other => panic!("expected a Run error, got {other:?}"),
    }

    // The same with keepdims = 1: int64 [N, 1] is not a class per row.
    let e = mismatch(load_edited(|g| {
        argmax(g);
        let node = g.node.last_mut().expect("nodes");
        node.attribute[1].i = 1;
    }));
    assert!(
        e.contains("output `class` is int64 [N, 1], expected int64 or int32 [N]"),
        "{e}"
    );
}

// ---- the rows ----------------------------------------------------------------------------

#[test]
fn rows_must_be_whole_non_empty_and_finite() {
    let ranker = w3();
    let input_err = |rows: &[f32]| match ranker.rank(rows) {
        Err(e @ RankerError::Input(_)) => e.to_string(),
        other => panic!("expected an Input error, got {other:?}"),
    };
    assert!(input_err(&[]).contains("no rows"));
    assert!(input_err(&[0.0; 65]).contains("65 values is not a whole number of rows of 64"));
    let mut rows = w3_inputs(2);
    rows[64 + 3] = f32::NAN;
    assert!(
        input_err(&rows).contains("row 1 feature 3 is NaN"),
        "{}",
        input_err(&rows)
    );
    rows[64 + 3] = f32::NEG_INFINITY;
    assert!(input_err(&rows).contains("row 1 feature 3 is -inf"));
    rows[64 + 3] = 0.5;
    assert_eq!(ranker.rank(&rows).expect("finite rows rank").score.len(), 2);
}
