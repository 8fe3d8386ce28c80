#!/usr/bin/env node
// Summarises V8 .cpuprofile files (as written by `node --cpu-prof`, e.g. with BENCH_GATEWAY_CPU_PROF):
// the functions with the most self time, and the share of each, over all the files given (a gateway
// with several workers writes one per process).
//
//   node bench/egress/profile.mjs DIR_OR_FILE... [--top N]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const TOP = topAt === -1 ? 25 : Number(args[topAt + 1]);
const inputs = topAt === -1 ? args : args.filter((_, i) => i !== topAt && i !== topAt + 1);
if (!inputs.length) {
  process.stderr.write('usage: node bench/egress/profile.mjs DIR_OR_FILE... [--top N]\n');
  process.exit(2);
}
const files = inputs.flatMap((p) =>
  statSync(p).isDirectory()
    ? readdirSync(p)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => path.join(p, f))
    : [p],
);

const self = new Map();
let total = 0;
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // Each sample is one tick of the function on top of the stack; timeDeltas are the ticks' lengths.
  const ticks = new Map();
  profile.samples.forEach((id, i) => ticks.set(id, (ticks.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  for (const [id, us] of ticks) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const where = url ? `${url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, '~/').replace(/.*\/packages\//, 'packages/')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + us);
    total += us;
  }
}
const idle = self.get('(idle)') ?? 0;
const busy = total - idle;
process.stdout.write(`${files.length} profile(s): ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (not idle)\n`);
process.stdout.write(`self ms  % busy  function\n`);
for (const [key, us] of [...self].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
  process.stdout.write(`${(us / 1000).toFixed(0).padStart(7)}  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${key}\n`);
}
