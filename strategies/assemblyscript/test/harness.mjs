// A tiny strategy-ABI-v1 host in node, to sanity-check strategy modules without the Rust
// host: feeds a candle CSV bar by bar per docs/STRATEGY_ABI.md, fills market and close
// orders at the next bar's open (no fees, no slippage, the cash rule), and prints the
// actions and trades. Given several modules it runs each one and compares their actions
// byte for byte and their trades; it exits 1 on any difference.
//
//   node test/harness.mjs [--data CSV] [--param NAME=VALUE]... [--cash N] [--json] A.wasm [B.wasm ...]
//
// e.g. the AssemblyScript build against the Rust one (strategies/build.sh):
//   node test/harness.mjs --param size=1 sma-cross-as.wasm ../../target/strategies/sma-cross.wasm
//
// Not the real host (host/, `tradeloop experiment`): only market and close orders are
// executed; limit, stop and cancel actions are counted as unsupported.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let dataPath = join(here, "..", "..", "..", "data", "market", "SPY_1h.csv");
let cash0 = 10000;
let json = false;
const params = new Map();
const modules = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--data") dataPath = args[++i];
  else if (a === "--cash") cash0 = Number(args[++i]);
  else if (a === "--json") json = true;
  else if (a === "--param") {
    const [k, v] = args[++i].split("=");
    params.set(k, Number(v));
  } else if (a.startsWith("--")) {
    console.error(`harness.mjs: unknown option ${a}`);
    process.exit(2);
  } else modules.push(a);
}
if (modules.length === 0) modules.push(join(here, "..", "sma-cross-as.wasm"));

// The market CSV contract: timestamp,open,high,low,close,volume; unix seconds or ISO-8601 UTC.
function readBars(path) {
  const lines = readFileSync(path, "utf8").replace(/^\uFEFF/, "").split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines[0].trim().toLowerCase().replace(/\s/g, "") !== "timestamp,open,high,low,close,volume") {
    throw new Error(`${path}: unexpected header ${lines[0]}`);
  }
  return lines.slice(1).map((l) => {
    const c = l.split(",").map((s) => s.trim().replace(/^"(.*)"$/, "$1"));
    const time = /^-?\d+$/.test(c[0]) ? Number(c[0]) * 1000 : Date.parse(c[0]);
    return { time, open: +c[1], high: +c[2], low: +c[3], close: +c[4], volume: +c[5] };
  });
}

const BAR = 48;
const INPUT_HEADER = 88;
const MAX_INPUT = INPUT_HEADER + 64 * 32;
const ACTION = 32;
const MAX_ACTIONS = 16;
const FILL = 48;

function run(file, bars) {
  const module = new WebAssembly.Module(readFileSync(file));
  let mem;
  let current = -1;
  const logs = [];
  const dv = () => new DataView(mem.buffer);
  const u8 = () => new Uint8Array(mem.buffer);
  const env = {
    param(name, len, out) {
      if (name < 0 || len < 0 || name + len > mem.buffer.byteLength || out < 0 || out + 8 > mem.buffer.byteLength) return -1;
      const key = new TextDecoder().decode(u8().slice(name, name + len));
      if (!params.has(key)) return 0;
      dv().setFloat64(out, params.get(key), true);
      return 1;
    },
    history(from, count, out) {
      if (from < 0 || count < 0 || out < 0) return -1;
      const end = Math.min(from + count, current + 1);
      let n = 0;
      for (let i = from; i < end; i++, n++) writeBar(dv(), out + n * BAR, bars[i]);
      return n;
    },
    features: () => 0,
    suggest: () => -4,
    log(msg, len) {
      logs.push(new TextDecoder().decode(u8().slice(msg, msg + len)));
    },
  };
  const imports = {};
  for (const i of WebAssembly.Module.imports(module)) {
    if (i.module !== "tradeloop_strategy" || !(i.name in env)) throw new Error(`${file}: import ${i.module}.${i.name} is not in the ABI`);
    (imports[i.module] ??= {})[i.name] = env[i.name];
  }
  const x = new WebAssembly.Instance(module, imports).exports;
  mem = x.memory;
  if (x.tls_abi_version() !== 1) throw new Error(`${file}: ABI version ${x.tls_abi_version()}`);

  const text = [...params.keys()].sort().map((k) => `${k}=${params.get(k)}\n`).join("");
  const textBytes = new TextEncoder().encode(text);
  const pConfig = x.tls_alloc(56);
  const pParams = x.tls_alloc(Math.max(textBytes.length, 1));
  const pInput = x.tls_alloc(MAX_INPUT);
  const pActions = x.tls_alloc(MAX_ACTIONS * ACTION);
  const pFill = x.tls_alloc(FILL);
  for (const p of [pConfig, pParams, pInput, pActions, pFill]) if (p === 0 || p % 8 !== 0) throw new Error(`${file}: tls_alloc gave ${p}`);
  {
    const d = dv();
    d.setUint32(pConfig, 1, true);
    d.setUint32(pConfig + 4, MAX_ACTIONS, true);
    d.setFloat64(pConfig + 8, cash0, true);
    d.setFloat64(pConfig + 16, 0, true);
    d.setFloat64(pConfig + 24, 0, true);
    d.setUint32(pConfig + 32, 32, true);
    d.setUint32(pConfig + 36, 0, true);
    u8().set(new TextEncoder().encode(basename(dataPath).split("_")[0].slice(0, 16).padEnd(16, "\0")), pConfig + 40);
    u8().set(textBytes, pParams);
  }
  const warmup = x.tls_init(pConfig, 56, pParams, textBytes.length, 0n);
  if (warmup < 0) throw new Error(`${file}: tls_init refused (${warmup})`);

  let cash = cash0;
  let position = 0;
  let entryPrice = 0;
  let nextId = 1;
  let pending = []; // market and close orders placed on the previous bar
  let open = null; // the open trade
  const trades = [];
  const actionLog = createHash("sha256");
  const actionsByBar = [];
  let unsupported = 0;
  let rejected = 0;
  let stoppedAt = null;

  for (let t = 0; t < bars.length && stoppedAt === null; t++) {
    const bar = bars[t];
    current = t;
    // Orders of bar t-1 fill at this bar's open, in id order.
    for (const o of pending) {
      let side = o.side;
      let size = o.size;
      if (o.kind === 5) {
        if (position === 0) continue;
        side = position > 0 ? 1 : 0;
        size = Math.abs(position);
      }
      const price = bar.open;
      const after = position + (side === 0 ? size : -size);
      const grows = Math.abs(after) > Math.abs(position);
      const equity = cash + position * price;
      const filled = !(grows && Math.abs(after) * price > equity);
      if (filled) {
        cash -= (after - position) * price;
        if (position === 0) {
          open = { long: after > 0, entry_bar: t, entry_price: price, size: Math.abs(after), tag: o.tag };
          entryPrice = price;
        } else if (after === 0) {
          trades.push({ ...open, exit_bar: t, exit_price: price, end_of_data: false });
          open = null;
          entryPrice = 0;
        }
        position = after;
      }
      if (x.tls_on_fill) {
        const d = dv();
        d.setUint32(pFill, o.id, true);
        d.setUint8(pFill + 4, o.kind);
        d.setUint8(pFill + 5, side);
        d.setUint8(pFill + 6, filled ? 0 : 1);
        d.setUint8(pFill + 7, filled ? 0 : 1);
        d.setUint32(pFill + 8, o.tag, true);
        d.setUint32(pFill + 12, t, true);
        d.setFloat64(pFill + 16, size, true);
        d.setFloat64(pFill + 24, price, true);
        d.setFloat64(pFill + 32, 0, true);
        d.setFloat64(pFill + 40, position, true);
        x.tls_on_fill(pFill, FILL);
      }
    }
    pending = [];
    if (t < warmup) continue;
    const d = dv();
    d.setUint32(pInput, t, true);
    d.setUint32(pInput + 4, 0, true);
    writeBar(d, pInput + 8, bar);
    d.setFloat64(pInput + 56, position, true);
    d.setFloat64(pInput + 64, entryPrice, true);
    d.setFloat64(pInput + 72, cash, true);
    d.setFloat64(pInput + 80, cash + position * bar.close, true);
    const n = x.tls_on_bar(pInput, INPUT_HEADER, pActions, MAX_ACTIONS);
    if (n < 0) {
      stoppedAt = { bar: t, code: n };
      break;
    }
    if (n > MAX_ACTIONS) {
      rejected += n;
      continue;
    }
    if (n === 0) continue;
    const raw = u8().slice(pActions, pActions + n * ACTION);
    actionLog.update(Buffer.from(new Uint32Array([t]).buffer)).update(raw);
    actionsByBar.push({ bar: t, raw: Buffer.from(raw).toString("hex") });
    for (let i = 0; i < n; i++) {
      const a = pActions + i * ACTION;
      const v = dv();
      const kind = v.getUint8(a);
      const side = v.getUint8(a + 1);
      const tag = v.getUint32(a + 4, true);
      const size = v.getFloat64(a + 8, true);
      if (kind === 1) {
        if (side > 1 || !(size > 0) || !Number.isFinite(size)) rejected++;
        else pending.push({ id: nextId++, kind, side, size, tag });
      } else if (kind === 5) pending.push({ id: nextId++, kind, side: 0, size: 0, tag });
      else if (kind >= 2 && kind <= 4) unsupported++;
      else rejected++;
    }
  }
  if (x.tls_on_end) x.tls_on_end();
  if (open) {
    const last = bars[Math.min(current, bars.length - 1)];
    trades.push({ ...open, exit_bar: current, exit_price: last.close, end_of_data: true });
  }
  return {
    file,
    warmup,
    actions: actionsByBar.length,
    actionsSha256: actionLog.digest("hex"),
    actionsByBar,
    trades,
    rejected,
    unsupported,
    stoppedAt,
    logs,
    cash,
    position,
  };
}

function writeBar(d, at, b) {
  d.setBigInt64(at, BigInt(b.time), true);
  d.setFloat64(at + 8, b.open, true);
  d.setFloat64(at + 16, b.high, true);
  d.setFloat64(at + 24, b.low, true);
  d.setFloat64(at + 32, b.close, true);
  d.setFloat64(at + 40, b.volume, true);
}

const bars = readBars(dataPath);
const results = modules.map((m) => run(m, bars));
if (json) {
  console.log(JSON.stringify(results.map(({ actionsByBar, ...r }) => r), null, 1));
} else {
  for (const r of results) {
    const closed = r.trades.filter((t) => !t.end_of_data);
    console.log(
      `${r.file}: ${bars.length} bars, warm-up ${r.warmup}, ${r.actions} bars with actions (sha256 ${r.actionsSha256.slice(0, 16)}), ` +
        `${closed.length} closed trades${r.trades.length > closed.length ? " + 1 open at the end" : ""}, ` +
        `${r.rejected} rejected, ${r.unsupported} unsupported, ` +
        (r.stoppedAt ? `stopped at bar ${r.stoppedAt.bar} (${r.stoppedAt.code})` : "ran to the end") +
        (closed.length ? `; first trade: bars ${closed[0].entry_bar}->${closed[0].exit_bar}, ${closed[0].entry_price}->${closed[0].exit_price}, size ${closed[0].size}` : ""),
    );
  }
}
let failed = false;
for (const r of results) {
  if (r.stoppedAt || r.actions === 0) {
    console.error(`harness.mjs: ${r.file}: ${r.stoppedAt ? "stopped" : "no actions at all"}`);
    failed = true;
  }
}
for (const r of results.slice(1)) {
  const a = results[0];
  const same = a.actionsSha256 === r.actionsSha256 && JSON.stringify(a.trades) === JSON.stringify(r.trades);
  if (same) {
    console.log(`harness.mjs: ${basename(r.file)} and ${basename(a.file)}: identical actions (byte for byte) and trades`);
  } else {
    failed = true;
    const i = a.actionsByBar.findIndex((e, k) => r.actionsByBar[k]?.bar !== e.bar || r.actionsByBar[k]?.raw !== e.raw);
    console.error(
      `harness.mjs: ${basename(r.file)} differs from ${basename(a.file)}: first different action ${JSON.stringify(a.actionsByBar[i])} vs ${JSON.stringify(r.actionsByBar[i])}`,
    );
  }
}
process.exit(failed ? 1 : 0);
