#!/usr/bin/env node
/**
 * The egress gateway's process. The supervisor starts it as root with an environment that holds
 * no secret; the secrets come on stdin. As root it only reads its CA (the key is a host file only
 * root may open) and the extra upstream CAs, and binds its admin socket in the host-only control
 * folder. Then it becomes the egress user, and only then binds the socket the bottle reaches: no
 * byte from the bottle is ever read by a root process. The audit log comes as a descriptor.
 */
import { lchownSync, statSync } from 'node:fs';
import path from 'node:path';
import { ServiceError } from '@bot-bottle/core/service';
import { gatewayOptionsFromConfig, loadCa, parseGatewayConfig, startAdminServer, startGateway, startGatewayPool, type EgressRoute, type Gateway, type GatewayStats } from '@bot-bottle/egress-gateway';
import type { BundleConfig } from './config.js';
import { dropPrivileges, onStop, readInput, reportFailure, reportReady } from './service-io.js';

export interface EgressServiceInput {
  egress: BundleConfig['egress'];
  /** The socket the bottle reaches (in the shared socket folder). */
  socket: string;
  /** The admin socket (in the control folder only the host sees). */
  adminSocket: string;
  /** Values of `egress.secretEnv`, by name. */
  secrets: Record<string, string>;
  /** Who to become before listening for the bottle. */
  user: { uid: number; gid: number };
  /** The audit log, open for appending. */
  auditFd: number;
}

/**
 * What the admin server sees of the gateway. It is bound while still root, before the gateway
 * exists (the gateway binds only after the drop): until then it answers with the configured
 * routes and refuses changes.
 */
function lateGateway(configured: readonly EgressRoute[]) {
  let gateway: Gateway | null = null;
  const view: Pick<Gateway, 'routes' | 'setRoutes'> & { stats(): Partial<GatewayStats> & { starting?: true } } = {
    routes: () => (gateway ? gateway.routes() : structuredClone([...configured])),
    setRoutes: (routes: unknown, secrets?: Record<string, string>) => {
      if (!gateway) return Promise.reject(new ServiceError('the egress gateway is still starting; send the routes again once the bundle is ready'));
      return gateway.setRoutes(routes, secrets);
    },
    stats: () => (gateway ? gateway.stats() : { starting: true }),
  };
  return {
    // startAdminServer calls only these three.
    view: view as unknown as Gateway,
    set(g: Gateway) {
      gateway = g;
    },
  };
}

try {
  const input = await readInput<EgressServiceInput>();
  const config = parseGatewayConfig({ ...input.egress, listen: { socket: input.socket } }, 'bundle.json egress');
  const options = await gatewayOptionsFromConfig(config, input.secrets);
  const ca = await loadCa(config.ca.cert, config.ca.key);
  const late = lateGateway(config.routes);
  const admin = await startAdminServer(late.view, input.adminSocket);
  // The admin socket (mode 600) belongs to whoever owns the control folder: the host user who
  // launched the bottle, whose `bottle supervise approve` changes the routes through it.
  const control = statSync(path.dirname(input.adminSocket));
  if (control.uid !== 0 || control.gid !== 0) lchownSync(input.adminSocket, control.uid, control.gid);

  dropPrivileges(input.user);

  // The socket is made 666 by the umask at bind time (the bottle's forwarder connects to it);
  // no chmod by path afterwards, which would follow whatever the bottle put at that name. With
  // several workers (one per core), they are started after the drop, as the egress user: this
  // process listens and hands them the connections; it alone writes the audit log.
  const umask = process.umask(0o111);
  let gateway: Gateway;
  try {
    const gatewayOptions = { ...options, ca, auditLogPath: null, auditFd: input.auditFd };
    gateway = options.workers > 1 ? await startGatewayPool(gatewayOptions) : await startGateway(gatewayOptions);
  } finally {
    process.umask(umask);
  }
  late.set(gateway);
  onStop(async () => {
    await Promise.all([gateway.close(), admin.close()]);
  });
  await reportReady({ socket: input.socket });
} catch (e) {
  await reportFailure(e);
}
