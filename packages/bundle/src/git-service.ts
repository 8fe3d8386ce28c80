#!/usr/bin/env node
/**
 * git-gate's process. The supervisor starts it as the git user from the first instruction, with
 * an environment that holds no secret; everything it runs (git daemon, upload-pack and
 * receive-pack parsing the bottle's packs, the push hook, ssh) inherits that user and that
 * environment. It reads the identity files and known_hosts from the copies the supervisor made
 * for it, and the audit log comes as a descriptor (`/dev/fd/N` in its config).
 */
import { parseGitGateConfig, startGitGate } from '@bot-bottle/git-gate';
import { onStop, readInput, reportFailure, reportReady } from './service-io.js';

export interface GitServiceInput {
  /** A git-gate config (see the git-gate README) with the paths of the git user's copies. */
  gitGate: unknown;
}

try {
  const input = await readInput<GitServiceInput>();
  const config = parseGitGateConfig(input.gitGate, 'bundle.json gitGate');
  const gate = await startGitGate(config);
  onStop(() => gate.close());
  await reportReady({ socket: gate.socketPath });
} catch (e) {
  await reportFailure(e);
}
