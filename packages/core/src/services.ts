/**
 * The bundle's services as its bottle reaches them, for every backend: each service listens on a
 * unix socket of its own in the bundle's socket folder, and the bottle reaches it on its own
 * loopback at a fixed port (the docker backend's forwarder maps each port onto the socket of the
 * same row). The plan, the agent's env, the backends, the bundle and the forwarder all read this one
 * table, so a port or a socket name is changed here or nowhere.
 */
import type { AgentEndpoints } from './backend.js';

export interface BundleService {
  /** The port on the bottle's loopback. */
  port: number;
  /** The socket's name in the bundle's socket folder. */
  socket: string;
}

export const BUNDLE_SERVICES = {
  /** The egress gateway, the bottle's HTTP(S)_PROXY. */
  egress: { port: 3128, socket: 'egress.sock' },
  /** git-gate, `git://HOST:PORT/<Name>.git`. */
  git: { port: 9418, socket: 'git.sock' },
  /** The supervise MCP server (Streamable HTTP at SUPERVISE_MCP_PATH). */
  supervise: { port: 9100, socket: 'supervise.sock' },
} as const satisfies Record<string, BundleService>;

export type BundleServiceName = keyof typeof BUNDLE_SERVICES;

/** Where the supervise server answers MCP requests. */
export const SUPERVISE_MCP_PATH = '/mcp';

/** The address the bottle reaches its bundle's services at: its own loopback. */
export const GUEST_SERVICE_HOST = '127.0.0.1';

/** The endpoints an agent uses, built from the table: the proxy URL, git-gate's host:port, the supervise URL. */
export function guestEndpoints(host: string = GUEST_SERVICE_HOST): AgentEndpoints {
  return {
    proxyUrl: `http://${host}:${BUNDLE_SERVICES.egress.port}`,
    gitGateHost: `${host}:${BUNDLE_SERVICES.git.port}`,
    superviseUrl: `http://${host}:${BUNDLE_SERVICES.supervise.port}${SUPERVISE_MCP_PATH}`,
  };
}

/**
 * The file the bundle writes once every service listens: in its socket folder (the bottle's
 * forwarder holds early connections until it exists) and in its log folder (the launcher waits for it).
 */
export const BUNDLE_READY_MARKER = 'ready';

/** The audit log's name in the bundle's log folder; the plan puts that folder in the bottle's state dir. */
export const AUDIT_LOG_NAME = 'audit.jsonl';

/**
 * The bottle's control folder in its state dir (`<stateDir>/control`): a host folder the bottle never
 * sees, holding the egress gateway's admin socket (GET/PUT /routes), through which the host changes
 * the running gateway (a supervise approval).
 */
export const CONTROL_DIR_NAME = 'control';
export const EGRESS_ADMIN_SOCKET = 'egress-admin.sock';
