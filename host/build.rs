//! Builds `tradeloop-plugin` for `wasm32-unknown-unknown` (release) and puts the module in
//! `OUT_DIR`, so the host embeds the very plugin of this workspace and `cargo run` needs no
//! separate step. The plugin gets its own target directory (`target/plugin-wasm`): the
//! outer build holds the lock of the main one.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest
        .parent()
        .expect("host/ is inside the workspace")
        .to_path_buf();
    for dir in [
        "crates/core/src",
        "crates/plugin/src",
        "crates/core/Cargo.toml",
        "crates/plugin/Cargo.toml",
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
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "-p",
            "tradeloop-plugin",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "--target-dir",
        ])
        .arg(&target_dir)
        // The outer build's flags and wrappers (clippy, coverage) are not the plugin's: it
        // takes its flags from .cargo/config.toml (+simd128) and must produce real code.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_MAKEFLAGS")
        // No debug info in the embedded module (it would be most of its size).
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        .status()
        .expect("cannot run cargo to build the plugin");
    assert!(
        status.success(),
        "building tradeloop-plugin for wasm32-unknown-unknown failed \
         (is the target installed? `rustup target add wasm32-unknown-unknown`)"
    );
    let wasm = target_dir.join("wasm32-unknown-unknown/release/tradeloop_plugin.wasm");
    let out =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it")).join("tradeloop_plugin.wasm");
    std::fs::copy(&wasm, &out).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
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
