/** The bundle's configuration, written by the launcher to /etc/bot-bottle/bundle.json (read-only mount). */
import type { GatewayConfig } from '@bot-bottle/egress-gateway';

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
}

/** Socket names inside socketDir, and the loopback ports the bottle's forwarder maps them to. */
export const SERVICES = {
  egress: { socket: 'egress.sock', port: 3128 },
  git: { socket: 'git.sock', port: 9418 },
  supervise: { socket: 'supervise.sock', port: 9100 },
} as const;
export type ServiceName = keyof typeof SERVICES;

export const AUDIT_LOG_NAME = 'audit.jsonl';
export const ADMIN_SOCKET_NAME = 'egress-admin.sock';
