#!/usr/bin/env node
/**
 * Runs the git-gate from a config file: `bot-bottle-git-gate CONFIG.json` (or
 * BOT_BOTTLE_GIT_GATE_CONFIG). Prints one "listening" line on stderr when it accepts
 * connections; SIGTERM/SIGINT stop it.
 */
import { isBottleError } from '@bot-bottle/core';
import { readGitGateConfig } from './config.js';
import { startGitGate } from './gate.js';

function fail(e: unknown): never {
  if (isBottleError(e)) {
    process.stderr.write(`git-gate: ${e.message.replace(/^git-gate:? /, '')}\n${e.details.map((d) => `  ${d}\n`).join('')}${e.suggestions.map((s) => `  fix: ${s}\n`).join('')}`);
    process.exit(e.exit || 1);
  }
  process.stderr.write(`git-gate: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
}

const configPath = process.argv[2] ?? process.env.BOT_BOTTLE_GIT_GATE_CONFIG;
if (!configPath) fail(new Error('usage: bot-bottle-git-gate CONFIG.json (or set BOT_BOTTLE_GIT_GATE_CONFIG)'));

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
