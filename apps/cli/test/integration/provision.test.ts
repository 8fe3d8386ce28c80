/**
 * The provisioners' results inside a real bottle, through the real `bottle` process: the five
 * built-ins and the example plugin (linked with `bottle plugins link`, listed between built-ins)
 * prepare one kept bottle, and each check reads the bottle's state, not the calls that made it.
 * A test-made HTTPS server on a test-made `--internal` network stands in for a public host.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureImages } from '@bot-bottle/images';
import { BIN, EXAMPLE_PLUGIN, cleanupTempDirs, isolatedXdg, tempDir } from '../helpers.js';

const test = suite('provisioners in a real bottle');

const RUN = randomBytes(3).toString('hex');
const AGENT = `prov-${RUN}`;
const LABELS = ['--label', 'bot-bottle-test=1', '--label', `bot-bottle-test.run=${RUN}`];
const SKILL_FILES = 25;
const PROMPT = `You are agent ${RUN}. Keep "quotes" and $dollars as written.`;
const MOTD = `motd ${RUN}`;

interface Ctx {
  env: NodeJS.ProcessEnv;
  dir: string;
  repo: string;
  network: string;
  server: string;
  slug: string;
  stderr: string;
  plan: { guest: { promptPath: string; skillsDir: string; caPath: string }; gitGate: { upstreams: { name: string; upstream: string }[] } };
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

/** A CA and a server certificate for `name`, made with openssl (nothing of ours in the loop). */
function makePki(dir: string, name: string): void {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=provision test upstream CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${name}`);
  execFileSync('sh', ['-c', `printf 'subjectAltName=DNS:${name}\\nextendedKeyUsage=serverAuth\\n' > ext.cnf`], { cwd: dir });
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf');
}

test.before(async () => {
  const images = await ensureImages({ progress: (m) => process.stderr.write(`  ${m}\n`) });
  ctx.dir = await tempDir('bottle-prov-');

  // The stand-in for a public host: an HTTPS server with its own CA, on an internal test network.
  const srv = path.join(ctx.dir, 'srv');
  await mkdir(srv);
  ctx.server = `bbtest-prov-srv-${RUN}`;
  makePki(srv, ctx.server);
  await chmod(path.join(srv, 'server.key'), 0o644);
  ctx.network = `bbtest-prov-${RUN}`;
  dockerOk(['network', 'create', '--internal', ...LABELS, ctx.network]);
  dockerOk(['run', '-d', ...LABELS, '--name', ctx.server, '--network', ctx.network, '-u', 'node', '-v', `${srv}:/srv:ro`, images.runtime, 'node', '-e',
    `require('https').createServer({ key: require('fs').readFileSync('/srv/server.key'), cert: require('fs').readFileSync('/srv/server.crt') }, (q, s) => s.end('hello ' + q.url + '\\n')).listen(8443)`]);

  // Skills beside the manifest, two of them, one with nested files.
  for (const name of ['alpha', 'beta']) {
    const d = path.join(ctx.dir, 'skills', name, 'ref');
    await mkdir(d, { recursive: true });
    await writeFile(path.join(ctx.dir, 'skills', name, 'SKILL.md'), `---\nname: ${name}\ndescription: test skill ${name}\n---\nDo ${name}.\n`);
    for (let i = 0; i < SKILL_FILES; i++) await writeFile(path.join(d, `f${i}.md`), `${name} ${i}\n`);
  }

  // The user's cwd: a git repo with one commit.
  ctx.repo = path.join(ctx.dir, 'repo');
  await mkdir(ctx.repo);
  const git = (...a: string[]) => execFileSync('git', ['-C', ctx.repo, ...a], { stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  await writeFile(path.join(ctx.repo, 'README.md'), 'repo\n');
  git('add', 'README.md');
  git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', `first commit ${RUN}`);

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
        egress: { routes: [{ host: 'svc.example.test', to: `https://${ctx.server}:8443` }] },
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
    BOT_BOTTLE_UPSTREAM_CA_CERTS: path.join(srv, 'ca.crt'),
    BOT_BOTTLE_KNOWN_HOSTS: knownHosts,
  };
  ok(bottle(['plugins', 'link', EXAMPLE_PLUGIN, '--no-install']), 'link the example plugin');
  ctx.plan = JSON.parse(ok(bottle(['plan', AGENT, '--json']), 'plan'));

  const run = bottle(['run', AGENT, '--keep', '--copy-cwd', '--verbose', '--', 'true'], ctx.repo);
  ctx.stderr = run.stderr;
  const slug = /ready: (\S+)/.exec(run.stderr)?.[1];
  if (slug) ctx.slug = slug;
  ok(run, 'bottle run --keep');
  assert.ok(ctx.slug, `the run names its bottle: ${run.stderr}`);
});

test.after(async () => {
  if (ctx.slug) bottle(['stop', ctx.slug]);
  for (const kind of ['container', 'network'] as const) {
    const ids = spawnSync('docker', [kind, 'ls', ...(kind === 'container' ? ['-a'] : []), '-q', '--filter', `label=bot-bottle-test.run=${RUN}`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    if (ids.length) spawnSync('docker', [kind, 'rm', '-f', ...ids]);
  }
  await cleanupTempDirs();
});

function dockerOk(args: string[]): string {
  const r = spawnSync('docker', args, { encoding: 'utf8' });
  assert.is(r.status, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

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

test('prompt: the file holds the prompt, owned by node, mode 600', () => {
  const p = ctx.plan.guest.promptPath;
  const out = ok(inBottle(`stat -c "%U %G %a" ${p} && cat ${p}`), 'prompt');
  assert.is(out, `node node 600\n${PROMPT}`);
});

test('skills: every file of both skills landed, owned by node', () => {
  const d = ctx.plan.guest.skillsDir;
  const out = ok(inBottle(`cd ${d} && ls && find . -type f | wc -l && find ~/.claude ! -user node | wc -l && cat beta/ref/f7.md && head -2 alpha/SKILL.md`), 'skills');
  assert.is(out, `alpha\nbeta\n${2 * (SKILL_FILES + 1)}\n0\nbeta 7\n---\nname: alpha\n`, 'all files, and everything under ~/.claude is node\'s');
});

test('ca: curl and node trust a server whose certificate the bottle\'s CA signed; the CA is in the system store', async () => {
  const viaCurl = ok(inBottle('curl -sS https://svc.example.test/curl'), 'curl');
  assert.is(viaCurl, 'hello /curl\n');
  // The certificate curl was shown is signed by this bottle's CA (the gateway's), not the server's own.
  const caCn = ok(inBottle(`node -p "new (require('crypto').X509Certificate)(require('fs').readFileSync('${ctx.plan.guest.caPath}')).subject" | sed -n 's/^CN=//p'`), 'ca subject').trim();
  const issuer = ok(inBottle('curl -sSv -o /dev/null https://svc.example.test/ 2>&1 | sed -n "s/^\\*  *issuer: //p"'), 'issuer').trim();
  assert.ok(caCn, 'the installed CA has a common name');
  assert.ok(issuer.includes(`CN=${caCn}`), `issuer "${issuer}" is the bottle CA "${caCn}"`);
  assert.not.match(issuer, /provision test upstream CA/, 'the bottle never sees the upstream\'s own chain');
  const viaNode = ok(inBottle('node -e "fetch(\'https://svc.example.test/node\').then((r) => r.text()).then((t) => process.stdout.write(t))"'), 'node fetch');
  assert.is(viaNode, 'hello /node\n');
  // The control: the same request without the bottle's CA fails, so the check above can fail.
  const untrusted = inBottle('NODE_EXTRA_CA_CERTS= node -e "fetch(\'https://svc.example.test/\').then(() => process.exit(0), (e) => { console.error(String(e.cause?.code ?? e)); process.exit(3) })"');
  assert.is(untrusted.code, 3, untrusted.stdout);
  assert.match(untrusted.stderr, /CERT|SELF_SIGNED|UNABLE|issuer/i);
  const curlCa = ok(inBottle('grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/bot-bottle-egress-ca.pem'), 'store');
  assert.is(curlCa.trim(), '1');
});

test('git: insteadOf sends each declared Upstream to the gate (git config --get-urlmatch); user.name/email set as node', () => {
  for (const u of ctx.plan.gitGate.upstreams) {
    const gate = ok(inBottle(`git config --global --get-regexp '^url\\..*\\.insteadof$' | awk -v u='${u.upstream}' '$2 == u { print $1 }'`), 'insteadOf').trim();
    assert.match(gate, new RegExp(`^url\\.git://127\\.0\\.0\\.1:\\d+/${u.name}\\.git\\.insteadof$`), `${u.upstream} is rewritten`);
    const base = gate.slice('url.'.length, -'.insteadof'.length);
    const viaUrlmatch = ok(inBottle(`git config --global --get-urlmatch url.insteadof '${base}'`), 'urlmatch');
    assert.is(viaUrlmatch.trim(), u.upstream);
  }
  const rewritten = ok(inBottle('git ls-remote --get-url ssh://git@git.example.test/team/app.git; git ls-remote --get-url git@git.example.test:team/docs.git'), 'get-url');
  assert.match(rewritten, /^git:\/\/127\.0\.0\.1:\d+\/app\.git\ngit:\/\/127\.0\.0\.1:\d+\/docs\.git\n$/);
  const who = ok(inBottle('id -un; git config --global user.name; git config --global user.email; stat -c %U ~/.gitconfig'), 'git user');
  assert.is(who, `node\nAgent ${RUN}\nagent-${RUN}@example.com\nnode\n`);
});

test('git: the cwd\'s .git was copied, owned by node, with its history', () => {
  const out = ok(inBottle('cd ~/workspace && find .git ! -user node | wc -l && git log --format=%s && git status --porcelain'), 'copied .git');
  assert.is(out, `0\nfirst commit ${RUN}\n`);
});

test('supervise: `claude mcp list` as node shows the supervise server with its URL', () => {
  const r = inBottle('claude mcp list 2>&1');
  assert.match(r.stdout, /supervise: http:\/\/127\.0\.0\.1:\d+\/\S* \(HTTP\)/, r.stdout);
});

test('no provisioner left anything of its own in the workspace', () => {
  const out = ok(inBottle('cd ~/workspace && ls -A'), 'ls');
  assert.is(out, '.git\nREADME.md\n');
});

test.run();
