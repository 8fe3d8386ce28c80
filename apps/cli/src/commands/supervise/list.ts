import { BaseCommand } from '../../base-command.js';
import { listPending, type PendingJson } from '../../supervise.js';

export type { PendingJson } from '../../supervise.js';

export default class SuperviseList extends BaseCommand {
  static override summary = 'List what agents asked for and wait on: the pending requests of every running bottle.';
  static override description = [
    'Each request: its id, the bottle, the host and the methods and paths asked for, how long it has waited, the agent\'s reason, and every field of the route an approval adds (host, methods, paths, schemes, ports, to, and a credential\'s header, env var and format).',
    'A credential that would go to a host no current route sends it to is marked NEW; one the manifest does not let the bottle ask for is marked NOT ALLOWED (approve refuses it). Text the agent chose is shown with every invisible character escaped (\\u{XXXX}), an internationalized host in both forms.',
    'Decide with `bottle supervise approve ID` or `bottle supervise deny ID`.',
  ].join('\n');
  static override examples = ['<%= config.bin %> supervise list', '<%= config.bin %> supervise list --json'];

  async run(): Promise<PendingJson[]> {
    await this.parse(SuperviseList);
    const shown = await listPending(this.config, (m) => this.note(m));
    for (const s of shown) for (const line of s.lines) this.out(line);
    return shown.map((s) => s.json);
  }
}
