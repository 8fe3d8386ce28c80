/**
 * The host's side of the queue, for `bottle supervise`: the pending requests of each bottle, and a
 * person's decision on one. An approval adds the route to the running gateway through its admin
 * socket (no restart), records the decision where the bundle reads it, and, with --persist, adds
 * the route to the manifest. Every decision is an audit line in the bottle's log.
 *
 * Request files come from the bundle and are trusted for nothing: each is read without following
 * links, size-capped, and checked by the same schema as the tool's input before a person sees it.
 */
import { constants } from 'node:fs';
import { open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import * as v from 'valibot';
import { BottleError, CONTROL_DIR_NAME, EGRESS_ADMIN_SOCKET, EXIT_USAGE, EgressRouteSchema, RouteAuthEntries, type EgressRoute, type SuperviseAuditEntry } from '@bot-bottle/core/service';
import { getRoutes, putRoutes } from './admin-client.js';
import { prepareManifestEdit, writeManifestEdit, type ManifestEdit } from './persist.js';
import { listQueue, readDecision, readRequest, readRoutesFile, writeDecision, writeRoutesFile, type QueuedRequest } from './queue.js';
import { REQUEST_ID_PATTERN, credentialProblem, hostCovers, routeFor, type DecisionRecord, type RequestRecord } from './requests.js';

/** Where one bottle's queue and controls are, from the plan its launch wrote to its state dir. */
export interface BottleQueue {
  slug: string;
  stateDir: string;
  queueDir: string;
  decisionsDir: string;
  adminSocket: string;
  auditLog: string;
  manifestPath: string | null;
  bottleName: string | null;
  /**
   * The host env vars a request of this bottle may ask for (the plan's `supervise.credentials`,
   * from its manifest); empty for `"supervise": true`, and for a plan that names none or is unclear.
   */
  credentials: string[];
  /** The routes the bottle was launched with (the plan's), for when no approval has written routes.json yet. */
  launchRoutes: EgressRoute[];
}

interface PlanFile {
  slug?: unknown;
  manifestPath?: unknown;
  bottleName?: unknown;
  egress?: { auditLogPath?: unknown; routes?: unknown };
  supervise?: { queueDir?: unknown; decisionsDir?: unknown; credentials?: unknown } | null;
}

const str = (x: unknown): string | null => (typeof x === 'string' && x !== '' ? x : null);

/** The plan's credential names; anything but a list of env var names allows none. */
function planCredentials(x: unknown): string[] {
  const r = v.safeParse(v.array(RouteAuthEntries.env), x);
  return r.success ? [...new Set(r.output)] : [];
}

function planRoutes(x: unknown): EgressRoute[] {
  const r = v.safeParse(v.array(EgressRouteSchema), x);
  return r.success ? r.output : [];
}

/** The bottle's queue, or null when it has none (no `"supervise": true`, or no plan). */
export async function bottleQueue(stateDir: string): Promise<BottleQueue | null> {
  const text = await readFile(path.join(stateDir, 'plan.json'), 'utf8').catch(() => null);
  if (!text) return null;
  let plan: PlanFile;
  try {
    plan = JSON.parse(text) as PlanFile;
  } catch {
    return null;
  }
  const queueDir = str(plan.supervise?.queueDir);
  const decisionsDir = str(plan.supervise?.decisionsDir);
  if (!queueDir || !decisionsDir) return null;
  const slug = str(plan.slug) ?? path.basename(stateDir);
  return {
    slug,
    stateDir,
    queueDir,
    decisionsDir,
    adminSocket: path.join(stateDir, CONTROL_DIR_NAME, EGRESS_ADMIN_SOCKET),
    auditLog: str(plan.egress?.auditLogPath) ?? path.join(stateDir, 'log', 'audit.jsonl'),
    manifestPath: str(plan.manifestPath),
    bottleName: str(plan.bottleName),
    credentials: planCredentials(plan.supervise?.credentials),
    launchRoutes: planRoutes(plan.egress?.routes),
  };
}

/**
 * The routes in force as the host knows them without asking the gateway: routes.json of the last
 * approval (written by the host, read-only in the bundle), else the launch's.
 */
export async function knownRoutes(bottle: BottleQueue): Promise<EgressRoute[]> {
  return (await readRoutesFile(bottle.decisionsDir)) ?? bottle.launchRoutes;
}

/** What a request's credential would do, for the person deciding: said before, and at, approval. */
export interface CredentialAssessment {
  env: string;
  header: string;
  format: string | null;
  /** The manifest lets this bottle ask for it (`supervise.credentials`); approval refuses it otherwise. */
  allowed: boolean;
  /** The names the manifest lets this bottle ask for. */
  allowedNames: string[];
  /** Why approval will refuse it (not allowed), or null. */
  problem: string | null;
  /** The hosts of the routes in force that send this variable today. */
  sentTo: string[];
  /** No route in force sends this variable to this host today: approving sends it somewhere new. */
  newDestination: boolean;
  /** No route in force names the variable: its value would be read from the approving shell. */
  fromShell: boolean;
}

/** The credential `request` asks for, weighed against the manifest's allowlist and the routes in force. */
export function assessCredential(request: Pick<RequestRecord, 'host' | 'auth'>, allowed: readonly string[], routes: readonly EgressRoute[]): CredentialAssessment | null {
  if (!request.auth) return null;
  const { env, header } = request.auth;
  const sending = routes.filter((r) => r.auth?.env === env);
  const problem = credentialProblem(env, allowed);
  return {
    env,
    header,
    format: request.auth.format ?? null,
    allowed: problem === null,
    allowedNames: [...allowed],
    problem,
    sentTo: [...new Set(sending.map((r) => r.host))],
    newDestination: !sending.some((r) => hostCovers(r.host, request.host)),
    fromShell: sending.length === 0,
  };
}

export interface PendingRequest {
  slug: string;
  bottle: BottleQueue;
  request: RequestRecord;
}

export interface PendingListing {
  pending: PendingRequest[];
  /** Request files that were not valid requests, as `<slug>: <file>: why`. */
  skipped: string[];
}

/** The pending requests of these bottles, oldest first. */
export async function pendingRequests(bottles: readonly BottleQueue[]): Promise<PendingListing> {
  const pending: PendingRequest[] = [];
  const skipped: string[] = [];
  for (const b of bottles) {
    const listing = await listQueue(b.queueDir, b.decisionsDir);
    skipped.push(...listing.skipped.map((s) => `${b.slug}: ${s}`));
    for (const q of listing.requests) if (q.status === 'pending') pending.push({ slug: b.slug, bottle: b, request: q.request });
  }
  pending.sort((a, b) => a.request.time.localeCompare(b.request.time));
  return { pending, skipped };
}

/** The bottle whose queue holds request `id`, and the request (checked). */
export async function findRequest(id: string, bottles: readonly BottleQueue[]): Promise<{ bottle: BottleQueue; queued: QueuedRequest }> {
  if (!REQUEST_ID_PATTERN.test(id)) {
    throw new BottleError('USAGE', `"${id}" is not a request id (like req-0123456789)`, { suggestions: ['List the pending requests with `bottle supervise list`.'], exit: EXIT_USAGE });
  }
  for (const bottle of bottles) {
    const r = await readRequest(bottle.queueDir, id);
    if (r.ok) return { bottle, queued: { request: r.record, decision: await readDecision(bottle.decisionsDir, id), status: 'pending' } };
    if (!r.missing) {
      throw new BottleError('BACKEND_FAILED', `request ${id} of ${bottle.slug} cannot be trusted: its file is ${r.why}`, {
        suggestions: ['Deny nothing and approve nothing from that bottle until you know why; `bottle stop` removes it and its queue.'],
      });
    }
  }
  throw new BottleError('BOTTLE_NOT_FOUND', `no running bottle has a request ${id}`, {
    suggestions: ['List the pending requests with `bottle supervise list`; a stopped bottle\'s requests are gone with it.'],
    exit: EXIT_USAGE,
  });
}

/** One decision per bottle at a time: the routes read, changed and written back are not raced. */
async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(dir, '.lock');
  for (let i = 0; ; i++) {
    try {
      const fh = await open(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const st = await stat(lock).catch(() => null);
      // A lock left by a CLI that was killed is taken over after a minute.
      if (st && Date.now() - st.mtimeMs > 60_000) await rm(lock, { force: true });
      if (i > 150) {
        throw new BottleError('BACKEND_FAILED', `another \`bottle supervise\` is deciding on a request of this bottle (${lock})`, {
          suggestions: ['Wait for it to finish, then try again.'],
        });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

/** Appends one line to the bottle's audit log (one write on a file opened for appending). */
export async function appendAudit(file: string, entry: SuperviseAuditEntry): Promise<void> {
  const fh = await open(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o640);
  try {
    await fh.write(JSON.stringify(entry) + '\n');
  } finally {
    await fh.close();
  }
}

function alreadyDecided(id: string, d: DecisionRecord): BottleError {
  return new BottleError('USAGE', `request ${id} was already ${d.status} by ${d.decidedBy} at ${d.time}`, {
    suggestions: ['List the pending requests with `bottle supervise list`.'],
    exit: EXIT_USAGE,
  });
}

function auditAsk(r: RequestRecord) {
  return {
    id: r.id,
    host: r.host,
    ...(r.methods ? { methods: r.methods } : {}),
    ...(r.paths ? { paths: r.paths } : {}),
    ...(r.auth ? { auth: { header: r.auth.header, env: r.auth.env } } : {}),
  };
}

export interface ApproveOptions {
  bottle: BottleQueue;
  id: string;
  decidedBy: string;
  /** The host env the credential's value is read from, at this moment. */
  env: NodeJS.ProcessEnv;
  persist: boolean;
  /**
   * The request as it was shown to the person: the queue is the bundle's to rewrite, so an approval
   * of a request that changed since (another host, format, path) is refused rather than granted.
   */
  expect?: RequestRecord;
}

/** A request's content in a fixed order, for telling whether two reads of it are the same. */
function requestKey(r: RequestRecord): string {
  return JSON.stringify([r.id, r.time, r.host, r.reason, r.methods ?? null, r.paths ?? null, r.auth ? [r.auth.header, r.auth.env, r.auth.format ?? null] : null]);
}

export interface ApproveResult {
  request: RequestRecord;
  route: EgressRoute;
  /** The route was already in force (nothing changed on the gateway). */
  alreadyAllowed: boolean;
  /** With --persist: true when added to the manifest, false when it was there already; null without. */
  persisted: boolean | null;
  routes: EgressRoute[];
  /** The credential the route injects, weighed against the routes in force before the approval. */
  credential: CredentialAssessment | null;
}

/**
 * The host's own check of a request's credential, from the bottle's plan: the bundle's server
 * refuses such a request already, but the queue is the bundle's to write, so the host trusts it no
 * further than the manifest allows.
 */
function refuseCredential(bottle: BottleQueue, request: RequestRecord): void {
  const problem = request.auth ? credentialProblem(request.auth.env, bottle.credentials) : null;
  if (!problem) return;
  throw new BottleError('USAGE', `request ${request.id} of ${bottle.slug} asks for $${request.auth!.env}, which this bottle may not ask for; nothing was changed`, {
    details: [problem, `the manifest's "supervise" of this bottle allows ${bottle.credentials.length ? bottle.credentials.join(', ') : 'no credential'}`],
    suggestions: [
      `Deny it: bottle supervise deny ${request.id}.`,
      `To let this bottle ask for it, add "${request.auth!.env}" to "supervise": {"credentials": [...]} of bottle "${bottle.bottleName ?? '?'}" in the manifest and launch it again.`,
    ],
    exit: EXIT_USAGE,
  });
}

/**
 * Approves a pending request: the route goes to the running gateway first (so a refusal there
 * changes nothing), then the manifest (--persist), then the decision the agent reads.
 */
export async function approveRequest(o: ApproveOptions): Promise<ApproveResult> {
  const { bottle, id } = o;
  return withLock(bottle.decisionsDir, async () => {
    const { queued } = await findRequest(id, [bottle]);
    if (queued.decision) throw alreadyDecided(id, queued.decision);
    const request = queued.request;
    if (o.expect && requestKey(o.expect) !== requestKey(request)) {
      throw new BottleError('USAGE', `request ${id} of ${bottle.slug} changed since it was shown to you; nothing was changed`, {
        suggestions: ['Look at it again before deciding; a request that changes under you is a reason to deny it.'],
        exit: EXIT_USAGE,
      });
    }
    refuseCredential(bottle, request);
    const route = routeFor(request);
    if (o.persist && (!bottle.manifestPath || !bottle.bottleName || bottle.manifestPath.startsWith('<'))) {
      throw new BottleError('USAGE', `${bottle.slug} was not launched from a manifest file, so --persist has nowhere to write`, { suggestions: ['Approve without --persist.'], exit: EXIT_USAGE });
    }
    const edit: ManifestEdit | null | undefined = o.persist ? await prepareManifestEdit(bottle.manifestPath!, bottle.bottleName!, route) : undefined;
    const current = await getRoutes(bottle.adminSocket, bottle.slug);
    const alreadyAllowed = current.some((r) => JSON.stringify(r) === JSON.stringify(route));
    const secrets: Record<string, string> = {};
    const env = route.auth?.env;
    // The gateway holds the values of the variables its routes name; another one is read from this
    // shell's environment now and handed to the gateway over its admin socket, never to a file.
    if (env && !current.some((r) => r.auth?.env === env)) {
      const value = o.env[env];
      if (value === undefined || value === '') {
        throw new BottleError('LAUNCH_ENV_MISSING', `request ${id} asks the gateway to inject $${env}, which is not set in this shell`, {
          details: [`the gateway would set header ${route.auth!.header} on requests to ${route.host} from it`],
          suggestions: [`Export ${env} in this shell and approve again, or deny the request.`],
          exit: EXIT_USAGE,
        });
      }
      secrets[env] = value;
    }
    const routes = alreadyAllowed ? current : await putRoutes(bottle.adminSocket, bottle.slug, [...current, route], secrets);
    let persisted: boolean | null = null;
    if (edit !== undefined) {
      if (edit) await writeManifestEdit(edit);
      persisted = edit !== null;
    }
    const decision: DecisionRecord = { id, status: 'approved', time: new Date().toISOString(), decidedBy: o.decidedBy, ...(persisted !== null ? { persisted: true } : {}) };
    await writeRoutesFile(bottle.decisionsDir, routes);
    await writeDecision(bottle.decisionsDir, decision);
    await appendAudit(bottle.auditLog, {
      time: decision.time,
      source: 'supervise',
      event: 'decision',
      ...auditAsk(request),
      decision: 'allow',
      reason: null,
      decidedBy: o.decidedBy,
      ...(persisted !== null ? { persisted: true } : {}),
    });
    return { request, route, alreadyAllowed, persisted, routes, credential: assessCredential(request, bottle.credentials, current) };
  });
}

export interface DenyOptions {
  bottle: BottleQueue;
  id: string;
  decidedBy: string;
  /** Said to the agent (get_request), so it can adapt. */
  reason?: string;
}

export async function denyRequest(o: DenyOptions): Promise<{ request: RequestRecord }> {
  const { bottle, id } = o;
  const reason = o.reason?.trim() ? o.reason.trim().slice(0, 1000) : undefined;
  return withLock(bottle.decisionsDir, async () => {
    const { queued } = await findRequest(id, [bottle]);
    if (queued.decision) throw alreadyDecided(id, queued.decision);
    const decision: DecisionRecord = { id, status: 'denied', time: new Date().toISOString(), decidedBy: o.decidedBy, ...(reason ? { reason } : {}) };
    await writeDecision(bottle.decisionsDir, decision);
    await appendAudit(bottle.auditLog, { time: decision.time, source: 'supervise', event: 'decision', ...auditAsk(queued.request), decision: 'deny', reason: reason ?? null, decidedBy: o.decidedBy });
    return { request: queued.request };
  });
}
