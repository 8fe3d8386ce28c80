/**
 * A user's project with its own image, as a user drives it with the real `bottle` process: a
 * Dockerfile entry and a devcontainer.json (both building python3 and pytest from Debian on the
 * Debian base bot-bottle builds here, never pulled), `bottle plan` and `bottle doctor` naming the
 * image as missing with the fix, `bottle image build` building every image the manifest names, and
 * `bottle run --copy-cwd` running the project's pytest suite in the workspace as node after the
 * default provisioners (the ca provisioner's "1 added" on the user's image included). An image
 * without /bin/sh is refused before launch with one message.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { localDebianBase } from '@bot-bottle/images';
import { BIN, cleanupTempDirs, isolatedXdg, tempDir } from '../helpers.js';

const test = suite('a project\'s own image (real engine, real CLI)');

const RUN = randomBytes(3).toString('hex');
const LABELS = ['--label', 'bot-bottle-test=1', '--label', `bot-bottle-test.run=${RUN}`];
/** The Python image's Dockerfile, as the images package's tests write it: docker's build cache serves its apt layer. */
const DOCKERFILE = `ARG BASE
FROM \${BASE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-pytest && rm -rf /var/lib/apt/lists/* \\
 && rm -rf /usr/local/bin/node /usr/local/bin/npm /usr/local/bin/npx /usr/local/lib/node_modules
`;

const ctx = {} as { env: NodeJS.ProcessEnv; dir: string; network: string; base: string; built: string[] };

function bottle(args: string[], timeout = 1_500_000) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: ctx.env, encoding: 'utf8', input: '', timeout, cwd: ctx.dir });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test.before(async () => {
  ctx.base = (await localDebianBase()) ?? 'node:24-bookworm-slim';
  ctx.dir = await tempDir('bottle-userimg-');
  ctx.network = `bbtest-userimg-${RUN}`;
  const net = spawnSync('docker', ['network', 'create', '--internal', ...LABELS, ctx.network], { encoding: 'utf8' });
  assert.is(net.status, 0, net.stderr);
  // The project: code, tests, a Dockerfile at the top and a devcontainer.json beside its own.
  await mkdir(path.join(ctx.dir, 'tests'), { recursive: true });
  await mkdir(path.join(ctx.dir, '.devcontainer'), { recursive: true });
  await writeFile(path.join(ctx.dir, 'calc.py'), 'def add(a, b):\n    return a + b\n');
  await writeFile(path.join(ctx.dir, 'tests', 'test_calc.py'), 'import getpass, os\nfrom calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n\ndef test_where():\n    assert getpass.getuser() == "node"\n    assert os.getcwd() == "/home/node/workspace"\n');
  await writeFile(path.join(ctx.dir, 'pytest.ini'), '[pytest]\npythonpath = .\naddopts = -p no:cacheprovider\n');
  await writeFile(path.join(ctx.dir, 'Dockerfile'), DOCKERFILE);
  await writeFile(path.join(ctx.dir, '.dockerignore'), 'tests\n');
  await writeFile(path.join(ctx.dir, '.devcontainer', 'Dockerfile'), DOCKERFILE);
  await writeFile(
    path.join(ctx.dir, '.devcontainer', 'devcontainer.json'),
    `// the project's dev container\n{\n  "name": "calc",\n  "build": { "dockerfile": "Dockerfile", "context": "..", "args": { "BASE": ${JSON.stringify(ctx.base)} } },\n  "features": { "./hello": { "greeting": "hi from a feature" } },\n  "customizations": { "vscode": { "extensions": ["ms-python.python"] } },\n}\n`,
  );
  // A local feature: kept in the project, so it needs no registry.
  await mkdir(path.join(ctx.dir, '.devcontainer', 'hello'));
  await writeFile(path.join(ctx.dir, '.devcontainer', 'hello', 'devcontainer-feature.json'), JSON.stringify({ id: 'hello', version: '1.0.0', options: { greeting: { type: 'string', default: 'hello' } }, containerEnv: { HELLO_FEATURE: 'installed' } }));
  await writeFile(path.join(ctx.dir, '.devcontainer', 'hello', 'install.sh'), String.raw`#!/bin/sh
set -e
printf '#!/bin/sh\necho "%s for %s"\n' "$GREETING" "$_REMOTE_USER" > /usr/local/bin/hello
chmod 755 /usr/local/bin/hello
`);
  await mkdir(path.join(ctx.dir, 'noshell'));
  await writeFile(path.join(ctx.dir, 'noshell', 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
  await writeFile(path.join(ctx.dir, 'noshell', 'hello.txt'), 'hello\n');
  const manifest = {
    bottles: {
      df: { image: { dockerfile: 'Dockerfile', context: '.', args: { BASE: ctx.base } } },
      dc: { image: { devcontainer: '.devcontainer/devcontainer.json' } },
    },
    agents: { [`df-${RUN}`]: { bottle: 'df' }, [`dc-${RUN}`]: { bottle: 'dc' } },
  };
  await writeFile(path.join(ctx.dir, 'bottle.json'), JSON.stringify(manifest, null, 2));
  ctx.env = { ...process.env, ...(await isolatedXdg()), BOT_BOTTLE_BUNDLE_NETWORK: ctx.network };
  delete ctx.env.BOT_BOTTLE_MANIFEST;
  ctx.built = [];
});

test.after(async () => {
  const c = spawnSync('docker', ['ps', '-aq', '--filter', `label=bot-bottle-test.run=${RUN}`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  if (c.length) spawnSync('docker', ['rm', '-f', ...c]);
  spawnSync('docker', ['network', 'rm', ctx.network]);
  // The images this run built from its own files (their tags are hashes of this run's temp paths' contents).
  if (ctx.built.length) spawnSync('docker', ['image', 'rm', '-f', ...new Set(ctx.built)]);
  await cleanupTempDirs();
});

test('bottle plan shows the image and its source, and names it missing with the fix', () => {
  const r = bottle(['plan', `dc-${RUN}`], 120_000);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`image {8}the Dockerfile ${ctx.dir}/\\.devcontainer/Dockerfile of ${ctx.dir}/\\.devcontainer/devcontainer\\.json \\(bottles\\.dc\\.image\\), with bot-bottle's agent layer on top`));
  assert.match(r.stdout, /MISSING: not built \(or its inputs changed since\); fix: bottle image build/);
  const j = bottle(['plan', `df-${RUN}`, '--json'], 120_000);
  assert.equal(JSON.parse(j.stdout).image, { source: 'dockerfile', key: 'bottles.df.image', build: { dockerfile: path.join(ctx.dir, 'Dockerfile'), context: ctx.dir, args: { BASE: ctx.base } } });
  const d = bottle(['doctor', '--json'], 120_000);
  const checks = JSON.parse(d.stdout).checks as { name: string; ok: boolean; required: boolean; fix?: string }[];
  const mine = checks.filter((c) => c.name.startsWith('image of bottle'));
  assert.equal(mine.map((c) => [c.name, c.ok, c.required]), [['image of bottle df', false, false], ['image of bottle dc', false, false]]);
  assert.match(mine[0]!.fix!, /bottle image build/);
});

test('bottle image build builds every image the manifest names, with progress; a second run builds nothing', () => {
  const r = bottle(['image', 'build', '--json']);
  assert.is(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { bottles: Record<string, { ref: string; userImage: { ref: string }; built: string[]; source: string }> };
  assert.equal(Object.keys(doc.bottles).sort(), ['dc', 'df']);
  for (const [name, b] of Object.entries(doc.bottles)) {
    assert.match(b.ref, /^bot-bottle-layered:[0-9a-f]{12}$/, name);
    assert.match(b.userImage.ref, /^bot-bottle-user:[0-9a-f]{12}$/, name);
    ctx.built.push(b.ref, b.userImage.ref, ...b.built);
  }
  assert.is(doc.bottles.dc!.source, 'devcontainer');
  assert.match(r.stderr, /bottle: adding the agent layer to bot-bottle-user:/);
  assert.match(r.stderr, /bottle: user: step \d+\/\d+ RUN apt-get update/);
  const again = bottle(['image', 'build']);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stderr, /all images up to date/);
  assert.match(again.stdout, /^bottle {3}df {2}bot-bottle-layered:/m);
  const plan = bottle(['plan', `dc-${RUN}`], 120_000);
  assert.match(plan.stdout, /present as bot-bottle-user:[0-9a-f]{12}, with the agent layer/);
});

test('the devcontainer\'s local feature is installed, with its option and its containerEnv', () => {
  const r = bottle(['run', `dc-${RUN}`, '--', 'sh', '-c', 'hello; echo "$HELLO_FEATURE"']);
  assert.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.is(r.stdout, 'hi from a feature for node\ninstalled\n');
});

for (const kind of ['df', 'dc'] as const) {
  test(`bottle run --copy-cwd (${kind === 'df' ? 'a Dockerfile' : 'a devcontainer.json'}): the project's pytest suite passes in the workspace as node`, () => {
    const r = bottle(['run', '--copy-cwd', '--verbose', `${kind}-${RUN}`, '--', 'python3', '-m', 'pytest', '-q']);
    assert.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /2 passed/);
    // The default provisioners ran on the user's image; ca trusted the gateway's CA there.
    assert.match(r.stderr, /^bottle: ca: trusted .+ at \/usr\/local\/share\/ca-certificates\//m);
  });
}

test('an image without /bin/sh: one message naming it and why, exit 2, before anything starts', async () => {
  const manifest = path.join(ctx.dir, 'noshell', 'bottle.json');
  await writeFile(manifest, JSON.stringify({ bottles: { bare: { image: { dockerfile: 'Dockerfile' } } }, agents: { [`bare-${RUN}`]: { bottle: 'bare' } } }));
  const r = bottle(['run', '--manifest', manifest, `bare-${RUN}`, '--', 'true']);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`Error: the Dockerfile ${ctx.dir}/noshell/Dockerfile \\(bottles\\.bare\\.image\\) cannot run a bottle: it has no /bin/sh`));
  assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  ctx.built.push(...spawnSync('docker', ['image', 'ls', '-q', '--filter', 'label=bot-bottle.user-image=bottles.bare.image'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean));
  const ls = bottle(['ls', '--json'], 120_000);
  assert.not.ok((JSON.parse(ls.stdout) as { agent: string }[]).some((b) => b.agent === `bare-${RUN}`), 'nothing left');
});

test.run();
