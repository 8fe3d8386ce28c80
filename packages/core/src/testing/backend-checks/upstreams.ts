/**
 * The host services the backend checks start themselves, each listening on every address of this
 * host (0.0.0.0): an HTTP server that stands in for a public API (a route's `to` points the
 * gateway at it) and a `git daemon` upstream. From the bundle they are reachable (that is the
 * control); from the bottle they must not be. Nothing here sends a packet off this machine.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface UpstreamRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HttpUpstream {
  port: number;
  /** Every request it received so far, in order. */
  requests(): UpstreamRequest[];
  close(): Promise<void>;
}

/** Answers every request with `checks upstream METHOD URL`, and remembers it. */
export async function startHttpUpstream(): Promise<HttpUpstream> {
  const seen: UpstreamRequest[] = [];
  const server = http.createServer((q, s) => {
    const body: Buffer[] = [];
    q.on('data', (b: Buffer) => body.push(b));
    q.on('end', () => {
      seen.push({ method: q.method ?? '', url: q.url ?? '', headers: q.headers, body: Buffer.concat(body).toString('utf8') });
      s.end(`checks upstream ${q.method} ${q.url}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    requests: () => [...seen],
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export interface GitUpstream {
  port: number;
  /** The bare repositories' folder on this host. */
  dir: string;
  /** `git://HOST:PORT/NAME.git`, as the bundle (or anyone) reaches it at `host`. */
  url(host: string, name: string): string;
  /** Runs git on this host in the bare repository `name` (e.g. `rev-parse main`). */
  git(name: string, ...args: string[]): Promise<string>;
  close(): Promise<void>;
}

const IDENTITY = ['-c', 'user.name=Checks Upstream', '-c', 'user.email=upstream@checks.invalid'];

/** A free TCP port on every address; the daemon binds it a moment later (retried if taken meanwhile). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '0.0.0.0', () => resolve()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/**
 * `git daemon` serving bare repositories `names` (each with one commit on main), fetch and push
 * (receive-pack) without authentication: the bundle's git-gate is its only client that matters.
 */
export async function startGitUpstream(root: string, names: readonly string[]): Promise<GitUpstream> {
  const dir = path.join(root, 'git-upstream');
  await mkdir(dir, { recursive: true });
  for (const name of names) {
    const bare = path.join(dir, `${name}.git`);
    const seed = path.join(root, `git-seed-${name}`);
    await run('git', ['init', '-q', '--bare', '--initial-branch=main', bare]);
    await run('git', ['init', '-q', '--initial-branch=main', seed]);
    await writeFile(path.join(seed, 'README.md'), `${name}\n`);
    await run('git', ['-C', seed, 'add', 'README.md']);
    await run('git', ['-C', seed, ...IDENTITY, 'commit', '-q', '-m', `initial ${name}`]);
    await run('git', ['-C', seed, 'push', '-q', bare, 'main']);
  }
  let daemon: ChildProcess | undefined;
  let port = 0;
  let log = '';
  for (let attempt = 0; attempt < 5 && !daemon; attempt++) {
    port = await freePort();
    const child = spawn('git', ['daemon', '--reuseaddr', '--listen=0.0.0.0', `--port=${port}`, `--base-path=${dir}`, '--export-all', '--enable=receive-pack', '--informative-errors', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (b: Buffer) => (log = (log + b).slice(-2000)));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    for (let i = 0; i < 100; i++) {
      const up = await run('git', ['ls-remote', `git://127.0.0.1:${port}/${names[0]}.git`]).then(() => true, () => false);
      if (up) {
        daemon = child;
        break;
      }
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!daemon) {
      child.kill('SIGKILL');
      await exited;
    }
  }
  if (!daemon) throw new Error(`the test's git daemon did not start: ${log}`);
  const running = daemon;
  return {
    port,
    dir,
    url: (host, name) => `git://${host}:${port}/${name}.git`,
    git: async (name, ...args) => (await run('git', ['-C', path.join(dir, `${name}.git`), ...IDENTITY, ...args])).stdout.trim(),
    close: async () => {
      if (running.exitCode !== null) return;
      const gone = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.kill('SIGTERM');
      await gone;
    },
  };
}

/** Commits a file to `name`'s main on the upstream itself (someone else's work the bottle should fetch). */
export async function commitOnUpstream(up: GitUpstream, root: string, name: string, file: string): Promise<string> {
  const clone = path.join(root, `git-other-${name}-${file}`);
  await run('git', ['clone', '-q', path.join(up.dir, `${name}.git`), clone]);
  await writeFile(path.join(clone, file), `${file}\n`);
  await run('git', ['-C', clone, 'add', file]);
  await run('git', ['-C', clone, ...IDENTITY, 'commit', '-q', '-m', `upstream ${file}`]);
  await run('git', ['-C', clone, 'push', '-q', 'origin', 'HEAD:main']);
  return (await run('git', ['-C', clone, 'rev-parse', 'HEAD'])).stdout.trim();
}
