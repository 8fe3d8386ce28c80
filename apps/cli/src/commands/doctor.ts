import { EXIT_FAILURE, chooseBackend } from '@bot-bottle/core';
import { allBackends } from '../backends.js';
import { BaseCommand } from '../base-command.js';
import { runDoctor, type DoctorCheckResult } from '../doctor.js';

export default class Doctor extends BaseCommand {
  static override summary = 'Check what bot-bottle needs on this machine, and how to fix what is missing.';
  static override description = 'Checks Node, each installed backend (the one a launch would use now, BOT_BOTTLE_BACKEND or docker, is required; the others are reported without failing) and the images\' base. Exits 1 when something required is missing.';
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json'];

  async run(): Promise<{ ok: boolean; checks: DoctorCheckResult[] }> {
    await this.parse(Doctor);
    const chosen = chooseBackend({ env: process.env }).name;
    const backends = (await allBackends(this.config)).map((b) => ({ name: b.name, description: b.description, chosen: b.name === chosen, doctor: () => b.backend.doctor() }));
    const checks = await runDoctor(backends, process.env, this.config.configDir);
    const ok = checks.every((c) => c.ok || !c.required);
    const report = { ok, checks };
    const width = Math.max(...checks.map((c) => c.name.length));
    for (const c of checks) {
      const status = c.ok ? 'ok     ' : c.required ? 'MISSING' : 'absent ';
      this.out(`${status}  ${c.name.padEnd(width)}  ${c.detail}`);
      if (c.fix && !c.ok) this.out(`         ${' '.repeat(width)}  fix: ${c.fix}`);
    }
    if (!ok) {
      // A failed check is a finding, not an error: print the report (one JSON document under --json), then exit 1.
      if (this.jsonEnabled()) this.logJson(report);
      else this.note(`bottle doctor: ${checks.filter((c) => !c.ok && c.required).length} required check(s) failed`);
      this.exit(EXIT_FAILURE);
    }
    return report;
  }
}
