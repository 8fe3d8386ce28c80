/**
 * Port forwarding into a bottle: a listener on the host (loopback unless asked otherwise) whose
 * every connection is carried into the bottle's own loopback port over the backend's channel
 * (`Backend.connect`): the bottle keeps no network interface and opens nothing. While forwarding,
 * a record in the bottle's state dir lets `bottle ls` show the ports.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BottleError, EXIT_USAGE, bottleStateDir, type Backend } from '@bot-bottle/core';

export interface PortSpec {
  /** The port in the bottle. */
  port: number;
  /** The host port (default: the same number). */
  hostPort: number;
}

/** `3000` or `3000:13000` (bottle port, then host port). */
export function parsePortSpec(spec: string | number): PortSpec {
  const m = /^(\d{1,5})(?::(\d{1,5}))?$/.exec(String(spec));
  const port = Number(m?.[1]);
  const hostPort = m?.[2] === undefined ? port : Number(m[2]);
  const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (!m || !ok(port) || !ok(hostPort)) {
    throw new BottleError('USAGE', `${JSON.stringify(String(spec))} is not a port to forward`, { suggestions: ['Give the bottle\'s port, optionally with the host port: 3000 or 3000:13000'], exit: EXIT_USAGE });
  }
  return { port, hostPort };
}

export interface Forwarding {
  listening: { address: string; hostPort: number; port: number }[];
  close(): Promise<void>;
}

/** Starts one listener per spec; a connection the bottle refuses is closed (and told to `log`). */
export async function forwardPorts(backend: Backend, slug: string, specs: readonly PortSpec[], address: string, log: (m: string) => void): Promise<Forwarding> {
  const connect = backend.connect?.bind(backend);
  if (!connect) throw new BottleError('USAGE', `the ${backend.name} backend cannot forward ports yet`, { suggestions: ['Run the bottle on the docker backend to use `bottle port`.'], exit: EXIT_USAGE });
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const listening: Forwarding['listening'] = [];
  const record = path.join(bottleStateDir(slug), 'ports', `${process.pid}.json`);
  const close = async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    await rm(record, { force: true });
  };
  try {
    for (const spec of specs) {
      const server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        connect(slug, spec.port).then(
          (channel) => {
            pipeline(socket, channel, socket).catch((e: unknown) => log(`${address}:${spec.hostPort} -> ${slug}:${spec.port}: ${(e as Error).message}`));
          },
          (e: unknown) => {
            log(`${address}:${spec.hostPort} -> ${slug}:${spec.port}: ${(e as Error).message}`);
            socket.destroy();
          },
        );
      });
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e: NodeJS.ErrnoException) =>
          reject(new BottleError('USAGE', `cannot listen on ${address}:${spec.hostPort} (${e.code ?? e.message})`, { suggestions: [`Choose another host port: ${spec.port}:${spec.hostPort + 10000 > 65535 ? 18000 : spec.hostPort + 10000}`], exit: EXIT_USAGE })),
        );
        server.listen(spec.hostPort, address, () => resolve());
      });
      listening.push({ address, hostPort: (server.address() as net.AddressInfo).port, port: spec.port });
    }
    await mkdir(path.dirname(record), { recursive: true, mode: 0o700 });
    await writeFile(record, `${JSON.stringify({ pid: process.pid, ports: listening })}\n`, { mode: 0o600 });
  } catch (e) {
    await close();
    throw e;
  }
  return { listening, close };
}

/** The ports forwarded into a bottle now (records of live `bottle port` or `bottle run` processes). */
export async function forwardedPorts(slug: string): Promise<string[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const dir = path.join(bottleStateDir(slug), 'ports');
  const out: string[] = [];
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    const rec = JSON.parse((await readFile(path.join(dir, f), 'utf8').catch(() => '{}')) || '{}') as { pid?: number; ports?: Forwarding['listening'] };
    const alive = typeof rec.pid === 'number' && (() => {
      try {
        process.kill(rec.pid!, 0);
        return true;
      } catch {
        return false;
      }
    })();
    if (alive) for (const p of rec.ports ?? []) out.push(`${p.address}:${p.hostPort}->${p.port}`);
  }
  return out;
}
