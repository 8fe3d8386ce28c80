#!/usr/bin/env node
// Runs every package's uvu suites (each package in its own process, in dependency order) and ends
// with one plain line "N passed, N failed". Exits non-zero on any failure, including a suite that
// crashed before uvu could count it.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
// --unit: only what needs nothing but Node — no suite under a test/integration/ folder, and not the
// end-to-end package (tests/e2e). Those need a docker engine and the images.
const unit = args.includes('--unit');
// --checks: only the type check and the lint (what the full run starts with).
const checksOnly = args.includes('--checks');
const only = args.filter((a) => a !== '--unit' && a !== '--checks');
const dirs = ['packages', 'apps', 'examples', 'tests', 'bench']
  .flatMap((d) => (existsSync(path.join(root, d)) ? readdirSync(path.join(root, d)).map((n) => path.join(root, d, n)) : []))
  .filter((d) => existsSync(path.join(d, 'test')) && existsSync(path.join(d, 'package.json')))
  .filter((d) => only.length === 0 || only.some((o) => d.endsWith(o)))
  .filter((d) => !unit || path.basename(path.dirname(d)) !== 'tests');

let passed = 0;
let failed = 0;
const failures = [];

/** Runs a command as one check; a non-zero exit is one failed test named `name`. */
async function check(name, cmd, args) {
  process.stderr.write(`\n== ${name}: ${cmd} ${args.join(' ')}\n`);
  const code = await new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, FORCE_COLOR: '0' } });
    child.on('close', resolve);
    child.on('error', () => resolve(1));
  });
  if (code === 0) passed++;
  else {
    failed++;
    failures.push(name);
  }
}

// The whole run (no package filter) starts with the checks a suite cannot make: types of every
// source and test file, and lint. Each is one test in the count.
if ((checksOnly || (only.length === 0 && !unit)) && process.env.BOT_BOTTLE_SKIP_CHECKS !== '1') {
  const pnpm = process.platform === 'win32' ? 'pnpm.cmd' : 'pnpm';
  await check('typecheck (sources and tests)', pnpm, ['-s', 'turbo', 'run', 'typecheck', '--output-logs=errors-only']);
  if (existsSync(path.join(root, 'eslint.config.js'))) await check('lint', pnpm, ['-s', 'lint']);
}

/** Runs one package's suites; `live` streams its output, otherwise it is printed whole at the end. */
function runPackage(dir, live) {
  const name = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).name;
  if (live) process.stderr.write(`\n== ${name}\n`);
  return new Promise((resolve) => {
    const uvuArgs = ['-c', 'false', 'test', '\\.test\\.ts$', ...(unit ? ['-i', 'integration'] : [])];
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'node_modules/uvu/bin.js'), ...uvuArgs], {
      cwd: dir,
      stdio: ['ignore', 'pipe', live ? 'inherit' : 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    let out = '';
    let all = '';
    child.stdout.on('data', (b) => {
      out += b;
      all += b;
      if (live) process.stderr.write(b);
    });
    child.stderr?.on('data', (b) => (all += b));
    child.on('close', (code) => {
      if (!live) process.stderr.write(`\n== ${name}\n${all}`);
      resolve({ name, code, out });
    });
  });
}

function count({ name, code, out }) {
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  let bad = total - ok - skipped;
  if (code !== 0 && bad === 0) bad = 1; // crashed or failed outside a counted test
  passed += ok;
  failed += bad;
  if (bad) failures.push(name);
}

const queue = checksOnly ? [] : [...dirs];
if (unit) {
  // Unit suites share nothing (no engine, temp dirs of their own): one per core at once.
  // Many of them wait on git, child processes or timers more than on a core, so a few more than
  // the cores; the gateway's streaming test moves 256 MiB here instead of the full run's 1 GiB.
  process.env.EGRESS_TEST_DOWNLOAD_MIB ??= '256';
  const workers = Array.from({ length: Math.min(os.availableParallelism() + 2, 6) }, async () => {
    for (let dir; (dir = queue.shift()) !== undefined; ) count(await runPackage(dir, false));
  });
  await Promise.all(workers);
} else {
  // Suites that drive the docker engine run one package at a time, in dependency order.
  for (const dir of queue) count(await runPackage(dir, true));
}
if (failures.length) process.stderr.write(`\nfailing: ${failures.join(', ')}\n`);
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 && (dirs.length > 0 || checksOnly) ? 0 : 1);
