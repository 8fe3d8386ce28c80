/**
 * Run-time changes without a restart: a small HTTP API on a unix socket in the bottle's control
 * folder, which only the host reaches (the bottle never sees it; the bundle's services cannot enter
 * it). GET /routes, PUT /routes {"routes": [...], "secrets"?: {"ENV_NAME": "value"}}, GET /health.
 * `secrets` carries the value of a credential a newly approved route injects, read from the host's
 * env at approval; it is never echoed back.
 */
import { chmod, rm } from 'node:fs/promises';
import http from 'node:http';
import { isServiceError, readJsonBody } from '@bot-bottle/core/service';
import type { Gateway } from './gateway.js';

const MAX_BODY = 1024 * 1024;

export interface AdminServer {
  socketPath: string;
  close(): Promise<void>;
}

function reply(res: http.ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startAdminServer(gateway: Gateway, socketPath: string): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    if (req.url === '/health' && req.method === 'GET') return reply(res, 200, { ok: true, stats: gateway.stats() });
    if (req.url !== '/routes') return reply(res, 404, { error: 'unknown path; use /routes or /health' });
    if (req.method === 'GET') return reply(res, 200, { routes: gateway.routes() });
    if (req.method !== 'PUT') return reply(res, 405, { error: 'use GET or PUT' });
    void readJsonBody(req, MAX_BODY).then((read) => {
      if (!read.ok && read.problem === 'too-large') {
        reply(res, 413, { error: 'routes larger than 1 MiB' });
        req.destroy();
        return;
      }
      if (!read.ok) return reply(res, 400, { error: 'the body is not JSON; send {"routes": [...]}' });
      const body = read.value;
      const obj = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { routes?: unknown; secrets?: unknown }) : {};
      const routes = obj.routes;
      if (routes === undefined) return reply(res, 400, { error: 'send {"routes": [...]}' });
      const secrets = obj.secrets ?? {};
      if (typeof secrets !== 'object' || secrets === null || Array.isArray(secrets) || Object.values(secrets).some((x) => typeof x !== 'string')) {
        return reply(res, 400, { error: 'secrets must be {"ENV_NAME": "value", ...}' });
      }
      // Answered once the routes are in force in every process of the gateway.
      return gateway.setRoutes(routes, secrets as Record<string, string>).then(
        (applied) => reply(res, 200, { routes: applied }),
        (e: unknown) => {
          if (isServiceError(e)) return reply(res, 400, { error: e.message, details: e.details, suggestions: e.suggestions });
          reply(res, 500, { error: (e as Error).message });
        },
      );
    });
  });
  await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600);
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
