import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_AGENT_CLI, type AgentCredential } from '@bot-bottle/core';

/** What the starter needs of an agent's definition: its name and the API credentials it sends. */
export interface StarterAgent {
  name: string;
  credentials: readonly AgentCredential[];
}

/**
 * The manifest `bottle init` writes: one bottle, one agent, the agent's API reached through the
 * gateway, which injects its key (the bottle holds a placeholder). The default agent (claude) gets
 * no "cli" key, so the starter reads as it always did.
 */
export function starterManifest(agent: StarterAgent): Record<string, unknown> {
  const routes = agent.credentials.map((c) => ({ host: c.host, auth: { header: c.header, ...(c.format ? { format: c.format } : {}), env: c.env } }));
  return {
    bottles: {
      dev: {
        git_user: { name: 'Bottled Agent', email: 'agent@example.com' },
        egress: { routes },
        supervise: true,
      },
    },
    agents: {
      demo: {
        bottle: 'dev',
        ...(agent.name === DEFAULT_AGENT_CLI ? {} : { cli: agent.name }),
        prompt: 'You are a careful software engineer. Work in /home/node/workspace.',
        provisioners: ['ca', 'git', 'prompt', 'skills', 'supervise'],
      },
    },
  };
}

/** The starter for Claude Code, the default agent. */
export const STARTER_MANIFEST = starterManifest({ name: 'claude', credentials: [{ host: 'api.anthropic.com', header: 'x-api-key', env: 'ANTHROPIC_API_KEY' }] });

/** The starter as written, with `$schema` first when given (editors read it to complete and check the file). */
export function starterManifestText(schemaRef?: string, manifest: Record<string, unknown> = STARTER_MANIFEST): string {
  return `${JSON.stringify(schemaRef ? { $schema: schemaRef, ...manifest } : manifest, null, 2)}\n`;
}

/**
 * Where `bottle init` points `$schema`: the JSON Schema shipped in this CLI package, as a file URL.
 * It resolves offline and at once, and describes exactly the version of `bottle` that validates the
 * manifest (an upgrade rewrites the file in place); a hosted URL would need the package published
 * and the editor online. The path is this machine's: on another machine an editor only loses
 * completion, and `bottle` itself ignores `$schema`.
 */
export function schemaFileUrl(cliRoot: string): string {
  return pathToFileURL(path.join(cliRoot, 'schema', 'bottle.schema.json')).href;
}
