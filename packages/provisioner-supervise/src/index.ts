/**
 * supervise: hands the agent the bundle's supervise MCP server. Which file or command registers it
 * is the agent's own (its definition: `claude mcp add`, Codex's config.toml, Gemini CLI's
 * settings.json, OpenCode's config); a registration that fails only warns, and the agent works
 * without the supervise tools.
 */
import { defineProvisioner, type ProvisionContext, type ProvisionResult } from '@bot-bottle/core/provisioner';

export default defineProvisioner({
  apiVersion: 1,
  name: 'supervise',
  description: 'gives the agent the supervise MCP server',
  async apply(ctx: ProvisionContext): Promise<ProvisionResult | void> {
    if (!ctx.plan.supervise) return;
    return { mcpServers: [{ name: 'supervise', url: ctx.endpoints.superviseUrl }] };
  },
});
