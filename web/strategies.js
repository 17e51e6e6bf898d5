// Strategy experiments on the paper-trading page: strategy modules (strategy ABI v1,
// docs/STRATEGY_ABI.md) run side by side over the selected series in a Worker
// (strategy-worker.js), with a time budget the page enforces by terminating the Worker.
//
// `runExperiment(options)` is the API (the panel and the tests use it); `initExperiments`
// wires the "Strategy experiments" panel of index.html.

/** The example strategies web/build.sh copies into web/strategies/ (strategies/build.sh). */
export const BUNDLED = ['buy-and-hold', 'sma-cross', 'rule', 'forecast'];
/** Always run, as the baseline. */
export const BASELINE = 'buy-and-hold';
export const DEFAULT_BUDGET_MS = 60_000;
export const DEFAULT_MEMORY_CAP = 64 * 1024 * 1024;
const WORKER_URL = new URL('./strategy-worker.js', import.meta.url);

/**
 * One Worker over `job` (the worker's 'run' message). Resolves `{ results, bars, ms }` when it
 * finishes, or `{ timedOut: true, phase, loading, stillRunning, bar, bars, loaded }` when
 * `budgetMs` ran out first (the Worker is terminated: `stillRunning` are the strategies that
 * had not stopped at the last progress message, `loading` the one being loaded if it was in
 * its setup), or `{ cancelled: true }`. Rejects on bad data (`kind` as the package's errors).
 */
function runWorker(job, { budgetMs, onProgress, signal }) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      resolve({ cancelled: true });
      return;
    }
    const worker = new Worker(WORKER_URL, { type: 'module' });
    const t0 = performance.now();
    const names = job.strategies.map((s) => s.name);
    const last = { bar: 0, bars: null, running: names, stopped: [], loaded: null, loading: null };
    let finished = false;
    const end = (value, error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      worker.terminate();
      if (error) reject(error);
      else resolve({ ...value, ms: performance.now() - t0 });
    };
    const timer = setTimeout(
      () =>
        end({
          timedOut: true,
          phase: last.loaded ? 'run' : 'load',
          loading: last.loaded ? null : last.loading,
          stillRunning: last.running,
          bar: last.bar,
          bars: last.bars,
          loaded: last.loaded,
        }),
      budgetMs,
    );
    const abort = () => end({ cancelled: true });
    signal?.addEventListener('abort', abort);
    worker.onmessage = (ev) => {
      const m = ev.data;
      if (m.type === 'loading') {
        last.loading = m.name;
        onProgress?.({ phase: 'load', loading: m.name });
      } else if (m.type === 'loaded') {
        last.loaded = m.strategies;
        last.bars = m.bars;
        last.running = m.strategies.filter((s) => !s.refused).map((s) => s.name);
      } else if (m.type === 'progress') {
        Object.assign(last, { bar: m.bar, bars: m.bars, running: m.running, stopped: m.stopped });
        onProgress?.({ phase: 'run', bar: m.bar, bars: m.bars, running: m.running, stopped: m.stopped });
      } else if (m.type === 'done') {
        end({ results: m.results, bars: m.bars });
      } else if (m.type === 'error') {
        end(null, Object.assign(new Error(m.message), { kind: m.kind }));
      }
    };
    worker.onerror = (ev) => {
      ev.preventDefault?.();
      end(null, new Error(`the strategy worker failed: ${ev.message || 'it could not start'}`));
    };
    // Structured clone copies the module bytes: a re-run can send them again.
    worker.postMessage(job);
  });
}

/** Runs `tasks` (functions returning promises), at most `n` at a time; results in order. */
async function pool(tasks, n) {
  const out = new Array(tasks.length);
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const k = next++;
      out[k] = await tasks[k]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, lane));
  return out;
}

const secs = (ms) => `${Math.round(ms / 100) / 10} s`;

/** The row of a strategy that was still running when its Worker's budget ran out. */
function overBudget(name, t, budgetMs) {
  const where = t.phase === 'load' ? 'while loading' : `(last progress: bar ${t.bar} of ${t.bars})`;
  return {
    name,
    refused: null,
    timedOut: true,
    trade_hash: null,
    trades: null,
    metrics: null,
    stopped: { bar: t.bar, reason: `time budget of ${secs(budgetMs)} exceeded ${where}` },
  };
}

/**
 * Runs strategy modules side by side over one series.
 *
 * options: `strategies` [{ name, bytes: ArrayBuffer | Uint8Array, params?: { k: number } }],
 * the bars as `csv` (text), `url` (of a CSV file) or `packed` (Float64Array, 6 numbers a
 * bar), `symbol` (the series name, e.g. "SPY_1h"), `seed` (number or bigint; the engine's
 * and `tls_init`'s), `costs` ({ cash, fee_rate, slippage }, defaults 10000, 0, 0),
 * `memoryCap` (bytes, default 64 MiB), `budgetMs` (default 60 s), `onProgress(p)`,
 * `signal` (an AbortSignal), `isolate` (default true).
 *
 * Resolves `{ results, bars, ms, timedOut, stillRunning, cancelled }`: `results` has a row per
 * strategy in the order given (see strategy-worker.js: a module refused at load has
 * `refused` and is stopped at bar 0; one over the time budget has `timedOut` and no hash).
 * All strategies run in lockstep in one Worker; if the budget runs out the Worker is terminated and `stillRunning` names the
 * strategies that were still running; then, with `isolate`, each strategy runs again alone
 * in its own Worker with the same budget (two at a time), so the ones that finish keep
 * their results (a strategy's trades do not depend on the others) and only those over the
 * budget on their own are reported as such.
 */
export async function runExperiment(options) {
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const job = {
    type: 'run',
    csv: options.csv,
    url: options.url,
    packed: options.packed,
    symbol: options.symbol,
    seed: options.seed,
    costs: options.costs ?? null,
    memoryCap: options.memoryCap ?? DEFAULT_MEMORY_CAP,
    strategies: options.strategies.map((s) => ({ name: s.name, bytes: s.bytes, params: s.params ?? null })),
  };
  const t0 = performance.now();
  const first = await runWorker(job, { budgetMs, onProgress: options.onProgress, signal: options.signal });
  if (first.cancelled) return { cancelled: true, results: [], timedOut: false, stillRunning: [] };
  if (!first.timedOut) {
    return { results: first.results, bars: first.bars, ms: performance.now() - t0, timedOut: false, stillRunning: [] };
  }
  const stillRunning = first.phase === 'load' && first.loading ? [first.loading] : first.stillRunning;
  let results;
  if (options.isolate === false) {
    const refused = new Map((first.loaded ?? []).filter((s) => s.refused).map((s) => [s.name, s.refused]));
    results = job.strategies.map((s) =>
      refused.has(s.name)
        ? { name: s.name, refused: refused.get(s.name), trade_hash: null, stopped: { bar: 0, reason: `refused at load: ${refused.get(s.name)}` } }
        : overBudget(s.name, first, budgetMs),
    );
  } else {
    options.onProgress?.({ phase: 'isolate', stillRunning });
    const tasks = job.strategies.map((s) => async () => {
      const alone = await runWorker({ ...job, strategies: [s] }, { budgetMs, signal: options.signal });
      if (alone.cancelled) return null;
      return alone.timedOut ? overBudget(s.name, alone, budgetMs) : alone.results[0];
    });
    results = await pool(tasks, Math.max(1, Math.min(2, navigator.hardwareConcurrency || 2)));
    if (options.signal?.aborted) return { cancelled: true, results: [], timedOut: true, stillRunning };
  }
  return {
    results,
    bars: first.bars,
    ms: performance.now() - t0,
    timedOut: true,
    stillRunning,
    timedOutAt: { phase: first.phase, bar: first.bar, bars: first.bars },
    cancelled: options.signal?.aborted ?? false,
  };
}

// ------------------------------------------------------------------ the panel

const $ = (id) => document.getElementById(id);
const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—');
const num = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');

/** "fast=10, slow=30" -> { fast: 10, slow: 30 }; throws on anything else. */
export function parseParams(text, who) {
  const out = {};
  for (const part of text.split(/[,\s]+/).filter(Boolean)) {
    const m = /^([^=\s]+)=(.+)$/.exec(part);
    const v = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(v) || m[1].length > 64) {
      throw new Error(`${who}: parameter "${part}" is not name=number (a name of 1-64 characters)`);
    }
    out[m[1]] = v;
  }
  return out;
}

/**
 * The symbol the strategies trade, from a series name, as `tradeloop experiment` makes it
 * from the CSV file's stem: printable ASCII (anything else becomes `_`), at most 16
 * characters.
 */
export function symbolOf(name) {
  const s = [...name].map((c) => (/^[\x21-\x7e]$/.test(c) ? c : '_')).slice(0, 16).join('');
  return s || 'SERIES';
}

/**
 * Wires the panel. `series()` is the page's current series `{ id, name, candles }`
 * (`bundled` tells whether its id is one of the bundled files under data/); `showError`
 * shows an error the page's way.
 */
export function initExperiments({ series, bundled, showError }) {
  const E = {
    user: [], // { name, bytes, params }
    cache: new Map(), // bundled name -> ArrayBuffer
    running: null, // AbortController
    last: null, // the last runExperiment result
    progress: [],
  };
  const list = $('exp-strategies');

  const rowFor = (name, { user = false, checked = true, locked = false } = {}) => {
    const li = document.createElement('li');
    li.dataset.strategy = name;
    li.innerHTML = `<label><input type="checkbox" data-testid="exp-pick" /> <span class="name"></span></label>
      <input type="text" class="params" placeholder="params: name=value, …" spellcheck="false" data-testid="exp-params" />`;
    li.querySelector('.name').textContent = user ? `${name} (yours)` : name;
    const box = li.querySelector('input[type=checkbox]');
    box.checked = checked;
    box.disabled = locked;
    if (locked) li.title = 'the baseline: always run';
    if (user) {
      const rm = document.createElement('button');
      rm.className = 'small-btn';
      rm.textContent = 'remove';
      rm.dataset.testid = 'exp-remove';
      rm.addEventListener('click', () => {
        E.user = E.user.filter((u) => u.name !== name);
        li.remove();
      });
      li.append(rm);
    }
    list.append(li);
  };
  for (const name of BUNDLED) rowFor(name, { locked: name === BASELINE });

  const uniqueName = (stem) => {
    const taken = new Set([...BUNDLED, ...E.user.map((u) => u.name)]);
    let name = stem || 'strategy';
    for (let k = 2; taken.has(name); k++) name = `${stem}-${k}`;
    return name;
  };

  $('exp-file').addEventListener('change', async (ev) => {
    const files = [...ev.target.files];
    ev.target.value = '';
    for (const f of files) {
      const name = uniqueName(f.name.replace(/\.wasm$/i, ''));
      E.user.push({ name, bytes: await f.arrayBuffer() });
      rowFor(name, { user: true });
    }
  });

  const bytesOf = async (name) => {
    const u = E.user.find((x) => x.name === name);
    if (u) return u.bytes;
    if (!E.cache.has(name)) {
      const res = await fetch(`strategies/${name}.wasm`);
      if (!res.ok) throw new Error(`strategies/${name}.wasm: HTTP ${res.status} (run web/build.sh)`);
      E.cache.set(name, await res.arrayBuffer());
    }
    return E.cache.get(name);
  };

  const status = (text) => {
    $('exp-status').textContent = text;
  };

  const render = (out) => {
    const body = $('exp-results').querySelector('tbody');
    body.replaceChildren();
    for (const r of out.results) {
      const tr = document.createElement('tr');
      tr.dataset.strategy = r.name;
      const m = r.metrics;
      const stopped = r.stopped ? r.stopped.reason : '—';
      const cells = {
        name: r.name,
        trades: r.trades ?? '—',
        'total-return': pct(m?.total_return),
        'max-drawdown': pct(m?.max_drawdown),
        sharpe: num(m?.sharpe),
        'win-rate': pct(m?.win_rate),
        hash: r.trade_hash ?? '—',
        stopped,
      };
      for (const [k, v] of Object.entries(cells)) {
        const td = document.createElement('td');
        td.dataset.col = k;
        td.textContent = String(v);
        if (k === 'hash') td.className = 'mono';
        if (k === 'stopped' && r.stopped) td.className = 'warn';
        tr.append(td);
      }
      if (r.refused) tr.className = 'refused';
      else if (r.timedOut) tr.className = 'timed-out';
      body.append(tr);
    }
  };

  const run = async () => {
    if (E.running) return;
    const s = series();
    const picked = [...list.querySelectorAll('li')].filter(
      (li) => li.querySelector('input[type=checkbox]').checked,
    );
    const seedText = $('exp-seed').value.trim();
    if (!/^\d+$/.test(seedText)) throw new Error(`seed must be a non-negative integer (got "${seedText}")`);
    const seed = BigInt(seedText) <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seedText) : BigInt(seedText);
    const strategies = [];
    for (const li of picked) {
      const name = li.dataset.strategy;
      const params = parseParams(li.querySelector('.params').value, name);
      strategies.push({ name, bytes: await bytesOf(name), params });
    }
    const data = bundled(s.id)
      ? { url: `data/${s.id}.csv`, symbol: symbolOf(s.id) }
      : { packed: packed(s.candles), symbol: symbolOf(s.name.replace(/\.[^.]*$/, '')) };
    const budgetMs = Number($('exp-budget').value) * 1000;
    E.running = new AbortController();
    E.progress = [];
    $('exp-run').disabled = true;
    $('exp-cancel').disabled = false;
    const bar = $('exp-progress');
    bar.value = 0;
    bar.hidden = false;
    document.body.dataset.experiment = 'running';
    status(`running ${strategies.length} strategies on ${s.name}…`);
    try {
      const out = await runExperiment({
        ...data,
        seed,
        strategies,
        budgetMs,
        signal: E.running.signal,
        onProgress: (p) => {
          E.progress.push(p);
          if (p.phase === 'run' && p.bars) {
            bar.max = p.bars;
            bar.value = p.bar;
            status(`bar ${p.bar} of ${p.bars}: ${p.running.length} running${p.stopped.length ? `, ${p.stopped.join(', ')} stopped` : ''}`);
          } else if (p.phase === 'load') {
            status(`loading ${p.loading}…`);
          } else if (p.phase === 'isolate') {
            status(`time budget ran out with ${p.stillRunning.join(', ')} still running; running each strategy alone…`);
          }
        },
      });
      E.last = { ...out, series: s.id, seed: String(seed) };
      if (out.cancelled) {
        status('cancelled');
      } else {
        render(out);
        const over = out.results.filter((r) => r.timedOut).map((r) => r.name);
        status(
          out.timedOut
            ? `time budget of ${budgetMs / 1000} s ran out (${out.timedOutAt.phase === 'load' ? 'while loading' : `last progress: bar ${out.timedOutAt.bar} of ${out.timedOutAt.bars}`}) with ${out.stillRunning.join(', ')} still running; ` +
                `each strategy ran again alone: ${over.length ? `${over.join(', ')} over the budget` : 'all finished'}`
            : `${out.results.length} strategies, ${out.bars} bars of ${s.name}, seed ${seed}: ${(out.ms / 1000).toFixed(1)} s`,
        );
      }
    } finally {
      E.running = null;
      $('exp-run').disabled = false;
      $('exp-cancel').disabled = true;
      bar.hidden = true;
      document.body.dataset.experiment = 'done';
    }
  };

  $('exp-run').addEventListener('click', async () => {
    showError(null);
    try {
      await run();
    } catch (e) {
      status('failed');
      document.body.dataset.experiment = 'failed';
      showError(e, 'The experiment did not run:');
    }
  });
  $('exp-cancel').addEventListener('click', () => E.running?.abort());

  return {
    run: (options) => runExperiment(options),
    last: () => E.last,
    progress: () => E.progress,
    bytesOf,
    get running() {
      return E.running !== null;
    },
  };
}

/** Candles as 6 numbers a bar, for BacktestFeed.fromPacked. */
function packed(candles) {
  const a = new Float64Array(candles.length * 6);
  candles.forEach((c, i) => a.set([c.time, c.open, c.high, c.low, c.close, c.volume], i * 6));
  return a;
}
