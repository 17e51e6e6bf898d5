//! Compiled modules, cached on disk so that a `tradeloop` call does not pay Cranelift's
//! compilation every time it starts: the plugin (about a second) and strategy modules
//! (`tradeloop experiment`; tens of ms each). Each [`Kind`] has its own file prefix and its
//! own number of files kept, so strategies never push the plugin out.
//!
//! - **Where.** `$TRADELOOP_CACHE_DIR`, else `$XDG_CACHE_HOME/tradeloop`, else
//!   `$HOME/.cache/tradeloop`; `TRADELOOP_CACHE_DIR=off` turns the cache off. The directory is
//!   created private (0700) and not used if others may write to it.
//! - **Key.** A file is named by a hash of the plugin's wasm bytes and of wasmtime's
//!   [`Engine::precompile_compatibility_hash`], which covers the wasmtime version, the engine
//!   configuration, the target and the CPU features Cranelift compiled for. A change in any
//!   of them names another file: a stale one is never opened, the plugin is compiled again.
//! - **Only our own files.** [`Module::deserialize`] must only see bytes that
//!   [`Module::serialize`] made. Each file carries a keyed BLAKE3 MAC of its key and bytes
//!   under a random secret kept in the directory (`key`, 0600, made on first use). A file
//!   this program did not write (copied in, corrupt, truncated, written under another
//!   secret) fails the MAC and is compiled over; it is never deserialized.
//! - **Never an error.** Any cache failure (no home, read-only, full disk) falls back to
//!   compiling; a command never fails because of the cache.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use wasmtime::{Engine, Module};

/// First bytes of a cache file: format and version.
const MAGIC: &[u8; 8] = b"TLCWASM1";
/// Bytes of the MAC after the magic.
const MAC_LEN: usize = 32;
/// What a cached module is: its file prefix and how many of its kind are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `tradeloop-plugin` (this build's and other builds'): 4 kept.
    Plugin,
    /// Strategy modules of `tradeloop experiment`: 64 kept.
    Strategy,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Plugin => "plugin-",
            Kind::Strategy => "strategy-",
        }
    }

    /// Files of this kind kept in the directory; the oldest go first.
    fn keep(self) -> usize {
        match self {
            Kind::Plugin => 4,
            Kind::Strategy => 64,
        }
    }
}

/// How [`load_or_compile`] got its module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Read from a cache file this program wrote.
    Cache,
    /// Compiled; the cache was written if it could be.
    Compiled,
    /// Compiled; there is no usable cache directory.
    Uncached,
}

/// The cache directory named by the environment, or `None` when caching is off or there is
/// no home to put it in.
pub fn default_dir() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("TRADELOOP_CACHE_DIR") {
        return (dir != "off").then(|| PathBuf::from(dir));
    }
    var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| Path::new(&h).join(".cache")))
        .map(|d| d.join("tradeloop"))
}

/// `wasm` compiled for `engine`: from the cache in `dir` if it holds a file this program
/// wrote for exactly this module and engine, else compiled (and cached when possible, as a
/// module of `kind`). Fails only if the module does not compile.
pub fn load_or_compile(
    kind: Kind,
    engine: &Engine,
    wasm: &[u8],
    dir: Option<&Path>,
) -> Result<(Module, Source), wasmtime::Error> {
    let Some((dir, secret)) = dir.and_then(|d| Some((d, open_dir(d)?))) else {
        return Ok((Module::new(engine, wasm)?, Source::Uncached));
    };
    let id = module_id(engine, wasm);
    let path = dir.join(format!("{}{}.cwasm", kind.prefix(), hex(&id[..16])));
    if let Some(module) = read(&path, engine, &id, &secret) {
        return Ok((module, Source::Cache));
    }
    let module = Module::new(engine, wasm)?;
    if let Ok(bytes) = module.serialize() {
        let mac = mac(&secret, &id, &bytes);
        let mut file = Vec::with_capacity(MAGIC.len() + MAC_LEN + bytes.len());
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&mac);
        file.extend_from_slice(&bytes);
        if crate::store::write_file_atomically(&path, &file).is_ok() {
            prune(dir, kind);
        }
    }
    Ok((module, Source::Compiled))
}

/// The module in `path` if the file is ours for `id`; `None` otherwise.
#[expect(
    unsafe_code,
    reason = "Module::deserialize is unsafe; the MAC check is what makes it sound"
)]
fn read(path: &Path, engine: &Engine, id: &[u8; 32], secret: &[u8; 32]) -> Option<Module> {
    let file = fs::read(path).ok()?;
    let rest = file.strip_prefix(MAGIC)?;
    let (stored, bytes) = rest.split_at_checked(MAC_LEN)?;
    let expected = blake3::Hash::from(mac(secret, id, bytes));
    // `blake3::Hash` compares in constant time.
    if expected != blake3::Hash::from(<[u8; 32]>::try_from(stored).ok()?) {
        return None;
    }
    // SAFETY: the MAC proves these are the exact bytes `Module::serialize` gave this program
    // (under this directory's secret) for this module and engine, which is what
    // `Module::deserialize` requires; wasmtime still refuses bytes of another version or
    // configuration with an error.
    unsafe { Module::deserialize(engine, bytes) }.ok()
}

/// The directory's secret, creating the directory (0700) and the secret (0600) if needed;
/// `None` if the directory cannot be made private or the secret cannot be read.
fn open_dir(dir: &Path) -> Option<[u8; 32]> {
    private_dir(dir)?;
    let path = dir.join("key");
    let mut secret = [0u8; 32];
    match fs::File::open(&path) {
        Ok(mut f) => {
            private_file(&f)?;
            let n = f.read(&mut secret).ok()?;
            (n == 32 && f.read(&mut [0u8; 1]).ok()? == 0).then_some(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            getrandom::fill(&mut secret).ok()?;
            let mut f = new_private_file(&path).ok()?;
            f.write_all(&secret).and_then(|()| f.sync_all()).ok()?;
            Some(secret)
        }
        Err(_) => None,
    }
}

#[cfg(unix)]
fn private_dir(dir: &Path) -> Option<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .ok()?;
    let meta = fs::metadata(dir).ok()?;
    (meta.is_dir() && meta.permissions().mode() & 0o022 == 0).then_some(())
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> Option<()> {
    fs::create_dir_all(dir).ok()
}

#[cfg(unix)]
fn private_file(f: &fs::File) -> Option<()> {
    use std::os::unix::fs::PermissionsExt;
    (f.metadata().ok()?.permissions().mode() & 0o077 == 0).then_some(())
}

#[cfg(not(unix))]
fn private_file(_f: &fs::File) -> Option<()> {
    Some(())
}

fn new_private_file(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// What names a compiled module: the wasm bytes and everything about the engine that
/// compiled code depends on.
fn module_id(engine: &Engine, wasm: &[u8]) -> [u8; 32] {
    /// Feeds `Hash` output into BLAKE3.
    struct Feed(blake3::Hasher);
    impl std::hash::Hasher for Feed {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut feed = Feed(blake3::Hasher::new());
    feed.0.update(&(wasm.len() as u64).to_le_bytes());
    feed.0.update(wasm);
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut feed);
    *feed.0.finalize().as_bytes()
}

fn mac(secret: &[u8; 32], id: &[u8; 32], bytes: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_keyed(secret);
    h.update(id);
    h.update(bytes);
    *h.finalize().as_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Removes all but the [`Kind::keep`] most recently written modules of `kind`.
fn prune(dir: &Path, kind: Kind) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(kind.prefix()) && name.ends_with(".cwasm")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (_, path) in files.into_iter().skip(kind.keep()) {
        let _ = fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAT: &str = r#"(module (func (export "f") (result i32) (i32.const 7)))"#;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tradeloop-module-cache-{tag}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn only_module(dir: &Path) -> PathBuf {
        let mut found: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        found.pop().unwrap()
    }

    fn run(engine: &Engine, module: &Module) -> i32 {
        let mut store = wasmtime::Store::new(engine, ());
        let instance = wasmtime::Instance::new(&mut store, module, &[]).unwrap();
        let f = instance.get_typed_func::<(), i32>(&mut store, "f").unwrap();
        f.call(&mut store, ()).unwrap()
    }

    #[test]
    fn compiled_once_then_read_back_and_only_our_own_files() {
        let dir = temp("own");
        let engine = Engine::default();
        let load = || load_or_compile(Kind::Plugin, &engine, WAT.as_bytes(), Some(&dir)).unwrap();
        let (m, source) = load();
        assert_eq!(source, Source::Compiled);
        assert_eq!(run(&engine, &m), 7);
        let (m, source) = load();
        assert_eq!(source, Source::Cache);
        assert_eq!(run(&engine, &m), 7);
        let file = only_module(&dir);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&dir.join("key")), 0o600);
        }

        // One flipped byte anywhere, a truncation, or a file under another secret: compiled
        // again (never deserialized), and the file is ours again afterwards.
        let good = fs::read(&file).unwrap();
        let mut tampered = Vec::new();
        for at in [0, MAGIC.len(), MAGIC.len() + MAC_LEN, good.len() - 1] {
            let mut bytes = good.clone();
            bytes[at] ^= 0x01;
            tampered.push(bytes);
        }
        tampered.push(good[..good.len() / 2].to_vec());
        tampered.push(Vec::new());
        for bytes in tampered {
            fs::write(&file, &bytes).unwrap();
            assert_eq!(load().1, Source::Compiled);
            assert_eq!(load().1, Source::Cache);
        }
        fs::write(dir.join("key"), [9u8; 32]).unwrap();
        assert_eq!(
            load().1,
            Source::Compiled,
            "a file written under another secret"
        );
        assert_eq!(load().1, Source::Cache);

        // Another module, or an engine configured differently, names another file.
        let (_, source) = load_or_compile(
            Kind::Plugin,
            &engine,
            br#"(module (func (export "f") (result i32) (i32.const 8)))"#,
            Some(&dir),
        )
        .unwrap();
        assert_eq!(source, Source::Compiled);
        let mut config = wasmtime::Config::new();
        config.cranelift_opt_level(wasmtime::OptLevel::None);
        let other = Engine::new(&config).unwrap();
        let (m, source) =
            load_or_compile(Kind::Plugin, &other, WAT.as_bytes(), Some(&dir)).unwrap();
        assert_eq!(source, Source::Compiled);
        assert_eq!(run(&other, &m), 7);
        assert_eq!(
            fs::read_dir(&dir)
                .unwrap()
                .filter(|e| e
                    .as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|e| e == "cwasm"))
                .count(),
            3
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn strategies_are_kept_apart_from_the_plugin() {
        let dir = temp("kinds");
        let engine = Engine::default();
        load_or_compile(Kind::Plugin, &engine, WAT.as_bytes(), Some(&dir)).unwrap();
        for k in 0..Kind::Strategy.keep() + 2 {
            let wat = format!(r#"(module (func (export "f") (result i32) (i32.const {k})))"#);
            let (_, source) =
                load_or_compile(Kind::Strategy, &engine, wat.as_bytes(), Some(&dir)).unwrap();
            assert_eq!(source, Source::Compiled);
        }
        let count = |prefix: &str| {
            fs::read_dir(&dir)
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with(prefix)
                })
                .count()
        };
        assert_eq!(count("strategy-"), Kind::Strategy.keep());
        assert_eq!(count("plugin-"), 1, "the plugin was pushed out");
        let (_, source) =
            load_or_compile(Kind::Plugin, &engine, WAT.as_bytes(), Some(&dir)).unwrap();
        assert_eq!(source, Source::Cache);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_others_may_write_is_not_used() {
        let dir = temp("shared");
        fs::create_dir_all(&dir).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
            let engine = Engine::default();
            let (_, source) =
                load_or_compile(Kind::Plugin, &engine, WAT.as_bytes(), Some(&dir)).unwrap();
            assert_eq!(source, Source::Uncached);
            assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "nothing written");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_module_that_does_not_compile_is_an_error_with_or_without_a_cache() {
        let dir = temp("bad");
        let engine = Engine::default();
        assert!(
            load_or_compile(
                Kind::Plugin,
                &engine,
                b"(module (func (result i32)))",
                Some(&dir)
            )
            .is_err()
        );
        assert!(load_or_compile(Kind::Plugin, &engine, b"not wasm", None).is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
