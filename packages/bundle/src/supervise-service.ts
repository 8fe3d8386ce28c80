#!/usr/bin/env node
/**
 * The supervise MCP server's process. The supervisor starts it as the supervise user from the
 * first instruction, with an environment that holds no secret: it parses the bottle's JSON-RPC, so
 * it gets nothing it could leak. It writes requests into the queue folder (a host folder), reads
 * decisions and the routes in force from a host folder mounted read-only, and never reaches the
 * gateway's admin socket: a person changes the routes from the host. The audit log comes as a
 * descriptor.
 */
import { createWriteStream } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as v from 'valibot';
import { EgressRouteSchema, RouteAuthEntries, ServiceError, issueLines } from '@bot-bottle/core/service';
import { startSuperviseServer, type GitRepoRule } from '@bot-bottle/supervise/server';
import { onStop, readInput, reportFailure, reportReady } from './service-io.js';

export interface SuperviseServiceInput {
  /** The socket the bottle reaches (in the shared socket folder). */
  socket: string;
  queueDir: string;
  decisionsDir: string;
  /** The routes at launch (names of credentials only; the values are the gateway's), checked here. */
  routes: unknown[];
  repos: GitRepoRule[];
  /** The host env vars a request may ask for (the manifest's `supervise.credentials`); checked here. */
  credentials: string[];
  /** The audit log, open for appending. */
  auditFd: number;
}

/** The queue folder must take this user's files (the host makes it so); said at start, not at the first request. */
async function checkWritable(dir: string): Promise<void> {
  const probe = path.join(dir, `.probe-${process.pid}`);
  try {
    await writeFile(probe, '', { flag: 'wx' });
    await rm(probe, { force: true });
  } catch (e) {
    throw new ServiceError(`the supervise server cannot write its queue folder ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      suggestions: ["The host makes the bottle's supervise/queue folder writable for the bundle at launch; launch the bottle again with this version of bottle."],
    });
  }
}

try {
  const input = await readInput<SuperviseServiceInput>();
  const routes = v.safeParse(v.array(EgressRouteSchema), input.routes);
  if (!routes.success) throw new ServiceError('the supervise server got routes that are not valid', { kind: 'config', details: issueLines(routes.issues, ['egress', 'routes']) });
  const credentials = v.safeParse(v.array(RouteAuthEntries.env), input.credentials ?? []);
  if (!credentials.success) throw new ServiceError('the supervise server got credential names that are not env var names', { kind: 'config', details: issueLines(credentials.issues, ['supervise', 'credentials']) });
  await checkWritable(input.queueDir);
  const audit = createWriteStream('', { fd: input.auditFd });
  audit.on('error', (e) => process.stderr.write(`supervise: audit log: ${e.message}\n`));
  // The socket is made 666 by the umask at bind time (the bottle's forwarder connects to it); no
  // chmod by path afterwards. (Request files get mode 644 explicitly: the host user reads them.)
  const umask = process.umask(0o111);
  let server;
  try {
    server = await startSuperviseServer({
      listen: { socket: input.socket },
      queueDir: input.queueDir,
      decisionsDir: input.decisionsDir,
      routes: routes.output,
      repos: input.repos,
      credentials: credentials.output,
      onAudit: (entry) => audit.write(JSON.stringify(entry) + '\n'),
    });
  } finally {
    process.umask(umask);
  }
  const running = server;
  onStop(async () => {
    await running.close();
    await new Promise((resolve) => audit.end(resolve));
  });
  await reportReady({ socket: input.socket });
} catch (e) {
  await reportFailure(e);
}
