#!/usr/bin/env node
/**
 * git-gate's process. The supervisor starts it as the git user from the first instruction, with
 * an environment that holds no secret; everything it runs (git daemon, upload-pack and
 * receive-pack parsing the bottle's packs, the push hook, ssh) inherits that user and that
 * environment. It reads the identity files and known_hosts from the copies the supervisor made
 * for it, and the audit log comes as a descriptor (`/dev/fd/N` in its config).
 */
import { closeSync, openSync } from 'node:fs';
import { ServiceError } from '@bot-bottle/core/service';
import { parseGitGateConfig, startGitGate } from '@bot-bottle/git-gate';
import { onStop, readInput, reportFailure, reportReady } from './service-io.js';

export interface GitServiceInput {
  /** A git-gate config (see the git-gate README) with the paths of the git user's copies. */
  gitGate: unknown;
  /** Files this user must not be able to open (the egress CA key): tried, and the gate refuses to start if one opens. */
  mustNotRead: string[];
}

/**
 * Tries, as this user, to open each file: whatever the modes say (host folders on some engines
 * report owners and modes that are not what decides), an open that works is what counts.
 */
function checkClosed(files: readonly string[]): void {
  for (const file of files) {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      continue;
    }
    closeSync(fd);
    throw new ServiceError(`git-gate's user can read ${file}, which must stay closed to it`, {
      suggestions: ["On the host, keep the bottle's egress folder mode 700 and its ca.key mode 600 (bottle makes them so), then launch the bottle again."],
    });
  }
}

try {
  const input = await readInput<GitServiceInput>();
  checkClosed(input.mustNotRead);
  const config = parseGitGateConfig(input.gitGate, 'bundle.json gitGate');
  const gate = await startGitGate(config);
  onStop(() => gate.close());
  await reportReady({ socket: gate.socketPath });
} catch (e) {
  await reportFailure(e);
}
