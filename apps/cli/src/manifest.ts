/** The manifest a command uses: --manifest, BOT_BOTTLE_MANIFEST, bottle.json up from the cwd, then the user's. */
import { Flags } from '@oclif/core';
import { discoverManifest, formatPath, loadManifest, missingLaunchEnv, type DiscoveredManifest, type LoadedManifest, type Manifest } from '@bot-bottle/core';

export const manifestFlag = Flags.string({
  char: 'm',
  summary: 'Path to the manifest (default: $BOT_BOTTLE_MANIFEST, bottle.json here or in a parent, ~/.config/bot-bottle/bottle.json).',
  helpValue: '<path>',
});

export async function readManifest(flag: string | undefined): Promise<{ found: DiscoveredManifest; loaded: LoadedManifest }> {
  const found = await discoverManifest({ flag });
  const loaded = await loadManifest(found.path);
  return { found, loaded };
}

/**
 * What is checked only at launch and would fail one from this shell now: each route env var that
 * is not set here, once, named by the first JSON path that reads it.
 */
export function launchNotes(manifest: Manifest, env: NodeJS.ProcessEnv = process.env): string[] {
  const notes: string[] = [];
  const noted = new Set<string>();
  for (const [bottleName, bottle] of Object.entries(manifest.bottles)) {
    const missing = new Set(missingLaunchEnv(bottle, env));
    for (const [i, route] of (bottle.egress?.routes ?? []).entries()) {
      const name = route.auth?.env;
      if (name === undefined || !missing.has(name) || noted.has(name)) continue;
      noted.add(name);
      notes.push(`${formatPath(['bottles', bottleName, 'egress', 'routes', i, 'auth', 'env'])}: ${name} is not set in this shell; checked at launch (export it before \`bottle run\`)`);
    }
  }
  return notes;
}
