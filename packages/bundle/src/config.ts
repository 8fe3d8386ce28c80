/** The bundle's configuration, written by the launcher to /etc/bot-bottle/bundle.json (read-only mount). */
import path from 'node:path';
import * as v from 'valibot';
import { EGRESS_ADMIN_SOCKET, RouteAuthEntries, readConfigFile, type ConfigFileSpec } from '@bot-bottle/core/service';
// The config module alone: the supervisor never loads the gateway's certificate code.
import { GatewayConfigSchema } from '@bot-bottle/egress-gateway/config';
import { GitGateConfigSchema } from '@bot-bottle/git-gate';

const AbsolutePath = v.pipe(v.string(), v.check((s) => path.isAbsolute(s), 'must be an absolute path (a path inside the bundle)'));

export const BundleConfigSchema = v.strictObject({
  slug: v.pipe(v.string(), v.nonEmpty('must not be empty')),
  /** Folder where the bundle's service sockets live; it is shared with its own bottle only. */
  socketDir: AbsolutePath,
  /** Folder for the audit log and the ready marker (a host mount). */
  logDir: AbsolutePath,
  /** Folder for control sockets (route changes); a host mount the bottle never sees. */
  controlDir: AbsolutePath,
  /** The egress gateway, minus where it listens and logs (the bundle decides those). */
  egress: v.omit(GatewayConfigSchema, ['listen', 'auditLog', 'admin']),
  /** git-gate, minus where it listens, keeps mirrors and logs; null when the bottle declares no repos. */
  gitGate: v.nullable(v.omit(GitGateConfigSchema, ['listen', 'auditLog', 'dataDir'])),
  /**
   * The supervise MCP server's folder, or null/absent when the bottle has none: `queue` in it is a
   * host folder the server writes requests to; `decisions` one the host writes and it only reads.
   */
  supervise: v.optional(
    v.nullable(
      v.strictObject({
        dir: AbsolutePath,
        /** The host env vars a request may ask the gateway to inject (the manifest's `supervise.credentials`); absent: none. */
        credentials: v.optional(v.array(RouteAuthEntries.env)),
      }),
    ),
  ),
  /** Overrides GIT_GATE_DATA_DIR (tests running the bundle outside a container). */
  gitGateDataDir: v.optional(AbsolutePath),
});
export type BundleConfig = v.InferOutput<typeof BundleConfigSchema>;

const CONFIG_FILE: ConfigFileSpec = {
  service: 'bundle',
  formatHint: 'bottle writes bundle.json at launch: {"slug", "socketDir", "logDir", "controlDir", "egress": {...}, "gitGate": {...} | null, "supervise"?: {"dir", "credentials"?} | null}; launch the bottle again with the same version of bottle as the bundle image (bottle image build).',
  envVar: 'BOT_BOTTLE_BUNDLE_CONFIG',
};

/** Reads and checks bundle.json; each service checks its own part again with its own rules as it starts. */
export function readBundleConfig(file: string): Promise<BundleConfig> {
  return readConfigFile(CONFIG_FILE, BundleConfigSchema, file);
}

/** Where git-gate keeps its mirrors inside the bundle (the container's own filesystem). */
export const GIT_GATE_DATA_DIR = '/var/lib/bot-bottle/git-gate';

/*
 * The socket names in socketDir, the ready marker and the audit log's name are core's
 * (BUNDLE_SERVICES, BUNDLE_READY_MARKER, AUDIT_LOG_NAME): the bottle's side reads the same table.
 */
export const ADMIN_SOCKET_NAME = EGRESS_ADMIN_SOCKET;

/** In the supervise folder: where requests go (read-write host mount) and decisions come from (read-only). */
export const SUPERVISE_QUEUE = 'queue';
export const SUPERVISE_DECISIONS = 'decisions';

/**
 * The users the services run as, made by the bundle image (its Dockerfile gives them fixed ids
 * that a host user is unlikely to have, so host files such as the CA key stay closed to them).
 */
export const EGRESS_USER = 'bot-bottle-egress';
export const GIT_USER = 'bot-bottle-git';
export const SUPERVISE_USER = 'bot-bottle-supervise';
/** Where the git user's own copies of the identity files and known_hosts go (mode 600, its folder 700). */
export const GIT_FILES_DIR = '/run/bot-bottle-git';
/** The descriptor number on which each service gets the audit log, opened for appending by the supervisor. */
export const AUDIT_FD = 3;
