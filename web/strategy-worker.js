// Strategy experiments in a Worker: runs strategy modules (strategy ABI v1,
// docs/STRATEGY_ABI.md) side by side over the same bars, the browser's twin of
// `tradeloop experiment`. Everything but the WebAssembly runtime is tradeloop-wasm's
// `BacktestFeed` / `StrategyRun` (the tradeloop-backtest crate the native host runs), so the
// same modules, bars, parameters and seed give the same trade hashes here and natively.
//
// Containment, as in `tradeloop experiment` (host/src/experiment/sandbox.rs), a strategy at a
// time: a module that imports anything but the ABI's functions (the reason names the
// import), lacks an export, or declares a memory larger than the cap is refused at load; one
// that traps or throws during its setup (or speaks another ABI version) could not start;
// while it runs, a strategy that traps or throws, or whose memory grows past the cap, is
// stopped at that bar. Any of these stops that strategy only (its broker closes its
// position, its trades so far count); the others go on. There is no fuel here: the page
// enforces a time budget by terminating this Worker (web/strategies.js).
//
// Messages in:  { type: 'run', csv?: string, url?: string (of a CSV file),
//                 packed?: Float64Array (6 numbers a bar: time ms, open, high, low, close, volume),
//                 symbol: string, seed: number | bigint, costs?: { cash, fee_rate, slippage },
//                 memoryCap?: bytes (default 64 MiB),
//                 strategies: [{ name, bytes: ArrayBuffer | Uint8Array, params?: { k: number } }] }
// Messages out: { type: 'loading', name }  (before each module's compilation and setup)
//               { type: 'loaded', strategies: [{ name, refused: string | null }], bars }
//               { type: 'progress', bar, bars, running: [names], stopped: [names] }  (~10 a second)
//               { type: 'done', results: [StrategyResult], bars, ms }
//               { type: 'error', message, kind }  (bad data or arguments: nothing ran)
// StrategyResult: { name, refused: string | null (why it was refused at load), trade_hash
//                   (16 hex digits), trades (count), trade_list, metrics, stopped: { bar,
//                   reason } | null, fills, rejections, engine_refusals, logs, logs_dropped,
//                   equity: Float64Array }: StrategyRun.finish()'s result.

import init, { BacktestFeed, StrategyRun } from './pkg-full/tradeloop_wasm.js';

const IMPORT_MODULE = 'tradeloop_strategy';
const IMPORTS = ['history', 'features', 'suggest', 'param', 'log'];
const REQUIRED = ['tls_abi_version', 'tls_alloc', 'tls_init', 'tls_on_bar'];
const ABI_VERSION = 1;
const MAX_ACTIONS = 16;
const ACTION_SIZE = 32;
const MAX_INPUT = 88 + 64 * 32;
const CONFIG_SIZE = 56;
const FILL_SIZE = 48;
const SUGGESTION_SIZE = 48;
const PAGE = 65536;
const DEFAULT_MEMORY_CAP = 64 * 1024 * 1024;
const PROGRESS_MS = 100;

// ------------------------------------------------------------------ the module's bytes

/** Reads an unsigned LEB128 at `at`: [value, next offset]. */
function leb(b, at) {
  let v = 0;
  let mul = 1;
  for (let k = 0; k < 10; k++) {
    if (at >= b.length) throw new Error('truncated');
    const x = b[at++];
    v += (x & 0x7f) * mul;
    if (x < 0x80) return [v, at];
    mul *= 128;
  }
  throw new Error('bad LEB128');
}

function encodeLeb(v) {
  const out = [];
  do {
    let x = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) x |= 0x80;
    out.push(x);
  } while (v > 0);
  return out;
}

/**
 * The module's own memory, from its memory section (section 5): `{ min, max }` in pages (or
 * null without one), and the bytes with that section rewritten so the memory cannot grow
 * past twice the cap (a grow beyond fails as at a declared maximum). A grow past the cap
 * itself stops the strategy after the call (`Strategy.call`); the bound keeps a module from
 * taking gigabytes before that. Throws a readable reason for a memory this host cannot run.
 */
function memoryOf(bytes, capPages) {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new Error('not a WebAssembly module');
  }
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at];
    const [size, body] = leb(bytes, at + 1);
    const end = body + size;
    if (end > bytes.length) throw new Error('truncated section');
    if (id === 5) {
      let [count, p] = leb(bytes, body);
      if (count === 0) return { memory: null, bytes };
      if (count > 1) throw new Error(`declares ${count} memories (the ABI has one)`);
      const flags = bytes[p++];
      if (flags & 2) throw new Error('declares a shared memory (strategies run on one thread)');
      if (flags & 4) throw new Error('declares a 64-bit memory');
      if (flags > 1) throw new Error(`declares a memory with unknown flags ${flags}`);
      let min;
      let max = null;
      [min, p] = leb(bytes, p);
      if (flags & 1) [max, p] = leb(bytes, p);
      if (p !== end) throw new Error('malformed memory section');
      const limit = Math.min(max ?? Infinity, 2 * capPages, 65536);
      if (limit === max) return { memory: { min, max }, bytes };
      const content = [1, 1, ...encodeLeb(min), ...encodeLeb(Math.max(limit, min))];
      const section = [5, ...encodeLeb(content.length), ...content];
      const out = new Uint8Array(bytes.length - (end - at) + section.length);
      out.set(bytes.subarray(0, at), 0);
      out.set(section, at);
      out.set(bytes.subarray(end), at + section.length);
      return { memory: { min, max }, bytes: out };
    }
    at = end;
  }
  return { memory: null, bytes };
}

/** Compiles and checks a module; throws the reason it is refused. */
async function load(raw, cap) {
  let bytes = raw instanceof Uint8Array ? raw : new Uint8Array(raw);
  let mem;
  try {
    mem = memoryOf(bytes, Math.floor(cap / PAGE));
  } catch (e) {
    // Let the engine say what is wrong with bytes that are no module at all.
    await WebAssembly.compile(bytes);
    throw e;
  }
  if (mem.memory && mem.memory.min * PAGE > cap) {
    throw new Error(
      `declares ${mem.memory.min} pages of memory (${mib(mem.memory.min * PAGE)}), more than the cap of ${mib(cap)}`,
    );
  }
  bytes = mem.bytes;
  const module = await WebAssembly.compile(bytes);
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module !== IMPORT_MODULE || !IMPORTS.includes(imp.name) || imp.kind !== 'function') {
      throw new Error(
        `imports ${imp.module}.${imp.name} (a ${imp.kind}), which strategy ABI v1 does not offer ` +
          `(a strategy may import only the functions ${IMPORT_MODULE}.{${IMPORTS.join(', ')}})`,
      );
    }
  }
  const exports = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  if (exports.get('memory') !== 'memory') throw new Error('does not export its memory as "memory"');
  for (const f of REQUIRED) {
    if (exports.get(f) !== 'function') throw new Error(`does not export the function ${f}`);
  }
  if (!mem.memory) throw new Error('has no memory of its own');
  return module;
}

const mib = (b) => `${(b / 1048576).toFixed(b % 1048576 ? 1 : 0)} MiB`;

/**
 * A thrown value as a stop reason, in the native host's words where there is one
 * (host/src/experiment/sandbox.rs): "trapped: unreachable (a panic?)", "stack overflow".
 */
function reason(e) {
  if (e instanceof WebAssembly.RuntimeError) {
    return e.message === 'unreachable' ? 'trapped: unreachable (a panic?)' : `trapped: ${e.message}`;
  }
  if (e instanceof RangeError && /call stack/i.test(e.message)) return 'stack overflow';
  if (e instanceof Error) return `failed: ${e.name}: ${e.message}`;
  return `failed: threw ${String(e)}`;
}

// ------------------------------------------------------------------ one strategy

/** A strategy's instance, its StrategyRun and its buffers in its memory. */
class Strategy {
  constructor(name, run, cap) {
    this.name = name;
    this.run = run;
    this.cap = cap;
    this.refused = null; // why the module was refused at load
    this.x = null; // the instance's exports
    this.memory = null;
    this.ptr = {};
    this.dead = false; // stopped: never call the module again
  }

  /** The module's memory now (its buffer changes when it grows). */
  bytes() {
    return new Uint8Array(this.memory.buffer);
  }

  /**
   * `len` bytes at `at` (an i32 from the module: negative is outside) lie in the memory
   * (none before instantiation ends: a start function's import calls get -1).
   */
  inside(at, len) {
    return this.memory !== null && at >= 0 && len >= 0 && at + len <= this.memory.buffer.byteLength;
  }

  /** Stops the strategy at bar `i` ("<why> at bar <i>", as the native host says it). */
  stop(i, why) {
    this.stopWith(i, `${why} at bar ${i}`);
  }

  /** Stops the strategy at bar `i` for `reason`. */
  stopWith(i, reason) {
    if (this.dead) return;
    this.dead = true;
    this.run.stop(i, reason);
  }

  memoryCap() {
    return `memory cap (${Math.floor(this.cap / 1048576)} MiB) reached`;
  }

  /**
   * Calls export `f`; a throw, a trap or a memory past the cap stops the strategy at bar `i`
   * (returns undefined). In setup (`i` null) it throws the reason instead.
   */
  call(i, f, ...args) {
    let r;
    let why = null;
    try {
      r = f(...args);
    } catch (e) {
      why = reason(e);
    }
    // A grow past the cap traps natively: the same call ends the strategy here.
    if (this.memory && this.memory.buffer.byteLength > this.cap) why = this.memoryCap();
    if (why === null) return r;
    if (i === null) throw new Error(why);
    this.stop(i, why);
    return undefined;
  }

  /** The imports, bound to this strategy: host/src/experiment/sandbox.rs's checks. */
  imports() {
    const s = this;
    return {
      [IMPORT_MODULE]: {
        history(from, count, out) {
          const bars = s.run.history(from, count);
          if (bars === undefined) return -1;
          if (!s.inside(out, bars.length)) return -1;
          s.bytes().set(bars, out);
          return bars.length / 48;
        },
        features(out) {
          const f = s.run.features();
          if (f === undefined) return 0;
          if (!s.inside(out, f.length)) return -1;
          s.bytes().set(f, out);
          return 32;
        },
        suggest(side, features, n, out) {
          if (n < 0) return -1;
          const len = Math.min(n, 65536) * 4;
          if (!s.inside(features, len) || !s.inside(out, SUGGESTION_SIZE)) return -1;
          if (n > 65536) return -2;
          const r = s.run.suggest(side, s.bytes().subarray(features, features + len));
          if (typeof r === 'number') return r;
          s.bytes().set(r, out);
          return 0;
        },
        param(name, len, out) {
          if (len < 0) return -1;
          len = Math.min(len, 256);
          if (!s.inside(name, len) || !s.inside(out, 8)) return -1;
          const v = s.run.param(s.bytes().subarray(name, name + len));
          if (v === undefined) return 0;
          new DataView(s.memory.buffer).setFloat64(out, v, true);
          return 1;
        },
        log(msg, len) {
          if (len < 0 || !s.inside(msg, Math.min(len, 256))) {
            s.run.logDropped();
            return;
          }
          s.run.log(s.bytes().subarray(msg, msg + Math.min(len, 256)));
        },
      },
    };
  }

  /**
   * Instantiates the module and runs the ABI's setup (tls_abi_version, tls_alloc of the
   * host's buffers, tls_init); throws why it could not start.
   */
  async setup(module, seed) {
    const instance = await WebAssembly.instantiate(module, this.imports());
    const x = instance.exports;
    this.memory = x.memory;
    if (this.memory.buffer.byteLength > this.cap) throw new Error(this.memoryCap());
    const version = this.call(null, x.tls_abi_version);
    if (version !== ABI_VERSION) {
      throw new Error(`speaks strategy ABI version ${version}; this host speaks ${ABI_VERSION}`);
    }
    const params = new TextEncoder().encode(this.run.paramsText);
    // The order and sizes of tradeloop experiment: config, params (at least 1 byte), input,
    // actions, fill.
    const sizes = [
      ['config', CONFIG_SIZE],
      ['params', Math.max(params.length, 1)],
      ['input', MAX_INPUT],
      ['actions', MAX_ACTIONS * ACTION_SIZE],
      ['fill', FILL_SIZE],
    ];
    for (const [k, len] of sizes) {
      const p = this.call(null, x.tls_alloc, len);
      if (p === 0 || !this.inside(p, len)) {
        throw new Error(`tls_alloc(${len}) gave ${p}, not a buffer inside its memory`);
      }
      this.ptr[k] = p;
    }
    this.bytes().set(this.run.config(), this.ptr.config);
    this.bytes().set(params, this.ptr.params);
    const seed64 = BigInt.asIntN(64, BigInt(seed));
    const warmup = this.call(null, x.tls_init, this.ptr.config, CONFIG_SIZE, this.ptr.params, params.length, seed64);
    this.x = x;
    this.run.started(warmup);
    if (warmup < 0) this.dead = true;
  }

  /** Bar `i`: fills, then `tls_on_bar` (a stopped strategy's broker still trades out). */
  step(i) {
    const fills = this.run.openBar(i);
    if (this.dead) return;
    const onFill = this.x.tls_on_fill;
    for (let k = 0; onFill && k < fills.length; k += FILL_SIZE) {
      this.bytes().set(fills.subarray(k, k + FILL_SIZE), this.ptr.fill);
      this.call(i, onFill, this.ptr.fill, FILL_SIZE);
      if (this.dead) return;
    }
    if (!this.run.wantsBar(i)) return;
    const input = this.run.input(i);
    this.bytes().set(input, this.ptr.input);
    const n = this.call(i, this.x.tls_on_bar, this.ptr.input, input.length, this.ptr.actions, MAX_ACTIONS);
    if (this.dead) return;
    let actions = new Uint8Array(0);
    if (n >= 0 && n <= MAX_ACTIONS) {
      if (!this.inside(this.ptr.actions, n * ACTION_SIZE)) {
        this.stop(i, 'its action buffer left its memory');
        return;
      }
      actions = this.bytes().slice(this.ptr.actions, this.ptr.actions + n * ACTION_SIZE);
    }
    this.run.submit(i, n, actions);
    if (n < 0) this.dead = true;
  }

  /** `tls_on_end` (unless stopped), then the run's result. */
  finish(last) {
    if (!this.dead && this.x?.tls_on_end) this.call(last, this.x.tls_on_end);
    const r = this.run.finish();
    this.run.free();
    return r;
  }
}

// ------------------------------------------------------------------ an experiment

async function experiment(msg) {
  const t0 = performance.now();
  const cap = msg.memoryCap ?? DEFAULT_MEMORY_CAP;
  if (!(cap >= PAGE && cap <= 4096 * 1048576)) throw new Error(`memoryCap must be 64 KiB to 4 GiB (got ${cap})`);
  let feed;
  if (msg.url !== undefined) {
    const res = await fetch(msg.url);
    if (!res.ok) throw new Error(`${msg.url}: HTTP ${res.status}`);
    feed = BacktestFeed.fromCsv(await res.text());
  } else if (msg.csv !== undefined) {
    feed = BacktestFeed.fromCsv(msg.csv);
  } else {
    feed = BacktestFeed.fromPacked(msg.packed);
  }
  const bars = feed.length;
  const start = feed.freshEngine(msg.seed);
  const strategies = [];
  try {
    for (const def of msg.strategies) {
      postMessage({ type: 'loading', name: def.name });
      const run = new StrategyRun(feed, msg.symbol, msg.costs ?? null, start, def.params ?? null);
      const s = new Strategy(def.name, run, cap);
      strategies.push(s);
      let module;
      try {
        module = await load(def.bytes, cap);
      } catch (e) {
        s.refused = e.message || String(e);
        s.stopWith(0, `refused at load: ${s.refused}`);
        continue;
      }
      try {
        await s.setup(module, msg.seed);
      } catch (e) {
        s.stopWith(0, `could not start: ${e.message || String(e)}`);
      }
    }
  } catch (e) {
    for (const s of strategies) s.run.free();
    throw e;
  }
  postMessage({
    type: 'loaded',
    bars,
    strategies: strategies.map((s) => ({ name: s.name, refused: s.refused })),
  });
  let posted = performance.now();
  const progress = (bar) => {
    postMessage({
      type: 'progress',
      bar,
      bars,
      running: strategies.filter((s) => !s.dead).map((s) => s.name),
      stopped: strategies.filter((s) => s.dead).map((s) => s.name),
    });
    posted = performance.now();
  };
  progress(0);
  for (let i = 0; i < bars; i++) {
    for (const s of strategies) s.step(i);
    if ((i & 63) === 63 && performance.now() - posted >= PROGRESS_MS) progress(i + 1);
  }
  progress(bars);
  const results = strategies.map((s) => {
    const r = s.finish(bars - 1);
    return {
      name: s.name,
      refused: s.refused,
      trade_hash: r.trade_hash,
      trades: r.trades.length,
      trade_list: r.trades,
      metrics: r.metrics,
      stopped: r.stopped,
      fills: r.fills,
      rejections: r.rejections,
      engine_refusals: r.engine_refusals,
      logs: r.logs,
      logs_dropped: r.logs_dropped,
      equity: r.equity,
    };
  });
  feed.free();
  postMessage({ type: 'done', results, bars, ms: performance.now() - t0 }, results.map((r) => r.equity.buffer));
}

const ready = init();

self.onmessage = async (ev) => {
  const msg = ev.data;
  try {
    await ready;
    if (msg?.type !== 'run') throw new Error(`unknown message ${JSON.stringify(msg?.type)}`);
    const names = new Set();
    for (const d of msg.strategies ?? []) {
      if (names.has(d.name)) throw new Error(`two strategies are named ${d.name}`);
      names.add(d.name);
    }
    await experiment(msg);
  } catch (e) {
    postMessage({ type: 'error', message: e?.message ?? String(e), kind: e?.kind ?? e?.name ?? 'Error' });
  }
};
