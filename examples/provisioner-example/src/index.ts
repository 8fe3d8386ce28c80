/**
 * An example provisioner, written as any outside author would write one: it imports the contract
 * entry of @bot-bottle/core (its own copy, a regular dependency) and touches the bottle through
 * ctx.target alone, so it works on every backend.
 *
 * It writes a message of the day to ~/.bottle-motd in the bottle, owned by the agent user.
 */
import path from 'node:path/posix';
import * as v from 'valibot';
import { BottleError, defineProvisioner, EXIT_FAILURE } from '@bot-bottle/core/provisioner';

/** Where the message lands, relative to the guest user's home. */
export const MOTD_FILE = '.bottle-motd';
export const MOTD_MAX_LENGTH = 4096;
export const DEFAULT_MOTD = 'You are in a bottle: only the hosts your manifest allows are reachable.';

/**
 * The options an agent may give, e.g. `{"name": "example", "options": {"motd": "Hello"}}`.
 * strictObject: a misspelt option is an error at `bottle plan`, not silently ignored.
 */
export const ExampleOptions = v.strictObject({
  motd: v.optional(v.pipe(v.string(), v.nonEmpty('motd must not be empty'), v.maxLength(MOTD_MAX_LENGTH, `motd must be at most ${MOTD_MAX_LENGTH} characters`)), DEFAULT_MOTD),
});
export type ExampleOptions = v.InferOutput<typeof ExampleOptions>;

export default defineProvisioner<ExampleOptions>({
  apiVersion: 1,
  name: 'example',
  description: 'writes a message of the day to ~/.bottle-motd in the bottle',
  // The message lists the hosts the gateway lets through; those are only reachable over TLS once
  // the ca provisioner has installed the bottle's CA, so this one is declared to run after it.
  after: ['ca'],
  options: ExampleOptions,
  async apply(ctx) {
    const { plan, target, options } = ctx;
    const file = path.join(plan.guest.home, MOTD_FILE);
    const hosts = plan.routes.map((r) => r.host);
    const text = `${options.motd}\n${hosts.length ? `allowed hosts: ${hosts.join(', ')}` : 'no outside hosts are allowed'}\n`;
    // Run as the guest user (the backend sets its HOME and USER) so the file is created owned by it;
    // the text goes in on stdin, never into a shell string, and the path is passed as "$1".
    const r = await target.exec(['sh', '-c', 'umask 022 && cat > "$1"', 'sh', file], {
      user: plan.guest.user,
      stdin: text,
      signal: ctx.signal,
      timeoutMs: 30_000,
    });
    if (r.exitCode !== 0) {
      throw new BottleError('PROVISIONER_FAILED', `could not write ${file} in ${target.description} (exit ${r.exitCode})`, {
        details: r.stderr.trim() ? [r.stderr.trim()] : [],
        suggestions: [`Check that ${plan.guest.home} exists and belongs to ${plan.guest.user} in the bottle image.`],
        exit: EXIT_FAILURE,
      });
    }
    ctx.log(`wrote ${file}`);
    return { env: { BOTTLE_MOTD: file } };
  },
});
