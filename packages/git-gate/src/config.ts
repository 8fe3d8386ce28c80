/**
 * The gate's config file (JSON), written by the launcher. Its `upstreams` are core's
 * `GitGateUpstream` entries with every path rewritten to where the bundle mounts the file.
 * Nothing secret is in it: the identity files are only named by path.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import * as v from 'valibot';
import { BUNDLE_SERVICES, formatPath, gitUrlProblem, invalidConfig, parseConfig, readConfigFile, type ConfigFileSpec, type GitGateUpstream } from '@bot-bottle/core/service';
import { refsPatternProblem } from './policy.js';
import { isSshUrl } from './ssh.js';

/** The same rule as the manifest's git `Name`: it becomes `<Name>.git` on the gate. */
export const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

const NonEmpty = v.pipe(v.string(), v.nonEmpty('must not be empty'));
const AbsolutePath = v.pipe(v.string(), v.nonEmpty('must not be empty'), v.check((s) => path.isAbsolute(s), 'must be an absolute path (a path inside the bundle)'));

const UpstreamSchema = v.strictObject({
  name: v.pipe(
    v.string(),
    v.regex(REPO_NAME, 'name must be 1-100 characters of A-Z, a-z, 0-9, ".", "_" or "-", starting with a letter or digit'),
    v.check((s) => !s.toLowerCase().endsWith('.git') && !s.includes('..'), 'name must not end in ".git" or contain ".."'),
  ),
  upstream: v.pipe(v.string(), v.check((s) => gitUrlProblem(s) === null, (issue) => gitUrlProblem(issue.input as string) ?? 'upstream is not a git URL')),
  identityFile: v.nullable(AbsolutePath),
  knownHosts: v.nullable(AbsolutePath),
  push: v.boolean(),
  protect: v.array(v.pipe(NonEmpty, v.check((s) => !/[\s\\?[\]^~:]/.test(s) && !s.includes('..'), 'a protect pattern is a branch name or a ref ("main", "release/*", "refs/tags/*"): no spaces, "..", "?", "[", "^", "~", ":" or "\\\\"'))),
  /** Namespaces pushed beyond refs/heads/ and refs/tags/ ("refs/notes/*"); never refs/replace/ or refs/namespaces/. Absent: none. */
  refs: v.optional(v.array(v.pipe(v.string(), v.check((s) => refsPatternProblem(s) === null, (issue) => refsPatternProblem(issue.input as string) ?? 'not a refs pattern'))), []),
  /** When given, every pushed ref must match one of these full-ref patterns ("refs/heads/bottle/demo-ab12c/*"). */
  only: v.optional(v.array(v.pipe(v.string(), v.regex(/^refs\/heads\/[A-Za-z0-9._/-]+\*?$/, 'an "only" pattern is a full branch ref, optionally ending in *')))),
  /** git's receive.maxInputSize on the mirror: a bigger pack is refused. */
  maxPushBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  /** The most refs one push may update. */
  maxRefsPerPush: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});

const ListenSchema = v.union([
  v.strictObject({ socket: AbsolutePath }),
  v.strictObject({ port: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535)), host: v.optional(NonEmpty) }),
]);

export const GitGateConfigSchema = v.strictObject({
  /** Where the gate listens. Default: {"port": 9418, "host": "0.0.0.0"}. */
  listen: v.optional(ListenSchema),
  /** Writable folder that holds the mirrors (`<dataDir>/repos/<name>.git`). */
  dataDir: AbsolutePath,
  /** The append-only JSONL audit log (the same file as the egress gateway's is fine). */
  auditLog: v.optional(v.nullable(AbsolutePath)),
  /** known_hosts used for an ssh upstream whose entry has no knownHosts (the user's, mounted read-only). */
  defaultKnownHosts: v.optional(v.nullable(AbsolutePath)),
  /** Longest time one fetch from or push to an upstream may take. Default 600. */
  upstreamTimeoutSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  upstreams: v.pipe(
    v.array(UpstreamSchema),
    v.check((list) => new Set(list.map((u) => u.name)).size === list.length, 'two upstreams share a name; each needs its own'),
  ),
});

export type GitGateConfig = v.InferOutput<typeof GitGateConfigSchema>;

/** One upstream as the gate uses it: the entry plus the known_hosts file it will really use. */
export interface GateEntry extends GitGateUpstream {
  /** known_hosts for ssh (the entry's own or the default); null for a non-ssh upstream. */
  effectiveKnownHosts: string | null;
  ssh: boolean;
}

export interface ResolvedGitGateConfig {
  listen: { socket: string } | { port: number; host: string };
  dataDir: string;
  auditLog: string | null;
  upstreamTimeoutMs: number;
  entries: GateEntry[];
}

const CONFIG_FILE: ConfigFileSpec = {
  service: 'git-gate',
  formatHint:
    'The git-gate config is {"listen"?: {"port", "host"?} | {"socket"}, "dataDir", "auditLog"?, "defaultKnownHosts"?, "upstreamTimeoutSeconds"?, "upstreams": [{"name", "upstream", "identityFile", "knownHosts", "push", "protect", "refs"?}]} (see the git-gate README).',
  envVar: 'BOT_BOTTLE_GIT_GATE_CONFIG',
};

function readableFile(file: string): string | null {
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st) return 'does not exist';
  if (!st.isFile()) return 'is not a file';
  try {
    accessSync(file, constants.R_OK);
  } catch {
    return 'is not readable by the gate';
  }
  return null;
}

/**
 * Checks a parsed config and the files it names. A missing identity file or known_hosts is an
 * error at start-up, not at the first fetch.
 */
export function parseGitGateConfig(value: unknown, source = '<config>', checkFiles = true): ResolvedGitGateConfig {
  return resolveConfig(parseConfig(CONFIG_FILE, GitGateConfigSchema, value, source), source, checkFiles);
}

export async function readGitGateConfig(file: string): Promise<ResolvedGitGateConfig> {
  return resolveConfig(await readConfigFile(CONFIG_FILE, GitGateConfigSchema, file), file, true);
}

function resolveConfig(config: GitGateConfig, source: string, checkFiles: boolean): ResolvedGitGateConfig {
  const problems: string[] = [];
  const entries: GateEntry[] = config.upstreams.map((u, i) => {
    const at = (key: string) => formatPath(['upstreams', i, key]);
    const ssh = isSshUrl(u.upstream);
    const effectiveKnownHosts = ssh ? (u.knownHosts ?? config.defaultKnownHosts ?? null) : null;
    if (ssh && effectiveKnownHosts === null) {
      problems.push(`${at('knownHosts')}: "${u.name}" is an ssh upstream and no known_hosts is given; set KnownHosts on the git entry or mount the user's known_hosts and name it in defaultKnownHosts (the gate never trusts an unknown host key)`);
    }
    if (checkFiles) {
      if (u.identityFile) {
        const p = readableFile(u.identityFile);
        if (p) problems.push(`${at('identityFile')}: ${u.identityFile} ${p}; mount the entry's IdentityFile read-only at that path`);
      }
      if (effectiveKnownHosts) {
        const p = readableFile(effectiveKnownHosts);
        const key = u.knownHosts ? at('knownHosts') : 'defaultKnownHosts';
        if (p) problems.push(`${key}: ${effectiveKnownHosts} ${p}; mount the known_hosts file read-only at that path`);
      }
    }
    return { ...u, effectiveKnownHosts, ssh };
  });
  if (problems.length) throw invalidConfig(CONFIG_FILE, source, problems, ['Fix the paths in the config, or the mounts of the bundle.']);
  return {
    listen: config.listen ? ('socket' in config.listen ? config.listen : { port: config.listen.port, host: config.listen.host ?? '0.0.0.0' }) : { port: BUNDLE_SERVICES.git.port, host: '0.0.0.0' },
    dataDir: config.dataDir,
    auditLog: config.auditLog ?? null,
    upstreamTimeoutMs: (config.upstreamTimeoutSeconds ?? 600) * 1000,
    entries,
  };
}
