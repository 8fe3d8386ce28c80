/**
 * The gateway on several cores: a primary process that listens and serves, and worker processes
 * that serve. The primary accepts each client connection and keeps it or hands it (the descriptor,
 * over the IPC channel) to the next worker, in turn; a connection stays where it went for its life,
 * CONNECT tunnel included. The primary serves a share itself rather than only dispatching: a
 * process that only dispatched would cost a whole process's memory for little work.
 *
 * - Routes: the primary checks a change (checkRouteChange), sends it to every worker and resolves
 *   only when each has answered that it decides by it, so an approved route is in force in every
 *   worker when `setRoutes` (and the admin socket's PUT) returns.
 * - Audit: workers send their lines to the primary, whole lines in one message per event-loop
 *   turn; the primary alone writes the log, so lines never interleave.
 * - Connections: each process takes at most floor(max / processes) client connections, so the
 *   bound holds for the whole gateway (a process evicts its own idlest connection when it is full).
 * - Leaves: each worker signs and caches its own (Node's crypto, no library; one key per worker).
 * - A worker that dies is replaced; the connections it held are lost, as in a restart.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { listenOn } from './listen.js';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { EgressRoute } from '@bot-bottle/core/service';
import { AuditLog } from './audit.js';
import { loadCa } from './ca.js';
import { checkRouteChange, checkSecrets, startGateway, type Gateway, type GatewayOptions, type GatewayStats } from './gateway.js';
import { parseRoutes } from './rules.js';

/** What a worker is started with (over IPC: the CA key and the secrets never touch argv or env). */
export interface WorkerInit {
  type: 'init';
  ca: { certPem: string; keyPem: string };
  routes: EgressRoute[];
  secrets: Record<string, string>;
  extraCaCerts: string[];
  maxClientConnections: number;
  tunnelFirstByteTimeoutMs?: number;
  gcEveryBytes?: number;
}

export type ToWorker = WorkerInit | { type: 'routes'; id: number; routes: EgressRoute[]; secrets: Record<string, string> } | { type: 'conn' } | { type: 'close' };
export type FromWorker = { type: 'ready' } | { type: 'failed'; message: string } | { type: 'applied'; id: number; error?: string } | { type: 'audit'; lines: string; stats: GatewayStats } | { type: 'stats'; stats: GatewayStats };

const WORKER = fileURLToPath(new URL('./pool-worker.js', import.meta.url));

interface Worker {
  child: ChildProcess;
  stats: GatewayStats;
  ready: Promise<void>;
}

const zeroStats = (): GatewayStats => ({ clientSockets: 0, upstreamSockets: 0, requests: 0, denied: 0, evictedClients: 0, refusedClients: 0 });

/** `workers`: processes that serve, this one included (2 or more: this one and workers - 1 children). */
export async function startGatewayPool(options: GatewayOptions & { workers: number }): Promise<Gateway> {
  const count = Math.max(1, Math.floor(options.workers) - 1);
  const ca = 'issuer' in options.ca ? options.ca : await loadCa(options.ca.cert, options.ca.key);
  const secrets = { ...(options.secrets ?? {}) };
  let routes = parseRoutes(options.routes);
  checkSecrets(routes, secrets);
  const audit = new AuditLog(options.auditFd ?? options.auditLogPath ?? null, options.onAudit);
  const max = options.maxClientConnections ?? 512;
  const perWorker = Math.max(1, Math.floor(max / (count + 1)));
  const keyPem = ca.key.export({ type: 'pkcs8', format: 'pem' }).toString();
  let closing = false;
  /** Stats of workers that have exited (their counts stay in the totals). */
  const gone = zeroStats();
  let nextChange = 1;
  const waiting = new Map<number, { left: Set<ChildProcess>; resolve: () => void; reject: (e: Error) => void }>();

  const init = (): WorkerInit => ({
    type: 'init',
    ca: { certPem: ca.certPem, keyPem },
    routes,
    secrets,
    extraCaCerts: [...(options.extraCaCerts ?? [])],
    maxClientConnections: perWorker,
    tunnelFirstByteTimeoutMs: options.tunnelFirstByteTimeoutMs,
    gcEveryBytes: options.gcEveryBytes,
  });

  const workers: Worker[] = [];
  function spawnWorker(slot: number): Worker {
    // The worker runs with this process's node flags and environment (which holds no secret in
    // the bundle); what it needs beyond that comes over the IPC channel.
    const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    const w: Worker = { child, stats: zeroStats(), ready: Promise.resolve() };
    w.ready = new Promise<void>((resolve, reject) => {
      child.on('message', (m: FromWorker) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'failed') reject(new Error(m.message));
        else if (m.type === 'audit') {
          audit.writeLines(m.lines);
          w.stats = m.stats;
        } else if (m.type === 'stats') w.stats = m.stats;
        else if (m.type === 'applied') {
          const change = waiting.get(m.id);
          if (!change) return;
          if (m.error) {
            waiting.delete(m.id);
            change.reject(new Error(`a gateway worker refused the routes: ${m.error}`));
            return;
          }
          change.left.delete(child);
          if (change.left.size === 0) {
            waiting.delete(m.id);
            change.resolve();
          }
        }
      });
      child.once('exit', (code, signal) => {
        reject(new Error(`gateway worker exited (${code ?? signal}) before it was ready`));
        for (const k of Object.keys(gone) as (keyof GatewayStats)[]) if (k !== 'clientSockets' && k !== 'upstreamSockets') gone[k] += w.stats[k];
        // A change it had not confirmed does not wait for it.
        for (const [id, change] of waiting) {
          change.left.delete(child);
          if (change.left.size === 0) {
            waiting.delete(id);
            change.resolve();
          }
        }
        if (closing) return;
        process.stderr.write(`egress gateway: worker ${child.pid} exited (${code ?? signal}); starting another\n`);
        const again = spawnWorker(slot);
        workers[slot] = again;
        again.ready.catch((e: Error) => process.stderr.write(`egress gateway: ${e.message}\n`));
      });
    });
    child.send(init());
    return w;
  }
  for (let i = 0; i < count; i++) workers.push(spawnWorker(i));
  let local: Gateway;
  try {
    await Promise.all(workers.map((w) => w.ready));
    local = await startGateway({ ...options, ca, secrets, routes, listen: null, auditLogPath: null, auditFd: undefined, onAudit: (e) => audit.write(e), maxClientConnections: perWorker });
  } catch (e) {
    closing = true;
    for (const w of workers) w.child.kill();
    throw e;
  }

  let turn = 0;
  const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
    const at = turn++ % (workers.length + 1);
    if (at === workers.length) {
      local.accept(socket);
      socket.resume();
      return;
    }
    const w = workers[at]!;
    if (!w.child.connected) {
      socket.destroy();
      return;
    }
    // keepOpen false: once sent, this process's copy of the descriptor is closed.
    w.child.send({ type: 'conn' } satisfies ToWorker, socket, (err) => {
      if (err) socket.destroy();
    });
  });
  const listen = options.listen === undefined ? { port: 0, host: '127.0.0.1' } : options.listen;
  if (!listen) throw new Error('a gateway pool listens itself: give it listen');
  const at = await listenOn(server, listen);

  return {
    ...at,
    caCertPem: ca.certPem,
    routes: () => structuredClone([...routes]),
    async setRoutes(next: unknown, added: Record<string, string> = {}) {
      const change = checkRouteChange(next, added, secrets);
      for (const [name, value] of change.fresh) secrets[name] = value;
      routes = change.routes;
      const fresh = Object.fromEntries(change.fresh);
      await local.setRoutes(change.routes, fresh);
      const id = nextChange++;
      const live = workers.map((w) => w.child).filter((c) => c.connected);
      await new Promise<void>((resolve, reject) => {
        if (live.length === 0) return resolve();
        waiting.set(id, { left: new Set(live), resolve, reject });
        for (const c of live) c.send({ type: 'routes', id, routes: change.routes, secrets: fresh } satisfies ToWorker);
      });
      return structuredClone(change.routes);
    },
    stats() {
      const sum = { ...gone, clientSockets: 0, upstreamSockets: 0 };
      const own = local.stats();
      for (const k of Object.keys(sum) as (keyof GatewayStats)[]) sum[k] += own[k];
      for (const w of workers) for (const k of Object.keys(sum) as (keyof GatewayStats)[]) sum[k] += w.stats[k];
      return sum;
    },
    accept(socket: net.Socket) {
      server.emit('connection', socket);
    },
    async close() {
      closing = true;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await local.close();
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
              const t = setTimeout(() => w.child.kill('SIGKILL'), 5000);
              // 'close': after the exit and after its last messages (audit lines) were read.
              w.child.once('close', () => {
                clearTimeout(t);
                resolve();
              });
              if (w.child.connected) w.child.send({ type: 'close' } satisfies ToWorker);
              else w.child.kill();
            }),
        ),
      );
      await audit.close();
    },
  };
}
