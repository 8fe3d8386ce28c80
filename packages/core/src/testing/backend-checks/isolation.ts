/**
 * Probes from inside the provisioned bottle. Every destination is one the checks serve themselves
 * (the host upstreams on 0.0.0.0), so a broken guard sends nothing off this machine; the control for
 * each is that the bundle does reach it. Probes that need the engine (a decoy container on an
 * engine network, the engine's socket) belong to the backend's own suite.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import type { LaunchedBottle } from '../../backend.js';
import type { BackendCheck } from './index.js';
import { ALLOWED_HOST, provisioned } from './provisioned.js';
import { audit, auditEntry, leftovers, minimalPlan, sh, shOk, type World } from './world.js';

/** Node run in the bottle: tries each host:port and prints JSON {target: "open" | error code}. */
const PROBE = `
const net = require('net');
const targets = JSON.parse(process.argv[1]);
Promise.all(targets.map((t) => new Promise((res) => {
  const [host, port] = [t.slice(0, t.lastIndexOf(':')), Number(t.slice(t.lastIndexOf(':') + 1))];
  const s = net.connect({ host, port, timeout: 3000 });
  s.on('connect', () => { s.destroy(); res([t, 'open']); });
  s.on('timeout', () => { s.destroy(); res([t, 'timeout']); });
  s.on('error', (e) => res([t, e.code || e.message]));
}))).then((r) => console.log(JSON.stringify(Object.fromEntries(r))));
`;

async function probe(bottle: LaunchedBottle, targets: string[]): Promise<Record<string, string>> {
  const r = await bottle.target.exec(['node', '-e', PROBE, JSON.stringify(targets)], { user: 'node', timeoutMs: 60_000 });
  assert.equal(r.exitCode, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, string>;
}

/** Whether this host reaches host:port (the control that a service listens there). */
function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 3000 });
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('timeout', () => (s.destroy(), resolve(false)));
    s.on('error', () => resolve(false));
  });
}

export function isolationChecks(w: () => World): BackendCheck[] {
  const p = () => provisioned(w());
  return [
    {
      name: 'isolation: the bottle has no network interface but loopback, and no route',
      async run() {
        const { bottle } = await p();
        const r = await shOk(bottle.target, 'cat /proc/net/dev; echo ---; cat /proc/net/route');
        const [dev = '', route = ''] = r.split('---');
        const ifaces = dev.split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean);
        assert.deepEqual(ifaces, ['lo']);
        assert.equal(route.trim().split('\n').length, 1, `no routes beyond the header: ${route}`);
      },
    },
    {
      name: 'isolation: host services on 0.0.0.0 are unreachable from the bottle at every address of this host, and with the proxy turned off there is no way out; its bundle reaches them (control)',
      async run() {
        const { bottle } = await p();
        const ports = [w().http.port, w().git.port];
        for (const port of ports) assert.ok(await reachable('127.0.0.1', port), `the control: the host service on port ${port} answers here`);
        const before = w().http.requests().length;
        assert.equal(await shOk(bottle.target, `curl -sS https://${ALLOWED_HOST}/isolation-control`), 'checks upstream GET /isolation-control\n', 'the control: the bundle reaches the host service');
        const targets = [...w().hostAddresses, '127.0.0.1'].flatMap((a) => ports.map((port) => `${a}:${port}`));
        const r = await probe(bottle, targets);
        for (const [t, outcome] of Object.entries(r)) assert.notEqual(outcome, 'open', `${t} must be unreachable from the bottle`);
        const upstream = `${w().hostAddress}:${w().http.port}`;
        const tries = [
          `curl -sS -m 10 --noproxy '*' http://${upstream}/isolation-direct`,
          `NO_PROXY='*' no_proxy='*' curl -sS -m 10 https://${ALLOWED_HOST}/isolation-direct`,
          `env -u HTTPS_PROXY -u https_proxy -u HTTP_PROXY -u http_proxy curl -sS -m 10 http://${upstream}/isolation-direct`,
        ];
        for (const t of tries) {
          const out = await sh(bottle.target, `${t}; echo "exit=$?"`);
          assert.doesNotMatch(out.stdout, /checks upstream/, t);
          assert.match(out.stdout, /exit=(6|7|28)\b/, `${t}: ${out.stdout}${out.stderr}`);
        }
        assert.deepEqual(w().http.requests().slice(before).map((q) => q.url), ['/isolation-control'], 'the upstream saw only the control');
      },
    },
    {
      name: 'isolation: the bottle reaches its own bundle and only its own: another bottle\'s bundle never sees its requests',
      async run() {
        const { bottle: a, plan: planA } = await p();
        const planB = await minimalPlan(w());
        const b = await w().backend.launch(planB, { progress: () => undefined });
        w().launched.push(b);
        try {
          await b.ready;
          const fromA = `${planA.slug}.checks.invalid`;
          const fromB = `${planB.slug}.checks.invalid`;
          assert.match(await shOk(a.target, `curl -sS -m 30 http://${fromA}/`), /refused|no egress route/);
          assert.match(await shOk(b.target, `curl -sS -m 30 http://${fromB}/`), /refused|no egress route/);
          await auditEntry(planA, 'egress', (e) => e.host === fromA);
          await auditEntry(planB, 'egress', (e) => e.host === fromB);
          assert.ok(!(await audit(planB, 'egress')).some((e) => e.host === fromA), 'the other bundle did not see it');
          assert.ok(!(await audit(planA, 'egress')).some((e) => e.host === fromB), 'nor the other way round');
        } finally {
          await b.destroy();
        }
        assert.deepEqual(await leftovers(w(), planB.slug), [], 'destroy leaves nothing');
      },
    },
    {
      name: 'isolation: the agent user cannot become root',
      async run() {
        const { bottle } = await p();
        const r = await sh(bottle.target, 'id -u; su -c id 2>&1 </dev/null; sudo -n id 2>&1; true');
        assert.ok(r.stdout.startsWith('1000\n'), r.stdout);
        assert.doesNotMatch(r.stdout.split('\n').slice(1).join('\n'), /uid=0/);
      },
    },
  ];
}
