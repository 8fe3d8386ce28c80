/**
 * The provisioner the checks' own launches run (they need none of the built-ins): it waits until
 * the bottle reaches its bundle through the forwarder (so the bundle's start ends inside
 * provisioning, as in a launch with real provisioners), then leaves a mark the command can look for.
 */
import { BottleError } from '../../errors.js';
import { defineProvisioner } from '../../provisioner/definition.js';
import type { ResolvedStep } from '../../runner.js';

/** The file the stand-in leaves in the bottle: a command that sees it ran after provisioning. */
export const PROVISIONED_MARK = '/tmp/bot-bottle-checks-provisioned';

export const readyProvisioner = defineProvisioner({
  apiVersion: 1,
  name: 'checks-ready',
  description: 'the backend checks\' stand-in: waits for the bundle, then marks the bottle as provisioned',
  async apply(ctx) {
    // The retries cover a forwarder that is not listening yet: the bottle's process starts it, and
    // a launch may return before it listens (a connection then is refused, not held).
    const r = await ctx.target.exec(['sh', '-c', 'curl -sS -m 60 --retry 30 --retry-connrefused --retry-delay 1 --noproxy "*" -o /dev/null "$PROXY/__bottle/health" && touch "$MARK"'], {
      env: { PROXY: ctx.endpoints.proxyUrl, MARK: PROVISIONED_MARK },
      signal: ctx.signal,
      timeoutMs: 90_000,
    });
    if (r.exitCode !== 0) throw new BottleError('PROVISIONER_FAILED', `the bundle did not answer through the bottle's forwarder: ${(r.stderr || r.stdout).trim()}`);
  },
});

export const readyStep: ResolvedStep = { definition: readyProvisioner, options: {}, packageName: '@bot-bottle/core/testing' };
