// tradeloop paper-trading page: replays a price series bar by bar through the wasm engine,
// trades it with the built-in rule strategy (and by hand), shows what the learners learn, and
// keeps everything in IndexedDB so a reload continues exactly where it was. The "Strategy
// experiments" panel (strategies.js) runs strategy modules side by side on the series in a Worker.

import init, * as tl from './pkg/tradeloop_wasm.js';
import * as store from './db.js';
import { lineChart, legend } from './plots.js';
import { initExperiments } from './strategies.js';

const SERIES = {
  SPY_1h: { name: 'SPY hourly', url: 'data/SPY_1h.csv', symbol: 'SPY' },
  'BTC-USD_1d': { name: 'BTC-USD daily', url: 'data/BTC-USD_1d.csv', symbol: 'BTC-USD' },
};
const DEFAULT_SERIES = 'SPY_1h';
/** Seed of a new engine: the same candles give the same state in every tab and in the host. */
const SEED = 42;
const MANUAL_SIZE = 1;
const ROLLING = 50;
const JOURNAL_ROWS = 25;
const LEVEL_NAMES = ['volume density', 'touches', 'bounce', 'failed breakouts', 'duration', 'multi-TF'];
const LEVEL_COLORS = ['#4c9aff', '#2bb673', '#e0a030', '#ef5350', '#b388ff', '#8a94a6'];
/** The served mixture's experts, in `engine.mixture()` order; a pooled expert is a lighter shade of its own. */
const EXPERTS = ['Prior', 'Recent', 'Linear', 'LinearPooled', 'Online', 'OnlinePooled', 'Champion', 'ChampionPooled'];
const EXPERT_COLORS = ['#8a94a6', '#b388ff', '#4c9aff', '#9cc6ff', '#2bb673', '#8fe3b0', '#e0a030', '#f5d08a'];
/** Points kept of the per-close histories (ε, expert weights). */
const HISTORY = 5000;
const CHECKPOINT_FORMAT = 1;
const EXIT_LABEL = { Stop: 'SL', Target: 'TP', Timeout: 'time', Manual: 'close' };

const $ = (id) => document.getElementById(id);

/** Everything the page knows. */
const S = {
  db: null,
  engine: null,
  trader: null,
  series: null, // { id, name, symbol, candles, packed? }
  next: 0, // index of the next bar to replay
  seq: 0, // journalled events so far
  manual: null, // { id, side, stop, target }
  eps: [], // exit-learner epsilon after each close
  // The mixture's expert weights after each close, a row per close in EXPERTS order. Not
  // persisted (the engine keeps only its current weights): after a reload, an import or a
  // reset the history restarts from the engine's weights at that point.
  mix: [],
  playing: false,
  timer: null,
  pending: new Set(),
  chart: null,
  candleSeries: null,
  markers: null,
  priceLines: [],
  chartBars: 0,
  panelsAt: 0,
  experiments: null, // the strategy experiments panel (strategies.js)
};

// ---------------------------------------------------------------- errors and status

function showError(err, prefix = '') {
  const el = $('error');
  if (!err) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  const msg = err instanceof Error ? err.message : String(err);
  el.textContent = prefix ? `${prefix}\n${msg}` : msg;
  el.hidden = false;
  if (err instanceof Error && err.name !== 'TradeloopError') console.warn(err);
}

function setStatus(text, state) {
  $('status').textContent = text;
  if (state) document.body.dataset.state = state;
}

/** Runs a user action: clears the old error, shows a new one. */
function action(fn) {
  return async (ev) => {
    showError(null);
    try {
      await fn(ev);
    } catch (e) {
      showError(e);
    }
  };
}

// ---------------------------------------------------------------- series and candles

async function fetchSeries(id) {
  const def = SERIES[id];
  if (!def) throw new Error(`unknown series ${id}`);
  const res = await fetch(def.url);
  if (!res.ok) throw new Error(`${def.url}: HTTP ${res.status} (run web/build.sh)`);
  const candles = tl.parseCsv(await res.text());
  return { id, name: def.name, symbol: def.symbol, candles };
}

/** Candles as one Float64Array (6 numbers a bar): cheap to store in IndexedDB. */
function pack(candles) {
  const a = new Float64Array(candles.length * 6);
  candles.forEach((c, i) => a.set([c.time, c.open, c.high, c.low, c.close, c.volume], i * 6));
  return a;
}

function unpack(a) {
  const out = new Array(a.length / 6);
  for (let i = 0; i < out.length; i++) {
    const o = i * 6;
    out[i] = { time: a[o], open: a[o + 1], high: a[o + 2], low: a[o + 3], close: a[o + 4], volume: a[o + 5] };
  }
  return out;
}

/** A symbol from a file name: up to its first `_` or `.`, printable ASCII, 1-32 chars. */
function symbolOf(fileName) {
  const s = fileName.split(/[_.]/)[0].replace(/[^\x21-\x7e]/g, '').slice(0, 32);
  return s || 'USER';
}

const lastBar = () => (S.next > 0 ? S.series.candles[S.next - 1] : null);
/** The time of "now" on the page: the last replayed bar (or the first bar before any). */
const nowMs = () => (lastBar() ?? S.series.candles[0])?.time ?? 0;

// ---------------------------------------------------------------- persistence

function checkpointRecord() {
  return {
    format: CHECKPOINT_FORMAT,
    engine: S.engine.snapshot(),
    trader: S.trader.snapshot(),
    nextBar: S.next,
    seriesId: S.series.id,
    seriesName: S.series.name,
    symbol: S.series.symbol,
    candles: S.series.id === 'user' ? (S.series.packed ??= pack(S.series.candles)) : null,
    seq: S.seq,
    manual: S.manual,
    eps: S.eps,
    savedAt: Date.now(),
  };
}

function track(p) {
  S.pending.add(p);
  p.catch((e) => showError(e, 'Saving to IndexedDB failed:')).finally(() => S.pending.delete(p));
  return p;
}

/** Journals one event and the checkpoint after it, in one IndexedDB transaction. */
function persist(kind, command, now = nowMs()) {
  S.seq += 1;
  const event = { seq: S.seq, now, kind, command };
  $('stat-events').textContent = String(S.seq);
  return track(store.saveEvent(S.db, event, checkpointRecord()));
}

/** Saves the checkpoint alone (pause, end of a run). */
function saveCheckpoint() {
  return track(store.saveEvent(S.db, null, checkpointRecord()));
}

async function flush() {
  while (S.pending.size) await Promise.allSettled([...S.pending]);
}

// ---------------------------------------------------------------- engine plumbing

/**
 * The page's engine settings. A replay in the page closes a few hundred trades, not the
 * thousands a bot sees over months: a snapshot of the online network goes on trial every 50
 * closed trades, and a trial is decided on 50 labels in blocks of 5 (the engine's defaults,
 * 2,000 and 2,000, would make no version in a page session).
 */
const ENGINE_CONFIG = {
  lifecycle: {
    policy: { snapshot_every: 50, retrain_every: 500, min_train_samples: 100 },
    gate: { trial: 50, block: 5, embargo: 1 },
  },
};

function newEngine(now) {
  return new tl.Engine(ENGINE_CONFIG, SEED, now);
}

function newTrader(symbol) {
  return new tl.PaperTrader({ symbol });
}

/** `{ Opened: {...} }` -> ['Opened', {...}] (tolerates `{ kind: 'Opened', ... }`). */
function variant(v) {
  if (v == null) return [null, null];
  if (typeof v === 'string') return [v, null];
  if (typeof v.kind === 'string') return [v.kind, v];
  if (typeof v.type === 'string') return [v.type, v];
  const [k] = Object.keys(v);
  return [k, v[k]];
}

const tradeId = (x) => Number(x);

function recordEpsilon() {
  try {
    S.eps.push(S.engine.stats().exits.epsilon);
    if (S.eps.length > HISTORY) S.eps.splice(0, S.eps.length - HISTORY);
  } catch {
    /* stats cannot fail on a live engine */
  }
}

/** A MixtureReport's expert weights in EXPERTS order. */
const expertWeights = (m) => EXPERTS.map((name) => m.experts.find((e) => e.expert === name)?.weight ?? NaN);

/** Samples the mixture's expert weights (after a close, or to start the history). */
function recordMixture(m = null) {
  try {
    S.mix.push(expertWeights(m ?? S.engine.mixture()));
    if (S.mix.length > HISTORY) S.mix.splice(0, S.mix.length - HISTORY);
  } catch {
    /* the mixture report cannot fail on a live engine */
  }
}

/** Both per-close histories: call after every journalled close. */
function recordClose() {
  recordEpsilon();
  recordMixture();
}

/** The Open command of a journalled trade, as it went into the engine. */
function openCommandOf(id) {
  const t = S.engine.trade(id);
  return {
    Open: {
      symbol: t.symbol,
      side: t.side,
      price: t.entry_price,
      size: t.size,
      features: Array.from(t.features),
      level: t.level ? t.level[0] : null,
      exits: t.exits.from_caller ? [t.exits.stop_price, t.exits.target_price] : null,
    },
  };
}

/** Where a position exits on bar `c`, with the strategy's rules (stop first, gaps at the open). */
function exitOn(p, c) {
  if (p.side === 'Long') {
    if (c.low <= p.stop) return { price: Math.min(c.open, p.stop), reason: 'Stop' };
    if (c.high >= p.target) return { price: Math.max(c.open, p.target), reason: 'Target' };
  } else {
    if (c.high >= p.stop) return { price: Math.max(c.open, p.stop), reason: 'Stop' };
    if (c.low <= p.target) return { price: Math.min(c.open, p.target), reason: 'Target' };
  }
  return null;
}

function closeTrade(id, price, reason, now) {
  const close = { trade_id: id, price, reason };
  const closed = S.engine.close(close, now);
  recordClose();
  persist('close', { Close: close }, now);
  return closed;
}

/** Replays the next bar. Returns false at the end of the series. Throws on an engine error. */
function stepBar() {
  const candles = S.series.candles;
  if (S.next >= candles.length) return false;
  const c = candles[S.next];
  if (S.manual) {
    const hit = exitOn(S.manual, c);
    if (hit) {
      closeTrade(S.manual.id, hit.price, hit.reason, c.time);
      S.manual = null;
    }
  }
  const ev = S.trader.onBar(S.engine, c);
  S.next += 1;
  if (ev) {
    const [kind, e] = variant(ev);
    if (kind === 'Opened') {
      persist('open', openCommandOf(tradeId(e.trade_id)), c.time);
    } else if (kind === 'Closed') {
      recordClose();
      persist('close', { Close: { trade_id: e.trade_id, price: e.price, reason: e.reason } }, c.time);
    }
  }
  return true;
}

/** Runs up to n bars as fast as possible (persisting as usual). */
async function runBars(n) {
  pause(false);
  let ran = 0;
  try {
    while (ran < n && stepBar()) {
      ran += 1;
      if (ran % 200 === 0) await new Promise((r) => setTimeout(r, 0));
    }
  } catch (e) {
    showError(e);
  }
  saveCheckpoint();
  await flush();
  render(true);
  return ran;
}

// ---------------------------------------------------------------- play / pause

function play() {
  if (S.playing) return;
  if (S.next >= S.series.candles.length) {
    setStatus('end of series', 'paused');
    return;
  }
  S.playing = true;
  $('play').disabled = true;
  $('pause').disabled = false;
  setStatus('playing', 'playing');
  schedule();
}

function schedule() {
  clearInterval(S.timer);
  const speed = Number($('speed').value) || 20;
  const interval = Math.max(1000 / speed, 25);
  const perTick = Math.max(1, Math.round((speed * interval) / 1000));
  let last = performance.now();
  let carry = 0;
  S.timer = setInterval(() => {
    const t = performance.now();
    carry += ((t - last) / 1000) * speed;
    last = t;
    let k = Math.min(Math.floor(carry), perTick * 4);
    carry -= Math.floor(carry);
    try {
      while (k-- > 0) {
        if (!stepBar()) {
          pause();
          setStatus('end of series', 'paused');
          break;
        }
      }
    } catch (e) {
      pause();
      showError(e);
    }
    render(false);
  }, interval);
}

function pause(save = true) {
  const was = S.playing;
  S.playing = false;
  clearInterval(S.timer);
  S.timer = null;
  $('play').disabled = false;
  $('pause').disabled = true;
  setStatus('paused', 'paused');
  if (save && (was || save === 'always')) saveCheckpoint();
}

// ---------------------------------------------------------------- manual trading

function manualOpen(side) {
  if (S.manual) throw new Error('A manual trade is already open: close it first.');
  const bar = lastBar();
  if (!bar) throw new Error('Replay at least one bar before trading.');
  const f = S.trader.features();
  if (!f) throw new Error('The feature window is still warming up: replay a few more bars before trading.');
  const open = {
    symbol: S.series.symbol,
    side,
    price: bar.close,
    size: MANUAL_SIZE,
    features: Array.from(f),
    level: null,
    exits: null, // the exit learner chooses
  };
  const o = S.engine.open(open, bar.time);
  S.manual = { id: tradeId(o.trade_id), side, stop: o.exits.stop_price, target: o.exits.target_price };
  persist('open', { Open: open }, bar.time);
  render(true);
}

function manualClose() {
  if (!S.manual) throw new Error('No manual trade is open.');
  const bar = lastBar();
  closeTrade(S.manual.id, bar.close, 'Manual', bar.time);
  S.manual = null;
  render(true);
}

// ---------------------------------------------------------------- versions

function promote(id) {
  const champion = S.engine.promote(id, nowMs());
  persist('promote', { Promote: id });
  render(true);
  return champion;
}

function rollback(id = null) {
  const champion = S.engine.rollback(id, nowMs());
  persist('rollback', { Rollback: id });
  render(true);
  return champion;
}

// ---------------------------------------------------------------- switching series, reset, import

/** Closes the open trades of this run at the last close (the series is being left). */
function closeRunTrades() {
  const bar = lastBar();
  if (!bar) return;
  const ids = [];
  const own = S.trader.openTrade();
  if (own !== undefined && own !== null) ids.push(tradeId(own));
  if (S.manual) ids.push(S.manual.id);
  for (const id of ids) {
    try {
      if (!S.engine.trade(id).close) closeTrade(id, bar.close, 'Manual', bar.time);
    } catch {
      /* not in this engine (e.g. after an import) */
    }
  }
  S.manual = null;
}

/** Starts replaying `series` from its first bar; the engine keeps what it learned. */
function startSeries(series) {
  closeRunTrades();
  const trader = newTrader(series.symbol);
  S.trader?.free();
  S.trader = trader;
  S.series = series;
  S.next = 0;
  S.chartBars = -1;
  saveCheckpoint();
  syncSeriesSelect();
  render(true);
}

function syncSeriesSelect() {
  const user = $('series').querySelector('option[value=user]');
  if (S.series.id === 'user') {
    user.disabled = false;
    user.textContent = `your CSV: ${S.series.name}`;
  }
  $('series').value = S.series.id;
}

async function selectSeries(id) {
  pause();
  if (id === S.series.id) return;
  if (id === 'user') return;
  startSeries(await fetchSeries(id));
}

async function loadUserCsv(file) {
  pause();
  const text = await file.text();
  let candles;
  try {
    candles = tl.parseCsv(text);
  } catch (e) {
    showError(e, `${file.name} was not loaded:`);
    return;
  }
  if (candles.length === 0) {
    showError(new Error(`${file.name} was not loaded: it has no bars.`));
    return;
  }
  startSeries({ id: 'user', name: file.name, symbol: symbolOf(file.name), candles });
}

async function reset() {
  pause(false);
  await flush();
  await store.clearAll(S.db);
  S.engine?.free();
  S.trader?.free();
  const series = S.series.id === 'user' ? await fetchSeries(DEFAULT_SERIES) : S.series;
  S.engine = newEngine(series.candles[0].time);
  S.trader = newTrader(series.symbol);
  S.series = series;
  S.next = 0;
  S.seq = 0;
  S.manual = null;
  S.eps = [];
  S.mix = []; // restarted by the next render
  S.chartBars = -1;
  $('stat-events').textContent = '0';
  syncSeriesSelect();
  render(true);
}

function exportCheckpoint() {
  const bytes = S.engine.snapshot();
  const blob = new Blob([bytes], { type: 'application/octet-stream' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = `tradeloop-${new Date().toISOString().slice(0, 10)}.tlc`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Replaces the engine with a checkpoint file (validated by Engine.restore). The strategy's
 * own state (features, levels, position) belongs to the old engine's trades, so it starts
 * afresh at the current bar.
 */
async function importCheckpoint(file) {
  pause();
  const bytes = new Uint8Array(await file.arrayBuffer());
  let engine;
  try {
    engine = tl.Engine.restore(bytes);
  } catch (e) {
    showError(e, `${file.name} was not imported:`);
    return;
  }
  const trader = newTrader(S.series.symbol);
  S.engine.free();
  S.trader.free();
  S.engine = engine;
  S.trader = trader;
  S.manual = null;
  S.eps = [];
  S.mix = [];
  recordEpsilon();
  recordMixture();
  persist('import', { Import: { file: file.name, bytes: bytes.length } });
  render(true);
}

// ---------------------------------------------------------------- rendering

function fmtTime(ms) {
  if (!Number.isFinite(ms)) return '—';
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}
const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—');
const px = (x) => (Number.isFinite(x) ? x.toFixed(x >= 1000 ? 1 : 2) : '—');

function initChart() {
  const LC = window.LightweightCharts;
  if (!LC) throw new Error('lightweight-charts did not load (vendor/ missing: run web/build.sh)');
  const css = getComputedStyle(document.documentElement);
  const v = (n) => css.getPropertyValue(n).trim();
  S.chart = LC.createChart($('chart'), {
    autoSize: true,
    layout: { background: { type: 'solid', color: v('--panel') }, textColor: v('--muted') },
    grid: { vertLines: { color: v('--grid') }, horzLines: { color: v('--grid') } },
    timeScale: { timeVisible: true, secondsVisible: false, rightOffset: 6 },
    crosshair: { mode: LC.CrosshairMode.Normal },
  });
  S.candleSeries = S.chart.addSeries(LC.CandlestickSeries, {
    upColor: v('--up'),
    downColor: v('--down'),
    borderVisible: false,
    wickUpColor: v('--up'),
    wickDownColor: v('--down'),
  });
  S.markers = LC.createSeriesMarkers(S.candleSeries, []);
}

/** `#rrggbb` at 55% opacity. */
function fade(hex) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, 0.55)`;
}

const bar = (c) => ({ time: Math.floor(c.time / 1000), open: c.open, high: c.high, low: c.low, close: c.close });

function renderChart() {
  const candles = S.series.candles;
  if (S.chartBars !== S.next) {
    if (S.chartBars >= 0 && S.next > S.chartBars && S.next - S.chartBars <= 50) {
      for (let i = S.chartBars; i < S.next; i++) S.candleSeries.update(bar(candles[i]));
    } else {
      S.candleSeries.setData(candles.slice(0, S.next).map(bar));
      if (S.next > 0) {
        S.chart.timeScale().setVisibleLogicalRange({ from: Math.max(0, S.next - 150), to: S.next + 5 });
      }
    }
    S.chartBars = S.next;
  }
  const css = getComputedStyle(document.documentElement);
  const color = (n) => css.getPropertyValue(n).trim();
  for (const l of S.priceLines) S.candleSeries.removePriceLine(l);
  S.priceLines = [];
  const line = (price, c, title, style = 2, width = 1) =>
    S.priceLines.push(
      S.candleSeries.createPriceLine({ price, color: c, lineWidth: width, lineStyle: style, axisLabelVisible: true, title }),
    );
  if (S.next > 0) {
    // Levels come nearest first: the nearest support and resistance get an axis label.
    const labelled = new Set();
    for (const l of S.trader.levels()) {
      const sup = l.kind === 'Support';
      const first = !labelled.has(l.kind);
      labelled.add(l.kind);
      S.priceLines.push(
        S.candleSeries.createPriceLine({
          price: l.price,
          color: first ? color(sup ? '--support' : '--resistance') : fade(color(sup ? '--support' : '--resistance')),
          lineWidth: 1,
          lineStyle: first ? 2 : 1,
          axisLabelVisible: first,
          title: first ? `${sup ? 'support' : 'resistance'} (${l.touches})` : '',
        }),
      );
    }
  }
  const own = S.trader.openTrade();
  const open = [];
  if (own !== undefined && own !== null) open.push(['strategy', tradeId(own)]);
  if (S.manual) open.push(['manual', S.manual.id]);
  for (const [who, id] of open) {
    try {
      const t = S.engine.trade(id);
      line(t.exits.stop_price, color('--stop'), `SL ${who} #${id}`, 0, 2);
      line(t.exits.target_price, color('--target'), `TP ${who} #${id}`, 0, 2);
    } catch {
      /* gone after an import */
    }
  }
  // Entry / exit markers of the latest trades of this run.
  const t0 = candles[0]?.time ?? 0;
  const tEnd = lastBar()?.time ?? -Infinity;
  const inRun = (t) => t >= t0 && t <= tEnd;
  const marks = [];
  const trades = [...S.engine.closedTrades(150), ...S.engine.openTrades()];
  for (const t of trades) {
    if (inRun(t.entry_time)) {
      const long = t.side === 'Long';
      marks.push({
        time: Math.floor(t.entry_time / 1000),
        position: long ? 'belowBar' : 'aboveBar',
        color: long ? color('--up') : color('--down'),
        shape: long ? 'arrowUp' : 'arrowDown',
      });
    }
    if (t.close && inRun(t.close.time)) {
      const win = t.close.outcome === 'Win';
      marks.push({
        time: Math.floor(t.close.time / 1000),
        position: t.side === 'Long' ? 'aboveBar' : 'belowBar',
        color: win ? color('--up') : t.close.outcome === 'Loss' ? color('--down') : color('--muted'),
        shape: 'circle',
        text: EXIT_LABEL[t.close.reason] ?? t.close.reason,
      });
    }
  }
  marks.sort((a, b) => a.time - b.time);
  S.markers.setMarkers(marks);
}

function renderBarInfo() {
  const b = lastBar();
  $('series-name').textContent = S.series.name;
  $('bar-index').textContent = String(S.next);
  $('bar-count').textContent = String(S.series.candles.length);
  $('bar-time').textContent = b ? fmtTime(b.time) : '—';
  $('bar-close').textContent = b ? px(b.close) : '—';
  const own = S.trader.openTrade();
  const parts = [];
  if (own !== undefined && own !== null) parts.push(`strategy #${tradeId(own)}`);
  if (S.manual) parts.push(`manual ${S.manual.side.toLowerCase()} #${S.manual.id}`);
  $('position').textContent = parts.length ? `open: ${parts.join(', ')}` : 'flat';
  $('buy').disabled = !!S.manual;
  $('sell').disabled = !!S.manual;
  $('close').disabled = !S.manual;
  $('stat-events').textContent = String(S.seq);
}

function renderPanels() {
  const st = S.engine.stats();
  const closed = S.engine.closedTrades(1000);
  $('stat-closed').textContent = String(st.trades.closed);
  $('stat-open').textContent = String(st.open);
  $('stat-pnl').textContent = st.trades.pnl.toFixed(2);
  $('stat-pnl').className = st.trades.pnl >= 0 ? 'pos' : 'neg';
  $('stat-winrate').textContent = st.trades.closed ? pct(st.win_rate) : '—';
  $('stat-accuracy').textContent = st.trades.closed ? pct(st.accuracy) : '—';
  $('stat-sharpe').textContent = st.trades.closed > 1 ? st.sharpe.toFixed(3) : '—';
  $('stat-champion').textContent = `v${st.signal.champion}${st.signal.network ? '' : ' (prior)'}`;
  $('epsilon').textContent = st.exits.epsilon.toFixed(3);

  // Equity: cumulative PnL; trades older than the kept journal are summed into the start.
  let eq = st.trades.pnl - closed.reduce((s, t) => s + t.close.pnl, 0);
  const equity = closed.map((t) => (eq += t.close.pnl));
  lineChart($('equity-canvas'), [{ values: equity, color: '#4c9aff' }], {
    zero: true,
    xLabel: `${closed.length} closed trades`,
    empty: 'no closed trades yet',
  });
  $('equity-points').textContent = String(equity.length);
  const canvas = $('equity-canvas');
  canvas.dataset.points = String(equity.length);

  // Rolling win rate and signal accuracy over the last 50 trades.
  const wr = [];
  const acc = [];
  let wins = 0;
  let right = 0;
  closed.forEach((t, i) => {
    wins += t.close.outcome === 'Win' ? 1 : 0;
    right += t.signal.class === t.close.outcome ? 1 : 0;
    if (i >= ROLLING) {
      const o = closed[i - ROLLING];
      wins -= o.close.outcome === 'Win' ? 1 : 0;
      right -= o.signal.class === o.close.outcome ? 1 : 0;
    }
    const n = Math.min(i + 1, ROLLING);
    wr.push(wins / n);
    acc.push(right / n);
  });
  lineChart(
    $('winrate-canvas'),
    [
      { values: wr, color: '#2bb673' },
      { values: acc, color: '#e0a030' },
    ],
    { min: 0, max: 1, percent: true, xLabel: `${closed.length} closed trades`, empty: 'no closed trades yet' },
  );
  legend($('winrate-legend'), [
    { color: '#2bb673', label: 'win rate' },
    { color: '#e0a030', label: 'signal accuracy' },
  ]);
  $('rolling-winrate').textContent = wr.length ? pct(wr[wr.length - 1]) : '—';
  $('rolling-accuracy').textContent = acc.length ? pct(acc[acc.length - 1]) : '—';
  $('winrate-canvas').dataset.points = String(wr.length);

  // Level weights after each adjustment (starting from the weights before the first).
  const hist = S.engine.levelHistory();
  const rows = hist.length ? [hist[0].old, ...hist.map((h) => h.new)] : [st.levels.weights];
  const weights = LEVEL_NAMES.map((_, k) => ({ values: rows.map((r) => r[k]), color: LEVEL_COLORS[k] }));
  lineChart($('weights-canvas'), weights, {
    min: 0,
    xLabel: `${hist.length} adjustments (next at level trade ${st.levels.next_adjustment_at})`,
  });
  legend($('weights-legend'), LEVEL_NAMES.map((label, k) => ({ label, color: LEVEL_COLORS[k] })));
  $('weights-adjustments').textContent = String(hist.length);
  $('weights-canvas').dataset.points = String(hist.length);

  renderExperts();

  lineChart($('epsilon-canvas'), [{ values: S.eps, color: '#b388ff' }], {
    min: 0,
    xLabel: `${S.eps.length} closes`,
    empty: 'no closed trades yet',
  });
  const ex = st.exits;
  $('exit-info').textContent =
    `mode ${ex.mode}, ε ${ex.epsilon.toFixed(3)}, ${ex.trainings} trainings, ` +
    `${ex.explorations}/${ex.suggestions} explored` +
    (ex.best_validation_loss != null ? `, best val. loss ${ex.best_validation_loss.toFixed(4)}` : '');

  renderVersions();
  renderJournal(closed);
}

/** What the engine trusts: the mixture's expert weights after each close, and its regret. */
function renderExperts() {
  const m = S.engine.mixture();
  // A new, restored or imported engine: the history starts from its weights now.
  if (S.mix.length === 0) recordMixture(m);
  const series = EXPERTS.map((_, k) => ({ values: S.mix.map((r) => r[k]), color: EXPERT_COLORS[k] }));
  lineChart($('experts-canvas'), series, { min: 0, max: 1, xLabel: `${S.mix.length} points (one per close)` });
  $('experts-canvas').dataset.points = String(S.mix.length);
  const now = expertWeights(m);
  legend(
    $('experts-legend'),
    EXPERTS.map((label, k) => ({
      label,
      color: EXPERT_COLORS[k],
      value: Number.isFinite(now[k]) ? now[k].toFixed(3) : '—',
      data: { testid: 'expert-weight', expert: label },
    })),
  );
  // Log-loss of the served forecast minus the running prior's, per scored row (< 0: better
  // than the prior), beside the proven bound on that excess.
  const rows = Number(m.rows);
  const signed = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(4)}`;
  $('experts-info').textContent =
    rows > 0
      ? `log-loss vs running prior ${signed(m.excess_vs_prior / rows)} nats/row ` +
        `(bound ${signed(m.bound_vs_prior / rows)}) over ${rows} rows` +
        (m.log_loss != null ? `, log-loss ${m.log_loss.toFixed(4)}` : '')
      : 'no forecast scored yet';
}

/** What the versions table shows of a version: its trial's candidate scores, else held-out test, else validation. */
function versionMetrics(v) {
  if (v.trial) return { log_loss: v.trial.candidate_log_loss, accuracy: v.trial.candidate_accuracy, source: 'trial' };
  if (v.test) return { ...v.test, source: 'test' };
  if (v.validation) return { ...v.validation, source: 'validation' };
  return null;
}

function renderVersions() {
  const body = $('versions').tBodies[0];
  const versions = S.engine.versions();
  body.replaceChildren(
    ...versions
      .slice()
      .sort((a, b) => b.id - a.id)
      .map((v) => {
        const tr = document.createElement('tr');
        tr.dataset.version = String(v.id);
        if (v.champion) tr.className = 'champion';
        else if (v.challenger) tr.className = 'challenger';
        if (v.best) tr.classList.add('best');
        const mt = versionMetrics(v);
        const roles = [v.champion && 'champion', v.challenger && 'on trial', v.best && 'best'].filter(Boolean);
        const cells = [
          [`v${v.id}`],
          [v.parent != null ? `v${v.parent}` : '—'],
          [`${v.kind}${v.network ? '' : ' (prior)'}`],
          [fmtTime(v.created_at).slice(0, 10)],
          [mt ? mt.log_loss.toFixed(4) : '—', mt?.source],
          [mt ? pct(mt.accuracy) : '—', mt?.source],
          [roles.join(', ')],
        ];
        // The metric cells say where their numbers come from.
        const trial = v.trial ? `trial: ${v.trial.passed ? 'passed' : 'not passed'} on ${v.trial.rows} rows` : '';
        for (const [text, source] of cells) {
          const td = document.createElement('td');
          td.textContent = text;
          if (source) td.title = source === 'trial' ? trial : source;
          tr.append(td);
        }
        const td = document.createElement('td');
        if (!v.champion) {
          const p = document.createElement('button');
          p.textContent = 'Promote';
          p.dataset.action = 'promote';
          p.dataset.version = String(v.id);
          p.addEventListener('click', action(() => promote(v.id)));
          const r = document.createElement('button');
          r.textContent = 'Rollback';
          r.dataset.action = 'rollback';
          r.dataset.version = String(v.id);
          r.addEventListener('click', action(() => rollback(v.id)));
          td.append(p, ' ', r);
        }
        tr.append(td);
        return tr;
      }),
  );
}

function renderJournal(closed) {
  const body = $('journal').tBodies[0];
  const trades = [...S.engine.openTrades(), ...closed.slice(-JOURNAL_ROWS).reverse()].slice(0, JOURNAL_ROWS);
  body.replaceChildren(
    ...trades.map((t) => {
      const tr = document.createElement('tr');
      tr.dataset.trade = String(tradeId(t.id));
      tr.dataset.status = t.close ? 'closed' : 'open';
      const c = t.close;
      const cells = [
        [`#${tradeId(t.id)}`],
        [t.side],
        [px(t.entry_price)],
        [fmtTime(t.entry_time)],
        [px(t.exits.stop_price)],
        [px(t.exits.target_price)],
        [c ? px(c.price) : 'open'],
        [c ? c.reason : ''],
        [c ? pct(c.pnl_pct) : '', c ? (c.pnl_pct > 0 ? 'win' : c.pnl_pct < 0 ? 'loss' : '') : ''],
        [`${t.signal.class} ${t.signal.score.toFixed(2)}`],
        [c ? c.outcome : '', c ? (c.outcome === 'Win' ? 'win' : c.outcome === 'Loss' ? 'loss' : '') : ''],
      ];
      for (const [text, cls] of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        if (cls) td.className = cls;
        tr.append(td);
      }
      return tr;
    }),
  );
}

/** Redraws; the panels at most every 300 ms unless `full`. */
function render(full) {
  renderBarInfo();
  renderChart();
  const t = performance.now();
  if (full || t - S.panelsAt > 300) {
    S.panelsAt = t;
    renderPanels();
  }
}

// ---------------------------------------------------------------- start-up

async function restoreOrStart() {
  const rec = await store.loadCheckpoint(S.db);
  if (rec) {
    try {
      const series =
        rec.seriesId === 'user'
          ? { id: 'user', name: rec.seriesName, symbol: rec.symbol, candles: unpack(rec.candles), packed: rec.candles }
          : await fetchSeries(rec.seriesId);
      const engine = tl.Engine.restore(rec.engine);
      const trader = tl.PaperTrader.restore(rec.trader);
      S.series = series;
      S.engine = engine;
      S.trader = trader;
      S.next = Math.min(rec.nextBar, series.candles.length);
      S.seq = rec.seq ?? (await store.countEvents(S.db));
      S.manual = rec.manual ?? null;
      S.eps = rec.eps ?? [];
      S.mix = []; // not in the checkpoint: the first render starts it from the restored weights
      return true;
    } catch (e) {
      showError(e, 'The saved state could not be restored (Reset clears it); starting afresh:');
    }
  }
  const series = await fetchSeries(DEFAULT_SERIES);
  S.series = series;
  S.engine = newEngine(series.candles[0].time);
  S.trader = newTrader(series.symbol);
  S.next = 0;
  S.seq = 0;
  return false;
}

function wire() {
  $('play').addEventListener('click', action(play));
  $('pause').addEventListener('click', action(() => pause()));
  $('step').addEventListener(
    'click',
    action(() => {
      pause();
      stepBar();
      render(true);
    }),
  );
  $('speed').addEventListener('change', () => S.playing && schedule());
  $('buy').addEventListener('click', action(() => manualOpen('Long')));
  $('sell').addEventListener('click', action(() => manualOpen('Short')));
  $('close').addEventListener('click', action(manualClose));
  $('rollback').addEventListener('click', action(() => rollback(null)));
  $('series').addEventListener('change', action((e) => selectSeries(e.target.value)));
  // A chosen file goes to `use`; the input is cleared so the same file can be chosen again.
  const onFile = (id, use) =>
    $(id).addEventListener(
      'change',
      action(async (e) => {
        const f = e.target.files[0];
        e.target.value = '';
        if (f) await use(f);
      }),
    );
  onFile('csv-file', loadUserCsv);
  $('export').addEventListener('click', action(exportCheckpoint));
  onFile('import-file', importCheckpoint);
  $('reset').addEventListener('click', action(reset));
  window.addEventListener('pagehide', () => S.playing && pause());
  document.addEventListener('visibilitychange', () => document.hidden && S.playing && pause());
}

async function sha256(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function main() {
  await init();
  $('version').textContent = tl.version();
  S.db = await store.openDb();
  initChart();
  const restored = await restoreOrStart();
  wire();
  S.experiments = initExperiments({
    series: () => S.series,
    bundled: (id) => Object.hasOwn(SERIES, id),
    showError,
  });
  syncSeriesSelect();
  S.chartBars = -1;
  render(true);
  setStatus(restored ? `restored at bar ${S.next}` : 'ready', 'ready');
  return { restored };
}

const ready = main();
ready.catch((e) => {
  showError(e, 'The page could not start:');
  setStatus('failed', 'failed');
});

/** Test and console hooks. */
window.tradeloop = {
  ready,
  runBars,
  play,
  pause: () => pause(),
  step: () => {
    const ok = stepBar();
    render(true);
    return ok;
  },
  flush,
  save: async () => {
    saveCheckpoint();
    await flush();
  },
  snapshot: () => S.engine.snapshot(),
  traderSnapshot: () => S.trader.snapshot(),
  sha256,
  snapshotSha256: () => sha256(S.engine.snapshot()),
  stats: () => S.engine.stats(),
  versions: () => S.engine.versions(),
  levelHistory: () => S.engine.levelHistory(),
  mixture: () => S.engine.mixture(),
  trial: () => S.engine.trial(),
  closedTrades: (n = 1000) => S.engine.closedTrades(n),
  openTrades: () => S.engine.openTrades(),
  levels: () => S.trader.levels(),
  state: () => ({
    barIndex: S.next,
    bars: S.series.candles.length,
    seriesId: S.series.id,
    seriesName: S.series.name,
    seq: S.seq,
    manualTrade: S.manual ? S.manual.id : null,
    strategyTrade: S.trader.openTrade() ?? null,
    playing: S.playing,
    epsilonPoints: S.eps.length,
    mixturePoints: S.mix.length,
  }),
  events: (n = 50) => store.lastEvents(S.db, n),
  buy: () => manualOpen('Long'),
  sell: () => manualOpen('Short'),
  close: () => manualClose(),
  promote,
  rollback,
  get engine() {
    return S.engine;
  },
  /** The strategy experiments panel: `run(options)` (runExperiment), `last()`, `progress()`. */
  get experiments() {
    return S.experiments;
  },
};
