/**
 * Backend discovery and choice: every plugin (built-in, installed or linked) that declares the
 * oclif hook `bottle:backends` hands over a definition; core's buildBackendRegistry refuses broken
 * plugins and duplicate names; core's chooseBackend picks one by --backend, BOT_BOTTLE_BACKEND
 * (or CLAUDE_BOTTLE_BACKEND), the bottle's "backend" key, or docker. Commands about one bottle
 * (stop, exec, logs) use the backend its state record names.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Flags, type Config } from '@oclif/core';
import {
  BACKEND_HOOK,
  BottleError,
  EXIT_USAGE,
  backendDefinition,
  buildBackendRegistry,
  chooseBackend,
  collectWork,
  stateHome,
  type Backend,
  type BackendRegistry,
  type BottleStatus,
  type GcReport,
} from '@bot-bottle/core';
import { runRegistrationHook } from './registration-hook.js';

export const backendFlag = Flags.string({
  summary: 'The backend that runs the bottle (docker, smolmachines, or a plugin\'s). Default: BOT_BOTTLE_BACKEND, the bottle\'s "backend" key, docker.',
  helpValue: 'NAME',
});

const cache = new WeakMap<Config, Promise<BackendRegistry>>();

export function loadBackends(config: Config): Promise<BackendRegistry> {
  let r = cache.get(config);
  if (!r) {
    r = (async () => {
      const { ok, failed } = await runRegistrationHook(config, BACKEND_HOOK);
      return buildBackendRegistry(ok, failed);
    })();
    cache.set(config, r);
  }
  return r;
}

/** The backend a launch uses: the name chosen from the flag, the environment and the bottle's key. */
export async function chosenBackend(config: Config, o: { flag?: string | undefined; manifest?: string | undefined; env?: NodeJS.ProcessEnv }): Promise<{ backend: Backend; name: string; source: string }> {
  const env = o.env ?? process.env;
  const choice = chooseBackend({ flag: o.flag, env, manifest: o.manifest });
  const definition = backendDefinition(await loadBackends(config), choice.name, choice.source);
  return { backend: definition.create(env), ...choice };
}

/** Every installed backend, made for `env`. */
export async function allBackends(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<{ name: string; description: string; backend: Backend }[]> {
  const registry = await loadBackends(config);
  return [...registry.values()].map((r) => ({ name: r.definition.name, description: r.definition.description, backend: r.definition.create(env) }));
}

/**
 * Every backend's bottles. A backend whose engine cannot be asked (not installed, not running) is
 * reported by `warn` and skipped, unless it is the only one: its records still show in its own list.
 */
export async function listAll(config: Config, warn: (message: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<BottleStatus[]> {
  const out: BottleStatus[] = [];
  for (const b of await allBackends(config, env)) {
    try {
      out.push(...(await b.backend.list()));
    } catch (e) {
      if (!(e instanceof Error) || !('code' in e) || (e as BottleError).code !== 'BACKEND_UNAVAILABLE') throw e;
      if (await hasRecords(b.name, env)) warn(`the ${b.name} backend cannot list its bottles: ${e.message}`);
    }
  }
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/**
 * What `bottle gc` reclaims: every installed backend reclaims its own; one whose engine is not
 * here (not installed, not running) has nothing running to reclaim.
 */
export async function gcAll(config: Config, o: { dryRun: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<GcReport> {
  const report: GcReport = { removed: [], kept: [] };
  for (const b of await allBackends(config, env)) {
    // An orphan's work (--copy-cwd in a git repo) is brought home before it is removed.
    if (!o.dryRun) {
      const orphans = await b.backend.list().then((l) => l.filter((x) => x.state === 'orphaned'), () => []);
      for (const x of orphans) {
        const back = await collectWork(x.slug, (argv) => b.backend.exec(x.slug, argv, { tty: false }), env);
        for (const p of back.problems) report.kept.push(`${x.slug}: work: ${p}`);
        if (back.record && back.branches.length) report.kept.push(`${x.slug}: ${back.branches.length} branch(es) kept in ${back.record.hostRepo} under ${back.record.namespace}/`);
      }
    }
    const r = await b.backend.gc({ dryRun: o.dryRun }).catch((e: unknown) => {
      if ((e as { code?: string }).code !== 'BACKEND_UNAVAILABLE') throw e;
      return { removed: [], kept: [] };
    });
    report.removed.push(...r.removed);
    report.kept.push(...r.kept);
  }
  return report;
}

async function hasRecords(backend: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const { readdir } = await import('node:fs/promises');
  const root = path.join(stateHome(env), 'bottles');
  for (const slug of await readdir(root).catch(() => [] as string[])) {
    if ((await recordedBackend(slug, env)) === backend) return true;
  }
  return false;
}

/** The backend a bottle's state record names, or null (no record, or one cut short). */
export async function recordedBackend(slug: string, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  if (!/^[a-z0-9][a-z0-9-]{0,80}$/.test(slug)) return null;
  const text = await readFile(path.join(stateHome(env), 'bottles', slug, 'bottle.json'), 'utf8').catch(() => null);
  if (!text) return null;
  try {
    const backend = (JSON.parse(text) as { backend?: unknown }).backend;
    return typeof backend === 'string' && backend ? backend : null;
  } catch {
    return null;
  }
}

/** The backend that holds bottle `slug`: the one its record names, else the first whose list has it. */
export async function backendOf(config: Config, slug: string, env: NodeJS.ProcessEnv = process.env): Promise<Backend> {
  const registry = await loadBackends(config);
  const named = await recordedBackend(slug, env);
  if (named) return backendDefinition(registry, named, 'flag').create(env);
  for (const r of registry.values()) {
    const backend = r.definition.create(env);
    const found = await backend.list().then((l) => l.some((b) => b.slug === slug), () => false);
    if (found) return backend;
  }
  throw new BottleError('BOTTLE_NOT_FOUND', `no bottle named ${slug}`, { suggestions: ['List bottles with `bottle ls`.'], exit: EXIT_USAGE });
}
