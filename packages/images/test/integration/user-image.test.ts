/**
 * bot-bottle's agent layer on users' images, on the real engine: a Debian image without Node, an
 * image without a package manager (uid 1000 under another name, no useradd, tar, runuser or
 * ca-certificates), a Dockerfile entry (tagged by its inputs), and the images it must refuse before
 * any launch (no /bin/sh, no glibc, a reference nobody has). Containers are run with no network and
 * removed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isBottleError, type ImagePlan } from '@bot-bottle/core';
import { EXEC_AGENT_PATH, docker } from '@bot-bottle/backend-kit';
import { LABEL_LAYER_OF, LAYER_NODE, bottleImageStatus, ensureBottleImage, type BottleImage } from '../../src/index.js';
import { bareImage, muslLikeImage, noShellImage, pythonImage, standardImages, ubuntuImage } from './user-images.js';

const test = suite('the agent layer on users\' images');
const RUN_LABEL = `bot-bottle-test.run=${randomBytes(4).toString('hex')}`;
const ref = (r: string): ImagePlan => ({ source: 'reference', ref: r, key: 'bottles.dev.image' });
const ctx: { python?: BottleImage; bare?: BottleImage; dir?: string } = {};

/** Runs a shell snippet in a fresh container of `image` (no network), as `user`; the entrypoint is bypassed. */
async function inImage(image: string, script: string, user = 'node', input?: string) {
  const r = await docker(['run', '--rm', '-i', '--network', 'none', '--label', RUN_LABEL, '-u', user, '--entrypoint', '/bin/sh', image, '-c', script], { timeoutMs: 120_000, ...(input !== undefined ? { input } : {}) });
  return r;
}

async function refusal(image: ImagePlan): Promise<{ code: string; message: string; suggestions: readonly string[] }> {
  const images = await standardImages();
  try {
    await ensureBottleImage(image, { images });
  } catch (e) {
    if (isBottleError(e)) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

const FAKE_PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

test.before(async () => {
  ctx.dir = await mkdtemp(path.join(tmpdir(), 'bbtest-layer-'));
  const images = await standardImages();
  ctx.python = await ensureBottleImage(ref(await pythonImage()), { images, progress: (m) => process.stderr.write(`  ${m}\n`) });
  ctx.bare = await ensureBottleImage(ref(await bareImage()), { images, progress: (m) => process.stderr.write(`  ${m}\n`) });
});

test.after(async () => {
  const c = (await docker(['ps', '-aq', '--filter', `label=${RUN_LABEL}`])).stdout.split('\n').filter(Boolean);
  if (c.length) await docker(['rm', '-f', ...c]);
  if (ctx.dir) await rm(ctx.dir, { recursive: true, force: true });
});

test('a Debian image without Node: the node user, its workspace, the image\'s tools first, claude on PATH, no node', async () => {
  const img = ctx.python!;
  assert.match(img.ref, /^bot-bottle-layered:[0-9a-f]{12}$/);
  assert.equal(img.execAgent, [...LAYER_NODE, EXEC_AGENT_PATH]);
  const r = await inImage(img.ref, 'id; pwd; echo "PATH=$PATH"; command -v python3; python3 -m pytest --version 2>&1; command -v node || echo "no node"; claude --version');
  assert.is(r.exitCode, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.is(lines[0], 'uid=1000(node) gid=1000(node) groups=1000(node)');
  assert.is(lines[1], '/home/node/workspace');
  assert.match(lines[2]!, /^PATH=\/usr\/local\/sbin:.*:\/bin:\/opt\/bot-bottle\/bin$/);
  assert.is(lines[3], '/usr/bin/python3');
  assert.match(lines[4]!, /pytest \d/);
  assert.is(lines[5], 'no node', 'the user\'s image had no node; bot-bottle\'s is not on PATH');
  assert.match(lines[6]!, /\(Claude Code\)/);
  // The agent's own dirs (~/.claude) are made by the agent at launch, as its user: the layer makes none.
  const home = await inImage(img.ref, 'stat -c "%u:%g %n" /home/node /home/node/workspace; touch /home/node/workspace/x && echo writable');
  assert.match(home.stdout, /1000:1000 \/home\/node\n1000:1000 \/home\/node\/workspace\nwritable/);
});

test('the trust store is empty and Debian\'s update-ca-certificates adds exactly the one CA', async () => {
  const r = await inImage(ctx.python!.ref, 'wc -c < /etc/ssl/certs/ca-certificates.crt; ls /usr/local/share/ca-certificates | wc -l; ls /etc/ssl/certs | grep -c pem || true');
  assert.equal(r.stdout.trim().split('\n'), ['0', '0', '0']);
  const add = await inImage(ctx.python!.ref, 'cat > /usr/local/share/ca-certificates/bot-bottle-egress-ca.crt && chmod 644 /usr/local/share/ca-certificates/bot-bottle-egress-ca.crt && update-ca-certificates && grep -c fake /etc/ssl/certs/ca-certificates.crt', 'root', FAKE_PEM);
  assert.match(add.stdout, /(^|[^0-9])1 added\b/, add.stdout + add.stderr);
});

test('the exec agent and the forwarder run on bot-bottle\'s Node, not the image\'s', async () => {
  const agent = await docker(['run', '--rm', '-i', '--network', 'none', '--label', RUN_LABEL, '--entrypoint', LAYER_NODE[0], ctx.python!.ref, ...LAYER_NODE.slice(1), EXEC_AGENT_PATH], { input: '', timeoutMs: 60_000 });
  assert.is(agent.stdout.trim(), '{"t":"ready"}', agent.stderr);
  const inspect = await docker(['image', 'inspect', '--format', '{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{index .Config.Labels "bot-bottle.layer-of"}}', ctx.python!.ref]);
  const [entry, cmd, of] = inspect.stdout.trim().split(' ');
  assert.equal(JSON.parse(entry!), [...LAYER_NODE, '/usr/local/lib/bot-bottle/forward.mjs']);
  assert.is(cmd, '[]');
  assert.is(of, ctx.python!.userImage!.id);
});

test('an unchanged image is not layered again; its status says so', async () => {
  const again = await ensureBottleImage(ref(await pythonImage()), { images: await standardImages() });
  assert.is(again.ref, ctx.python!.ref);
  assert.equal(again.built, []);
  assert.equal(await bottleImageStatus(ref(await pythonImage())), { ok: true, state: 'present, with the agent layer', detail: `image ${await pythonImage()} (bottles.dev.image): present, with the agent layer` });
});

test('no package manager: uid 1000 renamed to node, stand-ins for tar, runuser, dtach and update-ca-certificates', async () => {
  const img = ctx.bare!.ref;
  const who = await inImage(img, 'id; getent passwd app || echo "no app"; getent passwd node; getent group node');
  assert.is(who.exitCode, 0, who.stderr);
  assert.match(who.stdout, /^uid=1000\(node\) gid=1000\(node\)/);
  assert.match(who.stdout, /no app\nnode:x:1000:1000:[^:]*:\/home\/node:\/bin\/bash\nnode:x:1000:/);
  const tools = await inImage(img, 'for t in tar runuser dtach update-ca-certificates useradd apt-get dpkg; do command -v $t; done; true', 'root');
  assert.equal(tools.stdout.trim().split('\n'), ['/opt/bot-bottle/bin/tar', '/opt/bot-bottle/bin/runuser', '/opt/bot-bottle/bin/dtach', '/usr/sbin/update-ca-certificates']);
  // dtach, as a kept bottle's agent session runs it: a detached session holds its socket while its command runs.
  const session = await inImage(img, 'dtach -n /tmp/s.sock sleep 30 && [ -S /tmp/s.sock ] && echo session', 'node');
  assert.is(session.stdout.trim(), 'session', session.stderr);
  // tar as the exec agent and the workspace copy use it; runuser as a backend without the exec agent does.
  const tar = await inImage(img, 'cd /tmp && mkdir -p a/b && echo hi > a/b/f && tar -c -f t.tar a && mkdir x && tar -x -f t.tar -C x --no-same-owner && cat x/a/b/f && runuser -u node -- sh -c "id -un; echo \\$HOME"', 'root');
  assert.equal(tar.stdout.trim().split('\n'), ['hi', 'node', '/home/node'], tar.stderr);
});

test('the update-ca-certificates stand-in keeps the ca provisioner\'s contract', async () => {
  const script = [
    'F=/usr/local/share/ca-certificates/bot-bottle-egress-ca.crt',
    'cat > $F && chmod 644 $F && chown root:root $F && update-ca-certificates',
    'grep -c fake /etc/ssl/certs/ca-certificates.crt; readlink /etc/ssl/certs/bot-bottle-egress-ca.pem',
    'update-ca-certificates | tail -1',
    'rm $F && update-ca-certificates | tail -1; wc -c < /etc/ssl/certs/ca-certificates.crt',
  ].join('; ');
  const r = await inImage(ctx.bare!.ref, script, 'root', FAKE_PEM);
  assert.equal(r.stdout.trim().split('\n'), [
    'Updating certificates in /etc/ssl/certs...',
    '1 added, 0 removed; done.',
    '1',
    '/usr/local/share/ca-certificates/bot-bottle-egress-ca.crt',
    '0 added, 0 removed; done.',
    '0 added, 1 removed; done.',
    '0',
  ], r.stderr);
});

test('an Ubuntu image whose uid 1000 is "ubuntu": node takes it; pytest, claude and the trust store as on Debian', async () => {
  const image = await ubuntuImage();
  if (!image) {
    process.stderr.write('  skipped: making the Ubuntu test image needs root and debootstrap\n');
    return;
  }
  const img = await ensureBottleImage(ref(image), { images: await standardImages() });
  const r = await inImage(img.ref, 'grep ^ID= /etc/os-release; id; getent passwd ubuntu || echo "no ubuntu"; python3 -m pytest --version 2>&1; claude --version; wc -c < /etc/ssl/certs/ca-certificates.crt');
  assert.is(r.exitCode, 0, r.stderr);
  const out = r.stdout.trim().split('\n');
  assert.equal(out.slice(0, 3), ['ID=ubuntu', 'uid=1000(node) gid=1000(node) groups=1000(node)', 'no ubuntu']);
  assert.match(out[3]!, /pytest \d/);
  assert.match(out[4]!, /\(Claude Code\)/);
  assert.is(out[5], '0');
  const add = await inImage(img.ref, 'cat > /usr/local/share/ca-certificates/bot-bottle-egress-ca.crt && update-ca-certificates', 'root', FAKE_PEM);
  assert.match(add.stdout, /(^|[^0-9])1 added\b/, add.stdout + add.stderr);
});

test('a Dockerfile entry: built as bot-bottle-user:<hash of its inputs>, again only when they change', async () => {
  const dir = ctx.dir!;
  await writeFile(path.join(dir, 'Dockerfile'), `FROM ${await pythonImage()}\nCOPY app.py /srv/app.py\n`);
  await writeFile(path.join(dir, 'app.py'), 'print("one")\n');
  const image: ImagePlan = { source: 'dockerfile', key: 'bottles.dev.image', build: { dockerfile: path.join(dir, 'Dockerfile'), context: dir, args: {} } };
  const status = await bottleImageStatus(image);
  assert.is(status.ok, false);
  assert.match(status.fix!, /bottle image build/);
  const images = await standardImages();
  const first = await ensureBottleImage(image, { images });
  assert.match(first.userImage!.ref, /^bot-bottle-user:[0-9a-f]{12}$/);
  assert.equal(first.built, [first.userImage!.ref, first.ref]);
  assert.equal((await ensureBottleImage(image, { images })).built, []);
  await writeFile(path.join(dir, 'app.py'), 'print("two")\n');
  const second = await ensureBottleImage(image, { images });
  assert.is.not(second.userImage!.ref, first.userImage!.ref);
  assert.equal(second.built, [second.userImage!.ref, second.ref]);
  const r = await inImage(second.ref, 'python3 /srv/app.py');
  assert.is(r.stdout.trim(), 'two');
  for (const img of [first, second]) {
    await docker(['image', 'rm', '-f', img.ref, img.userImage!.ref]);
  }
});

test('an image without /bin/sh is refused before anything runs, naming it and why', async () => {
  const image = await noShellImage();
  const e = await refusal(ref(image));
  assert.is(e.code, 'IMAGE_UNSUPPORTED');
  assert.is(e.message, `image ${image} (bottles.dev.image) cannot run a bottle: it has no /bin/sh (the provisioners and setup commands run sh)`);
  assert.match(e.suggestions[0]!, /Debian or Ubuntu/);
});

test('a musl image (as Alpine) is refused: no glibc', async () => {
  const image = await muslLikeImage();
  const e = await refusal(ref(image));
  assert.is(e.code, 'IMAGE_UNSUPPORTED');
  assert.match(e.message, new RegExp(`^image ${image.replace(/[.:]/g, '\\$&')} \\(bottles\\.dev\\.image\\) cannot run a bottle: it has no glibc \\(it is musl-based, as Alpine is\\)`));
  // Nothing was layered, and the probe left no container.
  const id = (await docker(['image', 'inspect', '--format', '{{.Id}}', image])).stdout.trim();
  assert.is((await docker(['image', 'ls', '-q', '--filter', `label=${LABEL_LAYER_OF}=${id}`])).stdout.trim(), '');
  assert.is((await docker(['ps', '-aq', '--filter', 'label=bot-bottle.probe=1'])).stdout.trim(), '');
});

test('a reference the engine does not have and cannot pull: IMAGE_MISSING with the fix', async () => {
  const missing = 'registry.bot-bottle-test.invalid/nobody/none:1';
  assert.equal(await bottleImageStatus(ref(missing)), { ok: false, state: 'not on this docker engine', detail: `image ${missing} (bottles.dev.image): not on this docker engine`, fix: `docker pull ${missing} (or docker load -i <file>); \`bottle image build\` pulls it too` });
  const e = await refusal(ref(missing));
  assert.is(e.code, 'IMAGE_MISSING');
  assert.is(e.message, `image ${missing} (bottles.dev.image) is not on this docker engine and cannot be pulled`);
  assert.match(e.suggestions[0]!, /docker pull/);
});

test.run();
