/**
 * Google's Gemini CLI in a bottle. Installed from npm at a pinned version (a Node program: in a
 * layered image it runs with bot-bottle's own Node). Its config is ~/.gemini/settings.json: API-key
 * auth chosen (no auth dialog), usage statistics, telemetry and update checks off, folder trust off
 * (the workspace is the bottle's), its own sandbox off (it would try to pull a container image; the
 * bottle is the sandbox), and the MCP servers. The prompt goes to ~/.gemini/GEMINI.md, which the
 * CLI adds to its system instruction. Unattended by default: `--yolo`. The key is the gateway's,
 * sent by the CLI as x-goog-api-key (the bottle holds a placeholder).
 */
import { defineAgent, type AgentConfigureContext, type AgentConfigured } from '@bot-bottle/core/agent';

export const GEMINI_CLI_VERSION = '0.61.0';

/** ~/.gemini/settings.json for a bottle. */
export function geminiSettings(o: { mcpServers: readonly { name: string; url: string }[]; permissionPrompts: boolean }): Record<string, unknown> {
  return {
    security: { auth: { selectedType: 'gemini-api-key' }, folderTrust: { enabled: false } },
    privacy: { usageStatisticsEnabled: false },
    telemetry: { enabled: false },
    general: { enableAutoUpdate: false, enableAutoUpdateNotification: false },
    tools: { sandbox: false },
    ide: { enabled: false },
    // Streamable HTTP servers; trusted (no confirmation per call) only when the agent runs unattended.
    mcpServers: Object.fromEntries(o.mcpServers.map((m) => [m.name, { httpUrl: m.url, ...(o.permissionPrompts ? {} : { trust: true }) }])),
  };
}

export default defineAgent({
  apiVersion: 1,
  name: 'gemini',
  description: 'Google Gemini CLI',
  install: { npm: '@google/gemini-cli', version: GEMINI_CLI_VERSION, bin: 'gemini' },
  credentials: [{ host: 'generativelanguage.googleapis.com', header: 'x-goog-api-key', env: 'GEMINI_API_KEY' }],
  env: {
    // It would relaunch itself with process.execPath, which in a layered image is bot-bottle's Node
    // outside its loader; one process is enough in a bottle.
    GEMINI_CLI_NO_RELAUNCH: 'true',
    GEMINI_SANDBOX: 'false',
    GEMINI_CLI_TRUST_WORKSPACE: 'true',
  },
  skillsDir: '/home/node/.gemini/skills',
  async configure(ctx: AgentConfigureContext): Promise<AgentConfigured> {
    const dir = `${ctx.guest.home}/.gemini`;
    await ctx.writeFile(`${dir}/settings.json`, `${JSON.stringify(geminiSettings(ctx), null, 2)}\n`);
    if (ctx.instructions) await ctx.copyFile(ctx.instructions, `${dir}/GEMINI.md`);
    return {};
  },
  command({ mode, prompt, permissionPrompts, args }) {
    const autonomy = permissionPrompts ? [] : ['--yolo'];
    return mode === 'headless' ? ['gemini', ...autonomy, ...args, '-p', prompt ?? ''] : ['gemini', ...autonomy, ...args];
  },
});
