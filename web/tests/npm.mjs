// Test of the npm package `tradeloop` (web/npm/pack.sh), installed the way a user installs it.
//
//   node web/tests/npm.mjs           (after web/build.sh; from anywhere; no network needed)
//
// Runs web/npm/pack.sh into a temp directory and checks the tarball: exactly package.json,
// README.md, the two licenses and the .js / .wasm / .d.ts of each included build (web/pkg
// at the root, web/pkg-full in full/ if that directory exists), the same list as
// `npm pack --dry-run --json`, the version from Cargo.toml, no dependencies, every export
// pointing at a packed file. Then `npm init -y` makes a fresh project that installs the
// tarball (`npm install --offline`), and
//   node:       `import init, { initSync, Engine, version } from 'tradeloop'`, initSync with
//               the bytes of 'tradeloop/tradeloop_wasm_bg.wasm' (resolved through the
//               package's exports), an engine (seed 42) opens and closes a trade at fixed
//               times; the snapshot's sha256 must equal that of the same calls on web/pkg
//               itself, a call with 31 features must throw an Error of kind
//               "FeatureLength" and change nothing, and 'tradeloop/full' must load (when
//               packed) or be refused as not exported;
//   TypeScript: web/node_modules/.bin/tsc type-checks a file importing 'tradeloop' with
//               --moduleResolution bundler and node16 against the package's .d.ts, and a
//               file with two deliberate type errors must fail with both reported;
//   a page:     the project served by harness.mjs's static server, an import map mapping
//               'tradeloop' to ./node_modules/tradeloop/tradeloop_wasm.js, the same calls
//               after a default `init()` in headless Chromium: no console errors or
//               warnings, the .wasm fetched from the package, the same snapshot sha256 as
//               node.
// Without web/pkg-full, the "./full" wiring is checked with a stand-in (a copy of web/pkg
// given as PKG_FULL_DIR): contents, node import, types. Last, pack.sh must refuse an
// OUT_DIR inside web/pkg and a package directory it did not make. Exit code 1 on any
// failure.
//
// Environment: CHROMIUM (see harness.mjs); KEEP=1 keeps the temp directory (its path is
// printed).

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, WEB, check, eq, launch, requireBuilt, runTests, section, serve } from './harness.mjs';

const PACK = join(WEB, 'npm', 'pack.sh');
const TSC = join(WEB, 'node_modules', '.bin', 'tsc');
const BUILD = ['tradeloop_wasm.js', 'tradeloop_wasm_bg.wasm', 'tradeloop_wasm.d.ts'];
const FULL_DIR = join(WEB, 'pkg-full');
const HAS_FULL = existsSync(FULL_DIR);
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** `[workspace.package] version` of Cargo.toml, read independently of pack.sh. */
function workspaceVersion() {
  const toml = readFileSync(join(ROOT, 'Cargo.toml'), 'utf8');
  const table = toml.split(/^\[/m).find((t) => t.startsWith('workspace.package]'));
  return table?.match(/^version\s*=\s*"([^"]+)"/m)?.[1];
}
const VERSION = workspaceVersion();

// The calls both node and the page make, on a module object ({ Engine, version }) that is
// already initialised; `digest` is an async sha256 to hex.
const STEPS = `// Written by web/tests/npm.mjs: the same calls in node and in the page.
export async function steps({ Engine, version }, digest) {
  const T0 = 1700000000000;
  const HOUR = 3600000;
  const features = Array.from({ length: 32 }, (_, i) => Math.round(Math.sin(i + 1) * 1000) / 1000);
  const engine = new Engine(undefined, 42, T0);
  const opened = engine.open({ symbol: 'SPY', side: 'Long', price: 400, size: 1, features }, T0 + HOUR);
  const closed = engine.close({ trade_id: opened.trade_id, price: 404, reason: 'Target' }, T0 + 2 * HOUR);
  const snapshot = engine.snapshot();
  let error = null;
  try {
    engine.open({ symbol: 'SPY', side: 'Long', price: 400, size: 1, features: features.slice(1) }, T0 + 3 * HOUR);
  } catch (e) {
    error = { isError: e instanceof Error, name: e.name, kind: e.kind, message: String(e.message) };
  }
  return {
    version: version(),
    tradeId: opened.trade_id,
    closedId: closed.trade_id,
    pnl: closed.pnl,
    snapshotBytes: snapshot.length,
    sha: await digest(snapshot),
    error,
    afterErrorSha: await digest(engine.snapshot()),
    restoredSha: await digest(Engine.restore(snapshot).snapshot()),
  };
}
`;

// The node side, run in the fresh project: `node node-check.mjs [full]`, prints JSON.
const NODE_CHECK = `import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import init, { initSync, Engine, version } from 'tradeloop';
import { steps } from './steps.mjs';

const digest = async (bytes) => createHash('sha256').update(bytes).digest('hex');
const wasmUrl = import.meta.resolve('tradeloop/tradeloop_wasm_bg.wasm');
initSync({ module: readFileSync(new URL(wasmUrl)) });
const out = {
  initIsFunction: typeof init === 'function',
  moduleUrl: import.meta.resolve('tradeloop'),
  wasmUrl,
  packageVersion: createRequire(import.meta.url)('tradeloop/package.json').version,
  lean: await steps({ Engine, version }, digest),
};
if (process.argv[2] === 'full') {
  const full = await import('tradeloop/full');
  const fullWasm = import.meta.resolve('tradeloop/full/tradeloop_wasm_bg.wasm');
  full.initSync({ module: readFileSync(new URL(fullWasm)) });
  out.fullModuleUrl = import.meta.resolve('tradeloop/full');
  out.fullWasmUrl = fullWasm;
  out.full = await steps(full, digest);
} else {
  try {
    await import('tradeloop/full');
    out.fullImport = 'resolved';
  } catch (e) {
    out.fullImport = e.code || String(e);
  }
}
console.log(JSON.stringify(out));
`;

const PAGE = `<!doctype html>
<html>
  <head>
    <meta charset="utf-8" />
    <link rel="icon" href="data:," />
    <title>tradeloop from npm, no bundler</title>
    <script type="importmap">
      { "imports": { "tradeloop": "./node_modules/tradeloop/tradeloop_wasm.js" } }
    </script>
    <script type="module">
      import init, { initSync, Engine, version } from 'tradeloop';
      import { steps } from './steps.mjs';
      const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
      const digest = async (bytes) => hex(await crypto.subtle.digest('SHA-256', bytes));
      try {
        await init();
        window.result = { initSyncIsFunction: typeof initSync === 'function', ...(await steps({ Engine, version }, digest)) };
      } catch (e) {
        window.result = { failed: String((e && e.stack) || e) };
      }
    </script>
  </head>
  <body></body>
</html>
`;

// What a TypeScript user writes; `TYPES_BAD` has a type error on lines 2 and 3.
const TYPES_OK = `import init, { initSync, Engine, version, type Closed, type Opened } from 'tradeloop';
const ready: Promise<unknown> = init();
initSync({ module: new Uint8Array(8) });
const v: string = version();
const engine = new Engine({ features: 32 }, 42, 1700000000000);
const features = new Array<number>(32).fill(0);
const opened: Opened = engine.open({ symbol: 'SPY', side: 'Long', price: 400, size: 1, features }, 1700000000000);
const closed: Closed = engine.close({ trade_id: opened.trade_id, price: 404, reason: 'Target' });
const bytes: Uint8Array = engine.snapshot();
export { ready, v, closed, bytes };
`;
const TYPES_FULL = `import initFull, { Engine as FullEngine, version as fullVersion } from 'tradeloop/full';
const ready: Promise<unknown> = initFull();
const v: string = fullVersion();
const bytes: Uint8Array = new FullEngine(undefined, 7).snapshot();
export { ready, v, bytes };
`;
const TYPES_BAD = `import { Engine, version } from 'tradeloop';
const n: number = version();
new Engine().open({ symbol: 'SPY', side: 'Up', price: 1, size: 1, features: [] });
export { n };
`;

// ------------------------------------------------------------------ processes

let npmEnv = {};

/** Runs `cmd args` (no shell); `{ status, stdout, stderr }`. */
function run(cmd, args, { cwd = ROOT, env = {} } = {}) {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...npmEnv, ...env },
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `run`, and a failed check (with its output) unless it exits 0; returns the result. */
function must(what, cmd, args, options) {
  const r = run(cmd, args, options);
  check(r.status === 0, what, r.status === 0 ? '' : `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  if (r.status !== 0) throw new Error(`${what}: cannot go on`);
  return r;
}

/** web/npm/pack.sh OUT; `{ tgz, stage, size }` from its output line. */
function pack(out, env = {}) {
  const r = must(`pack.sh ${out}`, PACK, [out], { env });
  const m = r.stdout.match(/^pack\.sh: (\S+) (\d+) B/m);
  check(m !== null, 'pack.sh prints the tarball and its size', r.stdout);
  const tgz = join(out, `tradeloop-${VERSION}.tgz`);
  eq(m?.[1], tgz, 'the tarball is OUT_DIR/tradeloop-<workspace version>.tgz');
  const size = existsSync(tgz) ? statSync(tgz).size : -1;
  eq(Number(m?.[2]), size, `the printed size is the tarball's (${size} B)`);
  return { tgz, stage: join(out, 'package'), size };
}

// ------------------------------------------------------------------ checks

/** (c) The tarball's files, `npm pack --dry-run`, package.json; `withFull`: full/ expected. */
function checkContents({ tgz, stage }, withFull, fullSource) {
  const expected = ['LICENSE-APACHE', 'LICENSE-MIT', 'README.md', 'package.json', ...BUILD];
  if (withFull) expected.push(...BUILD.map((f) => `full/${f}`));
  expected.sort();

  const listed = must('tar tzf', 'tar', ['tzf', tgz]).stdout.split('\n').filter(Boolean);
  check(
    listed.every((p) => p.startsWith('package/')),
    'every tarball entry is under package/',
  );
  const files = listed.map((p) => p.replace(/^package\//, '')).sort();
  eq(files, expected, `the tarball holds exactly ${expected.length} files`);

  const dry = JSON.parse(must('npm pack --dry-run --json', 'npm', ['pack', '--dry-run', '--json'], { cwd: stage }).stdout);
  eq(dry[0]?.files?.map((f) => f.path).sort(), files, 'npm pack --dry-run lists the same files');
  eq(dry[0]?.filename, basename(tgz), 'npm pack --dry-run names the same tarball');

  const pkg = JSON.parse(readFileSync(join(stage, 'package.json'), 'utf8'));
  eq(pkg.name, 'tradeloop', 'name');
  eq(pkg.version, VERSION, `version = [workspace.package] version (${VERSION})`);
  eq(pkg.license, 'MIT OR Apache-2.0', 'license');
  eq(pkg.type, 'module', 'type module');
  eq(pkg.sideEffects, false, 'sideEffects false');
  eq(pkg.engines, { node: '>=18' }, 'engines node >= 18');
  check(typeof pkg.description === 'string' && pkg.description.length > 0, 'description');
  check(typeof pkg.repository?.url === 'string', 'repository');
  eq(pkg.types, './tradeloop_wasm.d.ts', 'types');
  const deps = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies', 'scripts'];
  eq(deps.filter((k) => k in pkg), [], 'no dependencies and no scripts');
  const keys = ['.', './tradeloop_wasm_bg.wasm', './package.json'];
  if (withFull) keys.push('./full', './full/tradeloop_wasm_bg.wasm');
  eq(Object.keys(pkg.exports).sort(), keys.sort(), 'the exports');
  eq(pkg.exports['.'], { types: './tradeloop_wasm.d.ts', default: './tradeloop_wasm.js' }, 'export "." with its types first');
  if (withFull) {
    eq(pkg.exports['./full'], { types: './full/tradeloop_wasm.d.ts', default: './full/tradeloop_wasm.js' }, 'export "./full" with its types first');
  }
  const targets = Object.values(pkg.exports).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t)));
  const missing = targets.filter((t) => !files.includes(t.replace(/^\.\//, '')));
  eq(missing, [], 'every export points at a packed file');

  for (const f of BUILD) {
    eq(sha256(readFileSync(join(stage, f))), sha256(readFileSync(join(WEB, 'pkg', f))), `${f} is web/pkg's`);
    if (withFull) {
      eq(sha256(readFileSync(join(stage, 'full', f))), sha256(readFileSync(join(fullSource, f))), `full/${f} is the full build's`);
    }
  }
}

/** A fresh project in `dir` (`npm init -y`) with the tarball installed offline; its path. */
function freshProject(dir, tgz) {
  mkdirSync(dir, { recursive: true });
  must('npm init -y', 'npm', ['init', '-y'], { cwd: dir });
  must('npm install <tarball> --offline', 'npm', ['install', tgz, '--offline', '--no-audit', '--no-fund'], { cwd: dir });
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
  eq(Object.keys(lock.packages).sort(), ['', 'node_modules/tradeloop'], 'the install brought tradeloop and nothing else');
  writeFileSync(join(dir, 'steps.mjs'), STEPS);
  writeFileSync(join(dir, 'node-check.mjs'), NODE_CHECK);
  return dir;
}

/** Checks one `steps` result; `label` names where it ran. */
function checkSteps(r, label, reference) {
  check(
    typeof r?.version === 'string' && r.version.startsWith(`tradeloop-wasm ${VERSION} `),
    `${label}: version() names ${VERSION} (${r?.version})`,
    JSON.stringify(r?.version),
  );
  check(Number.isInteger(r?.tradeId) && r.closedId === r.tradeId, `${label}: a trade opened and closed`, JSON.stringify(r));
  eq(r?.pnl, 4, `${label}: its PnL is 404 - 400`);
  check(r?.snapshotBytes > 0, `${label}: snapshot() gave ${r?.snapshotBytes} bytes`);
  eq(r?.error?.isError, true, `${label}: 31 features throw an Error`);
  eq(r?.error?.name, 'TradeloopError', `${label}: ... named TradeloopError`);
  eq(r?.error?.kind, 'FeatureLength', `${label}: ... of kind FeatureLength`);
  eq(r?.afterErrorSha, r?.sha, `${label}: the call that threw changed nothing`);
  eq(r?.restoredSha, r?.sha, `${label}: Engine.restore(snapshot) gives the same bytes`);
  eq(r?.sha, reference, `${label}: snapshot sha256 = that of the same calls on web/pkg`);
}

/** (a) node in the project; returns the lean result. */
function nodeChecks(app, withFull, reference) {
  const r = must(`node node-check.mjs${withFull ? ' full' : ''}`, process.execPath, ['node-check.mjs', ...(withFull ? ['full'] : [])], { cwd: app });
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  const inPackage = pathToFileURL(join(app, 'node_modules', 'tradeloop')).href;
  eq(out.moduleUrl, `${inPackage}/tradeloop_wasm.js`, "'tradeloop' resolves to the package's tradeloop_wasm.js");
  eq(out.wasmUrl, `${inPackage}/tradeloop_wasm_bg.wasm`, "'tradeloop/tradeloop_wasm_bg.wasm' resolves");
  eq(out.packageVersion, VERSION, "'tradeloop/package.json' resolves");
  eq(out.initIsFunction, true, 'the default export is init');
  checkSteps(out.lean, 'node', reference);
  if (withFull) {
    eq(out.fullModuleUrl, `${inPackage}/full/tradeloop_wasm.js`, "'tradeloop/full' resolves to full/tradeloop_wasm.js");
    eq(out.fullWasmUrl, `${inPackage}/full/tradeloop_wasm_bg.wasm`, "'tradeloop/full/tradeloop_wasm_bg.wasm' resolves");
    checkSteps(out.full, 'node, tradeloop/full', reference);
  } else {
    eq(out.fullImport, 'ERR_PACKAGE_PATH_NOT_EXPORTED', "without a full build 'tradeloop/full' is not exported");
  }
  return out.lean;
}

/** tsc on `files` in `app` with `resolution` ("bundler" or "node16"); `{ status, output }`. */
function tsc(app, resolution, files) {
  const module = resolution === 'bundler' ? 'esnext' : 'node16';
  // The declarations use Symbol.dispose (wasm-bindgen's `[Symbol.dispose]()`): esnext.disposable.
  const lib = ['--lib', 'es2022,dom,esnext.disposable'];
  const args = ['--noEmit', '--strict', '--target', 'es2022', ...lib, '--module', module, '--moduleResolution', resolution, '--listFiles', ...files];
  const r = run(TSC, args, { cwd: app });
  const output = r.stdout + r.stderr;
  return { status: r.status, output, errors: output.split('\n').filter((l) => / error TS\d+/.test(l)).join('\n') };
}

/** TypeScript resolves the package's types (and rejects misuse). */
function typeChecks(app, withFull) {
  writeFileSync(join(app, 'types-ok.ts'), TYPES_OK);
  writeFileSync(join(app, 'types-ok.mts'), TYPES_OK); // an ES module for node16 (the project is CommonJS)
  writeFileSync(join(app, 'types-bad.ts'), TYPES_BAD);
  const d = (sub) => `/node_modules/tradeloop/${sub}tradeloop_wasm.d.ts`;
  for (const [resolution, ok, extra] of [
    ['bundler', 'types-ok.ts', 'types-full.ts'],
    ['node16', 'types-ok.mts', 'types-full.mts'],
  ]) {
    const files = [ok];
    if (withFull) {
      writeFileSync(join(app, extra), TYPES_FULL);
      files.push(extra);
    }
    const r = tsc(app, resolution, files);
    check(r.status === 0, `tsc --moduleResolution ${resolution}: ${files.join(', ')} type-check`, r.errors || r.output);
    const listed = r.output.split('\n');
    check(listed.some((l) => l.endsWith(d(''))), `... with the package's tradeloop_wasm.d.ts`);
    if (withFull) check(listed.some((l) => l.endsWith(d('full/'))), `... and full/tradeloop_wasm.d.ts`);
  }
  const bad = tsc(app, 'bundler', ['types-bad.ts']);
  check(bad.status !== 0, 'tsc fails on types-bad.ts');
  check(/types-bad\.ts\(2,\d+\): error TS2322/.test(bad.output), '... reporting version() as not a number', bad.errors || bad.output);
  check(/types-bad\.ts\(3,\d+\): error TS2322: Type '"Up"'/.test(bad.output), "... and side 'Up' as not a Side", bad.errors || bad.output);
}

/** (b) The project served as static files, imported through an import map in Chromium. */
async function pageChecks(app, nodeResult) {
  writeFileSync(join(app, 'index.html'), PAGE);
  const server = await serve(app);
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await launch();
  try {
    const { page, consoleErrors } = browser;
    const warnings = [];
    page.on('console', (m) => {
      if (m.type() === 'warning') warnings.push(m.text());
    });
    const responses = [];
    page.on('response', (r) => responses.push([new URL(r.url()).pathname, r.status()]));
    await page.goto(url);
    await page.waitForFunction(() => window.result !== undefined);
    const r = await page.evaluate(() => window.result);
    check(!r.failed, 'the page ran its module script', r.failed);
    eq(r.initSyncIsFunction, true, 'page: initSync is exported');
    checkSteps(r, 'page', nodeResult.sha);
    eq(r.sha, nodeResult.sha, 'page: snapshot sha256 = node\'s');
    const wasm = responses.filter(([p]) => p.endsWith('.wasm'));
    eq(wasm, [['/node_modules/tradeloop/tradeloop_wasm_bg.wasm', 200]], 'page: init() fetched the package\'s .wasm');
    eq(responses.filter(([, s]) => s !== 200), [], 'page: every request succeeded');
    eq(consoleErrors, [], 'page: no console errors');
    eq(warnings, [], 'page: no console warnings');
  } finally {
    await browser.close();
    server.close();
  }
}

// ------------------------------------------------------------------ main

await runTests(async () => {
  requireBuilt(BUILD.map((f) => `pkg/${f}`));
  if (!VERSION) throw new Error('no [workspace.package] version in Cargo.toml');
  const tmp = mkdtempSync(join(tmpdir(), 'tradeloop-npm-'));
  // Our own npm cache, nothing from the network; pack.sh's defaults, not the caller's.
  npmEnv = { npm_config_cache: join(tmp, 'npm-cache'), npm_config_update_notifier: 'false' };
  delete process.env.PKG_DIR;
  delete process.env.PKG_FULL_DIR;
  try {
    // The reference: the same calls on web/pkg, loaded directly.
    writeFileSync(join(tmp, 'steps.mjs'), STEPS);
    const { steps } = await import(pathToFileURL(join(tmp, 'steps.mjs')).href);
    const direct = await import(pathToFileURL(join(WEB, 'pkg', 'tradeloop_wasm.js')).href);
    direct.initSync({ module: readFileSync(join(WEB, 'pkg', 'tradeloop_wasm_bg.wasm')) });
    const reference = (await steps(direct, async (b) => sha256(b))).sha;

    section(`pack.sh (${HAS_FULL ? 'web/pkg + web/pkg-full' : 'web/pkg; no web/pkg-full'})`);
    const packed = pack(join(tmp, 'out'));
    console.log(`       ${packed.tgz}: ${packed.size} B`);
    checkContents(packed, HAS_FULL, FULL_DIR);

    section('a fresh project installs the tarball');
    const app = freshProject(join(tmp, 'app'), packed.tgz);

    section('node');
    const nodeResult = nodeChecks(app, HAS_FULL, reference);

    section('TypeScript');
    typeChecks(app, HAS_FULL);

    section('a page without a bundler (import map), headless Chromium');
    await pageChecks(app, nodeResult);

    if (!HAS_FULL) {
      section('the "./full" wiring, with a stand-in full build (a copy of web/pkg)');
      const standIn = join(tmp, 'pkg-full');
      mkdirSync(standIn);
      for (const f of BUILD) cpSync(join(WEB, 'pkg', f), join(standIn, f));
      const packedFull = pack(join(tmp, 'out-full'), { PKG_FULL_DIR: standIn });
      checkContents(packedFull, true, standIn);
      const appFull = freshProject(join(tmp, 'app-full'), packedFull.tgz);
      nodeChecks(appFull, true, reference);
      typeChecks(appFull, true);
    }

    section('pack.sh refuses to write where it must not');
    const inside = join(WEB, 'pkg', 'npm-out');
    const r1 = run(PACK, [inside]);
    check(r1.status !== 0 && /inside the build/.test(r1.stderr), 'an OUT_DIR inside web/pkg is refused', r1.stderr);
    check(!existsSync(inside), '... and nothing is written there');
    rmSync(inside, { recursive: true, force: true });
    const foreign = join(tmp, 'foreign');
    mkdirSync(join(foreign, 'package'), { recursive: true });
    writeFileSync(join(foreign, 'package', 'notes.txt'), 'mine');
    const r2 = run(PACK, [foreign]);
    check(r2.status !== 0 && /not a tradeloop package directory/.test(r2.stderr), 'a package directory pack.sh did not make is refused', r2.stderr);
    eq(readFileSync(join(foreign, 'package', 'notes.txt'), 'utf8'), 'mine', '... and left as it was');
    const again = pack(join(tmp, 'out'));
    eq(sha256(readFileSync(again.tgz)), sha256(readFileSync(packed.tgz)), 'packing again replaces its own package directory and gives the same bytes');
  } finally {
    if (process.env.KEEP) console.log(`\nkept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
});
