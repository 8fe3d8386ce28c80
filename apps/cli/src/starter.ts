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

export function starterManifestText(): string {
  return `${JSON.stringify(STARTER_MANIFEST, null, 2)}\n`;
}
