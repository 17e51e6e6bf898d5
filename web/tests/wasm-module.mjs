// A tiny WebAssembly binary writer for the tests' hand-made strategy modules (the hostile
// ones of web/tests/strategies.mjs): types, imports, one memory, one i32 global (a bump
// allocator's heap pointer), functions and exports, with bodies given as raw opcodes.

const I32 = 0x7f;
const I64 = 0x7e;
const F64 = 0x7c;
export const T = { i32: I32, i64: I64, f64: F64 };

/** Unsigned LEB128. */
export function uleb(v) {
  const out = [];
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

/** Signed LEB128 (32-bit range). */
export function sleb(v) {
  const out = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const name = (s) => {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
};
const vec = (items) => [...uleb(items.length), ...items.flat()];
const section = (id, body) => (body.length ? [id, ...uleb(body.length), ...body] : []);
const f64le = (x) => [...new Uint8Array(new Float64Array([x]).buffer)];

/** Opcodes the tests' bodies use. */
export const op = {
  i32: (v) => [0x41, ...sleb(v)],
  i64: (v) => [0x42, ...sleb(v)],
  f64: (x) => [0x44, ...f64le(x)],
  local: (k) => [0x20, ...uleb(k)],
  globalGet: (k) => [0x23, ...uleb(k)],
  globalSet: (k) => [0x24, ...uleb(k)],
  i32Load: (offset = 0) => [0x28, 2, ...uleb(offset)],
  i64Store: (offset = 0) => [0x37, 3, ...uleb(offset)],
  f64Store: (offset = 0) => [0x39, 3, ...uleb(offset)],
  add: [0x6a],
  and: [0x71],
  eq: [0x46],
  geU: [0x4f],
  drop: [0x1a],
  ret: [0x0f],
  unreachable: [0x00],
  memoryGrow: [0x40, 0x00],
  /** `if` (no result) ... `end`. */
  if: (body) => [0x04, 0x40, ...body, 0x0b],
  /** `loop` whose body ends with a branch back to its start: runs forever. */
  forever: [0x03, 0x40, 0x0c, 0x00, 0x0b],
};

/**
 * A module's bytes. `imports`: [{ module, name, params, results }] (functions);
 * `memory`: { min, max? } (pages), exported as "memory"; `heap`: start of the one global;
 * `funcs`: [{ name (export name), params, results, body }] where body is opcodes without the
 * final `end`.
 */
export function wasmModule({ imports = [], memory = { min: 1 }, heap = 1024, funcs }) {
  const types = [];
  const typeOf = (params, results) => {
    const key = `${params}|${results}`;
    let k = types.findIndex((t) => t.key === key);
    if (k < 0) {
      types.push({ key, bytes: [0x60, ...vec(params.map((p) => [p])), ...vec(results.map((r) => [r]))] });
      k = types.length - 1;
    }
    return k;
  };
  const importEntries = imports.map((i) => [...name(i.module), ...name(i.name), 0x00, ...uleb(typeOf(i.params, i.results))]);
  const funcTypes = funcs.map((f) => uleb(typeOf(f.params, f.results)));
  const limits = memory.max === undefined ? [0x00, ...uleb(memory.min)] : [0x01, ...uleb(memory.min), ...uleb(memory.max)];
  const globals = [[I32, 0x01, ...op.i32(heap), 0x0b]];
  const exports = [
    [...name('memory'), 0x02, 0x00],
    ...funcs.map((f, k) => [...name(f.name), 0x00, ...uleb(imports.length + k)]),
  ];
  const code = funcs.map((f) => {
    const body = [0x00, ...f.body, 0x0b]; // no locals
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types.map((t) => t.bytes))),
    ...section(2, imports.length ? vec(importEntries) : []),
    ...section(3, vec(funcTypes)),
    ...section(5, vec([limits])),
    ...section(6, vec(globals)),
    ...section(7, vec(exports)),
    ...section(10, vec(code)),
  ]);
}

/** The index of the bar in `tls_on_bar`'s input (local 0: the input pointer). */
export const barIndex = [...op.local(0), ...op.i32Load(0)];
/** `if bar index == n { body }`. */
export const ifBarIs = (n, body) => [...barIndex, ...op.i32(n), ...op.eq, ...op.if(body)];
/** `if bar index >= n { body }`. */
export const ifBarFrom = (n, body) => [...barIndex, ...op.i32(n), ...op.geU, ...op.if(body)];
/** Writes one market buy of `size` units at the actions pointer (local 2) and returns 1. */
export const buy = (size) => [
  ...op.local(2), ...op.i64(1), ...op.i64Store(0), // kind 1 (market), side 0 (buy), flags 0, tag 0
  ...op.local(2), ...op.f64(size), ...op.f64Store(8),
  ...op.local(2), ...op.i64(0), ...op.i64Store(16),
  ...op.local(2), ...op.i64(0), ...op.i64Store(24),
  ...op.i32(1), ...op.ret,
];

/**
 * A strategy module of ABI v1 (a bump allocator, init with no warm-up) whose `tls_on_bar` is
 * `onBar` (then returns 0 actions); `version` is what `tls_abi_version` answers.
 */
export function strategyModule({ onBar = [], version = 1, imports = [], memory = { min: 1 } } = {}) {
  const { i32, i64 } = T;
  return wasmModule({
    imports,
    memory,
    funcs: [
      { name: 'tls_abi_version', params: [], results: [i32], body: op.i32(version) },
      {
        name: 'tls_alloc',
        params: [i32],
        results: [i32],
        // old = heap; heap = (heap + len + 7) & -8; old
        body: [
          ...op.globalGet(0), ...op.globalGet(0), ...op.local(0), ...op.add,
          ...op.i32(7), ...op.add, ...op.i32(-8), ...op.and, ...op.globalSet(0),
        ],
      },
      { name: 'tls_init', params: [i32, i32, i32, i32, i64], results: [i32], body: op.i32(0) },
      { name: 'tls_on_bar', params: [i32, i32, i32, i32], results: [i32], body: [...onBar, ...op.i32(0)] },
    ],
  });
}
