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
/**
 * Events between two checkpoints. A checkpoint is the engine's snapshot (up to ~2 MB) and an
 * event a few hundred bytes, so a reload replays at most this many events (and the bars
 * between them) for a write every 64 events instead of one with every event.
 */
const CHECKPOINT_EVERY = 64;
/** Events kept in IndexedDB before the checkpoint (the log stays readable); older ones are pruned. */
const EVENTS_KEPT = 5000;
/** While writes fail, they are tried again this often, besides with every new event and on Retry. */
const RETRY_MS = 10_000;
const EXIT_LABEL = { Stop: 'SL', Target: 'TP', Timeout: 'time', Manual: 'close' };

const $ = (id) => document.getElementById(id);

/** Everything the page knows. */
const S = {
  db: null,
  engine: null,
  trader: null,
  series: null, // { id, name, symbol, candles, packed? }
  next: 0, // index of the next bar to replay
  seq: 0, // journalled events so far, saved or not
  // Persistence (see "persistence" below): the events not yet committed, in seq order; the
  // last committed seq; the seq of the committed checkpoint (null: none yet); whether the
  // next write must carry a checkpoint; the write in progress; the error of the last write
  // while writes fail; the bar index of the last event; what the committed writes held.
  unsaved: [],
  saved: 0,
  checkpointSeq: null,
  needCheckpoint: false,
  writing: null,
  writeError: null,
  retryTimer: null,
  journalledBar: 0,
  io: noIo(),
  manual: null, // { id, side, stop, target }
  eps: [], // exit-learner epsilon after each close
  // The mixture's expert weights after each close, a row per close in EXPERTS order. Not
  // persisted (the engine keeps only its current weights): after a reload, an import or a
  // reset the history restarts from the engine's weights at that point.
  mix: [],
  playing: false,
  timer: null,
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
//
// Every change to the engine or the trader is journalled as an event (`persist`), one small
// IndexedDB record each; the checkpoint (engine and trader snapshots and the page's state) is
// written only every CHECKPOINT_EVERY events, and with a series switch or an import, whose
// effect no event could replay. A reload restores the checkpoint and replays the events
// after it (`replay`), which gives the same engine and trader bytes.
//
// Writes go one at a time, each with every event not yet saved, so events commit in seq
// order and none is skipped; an event counts as saved once its transaction has committed.
// A failed write keeps its events in memory, shows how many are not saved (the storage-full
// banner for a quota error), pauses the replay, and is retried with the next event, on
// Retry and every RETRY_MS. The page stays usable meanwhile: what it journals joins the
// unsaved events, in order.

/** What the committed writes held: events and checkpoints, and their sizes in bytes. */
function noIo() {
  return { transactions: 0, events: 0, eventBytes: 0, checkpoints: 0, checkpointBytes: 0 };
}

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
    seq: S.seq, // it holds the effect of every event journalled so far
    manual: S.manual,
    eps: S.eps,
    savedAt: Date.now(),
  };
}

/** Bytes of a checkpoint record: its byte arrays plus the rest as JSON. */
function checkpointBytes(rec) {
  const { engine, trader, candles, ...rest } = rec;
  return engine.byteLength + trader.byteLength + (candles?.byteLength ?? 0) + JSON.stringify(rest).length;
}

/**
 * Journals one event: what replaying it needs, and nothing the replay can recompute.
 *   seq      1, 2, 3, ... in the order the page applied the events
 *   kind     open | close | promote | rollback | bars (the replay reached `bar`) |
 *            series (a new series starts) | import (the engine was replaced)
 *   source   strategy: the rule strategy did it on bar `bar - 1` (the replay feeds that bar
 *            to the trader and checks it does the same); manual: the Buy / Sell / Close
 *            buttons (the manual trade's state follows it); page: anything else
 *   bar      the bar index (bars fed to the trader) when it happened
 *   now      the engine time it was applied at (ms)
 *   command  the engine command in the core's serde shape, null for bars / series / import
 *   detail   series and import only: what was loaded (for the log; they come with a checkpoint)
 * `checkpoint` makes the write that carries this event carry the checkpoint too.
 */
function persist(kind, command, { now = nowMs(), source = 'page', detail = null, checkpoint = false } = {}) {
  S.seq += 1;
  const event = { seq: S.seq, kind, source, bar: S.next, now, command };
  if (detail) event.detail = detail;
  S.unsaved.push(event);
  S.journalledBar = S.next;
  if (checkpoint) S.needCheckpoint = true;
  $('stat-events').textContent = String(S.seq);
  kick();
}

/** Journals how far the replay got, when it moved since the last event (pause, step, end of a run). */
function journalProgress() {
  if (S.next !== S.journalledBar) persist('bars', null);
}

/** Starts the writer unless it is running (it then takes the new events on its next round). */
function kick() {
  if (!S.writing) {
    S.writing = writeLoop().finally(() => {
      S.writing = null;
      // An event journalled between the loop's last look and now.
      if (!S.writeError && (S.unsaved.length || S.needCheckpoint)) kick();
    });
  }
  return S.writing;
}

async function writeLoop() {
  // The task that journalled the event may journal more: let it finish, they go together.
  await null;
  while (S.unsaved.length || S.needCheckpoint) {
    if (!(await writeOnce())) return;
  }
}

/** Writes every unsaved event, with the checkpoint when one is due; false when it failed. */
async function writeOnce() {
  const events = S.unsaved.slice();
  const due = S.needCheckpoint || S.checkpointSeq === null || S.seq - S.checkpointSeq >= CHECKPOINT_EVERY;
  // Taken now, synchronously with `events`: it holds exactly their effect.
  const cp = due ? checkpointRecord() : null;
  try {
    await store.append(S.db, events, cp, EVENTS_KEPT);
  } catch (e) {
    writeFailed(e);
    return false;
  }
  S.unsaved.splice(0, events.length);
  if (events.length) S.saved = events[events.length - 1].seq;
  S.io.transactions += 1;
  S.io.events += events.length;
  for (const e of events) S.io.eventBytes += JSON.stringify(e).length;
  if (cp) {
    S.checkpointSeq = cp.seq;
    S.needCheckpoint = false;
    S.io.checkpoints += 1;
    S.io.checkpointBytes += checkpointBytes(cp);
  }
  if (S.writeError) {
    S.writeError = null;
    clearTimeout(S.retryTimer);
  }
  renderSaved();
  return true;
}

function writeFailed(e) {
  S.writeError = e;
  clearTimeout(S.retryTimer);
  S.retryTimer = setTimeout(retrySaving, RETRY_MS);
  // Stop adding to what is not saved; Play resumes (and pauses again if writes still fail).
  if (S.playing) pause();
  if (!store.isQuotaError(e)) showError(e, 'Saving to IndexedDB failed (kept in memory, retrying):');
  renderSaved();
}

function retrySaving() {
  clearTimeout(S.retryTimer);
  return kick();
}

/** Resolves when the writer is idle: everything is saved, or the last write failed. */
async function flush() {
  while (S.writing) await S.writing;
}

/** The saved-events counter and the storage-full banner. */
function renderSaved() {
  $('stat-saved').textContent = String(S.saved);
  const n = S.unsaved.length;
  const full = store.isQuotaError(S.writeError);
  $('storage-full').hidden = !full;
  if (full) {
    $('storage-full-text').textContent =
      `Storage is full: ${n} event${n === 1 ? ' is' : 's are'} not yet saved (kept in this tab, ` +
      `in order). The replay is paused; free some space (e.g. other sites' data, or Reset) ` +
      `and press Retry. Leaving or reloading the page now loses them.`;
  }
  document.body.dataset.saved = n ? 'pending' : 'all';
}

/** The journal entry of what the strategy did on a bar (`trader.onBar`'s event), or null. */
function strategyEntry(out) {
  const [kind, e] = variant(out);
  if (kind === 'Opened') return { kind: 'open', command: openCommandOf(tradeId(e.trade_id)) };
  if (kind === 'Closed') return { kind: 'close', command: { Close: { trade_id: e.trade_id, price: e.price, reason: e.reason } } };
  return null;
}

/**
 * Replays `tail` (the events after the restored checkpoint, oldest first) the way they were
 * made: the bars in between go through the trader again, which must journal the same opens
 * and closes as the log; the page's commands go through `engine.apply` at their `now`.
 * Returns how many events and bars it replayed; throws when the log does not fit.
 */
function replay(tail) {
  const candles = S.series.candles;
  let i = 0;
  let bars = 0;
  const broken = (what) => new Error(`The saved event log does not replay at event ${tail[i]?.seq ?? S.seq + 1}: ${what}`);
  const take = (ev) => {
    if (ev.seq !== S.seq + 1) throw broken(`event ${S.seq + 1} is missing`);
    S.seq = ev.seq;
    S.journalledBar = ev.bar;
    i += 1;
  };
  const feedTo = (bar) => {
    while (S.next < bar) {
      if (S.next >= candles.length) throw broken(`bar ${bar} is past the series' end`);
      const c = candles[S.next];
      const out = S.trader.onBar(S.engine, c);
      S.next += 1;
      bars += 1;
      const entry = out && strategyEntry(out);
      if (!entry) continue;
      const ev = tail[i];
      const same =
        ev?.source === 'strategy' && ev.bar === S.next && ev.kind === entry.kind && ev.now === c.time &&
        JSON.stringify(ev.command) === JSON.stringify(entry.command);
      if (!same) throw broken(`the strategy's ${entry.kind} on bar ${S.next - 1} is not the logged event`);
      if (entry.kind === 'close') recordClose();
      take(ev);
    }
  };
  while (i < tail.length) {
    const ev = tail[i];
    feedTo(ev.bar);
    if (tail[i] !== ev) continue; // the strategy made it again
    if (ev.source === 'strategy') throw broken(`the strategy did not ${ev.kind} on bar ${ev.bar - 1}`);
    if (ev.kind !== 'bars') {
      // series and import events are written with their checkpoint: never after it.
      if (!ev.command) throw broken(`a ${ev.kind} event cannot be replayed`);
      const [, r] = variant(S.engine.apply(ev.command, ev.now));
      if (ev.kind === 'open' && ev.source === 'manual') {
        S.manual = { id: tradeId(r.trade_id), side: ev.command.Open.side, stop: r.exits.stop_price, target: r.exits.target_price };
      } else if (ev.kind === 'close') {
        if (S.manual && S.manual.id === tradeId(ev.command.Close.trade_id)) S.manual = null;
        recordClose();
      }
    }
    take(ev);
  }
  return { events: tail.length, bars };
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

function closeTrade(id, price, reason, now, source) {
  const close = { trade_id: id, price, reason };
  const closed = S.engine.close(close, now);
  recordClose();
  persist('close', { Close: close }, { now, source });
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
      closeTrade(S.manual.id, hit.price, hit.reason, c.time, 'manual');
      S.manual = null;
    }
  }
  const out = S.trader.onBar(S.engine, c);
  S.next += 1;
  const entry = out && strategyEntry(out);
  if (entry) {
    if (entry.kind === 'close') recordClose();
    persist(entry.kind, entry.command, { now: c.time, source: 'strategy' });
  }
  return true;
}

/**
 * Runs up to n bars as fast as possible (persisting as usual); stops early, like Play, when
 * a write fails. Resolves when the writer is idle.
 */
async function runBars(n) {
  pause(false);
  let ran = 0;
  try {
    while (ran < n && !S.writeError && stepBar()) {
      ran += 1;
      if (ran % 200 === 0) await new Promise((r) => setTimeout(r, 0));
    }
  } catch (e) {
    showError(e);
  }
  journalProgress();
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

/** Stops playing; `journal`: journals how far it got (when it was playing). */
function pause(journal = true) {
  const was = S.playing;
  S.playing = false;
  clearInterval(S.timer);
  S.timer = null;
  $('play').disabled = false;
  $('pause').disabled = true;
  setStatus('paused', 'paused');
  if (journal && was) journalProgress();
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
  persist('open', { Open: open }, { now: bar.time, source: 'manual' });
  render(true);
}

function manualClose() {
  if (!S.manual) throw new Error('No manual trade is open.');
  const bar = lastBar();
  closeTrade(S.manual.id, bar.close, 'Manual', bar.time, 'manual');
  S.manual = null;
  render(true);
}

// ---------------------------------------------------------------- versions

function promote(id) {
  const now = nowMs();
  const champion = S.engine.promote(id, now);
  persist('promote', { Promote: id }, { now });
  render(true);
  return champion;
}

function rollback(id = null) {
  const now = nowMs();
  const champion = S.engine.rollback(id, now);
  persist('rollback', { Rollback: id }, { now });
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
      if (!S.engine.trade(id).close) closeTrade(id, bar.close, 'Manual', bar.time, 'page');
    } catch {
      /* not in this engine (e.g. after an import) */
    }
  }
  S.manual = null;
}

/**
 * Starts replaying `series` from its first bar; the engine keeps what it learned. The new
 * series (a user CSV's candles) and the fresh trader are in no event: a checkpoint goes with it.
 */
function startSeries(series) {
  closeRunTrades();
  const trader = newTrader(series.symbol);
  S.trader?.free();
  S.trader = trader;
  S.series = series;
  S.next = 0;
  S.chartBars = -1;
  persist('series', null, { detail: { id: series.id, name: series.name, bars: series.candles.length }, checkpoint: true });
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

/** Starts afresh: clears IndexedDB, the events not yet saved included. */
async function reset() {
  pause(false);
  await flush();
  clearTimeout(S.retryTimer);
  S.unsaved = [];
  S.saved = 0;
  S.checkpointSeq = null; // the first event after the reset is written with a checkpoint
  S.needCheckpoint = false;
  S.writeError = null;
  S.journalledBar = 0;
  S.io = noIo();
  renderSaved();
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
  // The imported bytes are in no event: a checkpoint goes with it.
  persist('import', null, { detail: { file: file.name, bytes: bytes.length }, checkpoint: true });
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
  renderSaved();
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

/**
 * Restores the checkpoint and replays the events saved after it; else starts afresh.
 * `{ restored, replayed: { events, bars } | null }`.
 */
async function restoreOrStart() {
  const rec = await store.loadCheckpoint(S.db);
  if (rec) {
    try {
      const series =
        rec.seriesId === 'user'
          ? { id: 'user', name: rec.seriesName, symbol: rec.symbol, candles: unpack(rec.candles), packed: rec.candles }
          : await fetchSeries(rec.seriesId);
      S.series = series;
      S.engine = tl.Engine.restore(rec.engine);
      S.trader = tl.PaperTrader.restore(rec.trader);
      S.next = Math.min(rec.nextBar, series.candles.length);
      S.seq = rec.seq;
      S.manual = rec.manual ?? null;
      S.eps = rec.eps ?? [];
      S.mix = []; // not in the checkpoint: the first render starts it from the restored weights
      S.journalledBar = S.next;
      const replayed = replay(await store.eventsAfter(S.db, rec.seq));
      S.saved = S.seq;
      S.checkpointSeq = rec.seq;
      return { restored: true, replayed };
    } catch (e) {
      S.engine?.free();
      S.trader?.free();
      showError(e, 'The saved state could not be restored (Reset clears it); starting afresh:');
    }
  }
  // A fresh engine is the same in every tab (SEED, the first bar's time), but nothing needs
  // it to be: the first event is written with a checkpoint.
  const series = await fetchSeries(DEFAULT_SERIES);
  Object.assign(S, { series, next: 0, seq: 0, saved: 0, checkpointSeq: null, journalledBar: 0, manual: null, eps: [], mix: [] });
  S.engine = newEngine(series.candles[0].time);
  S.trader = newTrader(series.symbol);
  return { restored: false, replayed: null };
}

function wire() {
  $('play').addEventListener('click', action(play));
  $('pause').addEventListener('click', action(() => pause()));
  $('step').addEventListener(
    'click',
    action(() => {
      pause();
      stepBar();
      journalProgress();
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
  $('storage-retry').addEventListener('click', action(retrySaving));
  // Leaving while playing journals how far it got (a small record, not a checkpoint).
  window.addEventListener('pagehide', () => S.playing && pause());
  document.addEventListener('visibilitychange', () => document.hidden && S.playing && pause());
  // Events not yet saved exist only in this tab: ask before it goes.
  window.addEventListener('beforeunload', (e) => {
    if (S.unsaved.length) e.preventDefault();
  });
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
  const start = await restoreOrStart();
  wire();
  S.experiments = initExperiments({
    series: () => S.series,
    bundled: (id) => Object.hasOwn(SERIES, id),
    showError,
  });
  syncSeriesSelect();
  S.chartBars = -1;
  render(true);
  const r = start.replayed;
  setStatus(start.restored ? `restored at bar ${S.next}${r?.events ? ` (${r.events} events replayed)` : ''}` : 'ready', 'ready');
  return start;
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
    journalProgress();
    render(true);
    return ok;
  },
  flush,
  /** Writes a checkpoint now (with any unsaved events); resolves when the writer is idle. */
  save: async () => {
    S.needCheckpoint = true;
    await kick();
    await flush();
  },
  retry: async () => {
    await retrySaving();
    await flush();
  },
  /** The persistence state: seqs, unsaved events, the last write error and the bytes written. */
  persistence: () => ({
    seq: S.seq,
    saved: S.saved,
    unsaved: S.unsaved.length,
    unsavedSeqs: S.unsaved.map((e) => e.seq),
    checkpointSeq: S.checkpointSeq,
    checkpointEvery: CHECKPOINT_EVERY,
    error: S.writeError ? S.writeError.name || String(S.writeError) : null,
    io: { ...S.io },
  }),
  /** Bytes of the checkpoint record the page would write now. */
  checkpointBytes: () => checkpointBytes(checkpointRecord()),
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
