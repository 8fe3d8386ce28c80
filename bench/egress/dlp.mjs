#!/usr/bin/env node
// bench/egress/dlp.mjs: how fast the gateway's DLP scans a request body, in-process, without TLS or
// sockets: the built package's BodyScanStream (dist/index.js), fed 64 KiB chunks (what a socket
// read hands it), on bodies made from a fixed seed. Not a test: it prints figures and asserts nothing.
//
//   pnpm --filter @bot-bottle/egress-gateway build && node bench/egress/dlp.mjs [--json]
//
// Bodies: random bytes as base64 in a JSON field (an upload), the same as hex, and a plain JSON chat
// request (words, code with escaped newlines, ids, URLs). The scanner has two injected values, as a
// gateway with two credential routes would. Knobs (env): BENCH_DLP_MIB (16, per body),
// BENCH_DLP_ROUNDS (7; the median is shown), BENCH_DLP_CHUNK (65536), BENCH_DLP_MODULE (a built
// dlp.js to measure instead of the package's, e.g. an older commit's, compiled on its own),
// BENCH_DLP_NO_DECODE=1 (the same scan without reading base64 and hex, to show what that costs:
// it replaces the scanner's private scanEncoded, so it is for this measurement only).
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(import.meta.dirname, '../..');
const modulePath = process.env.BENCH_DLP_MODULE ? path.resolve(process.env.BENCH_DLP_MODULE) : path.join(root, 'packages/egress-gateway/dist/index.js');
const { DlpScanner } = await import(pathToFileURL(modulePath).href);
if (process.env.BENCH_DLP_NO_DECODE) {
  if (typeof DlpScanner.prototype.scanEncoded !== 'function') throw new Error('BENCH_DLP_NO_DECODE: this scanner has no scanEncoded');
  DlpScanner.prototype.scanEncoded = () => null;
}

const MIB = Number(process.env.BENCH_DLP_MIB || 16);
const ROUNDS = Number(process.env.BENCH_DLP_ROUNDS || 7);
const CHUNK = Number(process.env.BENCH_DLP_CHUNK || 65536);
const json = process.argv.includes('--json');

// xorshift32: the same bodies on every run.
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}
function randomBytes(n, seed) {
  const r = rng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

const size = MIB * 1024 * 1024;
const base64Body = Buffer.from(JSON.stringify({ name: 'blob.bin', content: randomBytes(Math.floor((size * 3) / 4), 1).toString('base64') }));
const hexBody = Buffer.from(JSON.stringify({ name: 'blob.bin', content: randomBytes(Math.floor(size / 2), 2).toString('hex') }));

function chatBody(seed) {
  const r = rng(seed);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const words = 'the a to of and in is it that for on with as this be are by not or from at an can will if you your we our use run test file code value error request response function return const let new make build check read write line change add remove update data list name type string number true false null object array await async import export default'.split(' ');
  const code = ['const x = await fetch(url);', 'if (!res.ok) throw new Error(res.statusText);', 'for (const item of items) total += item.size;', 'export function parse(text: string): Node[] {', '  return text.split("\\n").map((l) => l.trim());', '}', 'git commit -m "fix: handle empty input"'];
  const messages = [];
  let len = 0;
  while (len < size) {
    let text = '';
    const parts = 20 + Math.floor(r() * 60);
    for (let i = 0; i < parts; i++) {
      const k = r();
      if (k < 0.8) text += `${pick(words)} `;
      else if (k < 0.9) text += `${pick(code)}\n`;
      else if (k < 0.95) text += `${Math.floor(r() * 1e6)} `;
      else if (k < 0.98) text += `https://example.com/${pick(words)}/${pick(words)}-${Math.floor(r() * 1e4)}/index.html `;
      else text += `msg_${randomBytes(12, Math.floor(r() * 1e9)).toString('base64url')} `;
    }
    const m = { role: r() < 0.5 ? 'user' : 'assistant', content: [{ type: 'text', text }] };
    messages.push(m);
    len += JSON.stringify(m).length;
  }
  return Buffer.from(JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 4096, stream: true, messages }));
}
const plainBody = chatBody(3);

const scanner = new DlpScanner({ ANTHROPIC_API_KEY: ['sk', 'ant', 'api03', 'Qw8e7r6t5y4u3i2o1pAsDfGhJkLzXcVb'].join('-'), GITHUB_TOKEN: 'gh' + 'p_' + 'Zx9Cv8Bn7Mm6Ll5Kk4Jj3Hh2Gg1Ff0Dd9Ss' });

async function scanOnce(body) {
  const s = scanner.bodyStream({ routed: true });
  let out = 0;
  s.on('data', (c) => (out += c.length));
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  await new Promise((resolve, reject) => {
    s.on('error', reject);
    s.on('end', resolve);
    let at = 0;
    const pump = () => {
      while (at < body.length) {
        const ok = s.write(body.subarray(at, at + CHUNK));
        at += CHUNK;
        if (!ok) return s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  if (out !== body.length) throw new Error(`passed ${out} of ${body.length} bytes`);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const results = [];
for (const [name, body] of [['random base64 in JSON', base64Body], ['random hex in JSON', hexBody], ['plain JSON chat request', plainBody]]) {
  await scanOnce(body); // warm-up
  const runs = [];
  for (let i = 0; i < ROUNDS; i++) runs.push(await scanOnce(body));
  const mib = body.length / 1024 / 1024;
  const ms = median(runs.map((r) => r.ms));
  const cpuMs = median(runs.map((r) => r.cpuMs));
  results.push({ body: name, mib, ms, cpuMs, mibPerS: mib / (ms / 1000), mibPerCpuS: mib / (cpuMs / 1000) });
}

if (json) process.stdout.write(`${JSON.stringify({ node: process.version, chunk: CHUNK, rounds: ROUNDS, results })}\n`);
else {
  // MiB per CPU second is the steadier figure on a shared machine (wall time includes waiting for a core).
  process.stdout.write(`DLP body scan, ${CHUNK / 1024} KiB chunks, median of ${ROUNDS} rounds, Node ${process.version}\n\n| body | MiB | ms | MiB/s | MiB per CPU s |\n| --- | ---: | ---: | ---: | ---: |\n`);
  for (const r of results) process.stdout.write(`| ${r.body} | ${r.mib.toFixed(1)} | ${r.ms.toFixed(1)} | ${r.mibPerS.toFixed(0)} | ${r.mibPerCpuS.toFixed(0)} |\n`);
}
