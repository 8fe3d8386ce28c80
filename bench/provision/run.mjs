#!/usr/bin/env node
// bench/provision: what the five built-in provisioners cost on a real docker bottle: wall time and
// the number of docker CLI processes spawned, median of N runs, with 2 skills of 200 files each,
// and again with 2 skills of 2000 files each (the cost must not grow with the files in a skill).
// Not a test: it prints figures (--json gives one JSON document). Run after `pnpm build`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const dist = (pkg) => import(path.join(root, pkg, 'dist/index.js'));
const { makePlan, runProvisioners, validateManifest } = await dist('packages/core');
const { DockerBackend, dockerStats, ensureImages } = await dist('packages/backend-docker');
const builtIns = await Promise.all(['ca', 'git', 'prompt', 'skills', 'supervise'].map(async (name) => ({
  definition: (await dist(`packages/provisioner-${name}`)).default,
  options: {},
  packageName: `@bot-bottle/provisioner-${name}`,
})));

const runs = Number(process.env.BENCH_RUNS || 5);
const json = process.argv.includes('--json');
const log = (m) => process.stderr.write(`${m}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dir = mkdtempSync(path.join(tmpdir(), 'bench-provision-'));
const env = { ...process.env, XDG_STATE_HOME: path.join(dir, 'state') };

/** A manifest directory with `skills/` beside it: `count` skills of `files` files each. */
function world(label, files) {
  const base = path.join(dir, label);
  for (const name of ['alpha', 'beta']) {
    const d = path.join(base, 'skills', name);
    mkdirSync(path.join(d, 'ref'), { recursive: true });
    writeFileSync(path.join(d, 'SKILL.md'), `---\nname: ${name}\ndescription: bench skill\n---\nDo ${name}.\n`);
    for (let i = 1; i < files; i++) writeFileSync(path.join(d, 'ref', `f${i}.md`), `${name} ${i}\n`.repeat(20));
  }
  return base;
}

const manifest = {
  bottles: {
    dev: {
      git: [{ Name: 'app', Upstream: 'https://git.example.test/team/app.git' }],
      git_user: { name: 'Bench Agent', email: 'bench@example.com' },
      supervise: true,
    },
  },
  agents: { bench: { bottle: 'dev', prompt: 'You are a benchmark.', skills: ['alpha', 'beta'], provisioners: ['ca', 'git', 'prompt', 'skills', 'supervise'] } },
};

log('images');
await ensureImages({ progress: log });
const backend = new DockerBackend(env);

async function measure(label, files) {
  const base = world(label, files);
  const loaded = await validateManifest(manifest, path.join(base, 'bottle.json'), base);
  const times = [];
  const spawned = [];
  const steps = [];
  const floors = [];
  // One unmeasured warm-up round, then `runs` measured ones, each on a fresh bottle.
  for (let i = -1; i < runs; i++) {
    const plan = makePlan({ manifest: loaded, agentName: 'bench', copyCwd: false, userCwd: base }, { env, backend: 'docker' });
    const bottle = await backend.launch(plan, { progress: () => undefined });
    try {
      const before = dockerStats.spawned;
      const marks = [];
      const t = performance.now();
      await runProvisioners(builtIns, { plan, target: bottle.target, endpoints: bottle.endpoints, hostEnv: env, onStep: (name) => marks.push([name, performance.now()]), warn: (n, m) => log(`  warn ${n}: ${m}`) });
      const end = performance.now();
      if (i >= 0) {
        times.push(end - t);
        spawned.push(dockerStats.spawned - before);
        steps.push(Object.fromEntries(marks.map(([name, at], k) => [name, (marks[k + 1]?.[1] ?? end) - at])));
      }
      const check = await bottle.target.exec(['sh', '-c', 'find /home/node/.claude/skills -type f | wc -l']);
      if (Number(check.stdout.trim()) !== 2 * files) throw new Error(`expected ${2 * files} skill files in the bottle, found ${check.stdout.trim()}`);
      // The floor for the skills step: the guest's own tar writing the same files, timed inside.
      const floor = await bottle.target.exec(['sh', '-c', 'cd /home/node/.claude && tar -cf /tmp/floor.tar skills && mkdir /tmp/floor && s=$(date +%s%N) && tar -xf /tmp/floor.tar -C /tmp/floor && echo $(( ($(date +%s%N) - s) / 1000000 ))']);
      if (i >= 0) floors.push(Number(floor.stdout.trim()));
    } finally {
      await bottle.destroy();
    }
  }
  log(`${label}: ${times.map((x) => x.toFixed(0)).join(' ')} ms; docker processes ${spawned.join(' ')}`);
  const stepMedians = Object.fromEntries(Object.keys(steps[0]).map((k) => [k, Math.round(median(steps.map((s) => s[k])))]));
  log(`  per provisioner (median ms): ${JSON.stringify(stepMedians)}; the guest's own tar -x of the same skills: ${median(floors)} ms`);
  return { skillFiles: files, medianMs: Math.round(median(times)), minMs: Math.round(Math.min(...times)), maxMs: Math.round(Math.max(...times)), dockerProcesses: median(spawned), stepMedians, guestTarFloorMs: median(floors) };
}

try {
  const small = await measure('2x200', 200);
  const large = await measure('2x2000', 2000);
  const result = { runs, provisioners: builtIns.map((s) => s.definition.name), cases: [small, large] };
  if (json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(`five built-ins (ca, git, prompt, skills, supervise), median of ${runs}`);
    const names = result.provisioners;
    console.log(`| skills | wall time (median, min-max) | docker CLI processes | ${names.join(' | ')} | guest tar -x floor |`);
    console.log(`|---|---|---|${names.map(() => '---|').join('')}---|`);
    for (const c of result.cases) console.log(`| 2 x ${c.skillFiles} files | ${c.medianMs} ms (${c.minMs}-${c.maxMs}) | ${c.dockerProcesses} | ${names.map((n) => `${c.stepMedians[n]} ms`).join(' | ')} | ${c.guestTarFloorMs} ms |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
