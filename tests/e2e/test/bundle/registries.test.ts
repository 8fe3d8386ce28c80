/**
 * Package registries without opening the internet, for pip, cargo and go (npm: presets.test.ts). A
 * bottle runs a user image built here FROM the local Debian base with Debian's python3-pip and
 * python3-venv, cargo-web (Debian bookworm's `cargo` is 1.65, which has no sparse protocol; cargo-web
 * is Debian's 1.96 build, installed as /usr/bin/cargo) and golang-go (1.19); curl for the requests a client would not make. Each client runs with no
 * configuration of its own: only the bottle's environment (the proxy variables, PIP_CERT and the system
 * bundle the ca provisioner fills). Each preset's `to` sends its hosts to the test upstream, which
 * answers as the registry (fixtures/upstream.cjs) from files made by fixtures/registry-files.py:
 * - pypi: pip installs a wheel from a PEP 503 simple index (pypi.org/simple/, files.pythonhosted.org/packages/);
 * - crates: cargo builds a project depending on one crate from the sparse index (index.crates.io:
 *   config.json, bb/te/bbtest-crate; static.crates.io/crates/NAME/VERSION/download);
 * - go: `go mod download` through the module proxy protocol (proxy.golang.org: .mod, .zip). The
 *   project's go.sum carries the module's hashes, so go asks sum.golang.org nothing (asserted), and
 *   GOSUMDB, GOFLAGS and GONOSUMDB are left as they are.
 * For each: the install's audit lines are `allow` on the preset's hosts, a publish-shaped request is
 * refused with its audit line and never reaches the upstream, and a host outside the preset is refused.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EnsuredImages } from '@bot-bottle/backend-docker';
import { RUN_ID, RUN_LABEL_KEY, TEST_LABEL, auditEntry, docker, dockerOk, inBottle, launchBottle, startWorld, testImages, type AuditRecord, type TestBottle, type World } from './helpers.js';

const test = suite('pip, cargo and go through their presets in a real bottle');
const FIXTURES = path.join(import.meta.dirname, 'fixtures');
const RUN_LABEL = `${RUN_LABEL_KEY}=${RUN_ID}`;
const IMAGE = `bbtest-registries:${RUN_ID}`;
/** Debian's packages, by apt at build time (the engine's network through NAT, http to the mirror). */
const DOCKERFILE = `ARG BASE
FROM \${BASE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-pip python3-venv cargo-web golang-go curl \\
 && rm -rf /var/lib/apt/lists/*
`;

type Preset = 'pypi' | 'crates' | 'go';
const ctx: { world?: World; imageId?: string; bottles: Partial<Record<Preset, Promise<TestBottle>>>; goSum?: string } = { bottles: {} };

/** Builds the user image (once per process), labelled with this run so it is removed after. */
async function buildImage(): Promise<void> {
  const base = ((await testImages()) as EnsuredImages).choice.base;
  const dir = await mkdtemp(path.join(tmpdir(), 'bbtest-regimg-'));
  try {
    await writeFile(path.join(dir, 'Dockerfile'), DOCKERFILE);
    process.stderr.write(`  building ${IMAGE} FROM ${base}\n`);
    const r = await docker(['build', '--label', TEST_LABEL, '--label', RUN_LABEL, '--build-arg', `BASE=${base}`, '-t', IMAGE, dir], { timeoutMs: 20 * 60_000 });
    if (r.exitCode !== 0) throw new Error(`building ${IMAGE} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  ctx.imageId = (await dockerOk(['image', 'inspect', '--format', '{{.Id}}', IMAGE], 'inspect')).trim();
}

/** A bottle on the image with one preset, sent to the test upstream. */
function bottle(preset: Preset): Promise<TestBottle> {
  const w = ctx.world!;
  ctx.bottles[preset] ??= launchBottle(w, {
    bottles: { dev: { image: IMAGE, egress: { presets: [{ name: preset, to: w.upstream.url }] } } },
    agents: { demo: { bottle: 'dev', provisioners: [] } },
  }, {});
  return ctx.bottles[preset];
}

/** Writes `files` (path relative to the workspace → text) into the bottle as the agent user. */
async function put(b: TestBottle, dir: string, files: Record<string, string>): Promise<void> {
  const script = Object.entries(files)
    .map(([f, t]) => `mkdir -p "$(dirname '${dir}/${f}')" && echo ${Buffer.from(t).toString('base64')} | base64 -d > '${dir}/${f}'`)
    .join(' && ');
  const r = await inBottle(b, script);
  assert.is(r.exitCode, 0, r.stderr);
}

/** The audit line of a request, and a check that it was allowed on `host` and answered 200. */
async function allowed(b: TestBottle, host: string, method: string, p: string): Promise<void> {
  const e = await auditEntry(b, (x) => x.host === host && x.method === method && x.path === p);
  assert.equal([e.decision, e.host, e.method, e.status], ['allow', host, method, 200], JSON.stringify(e));
}

/** A CONNECT to `host` from the bottle: refused by the gateway (no tunnel), with its deny line. */
async function refusedHost(b: TestBottle, host: string): Promise<AuditRecord> {
  const r = await inBottle(b, `curl -sS -o /dev/null -w '%{http_code}' https://${host}/ 2>&1; echo " exit=$?"`);
  assert.match(r.stdout, /exit=(56|35)|^000/, `${host}: ${r.stdout}`);
  const e = await auditEntry(b, (x) => x.method === 'CONNECT' && x.host === host);
  assert.is(e.decision, 'deny', JSON.stringify(e));
  return e;
}

/** The audit log's refusals so far. */
const denied = async (b: TestBottle) => (await b.audit()).filter((x) => x.decision !== 'allow');
const upstreamSaw = async (method: string) => (await ctx.world!.upstream.requests()).filter((q) => q.method === method);

test.before(async () => {
  ctx.world = await startWorld();
  await buildImage();
  // The registries' files, made in the image itself with no network (Python's standard library).
  const srv = path.join(ctx.world.dir, 'srv');
  await dockerOk(['run', '--rm', '--network', 'none', '--label', TEST_LABEL, '--label', RUN_LABEL, '-v', `${srv}:/out`, '-v', `${FIXTURES}:/fx:ro`, IMAGE, 'python3', '/fx/registry-files.py', '/out'], 'making the registry files');
  execFileSync('chmod', ['-R', 'a+rX', srv]);
  ctx.goSum = await readFile(path.join(srv, 'go.sum'), 'utf8');
});

test.after(async () => {
  for (const p of Object.values(ctx.bottles)) await (await p.catch(() => undefined))?.bottle.destroy().catch(() => undefined);
  await ctx.world?.cleanup();
  // The agent layer bot-bottle put on the image (labelled with the user image it was made from), then the image.
  if (ctx.imageId) {
    const layered = (await docker(['images', '-q', '--filter', `label=bot-bottle.layer-of=${ctx.imageId}`])).stdout.split('\n').filter(Boolean);
    if (layered.length) await docker(['rmi', '-f', ...new Set(layered)]);
  }
  await docker(['rmi', '-f', IMAGE]);
});

// --- pip ---------------------------------------------------------------------------------------

test('pypi preset: pip installs a wheel from the simple index (its stand-in) through the gateway, with no pip configuration', async () => {
  const b = await bottle('pypi');
  const r = await inBottle(b, 'cd /home/node/workspace && python3 -m venv .venv && echo "config: [$(.venv/bin/pip config list)]" && .venv/bin/pip install bbtest-pkg 2>&1 && .venv/bin/python -c "import bbtest_pkg; print(bbtest_pkg.GREETING)"', 180_000);
  assert.is(r.exitCode, 0, `pip install failed:\n${r.stdout}\n${r.stderr}`);
  // pip's only setting is the bottle's PIP_CERT (from the plan's guest env): no pip.conf, no pip flags.
  assert.match(r.stdout, "config: [:env:.cert='/etc/ssl/certs/ca-certificates.crt']", 'pip has no configuration of its own');
  assert.match(r.stdout, 'Successfully installed bbtest-pkg-1.0.0');
  assert.match(r.stdout, 'hello from bbtest-pkg');
  await allowed(b, 'pypi.org', 'GET', '/simple/bbtest-pkg/');
  await allowed(b, 'files.pythonhosted.org', 'GET', '/packages/bbtest-pkg/bbtest_pkg-1.0.0-py3-none-any.whl');
  assert.equal(await denied(b), [], 'pip asked nothing outside the preset');
});

test('pypi preset: an upload as twine makes it (POST to upload.pypi.org/legacy/) is refused, and so is a POST to pypi.org', async () => {
  const b = await bottle('pypi');
  const whl = '/home/node/workspace/bbtest_pkg-1.0.0-py3-none-any.whl';
  await inBottle(b, `echo wheel > ${whl}`);
  const form = `-X POST -F ':action=file_upload' -F name=bbtest-pkg -F version=1.0.0 -F content=@${whl}`;
  const up = await inBottle(b, `curl -sS -o /dev/null -w '%{http_code}' ${form} https://upload.pypi.org/legacy/ 2>&1; echo " exit=$?"`);
  assert.match(up.stdout, /exit=(56|35)|^000/, up.stdout);
  const e = await auditEntry(b, (x) => x.method === 'CONNECT' && x.host === 'upload.pypi.org');
  assert.is(e.decision, 'deny');
  const r = await inBottle(b, `curl -sS -o /dev/null -w '%{http_code}' ${form} https://pypi.org/legacy/`);
  assert.is(r.stdout, '403', r.stderr);
  const post = await auditEntry(b, (x) => x.method === 'POST' && x.host === 'pypi.org');
  assert.is(post.decision, 'deny');
  assert.match(post.reason ?? '', /allows methods GET, HEAD only/);
  assert.equal(await upstreamSaw('POST'), [], 'the registry saw no upload');
});

test('pypi preset: hosts outside the preset are refused', async () => {
  const b = await bottle('pypi');
  for (const host of ['index.crates.io', 'proxy.golang.org', 'registry.npmjs.org']) await refusedHost(b, host);
});

// --- cargo -------------------------------------------------------------------------------------

test('crates preset: cargo builds a project depending on a crate from the sparse index (its stand-in), with no cargo configuration', async () => {
  const b = await bottle('crates');
  await put(b, '/home/node/workspace/app', {
    'Cargo.toml': '[package]\nname = "bbtest-app"\nversion = "0.1.0"\nedition = "2021"\ndescription = "a test app"\nlicense = "MIT"\n\n[dependencies]\nbbtest-crate = "0.1.0"\n',
    'src/main.rs': 'fn main() {\n    println!("{}", bbtest_crate::greeting());\n}\n',
  });
  const r = await inBottle(b, 'ls -A ~/.cargo 2>/dev/null | grep -x "config\\|config.toml\\|credentials\\|credentials.toml" && exit 9; cd /home/node/workspace/app && cargo fetch 2>&1 && cargo build 2>&1 && ./target/debug/bbtest-app', 300_000);
  assert.is(r.exitCode, 0, `cargo failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /Downloaded bbtest-crate v0\.1\.0/);
  assert.match(r.stdout, /hello from bbtest-crate\n?$/);
  await allowed(b, 'index.crates.io', 'GET', '/config.json');
  await allowed(b, 'index.crates.io', 'GET', '/bb/te/bbtest-crate');
  await allowed(b, 'static.crates.io', 'GET', '/crates/bbtest-crate/0.1.0/download');
  assert.equal(await denied(b), [], 'cargo asked nothing outside the preset');
});

test('crates preset: `cargo publish` (its PUT to crates.io\'s API) is refused, and a PUT to the index too', async () => {
  const b = await bottle('crates');
  const r = await inBottle(b, 'cd /home/node/workspace/app && cargo publish --no-verify --allow-dirty --token bbtest-not-a-token 2>&1; echo "exit=$?"', 300_000);
  // cargo packages the crate, reads the api URL from the index's config.json, and its upload is refused.
  assert.match(r.stdout, /Uploading bbtest-app v0\.1\.0[^]*failed to publish bbtest-app v0\.1\.0 to registry at https:\/\/crates\.io[^]*exit=[1-9]/, r.stdout);
  const e = await auditEntry(b, (x) => x.method === 'CONNECT' && x.host === 'crates.io');
  assert.equal([e.decision, e.reason], ['deny', 'no egress route allows host crates.io'], JSON.stringify(e));
  const write = await inBottle(b, `curl -sS -o /dev/null -w '%{http_code}' -X PUT --data-binary x https://index.crates.io/bb/te/bbtest-crate`);
  assert.is(write.stdout, '403', write.stderr);
  const d = await auditEntry(b, (x) => x.method === 'PUT' && x.host === 'index.crates.io');
  assert.is(d.decision, 'deny');
  assert.match(d.reason ?? '', /allows methods GET, HEAD only/);
  assert.equal(await upstreamSaw('PUT'), [], 'the registry saw no publish');
});

test('crates preset: hosts outside the preset are refused (crates.io itself, the git index on github.com)', async () => {
  const b = await bottle('crates');
  for (const host of ['github.com', 'pypi.org', 'proxy.golang.org']) await refusedHost(b, host);
});

// --- go ----------------------------------------------------------------------------------------

test('go preset: go mod download fetches a module through the module proxy (its stand-in), checked against go.sum, with no go configuration', async () => {
  const b = await bottle('go');
  await put(b, '/home/node/workspace/goapp', {
    'go.mod': 'module bbtest.invalid/app\n\ngo 1.19\n\nrequire bbtest.invalid/hello v0.1.0\n',
    'go.sum': ctx.goSum!,
    'main.go': 'package main\n\nimport (\n\t"fmt"\n\n\t"bbtest.invalid/hello"\n)\n\nfunc main() { fmt.Println(hello.Greeting()) }\n',
  });
  const env = await inBottle(b, 'go env GOPROXY GOSUMDB GOFLAGS GONOSUMDB GOPRIVATE GOINSECURE');
  assert.equal(env.stdout.split('\n').slice(0, 6), ['https://proxy.golang.org,direct', 'sum.golang.org', '', '', '', ''], 'go\'s defaults, untouched');
  const r = await inBottle(b, 'cd /home/node/workspace/goapp && go mod download -x 2>&1 && go run .', 300_000);
  assert.is(r.exitCode, 0, `go failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /hello from bbtest\.invalid\/hello\n?$/);
  await allowed(b, 'proxy.golang.org', 'GET', '/bbtest.invalid/hello/@v/v0.1.0.mod');
  await allowed(b, 'proxy.golang.org', 'GET', '/bbtest.invalid/hello/@v/v0.1.0.zip');
  const sumdb = (await b.audit()).filter((x) => x.host === 'sum.golang.org');
  assert.equal(sumdb, [], 'go.sum had the hashes: the checksum database was not asked');
  assert.equal(await denied(b), [], 'go asked nothing outside the preset');
});

test('go preset: a write to the proxy is refused; a module the proxy lacks falls back to "direct", which is refused', async () => {
  const b = await bottle('go');
  const write = await inBottle(b, `curl -sS -o /dev/null -w '%{http_code}' -X PUT --data-binary x https://proxy.golang.org/bbtest.invalid/hello/@v/v0.2.0.zip`);
  assert.is(write.stdout, '403', write.stderr);
  const d = await auditEntry(b, (x) => x.method === 'PUT' && x.host === 'proxy.golang.org');
  assert.is(d.decision, 'deny');
  assert.match(d.reason ?? '', /allows methods GET, HEAD only/);
  assert.equal(await upstreamSaw('PUT'), [], 'the proxy saw no write');
  // The proxy answers 404 for a module it lacks; go then tries the module's origin, outside the preset.
  await put(b, '/home/node/workspace/gomissing', { 'go.mod': 'module bbtest.invalid/other\n\ngo 1.19\n' });
  const r = await inBottle(b, 'cd /home/node/workspace/gomissing && go mod download bbtest.invalid/missing@v0.1.0 2>&1; echo "exit=$?"', 120_000);
  assert.match(r.stdout, /exit=1/, r.stdout);
  await auditEntry(b, (x) => x.host === 'proxy.golang.org' && x.path === '/bbtest.invalid/missing/@v/v0.1.0.info' && x.status === 404);
  const e = await auditEntry(b, (x) => x.method === 'CONNECT' && x.host === 'bbtest.invalid');
  assert.is(e.decision, 'deny');
});

test('go preset: hosts outside the preset are refused', async () => {
  const b = await bottle('go');
  for (const host of ['pypi.org', 'index.crates.io', 'goproxy.io']) await refusedHost(b, host);
});

test.run();
