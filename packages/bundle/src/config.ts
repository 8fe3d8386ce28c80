/** The bundle's configuration, written by the launcher to /etc/bot-bottle/bundle.json (read-only mount). */
export interface BundleConfig {
  slug: string;
  /** Folder where the bundle's unix sockets live; it is shared with its own bottle only. */
  socketDir: string;
  /** Folder for the audit log (a host mount). */
  logDir: string;
}

/** Socket names inside socketDir, and the loopback ports the bottle's forwarder maps them to. */
export const SERVICES = {
  egress: { socket: 'egress.sock', port: 3128 },
  git: { socket: 'git.sock', port: 9418 },
  supervise: { socket: 'supervise.sock', port: 9100 },
} as const;
export type ServiceName = keyof typeof SERVICES;
