/**
 * A bottle's state on the host, the same for every backend: the record written before anything is
 * created (so an interrupted launch is always found), the listing of records, and one pure
 * `reconcile` that sets the records beside what the engine says exists and decides, per bottle,
 * what `bottle ls` shows and what `bottle gc` may reclaim.
 */
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stateHome, type BottlePlan, type BottleState } from '@bot-bottle/core';
import { KEEP, ownerGone as processGone } from './owner.js';

export interface StateRecord {
  slug: string;
  agent: string;
  /** The backend that made the bottle ("docker", "smolmachines"). Empty for a record cut short. */
  backend: string;
  createdAt: string;
  owner: string;
  manifestPath: string;
}

/** Where every bottle's state dir lives (`$XDG_STATE_HOME/bot-bottle/bottles`). */
export function stateRoot(env: NodeJS.ProcessEnv): string {
  return path.join(stateHome(env), 'bottles');
}

/** Writes the bottle's state and stage dirs, its record and its plan: the first thing a launch does. */
export async function writeLaunchRecord(plan: BottlePlan, record: StateRecord): Promise<void> {
  await mkdir(plan.stateDir, { recursive: true, mode: 0o700 });
  await mkdir(plan.stageDir, { recursive: true, mode: 0o700 });
  await writeFile(path.join(plan.stateDir, 'bottle.json'), JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
  await writePlanFile(plan);
}

/** (Re)writes the plan a bottle runs by (the limits may be re-resolved for the engine's machine). */
export async function writePlanFile(plan: BottlePlan): Promise<void> {
  await writeFile(path.join(plan.stateDir, 'plan.json'), JSON.stringify(plan, null, 2) + '\n', { mode: 0o600 });
}

/**
 * The records under `root` that belong to `backend`, plus every state dir whose record is missing
 * or unreadable (a launch killed before its record was whole: no owner, so any backend's gc takes it).
 */
export async function readRecords(root: string, backend: string): Promise<StateRecord[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  const out: StateRecord[] = [];
  const cutShort = (slug: string): StateRecord => ({ slug, agent: '?', backend: '', createdAt: '', owner: '', manifestPath: '' });
  for (const n of names) {
    const text = await readFile(path.join(root, n, 'bottle.json'), 'utf8').catch(() => null);
    if (text) {
      try {
        const rec = JSON.parse(text) as StateRecord;
        if (rec.backend === backend) out.push({ ...rec, slug: n });
      } catch {
        out.push(cutShort(n));
      }
    } else if ((await stat(path.join(root, n)).catch(() => null))?.isDirectory()) {
      out.push(cutShort(n));
    }
  }
  return out;
}

/** One thing an engine holds for a bottle: a container, a machine, a volume. */
export interface Resource {
  slug: string;
  kind: string;
  name: string;
  /** "bottle", "bundle", "sockets". */
  role: string;
  /** The engine's word for its state ("running", "created", "exited", "stopped"). */
  status: string;
  owner?: string;
  agent?: string;
  createdAt?: string;
}

export interface Reconciled {
  slug: string;
  agent: string;
  createdAt: string;
  owner: string;
  record: StateRecord | null;
  resources: Resource[];
  /** What `bottle ls` shows. */
  state: BottleState;
  detail: string;
  /** True when `bottle gc` may remove it: its owner is gone, or it was kept and nothing of it runs. */
  reclaim: boolean;
}

/**
 * Sets what the records say beside what the engine holds, per bottle. Pure: whether an owner is
 * gone is asked of `ownerGone` (by default: is that process still alive on this machine).
 */
export function reconcile(records: readonly StateRecord[], resources: readonly Resource[], options: { ownerGone?: (owner: string | undefined) => boolean } = {}): Reconciled[] {
  const gone = options.ownerGone ?? processGone;
  const slugs = [...new Set([...resources.map((r) => r.slug), ...records.map((r) => r.slug)])];
  const out: Reconciled[] = [];
  for (const slug of slugs) {
    const record = records.find((r) => r.slug === slug) ?? null;
    const mine = resources.filter((r) => r.slug === slug);
    const owner = mine.find((r) => r.owner)?.owner ?? record?.owner ?? '';
    const role = (name: string) => mine.find((r) => r.role === name)?.status;
    const bottle = role('bottle');
    const bundle = role('bundle');
    const running = (s: string | undefined) => s === 'running';
    let state: BottleState;
    let detail: string;
    if (mine.length === 0) {
      state = 'orphaned';
      detail = 'nothing running; state left behind';
    } else {
      state = running(bottle) && running(bundle) ? 'running' : bottle === 'created' || bundle === 'created' ? 'starting' : 'exited';
      detail = `bottle ${bottle ?? 'missing'}, bundle ${bundle ?? 'missing'}${owner === KEEP ? ', kept' : ''}`;
    }
    if (gone(owner)) state = 'orphaned';
    out.push({
      slug,
      agent: mine.find((r) => r.agent)?.agent ?? record?.agent ?? '?',
      createdAt: mine.find((r) => r.createdAt)?.createdAt ?? record?.createdAt ?? '',
      owner,
      record,
      resources: mine,
      state,
      detail,
      reclaim: gone(owner) || (owner === KEEP && mine.length === 0),
    });
  }
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}
