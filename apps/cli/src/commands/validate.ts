import { BaseCommand } from '../base-command.js';
import { launchNotes, manifestFlag, readManifest } from '../manifest.js';
import { checkProvisioners, loadRegistry } from '../provisioners.js';

export interface ValidateResult {
  manifest: string;
  via: string;
  ok: true;
  bottles: number;
  agents: number;
  /** Things checked only at launch, such as route env vars that are unset right now. */
  notes: string[];
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

export default class Validate extends BaseCommand {
  static override summary = 'Check a manifest and report every problem by its JSON path.';
  static override examples = ['<%= config.bin %> validate', '<%= config.bin %> validate --manifest ./bottle.json'];
  static override flags = { manifest: manifestFlag };

  async run(): Promise<ValidateResult> {
    const { flags } = await this.parse(Validate);
    const { found, loaded } = await readManifest(flags.manifest);
    const { manifest } = loaded;
    checkProvisioners(loaded, await loadRegistry(this.config));
    const notes = launchNotes(manifest);
    const result: ValidateResult = {
      manifest: loaded.source,
      via: found.via,
      ok: true,
      bottles: Object.keys(manifest.bottles).length,
      agents: Object.keys(manifest.agents).length,
      notes,
    };
    this.out(`${loaded.source}: ok, ${count(result.bottles, 'bottle')}, ${count(result.agents, 'agent')}`);
    for (const n of notes) this.out(`note: ${n}`);
    return result;
  }
}
