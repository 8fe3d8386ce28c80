#!/usr/bin/env node
/** The bundle container's entry point: reads its config, starts its services, runs until stopped. */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startBundle } from './bundle.js';
import type { BundleConfig } from './config.js';

const configPath = process.argv[2] ?? process.env.BOT_BOTTLE_BUNDLE_CONFIG ?? '/etc/bot-bottle/bundle.json';
try {
  const config = JSON.parse(await readFile(configPath, 'utf8')) as BundleConfig;
  const bundle = await startBundle(config);
  // The launcher waits for this file on its side of the log mount: readiness without a docker call.
  await writeFile(path.join(config.logDir, 'ready'), new Date().toISOString() + '\n');
  // The bottle's forwarder holds connections made before the bundle is up until this file exists;
  // after that, a socket that is not there (a service this bottle does not have) is refused at once.
  await writeFile(path.join(config.socketDir, 'ready'), new Date().toISOString() + '\n', { mode: 0o644 });
  process.stderr.write(`bundle ${config.slug}: ready (${Object.values(bundle.sockets).join(', ')})\n`);
  const stop = () => {
    void bundle.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (e) {
  const err = e as { message?: string; details?: string[]; suggestions?: string[] };
  process.stderr.write(`bundle: ${err.message ?? String(e)}\n${(err.details ?? []).map((d) => `  ${d}\n`).join('')}`);
  process.exit(1);
}
