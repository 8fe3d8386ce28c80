import { Flags } from '@oclif/core';
import { describeImage, ensureBottleImage, ensureImages, type BottleImage, type ChoiceSource, type EnsuredImages } from '@bot-bottle/images';
import { DEFAULT_AGENT_CLI, agentDefinition, formatPath } from '@bot-bottle/core';
import { BaseCommand } from '../../base-command.js';
import { loadAgents } from '../../agents.js';
import { manifestImages, optionalManifest } from '../../bottle-images.js';
import { manifestFlag } from '../../manifest.js';

const FROM: Record<ChoiceSource, string> = { flag: 'flag', env: 'environment', config: 'config', detected: 'detected' };

export default class ImageBuild extends BaseCommand {
  static override summary = 'Build the images bottles run on (only what is missing: tags are hashes of their inputs).';
  static override description = [
    'The base image and the extra CAs trusted while building come from, first to last: the flags, $BOT_BOTTLE_BASE_IMAGE and $BOT_BOTTLE_BUILD_CA_CERTS (":"-separated), the choice recorded in the user config ($XDG_CONFIG_HOME/bot-bottle/config.json), and detection:',
    'node:24-bookworm-slim when docker has it or can pull it, else a base built from Debian with debootstrap (needs root and debootstrap); the host\'s extra CAs in /usr/local/share/ca-certificates (how a host behind an intercepting proxy trusts it).',
    'The choice is recorded, so that `bottle run` in any shell later uses the same images. --base auto forgets it and detects again.',
    'The agent image is built for each agent CLI the manifest\'s agents run ("cli": claude by default, codex, gemini, opencode).',
    'Then every image the manifest\'s bottles name ("image": a reference, pulled when missing; a Dockerfile or a devcontainer.json, built when its inputs changed) gets bot-bottle\'s agent layer. Without a manifest (none found, none given), only bot-bottle\'s own images are built.',
  ].join('\n');
  static override examples = [
    '<%= config.bin %> image build',
    '<%= config.bin %> image build --base auto',
    '<%= config.bin %> image build --base my-debian-node:24 --ca-cert /usr/local/share/ca-certificates/corp.crt',
  ];
  static override flags = {
    base: Flags.string({ summary: 'Base image (one with node 24 and npm), or "auto" to detect again.', helpValue: '<image>|auto' }),
    'ca-cert': Flags.string({ summary: 'Extra CA certificate (PEM) to trust during builds; repeatable.', multiple: true, helpValue: '<file>' }),
    verbose: Flags.boolean({ char: 'v', summary: 'Stream docker build output to stderr.', default: false }),
    manifest: manifestFlag,
  };

  async run(): Promise<Omit<EnsuredImages, 'choice'> & { base: string; caCerts: string[]; from: EnsuredImages['choice']['from']; agents: Record<string, string>; bottles: Record<string, Omit<BottleImage, 'execAgent'> & { source: string; cli: string }> }> {
    const { flags } = await this.parse(ImageBuild);
    // The manifest is read first: a broken one is reported before any build starts.
    const loaded = await optionalManifest(flags.manifest);
    const registry = await loadAgents(this.config);
    const agentsOf = (bottle?: string) =>
      loaded ? Object.entries(loaded.manifest.agents).filter(([, a]) => bottle === undefined || a.bottle === bottle).map(([name, a]) => [name, a.cli ?? DEFAULT_AGENT_CLI] as const) : [];
    const clis = [...new Set([...agentsOf().map(([, cli]) => cli)])];
    if (!clis.length) clis.push(DEFAULT_AGENT_CLI);
    const byCli = new Map<string, EnsuredImages>();
    for (const cli of clis) {
      const where = agentsOf().find(([, c]) => c === cli);
      const { definition } = agentDefinition(registry, cli, where && loaded ? `${formatPath(['agents', where[0], 'cli'])} in ${loaded.source}` : 'the default');
      byCli.set(cli, await ensureImages({
        ...(flags.base ? { base: flags.base } : {}),
        ...(flags['ca-cert'] ? { caCerts: flags['ca-cert'] } : {}),
        configDir: this.config.configDir,
        // What this build used is what every later launch uses.
        record: true,
        verbose: flags.verbose,
        progress: (m) => this.note(`bottle: ${m}`),
        agent: { name: definition.name, install: definition.install },
      }));
    }
    const refs = byCli.get(clis[0]!)!;
    const { choice, ...rest } = refs;
    this.out(`base     ${choice.base} (${FROM[choice.from.base]})`);
    this.out(`ca-certs ${choice.caCerts.length ? choice.caCerts.join(' ') : 'none'} (${FROM[choice.from.caCerts]})`);
    this.out(`runtime  ${refs.runtime}`);
    for (const [cli, r] of byCli) this.out(`agent    ${r.agent} (${cli})`);
    this.out(`bundle   ${refs.bundle}`);
    if (refs.recorded) this.note(`bottle: base and CAs recorded in ${refs.recorded}`);
    const bottles: Record<string, Omit<BottleImage, 'execAgent'> & { source: string; cli: string }> = {};
    let built = new Set([...byCli.values()].flatMap((r) => r.built)).size;
    for (const { bottles: names, image } of loaded ? manifestImages(loaded) : []) {
      this.note(`bottle: ${names.length > 1 ? 'bottles' : 'bottle'} ${names.join(', ')}: ${describeImage(image)}`);
      // The agent layer carries the agent: one layered image per agent CLI run on these bottles.
      const clisHere = new Set(names.flatMap((n) => agentsOf(n).map(([, c]) => c)));
      if (!clisHere.size) clisHere.add(clis[0]!); // a bottle no agent runs yet: built for the first agent
      for (const cli of clisHere) {
        const { execAgent: _argv, ...made } = await ensureBottleImage(image, { images: byCli.get(cli)!, verbose: flags.verbose, progress: (m) => this.note(`bottle: ${m}`) });
        built += made.built.length;
        for (const name of names) {
          bottles[clisHere.size > 1 ? `${name}/${cli}` : name] = { ...made, source: image.source, cli };
          this.out(`bottle   ${name}  ${made.ref} (${image.source} ${made.userImage!.ref}; agent ${cli})`);
        }
      }
    }
    this.note(built ? `built ${built} image(s)` : 'all images up to date');
    return { ...rest, base: choice.base, caCerts: choice.caCerts, from: choice.from, agents: Object.fromEntries([...byCli].map(([cli, r]) => [cli, r.agent])), bottles };
  }
}
