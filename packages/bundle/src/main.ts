#!/usr/bin/env node
/** The bundle container's entry point: reads its config, starts its services, runs until stopped. */
import { BUNDLE_READY_MARKER, formatServiceError, serviceExitCode } from '@bot-bottle/core/service';
import { startBundle } from './bundle.js';
import { readBundleConfig } from './config.js';
import { writeNewFile } from './socket-dir.js';

const configPath = process.argv[2] ?? process.env.BOT_BOTTLE_BUNDLE_CONFIG ?? '/etc/bot-bottle/bundle.json';

try {
  const config = await readBundleConfig(configPath);
  const bundle = await startBundle(config);
  const now = new Date().toISOString() + '\n';
  // The launcher waits for this file on its side of the log mount: readiness without a docker call.
  writeNewFile(config.logDir, BUNDLE_READY_MARKER, now);
  // The bottle's forwarder holds connections made before the bundle is up until this file exists;
  // after that, a socket that is not there (a service this bottle does not have) is refused at once.
  writeNewFile(config.socketDir, BUNDLE_READY_MARKER, now);
  process.stderr.write(`bundle ${config.slug}: ready (${Object.values(bundle.sockets).join(', ')})\n`);
  // A service that ends by itself takes the bundle down: the launcher and `bottle ls` see it.
  let stopping = false;
  void bundle.stopped.then(async (reason) => {
    if (stopping) return;
    process.stderr.write(`bundle: ${reason}; stopping\n`);
    await bundle.close();
    process.exit(1);
  });
  const stop = () => {
    stopping = true;
    void bundle.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (e) {
  // One message (its details and fixes under it): the launcher shows the end of this log.
  process.stderr.write(formatServiceError('bundle', e));
  process.exit(serviceExitCode(e));
}
