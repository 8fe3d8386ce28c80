/**
 * The smolmachines backend as core's backend checks take it (integration/conformance.test.ts). By
 * default on the smolvm TEST DOUBLE (test/smolvm-double), told it is on a host with hardware KVM;
 * with BOT_BOTTLE_SMOLVM_ENGINE=real (scripts/verify-smolvm.sh) on real smolvm, the host probed for
 * real. Its bundles join an `--internal` network this run makes, whose gateway is where a bundle
 * reaches this host. Everything it makes carries the run's label, or lives under the run's folder.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { BackendUnderTest } from '@bot-bottle/core/testing';
import { docker, dockerOk, stateRoot } from '@bot-bottle/backend-kit';
import { SmolmachinesBackend, listArgs, listSocketFolders, machineName, parseMachineList, smolvm, smolvmCli, socketFolderPlace, statusArgs } from '../src/index.js';
import { DOUBLE, ENGINE, HARDWARE_KVM_HOST, testImages } from './integration/helpers.js';

const networkOf = (id: string) => `bbchecks-smolvm-${id}`;
const cliOf = (env: NodeJS.ProcessEnv) => smolvmCli(env.BOT_BOTTLE_SMOLVM || 'smolvm');

let stateDir = '';
/** The checks' state home is beside run.dir (core's makeWorld); the socket folders are filed under it. */
let states = '';

const smolmachinesUnderTest: BackendUnderTest = {
  name: 'smolmachines',
  module: import.meta.url,
  make: (env) => new SmolmachinesBackend({ env, ...(ENGINE === 'double' ? { hostProbe: HARDWARE_KVM_HOST } : {}) }),
  async setup(run) {
    await testImages();
    const network = networkOf(run.id);
    await dockerOk(['network', 'create', '--internal', '--label', run.label, network], 'creating the checks\' network');
    const gateway = (await dockerOk(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Gateway}}{{end}}', network], 'inspecting the checks\' network')).trim();
    stateDir = path.join(run.dir, 'smolvm');
    states = stateRoot({ XDG_STATE_HOME: path.join(path.dirname(run.dir), 'state') });
    await mkdir(stateDir, { recursive: true });
    return {
      env: {
        BOT_BOTTLE_BUNDLE_NETWORK: network,
        BOT_BOTTLE_SMOLVM_STATE_DIR: stateDir,
        BOT_BOTTLE_SMOLVM_IMAGE_CACHE: path.join(run.dir, 'images'),
        ...(ENGINE === 'double' ? { BOT_BOTTLE_SMOLVM: DOUBLE } : {}),
      },
      hostAddress: gateway,
      // What a smolvm guest with a network would reach this host's loopback at.
      moreHostAddresses: ['100.96.0.1'],
    };
  },
  async teardown(run) {
    const env = { BOT_BOTTLE_SMOLVM: ENGINE === 'double' ? DOUBLE : '' };
    const ls = await smolvm(listArgs({ stateDir }), {}, cliOf(env)).catch(() => null);
    for (const m of ls?.exitCode === 0 ? parseMachineList(ls.stdout) : []) await smolvm(['machine', 'delete', '--name', m.name, '--force', '--state-dir', stateDir], { timeoutMs: 120_000 }, cliOf(env));
    const c = (await dockerOk(['ps', '-aq', '--filter', `label=${run.label}`], 'listing')).split('\n').filter(Boolean);
    if (c.length) await docker(['rm', '-f', '-v', ...c], { timeoutMs: 120_000 });
    await docker(['network', 'rm', networkOf(run.id)]);
  },
  async resources(slug) {
    const env = { BOT_BOTTLE_SMOLVM: ENGINE === 'double' ? DOUBLE : '' };
    const out: string[] = [];
    const containers = (await dockerOk(['ps', '-aq', '--filter', `label=bot-bottle.slug=${slug}`], 'listing')).split('\n').filter(Boolean);
    out.push(...containers.map((id) => `container ${id}`));
    if (ENGINE === 'double') {
      const doubles = (await dockerOk(['ps', '-aq', '--filter', 'label=smolvm-double=1', '--filter', `label=smolvm-double.machine=${machineName(slug)}`], 'listing')).split('\n').filter(Boolean);
      out.push(...doubles.map((id) => `the double's container ${id}`));
    }
    const ls = await smolvm(listArgs({ stateDir }), {}, cliOf(env));
    out.push(...parseMachineList(ls.stdout).filter((m) => m.labels['bot-bottle.slug'] === slug).map((m) => `machine ${m.name} ${m.state}`));
    const place = socketFolderPlace(states, process.env, process.geteuid?.() ?? 1000);
    out.push(...(await listSocketFolders(place)).filter((f) => f.slug === slug).map((f) => `socket folder ${f.folder}`));
    return out;
  },
  async describe(slug) {
    const env = { BOT_BOTTLE_SMOLVM: ENGINE === 'double' ? DOUBLE : '' };
    const status = await smolvm(statusArgs({ name: machineName(slug), stateDir }), {}, cliOf(env));
    const doubles = ENGINE === 'double' ? (await dockerOk(['ps', '-aq', '--filter', `label=smolvm-double.machine=${machineName(slug)}`], 'listing')).split('\n').filter(Boolean) : [];
    const inspect = doubles.length ? (await docker(['inspect', ...doubles])).stdout : '';
    return `${status.stdout}\n${inspect}`;
  },
};

export default smolmachinesUnderTest;
