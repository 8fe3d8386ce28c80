/**
 * An agent definition as an outside author writes one: `hello`, a tiny agent the plugin ships as a
 * file (agent/hello-agent) rather than an npm package. bot-bottle copies the folder into the
 * bottle's agent image and puts `hello-agent` on PATH; in a bottle on a user's own image, the script
 * runs with bot-bottle's own Node.
 */
import { fileURLToPath } from 'node:url';
import { defineAgent, type AgentConfigureContext, type AgentConfigured } from '@bot-bottle/core/agent';

export default defineAgent({
  apiVersion: 1,
  name: 'hello',
  description: 'hello-agent, the example agent plugin (one prompt to the Messages API)',
  // The folder this package ships, next to dist/: its whole content lands in the image.
  install: { dir: fileURLToPath(new URL('../agent/', import.meta.url)), bin: 'hello-agent' },
  credentials: [{ host: 'api.anthropic.com', header: 'x-api-key', env: 'ANTHROPIC_API_KEY' }],
  async configure(ctx: AgentConfigureContext): Promise<AgentConfigured> {
    // Its config file: the MCP servers to offer the model. Written as the agent user, mode 600.
    await ctx.writeFile(`${ctx.guest.home}/.hello-agent.json`, `${JSON.stringify({ mcpServers: ctx.mcpServers }, null, 2)}\n`);
    return { args: ctx.instructions ? ['--system-file', ctx.instructions] : [] };
  },
  command({ mode, prompt, args }) {
    // It has no permission prompts to turn off, and no interactive mode (it says so when started without -p).
    return mode === 'headless' ? ['hello-agent', ...args, '-p', prompt ?? ''] : ['hello-agent', ...args];
  },
});
