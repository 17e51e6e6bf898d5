// Checks a strategy module's shape against strategy ABI v1 (docs/STRATEGY_ABI.md) with
// WebAssembly.Module.imports / exports: it compiles, imports only from module
// "tradeloop_strategy" (only names the ABI lists, as functions), exports one memory
// named "memory" and the required functions, and tls_abi_version() returns 1.
//
//   node test/shape.mjs [FILE.wasm]     (default: sma-cross-as.wasm beside test/)
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const file = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "sma-cross-as.wasm");
const module = new WebAssembly.Module(readFileSync(file));
const imports = WebAssembly.Module.imports(module);
const exports = WebAssembly.Module.exports(module);

const allowedImports = new Set(["history", "features", "suggest", "param", "log"]);
const required = ["tls_abi_version", "tls_alloc", "tls_init", "tls_on_bar"];
const optional = ["tls_on_fill", "tls_on_end", "tls_save", "tls_load"];
const problems = [];
for (const i of imports) {
  if (i.module !== "tradeloop_strategy" || !allowedImports.has(i.name) || i.kind !== "function") {
    problems.push(`import ${i.module}.${i.name} (${i.kind}) is not in the ABI`);
  }
}
const byName = new Map(exports.map((e) => [e.name, e.kind]));
if (byName.get("memory") !== "memory") problems.push("no exported memory named 'memory'");
if (exports.filter((e) => e.kind === "memory").length !== 1) problems.push("not exactly one exported memory");
for (const name of required) {
  if (byName.get(name) !== "function") problems.push(`required export ${name} is missing`);
}
for (const name of optional) {
  if (byName.has(name) && byName.get(name) !== "function") problems.push(`export ${name} is not a function`);
}
if (problems.length === 0) {
  const stub = () => 0;
  const env = Object.fromEntries(imports.map((i) => [i.name, stub]));
  const instance = new WebAssembly.Instance(module, { tradeloop_strategy: env });
  const v = instance.exports.tls_abi_version();
  if (v !== 1) problems.push(`tls_abi_version() returned ${v}, expected 1`);
}
const fmtImports = imports.map((i) => `${i.module}.${i.name}`).join(", ") || "none";
const fmtExports = exports.map((e) => (e.kind === "function" ? e.name : `${e.name} (${e.kind})`)).join(", ");
if (problems.length > 0) {
  console.error(`shape.mjs: ${file}:\n  ${problems.join("\n  ")}\n  imports: ${fmtImports}\n  exports: ${fmtExports}`);
  process.exit(1);
}
console.log(`shape.mjs: ${file}: ABI v1 shape ok; imports: ${fmtImports}; exports: ${fmtExports}`);
