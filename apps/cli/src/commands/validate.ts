import { BottleError, DEFAULT_PROVISIONERS, EXIT_USAGE, checkSteps, formatPath, missingLaunchEnv, type LoadedManifest, type ProvisionerRegistry } from '@bot-bottle/core';
import { BaseCommand } from '../base-command.js';
import { manifestFlag, readManifest } from '../manifest.js';
import { loadRegistry } from '../provisioners.js';

export interface ValidateResult {
  manifest: string;
  via: string;
  ok: true;
  bottles: number;
  agents: number;
  /** Things checked only at launch, such as route env vars that are unset right now. */
  notes: string[];
}

/** A provisioner problem as one line that starts with its JSON path (options problems are one line each already). */
function problemLines(e: BottleError): readonly string[] {
  if (e.code === 'PROVISIONER_OPTIONS' && e.details.length) return e.details;
  return [[e.message, ...e.details].join('; ')];
}

/**
 * What `bottle plan` checks about every agent's provisioners, against the provisioners installed
 * here (built-ins and plugins): known names, `after` order, options valid for their schema. All
 * problems of all agents are reported at once, one line each, like the manifest's own problems.
 */
export function checkProvisioners(loaded: LoadedManifest, registry: ProvisionerRegistry): void {
  const problems: BottleError[] = [];
  for (const [agentName, agent] of Object.entries(loaded.manifest.agents)) {
    const steps = (agent.provisioners ?? [...DEFAULT_PROVISIONERS]).map((ref) =>
      typeof ref === 'string' ? { name: ref, options: {} } : { name: ref.name, options: ref.options ?? {} },
    );
    problems.push(...checkSteps(steps, registry, formatPath(['agents', agentName, 'provisioners'])).problems);
  }
  if (!problems.length) return;
  const codes = new Set(problems.map((p) => p.code));
  throw new BottleError(codes.size === 1 ? problems[0]!.code : 'MANIFEST_INVALID', `${loaded.source} is not valid with the provisioners installed here`, {
    details: problems.flatMap(problemLines),
    suggestions: [...new Set(problems.flatMap((p) => p.suggestions))],
    exit: EXIT_USAGE,
  });
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
    const notes: string[] = [];
    const noted = new Set<string>();
    for (const [bottleName, bottle] of Object.entries(manifest.bottles)) {
      const missing = new Set(missingLaunchEnv(bottle, process.env));
      for (const [i, route] of (bottle.egress?.routes ?? []).entries()) {
        const name = route.auth?.env;
        if (name === undefined || !missing.has(name) || noted.has(name)) continue;
        noted.add(name);
        notes.push(`${formatPath(['bottles', bottleName, 'egress', 'routes', i, 'auth', 'env'])}: ${name} is not set in this shell; checked at launch (export it before \`bottle run\`)`);
      }
    }
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
