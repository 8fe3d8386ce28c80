/**
 * supervise: registers the bundle's supervise MCP server with Claude Code, as the agent user so it
 * lands in that user's ~/.claude.json. A failure only warns: the agent still works, without the
 * supervise tools.
 */
import { defineProvisioner, type ProvisionContext } from '@bot-bottle/core/provisioner';

export default defineProvisioner({
  apiVersion: 1,
  name: 'supervise',
  description: 'registers the supervise MCP server with Claude Code',
  async apply(ctx: ProvisionContext): Promise<void> {
    const { plan, target, endpoints } = ctx;
    if (!plan.supervise) return;
    const argv = ['claude', 'mcp', 'add', '--scope', 'user', '--transport', 'http', 'supervise', endpoints.superviseUrl];
    const r = await target.exec(argv, { user: plan.guest.user, env: { HOME: plan.guest.home, USER: plan.guest.user } });
    if (r.exitCode !== 0) {
      const why = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(0, 3).join(' / ');
      ctx.warn(`could not register the supervise MCP server at ${endpoints.superviseUrl} (\`claude mcp add\` exit ${r.exitCode}${why ? `: ${why}` : ''}); the agent runs without the supervise tools`);
    }
  },
});
