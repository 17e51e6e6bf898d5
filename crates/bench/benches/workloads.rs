//! `cargo bench -p tradeloop-bench [-- --peers] [--quick] [--only W1,W2,W3,W5,W6]`
//!
//! Prints one line per figure, `<workload> <runtime> [<what>] <value> <unit>`, e.g.
//! `W1 native 258000 steps/s`, then `<workload> ratio ...` lines against the peers measured
//! in the same run. Lines starting with `#` are context (machine, load, repetitions).

#![allow(clippy::print_stdout)] // printing the figures is this program's job

use std::path::Path;

use tradeloop_bench::data;
use tradeloop_bench::gate::Gate;
use tradeloop_bench::peers::{Anchors, PeerFigure};
use tradeloop_bench::w3::{self, W3Sizes};
use tradeloop_bench::w6::{self, W6Result, W6Sizes};
use tradeloop_bench::workloads::{self, Sizes, W5State};
use tradeloop_core::nn::Backend;

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let peers = args.iter().any(|a| a == "--peers");
    let only: Vec<String> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').map(str::to_uppercase).collect())
        .unwrap_or_else(|| ["W1", "W2", "W3", "W5", "W6"].map(String::from).to_vec());
    let wants = |w: &str| only.iter().any(|o| o == w);
    let sizes = if quick { Sizes::QUICK } else { Sizes::SPEC };
    // A smoke run checks the harness, not the machine: it does not wait for a quiet CPU.
    let wait_s = if quick {
        0
    } else {
        std::env::var("ANCHORS_WAIT_S")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300)
    };
    let backends = Backend::available();
    let best = Backend::detect();

    println!(
        "# tradeloop benchmarks: {} on {}, backends {:?}",
        if quick {
            "QUICK smoke run (figures not meaningful)"
        } else {
            "workload spec"
        },
        cpu_model(),
        backends.iter().map(|b| b.name()).collect::<Vec<_>>()
    );
    let d = data::dataset(data::N_SAMPLES);
    let (x_sum, x00, counts, w1_sum) = data::fingerprint(&d, &data::mlp());
    println!(
        "# data fingerprint x_sum={x_sum} x00={x00} y_counts={counts:?} w1_sum={w1_sum} (must equal the peers')"
    );

    let mut ours: Vec<(&str, String, f64, &str)> = Vec::new();
    if wants("W1") {
        for &b in &backends {
            let mut g = Gate::new(wait_s);
            let r = workloads::w1(b, &d, sizes, &mut g);
            let name = if b == best {
                "native".to_string()
            } else {
                format!("native-{}", b.name())
            };
            println!("W1 {name} {:.0} steps/s", r.steps_per_s);
            println!(
                "# W1 {name}: backend {}, reps {:?}, {:.2} us/step, train acc {:.1}%, {}",
                b.name(),
                r.reps.iter().map(|x| x.round()).collect::<Vec<_>>(),
                1e6 / r.steps_per_s,
                100.0 * r.train_accuracy,
                g.describe()
            );
            if b == best {
                println!("W1 native accuracy {:.1} %", 100.0 * r.train_accuracy);
                ours.push(("W1", "native".into(), r.steps_per_s, ""));
            }
        }
    }
    if wants("W2") {
        for &b in &backends {
            let mut g = Gate::new(wait_s);
            let r = workloads::w2(b, &d, sizes, &mut g);
            let name = if b == best {
                "native".to_string()
            } else {
                format!("native-{}", b.name())
            };
            println!("W2 {name} {:.0} samples/s", r.samples_per_s);
            println!(
                "# W2 {name}: backend {}, reps {:?}, {}",
                b.name(),
                r.reps.iter().map(|x| x.round()).collect::<Vec<_>>(),
                g.describe()
            );
            if b == best {
                println!("W2 native accuracy {:.2} %", 100.0 * r.train_accuracy);
                ours.push(("W2", "native".into(), r.samples_per_s, ""));
            }
        }
    }
    if wants("W3") {
        let sizes = if quick { W3Sizes::QUICK } else { W3Sizes::SPEC };
        match w3::run(&w3::model_path(), sizes, wait_s) {
            Ok((ranker, figures)) => {
                for f in &figures {
                    // The peers' figure names: W3 ranker inference N=1 / N=256.
                    let what = if f.n == 1 { "n1" } else { "n256" };
                    println!("W3 tract {what} {:.2} us/call", f.us_per_call);
                    println!(
                        "# W3 tract {what}: {}, {} calls x {} reps {:?} us/call, {:.0} rows/s, score[0]={:.6}, sum(score)={:.5}, {}",
                        ranker.version(),
                        f.calls,
                        f.reps.len(),
                        f.reps
                            .iter()
                            .map(|r| (r * 100.0).round() / 100.0)
                            .collect::<Vec<_>>(),
                        f.rows_per_s(),
                        f.score0,
                        f.score_sum,
                        f.gate
                    );
                    ours.push(("W3", "tract".into(), f.us_per_call, what));
                }
            }
            Err(e) => println!("# W3 failed: {e}"),
        }
    }
    if wants("W5") {
        for state in [W5State::Spec, W5State::Full] {
            let name = if state == W5State::Spec {
                "native"
            } else {
                "native-full"
            };
            let dir = std::env::temp_dir().join(format!("tradeloop-w5-{}", std::process::id()));
            let mut g = Gate::new(wait_s);
            match workloads::w5(sizes, state, &dir, &mut g) {
                Ok(r) => {
                    println!("W5 {name} bytes {} bytes", r.bytes);
                    println!("W5 {name} save {:.3} ms", r.save_ms);
                    println!("W5 {name} load {:.3} ms", r.load_ms);
                    println!("W5 {name} encode {:.3} ms", r.encode_ms);
                    println!("W5 {name} decode {:.3} ms", r.decode_ms);
                    println!(
                        "# W5 {name}: engine with {} replay experiences ({:?} state), medians of {} in {}, {}",
                        r.experiences,
                        state,
                        sizes.w5_reps,
                        dir.display(),
                        g.describe()
                    );
                    if state == W5State::Spec {
                        println!("W5 raw-floor bytes {} bytes", r.floor_bytes);
                        println!("W5 raw-floor save {:.3} ms", r.floor_save_ms);
                        println!("W5 raw-floor load {:.3} ms", r.floor_load_ms);
                        println!(
                            "W5 ratio bytes native/raw-floor {:.2}x",
                            r.bytes as f64 / r.floor_bytes as f64
                        );
                        println!(
                            "W5 ratio save native/raw-floor {:.2}x",
                            r.save_ms / r.floor_save_ms
                        );
                        println!(
                            "W5 ratio load native/raw-floor {:.2}x",
                            r.load_ms / r.floor_load_ms
                        );
                        ours.push(("W5", "native".into(), r.save_ms, "save"));
                        ours.push(("W5", "native".into(), r.load_ms, "load"));
                        ours.push(("W5", "native".into(), r.bytes as f64, "bytes"));
                    }
                }
                Err(e) => println!("# W5 {name} failed: {e}"),
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    if wants("W6") {
        let sizes = if quick { W6Sizes::QUICK } else { W6Sizes::SPEC };
        match w6::run(sizes) {
            Ok(r) => print_w6(&r),
            Err(e) => println!("# W6 failed: {e}"),
        }
    }

    if !peers {
        println!("# peers not run (add -- --peers to run them in this session)");
        return;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let anchors = match Anchors::locate(&workspace) {
        Ok(a) => a,
        Err(why) => {
            println!("# peers not run: {why}");
            return;
        }
    };
    let run = anchors.run_all(sizes.reps, wants);
    for why in &run.not_run {
        println!("# peer not run: {why}");
    }
    let figures: Vec<PeerFigure> = run
        .figures
        .into_iter()
        .filter(|f| wants(f.workload))
        .collect();
    for f in &figures {
        let what = if f.what.is_empty() {
            String::new()
        } else {
            format!("{} ", f.what)
        };
        println!("{} {} {what}{} {}", f.workload, f.peer, f.value, f.unit);
        let name = format!("{} {} {what}", f.workload, f.peer);
        println!("# {}: {}", name.trim_end(), f.context);
    }
    for (w, name, value, what) in &ours {
        for f in figures
            .iter()
            .filter(|f| f.workload == *w && f.what == *what)
        {
            // Throughputs: ours / theirs. Times and sizes: ours / theirs too (< 1 is better).
            let label = if what.is_empty() {
                String::new()
            } else {
                format!("{what} ")
            };
            println!("{w} ratio {label}{name}/{} {:.2}x", f.peer, value / f.value);
        }
    }
}

fn date(ms: i64) -> String {
    let (y, m, d) = w6::date_of(ms);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The peers' SPY_1h rows of `shared/bench/anchors/W6_RESULTS_shared.md` (whole stream):
/// `(model, accuracy, last-30% accuracy, macro-F1, log-loss, rows/s)`.
const W6_PEERS_SPY: [(&str, f64, f64, f64, f64, f64); 3] = [
    (
        "majority class so far (Laplace)",
        0.3857,
        0.3974,
        0.1875,
        1.0895,
        2_254_479.0,
    ),
    (
        "PyTorch MLP 32-64-64-3, Adam, b=1",
        0.3931,
        0.4014,
        0.3465,
        1.0979,
        3_023.0,
    ),
    (
        "river ARFClassifier(10)",
        0.3878,
        0.4039,
        0.3529,
        1.1052,
        684.0,
    ),
];

fn print_w6(r: &W6Result) {
    let [(_, learning), (_, fixed), (_, prior)] = &r.models;
    let scored = r.rows - r.scored_from;
    for (name, m) in &r.models {
        println!("W6 {name} log-loss {:.4} nats", m.scored.log_loss());
        println!("W6 {name} accuracy {:.2} %", 100.0 * m.scored.accuracy());
    }
    println!(
        "W6 learning rows/s {:.0} rows/s",
        r.rows as f64 / r.learning_s.max(1e-9)
    );
    println!("W6 learning wall {:.2} s", r.learning_s);
    println!(
        "W6 learning versions-created {} versions",
        r.learning_final.0
    );
    let promoted: u32 = r
        .tally
        .runs
        .iter()
        .filter(|(k, _)| k.ends_with(" promoted"))
        .map(|(_, v)| v)
        .sum();
    println!("W6 learning promoted {promoted} versions");
    println!(
        "# W6 stream: SPY_1h bars from 2007-01-01, {} bars -> {} rows ({} .. {}), labels 0/1/2 = {:?}, feat_sum {:.10e}",
        r.bars,
        r.rows,
        date(r.span.0),
        date(r.span.1),
        r.label_counts,
        r.feat_sum
    );
    println!(
        "# W6 protocol: 12-row label delay (Observe row k-12, then Suggest row k); scored rows k >= {} ({scored} rows, {} .. {}), after the static model's retrain on {} observations",
        r.scored_from,
        date(r.scored_from_time),
        date(r.span.1),
        r.static_training.at_row + 1 - 12,
    );
    println!("# W6 | model | rows | accuracy | log-loss | macro-F1 | predicted 0/1/2 |");
    for (name, m) in &r.models {
        let s = &m.scored;
        println!(
            "# W6 | {name} | {} | {:.4} | {:.4} | {:.4} | {:?} |",
            s.n,
            s.accuracy(),
            s.log_loss(),
            s.macro_f1(),
            s.predicted()
        );
    }
    for (a, b, x, y) in [
        ("learning", "prior", learning, prior),
        ("learning", "static", learning, fixed),
        ("static", "prior", fixed, prior),
    ] {
        let (mean, se, blocks) = w6::paired_difference(&x.losses, &y.losses);
        println!(
            "# W6 log-loss {a} - {b}: {mean:+.4} nats/row, block standard error {se:.4} ({blocks} blocks of {} rows; negative: {a} better)",
            w6::BLOCK
        );
    }
    println!(
        "# W6 by year | year | rows | acc learning | acc static | acc prior | ll learning | ll static | ll prior |"
    );
    for (year, l) in &learning.by_year {
        let f = &fixed.by_year[year];
        let p = &prior.by_year[year];
        println!(
            "# W6 by year | {year} | {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} |",
            l.n,
            l.accuracy(),
            f.accuracy(),
            p.accuracy(),
            l.log_loss(),
            f.log_loss(),
            p.log_loss()
        );
    }
    println!(
        "# W6 whole stream (the peers' protocol, all {} rows) | model | accuracy | last-30% acc | macro-F1 | log-loss |",
        r.rows
    );
    for (name, m) in &r.models {
        println!(
            "# W6 whole stream | {name} | {:.4} | {:.4} | {:.4} | {:.4} |",
            m.all.accuracy(),
            m.last30.accuracy(),
            m.all.macro_f1(),
            m.all.log_loss()
        );
    }
    for (name, acc, last30, f1, ll, rows_s) in W6_PEERS_SPY {
        println!(
            "# W6 whole stream | peer: {name} (24,910 rows) | {acc:.4} | {last30:.4} | {f1:.4} | {ll:.4} | {rows_s:.0} rows/s"
        );
    }
    let t = &r.tally;
    println!(
        "# W6 learning engine: {:.2} s in Observe + Suggest ({:.0} us/row), slowest Observe {:.1} ms (row {}), {} training epochs in all",
        r.learning_s,
        1e6 * r.learning_s / r.rows as f64,
        t.slowest_ms.0,
        t.slowest_ms.1,
        t.epochs
    );
    println!(
        "# W6 learning engine decisions (Observe replies with a run): {:?}",
        t.decisions
    );
    println!("# W6 learning engine runs: {:?}", t.runs);
    println!(
        "# W6 learning engine: {} retrains chose the class prior over the network; {} champion changes; at the end {} versions created, {} retained, champion v{} ({}, {})",
        t.prior_chosen,
        t.champion_changes,
        r.learning_final.0,
        r.learning_final.1,
        r.learning_final.2,
        r.learning_champion_kind,
        if r.learning_final.3 {
            "network"
        } else {
            "class prior"
        }
    );
    for (what, (l, p)) in ["a network", "a class prior"].iter().zip(&t.by_champion) {
        if l.n == 0 {
            continue;
        }
        println!(
            "# W6 learning engine, scored rows predicted while its champion was {what}: {} rows, log-loss {:.4} (running prior on the same rows {:.4}), accuracy {:.4} (prior {:.4})",
            l.n,
            l.log_loss(),
            p.log_loss(),
            l.accuracy(),
            p.accuracy()
        );
    }
    let st = &r.static_training;
    let run = st.report.run.as_ref();
    println!(
        "# W6 static engine: forced retrain at row {} took {:.1} ms: verdict {:?}, prior chosen {}, epochs {}, validation {:?}, test {:?}, gate {:?}; champion v{} ({}, {}); {:.2} s in all",
        st.at_row,
        st.ms,
        run.and_then(|x| x.verdict),
        run.is_some_and(|x| x.prior_chosen),
        run.and_then(|x| x.log.as_ref()).map_or(0, |l| l.epochs),
        run.and_then(|x| x.validation),
        run.and_then(|x| x.test),
        run.and_then(|x| x.gate),
        st.champion,
        st.champion_kind,
        if st.network { "network" } else { "class prior" },
        r.static_s
    );
    let o = &r.observe_replies;
    println!(
        "# W6 learning engine's own Observe replies on the scored rows ({} rows; made after learning the 12 rows whose labels overlap, so not a fair forecast): accuracy {:.4}, log-loss {:.4}",
        o.n,
        o.accuracy(),
        o.log_loss()
    );
    if r.label_fallbacks > 0 {
        println!(
            "# W6 {} rows needed the explicit label encoding (g * 2 * flat_band classified differently)",
            r.label_fallbacks
        );
    }
}
