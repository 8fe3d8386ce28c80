import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** The manifest `bottle init` writes: one bottle, one agent, Claude's API reached through the gateway. */
export const STARTER_MANIFEST = {
  bottles: {
    dev: {
      git_user: { name: 'Bottled Agent', email: 'agent@example.com' },
      egress: {
        routes: [{ host: 'api.anthropic.com', auth: { header: 'x-api-key', env: 'ANTHROPIC_API_KEY' } }],
      },
      supervise: true,
    },
  },
  agents: {
    demo: {
      bottle: 'dev',
      prompt: 'You are a careful software engineer. Work in /home/node/workspace.',
      provisioners: ['ca', 'git', 'prompt', 'skills', 'supervise'],
    },
  },
};

/** The starter as written, with `$schema` first when given (editors read it to complete and check the file). */
export function starterManifestText(schemaRef?: string): string {
  return `${JSON.stringify(schemaRef ? { $schema: schemaRef, ...STARTER_MANIFEST } : STARTER_MANIFEST, null, 2)}\n`;
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
