/** The bundle's configuration, written by the launcher to /etc/bot-bottle/bundle.json (read-only mount). */
import type { GatewayConfig } from '@bot-bottle/egress-gateway';
import type { GitGateConfig } from '@bot-bottle/git-gate';

export interface BundleConfig {
  slug: string;
  /** Folder where the bundle's service sockets live; it is shared with its own bottle only. */
  socketDir: string;
  /** Folder for the audit log and the ready marker (a host mount). */
  logDir: string;
  /** Folder for control sockets (route changes); a host mount the bottle never sees. */
  controlDir: string;
  /** The egress gateway, minus where it listens and logs (the bundle decides those). */
  egress: Omit<GatewayConfig, 'listen' | 'auditLog' | 'admin'>;
  /** git-gate, minus where it listens, keeps mirrors and logs; null when the bottle declares no repos. */
  gitGate: Omit<GitGateConfig, 'listen' | 'auditLog' | 'dataDir'> | null;
  /** Overrides GIT_GATE_DATA_DIR (tests running the bundle outside a container). */
  gitGateDataDir?: string;
}

/** Where git-gate keeps its mirrors inside the bundle (the container's own filesystem). */
export const GIT_GATE_DATA_DIR = '/var/lib/bot-bottle/git-gate';

/** Socket names inside socketDir, and the loopback ports the bottle's forwarder maps them to. */
export const SERVICES = {
  egress: { socket: 'egress.sock', port: 3128 },
  git: { socket: 'git.sock', port: 9418 },
  supervise: { socket: 'supervise.sock', port: 9100 },
} as const;
export type ServiceName = keyof typeof SERVICES;

export const AUDIT_LOG_NAME = 'audit.jsonl';
export const ADMIN_SOCKET_NAME = 'egress-admin.sock';
/** Written in logDir (for the launcher) and in socketDir (for the bottle's forwarder) once every service listens. */
export const READY_MARKER = 'ready';

/**
 * The users the services run as, made by the bundle image (its Dockerfile gives them fixed ids
 * that a host user is unlikely to have, so host files such as the CA key stay closed to them).
 */
export const EGRESS_USER = 'bot-bottle-egress';
export const GIT_USER = 'bot-bottle-git';
/** Where the git user's own copies of the identity files and known_hosts go (mode 600, its folder 700). */
export const GIT_FILES_DIR = '/run/bot-bottle-git';
/** The descriptor number on which each service gets the audit log, opened for appending by the supervisor. */
export const AUDIT_FD = 3;
