#!/usr/bin/env node
// W1 side by side in ONE run, and the download sizes. Use ./run.sh (builds and installs first).
//
//   node web/bench/run.mjs [--quick] [--only RT,...] [--no-native] [--no-node] [--no-chromium]
//                          [--core-o3] [--out FILE]
//
// Runtimes (ids for --only; a bare name selects it in node and Chromium):
//   native                    `cargo bench -p tradeloop-bench -- --only W1` (every kernel backend
//                             of this CPU; the fastest is "native")
//   tradeloop-step@node|chromium  tradeloop-wasm, W1.step(x, label) per sample from JS
//   tradeloop-run@node|chromium   tradeloop-wasm, rows copied into wasm once, W1.run(i, 1) per step
//   tradeloop-step-o3@...     with --core-o3: the step variant from web/bench/pkg-core-o3 (the
//                             bench build with tradeloop-core at opt-level 3; run.sh --core-o3)
//   tfjs-wasm@node|chromium   TF.js 4.22.0 core + wasm backend (SIMD, 1 thread)
//   tfjs-cpu@node|chromium    TF.js 4.22.0 core + cpu backend (plain JS kernels)
// Every JS runtime runs in its own process (node) or page (Chromium) on the same data bits
// (web/bench/w1.js, the anchors' SplitMix64 + Box-Muller spec; the fingerprint is checked in
// every process and page). Repetitions are interleaved: rep 0 of every JS runtime, then rep 1...
// Each repetition: fresh model, warm-up steps, load gate, timed steps, accuracy.
//
// Load gate (crates/bench/src/gate.rs, the anchors' policy): a timed repetition starts only when
// the 1-minute load average is < ANCHORS_LOAD_MAX (1.2), waiting up to ANCHORS_WAIT_S (300) s per
// repetition and ANCHORS_WAIT_BUDGET_S (2400) s in all (then it runs anyway and the figure is
// flagged GATE TIMED OUT). --quick: no gate.
// rq wait = time the timed thread was runnable but waiting for a CPU (/proc/PID/schedstat of the
// node child's main thread or of the page's renderer main thread), in % of the rep's wall time.
//
// Prints one Markdown table (figures + ratios) and writes JSON to web/bench/results/.
import { fork, spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { SIZES, N_SAMPLES, EXPECTED_FINGERPRINT } from './w1.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WEB = path.dirname(HERE);
const REPO = path.dirname(WEB);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const LABELS = {
  native: 'tradeloop native (Rust, cargo bench)',
  'tradeloop-step': 'tradeloop-wasm, step(x, label) per sample',
  'tradeloop-run': 'tradeloop-wasm, run(i, 1), rows in wasm',
  'tradeloop-step-o3': 'tradeloop-wasm variant: core at opt-level 3, step(x, label)',
  'tfjs-wasm': 'TF.js wasm backend (SIMD, 1 thread)',
  'tfjs-cpu': 'TF.js cpu backend',
};
// id -> { rt: the runtime w1-node.mjs / page.html load, pkg: the tradeloop package dir }
const JS = {
  'tradeloop-step': { rt: 'tradeloop-step', pkg: 'pkg' },
  'tradeloop-run': { rt: 'tradeloop-run', pkg: 'pkg' },
  'tradeloop-step-o3': { rt: 'tradeloop-step', pkg: 'pkg-core-o3' },
  'tfjs-wasm': { rt: 'tfjs-wasm' },
  'tfjs-cpu': { rt: 'tfjs-cpu' },
};
let JS_RUNTIMES = ['tradeloop-step', 'tradeloop-run', 'tfjs-wasm', 'tfjs-cpu'];

function parseArgs(argv) {
  const a = { quick: false, only: null, native: true, node: true, chromium: true, out: null, coreO3: false };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === '--quick') a.quick = true;
    else if (x === '--only') a.only = argv[++i].split(',');
    else if (x === '--no-native') a.native = false;
    else if (x === '--no-node') a.node = false;
    else if (x === '--no-chromium') a.chromium = false;
    else if (x === '--out') a.out = argv[++i];
    else if (x === '--core-o3') a.coreO3 = true;
    else if (x === '-h' || x === '--help') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0]);
      process.exit(0);
    } else throw new Error(`unknown argument ${x}`);
  }
  return a;
}

const log = (...m) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...m);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((p, q) => p - q);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
};
const load1 = () => os.loadavg()[0];

// ---- load gate -------------------------------------------------------------------------------
class Gate {
  constructor(enabled) {
    this.enabled = enabled;
    this.limit = parseFloat(process.env.ANCHORS_LOAD_MAX || '1.2');
    this.budgetS = parseFloat(process.env.ANCHORS_WAIT_S || '300');
    // All waits of the run together (the anchors' ANCHORS_WAIT_BUDGET_S, 40 min).
    this.deadline = Date.now() + 1000 * parseFloat(process.env.ANCHORS_WAIT_BUDGET_S || '2400');
  }
  /** Waits until load1 < limit (at most budgetS); returns { load, ok }. */
  async wait(label) {
    const t0 = Date.now();
    let l = load1();
    while (this.enabled && l >= this.limit) {
      if ((Date.now() - t0) / 1000 >= this.budgetS || Date.now() >= this.deadline) {
        log(`[load] ${label}: ${l.toFixed(2)} >= ${this.limit} after ${((Date.now() - t0) / 1000).toFixed(0)} s wait (budget spent), running anyway (GATE TIMED OUT)`);
        return { load: l, ok: false };
      }
      log(`[load] ${label}: ${l.toFixed(2)} >= ${this.limit}, waiting ...`);
      await sleep(15000);
      l = load1();
    }
    return { load: l, ok: true };
  }
}

// ---- scheduler statistics (run-queue wait of the timed thread) ---------------------------------
function schedstat(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/);
    return [Number(f[0]), Number(f[1])];
  } catch { return null; }
}

function descendants(root) {
  const kids = new Map();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(e));
    } catch { /* gone */ }
  }
  const out = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop();
    for (const k of kids.get(p) || []) { out.push(k); stack.push(k); }
  }
  return out;
}

function rendererPids() {
  return descendants(process.pid).filter((p) => {
    try { return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('--type=renderer'); } catch { return false; }
  });
}

/** Snapshot of [pid -> schedstat] for the candidate pids. */
const snap = (pids) => new Map(pids.map((p) => [p, schedstat(p)]).filter(([, s]) => s));

/** rq wait % of the pid that ran most between two snapshots. */
function rqWaitPct(before, after, wallS) {
  let best = null;
  for (const [p, s1] of after) {
    const s0 = before.get(p);
    if (!s0) continue;
    const ran = s1[0] - s0[0];
    if (!best || ran > best.ran) best = { ran, wait: s1[1] - s0[1] };
  }
  return best && wallS > 0 ? (100 * best.wait) / 1e9 / wallS : null;
}

// ---- runners ----------------------------------------------------------------------------------
class NodeRunner {
  constructor(runtime) { this.runtime = runtime; this.env = 'node'; this.pending = new Map(); this.next = 0; }
  async start() {
    this.child = fork(path.join(HERE, 'w1-node.mjs'), [], { stdio: ['ignore', 2, 2, 'ipc'] });
    await new Promise((resolve, reject) => {
      this.child.once('error', reject);
      this.child.once('exit', (code) => reject(new Error(`${this.runtime}@node exited ${code}`)));
      this.child.on('message', (m) => {
        if (m.ready) { resolve(); return; }
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.result); else p.reject(new Error(`${this.runtime}@node: ${m.error}`));
      });
    });
  }
  call(cmd, args) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, cmd, args });
    });
  }
  pids() { return [this.child.pid]; }
  async close() { this.child.removeAllListeners('exit'); this.child.kill(); }
}

class PageRunner {
  constructor(browser, base, runtime) { this.browser = browser; this.base = base; this.runtime = runtime; this.env = 'chromium'; }
  async start() {
    this.ctx = await this.browser.newContext();
    this.page = await this.ctx.newPage();
    this.page.on('pageerror', (e) => log(`${this.runtime}@chromium page error: ${e}`));
    this.page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') log(`${this.runtime}@chromium console: ${m.text()}`); });
    await this.page.goto(`${this.base}/page.html?rt=${JS[this.runtime].rt}`);
    await this.page.waitForFunction(() => window.benchReady === true);
  }
  async call(cmd, args) {
    await this.page.bringToFront();
    return this.page.evaluate(([c, a]) => window.bench[c](a), [cmd, args || {}]);
  }
  pids() { return rendererPids(); }
  async close() { await this.ctx.close(); }
}

function serve(root) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '');
    if (rel === 'favicon.ico') { res.writeHead(204); res.end(); return; }
    const file = path.resolve(root, rel || 'page.html');
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404); res.end(); return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// ---- native -----------------------------------------------------------------------------------
function runNative(quick, waitS) {
  const args = ['bench', '-p', 'tradeloop-bench', '--bench', 'workloads', '--', '--only', 'W1'];
  if (quick) args.push('--quick');
  log(`native: cargo ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ANCHORS_WAIT_S: String(waitS) };
    const p = spawn('cargo', args, { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    p.stdout.on('data', (b) => { out += b; process.stderr.write(b); });
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) { reject(new Error(`cargo bench exited ${code}`)); return; }
      const figures = [];
      for (const m of out.matchAll(/^W1 (native\S*) (\d+) steps\/s$/gm)) {
        const ctx = out.match(new RegExp(`^# W1 ${m[1]}(?: \\([^)]*\\))?: backend (\\S+), reps \\[([^\\]]*)\\], [\\d.]+ us/step, train acc ([\\d.]+)%, load ([\\d.]+) -> ([\\d.]+), rq wait ([\\d.]+)%(.*)$`, 'm'));
        figures.push({
          id: m[1], value: Number(m[2]),
          backend: ctx ? ctx[1] : '?',
          reps: ctx ? ctx[2].split(',').map(Number) : [],
          accuracy: ctx ? Number(ctx[3]) / 100 : null,
          load_before: ctx ? Number(ctx[4]) : null, load_after: ctx ? Number(ctx[5]) : null,
          rq_wait_pct: ctx ? Number(ctx[6]) : null,
          gate_ok: ctx ? !ctx[7].includes('TIMED OUT') : null,
        });
      }
      const fp = out.match(/^# data fingerprint (.*)$/m);
      resolve({ figures, fingerprint: fp ? fp[1] : null, raw: out });
    });
  });
}

// ---- sizes ------------------------------------------------------------------------------------
function sizeOf(files) {
  let raw = 0, gzip = 0, brotli = 0;
  const parts = [];
  for (const f of files) {
    const b = fs.readFileSync(f);
    const g = zlib.gzipSync(b, { level: 9 }).length;
    const br = zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
    raw += b.length; gzip += g; brotli += br;
    parts.push({ file: path.relative(REPO, f), raw: b.length, gzip: g, brotli: br });
  }
  return { raw, gzip, brotli, parts };
}

function sizes(coreO3) {
  const tf = path.join(HERE, 'node_modules/@tensorflow');
  const core = path.join(tf, 'tfjs-core/dist/tf-core.min.js');
  const union = path.join(tf, 'tfjs/dist/tf.min.js');
  const wasmJs = path.join(tf, 'tfjs-backend-wasm/dist/tf-backend-wasm.min.js');
  const simdWasm = path.join(tf, 'tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm');
  const groups = [
    ['tradeloop-wasm (shipped: web/pkg, wasm + JS glue)', [path.join(WEB, 'pkg/tradeloop_wasm_bg.wasm'), path.join(WEB, 'pkg/tradeloop_wasm.js')]],
    ['tradeloop-wasm full (web/pkg-full: + schema 1-3 upgrade, inspect, rank, strategy backtests)', [path.join(WEB, 'pkg-full/tradeloop_wasm_bg.wasm'), path.join(WEB, 'pkg-full/tradeloop_wasm.js')]],
    ['tradeloop-wasm bench build (web/bench/pkg, + W1 class)', [path.join(HERE, 'pkg/tradeloop_wasm_bg.wasm'), path.join(HERE, 'pkg/tradeloop_wasm.js')]],
    ['tradeloop-wasm bench build, core at opt-level 3 (web/bench/pkg-core-o3, --core-o3)', [path.join(HERE, 'pkg-core-o3/tradeloop_wasm_bg.wasm'), path.join(HERE, 'pkg-core-o3/tradeloop_wasm.js')]],
    ['TF.js core + wasm backend (tf-core.min.js + tf-backend-wasm.min.js + SIMD .wasm; no gradients)', [core, wasmJs, simdWasm]],
    ['TF.js core + cpu backend (tf-core.min.js + tf-backend-cpu.min.js; no gradients)', [core, path.join(tf, 'tfjs-backend-cpu/dist/tf-backend-cpu.min.js')]],
    ['TF.js to train, wasm backend (tf.min.js + tf-backend-wasm.min.js + SIMD .wasm; loaded by the page)', [union, wasmJs, simdWasm]],
    ['TF.js to train, cpu backend (tf.min.js; loaded by the page)', [union]],
  ];
  const out = [];
  for (const [name, files] of groups) {
    const missing = files.filter((f) => !fs.existsSync(f));
    if (name.includes('core-o3') && !coreO3) continue;
    if (missing.length && name.startsWith('TF.js')) continue;
    if (missing.length) { out.push({ name, missing: missing.map((f) => path.relative(REPO, f)) }); continue; }
    out.push({ name, ...sizeOf(files) });
  }
  return out;
}

// ---- machine ----------------------------------------------------------------------------------
function sh(cmd, args) { try { return execFileSync(cmd, args, { encoding: 'utf8' }).trim(); } catch { return '?'; } }
function machine() {
  const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) || [])[1] || '?';
  const mem = Number((fs.readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/) || [])[1] || 0) / 1048576;
  const osr = (fs.readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)/m) || [])[1] || '?';
  return {
    cpu, vcpus: os.cpus().length, mem_gib: Math.round(mem * 10) / 10, kernel: `${os.type()} ${os.release()}`, os: osr,
    node: process.version, v8: process.versions.v8, rustc: sh('rustc', ['-V']),
  };
}

// ---- report -----------------------------------------------------------------------------------
const fmt = (x, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? '' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const kb = (b) => `${(b / 1000).toFixed(1)} kB`;  // kB = 1000 bytes, as the 100 KB goal

function report(r) {
  const L = [];
  L.push(`# W1 online update (batch 1), one run — ${r.date}${r.quick ? ' — QUICK smoke run (figures not meaningful)' : ''}`);
  L.push('');
  L.push(`machine: ${r.machine.cpu}, ${r.machine.vcpus} vCPU, ${r.machine.mem_gib} GiB, ${r.machine.kernel}, ${r.machine.os}`);
  L.push(`versions: ${r.machine.rustc}; node ${r.machine.node} (V8 ${r.machine.v8}); ${r.chromium || 'Chromium not run'}; TF.js ${r.tfjs}; ${r.tradeloop || ''}`);
  L.push(`sizes: warm-up ${r.sizes.warmup}, timed ${r.sizes.steps} steps, median of ${r.sizes.reps}; load gate ${r.gate}`);
  L.push(`data fingerprint (every process and page): ${JSON.stringify(EXPECTED_FINGERPRINT)}`);
  if (r.bitIdentical !== null) L.push(`tradeloop trained parameters bit-identical in every wasm runtime: ${r.bitIdentical ? 'yes' : 'NO'} (${[...new Set(r.hashes)].join(', ')})`);
  L.push('');
  L.push('| runtime | where | steps/s | us/step | reps (steps/s) | train acc | load before -> after | rq wait | vs native |');
  L.push('|---|---|---:|---:|---|---:|---|---:|---:|');
  const nat = r.figures.find((f) => f.id === 'native');
  for (const f of r.figures) {
    const flag = f.gate_ok === false ? ' GATE TIMED OUT' : '';
    L.push(`| ${f.label} | ${f.where} | ${fmt(f.value)} | ${fmt(1e6 / f.value, 1)} | ${f.reps.map((x) => fmt(x)).join(', ')} | ${f.accuracy === null ? '' : `${(100 * f.accuracy).toFixed(2)}%`} | ${f.load_before?.toFixed(2)} -> ${f.load_after?.toFixed(2)}${flag} | ${f.rq_wait_pct === null ? '' : `${f.rq_wait_pct.toFixed(1)}%`} | ${nat ? `${(f.value / nat.value).toFixed(3)}x` : ''} |`);
  }
  L.push('');
  L.push('ratios (steps/s over steps/s, same run):');
  for (const x of r.ratios) L.push(`- ${x.name}: ${x.ratio.toFixed(2)}x`);
  L.push('');
  L.push('| download (as a page loads it; kB = 1000 B) | raw | gzip -9 | brotli 11 |');
  L.push('|---|---:|---:|---:|');
  for (const s of r.download) {
    if (s.missing) { L.push(`| ${s.name} | missing: ${s.missing.join(', ')} | | |`); continue; }
    L.push(`| ${s.name} | ${kb(s.raw)} | ${kb(s.gzip)} | ${kb(s.brotli)} |`);
  }
  const ship = r.download[0];
  const tfStart = r.download.findIndex((x) => x.name.startsWith('TF.js'));
  if (!ship.missing) {
    L.push('');
    L.push(`tradeloop-wasm shipped: ${kb(ship.gzip)} gzip (${ship.gzip} B), goal <= 100 KB: ${ship.gzip <= 100 * 1000 ? 'met' : 'NOT met'}`);
    for (const s of r.download.slice(tfStart)) if (!s.missing) L.push(`- ${s.name}: ${(s.gzip / ship.gzip).toFixed(1)}x tradeloop-wasm (gzip)`);
  }
  return L.join('\n');
}

function ratios(figs) {
  const get = (id) => figs.find((f) => f.id === id);
  const out = [];
  const add = (a, b) => {
    const fa = get(a), fb = get(b);
    if (fa && fb) out.push({ name: `${a} / ${b}`, ratio: fa.value / fb.value });
  };
  for (const env of ['node', 'chromium']) {
    for (const tl of ['tradeloop-step', 'tradeloop-run', 'tradeloop-step-o3']) {
      add(`${tl}@${env}`, `tfjs-wasm@${env}`);
      add(`${tl}@${env}`, `tfjs-cpu@${env}`);
    }
    add(`tfjs-wasm@${env}`, `tfjs-cpu@${env}`);
    add(`tradeloop-step@${env}`, 'native');
    add(`tradeloop-run@${env}`, 'native');
    add(`tradeloop-step-o3@${env}`, 'native');
    add(`tradeloop-step-o3@${env}`, `tradeloop-step@${env}`);
    add(`tfjs-wasm@${env}`, 'native');
  }
  for (const rt of JS_RUNTIMES) add(`${rt}@chromium`, `${rt}@node`);
  return out;
}

// ---- main -------------------------------------------------------------------------------------
async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (a.coreO3) JS_RUNTIMES = ['tradeloop-step', 'tradeloop-run', 'tradeloop-step-o3', 'tfjs-wasm', 'tfjs-cpu'];
  const sz = a.quick ? SIZES.quick : SIZES.spec;
  const wants = (id) => !a.only || a.only.some((o) => o === id || o === id.split('@')[0]);
  const gate = new Gate(!a.quick);
  const started = new Date();
  const result = {
    date: started.toISOString().replace('T', ' ').slice(0, 19) + ' UTC', quick: a.quick, sizes: sz,
    gate: a.quick ? 'off (--quick)' : `1-min load < ${gate.limit}, up to ${gate.budgetS} s per rep and ${process.env.ANCHORS_WAIT_BUDGET_S || 2400} s per run (native: ${gate.budgetS} s per rep)`,
    machine: machine(), figures: [], hashes: [], bitIdentical: null,
    tfjs: (() => {
      try { return JSON.parse(fs.readFileSync(path.join(HERE, 'node_modules/@tensorflow/tfjs/package.json'), 'utf8')).version; } catch { return 'not installed'; }
    })(),
  };
  result.download = sizes(a.coreO3);
  for (const s of result.download) {
    if (s.missing) log(`size: ${s.name}: missing ${s.missing.join(', ')}`);
    else log(`size: ${s.name}: ${s.raw} B raw, ${s.gzip} B gzip -9, ${s.brotli} B brotli`);
  }

  if (a.native && wants('native')) {
    // cargo bench gates each of its 9 repetitions (3 kernel backends x 3) itself: give it the
    // per-rep wait, capped at a ninth of what is left of the run's wait budget.
    const waitS = Math.max(0, Math.floor(Math.min(gate.budgetS, (gate.deadline - Date.now()) / 1000 / 9)));
    const n = await runNative(a.quick, waitS);
    for (const f of n.figures) {
      result.figures.push({ ...f, label: f.id === 'native' ? `${LABELS.native}, ${f.backend}` : `tradeloop native, ${f.backend} kernels`, where: 'native', date: new Date().toISOString() });
    }
    result.nativeFingerprint = n.fingerprint;
  }

  const runners = [];
  let browser = null, server = null;
  try {
    if (a.node) for (const rt of JS_RUNTIMES) if (wants(`${rt}@node`)) runners.push(new NodeRunner(rt));
    if (a.chromium && JS_RUNTIMES.some((rt) => wants(`${rt}@chromium`))) {
      const req = createRequire(path.join(WEB, 'package.json'));
      const { chromium } = req('playwright-core');
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
      result.chromium = `Chromium ${browser.version()}`;
      server = await serve(HERE);
      const base = `http://127.0.0.1:${server.address().port}`;
      for (const rt of JS_RUNTIMES) if (wants(`${rt}@chromium`)) runners.push(new PageRunner(browser, base, rt));
    }
    const state = new Map();
    for (const r of runners) {
      const id = `${r.runtime}@${r.env}`;
      await r.start();
      const info = await r.call('prepare', { runtime: JS[r.runtime].rt, pkg: JS[r.runtime].pkg, sizes: sz });
      log(`${id}: ${info.version}${info.detail ? `, ${info.detail}` : ''}; fingerprint ok`);
      if (r.runtime === 'tradeloop-step') result.tradeloop = info.version;
      state.set(r, { id, info, reps: [], accs: [], loads0: [], loads1: [], rq: [], ok: true });
    }
    const nAcc = Math.min(N_SAMPLES, sz.warmup + sz.steps);
    for (let rep = 0; rep < sz.reps; rep++) {
      for (const r of runners) {
        const s = state.get(r);
        await r.call('warm');
        const g = await gate.wait(`${s.id} rep${rep}`);
        const pids = r.pids();
        const b0 = snap(pids);
        const t0 = process.hrtime.bigint();
        const secs = await r.call('timed');
        const wall = Number(process.hrtime.bigint() - t0) / 1e9;
        const rq = rqWaitPct(b0, snap(pids), wall);
        const l1 = load1();
        const fin = await r.call('finish', { n: nAcc });
        s.reps.push(sz.steps / secs); s.accs.push(fin.accuracy); s.loads0.push(g.load); s.loads1.push(l1);
        if (rq !== null) s.rq.push(rq);
        s.ok = s.ok && g.ok;
        if (fin.paramsHash) result.hashes.push(fin.paramsHash);
        log(`${s.id} rep${rep}: ${(sz.steps / secs).toFixed(0)} steps/s (${(secs * 1e6 / sz.steps).toFixed(2)} us/step), acc ${(100 * fin.accuracy).toFixed(2)}%, load ${g.load.toFixed(2)} -> ${l1.toFixed(2)}, rq ${rq === null ? '?' : rq.toFixed(1)}%${fin.paramsHash ? `, params ${fin.paramsHash}` : ''}`);
      }
    }
    for (const r of runners) {
      const s = state.get(r);
      result.figures.push({
        id: s.id, label: LABELS[r.runtime], where: r.env === 'node' ? 'node' : 'Chromium', value: median(s.reps), reps: s.reps,
        accuracy: s.accs[0], load_before: Math.max(...s.loads0), load_after: Math.max(...s.loads1),
        rq_wait_pct: s.rq.length ? Math.max(...s.rq) : null, gate_ok: s.ok, version: s.info.version, detail: s.info.detail,
        engine: s.info.engine,
      });
    }
  } finally {
    for (const r of runners) await r.close().catch(() => {});
    if (browser) await browser.close();
    if (server) server.close();
  }
  if (result.hashes.length) result.bitIdentical = new Set(result.hashes).size === 1;
  result.ratios = ratios(result.figures);
  const text = report(result);
  console.log(text);
  const out = a.out || path.join(HERE, 'results', `w1-${started.toISOString().replace(/[:.]/g, '').slice(0, 15)}Z${a.quick ? '-quick' : ''}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ ...result, report: text }, null, 1));
  log(`wrote ${path.relative(process.cwd(), out)}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
