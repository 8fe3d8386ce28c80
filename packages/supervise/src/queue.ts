/**
 * The queue on disk: two folders in the bottle's state dir on the host.
 *
 * - The queue folder: the bundle's supervise service writes one file per request, `<id>.json`
 *   (written under a temporary name, then renamed, so a reader never sees half a file). The host
 *   reads these as untrusted: never through a symlink, never more than a small size, always
 *   checked by the same schema as the tool's input.
 * - The decisions folder: the host writes one `<id>.json` per decision and `routes.json` (the
 *   routes in force after the last approval). The bundle mounts it read-only, so nothing in the
 *   bundle can forge a decision or change what the host reads back from there.
 *
 * A request is pending while it has no decision file. Everything is a file, so the queue outlives
 * the CLI; it goes when the bottle's state dir does (`bottle stop`, `bottle gc`).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import * as v from 'valibot';
import { EgressRouteSchema, type EgressRoute } from '@bot-bottle/core/service';
import { DecisionRecordSchema, REQUEST_ID_PATTERN, RequestRecordSchema, type DecisionRecord, type RequestRecord, type RequestStatus } from './requests.js';

/** The routes in force, in the decisions folder. */
export const ROUTES_FILE = 'routes.json';
/** A request or decision file is small; anything larger is not one. */
export const MAX_RECORD_BYTES = 16 * 1024;
const MAX_ROUTES_BYTES = 1024 * 1024;

const REQUEST_FILE = /^(req-[a-z0-9]{10})\.json$/;

export type FileRead = { ok: true; text: string } | { ok: false; missing: boolean; why: string };

/**
 * Reads a small regular file without following a symlink at its name (O_NOFOLLOW) and without
 * blocking on a FIFO (O_NONBLOCK); anything else there, or a file over `max` bytes, is refused.
 */
export async function readSmallFile(file: string, max: number = MAX_RECORD_BYTES): Promise<FileRead> {
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, missing: true, why: 'missing' };
    return { ok: false, missing: false, why: code === 'ELOOP' ? 'a symbolic link' : `cannot be opened (${code ?? (e as Error).message})` };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, missing: false, why: 'not a regular file' };
    if (st.size > max) return { ok: false, missing: false, why: `${st.size} bytes, more than ${max}` };
    const buf = Buffer.alloc(max + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > max) return { ok: false, missing: false, why: `more than ${max} bytes` };
    return { ok: true, text: buf.subarray(0, bytesRead).toString('utf8') };
  } finally {
    await fh.close();
  }
}

/**
 * Writes `dir/name` whole or not at all: a new temporary file (O_EXCL|O_NOFOLLOW, so nothing put in
 * its way is written through), then a rename over the name (which replaces a symlink, never follows it).
 */
export async function writeFileAtomic(dir: string, name: string, text: string, mode = 0o644): Promise<void> {
  const tmp = path.join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    await fh.writeFile(text);
    // The umask may have narrowed the mode; the other side of the mount must read the file.
    await fh.chmod(mode);
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path.join(dir, name));
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The ids of the request files in the queue folder (other names are ignored). */
export async function requestIds(queueDir: string): Promise<string[]> {
  const names = await readdir(queueDir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [] as string[];
    throw e;
  });
  return names.flatMap((n) => REQUEST_FILE.exec(n)?.[1] ?? []).sort();
}

export type RecordRead<T> = { ok: true; record: T } | { ok: false; missing: boolean; why: string };

/** A request file, checked whole: its id must be its file's name. */
export async function readRequest(queueDir: string, id: string): Promise<RecordRead<RequestRecord>> {
  if (!REQUEST_ID_PATTERN.test(id)) return { ok: false, missing: true, why: 'not a request id' };
  const file = await readSmallFile(path.join(queueDir, `${id}.json`));
  if (!file.ok) return file;
  const r = v.safeParse(RequestRecordSchema, parseJson(file.text));
  if (!r.success) return { ok: false, missing: false, why: `not a valid request (${r.issues[0]?.message ?? 'unknown shape'})` };
  if (r.output.id !== id) return { ok: false, missing: false, why: `its id ${r.output.id} is not its file's name` };
  return { ok: true, record: r.output };
}

export async function writeRequest(queueDir: string, record: RequestRecord): Promise<void> {
  await writeFileAtomic(queueDir, `${record.id}.json`, JSON.stringify(record) + '\n');
}

export async function readDecision(decisionsDir: string, id: string): Promise<DecisionRecord | null> {
  if (!REQUEST_ID_PATTERN.test(id)) return null;
  const file = await readSmallFile(path.join(decisionsDir, `${id}.json`));
  if (!file.ok) return null;
  const r = v.safeParse(DecisionRecordSchema, parseJson(file.text));
  return r.success && r.output.id === id ? r.output : null;
}

export async function writeDecision(decisionsDir: string, record: DecisionRecord): Promise<void> {
  await writeFileAtomic(decisionsDir, `${record.id}.json`, JSON.stringify(record) + '\n');
}

/** The routes in force as the host last wrote them, or null when it never did (the launch's then). */
export async function readRoutesFile(decisionsDir: string): Promise<EgressRoute[] | null> {
  const file = await readSmallFile(path.join(decisionsDir, ROUTES_FILE), MAX_ROUTES_BYTES);
  if (!file.ok) return null;
  const r = v.safeParse(v.strictObject({ routes: v.array(EgressRouteSchema) }), parseJson(file.text));
  return r.success ? r.output.routes : null;
}

export async function writeRoutesFile(decisionsDir: string, routes: readonly EgressRoute[]): Promise<void> {
  await writeFileAtomic(decisionsDir, ROUTES_FILE, JSON.stringify({ routes }, null, 2) + '\n');
}

export interface QueuedRequest {
  request: RequestRecord;
  status: RequestStatus;
  decision: DecisionRecord | null;
}

export interface QueueListing {
  requests: QueuedRequest[];
  /** Files in the queue folder that are not valid requests: `<file>: why`. */
  skipped: string[];
}

/** Every request of one bottle with its status, oldest first. */
export async function listQueue(queueDir: string, decisionsDir: string): Promise<QueueListing> {
  const requests: QueuedRequest[] = [];
  const skipped: string[] = [];
  for (const id of await requestIds(queueDir)) {
    const r = await readRequest(queueDir, id);
    if (!r.ok) {
      if (!r.missing) skipped.push(`${id}.json: ${r.why}`);
      continue;
    }
    const decision = await readDecision(decisionsDir, id);
    requests.push({ request: r.record, status: decision?.status ?? 'pending', decision });
  }
  requests.sort((a, b) => a.request.time.localeCompare(b.request.time) || a.request.id.localeCompare(b.request.id));
  return { requests, skipped };
}
