//! Builds `tradeloop-plugin` and the example strategies (`strategies/*`) for
//! `wasm32-unknown-unknown` (release) and puts the modules in `OUT_DIR`, so the host embeds
//! the very plugin of this workspace (and the buy-and-hold baseline of `tradeloop
//! experiment`) and `cargo run` needs no separate step. The tests find the strategies through
//! `TRADELOOP_EXAMPLE_STRATEGIES`. The modules get their own target directory
//! (`target/plugin-wasm`): the outer build holds the lock of the main one. Also records the
//! wasmtime version from Cargo.lock for the experiment manifest.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The example strategies: crate `tradeloop-strategy-<name>` in `strategies/<name>`.
const STRATEGIES: [&str; 4] = ["buy-and-hold", "sma-cross", "rule", "forecast"];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest
        .parent()
        .expect("host/ is inside the workspace")
        .to_path_buf();
    for dir in [
        "crates/core/src",
        "crates/plugin/src",
        "crates/strategy/src",
        "crates/core/Cargo.toml",
        "crates/plugin/Cargo.toml",
        "crates/strategy/Cargo.toml",
        "strategies/buy-and-hold",
        "strategies/sma-cross",
        "strategies/rule",
        "strategies/forecast",
        "Cargo.lock",
        ".cargo/config.toml",
    ] {
        println!("cargo::rerun-if-changed={}", root.join(dir).display());
    }
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("plugin-wasm");
    ensure_wasm_target();
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    let release = target_dir.join("wasm32-unknown-unknown/release");

    build_wasm(&root, &target_dir, &["tradeloop-plugin"]);
    copy(
        &release.join("tradeloop_plugin.wasm"),
        &out.join("tradeloop_plugin.wasm"),
    );

    let packages: Vec<String> = STRATEGIES
        .iter()
        .map(|n| format!("tradeloop-strategy-{n}"))
        .collect();
    let packages: Vec<&str> = packages.iter().map(String::as_str).collect();
    build_wasm(&root, &target_dir, &packages);
    let strategies = out.join("strategies");
    std::fs::create_dir_all(&strategies).expect("OUT_DIR is writable");
    for n in STRATEGIES {
        let file = format!("tradeloop_strategy_{}.wasm", n.replace('-', "_"));
        copy(&release.join(file), &strategies.join(format!("{n}.wasm")));
    }
    println!(
        "cargo::rustc-env=TRADELOOP_EXAMPLE_STRATEGIES={}",
        strategies.display()
    );
    println!(
        "cargo::rustc-env=TRADELOOP_WASMTIME_VERSION={}",
        locked_version(&root.join("Cargo.lock"), "wasmtime")
    );
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
}

/// The version of `package` in Cargo.lock ("unknown" if it is not there).
fn locked_version(lock: &Path, package: &str) -> String {
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let needle = format!("name = \"{package}\"\nversion = \"");
    text.find(&needle)
        .and_then(|at| {
            let rest = &text[at + needle.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// `cargo build --release --target wasm32-unknown-unknown` of `packages`.
fn build_wasm(root: &Path, target_dir: &Path, packages: &[&str]) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--release", "--target", "wasm32-unknown-unknown"]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    let status = cmd
        .arg("--target-dir")
        .arg(target_dir)
        // The outer build's flags and wrappers (clippy, coverage) are not the modules': they
        // take their flags from .cargo/config.toml (+simd128) and must produce real code.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_MAKEFLAGS")
        // No debug info in the embedded modules (it would be most of their size).
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        .status()
        .expect("cannot run cargo to build the wasm modules");
    assert!(
        status.success(),
        "building {packages:?} for wasm32-unknown-unknown failed \
         (is the target installed? `rustup target add wasm32-unknown-unknown`)"
    );
}

/// Adds the `wasm32-unknown-unknown` standard library with rustup if this toolchain lacks it
/// (rust-toolchain.toml names it, but rustup does not install it when auto-install is off),
/// so `cargo run -p tradeloop-host` works on a machine that never ran the test command.
fn ensure_wasm_target() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return;
    };
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if sysroot.join("lib/rustlib/wasm32-unknown-unknown").is_dir() {
        return;
    }
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", "wasm32-unknown-unknown"]);
    if let Some(toolchain) = env::var_os("RUSTUP_TOOLCHAIN") {
        rustup.arg("--toolchain").arg(toolchain);
    }
    match rustup.status() {
        Ok(s) if s.success() => {
            println!("cargo::warning=installed the wasm32-unknown-unknown target with rustup");
        }
        _ => println!(
            "cargo::warning=the wasm32-unknown-unknown target is missing and rustup could not \
             add it"
        ),
    }
}
