/**
 * A worker of a gateway pool (pool.ts): a gateway that listens nowhere and serves the client
 * connections its primary hands it. Started by the primary with an `init` message; exits when the
 * primary says `close` or when the IPC channel goes (the primary is gone).
 */
import type net from 'node:net';
import { caFromPem } from './ca.js';
import { startGateway, type Gateway, type GatewayStats } from './gateway.js';
import type { FromWorker, ToWorker } from './pool.js';

const send = (m: FromWorker, then?: () => void) => {
  if (process.connected) process.send!(m, undefined, {}, () => then?.());
  else then?.();
};

let gateway: Gateway | null = null;
let lines = '';
let scheduled = false;
let lastStats = '';

function flushAudit(then?: () => void) {
  scheduled = false;
  const stats = gateway?.stats() as GatewayStats;
  if (lines) {
    const m: FromWorker = { type: 'audit', lines, stats };
    lines = '';
    lastStats = JSON.stringify(stats);
    send(m, then);
  } else then?.();
}

// Connection counts change without a request: sent once a second when they did.
setInterval(() => {
  if (!gateway) return;
  const stats = gateway.stats();
  const text = JSON.stringify(stats);
  if (text !== lastStats) {
    lastStats = text;
    send({ type: 'stats', stats });
  }
}, 1000).unref();

process.on('disconnect', () => process.exit(0));

process.on('message', (m: ToWorker, handle?: net.Socket) => {
  if (m.type === 'conn') {
    if (gateway && handle) gateway.accept(handle);
    else handle?.destroy();
    return;
  }
  if (m.type === 'init') {
    void (async () => {
      try {
        gateway = await startGateway({
          ca: caFromPem(m.ca.certPem, m.ca.keyPem),
          routes: m.routes,
          secrets: m.secrets,
          extraCaCerts: m.extraCaCerts,
          listen: null,
          auditLogPath: null,
          // One message per event-loop turn carries every line written in it.
          onAudit: (entry) => {
            lines += JSON.stringify(entry) + '\n';
            if (!scheduled) {
              scheduled = true;
              setImmediate(() => flushAudit());
            }
          },
          maxClientConnections: m.maxClientConnections,
          tunnelFirstByteTimeoutMs: m.tunnelFirstByteTimeoutMs,
          gcEveryBytes: m.gcEveryBytes,
        });
        send({ type: 'ready' });
      } catch (e) {
        send({ type: 'failed', message: (e as Error).message }, () => process.exit(1));
      }
    })();
    return;
  }
  if (m.type === 'routes') {
    if (!gateway) return send({ type: 'applied', id: m.id, error: 'not started' });
    gateway.setRoutes(m.routes, m.secrets).then(
      () => send({ type: 'applied', id: m.id }),
      (e: Error) => send({ type: 'applied', id: m.id, error: e.message }),
    );
    return;
  }
  if (m.type === 'close') {
    void (gateway?.close() ?? Promise.resolve()).then(() => flushAudit(() => process.exit(0)));
  }
});
