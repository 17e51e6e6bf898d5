//! One strategy module in wasmtime: its own `Store` with a fuel budget per call, a memory
//! cap and a fixed stack, the imports of strategy ABI v1 served from its [`Run`], and bounds
//! checks on every pointer it hands over. Anything that goes wrong stops this strategy only.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail};

use crate::module_cache;
use tradeloop_backtest::{Feed, Run};
use tradeloop_strategy::abi::{
    self, Action, CANDLE_FEATURES, Config, Fill, IMPORT_MODULE, MAX_ACTIONS, MAX_INPUT,
    MAX_LOG_LINE, MAX_LOG_LINES, Suggestion,
};
use wasmtime::{
    Caller, Config as WasmConfig, Engine, Extern, Instance, Linker, Memory, Module, Store,
    StoreLimits, StoreLimitsBuilder, Trap, TypedFunc,
};

/// The imports a module may declare, with their meaning for messages.
const IMPORTS: [&str; 5] = ["history", "features", "suggest", "param", "log"];

/// Fuel charged for each bar `history` copies, and for a `suggest` (the host's work on the
/// module's behalf counts against its budget).
const HISTORY_FUEL_PER_BAR: u64 = 20;
const SUGGEST_FUEL: u64 = 200_000;
/// The fixed stack of every module.
const STACK: usize = 512 * 1024;

/// Limits of one strategy.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Fuel for one call (`tls_on_bar`, `tls_on_fill`; `tls_init` gets ten times it).
    pub fuel_per_call: u64,
    /// Largest linear memory, bytes.
    pub memory: usize,
}

/// The wasmtime engine every strategy runs on: deterministic execution.
pub fn engine() -> anyhow::Result<Engine> {
    let mut c = WasmConfig::new();
    c.consume_fuel(true)
        .cranelift_nan_canonicalization(true)
        .wasm_relaxed_simd(false)
        .relaxed_simd_deterministic(true)
        .max_wasm_stack(STACK);
    Engine::new(&c).map_err(|e| anyhow!("cannot create the wasmtime engine: {e:#}"))
}

/// Compiles `bytes` (a `.wasm` file, or WebAssembly text), or reads it compiled from the
/// module cache in `cache` ([`crate::module_cache`]), and checks its imports and exports
/// against the ABI, naming the first thing that is wrong.
pub fn compile(engine: &Engine, bytes: &[u8], cache: Option<&Path>) -> anyhow::Result<Module> {
    let (module, _) =
        module_cache::load_or_compile(module_cache::Kind::Strategy, engine, bytes, cache)
            .map_err(|e| anyhow!("not a valid module: {e}"))?;
    for i in module.imports() {
        if i.module() != IMPORT_MODULE || !IMPORTS.contains(&i.name()) {
            bail!(
                "imports `{}.{}`, which strategy ABI v1 does not offer (a strategy may import only \
                 {IMPORT_MODULE}.{{{}}}; WASI and other host functions are refused)",
                i.module(),
                i.name(),
                IMPORTS.join(", ")
            );
        }
    }
    for (name, what) in [
        ("memory", "its memory"),
        ("tls_abi_version", "the ABI version marker"),
        ("tls_alloc", "an allocator"),
        ("tls_init", "init"),
        ("tls_on_bar", "on_bar"),
    ] {
        if module.get_export(name).is_none() {
            bail!("does not export `{name}` ({what}); see docs/STRATEGY_ABI.md");
        }
    }
    Ok(module)
}

struct Guest {
    run: Run,
    feed: Arc<Feed>,
    params: String,
    memory: Option<Memory>,
    limits: StoreLimits,
    logs: Vec<String>,
    dropped_logs: u32,
    scratch: Vec<u8>,
}

/// Bytes `[ptr, ptr + len)` of the module's memory, if they are inside it.
fn span(ptr: i32, len: usize, size: usize) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(ptr).ok()?;
    let end = start.checked_add(len)?;
    (end <= size).then_some(start..end)
}

fn charge(caller: &mut Caller<'_, Guest>, fuel: u64) -> wasmtime::Result<()> {
    let left = caller.get_fuel()?;
    if left < fuel {
        caller.set_fuel(0)?;
        return Err(Trap::OutOfFuel.into());
    }
    caller.set_fuel(left - fuel)?;
    Ok(())
}

fn linker(engine: &Engine) -> wasmtime::Result<Linker<Guest>> {
    let mut l = Linker::new(engine);
    l.func_wrap(
        IMPORT_MODULE,
        "history",
        |mut c: Caller<'_, Guest>, from: i32, count: i32, out: i32| -> wasmtime::Result<i32> {
            let (Ok(from), Ok(count)) = (u32::try_from(from), u32::try_from(count)) else {
                return Ok(-1);
            };
            // A start function runs before the memory is known: it gets no service.
            let Some(mem) = c.data().memory else {
                return Ok(-1);
            };
            let g = c.data_mut();
            let mut buf = std::mem::take(&mut g.scratch);
            let n = g.run.history(&g.feed, from, count, &mut buf);
            let ok = span(out, buf.len(), mem.data_size(&c))
                .map(|r| mem.data_mut(&mut c)[r].copy_from_slice(&buf))
                .is_some();
            c.data_mut().scratch = buf;
            charge(&mut c, HISTORY_FUEL_PER_BAR * n as u64)?;
            Ok(if ok { n as i32 } else { -1 })
        },
    )?;
    l.func_wrap(
        IMPORT_MODULE,
        "features",
        |mut c: Caller<'_, Guest>, out: i32| -> i32 {
            let g = c.data();
            let Some(f) = g.run.features(&g.feed).copied() else {
                return 0;
            };
            let Some(mem) = g.memory else { return -1 };
            let Some(r) = span(out, 4 * CANDLE_FEATURES, mem.data_size(&c)) else {
                return -1;
            };
            let dst = &mut mem.data_mut(&mut c)[r];
            for (d, x) in dst.chunks_exact_mut(4).zip(f) {
                d.copy_from_slice(&x.to_le_bytes());
            }
            CANDLE_FEATURES as i32
        },
    )?;
    l.func_wrap(
        IMPORT_MODULE,
        "suggest",
        |mut c: Caller<'_, Guest>,
         side: i32,
         fptr: i32,
         n: i32,
         out: i32|
         -> wasmtime::Result<i32> {
            charge(&mut c, SUGGEST_FUEL)?;
            let g = c.data();
            let Some(mem) = g.memory else { return Ok(-1) };
            let size = mem.data_size(&c);
            let Ok(n) = usize::try_from(n) else {
                return Ok(-1);
            };
            let (Some(src), Some(dst)) = (
                span(fptr, n.min(1 << 16) * 4, size),
                span(out, Suggestion::SIZE, size),
            ) else {
                return Ok(-1);
            };
            if n > 1 << 16 {
                return Ok(-2);
            }
            let f: Vec<f32> = mem.data(&c)[src]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            match g.run.suggest(&g.feed, side, &f) {
                Ok(s) => {
                    mem.data_mut(&mut c)[dst].copy_from_slice(&s.to_bytes());
                    Ok(0)
                }
                Err(code) => Ok(code),
            }
        },
    )?;
    l.func_wrap(
        IMPORT_MODULE,
        "param",
        |mut c: Caller<'_, Guest>, name: i32, len: i32, out: i32| -> i32 {
            let g = c.data();
            let Some(mem) = g.memory else { return -1 };
            let size = mem.data_size(&c);
            let Ok(len) = usize::try_from(len) else {
                return -1;
            };
            let (Some(src), Some(dst)) = (span(name, len.min(256), size), span(out, 8, size))
            else {
                return -1;
            };
            let key = String::from_utf8_lossy(&mem.data(&c)[src]).into_owned();
            match abi::param_in(&g.params, &key) {
                Some(v) => {
                    mem.data_mut(&mut c)[dst].copy_from_slice(&v.to_le_bytes());
                    1
                }
                None => 0,
            }
        },
    )?;
    l.func_wrap(
        IMPORT_MODULE,
        "log",
        |mut c: Caller<'_, Guest>, msg: i32, len: i32| {
            let g = c.data();
            let Some(mem) = g.memory else {
                c.data_mut().dropped_logs += 1;
                return;
            };
            let Some(r) = usize::try_from(len)
                .ok()
                .and_then(|len| span(msg, len.min(MAX_LOG_LINE), mem.data_size(&c)))
            else {
                c.data_mut().dropped_logs += 1;
                return;
            };
            let line = String::from_utf8_lossy(&mem.data(&c)[r]).into_owned();
            let g = c.data_mut();
            if g.logs.len() < MAX_LOG_LINES {
                g.logs.push(line);
            } else {
                g.dropped_logs += 1;
            }
        },
    )?;
    Ok(l)
}

/// What the sandbox measured about a strategy.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Usage {
    /// Fuel of each `tls_on_bar` call.
    #[serde(skip)]
    pub fuel: Vec<u64>,
    /// Largest linear memory seen, bytes.
    pub peak_memory: usize,
    /// The log lines kept.
    pub logs: Vec<String>,
    /// Log lines dropped beyond the cap.
    pub dropped_logs: u32,
}

/// A strategy instance ready to trade.
pub struct Sandbox {
    store: Store<Guest>,
    memory: Memory,
    caps: Caps,
    /// Shared so a call borrows them while the store is borrowed mutably (cloning a
    /// `TypedFunc` clones its registered type: measurable per bar).
    exports: Arc<Exports>,
    state_at: Option<i32>,
    input_at: i32,
    actions_at: i32,
    fill_at: i32,
    fuel: Vec<u64>,
    peak_memory: usize,
}

fn describe(e: &wasmtime::Error, caps: &Caps) -> String {
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => "out of fuel".into(),
        Some(Trap::StackOverflow) => "stack overflow".into(),
        Some(Trap::UnreachableCodeReached) => "trapped: unreachable (a panic?)".into(),
        Some(t) => format!("trapped: {t}"),
        None => {
            let s = format!("{e:#}");
            if s.contains("memory") && s.contains("limit")
                || s.contains("forcing trap when growing memory")
            {
                format!("memory cap ({} MiB) reached", caps.memory >> 20)
            } else {
                format!("failed: {}", s.lines().next().unwrap_or(""))
            }
        }
    }
}

impl Sandbox {
    /// Instantiates `module` for `run`, calls `tls_init` and tells `run` what it returned.
    /// An `Err` is a module that cannot start (the caller stops its run at bar 0).
    pub fn start(
        engine: &Engine,
        module: &Module,
        run: Run,
        feed: Arc<Feed>,
        params: String,
        seed: u64,
        caps: Caps,
    ) -> Result<Sandbox, (Box<Run>, String)> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(caps.memory)
            .memories(1)
            .tables(4)
            .table_elements(100_000)
            .instances(1)
            .trap_on_grow_failure(true)
            .build();
        let guest = Guest {
            run,
            feed,
            params,
            memory: None,
            limits,
            logs: Vec::new(),
            dropped_logs: 0,
            scratch: Vec::new(),
        };
        let mut store = Store::new(engine, guest);
        store.limiter(|g| &mut g.limits);
        match Self::setup(engine, module, &mut store, seed, caps) {
            Ok(p) => Ok(Sandbox {
                store,
                memory: p.memory,
                caps,
                exports: Arc::new(p.exports),
                state_at: None,
                input_at: p.input_at,
                actions_at: p.actions_at,
                fill_at: p.fill_at,
                fuel: Vec::new(),
                peak_memory: p.peak_memory,
            }),
            Err(e) => {
                let why = describe(&e, &caps);
                Err((
                    Box::new(store.into_data().run),
                    format!("could not start: {why}"),
                ))
            }
        }
    }

    fn setup(
        engine: &Engine,
        module: &Module,
        store: &mut Store<Guest>,
        seed: u64,
        caps: Caps,
    ) -> wasmtime::Result<Parts> {
        store.set_fuel(caps.fuel_per_call.saturating_mul(10))?;
        let instance: Instance = linker(engine)?.instantiate(&mut *store, module)?;
        let Some(Extern::Memory(memory)) = instance.get_export(&mut *store, "memory") else {
            wasmtime::bail!("`memory` is not a memory");
        };
        store.data_mut().memory = Some(memory);
        let version: TypedFunc<(), i32> =
            instance.get_typed_func(&mut *store, "tls_abi_version")?;
        let v = version.call(&mut *store, ())?;
        if v != abi::VERSION {
            wasmtime::bail!(
                "speaks strategy ABI version {v}; this host speaks {}",
                abi::VERSION
            );
        }
        let alloc: TypedFunc<i32, i32> = instance.get_typed_func(&mut *store, "tls_alloc")?;
        let alloc_fn = alloc.clone();
        let params = store.data().params.clone();
        let buf = |store: &mut Store<Guest>, len: usize| -> wasmtime::Result<i32> {
            let p = alloc.call(&mut *store, len as i32)?;
            if p == 0 || span(p, len, memory.data_size(&*store)).is_none() {
                wasmtime::bail!("tls_alloc({len}) gave {p}, not a buffer inside its memory");
            }
            Ok(p)
        };
        let config_at = buf(store, Config::SIZE)?;
        let params_at = buf(store, params.len().max(1))?;
        let input_at = buf(store, MAX_INPUT)?;
        let actions_at = buf(store, MAX_ACTIONS * Action::SIZE)?;
        let fill_at = buf(store, Fill::SIZE)?;
        let config = store.data().run.config().to_bytes();
        memory.write(&mut *store, config_at as usize, &config)?;
        memory.write(&mut *store, params_at as usize, params.as_bytes())?;
        let init: TypedFunc<(i32, i32, i32, i32, i64), i32> =
            instance.get_typed_func(&mut *store, "tls_init")?;
        let warmup = init.call(
            &mut *store,
            (
                config_at,
                Config::SIZE as i32,
                params_at,
                params.len() as i32,
                seed as i64,
            ),
        )?;
        store.data_mut().run.started(i64::from(warmup));
        let peak_memory = memory.data_size(&*store);
        Ok(Parts {
            exports: Exports {
                on_bar: instance.get_typed_func(&mut *store, "tls_on_bar")?,
                on_fill: instance.get_typed_func(&mut *store, "tls_on_fill").ok(),
                on_end: instance.get_typed_func(&mut *store, "tls_on_end").ok(),
                alloc: alloc_fn,
                save: instance.get_typed_func(&mut *store, "tls_save").ok(),
                load: instance.get_typed_func(&mut *store, "tls_load").ok(),
            },
            memory,
            input_at,
            actions_at,
            fill_at,
            peak_memory,
        })
    }

    /// Bar `i` for this strategy: fills, then `tls_on_bar` if it wants the bar.
    pub fn step(&mut self, i: usize) {
        if self.store.data().run.stopped().is_some() {
            // Still executes the liquidation and marks the equity.
            let g = self.store.data_mut();
            let feed = g.feed.clone();
            let _ = g.run.open_bar(&feed, i);
            return;
        }
        let feed = self.store.data().feed.clone();
        let fills = self.store.data_mut().run.open_bar(&feed, i);
        let ex = self.exports.clone();
        if let Some(on_fill) = &ex.on_fill {
            for f in fills {
                let at = self.fill_at;
                if let Err(e) = self.call(|s| {
                    self_write(s, at, &f.to_bytes())?;
                    on_fill.call(&mut s.store, (at, Fill::SIZE as i32))
                }) {
                    return self.stop(i, e);
                }
            }
        }
        if !self.store.data().run.wants_bar(i) {
            return;
        }
        // The input goes straight from the run's buffer into the module's memory.
        let (mem, g) = self.memory.data_and_store_mut(&mut self.store);
        let input = g.run.input(&feed, i);
        let len = input.len();
        match span(self.input_at, len, mem.len()) {
            Some(r) => mem[r].copy_from_slice(input),
            None => return self.stop(i, "its input buffer left its memory".into()),
        }
        let (input_at, actions_at) = (self.input_at, self.actions_at);
        let n = match self.call(|s| {
            ex.on_bar.call(
                &mut s.store,
                (input_at, len as i32, actions_at, MAX_ACTIONS as i32),
            )
        }) {
            Ok((n, fuel)) => {
                self.fuel.push(fuel);
                n
            }
            Err(e) => return self.stop(i, e),
        };
        let (mem, g) = self.memory.data_and_store_mut(&mut self.store);
        let len = if (0..=MAX_ACTIONS as i32).contains(&n) {
            n as usize * Action::SIZE
        } else {
            0
        };
        match span(actions_at, len, mem.len()) {
            Some(r) => g.run.submit(i, n, &mem[r]),
            None => self.stop(i, "its action buffer left its memory".into()),
        }
    }

    /// Runs `f` with a fresh fuel budget, records the fuel and memory it used; an error is
    /// described for the report.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> wasmtime::Result<T>,
    ) -> Result<(T, u64), String> {
        self.call_with(self.caps.fuel_per_call, f)
    }

    /// [`Sandbox::call`] with another budget (`tls_save` / `tls_load` get `init`'s).
    fn call_with<T>(
        &mut self,
        budget: u64,
        f: impl FnOnce(&mut Self) -> wasmtime::Result<T>,
    ) -> Result<(T, u64), String> {
        let caps = self.caps;
        if self.store.set_fuel(budget).is_err() {
            return Err("fuel metering is off".into());
        }
        let r = f(self);
        let used = budget - self.store.get_fuel().unwrap_or(0);
        self.peak_memory = self.peak_memory.max(self.memory.data_size(&self.store));
        r.map(|x| (x, used)).map_err(|e| describe(&e, &caps))
    }

    /// The module's state from `tls_save` (at most [`abi::MAX_STATE`] bytes), between bars.
    pub fn save(&mut self) -> Result<Vec<u8>, String> {
        let ex = self.exports.clone();
        let save = ex
            .save
            .as_ref()
            .ok_or("the module does not export tls_save")?;
        let at = self.state_buffer()?;
        let budget = self.caps.fuel_per_call.saturating_mul(10);
        let (n, _) = self.call_with(budget, |s| {
            save.call(&mut s.store, (at, abi::MAX_STATE as i32))
        })?;
        let len = usize::try_from(n).map_err(|_| format!("tls_save returned {n}"))?;
        let r = span(
            at,
            len.min(abi::MAX_STATE),
            self.memory.data_size(&self.store),
        )
        .ok_or("tls_save's state left its memory")?;
        Ok(self.memory.data(&self.store)[r].to_vec())
    }

    /// Restores a state written by [`Sandbox::save`] with `tls_load`.
    pub fn load(&mut self, state: &[u8]) -> Result<(), String> {
        let ex = self.exports.clone();
        let load = ex
            .load
            .as_ref()
            .ok_or("the module does not export tls_load")?;
        if state.len() > abi::MAX_STATE {
            return Err(format!("a state is at most {} bytes", abi::MAX_STATE));
        }
        let at = self.state_buffer()?;
        let budget = self.caps.fuel_per_call.saturating_mul(10);
        let (code, _) = self.call_with(budget, |s| {
            self_write(s, at, state)?;
            load.call(&mut s.store, (at, state.len() as i32))
        })?;
        if code == 0 {
            Ok(())
        } else {
            Err(format!("tls_load refused the state ({code})"))
        }
    }

    /// A buffer of [`abi::MAX_STATE`] bytes in the module, allocated on first use.
    fn state_buffer(&mut self) -> Result<i32, String> {
        if let Some(at) = self.state_at {
            return Ok(at);
        }
        let ex = self.exports.clone();
        let alloc = &ex.alloc;
        let budget = self.caps.fuel_per_call.saturating_mul(10);
        let (at, _) =
            self.call_with(budget, |s| alloc.call(&mut s.store, abi::MAX_STATE as i32))?;
        if at == 0 || span(at, abi::MAX_STATE, self.memory.data_size(&self.store)).is_none() {
            return Err(format!("tls_alloc gave {at} for the state buffer"));
        }
        self.state_at = Some(at);
        Ok(at)
    }

    /// The strategy's run (trades and position so far).
    pub fn run(&self) -> &Run {
        &self.store.data().run
    }

    fn stop(&mut self, i: usize, why: String) {
        self.store
            .data_mut()
            .run
            .stop(i, format!("{why} at bar {i}"));
    }

    /// Calls `tls_on_end` (unless stopped) and returns the run and what was measured.
    pub fn finish(mut self) -> (Run, Usage) {
        let ex = self.exports.clone();
        if self.store.data().run.stopped().is_none()
            && let Some(on_end) = &ex.on_end
        {
            let last = self.store.data().feed.len().saturating_sub(1);
            if let Err(e) = self.call(|s| on_end.call(&mut s.store, ())) {
                self.stop(last, e);
            }
        }
        let g = self.store.into_data();
        let usage = Usage {
            fuel: self.fuel,
            peak_memory: self.peak_memory,
            logs: g.logs,
            dropped_logs: g.dropped_logs,
        };
        (g.run, usage)
    }
}

fn self_write(s: &mut Sandbox, at: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let r = span(at, bytes.len(), s.memory.data_size(&s.store))
        .ok_or_else(|| wasmtime::format_err!("a host buffer left its memory"))?;
    s.memory.data_mut(&mut s.store)[r].copy_from_slice(bytes);
    Ok(())
}

/// The module's functions the host calls after `tls_init`.
struct Exports {
    on_bar: TypedFunc<(i32, i32, i32, i32), i32>,
    on_fill: Option<TypedFunc<(i32, i32), ()>>,
    on_end: Option<TypedFunc<(), ()>>,
    alloc: TypedFunc<i32, i32>,
    save: Option<TypedFunc<(i32, i32), i32>>,
    load: Option<TypedFunc<(i32, i32), i32>>,
}

/// What `setup` found in an instance.
struct Parts {
    memory: Memory,
    exports: Exports,
    input_at: i32,
    actions_at: i32,
    fill_at: i32,
    peak_memory: usize,
}
