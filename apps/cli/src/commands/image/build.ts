import { Flags } from '@oclif/core';
import { ensureImages, imageSettingsFromEnv, type ImageRefs } from '@bot-bottle/backend-docker';
import { BaseCommand } from '../../base-command.js';

export default class ImageBuild extends BaseCommand {
  static override summary = 'Build the images bottles run on (only what is missing: tags are hashes of their inputs).';
  static override description = [
    'The base defaults to node:24-bookworm-slim (or $BOT_BOTTLE_BASE_IMAGE). Without a reachable registry, build a base from Debian with scripts/debian-base-image.sh and pass it with --base.',
    'Behind an intercepting (corporate) proxy, give its CA with --ca-cert (repeatable) or $BOT_BOTTLE_BUILD_CA_CERTS (":"-separated): builds then trust it.',
  ].join('\n');
  static override examples = ['<%= config.bin %> image build', '<%= config.bin %> image build --base my-debian-node:24 --ca-cert /usr/local/share/ca-certificates/corp.crt'];
  static override flags = {
    base: Flags.string({ summary: 'Base image (default: $BOT_BOTTLE_BASE_IMAGE or node:24-bookworm-slim).', helpValue: '<image>' }),
    'ca-cert': Flags.string({ summary: 'Extra CA certificate (PEM) to trust during builds; repeatable.', multiple: true, helpValue: '<file>' }),
    verbose: Flags.boolean({ char: 'v', summary: 'Stream docker build output to stderr.', default: false }),
  };

  async run(): Promise<ImageRefs & { built: string[] }> {
    const { flags } = await this.parse(ImageBuild);
    const env = imageSettingsFromEnv();
    const refs = await ensureImages({
      base: flags.base ?? env.base,
      caCerts: flags['ca-cert'] ?? env.caCerts,
      verbose: flags.verbose,
      progress: (m) => this.note(`bottle: ${m}`),
    });
    this.out(`runtime  ${refs.runtime}`);
    this.out(`agent    ${refs.agent}`);
    this.out(`bundle   ${refs.bundle}`);
    this.note(refs.built.length ? `built ${refs.built.length} image(s)` : 'all images up to date');
    return refs;
  }
}
