/** The manifest a command uses: --manifest, BOT_BOTTLE_MANIFEST, bottle.json up from the cwd, then the user's. */
import { Flags } from '@oclif/core';
import { discoverManifest, loadManifest, type DiscoveredManifest, type LoadedManifest } from '@bot-bottle/core';

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
