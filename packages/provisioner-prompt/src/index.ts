/**
 * prompt: writes the agent's prompt to its staged file on the host (mode 600, always, even when
 * empty), copies it into the guest, and gives it to the node user only. A non-empty prompt is handed
 * to Claude Code with `--append-system-prompt-file`.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BottleError, defineProvisioner, type ProvisionContext, type ProvisionResult } from '@bot-bottle/core/provisioner';

export default defineProvisioner({
  apiVersion: 1,
  name: 'prompt',
  description: "installs the agent's prompt as a Claude Code system prompt file",
  async apply(ctx: ProvisionContext): Promise<ProvisionResult | void> {
    const { plan, target } = ctx;
    const guestPath = plan.guest.promptPath;
    const promptFile = plan.host.promptFile;
    await mkdir(path.dirname(promptFile), { recursive: true, mode: 0o700 });
    await writeFile(promptFile, plan.prompt, { mode: 0o600 });
    await chmod(promptFile, 0o600); // writeFile's mode applies only when it creates the file
    // Always copied, even empty: the guest path must exist whatever the prompt.
    await target.copyIn(promptFile, guestPath);
    for (const argv of [['chown', `${plan.guest.user}:${plan.guest.user}`, guestPath], ['chmod', '600', guestPath]]) {
      const r = await target.exec(argv);
      if (r.exitCode !== 0) {
        throw new BottleError('PROVISIONER_FAILED', `\`${argv.join(' ')}\` failed in ${target.description} (exit ${r.exitCode})`, {
          details: [r.stderr.trim() || r.stdout.trim()].filter(Boolean),
        });
      }
    }
    // Claude Code 2.x reads `--append-system-prompt-file` in interactive and print mode alike, and
    // adds the text to its own system prompt rather than replacing it. No prompt, no argument.
    if (plan.prompt) return { agentArgs: ['--append-system-prompt-file', guestPath] };
  },
});
