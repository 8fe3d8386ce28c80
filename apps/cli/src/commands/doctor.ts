import { EXIT_FAILURE, chooseBackend } from '@bot-bottle/core';
import { allBackends } from '../backends.js';
import { BaseCommand } from '../base-command.js';
import { runDoctor, type DoctorCheckResult } from '../doctor.js';
import { optionalManifest } from '../bottle-images.js';
import { manifestFlag } from '../manifest.js';

export default class Doctor extends BaseCommand {
  static override summary = 'Check what bot-bottle needs on this machine, and how to fix what is missing.';
  static override description = 'Checks Node, each installed backend (the one a launch would use now, BOT_BOTTLE_BACKEND or docker, is required; the others are reported without failing), the images the manifest\'s bottles name (each there, or missing with the fix) and the images\' base. Exits 1 when something required is missing.';
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json'];
  static override flags = { manifest: manifestFlag };

  async run(): Promise<{ ok: boolean; checks: DoctorCheckResult[] }> {
    const { flags } = await this.parse(Doctor);
    // The manifest, when there is one, for its bottles' images; a broken one is a finding, not a crash.
    const manifest = await optionalManifest(flags.manifest).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
    const chosen = chooseBackend({ env: process.env }).name;
    const backends = (await allBackends(this.config)).map((b) => ({ name: b.name, description: b.description, chosen: b.name === chosen, doctor: () => b.backend.doctor() }));
    const checks = await runDoctor(backends, process.env, this.config.configDir, manifest);
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
