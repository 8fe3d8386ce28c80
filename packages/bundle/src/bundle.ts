/**
 * Starts the bundle's services, each on a unix socket in the socket dir that only its own bottle
 * mounts: the bundle listens on no network port, so no other container (and no other bottle) can
 * call it. Control sockets live in a separate dir that only the host sees.
 */
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { gatewayOptionsFromConfig, parseGatewayConfig, startAdminServer, startGateway, type AdminServer, type Gateway } from '@bot-bottle/egress-gateway';
import { parseGitGateConfig, startGitGate, type RunningGitGate } from '@bot-bottle/git-gate';
import { ADMIN_SOCKET_NAME, AUDIT_LOG_NAME, GIT_GATE_DATA_DIR, SERVICES, type BundleConfig, type ServiceName } from './config.js';

export interface RunningBundle {
  sockets: Partial<Record<ServiceName, string>>;
  gateway: Gateway;
  close(): Promise<void>;
}

export async function startBundle(config: BundleConfig, env: NodeJS.ProcessEnv = process.env): Promise<RunningBundle> {
  await mkdir(config.socketDir, { recursive: true });
  await mkdir(config.controlDir, { recursive: true, mode: 0o700 });
  const egressSocket = path.join(config.socketDir, SERVICES.egress.socket);
  const gatewayConfig = parseGatewayConfig(
    {
      ...config.egress,
      listen: { socket: egressSocket },
      auditLog: path.join(config.logDir, AUDIT_LOG_NAME),
    },
    'bundle.json egress',
  );
  const gateway = await startGateway(await gatewayOptionsFromConfig(gatewayConfig, env));
  // The bottle's forwarder runs as root, but nothing else in the bottle needs to be kept out of it.
  await chmod(egressSocket, 0o666);
  const sockets: Partial<Record<ServiceName, string>> = { egress: egressSocket };
  let admin: AdminServer | null = null;
  let gate: RunningGitGate | null = null;
  try {
    admin = await startAdminServer(gateway, path.join(config.controlDir, ADMIN_SOCKET_NAME));
    if (config.gitGate && config.gitGate.upstreams.length > 0) {
      const gitSocket = path.join(config.socketDir, SERVICES.git.socket);
      const resolved = parseGitGateConfig(
        { ...config.gitGate, listen: { socket: gitSocket }, dataDir: config.gitGateDataDir ?? GIT_GATE_DATA_DIR, auditLog: path.join(config.logDir, AUDIT_LOG_NAME) },
        'bundle.json gitGate',
      );
      gate = await startGitGate(resolved);
      await chmod(gitSocket, 0o666);
      sockets.git = gitSocket;
    }
  } catch (e) {
    await Promise.all([gateway.close(), admin?.close(), gate?.close()]);
    throw e;
  }
  return {
    sockets,
    gateway,
    async close() {
      await Promise.all([gateway.close(), admin?.close(), gate?.close()]);
    },
  };
}
