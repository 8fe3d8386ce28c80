/**
 * The supervise MCP server: what the agent sees of its bottle's rules, and the one way it can ask
 * for more. Streamable HTTP, stateless (a fresh MCP server per HTTP request: there is nothing to
 * keep between calls but the queue, which is on disk), JSON responses.
 *
 * Three tools, their inputs checked with valibot (a bad input is a tool error saying what to fix):
 * - get_rules: the egress routes in force (credentials by env var name, never a value), the git
 *   repos with push/protect, and the bottle's pending requests;
 * - request_egress {host, reason, methods?, paths?, auth?} -> {id, status: "pending"}; auth may name
 *   only a host env var of the manifest's `"supervise": {"credentials": [...]}`;
 * - get_request {id} -> {id, host, status, decidedBy?, reason?}.
 *
 * It can only ask: it writes requests into the queue folder and reads decisions and the routes in
 * force from a folder it cannot write. A person approves on the host, which changes the running
 * gateway through its admin socket; this server never reaches that socket.
 */
import http from 'node:http';
import { rm } from 'node:fs/promises';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { toJsonSchema } from '@valibot/to-json-schema';
import * as v from 'valibot';
import { SUPERVISE_MCP_PATH, readJsonBody, type EgressRoute, type SuperviseAuditEntry } from '@bot-bottle/core/service';
import { listQueue, readDecision, readRequest, readRoutesFile, writeRequest } from './queue.js';
import { GetRequestInput, GetRulesInput, MAX_PENDING, RequestEgressInput, credentialProblem, inputProblems, newRequestId, sameAsk, type RequestRecord } from './requests.js';

export interface GitRepoRule {
  name: string;
  push: boolean;
  protect: string[];
}

export interface SuperviseServerOptions {
  /** A unix socket (in the bundle), or a TCP port on loopback (tests). */
  listen: { socket: string } | { port: number; host?: string };
  /** Where requests are written (the host reads them). */
  queueDir: string;
  /** Where the host writes decisions and routes.json (read-only here). */
  decisionsDir: string;
  /** The routes at launch; the host's routes.json replaces them once it exists. */
  routes: readonly EgressRoute[];
  repos: readonly GitRepoRule[];
  /**
   * The host env vars a request may ask the gateway to inject (the manifest's
   * `"supervise": {"credentials": [...]}`); empty: none. A request naming another is refused here.
   */
  credentials: readonly string[];
  onAudit?: (entry: SuperviseAuditEntry) => void;
  /** Defaults to MAX_PENDING. */
  maxPending?: number;
}

export interface SuperviseServer {
  socketPath: string | null;
  port: number | null;
  close(): Promise<void>;
}

/** A refusal the agent can act on: returned as a tool error with this message. */
class Refusal extends Error {}

const MAX_BODY = 256 * 1024;

function jsonSchemaOf(schema: v.GenericSchema): { type: 'object'; [k: string]: unknown } {
  // Checks without a JSON Schema form (trim, the host rules) are left to valibot at call time.
  const { $schema: _drop, ...rest } = toJsonSchema(schema, { errorMode: 'ignore' }) as Record<string, unknown>;
  return { ...rest, type: 'object' };
}

const TOOL_NAMES = ['get_rules', 'request_egress', 'get_request'] as const;

/** The credentials this bottle may ask for, said in the tools' descriptions. */
function askable(credentials: readonly string[]): string {
  return credentials.length ? `only these host env vars may be named: ${credentials.join(', ')}` : 'this bottle may ask for no credential (its manifest names none), so leave auth out';
}

/** The tools as the agent lists them; their descriptions say which credentials may be asked for. */
function toolsFor(credentials: readonly string[]) {
  return [
    {
      name: 'get_rules',
      description:
        "This bottle's rules as they are now: the egress routes (host, methods, paths, and whether the gateway injects a credential and from which host env var; never its value), the git repos with whether pushes are allowed and which refs are protected, the host env vars request_egress may name in auth (askableCredentials), and the requests still waiting for a person.",
      inputSchema: jsonSchemaOf(GetRulesInput),
    },
    {
      name: 'request_egress',
      description: [
        'Ask a person to let this bottle reach a host it may not reach now (a request through the proxy gets 403 for it). Returns {id, status: "pending"}; a person approves or denies it on the host, and an approval takes effect at once, without a restart. Poll get_request with the id.',
        'host: an exact DNS name (api.example.com) or the names under one domain (*.example.com); no IP addresses, no "*", no wildcard over a public suffix.',
        'reason: why you need it (at most 1000 characters); the person reads it. methods and paths (prefixes such as "/v1/") narrow what you ask for, and a narrow ask is more likely to be approved.',
        `auth {header, env, format?}: ask the gateway to set a header from an environment variable on the host, named only (the value never enters the bottle); ${askable(credentials)}.`,
        `At most ${MAX_PENDING} requests wait at once; asking again for the same thing returns the pending request's id.`,
      ].join('\n'),
      inputSchema: jsonSchemaOf(RequestEgressInput),
    },
    {
      name: 'get_request',
      description: 'The state of a request made with request_egress: {id, host, status: "pending" | "approved" | "denied", decidedBy?, reason?}. On a denial, reason is what the person said.',
      inputSchema: jsonSchemaOf(GetRequestInput),
    },
  ];
}

function toolResult(value: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value, null, 2) }], structuredContent: value };
}

function toolError(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

function askOf(r: Pick<RequestRecord, 'host' | 'methods' | 'paths' | 'auth'>) {
  return {
    host: r.host,
    ...(r.methods ? { methods: r.methods } : {}),
    ...(r.paths ? { paths: r.paths } : {}),
    ...(r.auth ? { auth: { header: r.auth.header, env: r.auth.env } } : {}),
  };
}

/** The tools' work, apart from MCP and HTTP (unit-tested on its own). */
export class SuperviseTools {
  /** request_egress calls, one at a time: the pending count and the duplicate check hold. */
  private chain: Promise<unknown> = Promise.resolve();

  /** The tools as tools/list gives them. */
  readonly list: ReturnType<typeof toolsFor>;

  constructor(private readonly options: Omit<SuperviseServerOptions, 'listen'>) {
    this.list = toolsFor(options.credentials);
  }

  private audit(entry: Omit<SuperviseAuditEntry, 'time' | 'source' | 'event'>): void {
    this.options.onAudit?.({ time: new Date().toISOString(), source: 'supervise', event: 'request', ...entry });
  }

  async getRules(): Promise<Record<string, unknown>> {
    const routes = (await readRoutesFile(this.options.decisionsDir)) ?? this.options.routes;
    const { requests } = await listQueue(this.options.queueDir, this.options.decisionsDir);
    return {
      routes: routes.map((r) => ({
        host: r.host,
        methods: r.methods ?? 'any',
        paths: r.paths ?? 'any',
        ...(r.schemes ? { schemes: r.schemes } : {}),
        ...(r.ports ? { ports: r.ports } : {}),
        credential: r.auth ? { header: r.auth.header, env: r.auth.env } : null,
      })),
      git: this.options.repos.map((g) => ({ name: g.name, push: g.push, protect: g.protect })),
      askableCredentials: [...this.options.credentials],
      pending: requests.filter((q) => q.status === 'pending').map((q) => ({ id: q.request.id, ...askOf(q.request), reason: q.request.reason, time: q.request.time })),
    };
  }

  requestEgress(input: RequestEgressInput): Promise<Record<string, unknown>> {
    const run = this.chain.then(async () => {
      const refused = input.auth ? credentialProblem(input.auth.env, this.options.credentials) : null;
      if (refused) {
        this.audit({ id: null, ...askOf(input), decision: 'deny', reason: `not queued: auth.env: ${refused}` });
        throw new Refusal(`request_egress: not queued: auth.env: ${refused}`);
      }
      const { requests } = await listQueue(this.options.queueDir, this.options.decisionsDir);
      const pending = requests.filter((q) => q.status === 'pending');
      const same = pending.find((q) => sameAsk(q.request, input));
      if (same) return { id: same.request.id, status: 'pending', note: 'the same request is already waiting for a person; this is its id' };
      const max = this.options.maxPending ?? MAX_PENDING;
      if (pending.length >= max) {
        const message = `${pending.length} requests of this bottle are already waiting for a person (at most ${max}); wait for decisions (get_request) before asking for more`;
        this.audit({ id: null, ...askOf(input), decision: 'deny', reason: message });
        throw new Refusal(message);
      }
      const record: RequestRecord = { id: newRequestId(), time: new Date().toISOString(), ...input };
      await writeRequest(this.options.queueDir, record);
      this.audit({ id: record.id, ...askOf(record), decision: 'pending', reason: record.reason });
      return { id: record.id, status: 'pending' };
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  async getRequest(id: string): Promise<Record<string, unknown>> {
    const r = await readRequest(this.options.queueDir, id);
    if (!r.ok) throw new Refusal(`no request ${id} in this bottle; use an id that request_egress returned (get_rules lists the pending ones)`);
    const decision = await readDecision(this.options.decisionsDir, id);
    return {
      id,
      host: r.record.host,
      status: decision?.status ?? 'pending',
      ...(decision ? { decidedBy: decision.decidedBy } : {}),
      ...(decision?.reason ? { reason: decision.reason } : {}),
    };
  }

  /** One tools/call: the input checked, then the tool; every failure is a tool error, never a stack. */
  async call(name: string, args: unknown): Promise<CallToolResult> {
    if (!(TOOL_NAMES as readonly string[]).includes(name)) return toolError(`there is no tool "${name}"; the tools are ${TOOL_NAMES.join(', ')}`);
    const schema = name === 'get_rules' ? GetRulesInput : name === 'request_egress' ? RequestEgressInput : GetRequestInput;
    const parsed = v.safeParse(schema, args ?? {});
    if (!parsed.success) {
      const problems = inputProblems(parsed.issues);
      if (name === 'request_egress') {
        const host = typeof (args as { host?: unknown } | undefined)?.host === 'string' ? String((args as { host: string }).host).slice(0, 300) : '';
        this.audit({ id: null, host, decision: 'deny', reason: `not queued: ${problems.join('; ').slice(0, 1000)}` });
      }
      return toolError(`${name}: fix the arguments and call again:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    }
    try {
      if (name === 'get_rules') return toolResult(await this.getRules());
      if (name === 'request_egress') return toolResult(await this.requestEgress(parsed.output as RequestEgressInput));
      return toolResult(await this.getRequest((parsed.output as { id: string }).id));
    } catch (e) {
      if (e instanceof Refusal) return toolError(e.message);
      process.stderr.write(`supervise: ${name}: ${(e as Error).message}\n`);
      return toolError(`${name} failed on the supervise server (${(e as NodeJS.ErrnoException).code ?? 'error'}); try again later, or tell the person running the bottle`);
    }
  }
}

function mcpServer(tools: SuperviseTools): Server {
  const server = new Server({ name: 'supervise', version: '0.1.0' }, { capabilities: { tools: {} }, instructions: 'Read this bottle\'s rules with get_rules; ask a person for egress to a new host with request_egress, then poll get_request.' });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: tools.list }));
  server.setRequestHandler(CallToolRequestSchema, (req) => tools.call(req.params.name, req.params.arguments));
  return server;
}

function replyJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const rpcError = (code: number, message: string) => ({ jsonrpc: '2.0', error: { code, message }, id: null });

export async function startSuperviseServer(options: SuperviseServerOptions): Promise<SuperviseServer> {
  const tools = new SuperviseTools(options);
  const httpServer = http.createServer({ requestTimeout: 30_000, headersTimeout: 15_000 }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://supervise');
    if (url.pathname !== SUPERVISE_MCP_PATH) return replyJson(res, 404, rpcError(-32000, `the MCP endpoint is ${SUPERVISE_MCP_PATH}`));
    // Stateless: no server-initiated stream (GET) and no session to end (DELETE).
    if (req.method !== 'POST') return replyJson(res, 405, rpcError(-32000, 'this server is stateless: POST JSON-RPC messages only'));
    void readJsonBody(req, MAX_BODY).then((read) => {
      if (!read.ok && read.problem === 'too-large') {
        replyJson(res, 413, rpcError(-32600, `request body over ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      if (!read.ok) return replyJson(res, 400, rpcError(-32700, 'the body is not JSON'));
      const body = read.value;
      const server = mcpServer(tools);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      server
        .connect(transport)
        .then(() => transport.handleRequest(req, res, body))
        .catch((e: unknown) => {
          process.stderr.write(`supervise: ${(e as Error).message}\n`);
          if (!res.headersSent) replyJson(res, 500, rpcError(-32603, 'internal error'));
        });
    });
  });
  httpServer.maxConnections = 64;
  const listen = options.listen;
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    const done = () => {
      httpServer.off('error', reject);
      resolve();
    };
    if ('socket' in listen) void rm(listen.socket, { force: true }).then(() => httpServer.listen(listen.socket, done), reject);
    else httpServer.listen(listen.port, listen.host ?? '127.0.0.1', done);
  });
  const addr = httpServer.address();
  return {
    socketPath: 'socket' in listen ? listen.socket : null,
    port: addr && typeof addr === 'object' ? addr.port : null,
    close: () =>
      new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      }),
  };
}
