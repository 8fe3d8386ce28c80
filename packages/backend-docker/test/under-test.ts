/**
 * The docker backend as core's backend checks take it (integration/conformance.test.ts): made on
 * the real engine, its bundles on an `--internal` network this run makes (so nothing leaves the
 * machine even if a guard broke), whose gateway is where a bundle reaches this host.
 */
import type { BackendUnderTest } from '@bot-bottle/core/testing';
import { DockerBackend, containerName, docker, dockerOk } from '../src/index.js';
import { testImages } from './helpers.js';

const networkOf = (id: string) => `bbchecks-${id}`;

/** Lines for each container, volume and network labelled for `label`. */
async function labelled(label: string): Promise<string[]> {
  const out: string[] = [];
  for (const args of [['ps', '-a'], ['volume', 'ls'], ['network', 'ls']]) {
    const r = await dockerOk([...args, '-q', '--filter', `label=${label}`], 'listing');
    out.push(...r.split('\n').filter(Boolean).map((id) => `${args[0] === 'ps' ? 'container' : args[0]} ${id}`));
  }
  return out;
}

const dockerUnderTest: BackendUnderTest = {
  name: 'docker',
  module: import.meta.url,
  make: (env) => new DockerBackend(env),
  async setup(run) {
    await testImages();
    const network = networkOf(run.id);
    await dockerOk(['network', 'create', '--internal', '--label', run.label, network], 'creating the checks\' network');
    const gateway = (await dockerOk(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Gateway}}{{end}}', network], 'inspecting the checks\' network')).trim();
    if (!gateway) throw new Error(`network ${network} has no gateway address`);
    // docker0 and the other bridges' gateways are this host's interfaces: the checks probe those themselves.
    return { env: { BOT_BOTTLE_BUNDLE_NETWORK: network }, hostAddress: gateway };
  },
  async teardown(run) {
    const c = (await dockerOk(['ps', '-aq', '--filter', `label=${run.label}`], 'listing')).split('\n').filter(Boolean);
    if (c.length) await docker(['rm', '-f', '-v', ...c], { timeoutMs: 120_000 });
    const v = (await dockerOk(['volume', 'ls', '-q', '--filter', `label=${run.label}`], 'listing')).split('\n').filter(Boolean);
    if (v.length) await docker(['volume', 'rm', '-f', ...v]);
    await docker(['network', 'rm', networkOf(run.id)]);
  },
  resources: (slug) => labelled(`bot-bottle.slug=${slug}`),
  describe: (slug) => dockerOk(['inspect', containerName(slug)], 'docker inspect'),
};

export default dockerUnderTest;
