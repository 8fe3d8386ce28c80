/**
 * prompt: writes the agent's prompt to its staged file on the host (mode 600, always, even when
 * empty), copies it into the guest, and gives it to the node user only. A non-empty prompt is handed
 * to the agent as its instructions: its definition says how that agent reads them (Claude Code's
 * `--append-system-prompt-file`, Codex's AGENTS.md, Gemini CLI's GEMINI.md, OpenCode's instructions).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BottleError, defineProvisioner, type ProvisionContext, type ProvisionResult } from '@bot-bottle/core/provisioner';

export default defineProvisioner({
  apiVersion: 1,
  name: 'prompt',
  description: "installs the agent's prompt as its instructions file",
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
    // No prompt, no instructions: the agent runs with its own system prompt alone.
    if (plan.prompt) return { instructions: guestPath };
  },
});
