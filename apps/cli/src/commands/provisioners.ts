import { BaseCommand } from '../base-command.js';
import { loadRegistry } from '../provisioners.js';

export interface ProvisionerInfo {
  name: string;
  package: string;
  version: string;
  builtIn: boolean;
  description: string;
  after: string[];
  /** The host environment variables it reads (its definition's `hostEnv`): what it is handed, and all it is handed. */
  hostEnv: string[];
}

export default class Provisioners extends BaseCommand {
  static override summary = 'List the installed provisioners (built-in and from plugins).';
  static override description = 'Agents list these by name under "provisioners"; they run in that order. Install more with `bottle plugins install <package>`.';
  static override examples = ['<%= config.bin %> provisioners', '<%= config.bin %> provisioners --json'];

  async run(): Promise<{ provisioners: ProvisionerInfo[] }> {
    await this.parse(Provisioners);
    const registry = await loadRegistry(this.config);
    const provisioners = [...registry.values()]
      .map((r) => ({
        name: r.definition.name,
        package: r.packageName,
        version: r.packageVersion,
        builtIn: r.builtIn,
        description: r.definition.description ?? '',
        after: [...(r.definition.after ?? [])],
        hostEnv: [...(r.definition.hostEnv ?? [])],
      }))
      .sort((a, b) => Number(b.builtIn) - Number(a.builtIn) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (provisioners.length === 0) this.out('no provisioners are installed');
    const width = Math.max(4, ...provisioners.map((p) => p.name.length));
    const pkgWidth = Math.max(...provisioners.map((p) => p.package.length + p.version.length + 1));
    for (const p of provisioners) {
      this.out(`${p.name.padEnd(width)}  ${`${p.package}@${p.version}`.padEnd(pkgWidth)}  ${p.builtIn ? 'built-in' : 'plugin  '}${p.after.length ? `  after: ${p.after.join(', ')}` : ''}${p.hostEnv.length ? `  reads host env: ${p.hostEnv.join(', ')}` : ''}`.trimEnd());
      if (p.description) this.out(`${' '.repeat(width)}  ${p.description}`);
    }
    return { provisioners };
  }
}
