#!/usr/bin/env node
/**
 * Runs the git-gate from a config file: `bot-bottle-git-gate CONFIG.json` (or
 * BOT_BOTTLE_GIT_GATE_CONFIG). Prints one "listening" line on stderr when it accepts
 * connections; SIGTERM/SIGINT stop it.
 */
import { ServiceError, formatServiceError, serviceExitCode } from '@bot-bottle/core/service';
import { readGitGateConfig } from './config.js';
import { startGitGate } from './gate.js';

function fail(e: unknown): never {
  process.stderr.write(formatServiceError('git-gate', e));
  process.exit(serviceExitCode(e));
}

const configPath = process.argv[2] ?? process.env.BOT_BOTTLE_GIT_GATE_CONFIG;
if (!configPath) fail(new ServiceError('usage: bot-bottle-git-gate CONFIG.json (or set BOT_BOTTLE_GIT_GATE_CONFIG)', { kind: 'config' }));

try {
  const config = await readGitGateConfig(configPath);
  const gate = await startGitGate(config);
  process.stderr.write(`git-gate: listening on ${gate.url ?? gate.socketPath} serving ${config.entries.map((e) => `${e.name}.git${e.push ? '' : ' (read-only)'}`).join(', ') || 'no repositories'}\n`);
  const stop = () => {
    void gate.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (e) {
  fail(e);
}
