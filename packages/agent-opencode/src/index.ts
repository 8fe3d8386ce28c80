/**
 * OpenCode (opencode-ai) in a bottle. Installed from npm at a pinned version: the package's
 * install step links its native (Bun, glibc) binary as the `opencode` bin, so a user's image needs
 * glibc for it. Its config is ~/.config/opencode/opencode.json:
 * - the model is Anthropic's (the provider `anthropic`, key from ANTHROPIC_API_KEY sent as
 *   x-api-key: the bottle holds a placeholder, the gateway injects); a small model of the same
 *   provider names sessions, so no other provider is ever called;
 * - autoupdate, sharing, LSP servers and formatters (which it would download) off; with the env
 *   below it also never fetches the models.dev catalogue (it uses the one it ships) nor runs npm;
 * - MCP servers as `{type: "remote", url}` (streamable HTTP);
 * - the prompt file is an `instructions` entry, which OpenCode adds to every conversation;
 * - unattended by default: every permission `allow`; "permissionPrompts": true leaves OpenCode's
 *   own defaults (it asks).
 * Headless is `opencode run PROMPT` with stdin closed (it reads a stdin that is not a terminal to
 * its end, as part of the prompt) and a title given (else it asks the model for one first).
 */
import { defineAgent, type AgentConfigureContext, type AgentConfigured } from '@bot-bottle/core/agent';

export const OPENCODE_VERSION = '1.18.33';
export const OPENCODE_MODEL = 'anthropic/claude-sonnet-4-5';
export const OPENCODE_SMALL_MODEL = 'anthropic/claude-haiku-4-5';

/** ~/.config/opencode/opencode.json for a bottle. */
export function opencodeConfig(o: { mcpServers: readonly { name: string; url: string }[]; permissionPrompts: boolean; instructions: string | null }): Record<string, unknown> {
  return {
    $schema: 'https://opencode.ai/config.json',
    model: OPENCODE_MODEL,
    small_model: OPENCODE_SMALL_MODEL,
    autoupdate: false,
    share: 'disabled',
    lsp: false,
    formatter: false,
    ...(o.permissionPrompts ? {} : { permission: { '*': 'allow' } }),
    ...(o.instructions ? { instructions: [o.instructions] } : {}),
    mcp: Object.fromEntries(o.mcpServers.map((m) => [m.name, { type: 'remote', url: m.url, enabled: true }])),
  };
}

/** The session title a headless run gives (one line, short), so that no model call is spent on one. */
export function headlessTitle(prompt: string): string {
  const line = prompt.trim().split('\n')[0]!.trim();
  return (line.length > 60 ? `${line.slice(0, 57)}...` : line) || 'bottle run';
}

export default defineAgent({
  apiVersion: 1,
  name: 'opencode',
  description: 'OpenCode',
  install: { npm: 'opencode-ai', version: OPENCODE_VERSION, bin: 'opencode' },
  credentials: [{ host: 'api.anthropic.com', header: 'x-api-key', env: 'ANTHROPIC_API_KEY' }],
  env: {
    OPENCODE_DISABLE_MODELS_FETCH: '1',
    OPENCODE_DISABLE_AUTOUPDATE: '1',
    OPENCODE_DISABLE_SHARE: '1',
    OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
    // It installs plugins and provider SDKs with npm; the bottle's are the ones it ships.
    npm_config_offline: 'true',
  },
  skillsDir: '/home/node/.config/opencode/skills',
  async configure(ctx: AgentConfigureContext): Promise<AgentConfigured> {
    await ctx.writeFile(`${ctx.guest.home}/.config/opencode/opencode.json`, `${JSON.stringify(opencodeConfig(ctx), null, 2)}\n`);
    return {};
  },
  command({ mode, prompt, args }) {
    if (mode === 'interactive') return ['opencode', ...args];
    return ['sh', '-c', 'exec "$@" </dev/null', 'opencode', 'opencode', 'run', '--title', headlessTitle(prompt ?? ''), ...args, prompt ?? ''];
  },
});
