//! `cargo bench -p tradeloop-bench [-- --peers] [--quick] [--only W1,W2,W5]`
//!
//! Prints one line per figure, `<workload> <runtime> [<what>] <value> <unit>`, e.g.
//! `W1 native 258000 steps/s`, then `<workload> ratio ...` lines against the peers measured
//! in the same run. Lines starting with `#` are context (machine, load, repetitions).

#![allow(clippy::print_stdout)] // printing the figures is this program's job

use std::path::Path;

use tradeloop_bench::data;
use tradeloop_bench::gate::Gate;
use tradeloop_bench::peers::{Anchors, PeerFigure};
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
        .unwrap_or_else(|| vec!["W1".into(), "W2".into(), "W5".into()]);
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
    let figures: Vec<PeerFigure> = anchors
        .run_all(sizes.reps)
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
