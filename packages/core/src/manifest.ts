/**
 * The manifest (`bottle.json`): its schema, its parsing, and the checks a schema alone cannot do.
 * Keys of the original tool (`bottles`, `agents`, `Name`/`Upstream`/`IdentityFile`, `git_user`,
 * `supervise`, `skills`, `prompt`, `bottle`) are kept as they were so existing manifests still work.
 */
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import * as v from 'valibot';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { BottleError, EXIT_USAGE } from './errors.js';

/** A manifest larger than this is refused before parsing (a manifest is a few KiB). */
export const MANIFEST_MAX_BYTES = 1024 * 1024;
/** Nesting deeper than this is refused before parsing; the schema itself is at most 6 deep. */
export const MANIFEST_MAX_DEPTH = 64;

export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const NAME_RULE = 'use 1-40 characters of a-z, 0-9, "-" or "_", starting with a letter or digit';
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HOST_PATTERN = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** ssh://, git://, https://, http://, file:// URLs, or scp-like `user@host:path`. */
export function isGitUrl(s: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return false;
    }
    const scheme = u.protocol.slice(0, -1);
    if (scheme === 'file') return u.pathname.length > 1;
    if (!['ssh', 'git', 'http', 'https', 'git+ssh', 'ssh+git'].includes(scheme)) return false;
    return u.hostname.length > 0 && u.pathname.length > 1;
  }
  // scp-like syntax: [user@]host:path, where host has no slash before the colon.
  return /^([A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:(?!\/\/)[^\s]+$/.test(s);
}

const NonEmpty = (what: string) => v.pipe(v.string(), v.trim(), v.nonEmpty(`${what} must not be empty`));

const GitEntrySchema = v.strictObject({
  Name: v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'Name must be 1-100 characters of A-Z, a-z, 0-9, ".", "_" or "-" (it becomes <Name>.git on the gate)'), v.check((s) => !s.endsWith('.git') && !s.includes('..'), 'Name must not end in ".git" or contain ".."')),
  Upstream: v.pipe(v.string(), v.check(isGitUrl, 'Upstream is not a git URL; use ssh://user@host/repo.git, user@host:repo.git, https://host/repo.git or file:///path')),
  IdentityFile: v.optional(NonEmpty('IdentityFile')),
  KnownHosts: v.optional(NonEmpty('KnownHosts')),
  push: v.optional(v.boolean()),
  protect: v.optional(v.array(NonEmpty('a protect pattern'))),
});

const GitUserSchema = v.strictObject({
  name: v.optional(NonEmpty('git_user.name')),
  email: v.optional(v.pipe(v.string(), v.email('git_user.email is not an e-mail address'))),
});

const RouteAuthSchema = v.strictObject({
  header: v.pipe(v.string(), v.regex(HEADER_NAME_PATTERN, 'header must be an HTTP header name such as x-api-key or authorization')),
  env: v.pipe(v.string(), v.regex(ENV_NAME_PATTERN, 'env must be an environment variable name such as ANTHROPIC_API_KEY')),
  format: v.optional(v.pipe(v.string(), v.includes('{value}', 'format must contain {value}, e.g. "Bearer {value}"'))),
});

const RouteSchema = v.strictObject({
  host: v.pipe(v.string(), v.toLowerCase(), v.regex(HOST_PATTERN, 'host must be a DNS name such as api.example.com or *.example.com (no scheme, port, path or IP address)'), v.check((h) => !/^[0-9.]+$/.test(h.replace(/^\*\./, '')), 'host must be a name, not an IP address')),
  methods: v.optional(v.array(v.picklist(METHODS, `methods may contain ${METHODS.join(', ')}`))),
  paths: v.optional(v.array(v.pipe(v.string(), v.startsWith('/', 'each path prefix must start with "/"')))),
  to: v.optional(v.pipe(v.string(), v.check((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.pathname === '/' && !u.search && !u.hash && !u.username;
    } catch {
      return false;
    }
  }, 'to must be an origin such as https://llm-gateway.internal:8443 (scheme, host and optional port only)'))),
  auth: v.optional(RouteAuthSchema),
});

const EgressSchema = v.strictObject({
  routes: v.array(RouteSchema),
});

const BottleSchema = v.strictObject({
  git: v.optional(v.array(GitEntrySchema)),
  git_user: v.optional(GitUserSchema),
  egress: v.optional(EgressSchema),
  supervise: v.optional(v.boolean()),
});

const ProvisionerRefSchema = v.union([
  v.pipe(v.string(), v.regex(NAME_PATTERN, `a provisioner name must ${NAME_RULE}`)),
  v.strictObject({
    name: v.pipe(v.string(), v.regex(NAME_PATTERN, `a provisioner name must ${NAME_RULE}`)),
    options: v.optional(v.record(v.string(), v.unknown())),
  }),
], 'a provisioner is a name ("ca") or an object {"name": "...", "options": {...}}');

const AgentSchema = v.strictObject({
  bottle: NonEmpty('bottle'),
  skills: v.optional(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'a skill name must be a directory name (A-Z, a-z, 0-9, ".", "_", "-")')))),
  prompt: v.optional(v.string()),
  provisioners: v.optional(v.array(ProvisionerRefSchema)),
});

const NamedRecord = <T extends v.GenericSchema>(what: string, item: T) =>
  v.pipe(
    v.record(v.pipe(v.string(), v.regex(NAME_PATTERN, `${what} name must ${NAME_RULE}`)), item),
  );

export const ManifestSchema = v.strictObject({
  $schema: v.optional(v.string()),
  bottles: NamedRecord('a bottle', BottleSchema),
  agents: NamedRecord('an agent', AgentSchema),
});

export type Manifest = v.InferOutput<typeof ManifestSchema>;
export type BottleConfig = v.InferOutput<typeof BottleSchema>;
export type AgentConfig = v.InferOutput<typeof AgentSchema>;
export type GitEntry = v.InferOutput<typeof GitEntrySchema>;
export type GitUser = v.InferOutput<typeof GitUserSchema>;
export type EgressRoute = v.InferOutput<typeof RouteSchema>;
export type ProvisionerRef = v.InferOutput<typeof ProvisionerRefSchema>;

/** The provisioners an agent gets when it names none. */
export const DEFAULT_PROVISIONERS = ['ca', 'git', 'prompt', 'skills', 'supervise'] as const;

/** A manifest that passed every check, with where it came from (relative paths resolve against its folder). */
export interface LoadedManifest {
  manifest: Manifest;
  /** Absolute path of the file, or '<inline>' for manifests given as text. */
  source: string;
  /** Folder relative paths in the manifest are resolved against. */
  baseDir: string;
}

export function formatPath(segments: readonly (string | number)[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out || '(top level)';
}

function issueLines(issues: readonly v.BaseIssue<unknown>[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const segs = (issue.path ?? []).map((p) => p.key as string | number);
    const where = formatPath(segs);
    let message = issue.message;
    if (issue.kind === 'schema' && issue.type === 'strict_object' && issue.expected === 'never') {
      message = `unknown key ${issue.received}; remove it or check its spelling`;
    } else if (issue.type === 'union' && issue.issues?.length) {
      // A union reports its branches; the branch for the right kind of value is the useful one.
      const sub = issueLines(issue.issues);
      lines.push(...sub);
      continue;
    } else if (issue.kind === 'schema' && issue.received === 'undefined') {
      message = `missing; it is required`;
    } else if (issue.kind === 'schema' && !issue.message.includes('must')) {
      message = `expected ${issue.expected} but got ${issue.received}`;
    }
    lines.push(`${where}: ${message}`);
  }
  return [...new Set(lines)];
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      col = 1;
    } else col++;
  }
  return { line, column: col };
}

/** Deepest bracket nesting outside strings, computed without recursion. */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') max = Math.max(max, ++depth);
    else if (c === '}' || c === ']') depth--;
  }
  return max;
}

/** Parses JSON text strictly (no comments, no trailing commas), reporting line and column. */
export function parseJsonText(text: string, source: string): unknown {
  const size = Buffer.byteLength(text);
  if (size > MANIFEST_MAX_BYTES) {
    throw new BottleError('MANIFEST_INVALID', `${source}: the manifest is ${(size / 1048576).toFixed(1)} MiB; the limit is 1 MiB`, {
      suggestions: ['A manifest holds names and settings only; keep prompts and skills in files beside it.'],
      exit: EXIT_USAGE,
    });
  }
  const depth = nestingDepth(text);
  if (depth > MANIFEST_MAX_DEPTH) {
    throw new BottleError('MANIFEST_INVALID', `${source}: the manifest nests ${depth} levels deep; the limit is ${MANIFEST_MAX_DEPTH}`, {
      suggestions: ['Check the file: a bot-bottle manifest is at most 6 levels deep.'],
      exit: EXIT_USAGE,
    });
  }
  const errors: ParseError[] = [];
  const value = parseJsonc(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (errors.length > 0) {
    const details = errors.slice(0, 5).map((e) => {
      const { line, column } = lineColumn(text, e.offset);
      return `line ${line}, column ${column}: ${printParseErrorCode(e.error)}`;
    });
    throw new BottleError('MANIFEST_INVALID_JSON', `${source} is not valid JSON`, {
      details,
      suggestions: ['Fix the JSON at the line and column shown (comments and trailing commas are not allowed).'],
      exit: EXIT_USAGE,
    });
  }
  return value;
}

export function expandHome(p: string, home = homedir()): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.join(home, p.slice(2));
  return p;
}

export function resolveManifestPath(p: string, baseDir: string, home = homedir()): string {
  return path.resolve(baseDir, expandHome(p, home));
}

/** Problems a schema cannot see: references between sections, duplicates, files that must exist. */
export async function crossCheck(manifest: Manifest, baseDir: string, home = homedir()): Promise<string[]> {
  const problems: string[] = [];
  const bottleNames = Object.keys(manifest.bottles);
  for (const [agentName, agent] of Object.entries(manifest.agents)) {
    if (!Object.hasOwn(manifest.bottles, agent.bottle)) {
      const known = bottleNames.length ? `the bottles are: ${bottleNames.join(', ')}` : 'no bottles are defined';
      problems.push(`${formatPath(['agents', agentName, 'bottle'])}: bottle "${agent.bottle}" is not defined in "bottles" (${known})`);
    }
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
        if (!st) problems.push(`${formatPath([...where, key])}: ${abs} does not exist; point it at an existing file`);
        else if (!st.isFile()) problems.push(`${formatPath([...where, key])}: ${abs} is not a file`);
      }
    }
    const hosts = new Map<string, number>();
    for (const [i, route] of (bottle.egress?.routes ?? []).entries()) {
      const key = `${route.host} ${(route.methods ?? []).join(',')} ${(route.paths ?? []).join(',')}`;
      const first = hosts.get(key);
      if (first !== undefined) problems.push(`${formatPath(['bottles', bottleName, 'egress', 'routes', i, 'host'])}: route for "${route.host}" repeats ${formatPath(['bottles', bottleName, 'egress', 'routes', first])}; merge them`);
      else hosts.set(key, i);
    }
  }
  return problems;
}

/** Validates a parsed value: schema first, then cross-checks. Throws one BottleError listing every problem. */
export async function validateManifest(value: unknown, source: string, baseDir: string, home = homedir()): Promise<LoadedManifest> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BottleError('MANIFEST_INVALID', `${source} is not a valid manifest`, {
      details: [`(top level): expected an object with "bottles" and "agents" but got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`],
      suggestions: ['Run `bottle init` for a starter manifest.'],
      exit: EXIT_USAGE,
    });
  }
  const result = v.safeParse(ManifestSchema, value);
  if (!result.success) {
    throw new BottleError('MANIFEST_INVALID', `${source} is not a valid manifest`, {
      details: issueLines(result.issues),
      suggestions: ['Fix each key named above; see the manifest reference in the README.'],
      exit: EXIT_USAGE,
    });
  }
  const problems = await crossCheck(result.output, baseDir, home);
  if (problems.length) {
    throw new BottleError('MANIFEST_INVALID', `${source} is not a valid manifest`, {
      details: problems,
      suggestions: ['Fix each key named above.'],
      exit: EXIT_USAGE,
    });
  }
  return { manifest: result.output, source, baseDir };
}

export async function parseManifestText(text: string, source: string, baseDir: string, home = homedir()): Promise<LoadedManifest> {
  return validateManifest(parseJsonText(text, source), source, baseDir, home);
}

export async function loadManifest(file: string, home = homedir()): Promise<LoadedManifest> {
  const abs = path.resolve(file);
  const st = await stat(abs).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error) {
    throw new BottleError('MANIFEST_NOT_FOUND', `manifest ${abs} does not exist`, {
      suggestions: ['Check the path, or run `bottle init` to write a starter manifest.'],
      exit: EXIT_USAGE,
    });
  }
  if (st.isDirectory()) {
    throw new BottleError('MANIFEST_UNREADABLE', `manifest ${abs} is a directory, not a file`, {
      suggestions: [`Point at the file inside it, e.g. --manifest ${path.join(abs, 'bottle.json')}`],
      exit: EXIT_USAGE,
    });
  }
  if (st.size > MANIFEST_MAX_BYTES) {
    throw new BottleError('MANIFEST_INVALID', `${abs}: the manifest is ${(st.size / 1048576).toFixed(1)} MiB; the limit is 1 MiB`, {
      suggestions: ['A manifest holds names and settings only; keep prompts and skills in files beside it.'],
      exit: EXIT_USAGE,
    });
  }
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BottleError('MANIFEST_UNREADABLE', `cannot read manifest ${abs} (${code ?? 'error'})`, {
      suggestions: code === 'EACCES' ? [`Make it readable: chmod u+r ${abs}`] : ['Check the file and its permissions.'],
      exit: EXIT_USAGE,
      cause: e,
    });
  }
  return parseManifestText(text, abs, path.dirname(abs), home);
}

/** Env vars that routes read at launch; unset ones are a launch error (validate only notes them). */
export function routeEnvVars(bottle: BottleConfig): string[] {
  return [...new Set((bottle.egress?.routes ?? []).flatMap((r) => (r.auth ? [r.auth.env] : [])))];
}

export function missingLaunchEnv(bottle: BottleConfig, env: NodeJS.ProcessEnv): string[] {
  return routeEnvVars(bottle).filter((name) => !env[name]);
}
