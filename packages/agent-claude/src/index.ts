/**
 * Claude Code in a bottle. Installed from npm at a pinned version; the prompt goes in with
 * `--append-system-prompt-file` (added to Claude Code's own system prompt, interactive and `-p`
 * alike), MCP servers with `claude mcp add --scope user` (as the agent user, into its
 * ~/.claude.json). Unattended by default: `--dangerously-skip-permissions`, with the first-run
 * dialogs (onboarding, the key found in its env, the workspace's trust, bypass mode's warning) answered in ~/.claude.json,
 * since the bottle is the sandbox. The key is the gateway's: the bottle holds a placeholder.
 */
import { SECRET_PLACEHOLDER } from '@bot-bottle/core';
import { defineAgent, type AgentConfigureContext, type AgentConfigured } from '@bot-bottle/core/agent';

/** The Claude Code release the agent image installs; bump deliberately (it changes the image tag). */
export const CLAUDE_CODE_VERSION = '2.1.330';

/**
 * The first-run state Claude Code keeps in ~/.claude.json, answered so that nothing waits for a
 * keypress. `apiKey` is the value of ANTHROPIC_API_KEY in the bottle (the placeholder): an
 * interactive Claude Code asks whether to use a key it finds in its env (default: no), and keeps the
 * answer as the key's last 20 characters.
 */
export function claudeState(workspace: string, permissionPrompts: boolean, apiKey: string = SECRET_PLACEHOLDER): Record<string, unknown> {
  return {
    hasCompletedOnboarding: true,
    customApiKeyResponses: { approved: [apiKey.slice(-20)], rejected: [] },
    // Set in a bottle: the gateway answers, and nothing else is reachable.
    autoUpdates: false,
    ...(permissionPrompts ? {} : { bypassPermissionsModeAccepted: true }),
    projects: { [workspace]: { hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true } },
  };
}

export default defineAgent({
  apiVersion: 1,
  name: 'claude',
  description: 'Claude Code',
  install: { npm: '@anthropic-ai/claude-code', version: CLAUDE_CODE_VERSION, bin: 'claude' },
  credentials: [{ host: 'api.anthropic.com', header: 'x-api-key', env: 'ANTHROPIC_API_KEY' }],
  env: {
    // Telemetry, error reporting, update checks and other calls beyond the API, off.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    // Its interactive start fetches the official plugin marketplace (downloads.claude.ai, then
    // github.com) and a model catalogue (downloads.claude.ai): neither is reachable, nor needed.
    CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL: '1',
    CLAUDE_CODE_MODEL_CATALOG: 'off',
  },
  skillsDir: '/home/node/.claude/skills',
  async configure(ctx: AgentConfigureContext): Promise<AgentConfigured> {
    await ctx.writeFile(`${ctx.guest.home}/.claude.json`, `${JSON.stringify(claudeState(ctx.guest.workspace, ctx.permissionPrompts, ctx.env.ANTHROPIC_API_KEY), null, 2)}\n`);
    for (const server of ctx.mcpServers) {
      const argv = ['claude', 'mcp', 'add', '--scope', 'user', '--transport', 'http', server.name, server.url];
      const r = await ctx.exec(argv);
      if (r.exitCode !== 0) {
        const why = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(0, 3).join(' / ');
        ctx.warn(`could not register the ${server.name} MCP server at ${server.url} (\`claude mcp add\` exit ${r.exitCode}${why ? `: ${why}` : ''}); the agent runs without its tools`);
      }
    }
    return { args: ctx.instructions ? ['--append-system-prompt-file', ctx.instructions] : [] };
  },
  command({ mode, prompt, permissionPrompts, args }) {
    const autonomy = permissionPrompts ? [] : ['--dangerously-skip-permissions'];
    return mode === 'headless' ? ['claude', '-p', prompt ?? '', ...autonomy, ...args] : ['claude', ...autonomy, ...args];
  },
});
