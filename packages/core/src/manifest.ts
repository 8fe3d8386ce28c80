/**
 * The manifest (`bottle.json`): its schema, its parsing, and the checks a schema alone cannot do.
 * Keys of the original tool (`bottles`, `agents`, `Name`/`Upstream`/`IdentityFile`, `git_user`,
 * `supervise`, `skills`, `prompt`, `bottle`) are kept as they were so existing manifests still work.
 */
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import * as v from 'valibot';
import { printParseErrorCode, visit as visitJson, type ParseError } from 'jsonc-parser';
import { BottleError, EXIT_USAGE } from './errors.js';
import { cpusProblem, memoryProblem, pidsProblem } from './limits.js';

/** A manifest larger than this is refused before parsing (a manifest is a few KiB). */
export const MANIFEST_MAX_BYTES = 1024 * 1024;
/** Nesting deeper than this is refused before parsing; the schema itself is at most 6 deep. */
export const MANIFEST_MAX_DEPTH = 64;

export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const NAME_RULE = 'use 1-40 characters of a-z, 0-9, "-" or "_", starting with a letter or digit';
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HOST_PATTERN = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
// TRACE and TRACK echo the request (with any injected credential) back to the bottle: a route
// allows them only by naming them.
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'TRACK'] as const;
const SCHEMES = ['https', 'http'] as const;

/** Why `s` is not a git URL the gate can mirror, or null when it is one. */
export function gitUrlProblem(s: string): string | null {
  const shapes = 'use ssh://user@host/repo.git, user@host:repo.git, https://host/repo.git or file:///path/repo.git';
  if (s.trim() === '') return `Upstream must not be empty; ${shapes}`;
  if (/[\s\u0000-\u001f\u007f]/.test(s)) return `Upstream must not contain spaces or control characters; ${shapes}`;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return `Upstream "${s}" is not a valid URL; ${shapes}`;
    }
    // Checked first, so that no message below repeats it. The URL is written into the bottle's gitconfig (insteadOf): a password there is a secret in the bottle.
    if (u.password) return 'Upstream must not hold a password (the bottle\'s gitconfig names the URL); remove it and give the entry an IdentityFile, which stays in the bundle';
    const scheme = u.protocol.slice(0, -1).toLowerCase();
    if (scheme === 'file') return u.pathname.length > 1 ? null : `Upstream "${s}" names no repository path; ${shapes}`;
    if (!['ssh', 'git', 'http', 'https', 'git+ssh', 'ssh+git'].includes(scheme)) {
      return `Upstream scheme "${scheme}://" is not supported; ${shapes}`;
    }
    if (!u.hostname) return `Upstream "${s}" names no host; ${shapes}`;
    // A host or user starting with "-" would be read as an ssh option (CVE-2017-1000117).
    if (u.hostname.startsWith('-') || decodeURIComponent(u.username).startsWith('-')) return `Upstream host and user must not start with "-"`;
    if (u.pathname.length <= 1) return `Upstream "${s}" names no repository path; ${shapes}`;
    return null;
  }
  // scp-like syntax: [user@]host:path, where host has no slash before the colon.
  const scp = /^(?:([A-Za-z0-9._-]+)@)?([A-Za-z0-9.-]+):(?!\/\/)(\S+)$/.exec(s);
  if (!scp) return `Upstream "${s}" is not a git URL; ${shapes}`;
  if ((scp[1] ?? '').startsWith('-') || scp[2]!.startsWith('-')) return `Upstream host and user must not start with "-"`;
  return null;
}

/** ssh://, git://, https://, http://, file:// URLs, or scp-like `user@host:path`. */
export function isGitUrl(s: string): boolean {
  return gitUrlProblem(s) === null;
}

/** Why `host` cannot be an egress route's host, or null when it can. Expects lower case. */
export function routeHostProblem(host: string): string | null {
  const example = 'write a DNS name such as api.example.com or *.example.com';
  if (host === '') return `host must not be empty; ${example}`;
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(host)) return `host must not include a scheme ("${host.slice(0, host.indexOf(':'))}://"); ${example}, and use "to" to choose where the gateway connects`;
  if (host.startsWith('[') || (host.match(/:/g) ?? []).length > 1) return 'host must be a name, not an IP address';
  if (host.includes('/')) return `host must not include a path; ${example}, and use "paths" to allow only some paths`;
  if (/:\d*$/.test(host)) return `host must not include a port; ${example}, and use "to" (e.g. "https://${host}") to connect to another port`;
  const bare = host.replace(/^\*\./, '').replace(/\.$/, '');
  // WHATWG URL parsing (which clients use) reads a name whose last label is numeric as an IPv4 address.
  const last = bare.split('.').pop() ?? '';
  if (/^(0x[0-9a-f]*|[0-9]+)$/.test(last)) return 'host must be a name, not an IP address';
  if (!HOST_PATTERN.test(host)) return `host "${host}" is not a valid DNS name; ${example} (letters, digits, "-" and ".", no spaces)`;
  return null;
}

function originProblem(s: string): string | null {
  const example = 'to must be an origin such as https://llm-gateway.internal:8443 (scheme, host and optional port only)';
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return `${example}; "${s}" is not a URL`;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return `${example}; "${u.protocol}//" is not http:// or https://`;
  if (u.username || u.password) return `${example}; put credentials in "auth", not in the URL`;
  if (u.pathname !== '/' || u.search || u.hash) return `${example}; remove the path, query or fragment`;
  return null;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Describes a JSON value for a message: `the number 1`, `the string "x"`, `an array`. */
export function describeValue(x: unknown): string {
  if (x === undefined) return 'nothing';
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  switch (typeof x) {
    case 'string':
      return `the string ${JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x)}`;
    case 'number':
      return `the number ${x}`;
    case 'boolean':
      return String(x);
    case 'object':
      return 'an object';
    default:
      return typeof x;
  }
}

/**
 * valibot's object and record schemas accept arrays; a manifest never means an array where it
 * needs an object, so every object schema goes through this first.
 */
function objectOnly<T extends v.GenericSchema>(schema: T): T {
  return v.pipe(
    v.custom<unknown>(isPlainObject, (issue) => `expected an object but got ${describeValue(issue.input)}`),
    schema as v.GenericSchema,
  ) as unknown as T;
}

const NonEmpty = (what: string) => v.pipe(v.string(), v.trim(), v.nonEmpty(`${what} must not be empty`));

const GitEntryEntries = {
  Name: v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'Name must be 1-100 characters of A-Z, a-z, 0-9, ".", "_" or "-", starting with a letter or digit (it becomes <Name>.git on the gate)'), v.check((s) => !s.toLowerCase().endsWith('.git') && !s.includes('..'), 'Name must not end in ".git" or contain ".."')),
  Upstream: v.pipe(v.string(), v.check((s) => gitUrlProblem(s) === null, (issue) => gitUrlProblem(issue.input as string) ?? 'Upstream is not a git URL')),
  IdentityFile: v.optional(NonEmpty('IdentityFile')),
  KnownHosts: v.optional(NonEmpty('KnownHosts')),
  push: v.optional(v.boolean()),
  protect: v.optional(v.array(NonEmpty('a protect pattern'))),
};
const GitEntrySchema = objectOnly(v.strictObject(GitEntryEntries));

const GitUserEntries = {
  name: v.optional(NonEmpty('git_user.name')),
  email: v.optional(v.pipe(v.string(), v.email((issue) => `git_user.email ${describeValue(issue.input).replace(/^the string /, '')} is not an e-mail address`))),
};
const GitUserSchema = objectOnly(v.strictObject(GitUserEntries));

const RouteAuthEntries = {
  header: v.pipe(v.string(), v.regex(HEADER_NAME_PATTERN, 'header must be an HTTP header name such as x-api-key or authorization')),
  env: v.pipe(v.string(), v.regex(ENV_NAME_PATTERN, 'env must be the name of an environment variable such as ANTHROPIC_API_KEY (letters, digits and "_", not starting with a digit), not its value')),
  format: v.optional(v.pipe(v.string(), v.includes('{value}', 'format must contain {value}, e.g. "Bearer {value}"'))),
  /** Opt-in, by name, to sending the credential over plain http (a `to` of http://, or "schemes" with "http"). */
  cleartext: v.optional(v.boolean()),
};
const RouteAuthSchema = objectOnly(v.strictObject(RouteAuthEntries));

const RouteEntries = {
  host: v.pipe(v.string(), v.trim(), v.toLowerCase(), v.check((h) => routeHostProblem(h) === null, (issue) => routeHostProblem(issue.input as string) ?? 'host is not valid')),
  methods: v.optional(v.array(v.picklist(METHODS, `methods may contain ${METHODS.join(', ')}`))),
  paths: v.optional(v.array(v.pipe(v.string(), v.startsWith('/', 'each path prefix must start with "/"')))),
  /** What the bottle may speak to the gateway for this host: https (default) and/or plain http. */
  schemes: v.optional(v.pipe(v.array(v.picklist(SCHEMES, 'schemes may contain "https" and "http"')), v.minLength(1, 'schemes must name at least one of "https", "http"'))),
  /** Ports the bottle may address on this host; default 443 for https and 80 for http. */
  ports: v.optional(v.pipe(v.array(v.pipe(v.number(), v.integer('each port must be a whole number'), v.minValue(1, 'each port must be 1-65535'), v.maxValue(65535, 'each port must be 1-65535'))), v.minLength(1, 'ports must name at least one port'))),
  to: v.optional(v.pipe(v.string(), v.check((s) => originProblem(s) === null, (issue) => originProblem(issue.input as string) ?? 'to is not valid'))),
  auth: v.optional(RouteAuthSchema),
};

/**
 * Why a route would send its injected credential over cleartext without saying so, or null. The
 * upstream leg is cleartext when `to` is http://, or, without `to`, when the bottle may speak http.
 */
export function cleartextAuthProblem(route: { to?: string; schemes?: readonly string[]; auth?: { cleartext?: boolean } }): string | null {
  if (!route.auth || route.auth.cleartext === true) return null;
  if (route.to !== undefined ? /^http:/i.test(route.to) : (route.schemes ?? ['https']).includes('http')) {
    return `this route would send its credential over plain http; use https${route.to ? ' in "to"' : ' (drop "http" from "schemes")'}, or opt in with "auth": {..., "cleartext": true}`;
  }
  return null;
}

const RouteSchema = objectOnly(
  v.pipe(
    v.strictObject(RouteEntries),
    v.forward(
      v.check((route) => cleartextAuthProblem(route) === null, (issue) => cleartextAuthProblem(issue.input as Parameters<typeof cleartextAuthProblem>[0]) ?? 'cleartext credential'),
      ['auth'],
    ),
  ),
);

const EgressEntries = {
  routes: v.array(RouteSchema),
};
const EgressSchema = objectOnly(v.strictObject(EgressEntries));

/** Each check takes any value, so that a wrong type gets the same message as a wrong shape. */
const LimitsEntries = {
  memory: v.optional(v.pipe(v.unknown(), v.check((x) => memoryProblem(x) === null, (issue) => memoryProblem(issue.input) ?? 'memory is not valid'), v.transform((x) => x as string))),
  cpus: v.optional(v.pipe(v.unknown(), v.check((x) => cpusProblem(x) === null, (issue) => cpusProblem(issue.input) ?? 'cpus is not valid'), v.transform((x) => x as number))),
  pids: v.optional(v.pipe(v.unknown(), v.check((x) => pidsProblem(x) === null, (issue) => pidsProblem(issue.input) ?? 'pids is not valid'), v.transform((x) => x as number))),
};
const LimitsSchema = objectOnly(v.strictObject(LimitsEntries));

const BottleEntries = {
  git: v.optional(v.array(GitEntrySchema)),
  git_user: v.optional(GitUserSchema),
  egress: v.optional(EgressSchema),
  supervise: v.optional(v.boolean()),
  /** The bottle's memory, CPU and process limits; absent keys get the defaults (`limits.ts`). */
  limits: v.optional(LimitsSchema),
};
const BottleSchema = objectOnly(v.strictObject(BottleEntries));

const ProvisionerName = v.pipe(v.string(), v.regex(NAME_PATTERN, (issue) => `${describeValue(issue.input)} is not a provisioner name; ${NAME_RULE}`));
const ProvisionerRefEntries = {
  name: ProvisionerName,
  // Kept as given (a record schema would drop keys such as "constructor"); the provisioner's own schema checks it.
  options: v.optional(v.custom<Record<string, unknown>>(isPlainObject, (issue) => `expected an object but got ${describeValue(issue.input)}`)),
};
const PROVISIONER_REF_RULE = 'a provisioner is a name ("ca") or an object {"name": "...", "options": {...}}';
const ProvisionerRefSchema = v.union([ProvisionerName, objectOnly(v.strictObject(ProvisionerRefEntries))], PROVISIONER_REF_RULE);

const AgentEntries = {
  bottle: NonEmpty('bottle'),
  skills: v.optional(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'a skill name must be a directory name (A-Z, a-z, 0-9, ".", "_", "-"), starting with a letter or digit')))),
  prompt: v.optional(v.string()),
  provisioners: v.optional(v.array(ProvisionerRefSchema)),
};
const AgentSchema = objectOnly(v.strictObject(AgentEntries));

const NamedRecord = <T extends v.GenericSchema>(what: string, item: T) =>
  objectOnly(v.record(v.pipe(v.string(), v.regex(NAME_PATTERN, (issue) => `${JSON.stringify(issue.input)} is not a valid ${what} name; ${NAME_RULE}`)), item));

const ManifestEntries = {
  $schema: v.optional(v.string()),
  bottles: NamedRecord('bottle', BottleSchema),
  agents: NamedRecord('agent', AgentSchema),
};
export const ManifestSchema = objectOnly(v.strictObject(ManifestEntries));

export type Manifest = v.InferOutput<typeof ManifestSchema>;
export type BottleConfig = v.InferOutput<typeof BottleSchema>;
export type AgentConfig = v.InferOutput<typeof AgentSchema>;
export type GitEntry = v.InferOutput<typeof GitEntrySchema>;
export type GitUser = v.InferOutput<typeof GitUserSchema>;
export type EgressRoute = v.InferOutput<typeof RouteSchema>;
/** One egress route's schema, for services that take routes from elsewhere than a manifest (the gateway's run-time updates). */
export const EgressRouteSchema = RouteSchema;
export type ProvisionerRef = v.InferOutput<typeof ProvisionerRefSchema>;

/** The keys allowed at a path of the manifest, for "did you mean" hints on unknown keys. */
function knownKeysAt(segs: readonly (string | number)[]): string[] {
  const shape = segs.map((s) => (typeof s === 'number' ? '[]' : s));
  const [a, , c, d, , f] = shape;
  const n = shape.length;
  if (n === 0) return Object.keys(ManifestEntries);
  if (a === 'bottles') {
    if (n === 2) return Object.keys(BottleEntries);
    if (n === 4 && c === 'git') return Object.keys(GitEntryEntries);
    if (n === 3 && c === 'git_user') return Object.keys(GitUserEntries);
    if (n === 3 && c === 'egress') return Object.keys(EgressEntries);
    if (n === 3 && c === 'limits') return Object.keys(LimitsEntries);
    if (n === 5 && c === 'egress' && d === 'routes') return Object.keys(RouteEntries);
    if (n === 6 && c === 'egress' && d === 'routes' && f === 'auth') return Object.keys(RouteAuthEntries);
  }
  if (a === 'agents') {
    if (n === 2) return Object.keys(AgentEntries);
    if (n === 4 && c === 'provisioners') return Object.keys(ProvisionerRefEntries);
  }
  return [];
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** True when every character of `short` appears in `long` in order ("opts" in "options"). */
function isSubsequence(short: string, long: string): boolean {
  let i = 0;
  for (const c of long) if (c === short[i]) i++;
  return i === short.length;
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const lower = key.toLowerCase();
  const near =
    known.find((k) => k.toLowerCase() === lower) ??
    known.find((k) => editDistance(k.toLowerCase(), lower) <= 2) ??
    known.find((k) => lower.length >= 3 && (isSubsequence(lower, k.toLowerCase()) || lower.startsWith(k.toLowerCase())));
  const hint = near ? `did you mean "${near}"? ` : '';
  const allowed = known.length ? ` (allowed here: ${known.join(', ')})` : '';
  return `unknown key ${JSON.stringify(key)}; ${hint}remove it or fix its spelling${allowed}`;
}

const EXPECTED_WORDS: Record<string, string> = {
  Object: 'an object',
  Array: 'an array',
  string: 'a string',
  boolean: 'true or false',
  number: 'a number',
};

function describeExpected(expected: string | null): string {
  if (expected === null) return 'something else';
  if (EXPECTED_WORDS[expected]) return EXPECTED_WORDS[expected];
  const choices = /^\((.*)\)$/.exec(expected);
  if (choices) return `one of ${choices[1]!.split(' | ').join(', ')}`;
  return expected;
}

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

function issueLines(issues: readonly v.BaseIssue<unknown>[], prefix: readonly (string | number)[] = []): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const segs = [...prefix, ...(issue.path ?? []).map((p) => p.key as string | number)];
    const where = formatPath(segs);
    // valibot's own messages start with "Invalid"; ours (from the schema above) are kept as written.
    const generic = issue.message.startsWith('Invalid ');
    let message = issue.message;
    if (issue.type === 'union' && issue.issues?.length) {
      // A union reports every branch; only the branch for the kind of value given is useful.
      // valibot returns a typed branch's issues directly, so here no branch took the value: for
      // an object, the object branch's issues say what is wrong; for anything else, the rule does.
      if (isPlainObject(issue.input)) {
        const objectBranch = issue.issues.filter((i) => (i.path?.length ?? 0) > 0 || i.type !== 'string');
        if (objectBranch.length) {
          lines.push(...issueLines(objectBranch, segs));
          continue;
        }
      }
      message = `${PROVISIONER_REF_RULE}, not ${describeValue(issue.input)}`;
    } else if (issue.kind === 'schema' && issue.type === 'strict_object' && issue.expected === 'never') {
      message = unknownKeyMessage(String(segs[segs.length - 1]), knownKeysAt(segs.slice(0, -1)));
    } else if (issue.kind === 'schema' && issue.input === undefined && generic) {
      message = 'missing; it is required';
    } else if (issue.kind === 'schema' && generic) {
      message = `expected ${describeExpected(issue.expected)} but got ${describeValue(issue.input)}`;
      if (issue.expected === 'boolean' && (issue.input === 'true' || issue.input === 'false')) message += '; write it without quotes';
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

const PARSE_ERROR_WORDS: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a key in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected ":" after the key',
  CommaExpected: 'expected "," between entries',
  CloseBraceExpected: 'expected "}" to close the object',
  CloseBracketExpected: 'expected "]" to close the array',
  EndOfFileExpected: 'unexpected text after the end of the JSON value',
  InvalidCommentToken: 'comments are not allowed in JSON; remove the comment',
  UnexpectedEndOfComment: 'unterminated comment (comments are not allowed in JSON)',
  UnexpectedEndOfString: 'unterminated string (a string must close on the line it starts; write a line break as \\n)',
  UnexpectedEndOfNumber: 'incomplete number',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape in a string (write a backslash as \\\\)',
  InvalidCharacter: 'control character in a string (write a tab as \\t, a line break as \\n)',
};

/** One readable sentence for the first JSON syntax error (the later ones are its echoes). */
function describeParseError(text: string, e: ParseError): string {
  const at = text[e.offset];
  if ((at === '}' || at === ']') && /,\s*$/.test(text.slice(0, e.offset))) {
    return `trailing comma before "${at}"; remove the ","`;
  }
  const code = printParseErrorCode(e.error);
  if (code === 'InvalidSymbol') {
    const token = text.slice(e.offset, e.offset + Math.max(1, e.length));
    if (token.startsWith("'")) return 'strings and keys need double quotes, not single quotes';
    return `unexpected ${JSON.stringify(token.length > 20 ? `${token.slice(0, 20)}...` : token)}`;
  }
  return PARSE_ERROR_WORDS[code] ?? code;
}

/** Parses JSON text strictly (no comments, no trailing commas, no duplicate keys), reporting line and column. */
export function parseJsonText(text: string, source: string): unknown {
  const size = Buffer.byteLength(text);
  if (size > MANIFEST_MAX_BYTES) {
    throw new BottleError('MANIFEST_INVALID', `${source}: the manifest is ${(size / 1048576).toFixed(1)} MiB; the limit is 1 MiB`, {
      details: [`(top level): ${size} bytes is more than ${MANIFEST_MAX_BYTES}`],
      suggestions: ['A manifest holds names and settings only; keep prompts and skills in files beside it.'],
      exit: EXIT_USAGE,
    });
  }
  // An editor's byte-order mark is not part of the JSON.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (body.trim() === '') {
    throw new BottleError('MANIFEST_INVALID_JSON', `${source} is empty`, {
      details: ['line 1, column 1: expected a JSON object with "bottles" and "agents"'],
      suggestions: ['Run `bottle init` for a starter manifest.'],
      exit: EXIT_USAGE,
    });
  }
  // The parser below recurses per level; measure the depth first, without recursion.
  const depth = nestingDepth(body);
  if (depth > MANIFEST_MAX_DEPTH) {
    throw new BottleError('MANIFEST_INVALID', `${source}: the manifest nests ${depth} levels deep; the limit is ${MANIFEST_MAX_DEPTH}`, {
      details: [`(top level): nesting of ${depth} levels is more than ${MANIFEST_MAX_DEPTH}`],
      suggestions: ['Check the file: a bot-bottle manifest is at most 7 levels deep.'],
      exit: EXIT_USAGE,
    });
  }
  const errors: ParseError[] = [];
  const duplicates: string[] = [];
  const keysStack: Set<string>[] = [];
  visitJson(
    body,
    {
      onObjectBegin: () => {
        keysStack.push(new Set());
      },
      onObjectEnd: () => {
        keysStack.pop();
      },
      onObjectProperty: (key, offset, _length, startLine, startCharacter, pathSupplier) => {
        const keys = keysStack[keysStack.length - 1];
        if (!keys) return;
        if (keys.has(key)) {
          duplicates.push(`${formatPath([...pathSupplier(), key])}: key ${JSON.stringify(key)} appears twice in one object (again at line ${startLine + 1}, column ${startCharacter + 1}); keep one`);
        }
        keys.add(key);
        void offset;
      },
      onError: (error, offset, length) => {
        errors.push({ error, offset, length });
      },
    },
    { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false },
  );
  if (errors.length > 0) {
    const first = errors[0]!;
    const { line, column } = lineColumn(body, first.offset);
    throw new BottleError('MANIFEST_INVALID_JSON', `${source} is not valid JSON`, {
      details: [`line ${line}, column ${column}: ${describeParseError(body, first)}`],
      suggestions: ['Fix the JSON at the line and column shown (comments and trailing commas are not allowed).'],
      exit: EXIT_USAGE,
    });
  }
  let value: unknown;
  try {
    // JSON.parse builds the value: it keeps a "__proto__" key as data instead of a prototype.
    value = JSON.parse(body);
  } catch (e) {
    throw new BottleError('MANIFEST_INVALID_JSON', `${source} is not valid JSON`, {
      details: [(e as Error).message],
      suggestions: ['Fix the JSON at the place shown.'],
      exit: EXIT_USAGE,
    });
  }
  if (duplicates.length) {
    throw new BottleError('MANIFEST_INVALID', `${source} is not a valid manifest`, {
      details: duplicates,
      suggestions: ['A repeated key silently replaces the first one; keep one of them.'],
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

/**
 * Agents naming a bottle that is not defined. Works on an unchecked value too, so that a manifest
 * with schema errors still hears about a misspelt bottle in the same run.
 */
function bottleReferenceProblems(value: unknown): string[] {
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
  }
  return problems;
}

/** Names a record schema skips without a word (valibot guards them against prototype pollution). */
const RESERVED_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

function reservedNameLines(value: Record<string, unknown>): string[] {
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

/** Validates a parsed value: schema first, then cross-checks. Throws one BottleError listing every problem. */
export async function validateManifest(value: unknown, source: string, baseDir: string, home = homedir()): Promise<LoadedManifest> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BottleError('MANIFEST_INVALID', `${source} is not a valid manifest`, {
      details: [`(top level): expected an object with "bottles" and "agents" but got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`],
      suggestions: ['Run `bottle init` for a starter manifest.'],
      exit: EXIT_USAGE,
    });
  }
  const reserved = reservedNameLines(value as Record<string, unknown>);
  const result = v.safeParse(ManifestSchema, value);
  if (!result.success || reserved.length) {
    throw new BottleError('MANIFEST_INVALID', `${source} is not a valid manifest`, {
      details: [...new Set([...reserved, ...(result.success ? [] : issueLines(result.issues)), ...bottleReferenceProblems(value)])],
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
  const abs = path.resolve(expandHome(file, home));
  const st = await stat(abs).catch((e: NodeJS.ErrnoException) => e);
  if (st instanceof Error) {
    const code = (st as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new BottleError('MANIFEST_NOT_FOUND', `manifest ${abs} does not exist`, {
        suggestions: ['Check the path, or run `bottle init` to write a starter manifest.'],
        exit: EXIT_USAGE,
      });
    }
    throw new BottleError('MANIFEST_UNREADABLE', `cannot read manifest ${abs} (${code ?? st.message})`, {
      suggestions: code === 'EACCES' ? [`Make it and its folders readable, e.g. chmod u+r ${abs}`] : ['Check the file and its permissions.'],
      exit: EXIT_USAGE,
      cause: st,
    });
  }
  if (st.isDirectory()) {
    throw new BottleError('MANIFEST_UNREADABLE', `manifest ${abs} is a directory, not a file`, {
      suggestions: [`Point at the file inside it, e.g. --manifest ${path.join(abs, 'bottle.json')}`],
      exit: EXIT_USAGE,
    });
  }
  if (!st.isFile()) {
    throw new BottleError('MANIFEST_UNREADABLE', `manifest ${abs} is not a regular file`, {
      suggestions: ['Point at a bottle.json file.'],
      exit: EXIT_USAGE,
    });
  }
  if (st.size > MANIFEST_MAX_BYTES) {
    throw new BottleError('MANIFEST_INVALID', `${abs}: the manifest is ${(st.size / 1048576).toFixed(1)} MiB; the limit is 1 MiB`, {
      details: [`(top level): ${st.size} bytes is more than ${MANIFEST_MAX_BYTES}`],
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
