/**
 * OpenAI's Codex CLI in a bottle. Installed from npm at a pinned version (a Node launcher and a
 * static native binary the package ships). Its config is ~/.codex/config.toml:
 * - the model provider is OpenAI's Responses API at https://api.openai.com/v1 under an id of its
 *   own, so that it makes one plain HTTPS request per turn (the built-in "openai" provider cannot
 *   be told to skip its WebSocket attempt, and looks up models on chatgpt.com) with the key from
 *   OPENAI_API_KEY as `authorization: Bearer` (the bottle holds a placeholder; the gateway injects);
 * - analytics, OpenTelemetry, feedback, update checks, plugins (github.com) and the background
 *   app-server off;
 * - MCP servers as `[mcp_servers.NAME] url = ...` (streamable HTTP);
 * - unattended by default: no approvals and no inner sandbox (`danger-full-access`; its bubblewrap
 *   sandbox could not start in a bottle's dropped capabilities anyway); "permissionPrompts": true
 *   leaves Codex's own defaults (it asks, and sandboxes its commands).
 * The prompt goes to ~/.codex/AGENTS.md, which Codex adds to every conversation.
 */
import { defineAgent, type AgentConfigureContext, type AgentConfigured } from '@bot-bottle/core/agent';

export const CODEX_VERSION = '0.169.0';
/** The model provider id the bottle's config defines (the built-in ids cannot be changed). */
export const CODEX_PROVIDER = 'openai-via-bottle';

/** A TOML basic string. */
function str(s: string): string {
  return JSON.stringify(s);
}

/** ~/.codex/config.toml for a bottle. */
export function codexConfig(o: { mcpServers: readonly { name: string; url: string }[]; permissionPrompts: boolean }): string {
  const lines = [
    '# Written by bot-bottle at launch: the bottle is the sandbox, its gateway the only way out.',
    `model_provider = ${str(CODEX_PROVIDER)}`,
    'check_for_update_on_startup = false',
    ...(o.permissionPrompts ? [] : ['approval_policy = "never"', 'sandbox_mode = "danger-full-access"']),
    '',
    `[model_providers.${CODEX_PROVIDER}]`,
    'name = "OpenAI (through the bottle\'s gateway)"',
    'base_url = "https://api.openai.com/v1"',
    'env_key = "OPENAI_API_KEY"',
    'wire_api = "responses"',
    'supports_websockets = false',
    '',
    '[analytics]',
    'enabled = false',
    '',
    '[feedback]',
    'enabled = false',
    '',
    '[otel]',
    'exporter = "none"',
    'metrics_exporter = "none"',
    'trace_exporter = "none"',
    '',
    '[features]',
    'plugins = false',
    'daemon_auto_start = false',
  ];
  for (const m of o.mcpServers) {
    lines.push('', `[mcp_servers.${m.name}]`, `url = ${str(m.url)}`);
    // Under "never" approval an MCP tool call is refused unless the server's tools are approved.
    if (!o.permissionPrompts) lines.push('default_tools_approval_mode = "approve"');
  }
  return `${lines.join('\n')}\n`;
}

export default defineAgent({
  apiVersion: 1,
  name: 'codex',
  description: 'OpenAI Codex CLI',
  install: { npm: '@openai/codex', version: CODEX_VERSION, bin: 'codex' },
  credentials: [{ host: 'api.openai.com', header: 'authorization', format: 'Bearer {value}', env: 'OPENAI_API_KEY' }],
  skillsDir: '/home/node/.codex/skills',
  async configure(ctx: AgentConfigureContext): Promise<AgentConfigured> {
    const dir = `${ctx.guest.home}/.codex`;
    await ctx.writeFile(`${dir}/config.toml`, codexConfig(ctx));
    if (ctx.instructions) await ctx.copyFile(ctx.instructions, `${dir}/AGENTS.md`);
    return {};
  },
  command({ mode, prompt, permissionPrompts, args }) {
    const autonomy = permissionPrompts ? [] : ['--dangerously-bypass-approvals-and-sandbox'];
    if (mode === 'interactive') return ['codex', ...autonomy, ...args];
    // `codex exec` reads more input from a stdin that is not a terminal until it closes: a headless
    // run has only its prompt.
    return ['sh', '-c', 'exec "$@" </dev/null', 'codex', 'codex', 'exec', '--skip-git-repo-check', ...autonomy, ...args, prompt ?? ''];
  },
});
