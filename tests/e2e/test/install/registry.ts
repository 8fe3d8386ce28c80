/**
 * Installing bot-bottle the way a user does, without this checkout: every publishable workspace
 * package is packed (`pnpm pack`, which rewrites `workspace:` and `catalog:` ranges), published to
 * a verdaccio registry on loopback made for the run, and installed from there with plain npm into
 * an empty prefix under a clean HOME. Packages outside the `@bot-bottle` scope come through
 * verdaccio from the npm registry this machine's npm already uses, as they would for a user.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const REPO = path.resolve(import.meta.dirname, '../../../..');
const VERDACCIO = path.join(import.meta.dirname, '../../node_modules/verdaccio/bin/verdaccio');

export interface Packed {
  name: string;
  version: string;
  tarball: string;
  manifest: Record<string, unknown>;
}

/** The workspace packages that are not private, in name order. */
export async function publishableDirs(): Promise<string[]> {
  const out: string[] = [];
  for (const group of ['packages', 'apps']) {
    for (const entry of await readdir(path.join(REPO, group))) {
      const dir = path.join(REPO, group, entry);
      const pj = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8').catch(() => '{"private":true}')) as { private?: boolean };
      if (!pj.private) out.push(dir);
    }
  }
  return out.sort();
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number; input?: string } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeout ?? 600_000, input: opts.input ?? '', ...(opts.cwd ? { cwd: opts.cwd } : {}), ...(opts.env ? { env: opts.env } : {}) });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

/** Packs every publishable package into `dest` and returns what each tarball's package.json says. */
export async function packAll(dest: string): Promise<Packed[]> {
  await mkdir(dest, { recursive: true });
  const out: Packed[] = [];
  for (const dir of await publishableDirs()) {
    const r = run('pnpm', ['pack', '--pack-destination', dest], { cwd: dir });
    if (r.code !== 0) throw new Error(`pnpm pack in ${dir} failed: ${r.stderr}`);
    const tarball = r.stdout.trim().split('\n').filter((l) => l.endsWith('.tgz')).at(-1);
    if (!tarball) throw new Error(`pnpm pack in ${dir} printed no tarball: ${r.stdout}`);
    const abs = path.isAbsolute(tarball) ? tarball : path.join(dest, path.basename(tarball));
    const manifest = JSON.parse(run('tar', ['-xzOf', abs, 'package/package.json']).stdout) as Record<string, unknown>;
    out.push({ name: String(manifest.name), version: String(manifest.version), tarball: abs, manifest });
  }
  return out;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface Registry {
  url: string;
  /** An npmrc that names the registry and holds a token for it. */
  npmrc: string;
  /** Publishes a tarball (npm publish, as a release would). */
  publish(tarball: string): void;
  stop(): Promise<void>;
}

/** Starts verdaccio on a free loopback port: `@bot-bottle/*` only from what is published to it, the rest proxied. */
export async function startRegistry(dir: string): Promise<Registry> {
  await mkdir(path.join(dir, 'storage'), { recursive: true });
  const upstream = run('npm', ['config', 'get', 'registry']).stdout.trim() || 'https://registry.npmjs.org/';
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  await writeFile(path.join(dir, 'config.yaml'), [
    `storage: ${path.join(dir, 'storage')}`,
    'auth:',
    '  htpasswd:',
    `    file: ${path.join(dir, 'htpasswd')}`,
    'uplinks:',
    '  npmjs:',
    `    url: ${upstream}`,
    '    timeout: 120s',
    'packages:',
    // Never looked up upstream: what the test did not publish does not exist.
    "  '@bot-bottle/*':",
    '    access: $all',
    '    publish: $authenticated',
    "  '**':",
    '    access: $all',
    '    proxy: npmjs',
    'log: { type: stdout, format: pretty, level: warn }',
    '',
  ].join('\n'));
  const child: ChildProcess = spawn(process.execPath, [VERDACCIO, '--config', path.join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => { log += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${url}-/ping`).then((r) => r.ok, () => false);
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`verdaccio did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // A user for publishing (the registry's own adduser endpoint, as `npm adduser` uses).
  const user = await fetch(`${url}-/user/org.couchdb.user:release`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'release', password: 'release-test-only', email: 'release@example.invalid' }),
  });
  const { token } = (await user.json()) as { token?: string };
  if (!token) throw new Error(`verdaccio gave no token (${user.status})`);
  const npmrc = path.join(dir, 'npmrc');
  await writeFile(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`);
  return {
    url,
    npmrc,
    publish(tarball: string) {
      const r = run('npm', ['publish', tarball, '--userconfig', npmrc, '--registry', url, '--access', 'public', '--ignore-scripts'], { timeout: 120_000 });
      if (r.code !== 0) throw new Error(`npm publish ${path.basename(tarball)} failed: ${r.stderr}\n${log}`);
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    },
  };
}

export interface UserShell {
  /** An empty npm prefix; `bin` under it is first on PATH. */
  prefix: string;
  home: string;
  env: NodeJS.ProcessEnv;
  /** Runs a command as that user would, in `cwd` (default: home). */
  sh(cmd: string, args: string[], opts?: { cwd?: string; timeout?: number; input?: string; env?: NodeJS.ProcessEnv }): { code: number | null; stdout: string; stderr: string };
}

/**
 * A user's shell with nothing of this checkout: a clean HOME and XDG dirs, an empty global npm
 * prefix, PATH = that prefix's bin, Node's own dir and the system dirs. Only what a host needs for
 * its network and engine is kept (the CA bundle Node is told about, DOCKER_HOST).
 */
export async function userShell(root: string, registry: Registry): Promise<UserShell> {
  const home = path.join(root, 'home');
  const prefix = path.join(root, 'prefix');
  await mkdir(home, { recursive: true });
  await mkdir(prefix, { recursive: true });
  await writeFile(path.join(home, '.npmrc'), `registry=${registry.url}\nprefix=${prefix}\nupdate-notifier=false\nfund=false\naudit=false\n`);
  const env: NodeJS.ProcessEnv = {
    HOME: home,
    USER: process.env.USER ?? 'root',
    PATH: [path.join(prefix, 'bin'), path.dirname(process.execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':'),
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local/share'),
    XDG_STATE_HOME: path.join(home, '.local/state'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    LANG: 'C.UTF-8',
    CI: 'true',
  };
  for (const k of ['NODE_EXTRA_CA_CERTS', 'DOCKER_HOST', 'TMPDIR']) if (process.env[k]) env[k] = process.env[k];
  return {
    prefix,
    home,
    env,
    sh(cmd, args, opts = {}) {
      const r = run(cmd, args, { cwd: opts.cwd ?? home, env: { ...env, ...opts.env }, timeout: opts.timeout ?? 900_000, input: opts.input ?? '' });
      return { code: r.code, stdout: r.stdout, stderr: r.stderr + (r.error ? `\n${r.error.message}` : '') };
    },
  };
}

export async function tempRoot(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
