#!/usr/bin/env node
/**
 * Runs the egress gateway from a config file: `bot-bottle-egress-gateway CONFIG.json`
 * (or BOT_BOTTLE_EGRESS_CONFIG). SIGHUP re-reads the file's routes; SIGTERM/SIGINT stop it.
 */
import { ServiceError, formatServiceError, serviceExitCode } from '@bot-bottle/core/service';
import { startAdminServer, type AdminServer } from './admin.js';
import { gatewayOptionsFromConfig, readGatewayConfig } from './config.js';
import { startGateway } from './gateway.js';
import { startGatewayPool } from './pool.js';

function fail(e: unknown): never {
  process.stderr.write(formatServiceError('egress gateway', e));
  process.exit(serviceExitCode(e));
}

const configPath = process.argv[2] ?? process.env.BOT_BOTTLE_EGRESS_CONFIG;
if (!configPath) fail(new ServiceError('usage: bot-bottle-egress-gateway CONFIG.json (or set BOT_BOTTLE_EGRESS_CONFIG)', { kind: 'config' }));

try {
  const config = await readGatewayConfig(configPath);
  const options = await gatewayOptionsFromConfig(config);
  const gateway = options.workers > 1 ? await startGatewayPool(options) : await startGateway(options);
  let admin: AdminServer | null = null;
  if (config.admin) admin = await startAdminServer(gateway, config.admin.socket);
  process.stderr.write(`egress gateway: listening on ${gateway.socketPath ?? gateway.url} with ${gateway.routes().length} route(s)${options.workers > 1 ? ` in ${options.workers} processes` : ''}${admin ? `; admin on ${admin.socketPath}` : ''}\n`);
  process.on('SIGHUP', () => {
    readGatewayConfig(configPath)
      .then((next) => gateway.setRoutes(next.routes))
      .then(
        (routes) => process.stderr.write(`egress gateway: routes reloaded (${routes.length})\n`),
        (e: unknown) => process.stderr.write(`egress gateway: routes not reloaded: ${(e as Error).message}\n`),
      );
  });
  const stop = () => {
    void Promise.all([gateway.close(), admin?.close()]).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (e) {
  fail(e);
}
