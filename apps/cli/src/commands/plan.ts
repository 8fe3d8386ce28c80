import { Args, Flags } from '@oclif/core';
import { backendDefinition, chooseBackend, formatPath, makePlan, resolveSteps, type BottlePlan } from '@bot-bottle/core';
import { statedImageChoice } from '@bot-bottle/images';
import { BaseCommand } from '../base-command.js';
import { backendFlag, loadBackends } from '../backends.js';
import { manifestFlag, readManifest } from '../manifest.js';
import { loadRegistry } from '../provisioners.js';

export default class Plan extends BaseCommand {
  static override summary = 'Show what `bottle run` would do for an agent, without doing anything.';
  static override description =
    'Resolves the launch plan (slug, state dirs, egress routes, git upstreams, provisioners in order) and checks every provisioner the agent lists is installed and in a valid order. Nothing is created.';
  static override examples = ['<%= config.bin %> plan demo', '<%= config.bin %> plan demo --json --seed fixed'];
  static override args = { agent: Args.string({ description: 'Agent name from the manifest', required: true }) };
  static override flags = {
    manifest: manifestFlag,
    backend: backendFlag,
    'copy-cwd': Flags.boolean({ summary: "Copy the current directory's .git into the bottle's workspace.", default: false }),
    seed: Flags.string({ summary: 'Make the slug deterministic (same seed, same slug).' }),
  };

  async run(): Promise<BottlePlan> {
    const { args, flags } = await this.parse(Plan);
    const { loaded } = await readManifest(flags.manifest);
    const agent = loaded.manifest.agents[args.agent];
    const choice = chooseBackend({ flag: flags.backend, env: process.env, manifest: agent ? loaded.manifest.bottles[agent.bottle]?.backend : undefined });
    const plan = makePlan(
      { manifest: loaded, agentName: args.agent, copyCwd: flags['copy-cwd'], userCwd: process.cwd() },
      { ...(flags.seed === undefined ? {} : { seed: flags.seed }), backend: choice.name, backendSource: choice.source },
    );
    // An unknown backend is an error here as at launch, with the installed ones listed.
    backendDefinition(await loadBackends(this.config), choice.name, choice.source);
    const registry = await loadRegistry(this.config);
    const steps = resolveSteps(plan.provisioners, registry, formatPath(['agents', args.agent, 'provisioners']));
    if (this.jsonEnabled()) return plan;

    const yesNo = (b: boolean) => (b ? 'yes' : 'no');
    this.out(`plan for agent ${plan.agentName} (bottle ${plan.bottleName})`);
    this.out(`  manifest     ${plan.manifestPath}`);
    this.out(`  slug         ${plan.slug}`);
    this.out(`  backend      ${plan.backend.name} (${plan.backend.source === 'flag' ? '--backend' : plan.backend.source === 'manifest' ? 'the bottle\'s "backend" key' : plan.backend.source})`);
    this.out(`  state dir    ${plan.stateDir}`);
    this.out(`  copy cwd     ${yesNo(plan.copyCwd)}${plan.copyCwd ? ` (${plan.userCwd})` : ''}`);
    this.out(`  supervise    ${plan.supervise ? 'on' : 'off'}`);
    const { bottle: lb, bundle: lu } = plan.limits;
    this.out(`  limits       bottle memory ${lb.memory} (no swap), cpus ${lb.cpus}, pids ${lb.pids}; bundle memory ${lu.memory}, cpus ${lu.cpus}, pids ${lu.pids}`);
    for (const note of plan.limits.notes) this.out(`               ${note}`);
    // The images' base as the launch will pick it (flag-free: environment, then the recorded choice).
    const stated = await statedImageChoice({ configDir: this.config.configDir });
    this.out(`  base image   ${stated.base ? `${stated.base[0]} (${stated.base[1] === 'env' ? 'BOT_BOTTLE_BASE_IMAGE' : 'recorded'})` : 'not chosen yet: the launch detects it (or run `bottle image build`)'}`);
    this.out('provisioners, in order:');
    steps.forEach((s, i) => {
      const reg = registry.get(s.definition.name)!;
      const opts = Object.keys(plan.provisioners[i]!.options).length ? ` options ${JSON.stringify(plan.provisioners[i]!.options)}` : '';
      this.out(`  ${i + 1}. ${s.definition.name.padEnd(12)} ${reg.packageName}@${reg.packageVersion} (${reg.builtIn ? 'built-in' : 'plugin'})${opts}`);
    });
    this.out('egress (everything else is refused):');
    if (plan.egress.routes.length === 0) this.out('  no routes');
    for (const r of plan.egress.routes) {
      const parts = [r.host];
      if (r.to) parts.push(`-> ${r.to}`);
      if (r.methods) parts.push(`methods ${r.methods.join(',')}`);
      if (r.paths) parts.push(`paths ${r.paths.join(',')}`);
      if (r.auth) parts.push(`${r.auth.header} from $${r.auth.env} (injected by the gateway)`);
      this.out(`  ${parts.join('  ')}`);
    }
    this.out('git upstreams:');
    if (plan.gitGate.upstreams.length === 0) this.out('  none');
    for (const u of plan.gitGate.upstreams) this.out(`  ${u.name}  ${u.upstream}${u.identityFile ? `  key ${u.identityFile}` : ''}${u.push ? '' : '  (fetch only)'}`);
    if (plan.skills.length) {
      this.out('skills:');
      for (const s of plan.skills) this.out(`  ${s.name}  ${s.found ? s.hostDir : `NOT FOUND (looked in ${s.searched.join(', ')})`}`);
    }
    if (plan.launchProblems.length) {
      this.out('`bottle run` would refuse to start until these are fixed:');
      for (const p of plan.launchProblems) this.out(`  ${p}`);
    }
    return plan;
  }
}
