/**
 * The host's side of the egress gateway's admin socket (GET/PUT /routes), which lives in the
 * bottle's control folder: a host folder the bottle never sees and the bundle's services cannot
 * reach. Only the host talks to it; the supervise server in the bundle never does.
 */
import http from 'node:http';
import * as v from 'valibot';
import { BottleError, EgressRouteSchema, type EgressRoute } from '@bot-bottle/core/service';

const RoutesReply = v.object({ routes: v.array(EgressRouteSchema) });

function call(socketPath: string, method: 'GET' | 'PUT', body?: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        socketPath,
        method,
        path: '/routes',
        headers: text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let json: unknown = null;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            // reported below by status
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', reject);
    req.end(text);
  });
}

function unreachable(slug: string, e: NodeJS.ErrnoException): BottleError {
  return new BottleError('BACKEND_FAILED', `cannot reach the egress gateway of ${slug} (${e.code ?? e.message})`, {
    suggestions: [`Check that the bottle runs (bottle ls); a stopped bottle's requests are gone with it.`, 'Run as the user that started the bottle.'],
  });
}

function routesOf(slug: string, status: number, json: unknown): EgressRoute[] {
  const r = v.safeParse(RoutesReply, json);
  if (status === 200 && r.success) return r.output.routes;
  const err = (json ?? {}) as { error?: unknown; details?: unknown };
  const details = Array.isArray(err.details) ? err.details.filter((d): d is string => typeof d === 'string') : [];
  throw new BottleError('BACKEND_FAILED', `the egress gateway of ${slug} refused the change: ${typeof err.error === 'string' ? err.error : `HTTP ${status}`}`, { details });
}

export async function getRoutes(socketPath: string, slug: string): Promise<EgressRoute[]> {
  const r = await call(socketPath, 'GET').catch((e: NodeJS.ErrnoException) => {
    throw unreachable(slug, e);
  });
  return routesOf(slug, r.status, r.json);
}

/** Replaces the running gateway's routes; `secrets` are values of env vars it does not hold yet. */
export async function putRoutes(socketPath: string, slug: string, routes: readonly EgressRoute[], secrets: Record<string, string> = {}): Promise<EgressRoute[]> {
  const body = Object.keys(secrets).length ? { routes, secrets } : { routes };
  const r = await call(socketPath, 'PUT', body).catch((e: NodeJS.ErrnoException) => {
    throw unreachable(slug, e);
  });
  return routesOf(slug, r.status, r.json);
}
