/**
 * The checks every provisioner package should pass, whoever wrote it: the definition is valid and
 * named for the manifest, its oclif hook hands it to the registry, package.json declares the hook
 * the CLI loads (and the built file registers the same provisioner), and the runner resolves and
 * applies it by name. A package's own test registers them with its runner, e.g. with uvu:
 *
 *     for (const check of definitionChecks({ definition, hook, name: 'motd', packageName, packageRoot }))
 *       test(check.name, check.run);
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BottlePlan } from '../plan.js';
import { PROVISIONER_API_VERSION, PROVISIONER_HOOK, PROVISIONER_KEYWORD, defineProvisioner, type ProvisionerDefinition, type ProvisionerHookResult } from '../provisioner/definition.js';
import { buildRegistry } from '../registry.js';
import { resolveSteps, runProvisioners, type ProvisionOutcome } from '../runner.js';
import { ENDPOINTS, planFor, removeWorld, world, type PlanInput } from './provision.js';
import { RecordingTarget } from './recording-target.js';

export interface DefinitionCheckOptions {
  /** The package's default export. */
  definition: ProvisionerDefinition<any>;
  /** The package's oclif hook `bottle:provisioners` (src/register.ts's default export). */
  hook: () => ProvisionerHookResult | Promise<ProvisionerHookResult>;
  /** The name agents list in `provisioners`. */
  name: string;
  /** The npm package name, as package.json has it. */
  packageName: string;
  /** The folder holding the package's package.json (the built hook is loaded from there). */
  packageRoot: string;
  /** Ships with the CLI, registered as a core plugin; third-party plugins are not. Default false. */
  builtIn?: boolean;
  /** Whether the definition has an options schema. Default false. */
  takesOptions?: boolean;
  /** Definitions registered beside it that run first, e.g. a stand-in for each name in its `after`. */
  before?: readonly ProvisionerDefinition<any>[];
  /** The manifest the runner check plans from, and the options the agent gives the provisioner. */
  plan?: PlanInput;
  options?: Record<string, unknown>;
  /**
   * What the runner check expects of one launch's provisioning; by default that it applies. A
   * provisioner that needs what only a launch makes (the ca needs the launch's CA) checks the
   * failure its users would see instead.
   */
  expectRun?: (run: () => Promise<ProvisionOutcome>, plan: BottlePlan) => Promise<void>;
}

export interface DefinitionCheck {
  name: string;
  run(): Promise<void>;
}

/** The conformance checks, one per test, to register with any test runner. */
export function definitionChecks(o: DefinitionCheckOptions): DefinitionCheck[] {
  const before = o.before ?? [];
  const plugin = (name: string) => ({ name, version: '0.1.0', ...(o.builtIn ? { type: 'core' } : {}) });
  const registryOf = (result: ProvisionerHookResult) =>
    buildRegistry(
      [...before.map((d) => ({ plugin: plugin(`test-stand-in-${d.name}`), result: d })), { plugin: plugin(o.packageName), result }],
      [],
      new Set(o.builtIn ? [o.packageName] : []),
    );
  return [
    {
      name: 'the definition passes defineProvisioner and is named for the manifest',
      async run() {
        assert.equal(o.definition.name, o.name);
        assert.equal(o.definition.apiVersion, PROVISIONER_API_VERSION);
        assert.ok(Object.isFrozen(o.definition), 'the default export is what defineProvisioner returned (frozen)');
        assert.equal(defineProvisioner({ ...o.definition }).name, o.name);
        if (o.takesOptions) assert.notEqual(o.definition.options, undefined, 'takes options: it has an options schema');
        else assert.equal(o.definition.options, undefined, 'takes no options');
      },
    },
    {
      name: `the oclif hook hands the definition to buildRegistry${o.builtIn ? ' as a built-in' : ''}`,
      async run() {
        const result = await o.hook();
        assert.ok(Array.isArray(result) ? result.includes(o.definition) : result === o.definition, 'the hook returns the default export');
        const reg = registryOf(result).get(o.name);
        assert.ok(reg, `the registry holds "${o.name}"`);
        assert.equal(reg.definition.name, o.name);
        assert.equal(reg.packageName, o.packageName);
        assert.equal(reg.builtIn, o.builtIn ?? false);
      },
    },
    {
      name: 'package.json declares the hook oclif loads, and the built file registers the same provisioner',
      async run() {
        const pkg = JSON.parse(await readFile(path.join(o.packageRoot, 'package.json'), 'utf8'));
        assert.equal(pkg.name, o.packageName);
        assert.ok(pkg.keywords?.includes(PROVISIONER_KEYWORD), `keywords include "${PROVISIONER_KEYWORD}"`);
        const hookFile = pkg.oclif?.hooks?.[PROVISIONER_HOOK];
        assert.equal(typeof hookFile, 'string', `oclif.hooks["${PROVISIONER_HOOK}"] names the hook file`);
        const hookPath = path.join(o.packageRoot, hookFile);
        assert.ok((await stat(hookPath)).isFile(), `${hookPath} is built`);
        const built = await import(pathToFileURL(hookPath).href);
        const result: ProvisionerHookResult = await built.default();
        const registered = (Array.isArray(result) ? result : [result]).find((d) => d.name === o.name);
        assert.ok(registered, `the built hook registers "${o.name}"`);
        assert.equal(typeof registered.apply, 'function');
        // A plugin brings its own copy of the contract (a regular dependency); one shipped inside the
        // CLI may instead peer-depend on the CLI's. Either way it must be declared, or it resolves by luck.
        assert.ok(pkg.dependencies?.['@bot-bottle/core'] ?? pkg.peerDependencies?.['@bot-bottle/core'], 'depends on @bot-bottle/core');
      },
    },
    {
      name: 'the runner resolves and applies it by name from the registry',
      async run() {
        const w = await world();
        try {
          const plan = await planFor(w, o.plan ?? {});
          const registry = registryOf(await o.hook());
          const steps = resolveSteps([...before.map((d) => ({ name: d.name, options: {} })), { name: o.name, options: o.options ?? {} }], registry);
          const run = () => runProvisioners(steps, { plan, target: new RecordingTarget(), endpoints: ENDPOINTS, hostEnv: {} });
          if (o.expectRun) return await o.expectRun(run, plan);
          const outcome = await run();
          assert.deepEqual(outcome.applied, [...before.map((d) => d.name), o.name]);
        } finally {
          await removeWorld(w);
        }
      },
    },
  ];
}

/** Runs every check in turn; the first that fails throws, its message prefixed with the check's name. */
export async function checkDefinition(o: DefinitionCheckOptions): Promise<void> {
  for (const check of definitionChecks(o)) {
    try {
      await check.run();
    } catch (e) {
      if (e instanceof Error) e.message = `${check.name}: ${e.message}`;
      throw e;
    }
  }
}
