import { Args, Flags } from '@oclif/core';
import { backendDefinition, chooseBackend, formatPath, makePlan, resolveSteps, type BottlePlan } from '@bot-bottle/core';
import { statedImageChoice } from '@bot-bottle/images';
import { BaseCommand } from '../base-command.js';
import { planLines } from '../render/plan.js';
import { agentFor, planAgent } from '../agents.js';
import { backendFlag, loadBackends } from '../backends.js';
import { manifestFlag, readManifest } from '../manifest.js';
import { loadRegistry } from '../provisioners.js';
import { imageStatus } from '../bottle-images.js';

export default class Plan extends BaseCommand {
  static override summary = 'Show what `bottle run` would do for an agent, without doing anything.';
  static override description =
    'Resolves the launch plan (slug, state dirs, the bottle\'s image and where it comes from, egress routes, git upstreams, provisioners in order) and checks every provisioner the agent lists is installed and in a valid order; a bottle\'s own image missing on the engine is named with its fix. Nothing is created.';
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
    const found = await agentFor(this.config, loaded, args.agent);
    const plan = makePlan(
      { manifest: loaded, agentName: args.agent, copyCwd: flags['copy-cwd'], userCwd: process.cwd() },
      { ...(flags.seed === undefined ? {} : { seed: flags.seed }), backend: choice.name, backendSource: choice.source, ...planAgent(found) },
    );
    // An unknown backend is an error here as at launch, with the installed ones listed.
    backendDefinition(await loadBackends(this.config), choice.name, choice.source);
    const registry = await loadRegistry(this.config);
    const steps = resolveSteps(plan.provisioners, registry, formatPath(['agents', args.agent, 'provisioners']));
    if (this.jsonEnabled()) return plan;

    const stated = await statedImageChoice({ configDir: this.config.configDir });
    // Read-only questions to the engine (is the image there?), so the plan can name a missing one with its fix.
    const image = plan.image.source === 'default' ? undefined : await imageStatus(plan.image);
    for (const line of planLines(plan, steps, registry, stated.base, image)) this.out(line);
    return plan;
  }
}
