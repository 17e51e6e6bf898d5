// What the browser tests share: a tiny check/eq harness, a static server for web/ on an
// ephemeral localhost port, Debian's Chromium through playwright-core, and the host binary.
//
// Environment: CHROMIUM (default /usr/bin/chromium), TRADELOOP_BIN (host binary; default
// target/debug/tradeloop if built, else `cargo run -q -p tradeloop-host --`).

import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(WEB, '..');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// ------------------------------------------------------------------ tiny test harness

let failures = 0;
let passes = 0;
export function check(cond, what, detail = '') {
  if (cond) {
    passes += 1;
    console.log(`  ok   ${what}`);
  } else {
    failures += 1;
    console.log(`  FAIL ${what}${detail ? `\n       ${String(detail).replace(/\n/g, '\n       ')}` : ''}`);
  }
  return cond;
}
export function eq(actual, expected, what) {
  const ok = Object.is(actual, expected) || JSON.stringify(actual) === JSON.stringify(expected);
  return check(ok, what, ok ? '' : `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}
export function section(name) {
  console.log(`\n${name}`);
}

/** Runs `main`, counts a throw as a failure, prints "N passed, N failed" and exits 1 on any failure. */
export async function runTests(main) {
  try {
    await main();
  } catch (e) {
    failures += 1;
    console.error(`\nFAIL ${e.stack || e}`);
  }
  console.log(`\n${passes} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}

// ------------------------------------------------------------------ static server

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.csv': 'text/csv; charset=utf-8',
  '.json': 'application/json',
  '.ts': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** Serves `dir` on 127.0.0.1 at an ephemeral port; resolves the `http.Server`. */
export function serve(dir) {
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://localhost');
      let p = normalize(join(dir, decodeURIComponent(url.pathname)));
      if (p !== dir && !p.startsWith(dir + sep)) {
        res.writeHead(403).end();
        return;
      }
      if ((await stat(p).catch(() => null))?.isDirectory()) p = join(p, 'index.html');
      const body = await readFile(p);
      res.writeHead(200, {
        'content-type': MIME[extname(p)] || 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

/** Checks the built site has `files` (paths under web/) and that Chromium is installed. */
export function requireBuilt(files) {
  for (const f of files) {
    if (!existsSync(join(WEB, f))) throw new Error(`web/${f} is missing: run web/build.sh first`);
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM)`);
  }
}

/**
 * Headless Chromium with a fresh profile: `{ context, page, consoleErrors, close() }`.
 * `close()` also removes the profile.
 */
export async function launch(options = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'tradeloop-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: false, // --headless is in ARGS, exactly as given
    args: ARGS,
    viewport: { width: 1400, height: 900 },
    ...options,
  });
  const consoleErrors = [];
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  page.setDefaultTimeout(60_000);
  return {
    context,
    page,
    consoleErrors,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------ host binary

export function hostCommand() {
  if (process.env.TRADELOOP_BIN) return [process.env.TRADELOOP_BIN, []];
  const built = join(ROOT, 'target', 'debug', 'tradeloop');
  if (existsSync(built)) return [built, []];
  return ['cargo', ['run', '-q', '-p', 'tradeloop-host', '--']];
}

/** Runs the host with `args` from the repository root; its stdout. */
export function host(args) {
  const [cmd, pre] = hostCommand();
  return execFileSync(cmd, [...pre, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 * 1024 * 1024,
  });
}
