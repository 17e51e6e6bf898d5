// SMA crossover, strategy ABI v1 (docs/STRATEGY_ABI.md), in AssemblyScript against the raw
// ABI: no SDK, no managed objects (runtime "stub", no garbage collector), memory read and
// written with load/store at the offsets the ABI gives.
//
// The same strategy as strategies/sma-cross/src/lib.rs, with the same arithmetic in the same
// order, so that both give bit-identical trades:
//   parameters  fast (default 10, clamped to [1, 10000]), slow (default 30, clamped to
//               [fast + 1, 20000]), size (default 0: none), fraction (default 0.95, clamped
//               to [0, 1]); read with the `param` import
//   window      the last `slow` closes, oldest first
//   diff        mean(last `fast` closes) - mean(all `slow` closes), each mean the sum in
//               order (from -0.0, as Rust's `Sum for f64`) divided by the window's length
//   cross       the sign of the last non-zero diff changes (backtrader's CrossOver)
//   orders      flat and crossed up: market buy of `size` units, or fraction * equity /
//               close (tag 1); long and crossed down: close (tag 2)
// It also mirrors the Rust SDK's answers to malformed input (-1) and calls before init (-2).
//
// The only imports are from module "tradeloop_strategy"; abort is routed to `abort` below
// (asconfig.json: "use": ["abort=assembly/index/abort"]), which traps.

// @ts-ignore: decorator
@external("tradeloop_strategy", "param")
declare function param(name: i32, nameLen: i32, out: i32): i32;

const ABI_VERSION: i32 = 1;
const CONFIG_SIZE: i32 = 56;
const INPUT_HEADER: i32 = 88;
const ORDER_SIZE: i32 = 32;
const ACTION_SIZE: i32 = 32;
const MAX_OPEN_ORDERS: u32 = 64;

const KIND_MARKET: u8 = 1;
const KIND_CLOSE: u8 = 5;
const SIDE_BUY: u8 = 0;
const TAG_ENTRY: u32 = 1;
const TAG_EXIT: u32 = 2;

// Parameter names (UTF-8) and the 8 bytes `param` writes its value to.
const NAME_FAST = memory.data<u8>([0x66, 0x61, 0x73, 0x74]); // "fast"
const NAME_SLOW = memory.data<u8>([0x73, 0x6c, 0x6f, 0x77]); // "slow"
const NAME_SIZE = memory.data<u8>([0x73, 0x69, 0x7a, 0x65]); // "size"
const NAME_FRACTION = memory.data<u8>([0x66, 0x72, 0x61, 0x63, 0x74, 0x69, 0x6f, 0x6e]); // "fraction"
const PARAM_OUT = memory.data(8, 8);

// State (set by tls_init).
let ready = false;
let fast: i32 = 0;
let slow: i32 = 0;
let size: f64 = 0.0;
let fraction: f64 = 0.0;
let closes: usize = 0; // ring buffer of `slow` f64
let head: i32 = 0; // index of the oldest close in the ring
let count: i32 = 0; // closes held, at most `slow`
let lastDiff: f64 = 0.0;

/// Called instead of the runtime's abort (no `env.abort` import): traps.
function abort(
  message: string | null,
  fileName: string | null,
  lineNumber: u32,
  columnNumber: u32,
): void {
  unreachable();
}

function paramOr(name: usize, len: i32, dflt: f64): f64 {
  return param(<i32>name, len, <i32>PARAM_OUT) == 1 ? load<f64>(PARAM_OUT) : dflt;
}

/// Rust's `f64::clamp` (NaN stays NaN).
function clamp(x: f64, lo: f64, hi: f64): f64 {
  if (x < lo) x = lo;
  if (x > hi) x = hi;
  return x;
}

/// Rust's `f64 as usize` for the values `clamp` leaves (NaN becomes 0).
function toCount(x: f64): i32 {
  return isNaN(x) ? 0 : <i32>x;
}

/// Mean of the `n` newest closes of the window, summed oldest first.
function meanOfNewest(n: i32): f64 {
  let sum: f64 = -0.0;
  for (let i = count - n; i < count; i++) {
    sum += load<f64>(closes + ((<usize>((head + i) % slow)) << 3));
  }
  return sum / <f64>n;
}

export function tls_abi_version(): i32 {
  return ABI_VERSION;
}

/// A bump allocator above the static data: 8-aligned, never frees, grows the memory as
/// needed; 0 when the memory cannot grow (fresh memory is zeroed, like the Rust SDK's
/// `alloc_zeroed`).
let bump: usize = 0;
function allocate(len: usize): usize {
  if (bump == 0) bump = (__heap_base + 7) & ~(<usize>7);
  const at = bump;
  const end = at + ((len + 7) & ~(<usize>7));
  if (end < at) return 0;
  const have = (<usize>memory.size()) << 16;
  if (end > have) {
    const pages = <i32>((end - have + 0xffff) >> 16);
    if (memory.grow(pages) < 0) return 0;
  }
  bump = end;
  return at;
}

export function tls_alloc(len: i32): i32 {
  const n: i32 = len > 1 ? len : 1;
  return <i32>allocate(<usize>n);
}

export function tls_init(config: i32, configLen: i32, params: i32, paramsLen: i32, seed: i64): i32 {
  if (config == 0 || configLen < CONFIG_SIZE || load<u32>(config) != <u32>ABI_VERSION) {
    return -1;
  }
  fast = toCount(clamp(paramOr(NAME_FAST, 4, 10.0), 1.0, 10000.0));
  slow = toCount(clamp(paramOr(NAME_SLOW, 4, 30.0), <f64>fast + 1.0, 20000.0));
  size = paramOr(NAME_SIZE, 4, 0.0);
  fraction = clamp(paramOr(NAME_FRACTION, 8, 0.95), 0.0, 1.0);
  const window: i32 = slow > 0 ? slow : 1;
  closes = allocate((<usize>window) << 3);
  if (closes == 0) unreachable(); // out of memory: the Rust version aborts too
  head = 0;
  count = 0;
  lastDiff = 0.0;
  ready = true;
  return 0; // no warm-up bars
}

/// The checks of the Rust SDK's `Input::read`: long enough for its orders, at most 64 of
/// them, each of a known kind and side.
function inputIsValid(input: i32, len: i32): bool {
  if (input == 0 || len < INPUT_HEADER) return false;
  const n = load<u32>(input, 4);
  if (n > MAX_OPEN_ORDERS || len < INPUT_HEADER + <i32>n * ORDER_SIZE) return false;
  for (let i: i32 = 0; i < <i32>n; i++) {
    const at = input + INPUT_HEADER + i * ORDER_SIZE;
    const kind = load<u8>(at, 4);
    const side = load<u8>(at, 5);
    if (kind < 1 || kind > 5 || side > 1) return false;
  }
  return true;
}

function writeAction(at: i32, kind: u8, side: u8, tag: u32, units: f64): void {
  store<u8>(at, kind, 0);
  store<u8>(at, side, 1);
  store<u8>(at, 0, 2); // flags
  store<u8>(at, 0, 3);
  store<u32>(at, tag, 4);
  store<f64>(at, units, 8);
  store<f64>(at, 0.0, 16); // price
  store<u32>(at, 0, 24); // order id
  store<u32>(at, 0, 28);
}

export function tls_on_bar(input: i32, inputLen: i32, actions: i32, actionsCap: i32): i32 {
  if (!inputIsValid(input, inputLen)) return -1;
  if (!ready) return -2;
  const close = load<f64>(input, 8 + 32);
  const position = load<f64>(input, 56);
  const equity = load<f64>(input, 80);

  if (slow == 0) unreachable(); // the Rust version panics here too (a NaN `slow`)
  if (count == slow) {
    head = (head + 1) % slow;
    count--;
  }
  store<f64>(closes + ((<usize>((head + count) % slow)) << 3), close);
  count++;
  if (count < slow) return 0;

  const diff = meanOfNewest(fast) - meanOfNewest(count);
  const before = lastDiff;
  if (diff != 0.0) lastDiff = diff;
  const up = before < 0.0 && diff > 0.0;
  const down = before > 0.0 && diff < 0.0;

  if (actionsCap < 1) return 0;
  if (position == 0.0 && up) {
    const units = size > 0.0 ? size : fraction * equity / close;
    writeAction(actions, KIND_MARKET, SIDE_BUY, TAG_ENTRY, units);
    return 1;
  } else if (position > 0.0 && down) {
    writeAction(actions, KIND_CLOSE, SIDE_BUY, TAG_EXIT, 0.0);
    return 1;
  }
  return 0;
}

export function tls_on_fill(fill: i32, fillLen: i32): void {}

export function tls_on_end(): void {}

/// Saving is not supported (as the Rust version): -2 before init, else -1.
export function tls_save(out: i32, cap: i32): i32 {
  return ready ? -1 : -2;
}

export function tls_load(state: i32, len: i32): i32 {
  return ready ? -1 : -2;
}
