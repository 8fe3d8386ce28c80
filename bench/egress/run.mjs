#!/usr/bin/env node
// bench/egress: what the egress gateway costs, next to going direct and next to two TLS-intercepting
// proxies (squid with ssl_bump, mitmproxy), in one run on one loopback HTTPS upstream. Not a test:
// it prints figures and asserts nothing.
//
//   node bench/egress/run.mjs [--json]        (bench/egress/setup.sh installs squid and mitmproxy first)
//
// For each path (direct, gateway, squid, mitmproxy): latency of small keep-alive HTTPS requests at a fixed
// concurrency (p50/p99, and what the proxy adds to direct), requests per second, throughput of one
// large streamed download, and the proxy's RSS idle and under load (squid: all its processes).
// Knobs (env): BENCH_REQUESTS (2000), BENCH_CONNECTIONS (16), BENCH_DOWNLOAD_MIB (200), BENCH_ROUNDS (3),
// BENCH_WARMUP (200), BENCH_PATHS (direct,gateway,squid,mitmproxy), BENCH_GATEWAY_NODE_FLAGS (--max-semi-space-size=1, as the bundle; empty for none),
// BENCH_GATEWAY_CPU_PROF (a directory: the gateway runs with --cpu-prof writing there), BENCH_GATEWAY_WORKERS
// (the gateway config's "workers": a number or auto; unset, the gateway's default).
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(import.meta.dirname, '../..');
const gatewayPkg = path.join(root, 'packages/egress-gateway');
const gatewayMain = path.join(gatewayPkg, 'dist/main.js');
// The client is undici (a devDependency of the gateway package), the same for every path.
const { Agent, ProxyAgent, request } = createRequire(path.join(gatewayPkg, 'package.json'))('undici');
const { createBottleCa } = await import(pathToFileURL(path.join(gatewayPkg, 'dist/index.js')).href);

const json = process.argv.includes('--json');
const REQUESTS = Number(process.env.BENCH_REQUESTS || 2000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 16);
const DOWNLOAD_MIB = Number(process.env.BENCH_DOWNLOAD_MIB || 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const WARMUP = Number(process.env.BENCH_WARMUP || 200);
const PATHS = (process.env.BENCH_PATHS || 'direct,gateway,squid,mitmproxy').split(',').map((s) => s.trim()).filter(Boolean);
// The bundle runs its services with a 1 MiB young generation; so does the benchmark unless told otherwise.
const GATEWAY_FLAGS = (process.env.BENCH_GATEWAY_NODE_FLAGS ?? '--max-semi-space-size=1').split(' ').filter(Boolean);
const CPU_PROF = process.env.BENCH_GATEWAY_CPU_PROF || '';
const GATEWAY_WORKERS = process.env.BENCH_GATEWAY_WORKERS || '';
const HOST = 'localhost'; // resolves to 127.0.0.1; the name every path addresses and verifies
const MiB = 1024 * 1024;

const log = (m) => process.stderr.write(`${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-egress-'));
const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

// ---- parts ------------------------------------------------------------------------------------

function makeUpstreamPki() {
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'up-ca.key', '-out', 'up-ca.crt', '-days', '2', '-subj', '/CN=bench upstream CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'up.key', '-out', 'up.csr', '-subj', '/CN=localhost');
  writeFileSync(path.join(dir, 'up.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  run('x509', '-req', '-in', 'up.csr', '-CA', 'up-ca.crt', '-CAkey', 'up-ca.key', '-CAcreateserial', '-out', 'up.crt', '-days', '2', '-extfile', 'up.cnf');
  return { caFile: path.join(dir, 'up-ca.crt'), caPem: readFileSync(path.join(dir, 'up-ca.crt'), 'utf8'), cert: path.join(dir, 'up.crt'), key: path.join(dir, 'up.key') };
}

function startChild(name, cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', opts.stdout ?? 'pipe', 'pipe'], env: opts.env ?? process.env });
  children.add(child);
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  const exited = new Promise((r) => child.once('exit', (code, sig) => r({ code, sig })));
  exited.then(({ code, sig }) => {
    children.delete(child);
    if (!child.stopping) log(`${name} exited (${code ?? sig}): ${err.trim().slice(-2000)}`);
  });
  return {
    child,
    stderr: () => err,
    exited,
    async stop() {
      child.stopping = true;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

async function startUpstream(pki) {
  const p = startChild('upstream', process.execPath, [path.join(import.meta.dirname, 'upstream.mjs'), pki.cert, pki.key]);
  const port = await new Promise((resolve, reject) => {
    let out = '';
    p.child.stdout.on('data', (c) => {
      out += c;
      const m = /"port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    p.exited.then(() => reject(new Error(`upstream did not start: ${p.stderr()}`)));
  });
  return { ...p, port };
}

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function waitForPort(port, proc, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (proc.child.exitCode !== null || Date.now() > end) throw new Error(`nothing listens on ${port}: ${proc.stderr()}`);
    await sleep(100);
  }
}

async function startGatewayProcess(pki) {
  const ca = await createBottleCa(path.join(dir, 'gateway-ca'));
  const port = await freePort();
  const config = {
    listen: { port, host: '127.0.0.1' },
    ca: { cert: ca.certPath, key: ca.keyPath },
    // The upstream's loopback port: a route allows 443 unless it names its ports, and a name that
    // resolves to loopback is connected only when the route's `to` names it.
    routes: [{ host: HOST, ports: [upstreamPort], to: `https://${HOST}:${upstreamPort}` }],
    extraCaFiles: [pki.caFile],
    auditLog: path.join(dir, 'gateway-audit.jsonl'),
    ...(GATEWAY_WORKERS ? { workers: GATEWAY_WORKERS === 'auto' ? 'auto' : Number(GATEWAY_WORKERS) } : {}),
  };
  const configFile = path.join(dir, 'gateway.json');
  writeFileSync(configFile, JSON.stringify(config));
  const flags = [...GATEWAY_FLAGS, ...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(CPU_PROF)}`] : [])];
  const p = startChild('gateway', process.execPath, [...flags, gatewayMain, configFile], { env: { PATH: process.env.PATH } });
  await waitForPort(port, p);
  for (let i = 0; i < 50 && !p.stderr().includes('listening on'); i++) await sleep(100);
  // With several workers the gateway is a primary and its worker processes: RSS summed over all.
  const workers = /in (\d+) processes/.exec(p.stderr())?.[1];
  return { ...p, pid: p.child.pid, tree: true, url: `http://127.0.0.1:${port}`, caPem: ca.certPem, describe: `node ${[...flags, 'dist/main.js'].join(' ')}, ${workers ? `${workers} processes (one listens and serves, ${workers - 1} serve what it hands them)` : 'one process'} (workers: ${GATEWAY_WORKERS || 'default'})` };
}

async function startMitmproxy(pki) {
  const port = await freePort();
  const confdir = path.join(dir, 'mitmproxy');
  const version = execFileSync('mitmdump', ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
  const args = [
    '--listen-host', '127.0.0.1', '--listen-port', String(port),
    '--set', `confdir=${confdir}`,
    // Intercept (TLS on) only the allowed host; its flows are printed one line each (its "audit").
    '--allow-hosts', `^${HOST.replace(/\./g, '\\.')}(:\\d+)?$`,
    '--set', 'stream_large_bodies=1m',
    '--set', `ssl_verify_upstream_trusted_ca=${pki.caFile}`,
  ];
  const out = (await import('node:fs')).openSync(path.join(dir, 'mitmdump.log'), 'a');
  const p = startChild('mitmdump', 'mitmdump', args, { stdout: out });
  await waitForPort(port, p);
  const caFile = path.join(confdir, 'mitmproxy-ca-cert.pem');
  for (let i = 0; i < 100 && !existsSync(caFile); i++) await sleep(100);
  return { ...p, pid: p.child.pid, url: `http://127.0.0.1:${port}`, caPem: readFileSync(caFile, 'utf8'), describe: `${version}: mitmdump ${args.join(' ').replaceAll(dir, '$TMP').replace(String(port), '<free port>')}` };
}

const SQUID = '/usr/sbin/squid';
const CERTGEN = '/usr/lib/squid/security_file_certgen';

async function startSquid(pki) {
  // Its own CA for the run (certificate and key in one PEM, as squid's tls-cert takes them), its own
  // config, certificate database, logs and pid file, all in the bench's temp dir.
  const sq = path.join(dir, 'squid');
  mkdirSync(sq);
  const run = (...args) => execFileSync('openssl', args, { cwd: sq, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=bench squid CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  writeFileSync(path.join(sq, 'ca.pem'), readFileSync(path.join(sq, 'ca.crt'), 'utf8') + readFileSync(path.join(sq, 'ca.key'), 'utf8'));
  // The upstream's test CA, the only extra trust (as the gateway's extraCaFiles), next to the system store.
  writeFileSync(path.join(sq, 'up-ca.crt'), pki.caPem);
  const ssldb = path.join(sq, 'ssl_db');
  execFileSync(CERTGEN, ['-c', '-s', ssldb, '-M', '4MB'], { stdio: 'pipe' });
  const port = await freePort();
  const config = [
    `http_port 127.0.0.1:${port} ssl-bump tls-cert=${sq}/ca.pem generate-host-certificates=on dynamic_cert_mem_cache_size=4MB`,
    `sslcrtd_program ${CERTGEN} -s ${ssldb} -M 4MB`,
    // Peek at the client's hello (SNI), then bump: squid connects to the upstream, verifies it, and
    // mimics its certificate signed by the run's CA.
    'acl step1 at_step SslBump1',
    'ssl_bump peek step1',
    'ssl_bump bump all',
    `tls_outgoing_options cafile=${sq}/up-ca.crt`,
    // Only the measured host and port: the CONNECT and the requests inside the bumped tunnel.
    `acl bench_host dstdomain ${HOST}`,
    `acl bench_port port ${upstreamPort}`,
    'http_access allow bench_host bench_port',
    'http_access deny all',
    // No caching: the gateway and mitmproxy forward every request, so squid does too.
    'cache deny all',
    `access_log daemon:${sq}/access.log squid`,
    `cache_log ${sq}/cache.log`,
    `pid_filename ${sq}/squid.pid`,
    `coredump_dir ${sq}`,
    'netdb_filename none', // nothing written outside the temp dir
    'shutdown_lifetime 1 seconds',
    '',
  ].join('\n');
  writeFileSync(path.join(sq, 'squid.conf'), config);
  // Started as root, squid drops to its cache_effective_user (Debian's `proxy`), which must reach
  // its files; the bench's temp dir lets others through (not list) for that.
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'proxy'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'proxy'], { encoding: 'utf8' }).trim());
    chmodSync(dir, 0o711);
    execFileSync('chown', ['-R', `${uid}:${gid}`, sq]);
  }
  const version = execFileSync(SQUID, ['-v'], { encoding: 'utf8' }).split('\n')[0].trim();
  // -N: no daemon (this process is squid itself, with its helpers as children), so it is stopped with it.
  const args = ['-N', '-f', path.join(sq, 'squid.conf')];
  const p = startChild('squid', SQUID, args);
  try {
    await waitForPort(port, p);
  } catch (e) {
    throw new Error(`${e.message}\n${existsSync(path.join(sq, 'cache.log')) ? readFileSync(path.join(sq, 'cache.log'), 'utf8').slice(-2000) : ''}`, { cause: e });
  }
  return { ...p, pid: p.child.pid, tree: true, url: `http://127.0.0.1:${port}`, caPem: readFileSync(path.join(sq, 'ca.crt'), 'utf8'), describe: `${version}: squid -N, ssl-bump (peek step1, bump all), security_file_certgen, http_access for ${HOST}:<upstream port> only, access_log daemon:, cache deny all, tls_outgoing_options cafile=$TMP/up-ca.crt` };
}

// ---- measuring --------------------------------------------------------------------------------

function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The process and, for a proxy made of several (squid and its helpers), all its descendants. */
function pidsOf(proc) {
  if (!proc) return [];
  if (!proc.tree) return [proc.pid];
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  const out = [];
  const todo = [proc.pid];
  while (todo.length) {
    const pid = todo.pop();
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** RSS of a proxy in KiB: the sum of VmRSS over its processes (shared pages counted in each). */
function proxyRssKiB(proc, pids = pidsOf(proc)) {
  if (!proc) return null;
  let sum = 0;
  for (const pid of pids) sum += rssKiB(pid) ?? 0;
  return sum;
}

/** Samples a proxy's RSS every 25 ms until stopped (its process list re-read every second); returns the peak in KiB. */
function rssSampler(proc) {
  if (!proc) return { stop: () => null };
  let pids = pidsOf(proc);
  let peak = proxyRssKiB(proc, pids);
  let tick = 0;
  const t = setInterval(() => {
    if (proc.tree && ++tick % 40 === 0) pids = pidsOf(proc);
    peak = Math.max(peak, proxyRssKiB(proc, pids));
  }, 25);
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, proxyRssKiB(proc));
    },
  };
}

/** CPU time (user + system, ms) used so far by a process and, for a proxy of several, its descendants. */
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);
function cpuMs(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    } catch {
      // gone meanwhile
    }
  }
  return ticks * TICK_MS;
}

/** CPU used by the client (this process), the upstream and the proxy while `fn` runs, in ms. */
async function withCpu(proc, fn) {
  const pids = proc ? pidsOf(proc) : [];
  const c0 = process.cpuUsage();
  const u0 = cpuMs([upstream.child.pid]);
  const p0 = cpuMs(pids);
  const out = await fn();
  const c = process.cpuUsage(c0);
  return { out, cpu: { client: (c.user + c.system) / 1000, upstream: cpuMs([upstream.child.pid]) - u0, proxy: proc ? cpuMs(pids) - p0 : 0 } };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function getSmall(dispatcher, i) {
  const t0 = process.hrtime.bigint();
  const res = await request(`https://${HOST}:${upstreamPort}/small?i=${i}`, { dispatcher });
  await res.body.arrayBuffer();
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function loadRun(dispatcher, count) {
  const lat = [];
  let next = 0;
  let errors = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < count) {
        const i = next++;
        try {
          lat.push(await getSmall(dispatcher, i));
        } catch (e) {
          if (errors++ === 0) log(`  request error: ${e.message}`);
        }
      }
    }),
  );
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), rps: lat.length / (wallMs / 1000), errors };
}

async function download(dispatcher) {
  const t0 = process.hrtime.bigint();
  const res = await request(`https://${HOST}:${upstreamPort}/big?mib=${DOWNLOAD_MIB}`, { dispatcher });
  let bytes = 0;
  for await (const c of res.body) bytes += c.length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (bytes !== DOWNLOAD_MIB * MiB) throw new Error(`download got ${bytes} bytes, expected ${DOWNLOAD_MIB * MiB}`);
  return bytes / MiB / s;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const max = (xs) => (xs.some((x) => x === null) ? null : Math.max(...xs));

// ---- the run ----------------------------------------------------------------------------------

const pki = makeUpstreamPki();
const upstream = await startUpstream(pki);
const upstreamPort = upstream.port;
const dispatcherOpts = { connections: CONNECTIONS, keepAliveTimeout: 60_000, pipelining: 1 };

// Every path is set up first, then measured in turns, round after round, so that a burst of other
// work on the machine falls on all of them alike rather than on whichever ran at that moment.
const paths = [];
try {
  for (const name of PATHS) {
    if (name === 'direct') paths.push({ name, proc: null, dispatcher: new Agent({ ...dispatcherOpts, connect: { ca: pki.caPem } }) });
    else if (name === 'gateway' || name === 'squid' || name === 'mitmproxy') {
      const proc = await { gateway: startGatewayProcess, squid: startSquid, mitmproxy: startMitmproxy }[name](pki);
      paths.push({ name, proc, dispatcher: new ProxyAgent({ uri: proc.url, requestTls: { ca: proc.caPem }, ...dispatcherOpts }) });
    } else throw new Error(`unknown path ${name} in BENCH_PATHS (use direct, gateway, squid, mitmproxy)`);
  }
  for (const p of paths) {
    log(`${p.name}: warming up (${WARMUP} requests)`);
    await loadRun(p.dispatcher, WARMUP);
  }
  await sleep(1000);
  for (const p of paths) {
    p.rssIdle = proxyRssKiB(p.proc);
    p.processes = p.proc ? pidsOf(p.proc).length : null;
    p.loads = [];
    p.downloads = [];
    p.rssLoad = [];
    p.rssDownload = [];
    p.rssGrowth = [];
  }
  for (let round = 1; round <= ROUNDS; round++) {
    for (const p of paths) {
      log(`round ${round}/${ROUNDS} ${p.name}: ${REQUESTS} requests at ${CONNECTIONS} connections`);
      const s = rssSampler(p.proc);
      const { out, cpu } = await withCpu(p.proc, () => loadRun(p.dispatcher, REQUESTS));
      p.loads.push({ ...out, cpu });
      p.rssLoad.push(s.stop());
    }
  }
  // Downloads after every request round, so that "RSS under load" is not the download's high-water mark.
  for (let round = 1; round <= ROUNDS; round++) {
    for (const p of paths) {
      await sleep(300);
      const before = proxyRssKiB(p.proc);
      log(`round ${round}/${ROUNDS} ${p.name}: ${DOWNLOAD_MIB} MiB download`);
      const s = rssSampler(p.proc);
      p.downloads.push(await download(p.dispatcher));
      const peak = s.stop();
      p.rssDownload.push(peak);
      p.rssGrowth.push(peak === null || before === null ? null : peak - before);
    }
  }
} finally {
  for (const p of paths) {
    await p.dispatcher.close();
    await p.proc?.stop();
  }
  await upstream.stop();
}

const mib = (kib) => (kib === null ? null : kib / 1024);
const results = paths.map((p) => ({
  path: p.name,
  p50Ms: median(p.loads.map((l) => l.p50)),
  p99Ms: median(p.loads.map((l) => l.p99)),
  rps: median(p.loads.map((l) => l.rps)),
  errors: p.loads.reduce((n, l) => n + l.errors, 0),
  downloadMiBps: median(p.downloads),
  rssIdleMiB: mib(p.rssIdle),
  processes: p.processes,
  rssLoadMiB: mib(max(p.rssLoad)),
  rssDownloadMiB: mib(max(p.rssDownload)),
  rssDownloadGrowthMiB: mib(max(p.rssGrowth)),
  // CPU time per request (µs) of each party during the request batches: the machine's cores are
  // shared by the client, the upstream and the proxy, so a proxy's cost per request bounds them all.
  cpuUsPerRequest: Object.fromEntries(['client', 'upstream', 'proxy'].map((k) => [k, median(p.loads.map((l) => (1000 * l.cpu[k]) / REQUESTS))])),
  rounds: p.loads.map((l, i) => ({ p50Ms: l.p50, p99Ms: l.p99, rps: l.rps, downloadMiBps: p.downloads[i], cpuMs: l.cpu })),
  proxy: p.proc?.describe ?? null,
}));

const direct = results.find((r) => r.path === 'direct');
for (const r of results) {
  r.addedP50Ms = direct && r !== direct ? r.p50Ms - direct.p50Ms : null;
  r.addedP99Ms = direct && r !== direct ? r.p99Ms - direct.p99Ms : null;
}
const gw = results.find((r) => r.path === 'gateway');
const sq = results.find((r) => r.path === 'squid');
const mp = results.find((r) => r.path === 'mitmproxy');
// The aims of the gateway's performance work, each present when the paths it compares were run.
const aim = (ok, ratio, text) => ({ ok, ratio, text });
const aims = {};
if (gw && direct) {
  aims.rpsVsDirect = aim(gw.rps >= 0.5 * direct.rps, gw.rps / direct.rps, 'request rate vs direct (aim ≥ 0.5)');
  aims.downloadVsDirect = aim(gw.downloadMiBps >= 0.75 * direct.downloadMiBps, gw.downloadMiBps / direct.downloadMiBps, 'download vs direct (aim ≥ 0.75)');
}
if (gw && sq) {
  aims.rpsVsSquid = aim(gw.rps >= sq.rps, gw.rps / sq.rps, 'request rate vs squid (aim ≥ 1)');
  aims.downloadVsSquid = aim(gw.downloadMiBps >= sq.downloadMiBps, gw.downloadMiBps / sq.downloadMiBps, 'download vs squid (aim ≥ 1)');
  if (direct) aims.addedP50VsSquid = aim(gw.addedP50Ms <= sq.addedP50Ms, gw.addedP50Ms / sq.addedP50Ms, 'added p50 vs squid (aim ≤ 1)');
}
if (gw && mp) {
  aims.rssIdleVsMitmproxy = aim(gw.rssIdleMiB <= mp.rssIdleMiB, gw.rssIdleMiB / mp.rssIdleMiB, 'idle RSS vs mitmproxy (aim ≤ 1)');
  aims.rpsVsMitmproxy = aim(gw.rps >= 2 * mp.rps, gw.rps / mp.rps, 'request rate vs mitmproxy (aim ≥ 2)');
  if (direct) aims.addedP50VsMitmproxy = aim(gw.addedP50Ms <= mp.addedP50Ms / 2, gw.addedP50Ms / mp.addedP50Ms, 'added p50 vs mitmproxy (aim ≤ 0.5)');
}
const machine = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? '',
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  kernel: os.release(),
};
const doc = { rounds: ROUNDS, requests: REQUESTS, connections: CONNECTIONS, downloadMiB: DOWNLOAD_MIB, machine, results, aims };

if (json) process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
else {
  const f = (x, d = 1) => (x === null || x === undefined ? '–' : x.toFixed(d));
  const lines = [
    `${REQUESTS} small HTTPS requests over ${CONNECTIONS} keep-alive connections and one ${DOWNLOAD_MIB} MiB download per path and round; medians of ${ROUNDS} rounds (RSS: the highest). ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}.`,
    '',
    '| path | p50 ms | p99 ms | added p50 ms | added p99 ms | req/s | download MiB/s | RSS idle MiB | RSS under load MiB | RSS in download MiB (growth) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map((r) => `| ${r.path} | ${f(r.p50Ms, 2)} | ${f(r.p99Ms, 2)} | ${f(r.addedP50Ms, 2)} | ${f(r.addedP99Ms, 2)} | ${f(r.rps, 0)} | ${f(r.downloadMiBps, 0)} | ${f(r.rssIdleMiB)} | ${f(r.rssLoadMiB)} | ${r.rssDownloadMiB === null ? '–' : `${f(r.rssDownloadMiB)} (+${f(r.rssDownloadGrowthMiB)})`} |`),
  ];
  lines.push('', 'CPU time per small request during the batches (µs; user + system, medians of the rounds):', '', '| path | client | upstream | proxy | all |', '| --- | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const c = r.cpuUsPerRequest;
    lines.push(`| ${r.path} | ${f(c.client, 0)} | ${f(c.upstream, 0)} | ${r.proxy ? f(c.proxy, 0) : '–'} | ${f(c.client + c.upstream + c.proxy, 0)} |`);
  }
  if (results.some((r) => r.errors)) lines.push('', `errors: ${results.map((r) => `${r.path} ${r.errors}`).join(', ')}`);
  const aimList = Object.values(aims);
  if (aimList.length) {
    lines.push('', 'gateway, ratios of this run (the performance aims):');
    for (const a of aimList) lines.push(`- ${a.text}: ×${f(a.ratio, 2)} ${a.ok ? 'met' : 'not met'}`);
  }
  lines.push('', 'Proxies:');
  for (const r of results) if (r.proxy) lines.push(`- ${r.path}: ${r.proxy}${r.processes > 1 ? ` (${r.processes} processes at idle, their RSS summed)` : ''}`);
  process.stdout.write(lines.join('\n') + '\n');
}
