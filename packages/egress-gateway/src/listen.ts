/**
 * Where a gateway listens (a TCP port on a host, or a unix socket, whose stale file is removed
 * first), and the address it then reports. Shared by the single-process gateway and the pool's
 * listening process.
 */
import { rm } from 'node:fs/promises';
import type { Server } from 'node:net';

export type ListenAt = { port?: number; host?: string } | { socket: string };

export interface Listening {
  /** `http://host:port` (loopback for a wildcard host); null on a unix socket. */
  url: string | null;
  port: number | null;
  socketPath: string | null;
}

export async function listenOn(server: Server, listen: ListenAt): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if ('socket' in listen) {
      void rm(listen.socket, { force: true }).then(() => server.listen(listen.socket, done), reject);
    } else server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1', done);
  });
  const addr = server.address();
  const port = addr && typeof addr === 'object' ? addr.port : null;
  const host = 'socket' in listen ? null : (listen.host ?? '127.0.0.1');
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    url: port !== null && urlHost ? `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${port}` : null,
    port,
    socketPath: 'socket' in listen ? listen.socket : null,
  };
}
