import { BaseCommand } from '../base-command.js';
import { loadRegistry, provisionerInfos, type ProvisionerInfo } from '../provisioners.js';

export default class Provisioners extends BaseCommand {
  static override summary = 'List the installed provisioners (built-in and from plugins).';
  static override description = 'Agents list these by name under "provisioners"; they run in that order. Install more with `bottle plugins install <package>`.';
  static override examples = ['<%= config.bin %> provisioners', '<%= config.bin %> provisioners --json'];

  async run(): Promise<{ provisioners: ProvisionerInfo[] }> {
    await this.parse(Provisioners);
    const provisioners = provisionerInfos(await loadRegistry(this.config));
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
