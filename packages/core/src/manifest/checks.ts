/** Problems a schema alone cannot see: references between sections, duplicates, reserved names, files that must exist. */
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { formatPath } from './describe.js';
import { resolveManifestPath } from './file-paths.js';
import { resolveBottleImage } from './image.js';
import { isPlainObject, type BottleConfig, type Manifest } from './schema.js';

/**
 * Agents naming a bottle that is not defined. Works on an unchecked value too, so that a manifest
 * with schema errors still hears about a misspelt bottle in the same run.
 */
export function bottleReferenceProblems(value: unknown): string[] {
  if (!isPlainObject(value) || !isPlainObject(value.bottles) || !isPlainObject(value.agents)) return [];
  const bottles = value.bottles;
  const bottleNames = Object.keys(bottles);
  const problems: string[] = [];
  for (const [agentName, agent] of Object.entries(value.agents)) {
    if (!isPlainObject(agent) || typeof agent.bottle !== 'string' || agent.bottle.trim() === '') continue;
    const name = agent.bottle.trim();
    if (Object.hasOwn(bottles, name)) continue;
    const known = bottleNames.length ? `the bottles are: ${bottleNames.join(', ')}` : 'no bottles are defined';
    problems.push(`${formatPath(['agents', agentName, 'bottle'])}: bottle "${name}" is not defined in "bottles" (${known})`);
  }
  return problems;
}

/** Env vars bot-bottle sets in the bottle itself; a route's secret cannot live in one of them. */
const RESERVED_GUEST_ENV = new Set(['HOME', 'USER', 'PATH', 'SHELL', 'NODE_EXTRA_CA_CERTS', 'NODE_USE_ENV_PROXY', 'HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'NO_PROXY', 'no_proxy', 'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC']);

/** Problems a schema cannot see: references between sections, duplicates, files that must exist. */
export async function crossCheck(manifest: Manifest, baseDir: string, home = homedir()): Promise<string[]> {
  const problems: string[] = [];
  problems.push(...bottleReferenceProblems(manifest));
  for (const [agentName, agent] of Object.entries(manifest.agents)) {
    const seen = new Set<string>();
    (agent.provisioners ?? []).forEach((ref, i) => {
      const name = typeof ref === 'string' ? ref : ref.name;
      if (seen.has(name)) problems.push(`${formatPath(['agents', agentName, 'provisioners', i])}: provisioner "${name}" is listed twice; list each once`);
      seen.add(name);
    });
    const skills = new Set<string>();
    (agent.skills ?? []).forEach((s, i) => {
      if (skills.has(s)) problems.push(`${formatPath(['agents', agentName, 'skills', i])}: skill "${s}" is listed twice; list each once`);
      skills.add(s);
    });
  }
  for (const [bottleName, bottle] of Object.entries(manifest.bottles)) {
    const names = new Map<string, number>();
    for (const [i, entry] of (bottle.git ?? []).entries()) {
      const where = ['bottles', bottleName, 'git', i];
      const first = names.get(entry.Name.toLowerCase());
      if (first !== undefined) problems.push(`${formatPath([...where, 'Name'])}: duplicate git Name "${entry.Name}" (also at ${formatPath(['bottles', bottleName, 'git', first, 'Name'])}); each entry needs its own Name`);
      else names.set(entry.Name.toLowerCase(), i);
      for (const key of ['IdentityFile', 'KnownHosts'] as const) {
        const file = entry[key];
        if (file === undefined) continue;
        const abs = resolveManifestPath(file, baseDir, home);
        const st = await stat(abs).catch(() => null);
        const shown = abs === file ? abs : `${abs} (from "${file}")`;
        if (!st) problems.push(`${formatPath([...where, key])}: ${shown} does not exist; point it at an existing file (a relative path is read from the manifest's folder, ${baseDir})`);
        else if (!st.isFile()) problems.push(`${formatPath([...where, key])}: ${shown} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}; point it at the file itself`);
      }
    }
    const hosts = new Map<string, number>();
    for (const [i, route] of (bottle.egress?.routes ?? []).entries()) {
      if (route.auth && RESERVED_GUEST_ENV.has(route.auth.env)) {
        problems.push(`${formatPath(['bottles', bottleName, 'egress', 'routes', i, 'auth', 'env'])}: ${route.auth.env} is set by bot-bottle inside the bottle; name the variable that holds the secret instead, e.g. ANTHROPIC_API_KEY`);
      }
      const key = `${route.host} ${(route.methods ?? []).join(',')} ${(route.paths ?? []).join(',')}`;
      const first = hosts.get(key);
      if (first !== undefined) problems.push(`${formatPath(['bottles', bottleName, 'egress', 'routes', i, 'host'])}: route for "${route.host}" repeats ${formatPath(['bottles', bottleName, 'egress', 'routes', first])}; merge them`);
      else hosts.set(key, i);
    }
    problems.push(...resolveBottleImage(bottleName, bottle.image, baseDir, home).problems);
  }
  return problems;
}

/** Names a record schema skips without a word (valibot guards them against prototype pollution). */
const RESERVED_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

export function reservedNameLines(value: Record<string, unknown>): string[] {
  const lines: string[] = [];
  for (const [section, what] of [['bottles', 'a bottle'], ['agents', 'an agent']] as const) {
    const names = value[section];
    if (!isPlainObject(names)) continue;
    for (const key of Object.keys(names)) {
      if (RESERVED_NAMES.has(key)) lines.push(`${formatPath([section, key])}: "${key}" cannot be ${what} name; choose another`);
    }
  }
  return lines;
}

/** Env vars that routes read at launch; unset ones are a launch error (validate only notes them). */
export function routeEnvVars(bottle: BottleConfig): string[] {
  return [...new Set((bottle.egress?.routes ?? []).flatMap((r) => (r.auth ? [r.auth.env] : [])))];
}

export function missingLaunchEnv(bottle: BottleConfig, env: NodeJS.ProcessEnv): string[] {
  return routeEnvVars(bottle).filter((name) => !env[name]);
}
