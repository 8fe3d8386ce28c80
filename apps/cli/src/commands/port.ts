import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { backendOf } from '../backends.js';
import { forwardPorts, parsePortSpec } from '../port-forward.js';

export default class Port extends BaseCommand {
  static override summary = "Forward a host port to a port in a running bottle (its dev server, say) until Ctrl-C.";
  static override description = [
    'Listens on host loopback (127.0.0.1) unless --address says otherwise, and carries each connection into the bottle\'s own loopback port over a channel the host opens: the bottle still has no network interface and opens nothing.',
    '`bottle ls` shows the ports while they are forwarded.',
  ].join('\n');
  static override examples = ['<%= config.bin %> port demo-abc12 3000', '<%= config.bin %> port demo-abc12 3000:13000 5173'];
  static override strict = false;
  static override enableJsonFlag = false;
  static override args = { slug: Args.string({ description: 'The bottle', required: true }), port: Args.string({ description: 'PORT or PORT:HOSTPORT (more may follow)', required: true }) };
  static override flags = {
    address: Flags.string({ summary: 'The host address to listen on (0.0.0.0 makes the port reachable from other machines).', default: '127.0.0.1', helpValue: 'ADDR' }),
  };

  async run(): Promise<void> {
    const { args, flags, argv } = await this.parse(Port);
    const specs = (argv as string[]).slice(1).map(parsePortSpec);
    const backend = await backendOf(this.config, args.slug);
    const fwd = await forwardPorts(backend, args.slug, specs, flags.address, (m) => this.note(`bottle: ${m}`));
    for (const l of fwd.listening) this.out(`forwarding ${l.address}:${l.hostPort} -> ${args.slug}:${l.port}`);
    if (flags.address !== '127.0.0.1' && flags.address !== '::1' && flags.address !== 'localhost') this.note(`bottle: warning: listening on ${flags.address}: other machines can reach the bottle's port`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await fwd.close();
  }
}
