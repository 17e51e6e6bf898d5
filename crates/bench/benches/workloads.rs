//! `cargo bench -p tradeloop-bench [-- --peers] [--quick]
//! [--only W1,W1E,W2,W3,W5,W6,W7]`
//!
//! Prints one line per figure, `<workload> <runtime> [<what>] <value> <unit>`, e.g.
//! `W1 native 258000 steps/s`, then `<workload> ratio ...` lines against the peers measured
//! in the same run. Lines starting with `#` are context (machine, load, repetitions).
//!
//! W1 is the **kernel**: `Mlp::train` on one sample, the update the peers' W1 measures.
//! W1E and W7 are the **engine**: every command through `Engine::apply`, journal, replay,
//! learners, mixture and lifecycle included.

#![allow(clippy::print_stdout)] // printing the figures is this program's job

use std::path::Path;

use tradeloop_bench::data;
use tradeloop_bench::gate::Gate;
use tradeloop_bench::peers::{Anchors, PeerFigure};
use tradeloop_bench::w3::{self, W3Sizes};
use tradeloop_bench::w6::{self, W6Result, W6Sizes};
use tradeloop_bench::w7::{self, Online, Serve};
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
        .unwrap_or_else(|| {
            ["W1", "W1E", "W2", "W3", "W5", "W6", "W7"]
                .map(String::from)
                .to_vec()
        });
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
                "# W1 {name} (the kernel: Mlp::train on one sample, not the engine): backend {}, reps {:?}, {:.2} us/step, train acc {:.1}%, {}",
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
    if wants("W1E") {
        let n = if quick { 2_000 } else { 50_000 };
        let mut g = Gate::new(wait_s);
        g.before_rep();
        match w7::closes(n) {
            Ok(r) => {
                println!("W1E native {:.0} closes/s", r.closes_per_s);
                println!("W1E native worst-close {:.3} ms", r.worst_close_ms);
                println!(
                    "# W1E native (the engine: apply(Close) with journal, replay, learners, mixture, lifecycle; default config, random features): {} trades, {:.0} open+close pairs/s, {}",
                    r.trades,
                    r.pairs_per_s,
                    g.describe()
                );
            }
            Err(e) => println!("# W1E failed: {e}"),
        }
        g.after_rep();
    }
    if wants("W6") {
        let sizes = if quick { W6Sizes::QUICK } else { W6Sizes::SPEC };
        match w6::run(sizes) {
            Ok(r) => print_w6(&r),
            Err(e) => println!("# W6 failed: {e}"),
        }
    }
    let mut w7_native = None;
    if wants("W7") {
        let sizes = if quick { W6Sizes::QUICK } else { W6Sizes::SPEC };
        match w6::spy_rows(sizes) {
            Ok(rows) => {
                let mut g = Gate::new(wait_s);
                g.before_rep();
                let runs: Vec<(&str, Result<Online, String>)> = vec![
                    ("native", w7::native(&rows, Serve::Forecast)),
                    ("native-suggest", w7::native(&rows, Serve::Suggest)),
                    ("plugin", w7::plugin(&rows, Serve::Forecast)),
                ];
                g.after_rep();
                for (name, r) in runs {
                    match &r {
                        Ok(o) => print_w7(name, o),
                        Err(e) => println!("# W7 {name} failed: {e}"),
                    }
                    if name == "native" {
                        // The ratios to the peers use this figure, the one printed.
                        w7_native = r.ok();
                    }
                }
                println!("# W7: {}", g.describe());
            }
            Err(e) => println!("# W7 failed: {e}"),
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
    if wants("W7") || wants("W6") {
        let series = format!("{}@2007-01-01", w6::spy_path().display());
        let (online, not_run) = anchors.run_online(&series);
        for why in &not_run {
            println!("# peer not run: {why}");
        }
        for p in &online {
            println!("W7 {} {:.0} rows/s", p.peer, p.rows_per_s);
            println!("W6 {} log-loss {:.4} nats", p.peer, p.log_loss);
            println!("W6 {} accuracy {:.2} %", p.peer, 100.0 * p.accuracy);
            println!("# W7 {}: {}", p.peer, p.context);
            if let Some(o) = &w7_native {
                println!(
                    "W7 ratio native/{} {:.2}x",
                    p.peer,
                    o.rows_per_s / p.rows_per_s
                );
            }
        }
    }
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

fn print_w7(name: &str, o: &Online) {
    println!("W7 {name} {:.0} rows/s", o.rows_per_s);
    println!("W7 {name} worst-call {:.3} ms", o.worst_ms.0);
    println!(
        "# W7 {name}: {} rows, {} calls (Observe + {}), median call {:.4} ms, p99 {:.4} ms, slowest at row {}",
        o.rows,
        o.calls,
        if name.ends_with("suggest") {
            "Suggest"
        } else {
            "Forecast"
        },
        o.p50_ms,
        o.p99_ms,
        o.worst_ms.1
    );
}

fn print_w6(r: &W6Result) {
    let e = &r.evaluation;
    println!(
        "# W6 stream: SPY_1h bars from 2007-01-01, {} rows ({} .. {}), labels 0/1/2 = {:?}; the protocol of tradeloop_core::evaluate (12-row label delay: Observe row k-12, then Forecast row k); {:.2} s",
        e.rows,
        tradeloop_core::market::iso_date(e.span.0),
        tradeloop_core::market::iso_date(e.span.1),
        e.labels,
        r.seconds
    );
    for p in &e.predictors {
        let name = p.name.replace(' ', "-");
        if let Some(all) = p.all {
            println!("W6 {name} log-loss {:.4} nats", all.log_loss());
            println!("W6 {name} accuracy {:.2} %", 100.0 * all.accuracy());
        }
    }
    for line in e
        .markdown(&tradeloop_core::evaluate::Protocol::default())
        .lines()
    {
        println!("# W6 {line}");
    }
}
