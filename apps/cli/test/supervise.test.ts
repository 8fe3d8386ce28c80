/**
 * `bottle supervise list|approve` as a person runs them (the real binary), against bottles as a
 * launch leaves them: a state dir with plan.json and the queue folders, requests written by the
 * queue's own writer (as the bundle's server writes them, or as a compromised bundle could plant
 * them), and `docker ps` answered by a stand-in script naming the bottles as running. The egress
 * gateway's admin socket is a small stand-in here that records what the CLI sends it;
 * packages/supervise/test/host.test.ts does the same against the real gateway.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EgressRoute } from '@bot-bottle/core';
import { writeRequest, type RequestRecord } from '@bot-bottle/supervise';
import { bottle, cleanupTempDirs, hasStack, isolatedXdg, tempDir } from './helpers.js';
import { ALL_HIDDEN, ALL_HIDDEN_SHOWN, HIDDEN_SAMPLES, RAW_HIDDEN } from './hidden-samples.js';

const test = suite('supervise');

/** What the stand-in gateway was sent: each PUT /routes body. */
interface FakeGateway {
  puts: { routes: EgressRoute[]; secrets?: Record<string, string> }[];
  close(): Promise<void>;
}

/** The admin socket's protocol (GET/PUT /routes), holding the routes in memory. */
async function fakeGateway(socket: string, routes: EgressRoute[]): Promise<FakeGateway> {
  let current = routes;
  const puts: FakeGateway['puts'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'PUT') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as FakeGateway['puts'][number];
        puts.push(body);
        current = body.routes;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ routes: current }));
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { puts, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

interface World {
  env: Record<string, string>;
  gateways: FakeGateway[];
  /** Writes a request into a bottle's queue; returns its id. */
  ask(slug: string, ask: Partial<RequestRecord>): Promise<string>;
  /** Writes a file into a bottle's queue as it is (a request no schema checked). */
  plant(slug: string, id: string, text: string): Promise<void>;
}

interface BottleSpec {
  slug: string;
  /** The plan's supervise.credentials: what the manifest lets the bottle ask for. */
  credentials: string[];
  routes: EgressRoute[];
}

/** Bottles running as far as `bottle` can tell: state dirs, queues, admin sockets, and `docker ps`. */
async function world(bottles: BottleSpec[]): Promise<World> {
  const xdg = await isolatedXdg();
  const bin = await tempDir('bottle-fake-docker-');
  // `docker ps` lists each bottle's two containers as running, in whatever --format it is asked
  // for (`{{json .}}`, or fields and labels); other listings find nothing; anything else fails.
  const containers = bottles.flatMap((b) =>
    ['bottle', 'bundle'].map((role) => ({
      Names: `bot-bottle-${b.slug}${role === 'bundle' ? '-bundle' : ''}`,
      State: 'running',
      labels: { 'bot-bottle': '1', 'bot-bottle.slug': b.slug, 'bot-bottle.agent': 'demo', 'bot-bottle.role': role, 'bot-bottle.owner': 'keep', 'bot-bottle.created': '2026-01-01T00:00:00.000Z' },
    })),
  );
  await writeFile(path.join(bin, 'containers.json'), JSON.stringify(containers));
  const docker = path.join(bin, 'docker');
  await writeFile(
    docker,
    `#!${process.execPath}
const args = process.argv.slice(2);
if (args[0] !== 'ps' && args[1] !== 'ls') { process.stderr.write('fake docker: ' + args.join(' ') + '\\n'); process.exit(1); }
if (args[0] !== 'ps') process.exit(0);
const format = args[args.indexOf('--format') + 1];
for (const c of JSON.parse(require('node:fs').readFileSync(${JSON.stringify(path.join(bin, 'containers.json'))}, 'utf8'))) {
  const Labels = Object.entries(c.labels).map(([k, v]) => k + '=' + v).join(',');
  process.stdout.write(format
    .replace('{{json .}}', () => JSON.stringify({ Names: c.Names, State: c.State, Labels }))
    .replace(/{{\\.Label "([^"]+)"}}/g, (_, k) => c.labels[k] ?? '')
    .replace(/{{\\.(\\w+)}}/g, (_, k) => (k === 'Labels' ? Labels : c[k] ?? '')) + '\\n');
}
`,
  );
  await chmod(docker, 0o755);
  const gateways: FakeGateway[] = [];
  const queues = new Map<string, string>();
  for (const b of bottles) {
    const stateDir = path.join(xdg.XDG_STATE_HOME!, 'bot-bottle', 'bottles', b.slug);
    const queueDir = path.join(stateDir, 'supervise', 'queue');
    const decisionsDir = path.join(stateDir, 'supervise', 'decisions');
    for (const d of [queueDir, decisionsDir, path.join(stateDir, 'control'), path.join(stateDir, 'log')]) await mkdir(d, { recursive: true });
    await writeFile(
      path.join(stateDir, 'plan.json'),
      JSON.stringify({
        slug: b.slug,
        bottleName: 'dev',
        manifestPath: '<test>',
        egress: { routes: b.routes, auditLogPath: path.join(stateDir, 'log', 'audit.jsonl') },
        supervise: { queueDir, decisionsDir, port: 9100, credentials: b.credentials },
      }),
    );
    gateways.push(await fakeGateway(path.join(stateDir, 'control', 'egress-admin.sock'), b.routes));
    queues.set(b.slug, queueDir);
  }
  let n = 0;
  return {
    env: { ...xdg, BOT_BOTTLE_DOCKER: docker },
    gateways,
    async ask(slug, ask) {
      const id = `req-cli${String(n++).padStart(7, '0')}`;
      await writeRequest(queues.get(slug)!, { id, time: new Date(Date.now() - 5000).toISOString(), host: 'x.example.com', reason: 'test', ...ask } as RequestRecord);
      return id;
    },
    async plant(slug, id, text) {
      await writeFile(path.join(queues.get(slug)!, `${id}.json`), text);
    },
  };
}

let open: World[] = [];
test.after.each(async () => {
  for (const w of open) for (const g of w.gateways) await g.close();
  open = [];
});
test.after(cleanupTempDirs);

async function make(bottles: BottleSpec[]): Promise<World> {
  const w = await world(bottles);
  open.push(w);
  return w;
}

const GITHUB_ROUTE: EgressRoute = { host: 'api.github.com', auth: { header: 'authorization', env: 'GITHUB_TOKEN', format: 'Bearer {value}' } };

type Listed = {
  id: string;
  host: string;
  hostUnicode: string | null;
  auth: unknown;
  route: unknown;
  reason: string;
  paths: string[] | null;
  credential: { newDestination: boolean; allowed: boolean; sentTo: string[] } | null;
  warnings: string[];
};

test('list, --json and approve show every field of the route, auth.format included, and a credential going somewhere new', async () => {
  const w = await make([{ slug: 'demo-abc12', credentials: ['GITHUB_TOKEN'], routes: [GITHUB_ROUTE] }]);
  // The format becomes the header's value: text in it goes to the host with the token.
  const auth = { header: 'authorization', env: 'GITHUB_TOKEN', format: 'token {value} sent-on-behalf-of-the-agent' };
  const id = await w.ask('demo-abc12', { host: 'uploads.github.com', methods: ['POST'], paths: ['/repos/'], auth, reason: 'upload the release asset' });
  const same = await w.ask('demo-abc12', { host: 'api.github.com', auth: { header: 'authorization', env: 'GITHUB_TOKEN' }, reason: 'read the issues' });

  const list = await bottle(['supervise', 'list'], { env: w.env });
  assert.is(list.exitCode, 0, list.stderr);
  const block = list.stdout.slice(list.stdout.indexOf(id), list.stdout.indexOf(same));
  for (const line of [
    `${id}  demo-abc12  uploads.github.com  POST /repos/  5s ago`,
    '    reason: upload the release asset',
    '      host:           uploads.github.com',
    '      methods:        POST',
    '      paths:          "/repos/"',
    '      schemes:        https (default)',
    '      ports:          443 (default)',
    '      to:             - (the gateway connects to the host itself)',
    '      auth.header:    authorization',
    '      auth.env:       GITHUB_TOKEN',
    '      auth.format:    "token {value} sent-on-behalf-of-the-agent" (the header\'s value; {value} is $GITHUB_TOKEN)',
    '      auth.cleartext: false (default: never over plain http)',
    '    NEW: GITHUB_TOKEN would be sent to uploads.github.com, which no current route sends it to (today it goes only to api.github.com)',
  ]) {
    assert.ok(block.split('\n').includes(line), `missing line:\n${line}\nin:\n${block}`);
  }
  assert.match(block, /credential: the gateway will set header authorization from \$GITHUB_TOKEN of the host's environment on every request to uploads\.github\.com, as "token \{value\} sent-on-behalf-of-the-agent"/);
  // Control: a route already sends GITHUB_TOKEN to api.github.com; nothing new there.
  const sameBlock = list.stdout.slice(list.stdout.indexOf(same));
  assert.not.match(sameBlock, /NEW:/);
  assert.match(sameBlock, /auth\.format: +- \(the header's value is \$GITHUB_TOKEN alone\)/);

  const json = await bottle(['supervise', 'list', '--json'], { env: w.env });
  assert.is(json.exitCode, 0, json.stderr);
  const listed = JSON.parse(json.stdout) as Listed[];
  const mine = listed.find((p) => p.id === id)!;
  assert.equal(mine.auth, auth);
  assert.equal(mine.route, { host: 'uploads.github.com', methods: ['POST'], paths: ['/repos/'], auth });
  assert.equal([mine.credential?.allowed, mine.credential?.newDestination, mine.credential?.sentTo], [true, true, ['api.github.com']]);
  assert.equal(mine.warnings, ['NEW: GITHUB_TOKEN would be sent to uploads.github.com, which no current route sends it to (today it goes only to api.github.com)']);
  assert.equal(listed.find((p) => p.id === same)!.warnings, []);

  const approved = await bottle(['supervise', 'approve', id], { env: w.env });
  assert.is(approved.exitCode, 0, approved.stderr);
  assert.match(approved.stdout, `approved ${id}: demo-abc12 may now reach uploads.github.com (POST /repos/), in force now`);
  assert.match(approved.stdout, '    auth.format:    "token {value} sent-on-behalf-of-the-agent"');
  assert.match(approved.stdout, '  NEW: GITHUB_TOKEN is now sent to uploads.github.com, which no route sent it to before (today it goes only to api.github.com)');
  // The gateway got exactly the route shown, format and all; it holds the value already (no secret sent).
  assert.equal(w.gateways[0]!.puts, [{ routes: [GITHUB_ROUTE, { host: 'uploads.github.com', methods: ['POST'], paths: ['/repos/'], auth }] }]);

  const asJson = await bottle(['supervise', 'approve', same, '--json'], { env: w.env });
  assert.is(asJson.exitCode, 0, asJson.stderr);
  const doc = JSON.parse(asJson.stdout) as { route: EgressRoute; credential: { newDestination: boolean }; warnings: string[] };
  assert.equal(doc.route, { host: 'api.github.com', auth: { header: 'authorization', env: 'GITHUB_TOKEN' } });
  assert.equal([doc.credential.newDestination, doc.warnings], [false, []]);
});

test('a request for a credential the manifest does not name: marked in list, refused by approve (also with the value in the shell), and "supervise": true names none', async () => {
  const w = await make([
    { slug: 'demo-abc12', credentials: ['GITHUB_TOKEN'], routes: [GITHUB_ROUTE] },
    { slug: 'plain-xyz89', credentials: [], routes: [] },
  ]);
  // Planted as a bundle that no longer refuses them could: the host checks again.
  const aws = await w.ask('demo-abc12', { host: 'collect.evil.example', auth: { header: 'authorization', env: 'AWS_SECRET_ACCESS_KEY' }, reason: 'sync' });
  const none = await w.ask('plain-xyz89', { host: 'api.github.com', auth: { header: 'authorization', env: 'GITHUB_TOKEN' }, reason: 'read' });

  const list = await bottle(['supervise', 'list'], { env: w.env });
  assert.match(list.stdout, "    NOT ALLOWED: $AWS_SECRET_ACCESS_KEY is not a credential this bottle may ask for; its manifest's \"supervise\": {\"credentials\": [...]} allows only GITHUB_TOKEN; `bottle supervise approve` refuses it");
  assert.match(list.stdout, '    NOT ALLOWED: this bottle may not ask for any credential (its manifest\'s "supervise" names none), so not for $GITHUB_TOKEN');
  const listed = JSON.parse((await bottle(['supervise', 'list', '--json'], { env: w.env })).stdout) as Listed[];
  assert.equal(listed.find((p) => p.id === aws)!.credential?.allowed, false);

  const shell = { AWS_SECRET_ACCESS_KEY: 'aws-value-in-the-shell-0123456789', GITHUB_TOKEN: 'ghp_value_in_the_shell_0123456789' };
  for (const [id, env, said] of [
    [aws, 'AWS_SECRET_ACCESS_KEY', /allows only GITHUB_TOKEN/],
    [none, 'GITHUB_TOKEN', /this bottle may not ask for any credential/],
  ] as const) {
    const r = await bottle(['supervise', 'approve', id], { env: { ...w.env, ...shell } });
    assert.is(r.exitCode, 2, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`^Error: request ${id} of \\S+ asks for \\$${env}, which this bottle may not ask for; nothing was changed\\n`));
    assert.match(r.stderr, said);
    assert.match(r.stderr, `Fix: Deny it: bottle supervise deny ${id}.`);
    assert.not.ok(hasStack(r.stderr));
    const j = await bottle(['supervise', 'approve', id, '--json'], { env: { ...w.env, ...shell } });
    assert.is(j.exitCode, 2);
    assert.is(JSON.parse(j.stdout).error.code, 'USAGE');
  }
  assert.equal(w.gateways.map((g) => g.puts), [[], []], 'no gateway was touched, no value sent');
});

test('every class of invisible character in a request is escaped in list and in --json', async () => {
  const w = await make([{ slug: 'demo-abc12', credentials: [], routes: [] }]);
  const id = await w.ask('demo-abc12', { host: 'docs.example.com', paths: [`/p${ALL_HIDDEN}`], reason: `r${ALL_HIDDEN}` });
  const list = await bottle(['supervise', 'list'], { env: w.env });
  assert.is(list.exitCode, 0, list.stderr);
  assert.not.match(list.stdout.replace(/\n/g, ''), RAW_HIDDEN, 'nothing hidden reaches the terminal');
  assert.ok(list.stdout.includes(`    reason: r${ALL_HIDDEN_SHOWN}\n`), list.stdout);
  assert.ok(list.stdout.includes(`paths:   "/p${ALL_HIDDEN_SHOWN}"`), list.stdout);
  for (const [name, , shown] of HIDDEN_SAMPLES) assert.ok(list.stdout.includes(`<${shown}>`), name);

  const json = await bottle(['supervise', 'list', '--json'], { env: w.env });
  assert.not.match(json.stdout.replace(/\n/g, ''), RAW_HIDDEN, 'JSON.stringify would leave U+2028, bidi marks, tags... raw');
  assert.match(json.stdout, /\\u2028/);
  const listed = JSON.parse(json.stdout) as Listed[];
  assert.equal([listed[0]!.id, listed[0]!.reason, listed[0]!.paths], [id, `r${ALL_HIDDEN}`, [`/p${ALL_HIDDEN}`]], 'the JSON holds the text as it was');
});

test('an internationalized host is shown in both forms, and flagged when it mixes scripts; plain ASCII is shown as it is', async () => {
  const w = await make([{ slug: 'demo-abc12', credentials: [], routes: [] }]);
  const idn = await w.ask('demo-abc12', { host: 'xn--pple-43d.com', reason: 'download the SDK' });
  const plain = await w.ask('demo-abc12', { host: 'registry.npmjs.org', methods: ['GET'], reason: 'install the test dependencies' });
  const list = await bottle(['supervise', 'list'], { env: w.env });
  assert.match(list.stdout, `${idn}  demo-abc12  xn--pple-43d.com (Unicode: аpple.com)  any method any path  5s ago\n`);
  assert.match(list.stdout, /\n {6}host: +xn--pple-43d\.com \(Unicode: аpple\.com\)\n/);
  assert.match(list.stdout, '    NOTE: host xn--pple-43d.com (Unicode: аpple.com): the label "аpple" mixes Cyrillic and Latin letters: it may be made to look like another name\n');
  const listed = JSON.parse((await bottle(['supervise', 'list', '--json'], { env: w.env })).stdout) as Listed[];
  const i = listed.find((p) => p.id === idn)!;
  assert.equal([i.host, i.hostUnicode], ['xn--pple-43d.com', 'аpple.com']);
  assert.match(i.warnings.join('\n'), /mixes Cyrillic and Latin/);
  // Control: plain ASCII, unchanged and unflagged.
  const block = list.stdout.slice(list.stdout.indexOf(plain)).split('\n');
  assert.equal(block.slice(0, 3), [`${plain}  demo-abc12  registry.npmjs.org  GET any path  5s ago`, '    reason: install the test dependencies', '    route on approval:']);
  assert.not.ok(block.some((l) => /NOTE|NEW|NOT ALLOWED|\\u\{/.test(l)), block.join('\n'));
  const p = listed.find((x) => x.id === plain)!;
  assert.equal([p.host, p.hostUnicode, p.reason, p.warnings], ['registry.npmjs.org', null, 'install the test dependencies', []]);
});

test('a planted queue file naming a hostile host: the note of list and the error of approve are escaped', async () => {
  const w = await make([{ slug: 'demo-abc12', credentials: [], routes: [] }]);
  const host = 'evil\u001b]0;owned\u0007\u202e.example';
  await w.plant('demo-abc12', 'req-planted000', JSON.stringify({ id: 'req-planted000', time: new Date().toISOString(), host, reason: 'x' }));
  const list = await bottle(['supervise', 'list'], { env: w.env });
  assert.match(list.stderr, 'ignored a file in the queue of demo-abc12: req-planted000.json: not a valid request');
  assert.not.match(list.stderr.replace(/\n/g, ''), RAW_HIDDEN);
  assert.match(list.stderr, 'evil\\u{001B}]0;owned\\u{0007}\\u{202E}.example');
  const approve = await bottle(['supervise', 'approve', 'req-planted000'], { env: w.env });
  assert.is(approve.exitCode, 1);
  assert.match(approve.stderr, /^Error: request req-planted000 of demo-abc12 cannot be trusted/);
  assert.not.match(approve.stderr.replace(/\n/g, ''), RAW_HIDDEN);
  assert.match(approve.stderr, 'evil\\u{001B}]0;owned\\u{0007}\\u{202E}.example');
});

test.run();
