/**
 * The backend in a process of its own, as `bottle` runs it: the suites start this with
 * `node --import tsx` to test what needs a separate process (its stdin reaching a command, a
 * launcher killed with SIGKILL). Input: one JSON argument {op, env, probe?, plan?, slug?, argv?}.
 * - op "exec": backend.exec(slug, argv) attached to this process's stdio; exits with its code.
 * - op "launch-and-die": launches `plan` (this process owns it), prints `launched SLUG`, then
 *   SIGKILLs itself, leaving everything for `bottle gc`.
 */
import type { BottlePlan } from '@bot-bottle/core';
import { SmolmachinesBackend, type HostProbe } from '../../src/index.js';

const input = JSON.parse(process.argv[2] ?? '{}') as { op: string; env: NodeJS.ProcessEnv; probe?: HostProbe; plan?: BottlePlan; slug?: string; argv?: string[] };
const backend = new SmolmachinesBackend({ env: input.env, ...(input.probe ? { hostProbe: input.probe } : {}) });

if (input.op === 'exec') {
  const code = await backend.exec(input.slug!, input.argv!, { tty: false });
  process.exit(code);
} else if (input.op === 'launch-and-die') {
  await backend.launch(input.plan!, { progress: () => undefined });
  process.stdout.write(`launched ${input.plan!.slug}\n`, () => process.kill(process.pid, 'SIGKILL'));
} else {
  process.stderr.write(`unknown op ${input.op}\n`);
  process.exit(2);
}
