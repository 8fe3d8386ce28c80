/**
 * Egress from the provisioned bottle: its one way out is its bundle's gateway, which lets an
 * allowed route reach the checks' host upstream with the credential injected, refuses anything
 * else with a line in the audit log, and leaves the bottle nothing but a placeholder: the secret
 * canary is searched for everywhere in the bottle, after the control shows the search finds things.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { SECRET_PLACEHOLDER } from '../../plan.js';
import type { BackendCheck } from './index.js';
import { ALLOWED_HOST, provisioned } from './provisioned.js';
import { SECRET_ENV, auditEntry, sh, shOk, type World } from './world.js';

const REFUSED_HOST = 'refused.checks.invalid';

export function egressChecks(w: () => World): BackendCheck[] {
  const p = () => provisioned(w());
  return [
    {
      name: 'egress: an allowed route reaches the host upstream with the injected credential; the bottle holds only the placeholder; an allow line in the audit log',
      async run() {
        const { bottle, plan } = await p();
        assert.equal(await shOk(bottle.target, `printf %s "$${SECRET_ENV}"`), SECRET_PLACEHOLDER);
        assert.equal(await shOk(bottle.target, `curl -sS https://${ALLOWED_HOST}/echo?case=allow`), 'checks upstream GET /echo?case=allow\n');
        const got = w().http.requests().find((r) => r.url === '/echo?case=allow');
        assert.ok(got, 'the host upstream saw the request');
        assert.equal(got.headers.authorization, `Bearer ${w().secret}`, 'the gateway injected the credential');
        const e = await auditEntry(plan, 'egress', (x) => x.path === '/echo?case=allow');
        assert.deepEqual([e.decision, e.method, e.host, e.status, e.rule, e.reason, e.upstream], ['allow', 'GET', ALLOWED_HOST, 200, `routes[0] ${ALLOWED_HOST}`, null, plan.egress.routes[0]!.to]);
      },
    },
    {
      name: 'egress: a host no route allows is refused at CONNECT, saying how to allow it, with a deny line in the audit log; plain http too',
      async run() {
        const { bottle, plan } = await p();
        const before = w().http.requests().length;
        const r = await sh(bottle.target, `curl -sS -w "\\n%{http_connect}" https://${REFUSED_HOST}/x; echo " exit=$?"`);
        assert.match(r.stdout, /\n403 exit=56/, r.stdout + r.stderr);
        const raw = await bottle.target.exec(['node', '-e', `const u=new URL(process.env.HTTPS_PROXY);const s=require('net').connect(Number(u.port),u.hostname,()=>s.write('CONNECT ${REFUSED_HOST}:443 HTTP/1.1\\r\\nHost: ${REFUSED_HOST}:443\\r\\n\\r\\n'));let t='';s.on('data',d=>t+=d);s.on('close',()=>console.log(t))`], { user: 'node', timeoutMs: 60_000 });
        assert.match(raw.stdout, /^HTTP\/1\.1 403/, raw.stdout + raw.stderr);
        assert.ok(raw.stdout.includes(`no egress route allows host ${REFUSED_HOST}`), raw.stdout);
        assert.ok(raw.stdout.includes(`"egress": { "routes": [ { "host": "${REFUSED_HOST}" } ] }`), raw.stdout);
        const e = await auditEntry(plan, 'egress', (x) => x.host === REFUSED_HOST);
        assert.deepEqual([e.decision, e.method, e.path, e.status, e.rule], ['deny', 'CONNECT', `${REFUSED_HOST}:443`, 403, null]);
        assert.ok(String(e.reason).includes(`no egress route allows host ${REFUSED_HOST}`), e.reason);
        const plain = await shOk(bottle.target, `curl -sS -o /dev/null -w "%{http_code}" http://plain-${REFUSED_HOST}/y`);
        assert.equal(plain, '403');
        await auditEntry(plan, 'egress', (x) => x.host === `plain-${REFUSED_HOST}` && x.decision === 'deny' && x.status === 403);
        assert.equal(w().http.requests().length, before, 'nothing reached the upstream');
      },
    },
    {
      name: 'secret canary: the injected value is nowhere in the bottle (its image\'s files and all others, env as node and root, every process\'s environ and cmdline, the engine\'s description of it), nor the CA key; each search finds its control',
      async run() {
        const { bottle, plan } = await p();
        const secret = w().secret;
        // The canary did leave, through the gateway: the searches below look for something that exists.
        await shOk(bottle.target, `curl -sS https://${ALLOWED_HOST}/canary`);
        assert.ok(w().http.requests().some((r) => r.url === '/canary' && r.headers.authorization === `Bearer ${secret}`));
        const keyPem = await readFile(plan.egress.caKeyPath, 'utf8');
        assert.equal((await stat(plan.egress.caKeyPath)).mode & 0o777, 0o600);
        // Every base64 line of the key but the first (whose start is the same for every P-256 key).
        const keyLines = keyPem.split('\n').filter((l) => l && !l.startsWith('-----')).slice(1);
        assert.ok(keyLines.length >= 1);
        const patterns = [secret, ...keyLines].join('\n') + '\n';
        // Patterns go through stdin: they are in no file, argv or environ of the bottle while it is searched.
        const fsGrep = 'grep -rlsaF -D skip -f - $(ls -d /* | grep -vx -e /proc -e /sys) ; echo "exit=$?"';
        const procGrep = 'grep -lsaF -f - /proc/[0-9]*/environ /proc/[0-9]*/cmdline ; echo "exit=$?"';
        const asRoot = (script: string, stdin: string, env?: Record<string, string>) => bottle.target.exec(['sh', '-c', script], { stdin, timeoutMs: 300_000, ...(env ? { env } : {}) });

        // The controls: a value written to a file is found; one in a process's environment is found.
        await shOk(bottle.target, 'echo control-f00d > /home/node/.checks-control');
        let r = await asRoot(fsGrep, 'control-f00d\n');
        assert.match(r.stdout, /\/home\/node\/\.checks-control/);
        r = await asRoot(`sleep 30 & ${procGrep}; kill $!`, 'control-beef\n', { CHECKS_CONTROL: 'control-beef' });
        assert.match(r.stdout, /\/proc\/\d+\/environ/);

        r = await asRoot(fsGrep, patterns);
        assert.equal(r.stdout, 'exit=1\n', `files in the bottle hold the secret or the CA key:\n${r.stdout}`);
        r = await asRoot(procGrep, patterns);
        assert.equal(r.stdout, 'exit=1\n', `processes in the bottle hold the secret:\n${r.stdout}`);
        for (const user of ['node', 'root']) {
          const env = await bottle.target.exec(['env'], user === 'root' ? {} : { user });
          assert.equal(env.exitCode, 0);
          assert.ok(!env.stdout.includes(secret), `env as ${user}`);
          assert.ok(env.stdout.includes(`${SECRET_ENV}=${SECRET_PLACEHOLDER}`), `env as ${user} holds the placeholder: ${env.stdout}`);
        }
        if (w().under.describe) {
          const described = await w().under.describe!(plan.slug);
          assert.ok(described.includes(plan.slug), 'the control: the engine describes this bottle');
          assert.ok(!described.includes(secret), "the engine's description of the bottle");
          assert.ok(!keyLines.some((l) => described.includes(l)), "the engine's description of the bottle holds the CA key");
        }
        // Only the certificate was installed.
        const certs = await shOk(bottle.target, 'find /usr/local/share/ca-certificates -type f; grep -rl "PRIVATE KEY" /usr/local/share/ca-certificates /etc/ssl/certs; true', { user: 'root' });
        const files = certs.trim().split('\n');
        assert.ok(files.includes(plan.guest.caPath), certs);
        assert.ok(files.every((f) => f.endsWith('.crt')), `only certificates, no key: ${certs}`);
      },
    },
  ];
}
