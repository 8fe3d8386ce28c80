#!/usr/bin/env node
// bench/launch: wall time of `bottle run <agent> -- true` against the floor of starting and
// removing the same two containers with plain `docker run`, median of N runs each, plus the
// bundle's idle memory. Not a test: it prints figures (and --json gives one JSON document).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const runs = Number(process.env.BENCH_RUNS || 7);
const json = process.argv.includes('--json');
const cli = path.join(root, 'apps/cli/bin/run.js');
const dir = mkdtempSync(path.join(tmpdir(), 'bench-launch-'));
const manifest = path.join(dir, 'bottle.json');
writeFileSync(manifest, JSON.stringify({ bottles: { dev: {} }, agents: { bench: { bottle: 'dev', provisioners: [] } } }));
const env = { ...process.env, XDG_STATE_HOME: path.join(dir, 'state') };

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = (fn) => { const t = process.hrtime.bigint(); fn(); return Number(process.hrtime.bigint() - t) / 1e6; };
const sh = (cmd, args) => { const r = spawnSync(cmd, args, { env, encoding: 'utf8' }); if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`); return r.stdout; };

const log = (m) => process.stderr.write(m + '\n');
log('warming up (images)');
sh(process.execPath, [cli, 'image', 'build']);
const images = JSON.parse(sh(process.execPath, [cli, 'image', 'build', '--json']));
sh(process.execPath, [cli, 'run', 'bench', '--manifest', manifest, '--', 'true']);

const bottle = [];
for (let i = 0; i < runs; i++) bottle.push(time(() => sh(process.execPath, [cli, 'run', 'bench', '--manifest', manifest, '--', 'true'])));
log(`bottle run: ${bottle.map((x) => x.toFixed(0)).join(' ')} ms`);

// The floor: the same two containers (a bundle and a bottle sharing a volume, the bottle with no
// network), started, a command run in the bottle, and everything removed, with plain docker.
const floor = [];
for (let i = 0; i < runs; i++) {
  const n = `bench-floor-${process.pid}-${i}`;
  floor.push(time(() => {
    sh('docker', ['volume', 'create', `${n}-v`]);
    sh('docker', ['run', '-d', '--init', '--name', `${n}-b`, '-v', `${n}-v:/run/bot-bottle`, '--entrypoint', 'sleep', images.bundle, 'infinity']);
    sh('docker', ['run', '-d', '--init', '--name', `${n}-a`, '--network', 'none', '-v', `${n}-v:/run/bot-bottle`, '--entrypoint', 'sleep', images.agent, 'infinity']);
    sh('docker', ['exec', '-u', 'node', `${n}-a`, 'true']);
    sh('docker', ['rm', '-f', `${n}-a`, `${n}-b`]);
    sh('docker', ['volume', 'rm', `${n}-v`]);
  }));
}
log(`plain docker floor: ${floor.map((x) => x.toFixed(0)).join(' ')} ms`);

// Idle memory of a bundle: launch one kept bottle, let it settle, read docker stats.
sh(process.execPath, [cli, 'run', 'bench', '--manifest', manifest, '--keep', '--', 'true']);
const slug = JSON.parse(sh(process.execPath, [cli, 'ls', '--json'])).find((b) => b.agent === 'bench').slug;
await new Promise((r) => setTimeout(r, 3000));
const mem = sh('docker', ['stats', '--no-stream', '--format', '{{.MemUsage}}', `bot-bottle-${slug}-bundle`]).trim().split('/')[0].trim();
sh(process.execPath, [cli, 'stop', slug]);

// A bottle on a user's own image: the agent layer's build on the first launch (a user image no
// layer was made for: a Dockerfile FROM the base with a line of its own) and on a relaunch
// (cached), then `bottle run -- true` against the plain docker floor of the same layered image.
const userResult = benchUserImage();

// The smolvm path, on hosts where a smolvm guest can boot (hardware KVM): `bottle run` with the
// smolmachines backend against the floor of the same parts by hand (the bundle container, a
// machine created from the agent image's archive and started, `machine exec` of `true` as node,
// both removed). The backend's own probe decides whether to run it (src/host-probe.ts).
const smolvmResult = benchSmolvm();
rmSync(dir, { recursive: true, force: true });

function benchUserImage() {
  const project = path.join(dir, 'project');
  sh('mkdir', ['-p', project]);
  writeFileSync(path.join(project, 'Dockerfile'), `FROM ${images.base}\nRUN echo bench-${process.pid}-${Date.now()} > /etc/bench-id\n`);
  const userManifest = path.join(project, 'bottle.json');
  writeFileSync(userManifest, JSON.stringify({ bottles: { dev: { image: { dockerfile: 'Dockerfile', context: '.' } } }, agents: { bench: { bottle: 'dev', provisioners: [] } } }));
  const first = time(() => sh(process.execPath, [cli, 'run', 'bench', '--manifest', userManifest, '--', 'true']));
  const again = time(() => sh(process.execPath, [cli, 'run', 'bench', '--manifest', userManifest, '--', 'true']));
  log(`user image: first launch ${first.toFixed(0)} ms (user build + agent layer), relaunch ${again.toFixed(0)} ms`);
  // The layered image the bottle runs, from a kept bottle.
  sh(process.execPath, [cli, 'run', 'bench', '--manifest', userManifest, '--keep', '--', 'true']);
  const kept = JSON.parse(sh(process.execPath, [cli, 'ls', '--json'])).find((b) => b.agent === 'bench');
  const layered = sh('docker', ['inspect', '--format', '{{.Config.Image}}', `bot-bottle-${kept.slug}`]).trim();
  sh(process.execPath, [cli, 'stop', kept.slug]);
  const run = [];
  for (let i = 0; i < runs; i++) run.push(time(() => sh(process.execPath, [cli, 'run', 'bench', '--manifest', userManifest, '--', 'true'])));
  const floor = [];
  for (let i = 0; i < runs; i++) {
    const n = `bench-userfloor-${process.pid}-${i}`;
    floor.push(time(() => {
      sh('docker', ['volume', 'create', `${n}-v`]);
      sh('docker', ['run', '-d', '--init', '--name', `${n}-b`, '-v', `${n}-v:/run/bot-bottle`, '--entrypoint', 'sleep', images.bundle, 'infinity']);
      sh('docker', ['run', '-d', '--init', '--name', `${n}-a`, '--network', 'none', '-v', `${n}-v:/run/bot-bottle`, '--entrypoint', 'sleep', layered, 'infinity']);
      sh('docker', ['exec', '-u', 'node', `${n}-a`, 'true']);
      sh('docker', ['rm', '-f', `${n}-a`, `${n}-b`]);
      sh('docker', ['volume', 'rm', `${n}-v`]);
    }));
  }
  log(`user image: bottle run ${run.map((x) => x.toFixed(0)).join(' ')} ms; floor ${floor.map((x) => x.toFixed(0)).join(' ')} ms`);
  // The images this run made for itself (the user image and its layer) go with it.
  spawnSync('docker', ['rmi', '-f', layered], { env });
  return {
    firstLaunchMs: Math.round(first),
    relaunchMs: Math.round(again),
    bottleRunMedianMs: Math.round(median(run)),
    floorMedianMs: Math.round(median(floor)),
    overheadRatio: Number((median(run) / median(floor)).toFixed(2)),
  };
}

function benchSmolvm() {
  const pkg = path.join(root, 'packages/backend-smolmachines');
  const probe = spawnSync(process.execPath, ['--input-type=module', '-e', "import { guestSupport, probeHost } from '@bot-bottle/backend-smolmachines'; console.log(JSON.stringify(guestSupport(await probeHost())))"], { cwd: pkg, encoding: 'utf8' });
  if (probe.status !== 0) return { skipped: `the smolmachines backend is not built (${probe.stderr.trim().split('\n').pop()})` };
  const support = JSON.parse(probe.stdout);
  if (!support.canBoot) return { skipped: `no smolvm guest can boot on this host (${support.detail}); run it on ${support.fix.split(';')[0]}` };
  log('smolvm path: warming up (the agent image saved for smolvm, a first machine)');
  const smolEnv = { ...env, BOT_BOTTLE_BACKEND: 'smolmachines' };
  const run = () => { const r = spawnSync(process.execPath, [cli, 'run', 'bench', '--manifest', manifest, '--', 'true'], { env: smolEnv, encoding: 'utf8' }); if (r.status !== 0) throw new Error(`bottle run with BOT_BOTTLE_BACKEND=smolmachines: ${r.stderr}`); };
  try {
    run();
  } catch (e) {
    return { skipped: `bottle run on the smolmachines backend failed: ${e.message.trim().split('\n').slice(-2).join(' ')}` };
  }
  const smolBottle = [];
  for (let i = 0; i < runs; i++) smolBottle.push(time(run));
  log(`bottle run (smolmachines): ${smolBottle.map((x) => x.toFixed(0)).join(' ')} ms`);
  const archive = path.join(dir, 'agent.tar');
  sh('docker', ['save', '-o', archive, images.agent]);
  const smolFloor = [];
  for (let i = 0; i < runs; i++) {
    const n = `bench-smolfloor-${process.pid}-${i}`;
    const sockets = path.join(dir, n);
    smolFloor.push(time(() => {
      sh('mkdir', ['-p', sockets]);
      sh('docker', ['run', '-d', '--init', '--name', `${n}-b`, '-v', `${sockets}:/run/bot-bottle`, '--entrypoint', 'sleep', images.bundle, 'infinity']);
      sh('smolvm', ['machine', 'create', '--name', n, '--image', archive, '--mount-socket', `${sockets}/egress.sock:/run/bot-bottle/egress.sock`, '--', 'sleep', 'infinity']);
      sh('smolvm', ['machine', 'start', '--name', n]);
      sh('smolvm', ['machine', 'exec', '--name', n, '--', 'runuser', '-u', 'node', '--', 'true']);
      sh('smolvm', ['machine', 'delete', '--name', n, '--force']);
      sh('docker', ['rm', '-f', `${n}-b`]);
    }));
  }
  log(`plain smolvm floor: ${smolFloor.map((x) => x.toFixed(0)).join(' ')} ms`);
  return {
    bottleRunMedianMs: Math.round(median(smolBottle)),
    floorMedianMs: Math.round(median(smolFloor)),
    overheadRatio: Number((median(smolBottle) / median(smolFloor)).toFixed(2)),
  };
}

const result = {
  runs,
  bottleRunMedianMs: Math.round(median(bottle)),
  dockerFloorMedianMs: Math.round(median(floor)),
  overheadRatio: Number((median(bottle) / median(floor)).toFixed(2)),
  overheadPercent: Math.round((median(bottle) / median(floor) - 1) * 100),
  bundleIdleMemory: mem,
  userImage: userResult,
  smolvm: smolvmResult,
};
if (json) console.log(JSON.stringify(result));
else {
  console.log(`bottle run -- true      median ${result.bottleRunMedianMs} ms (${runs} runs)`);
  console.log(`plain docker floor      median ${result.dockerFloorMedianMs} ms`);
  console.log(`ratio                   ${result.overheadRatio} (overhead ${result.overheadPercent}%)`);
  console.log(`bundle idle memory      ${mem}`);
  console.log(`user image: first       ${userResult.firstLaunchMs} ms (its build and the agent layer), relaunch ${userResult.relaunchMs} ms (cached)`);
  console.log(`user image: bottle run  median ${userResult.bottleRunMedianMs} ms, floor ${userResult.floorMedianMs} ms, ratio ${userResult.overheadRatio}`);
  if (smolvmResult.skipped) console.log(`smolvm path             skipped: ${smolvmResult.skipped}`);
  else {
    console.log(`smolvm: bottle run      median ${smolvmResult.bottleRunMedianMs} ms (${runs} runs)`);
    console.log(`smolvm: plain floor     median ${smolvmResult.floorMedianMs} ms`);
    console.log(`smolvm: ratio           ${smolvmResult.overheadRatio}`);
  }
}
