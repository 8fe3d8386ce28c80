/**
 * Starts the bundle's services, each on a unix socket in the socket dir that only its own bottle
 * mounts: the bundle listens on no network port, so no other container (and no other bottle) can
 * call it.
 */
import { mkdir, rm, chmod } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { SERVICES, type BundleConfig, type ServiceName } from './config.js';

export interface RunningBundle {
  sockets: Record<ServiceName, string>;
  close(): Promise<void>;
}

function listen(server: http.Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * The egress service. Until the egress gateway is wired in, it answers a health check and refuses
 * every proxied request with 403, so the bottle has no way out at all.
 */
function placeholderEgress(config: BundleConfig): http.Server {
  return http.createServer((req, res) => {
    if (req.url === '/__bottle/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, slug: config.slug, service: 'bundle' }));
      return;
    }
    res.writeHead(403, { 'content-type': 'text/plain' });
    res.end(`bot-bottle: ${req.method} ${req.url} refused: no egress route allows it\n`);
  }).on('connect', (_req, socket) => {
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\nbot-bottle: refused: no egress route allows it\n');
  });
}

export async function startBundle(config: BundleConfig): Promise<RunningBundle> {
  await mkdir(config.socketDir, { recursive: true });
  const servers: http.Server[] = [];
  const sockets = {} as Record<ServiceName, string>;
  const egressPath = path.join(config.socketDir, SERVICES.egress.socket);
  await rm(egressPath, { force: true });
  const egress = placeholderEgress(config);
  await listen(egress, egressPath);
  await chmod(egressPath, 0o666);
  servers.push(egress);
  sockets.egress = egressPath;
  return {
    sockets,
    async close() {
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
