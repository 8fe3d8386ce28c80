/**
 * The bottle's forwarder (images/agent/forward.mjs, plain JS baked into the agent image) without
 * docker: it maps the ports the launcher passes (core's BUNDLE_SERVICES table, `PORT=SOCKET` each)
 * onto the sockets in its socket folder, refuses arguments that are not that, and its defaults for
 * a bottle started by hand are the table. Everything here listens on loopback or in a temp folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BUNDLE_READY_MARKER, BUNDLE_SERVICES } from '@bot-bottle/core';
import { cleanupTempDirs, tempDir } from '@bot-bottle/core/testing';
import { AGENT_ENDPOINTS, forwarderArgs } from '@bot-bottle/backend-kit/names';

const FORWARD = fileURLToPath(new URL('../images/agent/forward.mjs', import.meta.url));

const test = suite('forwarder');
const children: ChildProcess[] = [];
test.after.each(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await cleanupTempDirs();
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

function run(args: string[], env: Record<string, string> = {}): { child: ChildProcess; exited: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [FORWARD, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return { child, exited: new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr }))) };
}

/** Sends `text` to 127.0.0.1:port (without closing its side) and returns what comes back before the other side closes. */
async function roundTrip(port: number, text: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => s.write(text));
        let got = '';
        s.on('data', (d) => (got += d));
        s.on('close', () => resolve(got));
        s.on('error', reject);
      });
    } catch (e) {
      // The forwarder may not listen yet.
      if ((e as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || attempt > 100) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

test('the launcher passes the table, PORT=SOCKET per service', () => {
  assert.equal(forwarderArgs(), Object.values(BUNDLE_SERVICES).map((s) => `${s.port}=${s.socket}`));
  assert.equal(forwarderArgs(), ['3128=egress.sock', '9418=git.sock', '9100=supervise.sock']);
  assert.is(AGENT_ENDPOINTS.proxyUrl, `http://127.0.0.1:${BUNDLE_SERVICES.egress.port}`);
});

test("the script's defaults (a bottle started without arguments) and its ready marker are the table's", () => {
  const source = readFileSync(FORWARD, 'utf8');
  const defaults = /const DEFAULT_MAP = (\{[^}]*\});/.exec(source)?.[1];
  assert.ok(defaults, 'DEFAULT_MAP found');
  const map = Function(`return (${defaults});`)() as Record<string, string>;
  assert.equal(map, Object.fromEntries(Object.values(BUNDLE_SERVICES).map((s) => [String(s.port), s.socket])));
  assert.ok(source.includes(`\${dir}/${BUNDLE_READY_MARKER}\``), 'waits for the bundle ready marker by its name');
});

test('a port given as PORT=SOCKET reaches that socket in the socket folder; a port not given is not opened', async () => {
  const dir = await tempDir('bottle-fwd-');
  const server = net.createServer((c) => c.on('data', (d) => c.end(`echo:${d}`))).listen(path.join(dir, 'egress.sock'));
  await new Promise((r) => server.once('listening', r));
  writeFileSync(path.join(dir, BUNDLE_READY_MARKER), 'x');
  const [port, unused] = [await freePort(), await freePort()];
  try {
    run([`${port}=egress.sock`], { BOT_BOTTLE_SOCKET_DIR: dir });
    assert.is(await roundTrip(port, 'hello'), 'echo:hello');
    const refused = await new Promise<string>((resolve) => net.connect(unused, '127.0.0.1').on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')).on('connect', () => resolve('connected')));
    assert.is(refused, 'ECONNREFUSED');
  } finally {
    server.close();
  }
});

test('arguments that are not PORT=NAME.sock stop it at once, exit 2, naming the argument', async () => {
  for (const bad of ['3128', '3128=../etc/passwd', '3128=/run/x.sock', '0=egress.sock', '70000=egress.sock', 'x=egress.sock', '3128=egress']) {
    const { code, stderr } = await run([bad]).exited;
    assert.is(code, 2, bad);
    assert.match(stderr, `"${bad}" is not PORT=NAME.sock`);
  }
  const { code, stderr } = await run(['3128=egress.sock', '3128=git.sock']).exited;
  assert.is(code, 2, 'one socket per port');
  assert.match(stderr, '"3128=git.sock"');
});

test.run();
