/**
 * The manifest's shape as valibot schemas, the types inferred from them, and the checks of single
 * values (git URLs, route hosts, origins) whose messages the schemas report.
 */
import * as v from 'valibot';
import { cpusProblem, memoryProblem, pidsProblem } from '../limits.js';
import { describeValue } from './describe.js';

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

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
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

/**
 * Why a git entry's `refs` pattern cannot open a namespace for pushes, or null. refs/replace/ and
 * refs/namespaces/ never can: a ref there changes what other names show (a replace ref makes every
 * mirror read another commit's content under a protected branch's unchanged id), so `protect`
 * could not guard them. git-gate checks the same (packages/git-gate/src/policy.ts), and refuses
 * such a push whatever its config says.
 */
function gitRefsPatternProblem(pattern: string): string | null {
  const shape = 'a refs pattern names refs in one namespace outside refs/heads/ and refs/tags/, such as "refs/notes/*" or "refs/for/*"';
  if (pattern === '') return 'a refs pattern must not be empty';
  if (!/^refs\/[^/*]+\/./.test(pattern)) return `${shape}; "${pattern}" does not start with refs/<namespace>/ (no "*" in the namespace)`;
  if (/[\s\u0000-\u001f\u007f-\u009f\\?[\]^~:]/.test(pattern) || pattern.includes('..')) return `${shape}, with no spaces, control characters, "..", "?", "[", "^", "~", ":" or "\\\\"`;
  // Folded as a case-insensitive file system (macOS, Windows) compares it, as git-gate's foldRefName
  // does: there refs/Replace./ is the folder refs/replace/.
  const ns = pattern.split('/')[1]!.normalize('NFKC').replace(/\p{Default_Ignorable_Code_Point}/gu, '').toUpperCase().toLowerCase().normalize('NFKC').replace(/\.+$/, '');
  if (ns === 'heads' || ns === 'tags') return `refs/heads/ and refs/tags/ are always pushable (guard them with protect); ${shape}`;
  if (ns === 'replace') return 'refs/replace/ can never be opted in: a replace ref makes git show another commit in place of the one it names, so every mirror would read the pushed content under a branch\'s unchanged id, a protected one too';
  if (ns === 'namespaces') return 'refs/namespaces/ can never be opted in: a server run with GIT_NAMESPACE=<name> serves refs/namespaces/<name>/ as its own refs, so they could stand in for a protected branch';
  return null;
}

export const GitEntryEntries = {
  Name: v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'Name must be 1-100 characters of A-Z, a-z, 0-9, ".", "_" or "-", starting with a letter or digit (it becomes <Name>.git on the gate)'), v.check((s) => !s.toLowerCase().endsWith('.git') && !s.includes('..'), 'Name must not end in ".git" or contain ".."')),
  Upstream: v.pipe(v.string(), v.check((s) => gitUrlProblem(s) === null, (issue) => gitUrlProblem(issue.input as string) ?? 'Upstream is not a git URL')),
  IdentityFile: v.optional(NonEmpty('IdentityFile')),
  KnownHosts: v.optional(NonEmpty('KnownHosts')),
  push: v.optional(v.boolean()),
  protect: v.optional(v.array(NonEmpty('a protect pattern'))),
  /** Namespaces the bottle may push beyond refs/heads/ and refs/tags/, e.g. ["refs/notes/*"]. */
  refs: v.optional(v.array(v.pipe(v.string(), v.trim(), v.check((p) => gitRefsPatternProblem(p) === null, (issue) => gitRefsPatternProblem(issue.input as string) ?? 'not a refs pattern')))),
};
const GitEntrySchema = objectOnly(v.strictObject(GitEntryEntries));

export const GitUserEntries = {
  name: v.optional(NonEmpty('git_user.name')),
  email: v.optional(v.pipe(v.string(), v.email((issue) => `git_user.email ${describeValue(issue.input).replace(/^the string /, '')} is not an e-mail address`))),
};
const GitUserSchema = objectOnly(v.strictObject(GitUserEntries));

/**
 * Header names a route may never inject: those that frame or route a message (an injected
 * content-length or transfer-encoding would let a chunked body go out unframed, smuggling requests
 * past the route's policy and into another route's pooled connection), those that belong to one
 * hop, and those the gateway itself sets or strips (Host, Accept-Encoding on a credential route,
 * the WebSocket handshake's). Matched in any case.
 */
const RESERVED_AUTH_HEADERS = new Set([
  'content-length', 'transfer-encoding', 'host', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'expect',
  'accept-encoding', 'content-encoding', 'content-type', 'http2-settings', 'forwarded', 'via', 'max-forwards',
  'sec-websocket-key', 'sec-websocket-accept', 'sec-websocket-extensions', 'sec-websocket-version', 'sec-websocket-protocol',
  'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-http-method-override', 'x-http-method', 'x-method-override',
  'x-original-url', 'x-rewrite-url',
]);

/** Why `name` cannot be a route's injected header, or null. */
export function authHeaderProblem(name: string): string | null {
  if (!HEADER_NAME_PATTERN.test(name)) return 'header must be an HTTP header name such as x-api-key or authorization';
  const lower = name.toLowerCase();
  if (RESERVED_AUTH_HEADERS.has(lower) || lower.startsWith('proxy-') || lower.startsWith('x-bot-bottle-') || lower.startsWith(':')) {
    return `header "${name}" frames, routes or belongs to one hop of a request (or the gateway sets it); a credential goes in a header such as authorization or x-api-key`;
  }
  return null;
}

/** Why `format` cannot make a header value, or null: it needs `{value}` and no control characters (CR/LF would start a new header). */
export function authFormatProblem(format: string): string | null {
  if (!format.includes('{value}')) return 'format must contain {value}, e.g. "Bearer {value}"';
  // A header value is visible ASCII, spaces and tabs: anything else is refused by HTTP or hidden from the person who approves it.
  if (/[^\t\x20-\x7e]/.test(format)) return 'format must be printable ASCII (no control, line-break or non-ASCII characters), e.g. "Bearer {value}"';
  if (format.length > 256) return 'format must be at most 256 characters';
  return null;
}

export const RouteAuthEntries = {
  header: v.pipe(v.string(), v.check((h) => authHeaderProblem(h) === null, (issue) => authHeaderProblem(issue.input as string) ?? 'header is not valid')),
  env: v.pipe(v.string(), v.regex(ENV_NAME_PATTERN, 'env must be the name of an environment variable such as ANTHROPIC_API_KEY (letters, digits and "_", not starting with a digit), not its value')),
  format: v.optional(v.pipe(v.string(), v.check((f) => authFormatProblem(f) === null, (issue) => authFormatProblem(issue.input as string) ?? 'format is not valid'))),
  /** Opt-in, by name, to sending the credential over plain http (a `to` of http://, or "schemes" with "http"). */
  cleartext: v.optional(v.boolean()),
};
const RouteAuthSchema = objectOnly(v.strictObject(RouteAuthEntries));

export const RouteEntries = {
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

const PRESETS = ['npm', 'pypi', 'crates', 'go', 'github'] as const;
const PRESET_RULE = `presets may name ${PRESETS.join(', ')} (\`bottle presets\` lists their hosts), or {"name": ..., "to": "https://mirror.internal"}`;
export const PresetUseEntries = {
  name: v.picklist(PRESETS, PRESET_RULE),
  /** Where the gateway connects for every host of the preset (an internal mirror). */
  to: v.optional(v.pipe(v.string(), v.check((s) => originProblem(s) === null, (issue) => originProblem(issue.input as string) ?? 'to is not valid'))),
};
const PresetUseSchema = v.union([v.picklist(PRESETS, PRESET_RULE), objectOnly(v.strictObject(PresetUseEntries))], PRESET_RULE);

const SetupSchema = v.array(
  v.pipe(
    v.string('each setup command is a string, run with sh -c'),
    v.trim(),
    v.nonEmpty('a setup command must not be empty'),
    v.maxLength(4096, 'a setup command is at most 4096 characters; put a longer one in a script in the project'),
  ),
);

export const EgressEntries = {
  routes: v.optional(v.array(RouteSchema)),
  /** Package registries, read-only (GET/HEAD): each expands to its hosts' routes (presets.ts). */
  presets: v.optional(v.array(PresetUseSchema)),
};
const EgressSchema = objectOnly(v.strictObject(EgressEntries));

/**
 * An image reference as docker reads one: [registry[:port]/]path[:tag][@digest], or an image id
 * (sha256:<64 hex>). Names are lower case; a tag is up to 128 of [A-Za-z0-9_.-].
 */
const IMAGE_REF_PATTERN =
  /^(?:sha256:[0-9a-f]{64}|(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?)$/;
export const IMAGE_REF_RULE = 'image is an image reference such as "python:3.12-bookworm", {"dockerfile": "Dockerfile", "context": "."}, or {"devcontainer": ".devcontainer/devcontainer.json"}';

/** Why `s` is not an image reference docker would take, or null when it is one. */
export function imageRefProblem(s: string): string | null {
  if (s.trim() === '') return `${IMAGE_REF_RULE}; it must not be empty`;
  if (/(^|\/)Dockerfile$|\.json$|^\.{0,2}\//.test(s)) return `${JSON.stringify(s)} looks like a file; write {"dockerfile": ${JSON.stringify(s)}} for a Dockerfile or {"devcontainer": ${JSON.stringify(s)}} for a devcontainer.json`;
  if (s.length > 255 || !IMAGE_REF_PATTERN.test(s)) return `${JSON.stringify(s)} is not an image reference; write one such as "python:3.12-bookworm" or "registry.example.com/team/app:1.2" (lower-case name, optional :tag and @sha256:digest)`;
  return null;
}

const BUILD_ARG_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ManifestFilePath = (what: string) => v.pipe(v.string(`${what} must be a path (relative to the manifest's folder)`), v.nonEmpty(`${what} must not be empty`));
/** The object forms of "image": a Dockerfile build, or a devcontainer.json; one of the two. */
export const ImageEntries = {
  /** A Dockerfile, relative to the manifest's folder. */
  dockerfile: v.optional(ManifestFilePath('dockerfile')),
  /** The build context folder, relative to the manifest's folder (default "."). */
  context: v.optional(ManifestFilePath('context')),
  /** Build args (`--build-arg NAME=value`); recorded in the image, so never a secret. */
  args: v.optional(
    objectOnly(
      v.record(
        v.pipe(v.string(), v.regex(BUILD_ARG_PATTERN, (issue) => `${JSON.stringify(issue.input)} is not a build arg name (letters, digits and "_", not starting with a digit)`)),
        v.string('a build arg value is a string'),
      ),
    ),
  ),
  /** The stage to build (`--target`). */
  target: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'target must be a stage name of the Dockerfile'))),
  /** A devcontainer.json, relative to the manifest's folder: its "image", or its "build". */
  devcontainer: v.optional(ManifestFilePath('devcontainer')),
};
const ImageObjectSchema = v.pipe(
  objectOnly(v.strictObject(ImageEntries)),
  v.check(
    (o) => (o.devcontainer === undefined ? o.dockerfile !== undefined : o.dockerfile === undefined && o.context === undefined && o.args === undefined && o.target === undefined),
    (issue) => {
      const o = issue.input as { devcontainer?: unknown; dockerfile?: unknown };
      return o.devcontainer === undefined
        ? 'an image object needs "dockerfile" ({"dockerfile": "Dockerfile", "context": "."}) or "devcontainer" ({"devcontainer": ".devcontainer/devcontainer.json"})'
        : '"devcontainer" stands alone: the devcontainer.json says how its image is built; remove "dockerfile", "context", "args" and "target"';
    },
  ),
);
const ImageSchema = v.union(
  [v.pipe(v.string(), v.check((s) => imageRefProblem(s) === null, (issue) => imageRefProblem(issue.input as string) ?? IMAGE_REF_RULE)), ImageObjectSchema],
  IMAGE_REF_RULE,
);

/** Each check takes any value, so that a wrong type gets the same message as a wrong shape. */
export const LimitsEntries = {
  memory: v.optional(v.pipe(v.unknown(), v.check((x) => memoryProblem(x) === null, (issue) => memoryProblem(issue.input) ?? 'memory is not valid'), v.transform((x) => x as string))),
  cpus: v.optional(v.pipe(v.unknown(), v.check((x) => cpusProblem(x) === null, (issue) => cpusProblem(issue.input) ?? 'cpus is not valid'), v.transform((x) => x as number))),
  pids: v.optional(v.pipe(v.unknown(), v.check((x) => pidsProblem(x) === null, (issue) => pidsProblem(issue.input) ?? 'pids is not valid'), v.transform((x) => x as number))),
};
const LimitsSchema = objectOnly(v.strictObject(LimitsEntries));

export const SuperviseEntries = {
  credentials: v.optional(
    v.array(
      v.pipe(
        v.string('each credential must be the name of a host environment variable, such as "GITHUB_TOKEN"'),
        v.regex(ENV_NAME_PATTERN, (issue) => `${describeValue(issue.input)} is not an environment variable name; name the host variable a request may ask for, such as GITHUB_TOKEN (letters, digits and "_", not starting with a digit), never its value`),
      ),
      'credentials must be a list of host environment variable names, such as ["GITHUB_TOKEN"]',
    ),
  ),
};
export const SUPERVISE_RULE = 'supervise is true, false, or {"credentials": ["NAME", ...]} (the host env vars a request may ask for)';
const SuperviseSchema = v.union([v.boolean(), objectOnly(v.strictObject(SuperviseEntries))], SUPERVISE_RULE);

export const BottleEntries = {
  git: v.optional(v.array(GitEntrySchema)),
  git_user: v.optional(GitUserSchema),
  egress: v.optional(EgressSchema),
  /**
   * The supervise MCP server: `true` lets the agent ask for changes but for no credential;
   * `{"credentials": [...]}` also names the host env vars a request may ask the gateway to inject
   * (the only ones `bottle supervise approve` will hand it). `false` or absent: no server.
   */
  supervise: v.optional(SuperviseSchema),
  /** The bottle's memory, CPU and process limits; absent keys get the defaults (`limits.ts`). */
  limits: v.optional(LimitsSchema),
  /** Shell commands run as the agent user in the workspace after provisioning, before any agent's own (`pip install -e .`, `npm ci`). */
  setup: v.optional(SetupSchema),
  /**
   * The image the bottle runs, with bot-bottle's agent layer added on top: a reference the engine
   * has or can pull, a Dockerfile to build, or a devcontainer.json. Absent: bot-bottle's agent image.
   */
  image: v.optional(ImageSchema),
  /** The backend that runs this bottle ("docker", "smolmachines", a plugin's); --backend and BOT_BOTTLE_BACKEND override it. */
  backend: v.optional(v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]{0,39}$/, (issue) => `${describeValue(issue.input)} is not a backend name; use one of the installed backends (\`bottle doctor\` lists them), e.g. "docker" or "smolmachines"`))),
};
const BottleSchema = objectOnly(v.strictObject(BottleEntries));

const ProvisionerName = v.pipe(v.string(), v.regex(NAME_PATTERN, (issue) => `${describeValue(issue.input)} is not a provisioner name; ${NAME_RULE}`));
export const ProvisionerRefEntries = {
  name: ProvisionerName,
  // Kept as given (a record schema would drop keys such as "constructor"); the provisioner's own schema checks it.
  options: v.optional(v.custom<Record<string, unknown>>(isPlainObject, (issue) => `expected an object but got ${describeValue(issue.input)}`)),
};
export const PROVISIONER_REF_RULE = 'a provisioner is a name ("ca") or an object {"name": "...", "options": {...}}';
const ProvisionerRefSchema = v.union([ProvisionerName, objectOnly(v.strictObject(ProvisionerRefEntries))], PROVISIONER_REF_RULE);

export const AgentEntries = {
  bottle: NonEmpty('bottle'),
  /** Which coding agent runs: "claude" (the default), "codex", "gemini", "opencode", or an agent plugin's name. */
  cli: v.optional(v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]{0,39}$/, (issue) => `${describeValue(issue.input)} is not an agent CLI name; use one of the installed agents (\`bottle agents\` lists them), e.g. "claude" or "codex"`))),
  /**
   * The agent's own permission prompts and inner sandbox, back on. Off by default: the bottle is the
   * sandbox, so the agent runs unattended (Claude Code's --dangerously-skip-permissions, Codex's
   * no-approval full access, Gemini's --yolo, OpenCode's allow-all).
   */
  permissionPrompts: v.optional(v.boolean('permissionPrompts is true (the agent asks before each tool, as it does outside a bottle) or false (the default)')),
  skills: v.optional(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'a skill name must be a directory name (A-Z, a-z, 0-9, ".", "_", "-"), starting with a letter or digit')))),
  prompt: v.optional(v.string()),
  provisioners: v.optional(v.array(ProvisionerRefSchema)),
  /** Shell commands run as the agent user in the workspace, after the bottle's own, before the agent starts. */
  setup: v.optional(SetupSchema),
  /** Ports of the bottle forwarded to host loopback on every `bottle run` (as `bottle port` does): 3000, or "3000:13000". */
  ports: v.optional(
    v.array(
      v.union(
        [v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)), v.pipe(v.string(), v.regex(/^\d{1,5}(:\d{1,5})?$/))],
        'a port is a number (3000) or "PORT:HOSTPORT" ("3000:13000")',
      ),
    ),
  ),
  /**
   * --copy-cwd by default for this agent; in a git repo the agent's work comes back as
   * bottle/<slug>/* branches, with limits on what one push may bring.
   */
  copyCwd: v.optional(
    v.union(
      [
        v.boolean(),
        objectOnly(
          v.strictObject({
            maxPushMiB: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65536))),
            maxBranches: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10000))),
          }),
        ),
      ],
      'copyCwd is true, false, or {"maxPushMiB": N, "maxBranches": N} (the most one push of the agent may bring back)',
    ),
  ),
};
const AgentSchema = objectOnly(v.strictObject(AgentEntries));

const NamedRecord = <T extends v.GenericSchema>(what: string, item: T) =>
  objectOnly(v.record(v.pipe(v.string(), v.regex(NAME_PATTERN, (issue) => `${JSON.stringify(issue.input)} is not a valid ${what} name; ${NAME_RULE}`)), item));

export const ManifestEntries = {
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

/** The provisioners an agent gets when it names none. */
export const DEFAULT_PROVISIONERS = ['ca', 'git', 'prompt', 'skills', 'supervise'] as const;
