import { EGRESS_PRESETS, type EgressPreset } from '@bot-bottle/core';
import { BaseCommand } from '../base-command.js';
import { routeSummary } from '../render/plan.js';

export default class Presets extends BaseCommand {
  static override summary = 'List the egress presets (package registries, read-only) and the hosts each allows.';
  static override description = 'A bottle names them under "egress": {"presets": ["npm", "pypi"]}; each expands to GET/HEAD routes for its hosts on HTTPS. {"name": "npm", "to": "https://mirror.internal"} sends the preset\'s hosts to a mirror.';
  static override examples = ['<%= config.bin %> presets', '<%= config.bin %> presets --json'];

  async run(): Promise<{ presets: EgressPreset[] }> {
    await this.parse(Presets);
    for (const p of EGRESS_PRESETS) {
      this.out(`${p.name}  ${p.description}`);
      for (const r of p.routes) this.out(`  ${routeSummary(r)}`);
    }
    return { presets: structuredClone([...EGRESS_PRESETS]) };
  }
}
