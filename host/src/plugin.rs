//! The wasmtime side of the plugin ABI (`docs/ABI.md`): loads a module that implements it,
//! runs every request under a time limit and a memory cap, and turns everything the module
//! can do wrong (trap, loop, grow without bound, return garbage) into a [`PluginError`],
//! never a host panic.
//!
//! ```
//! use tradeloop_core::{Command, EngineConfig, Query};
//! use tradeloop_host::plugin::{Limits, Plugin};
//!
//! let mut plugin = Plugin::embedded(Limits::default())?;
//! plugin.create(EngineConfig::default(), 42, 0)?;
//! let reply = plugin.apply(Command::Query(Query::Stats), 1)?;
//! let checkpoint = plugin.snapshot()?;
//! # let _ = (reply, checkpoint);
//! # Ok::<(), tradeloop_host::plugin::PluginError>(())
//! ```
//!
//! After a [`PluginError::Timeout`], [`PluginError::MemoryLimit`] or [`PluginError::Trap`]
//! the instance is poisoned (its memory may hold a half-done update): every later call
//! returns [`PluginError::Abi`]. The caller drops it, creates a new [`Plugin`] and restores
//! the last checkpoint.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tradeloop_core::abi::{
    ABI_VERSION, IMPORT_MODULE, MAX_REQUEST, RankAnswer, Rejection, Request, Response, Status,
};
use tradeloop_core::{Command, EngineConfig, Error, Reply};
use wasmtime::{
    Caller, Config, Engine, Extern, Instance, Linker, Memory, Module, ResourceLimiter, Store,
    StoreLimits, StoreLimitsBuilder, Trap, TypedFunc, UpdateDeadline,
};

/// Interval of the epoch ticker: how late, at most, a timeout is noticed.
const TICK: Duration = Duration::from_millis(10);

/// Longest log message kept, in bytes (longer ones are truncated).
const MAX_LOG_MESSAGE: usize = 64 * 1024;

/// Most log messages kept between two [`Plugin::take_log`] calls (later ones are counted).
const MAX_LOG_ENTRIES: usize = 1024;

/// The import functions a plugin may use (all in [`IMPORT_MODULE`]).
const LOG_IMPORT: &str = "log";
const RANK_IMPORT: &str = "rank";
const RANK_RESULT_IMPORT: &str = "rank_result";
const IMPORTS: [&str; 3] = [LOG_IMPORT, RANK_IMPORT, RANK_RESULT_IMPORT];

/// Largest row buffer the `rank` import reads, in bytes.
const MAX_RANK_BYTES: usize = 64 << 20;

/// What the plugin's `rank` import runs: scores rows of `dim` features each (the host's ONNX
/// ranker, see [`crate::ranker`]). It must be a pure function of its input.
pub type RankFn = Arc<dyn Fn(&[f32], usize) -> RankAnswer + Send + Sync>;

const POISONED: &str = "plugin poisoned by an earlier trap; recreate it";

/// What the host allows one plugin instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time one request may take, from the buffer allocation to its release
    /// (also applied to instantiation and the version check), noticed within about 10 ms.
    /// Default 60 s; a duration too large to add to `Instant::now()` means no limit.
    pub timeout: Duration,
    /// Largest size of the module's linear memory, in bytes. Default 1 GiB.
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            memory_bytes: 1 << 30,
        }
    }
}

/// Why a plugin could not be loaded or could not answer a request.
#[derive(Debug, Clone, PartialEq)]
pub enum PluginError {
    /// [`Status::Rejected`]: the engine refused the command or checkpoint (bad input); its
    /// state is unchanged. The engine's error, relayed ([`Error::Relayed`]: its kind and
    /// message).
    Rejected(Error),
    /// [`Status::BadRequest`]: the request does not decode (or is longer than
    /// [`MAX_REQUEST`], which the host checks before sending).
    BadRequest(String),
    /// [`Status::NoEngine`]: `Apply` or `Snapshot` before any `Create` or `Restore`.
    NoEngine,
    /// The call ran past [`Limits::timeout`]. The instance is poisoned.
    Timeout,
    /// The module tried to grow its memory past [`Limits::memory_bytes`]. The instance is
    /// poisoned.
    MemoryLimit,
    /// The module trapped (or a host function failed). The instance is poisoned.
    Trap(String),
    /// The module broke the ABI: it does not compile, has missing or mistyped exports,
    /// imports something other than `tradeloop_host.{log,rank,rank_result}`, speaks another
    /// ABI version,
    /// returned an out-of-bounds buffer, an unknown status code or an undecodable or
    /// unexpected response; or the instance was poisoned by an earlier trap.
    Abi(String),
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginError::Rejected(m) => write!(f, "rejected: {m}"),
            PluginError::BadRequest(m) => write!(f, "bad request: {m}"),
            PluginError::NoEngine => f.write_str("no engine: send Create or Restore first"),
            PluginError::Timeout => f.write_str("the plugin ran past its time limit"),
            PluginError::MemoryLimit => f.write_str("the plugin ran past its memory limit"),
            PluginError::Trap(m) => write!(f, "the plugin trapped: {m}"),
            PluginError::Abi(m) => write!(f, "plugin ABI violation: {m}"),
        }
    }
}

impl std::error::Error for PluginError {}

/// A loaded plugin instance: one engine (once created or restored) in its own sandbox.
pub struct Plugin {
    store: Store<HostState>,
    memory: Memory,
    exports: Exports,
    limits: Limits,
    poisoned: bool,
    /// Keeps the epoch ticker running while this plugin lives.
    _ticker: Arc<Ticker>,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("limits", &self.limits)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// The plugin embedded in this binary ([`crate::PLUGIN_WASM`]). It is compiled once per
    /// machine and kept in the [`crate::module_cache`]; later starts read it back, and later
    /// plugins of the same process only instantiate it.
    pub fn embedded(limits: Limits) -> Result<Self, PluginError> {
        static MODULE: OnceLock<Result<Module, String>> = OnceLock::new();
        let engine = shared_engine()?;
        let module = MODULE
            .get_or_init(|| {
                let dir = crate::module_cache::default_dir();
                crate::module_cache::load_or_compile(
                    crate::module_cache::Kind::Plugin,
                    engine,
                    crate::PLUGIN_WASM,
                    dir.as_deref(),
                )
                .map(|(module, _)| module)
                .map_err(|e| format!("the module does not compile: {}", chain(&e)))
            })
            .clone()
            .map_err(PluginError::Abi)?;
        Self::instantiate(engine, &module, limits)
    }

    /// Any module implementing the ABI, as wasm binary or WAT text. The module is compiled
    /// (checked against the ABI: imports, exports, version) and instantiated.
    pub fn from_bytes(wasm: &[u8], limits: Limits) -> Result<Self, PluginError> {
        let engine = shared_engine()?;
        let module = compile(engine, wasm).map_err(PluginError::Abi)?;
        Self::instantiate(engine, &module, limits)
    }

    fn instantiate(engine: &Engine, module: &Module, limits: Limits) -> Result<Self, PluginError> {
        for import in module.imports() {
            if import.module() != IMPORT_MODULE || !IMPORTS.contains(&import.name()) {
                return Err(PluginError::Abi(format!(
                    "the module imports `{}.{}`; a plugin may only import `{IMPORT_MODULE}.` {}",
                    import.module(),
                    import.name(),
                    IMPORTS.join(", ")
                )));
            }
        }
        let ticker = ticker()?;
        let limiter = Limiter {
            inner: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            cap: limits.memory_bytes,
            hit: false,
        };
        let mut store = Store::new(
            engine,
            HostState {
                limiter,
                deadline: None,
                timed_out: false,
                log: Vec::new(),
                log_dropped: 0,
                ranker: None,
                rank_answer: None,
            },
        );
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            if state.deadline.is_some_and(|d| Instant::now() >= d) {
                state.timed_out = true;
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });

        let mut linker = Linker::new(engine);
        linker
            .func_wrap(IMPORT_MODULE, LOG_IMPORT, host_log)
            .map_err(|e| PluginError::Abi(format!("cannot define the log import: {e}")))?;
        linker
            .func_wrap(IMPORT_MODULE, RANK_IMPORT, host_rank)
            .and_then(|l| l.func_wrap(IMPORT_MODULE, RANK_RESULT_IMPORT, host_rank_result))
            .map_err(|e| PluginError::Abi(format!("cannot define the rank imports: {e}")))?;

        // Instantiation runs the module's start function, if any: limit it like a call.
        arm(&mut store, limits.timeout);
        let instance = match linker.instantiate(&mut store, module) {
            Ok(i) => i,
            Err(e) => {
                let trapped = e.downcast_ref::<Trap>().is_some()
                    || store.data().timed_out
                    || store.data().limiter.hit;
                return Err(if trapped {
                    classify(&store, &e)
                } else {
                    PluginError::Abi(format!("the module does not instantiate: {}", chain(&e)))
                });
            }
        };
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| PluginError::Abi("no exported linear memory `memory`".into()))?;
        if memory.ty(&store).is_64() {
            return Err(PluginError::Abi(
                "the exported memory is 64-bit; the ABI uses 32-bit addresses".into(),
            ));
        }
        let exports = Exports::get(&instance, &mut store)?;
        let mut plugin = Plugin {
            store,
            memory,
            exports,
            limits,
            poisoned: false,
            _ticker: ticker,
        };
        arm(&mut plugin.store, limits.timeout);
        let version = plugin.run(|s, x| x.abi_version.call(s, ()))?;
        if version != ABI_VERSION as i32 {
            return Err(PluginError::Abi(format!(
                "the module speaks ABI version {version}; this host speaks {ABI_VERSION}"
            )));
        }
        Ok(plugin)
    }

    /// One request: encodes it (postcard), sends it through [`Plugin::call_raw`] and decodes
    /// the answer. A status other than [`Status::Ok`] becomes the matching [`PluginError`].
    pub fn call(&mut self, request: &Request) -> Result<Response, PluginError> {
        let bytes = postcard::to_allocvec(request)
            .map_err(|e| PluginError::BadRequest(format!("request does not encode: {e}")))?;
        let (status, out) = self.call_raw(&bytes)?;
        let text = || String::from_utf8_lossy(&out).into_owned();
        match status {
            Status::Ok => match postcard::take_from_bytes::<Response>(&out) {
                Ok((response, [])) => Ok(response),
                Ok((_, rest)) => Err(PluginError::Abi(format!(
                    "{} unexpected bytes after the response",
                    rest.len()
                ))),
                Err(e) => Err(PluginError::Abi(format!(
                    "the response does not decode: {e}"
                ))),
            },
            Status::Rejected => Err(PluginError::Rejected(Rejection::decode(&out))),
            Status::BadRequest => Err(PluginError::BadRequest(text())),
            Status::NoEngine => Err(PluginError::NoEngine),
        }
    }

    /// One request as raw bytes (for fuzzing the ABI): `tl_alloc`, write, `tl_call`, read
    /// the result, `tl_free`. Returns the status and a copy of the result bytes, whatever
    /// the status; errors only for a request longer than [`MAX_REQUEST`]
    /// ([`PluginError::BadRequest`], not sent), a trap, a timeout, the memory cap, or an
    /// ABI violation (out-of-bounds buffer, unknown status code).
    pub fn call_raw(&mut self, request: &[u8]) -> Result<(Status, Vec<u8>), PluginError> {
        self.check_poisoned()?;
        let len = u32::try_from(request.len())
            .ok()
            .filter(|&n| n <= MAX_REQUEST)
            .ok_or_else(|| {
                PluginError::BadRequest(format!(
                    "request of {} bytes is longer than {MAX_REQUEST}",
                    request.len()
                ))
            })?;
        // `len <= MAX_REQUEST < 2^31`: a non-negative i32.
        let len_i32 = len as i32;
        arm(&mut self.store, self.limits.timeout);

        let ptr = self.run(|s, x| x.alloc.call(s, len_i32))?;
        if ptr == 0 {
            return Err(PluginError::Abi(format!("tl_alloc({len}) returned 0")));
        }
        let dst = match range(self.memory.data_size(&self.store), ptr, len_i32) {
            Some(r) => &mut self.memory.data_mut(&mut self.store)[r],
            None => {
                return Err(PluginError::Abi(format!(
                    "tl_alloc({len}) returned an out-of-bounds buffer at {}",
                    ptr as u32
                )));
            }
        };
        dst.copy_from_slice(request);

        let code = self.run(|s, x| x.call.call(s, (ptr, len_i32)))?;
        let result = self.read_result(code);
        if self.poisoned {
            return result;
        }
        self.run(|s, x| x.free.call(s, (ptr, len_i32)))?;
        result
    }

    /// The status of `code` and a copy of the result buffer.
    fn read_result(&mut self, code: i32) -> Result<(Status, Vec<u8>), PluginError> {
        let status = Status::from_code(code)
            .ok_or_else(|| PluginError::Abi(format!("tl_call returned unknown status {code}")))?;
        let ptr = self.run(|s, x| x.result_ptr.call(s, ()))?;
        let len = self.run(|s, x| x.result_len.call(s, ()))?;
        let data = self.memory.data(&self.store);
        match range(data.len(), ptr, len) {
            Some(r) => Ok((status, data[r].to_vec())),
            None => Err(PluginError::Abi(format!(
                "result buffer of {} bytes at {} is outside the {}-byte memory",
                len as u32,
                ptr as u32,
                data.len()
            ))),
        }
    }

    /// Creates a fresh engine in the plugin (replacing any current one).
    pub fn create(&mut self, config: EngineConfig, seed: u64, now: i64) -> Result<(), PluginError> {
        let request = Request::Create {
            config: Box::new(config),
            seed,
            now,
        };
        match self.call(&request)? {
            Response::Ready => Ok(()),
            other => Err(unexpected("Create", &other)),
        }
    }

    /// Replaces the plugin's engine by one restored from checkpoint bytes (as returned by
    /// [`Plugin::snapshot`] or `tradeloop_core::Engine::snapshot`).
    pub fn restore(&mut self, checkpoint: &[u8]) -> Result<(), PluginError> {
        match self.call(&Request::Restore(checkpoint.to_vec()))? {
            Response::Ready => Ok(()),
            other => Err(unexpected("Restore", &other)),
        }
    }

    /// Applies one command at time `now` (ms since the Unix epoch) and returns its reply.
    pub fn apply(&mut self, command: Command, now: i64) -> Result<Reply, PluginError> {
        match self.call(&Request::Apply { command, now })? {
            Response::Reply(reply) => Ok(*reply),
            other => Err(unexpected("Apply", &other)),
        }
    }

    /// The engine's checkpoint bytes.
    pub fn snapshot(&mut self) -> Result<Vec<u8>, PluginError> {
        match self.call(&Request::Snapshot)? {
            Response::Snapshot(bytes) => Ok(bytes),
            other => Err(unexpected("Snapshot", &other)),
        }
    }

    /// Messages the plugin logged through `tradeloop_host.log` since the last call to this,
    /// oldest first, as (level, text). Texts are decoded lossily and truncated to 64 KiB;
    /// past 1024 messages the rest are dropped and a last entry (level 1) says how many.
    pub fn take_log(&mut self) -> Vec<(i32, String)> {
        let state = self.store.data_mut();
        let mut log = std::mem::take(&mut state.log);
        if state.log_dropped > 0 {
            log.push((
                1,
                format!("{} more log messages dropped", state.log_dropped),
            ));
            state.log_dropped = 0;
        }
        log
    }

    /// Sets what the plugin's `rank` import runs (`None`: rankings fail with "no ranker").
    pub fn set_ranker(&mut self, ranker: Option<RankFn>) {
        self.store.data_mut().ranker = ranker;
    }

    /// Whether an earlier trap, timeout or memory-limit hit poisoned this instance (every
    /// call now fails with [`PluginError::Abi`]).
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// The limits this plugin runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn check_poisoned(&self) -> Result<(), PluginError> {
        if self.poisoned {
            Err(PluginError::Abi(POISONED.into()))
        } else {
            Ok(())
        }
    }

    /// Runs one export; any error poisons the instance.
    fn run<R>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>, &Exports) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        self.check_poisoned()?;
        f(&mut self.store, &self.exports).map_err(|e| {
            self.poisoned = true;
            classify(&self.store, &e)
        })
    }
}

fn unexpected(request: &str, response: &Response) -> PluginError {
    let kind = match response {
        Response::Ready => "Ready",
        Response::Reply(_) => "Reply",
        Response::Snapshot(_) => "Snapshot",
    };
    PluginError::Abi(format!("unexpected response {kind} to {request}"))
}

/// The module's exports, typed.
struct Exports {
    abi_version: TypedFunc<(), i32>,
    alloc: TypedFunc<i32, i32>,
    free: TypedFunc<(i32, i32), ()>,
    call: TypedFunc<(i32, i32), i32>,
    result_ptr: TypedFunc<(), i32>,
    result_len: TypedFunc<(), i32>,
}

impl Exports {
    fn get(instance: &Instance, store: &mut Store<HostState>) -> Result<Self, PluginError> {
        fn get<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
            instance: &Instance,
            store: &mut Store<HostState>,
            name: &str,
        ) -> Result<TypedFunc<P, R>, PluginError> {
            instance
                .get_typed_func(&mut *store, name)
                .map_err(|e| PluginError::Abi(format!("export `{name}`: {}", chain(&e))))
        }
        Ok(Self {
            abi_version: get(instance, store, "tl_abi_version")?,
            alloc: get(instance, store, "tl_alloc")?,
            free: get(instance, store, "tl_free")?,
            call: get(instance, store, "tl_call")?,
            result_ptr: get(instance, store, "tl_result_ptr")?,
            result_len: get(instance, store, "tl_result_len")?,
        })
    }
}

/// What the store carries for the host.
struct HostState {
    limiter: Limiter,
    /// When the running call times out (`None`: never).
    deadline: Option<Instant>,
    /// The epoch callback interrupted the call.
    timed_out: bool,
    log: Vec<(i32, String)>,
    log_dropped: usize,
    /// What the `rank` import runs (`None`: no model loaded).
    ranker: Option<RankFn>,
    /// The `rank` import's answer, until `rank_result` copies it.
    rank_answer: Option<Vec<u8>>,
}

/// wasmtime's [`StoreLimits`], remembering whether the cap was what stopped a growth.
struct Limiter {
    inner: StoreLimits,
    cap: usize,
    hit: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.hit = true;
        }
        self.inner.memory_growing(current, desired, maximum)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// Starts the time limit of one call: a deadline `timeout` from now, checked on every
/// epoch tick.
fn arm(store: &mut Store<HostState>, timeout: Duration) {
    let state = store.data_mut();
    state.deadline = Instant::now().checked_add(timeout);
    state.timed_out = false;
    state.limiter.hit = false;
    store.set_epoch_deadline(1);
}

/// The error for a failed export call or instantiation.
fn classify(store: &Store<HostState>, error: &wasmtime::Error) -> PluginError {
    let state = store.data();
    if state.timed_out || error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        PluginError::Timeout
    } else if state.limiter.hit {
        PluginError::MemoryLimit
    } else {
        PluginError::Trap(chain(error))
    }
}

/// An error and its causes, `: `-separated.
fn chain(error: &wasmtime::Error) -> String {
    error
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// The byte range `ptr..ptr + len` (both read as unsigned 32-bit) if it lies within a
/// memory of `size` bytes.
fn range(size: usize, ptr: i32, len: i32) -> Option<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start.checked_add(len as u32 as usize)?;
    (end <= size).then_some(start..end)
}

/// The `tradeloop_host.log(level, ptr, len)` import.
fn host_log(mut caller: Caller<'_, HostState>, level: i32, ptr: i32, len: i32) {
    let text = match caller.get_export("memory").and_then(Extern::into_memory) {
        Some(memory) => {
            let data = memory.data(&caller);
            match range(data.len(), ptr, len) {
                Some(r) => {
                    let bytes = &data[r];
                    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_LOG_MESSAGE)]).into_owned()
                }
                None => format!(
                    "<log message out of bounds: {} bytes at {}>",
                    len as u32, ptr as u32
                ),
            }
        }
        None => "<log message from a module without memory>".to_string(),
    };
    let state = caller.data_mut();
    if state.log.len() < MAX_LOG_ENTRIES {
        state.log.push((level, text));
    } else {
        state.log_dropped += 1;
    }
}

/// The `tradeloop_host.rank(ptr, len, dim) -> i32` import: scores the rows in the module's
/// buffer and keeps the postcard [`RankAnswer`]; returns its length (-1: no memory). Every
/// failure (bad buffer, no model, ranker error) is an `Err` answer the engine turns into a
/// typed error.
fn host_rank(mut caller: Caller<'_, HostState>, ptr: i32, len: i32, dim: i32) -> i32 {
    let Some(memory) = caller.get_export("memory").and_then(Extern::into_memory) else {
        return -1;
    };
    let Some(ranker) = caller.data().ranker.clone() else {
        caller.data_mut().rank_answer = None;
        return tradeloop_core::abi::RANK_NO_RANKER;
    };
    let answer: RankAnswer = {
        let data = memory.data(&caller);
        match (range(data.len(), ptr, len), usize::try_from(dim)) {
            (Some(r), Ok(dim)) if r.len() <= MAX_RANK_BYTES => {
                match tradeloop_core::abi::decode_rows(&data[r], dim) {
                    None => Err(format!("rank rows are not whole rows of {dim} f32 values")),
                    Some(rows) => ranker(&rows, dim),
                }
            }
            _ => Err(format!(
                "rank rows out of bounds: {} bytes at {} (dim {dim})",
                len as u32, ptr as u32
            )),
        }
    };
    let bytes = postcard::to_allocvec(&answer).unwrap_or_default();
    let n = i32::try_from(bytes.len()).unwrap_or(-1);
    caller.data_mut().rank_answer = Some(bytes);
    n
}

/// The `tradeloop_host.rank_result(ptr, len) -> i32` import: copies the answer of the last
/// `rank` call into the module's buffer of exactly its length; 0 on success, 1 otherwise.
fn host_rank_result(mut caller: Caller<'_, HostState>, ptr: i32, len: i32) -> i32 {
    let Some(answer) = caller.data_mut().rank_answer.take() else {
        return 1;
    };
    let Some(memory) = caller.get_export("memory").and_then(Extern::into_memory) else {
        return 1;
    };
    let data = memory.data_mut(&mut caller);
    match range(data.len(), ptr, len) {
        Some(r) if r.len() == answer.len() => {
            data[r].copy_from_slice(&answer);
            0
        }
        _ => 1,
    }
}

/// Compiles `wasm` (binary or WAT text) for `engine`.
fn compile(engine: &Engine, wasm: &[u8]) -> Result<Module, String> {
    Module::new(engine, wasm).map_err(|e| format!("the module does not compile: {}", chain(&e)))
}

/// The process's one wasmtime engine (epoch interruption on), shared by every plugin.
fn shared_engine() -> Result<&'static Engine, PluginError> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = Config::new();
            config.epoch_interruption(true);
            Engine::new(&config).map_err(|e| chain(&e))
        })
        .as_ref()
        .map_err(|e| PluginError::Abi(format!("cannot create the wasmtime engine: {e}")))
}

/// A thread incrementing the shared engine's epoch every [`TICK`], alive while some
/// plugin holds it.
struct Ticker {
    thread: Option<JoinHandle<()>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            // The thread only sleeps and ticks; it cannot panic in a way worth reporting.
            let _ = thread.join();
        }
    }
}

/// The running ticker, or a new one.
fn ticker() -> Result<Arc<Ticker>, PluginError> {
    static CURRENT: Mutex<Weak<Ticker>> = Mutex::new(Weak::new());
    let mut current = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = current.upgrade() {
        return Ok(t);
    }
    let engine = shared_engine()?.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("tradeloop-epoch".into())
        .spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::park_timeout(TICK);
                engine.increment_epoch();
            }
        })
        .map_err(|e| PluginError::Abi(format!("cannot start the epoch ticker thread: {e}")))?;
    let t = Arc::new(Ticker {
        thread: Some(thread),
        stop,
    });
    *current = Arc::downgrade(&t);
    Ok(t)
}
