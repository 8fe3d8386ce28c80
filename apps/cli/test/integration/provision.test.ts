/**
 * Provisioners as the real `bottle` process finds and runs them: the five built-ins and the example
 * plugin (linked with `bottle plugins link`, listed between built-ins) prepare one kept bottle, in
 * the declared order, with their log lines under --verbose. What each built-in leaves in the bottle
 * is checked by core's backend checks, for every backend (packages/backend-docker/test/integration/conformance.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BIN, EXAMPLE_PLUGIN, cleanupTempDirs, isolatedXdg, tempDir } from '../helpers.js';

const test = suite('provisioners in a real bottle');

const RUN = randomBytes(3).toString('hex');
const AGENT = `prov-${RUN}`;
const SKILL_FILES = 25;
const PROMPT = `You are agent ${RUN}.`;
const MOTD = `motd ${RUN}`;
const LABELS = ['--label', 'bot-bottle-test=1', '--label', `bot-bottle-test.run=${RUN}`];

interface Ctx {
  env: NodeJS.ProcessEnv;
  dir: string;
  network: string;
  slug: string;
  stderr: string;
}
const ctx = {} as Ctx;

function bottle(args: string[], cwd?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: ctx.env, encoding: 'utf8', input: '', timeout: 300_000, cwd: cwd ?? ctx.dir });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A shell snippet in the kept bottle, as the agent user (what `bottle exec` does). */
function inBottle(script: string) {
  return bottle(['exec', ctx.slug, '--', 'sh', '-c', script]);
}

function ok(r: { code: number | null; stdout: string; stderr: string }, what: string): string {
  assert.is(r.code, 0, `${what}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

test.before(async () => {
  ctx.dir = await tempDir('bottle-prov-');
  // The bundle's network: internal, so the bundle's services reach nothing off this machine.
  ctx.network = `bbtest-prov-${RUN}`;
  const net = spawnSync('docker', ['network', 'create', '--internal', ...LABELS, ctx.network], { encoding: 'utf8' });
  assert.is(net.status, 0, net.stderr);

  // Skills beside the manifest, two of them, one with nested files.
  for (const name of ['alpha', 'beta']) {
    const d = path.join(ctx.dir, 'skills', name, 'ref');
    await mkdir(d, { recursive: true });
    await writeFile(path.join(ctx.dir, 'skills', name, 'SKILL.md'), `---\nname: ${name}\ndescription: test skill ${name}\n---\nDo ${name}.\n`);
    for (let i = 0; i < SKILL_FILES; i++) await writeFile(path.join(d, `f${i}.md`), `${name} ${i}\n`);
  }

  // git upstreams need an identity file and known hosts on the host; neither is ever used here.
  const key = path.join(ctx.dir, 'id_test');
  await writeFile(key, 'not a real key\n', { mode: 0o600 });
  const knownHosts = path.join(ctx.dir, 'known_hosts');
  await writeFile(knownHosts, 'git.example.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n');

  const manifest = {
    bottles: {
      dev: {
        git: [
          { Name: 'app', Upstream: 'ssh://git@git.example.test/team/app.git', IdentityFile: key },
          { Name: 'docs', Upstream: 'git@git.example.test:team/docs.git', IdentityFile: key },
        ],
        git_user: { name: `Agent ${RUN}`, email: `agent-${RUN}@example.com` },
        egress: { routes: [{ host: 'svc.example.test', to: 'https://svc.example.invalid:8443' }] },
        supervise: true,
      },
    },
    agents: {
      [AGENT]: {
        bottle: 'dev',
        prompt: PROMPT,
        skills: ['alpha', 'beta'],
        provisioners: ['ca', { name: 'example', options: { motd: MOTD } }, 'git', 'prompt', 'skills', 'supervise'],
      },
    },
  };
  await writeFile(path.join(ctx.dir, 'bottle.json'), JSON.stringify(manifest, null, 2));
  ctx.env = {
    ...process.env,
    ...(await isolatedXdg()),
    BOT_BOTTLE_MANIFEST: path.join(ctx.dir, 'bottle.json'),
    BOT_BOTTLE_BUNDLE_NETWORK: ctx.network,
    BOT_BOTTLE_KNOWN_HOSTS: knownHosts,
  };
  ok(bottle(['plugins', 'link', EXAMPLE_PLUGIN, '--no-install']), 'link the example plugin');

  const run = bottle(['run', AGENT, '--keep', '--verbose', '--', 'true']);
  ctx.stderr = run.stderr;
  const slug = /ready: (\S+)/.exec(run.stderr)?.[1];
  if (slug) ctx.slug = slug;
  ok(run, 'bottle run --keep');
  assert.ok(ctx.slug, `the run names its bottle: ${run.stderr}`);
});

test.after(async () => {
  if (ctx.slug) bottle(['stop', ctx.slug]);
  if (ctx.network) spawnSync('docker', ['network', 'rm', ctx.network]);
  await cleanupTempDirs();
});

test('the provisioners ran in the declared order, the plugin between built-ins', () => {
  const order = [...ctx.stderr.matchAll(/provision: (\S+) \((\d+)\/6\)/g)].map((m) => m[1]);
  assert.equal(order, ['ca', 'example', 'git', 'prompt', 'skills', 'supervise']);
});

test("--verbose: each provisioner's ctx.log lines on stderr, named by provisioner", () => {
  assert.match(ctx.stderr, /^bottle: ca: trusted .+ at \S+$/m);
  assert.match(ctx.stderr, /^bottle: example: wrote \/home\/node\/\.bottle-motd$/m);
});

test('example (third-party) wrote its file as node, after ca', () => {
  const out = ok(inBottle('stat -c "%U %a" ~/.bottle-motd && cat ~/.bottle-motd'), 'motd');
  assert.is(out, `node 644\n${MOTD}\nallowed hosts: svc.example.test\n`);
});

test.run();
