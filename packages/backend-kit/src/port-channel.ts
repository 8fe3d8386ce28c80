/**
 * `bottle port`'s channel into a bottle, the same on every backend: the host runs a command in the
 * bottle (docker exec, smolvm machine exec) whose stdin and stdout are one TCP connection to a port
 * on the bottle's own loopback. The bottle opens no connection out and gains no interface: the host
 * opened the channel, and the connection inside goes to 127.0.0.1 only. One command per
 * connection; it ends when either side closes.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { Duplex } from 'node:stream';

/** The pipe, as Node code run by bot-bottle's own Node where a layered image has it, else the image's. */
const PORT_PIPE = "const s=require('net').connect(+process.argv[1],'127.0.0.1');process.stdin.pipe(s);s.pipe(process.stdout);s.on('error',(e)=>{process.stderr.write('bottle port: '+e.message+'\\n');process.exit(1)});s.on('close',()=>process.exit(0));";
const PORT_SH = 'if [ -x /opt/bot-bottle/node/run ]; then exec /opt/bot-bottle/node/run -e "$0" "$1"; else exec node -e "$0" "$1"; fi';

/** The command (run in the bottle as the agent user, stdin and stdout attached) that is one connection to `port` on its loopback. */
export function portChannelCommand(port: number): string[] {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`not a TCP port: ${port}`);
  return ['sh', '-c', PORT_SH, PORT_PIPE, String(port)];
}

/** The spawned channel command as a stream: ended or destroyed, the command goes; a failure inside becomes the stream's error. */
export function portChannel(child: ChildProcessWithoutNullStreams): Duplex {
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  const stream = Duplex.from({ writable: child.stdin, readable: child.stdout });
  child.on('close', (code) => {
    if (code !== 0) stream.destroy(new Error(stderr.trim() || `the channel into the bottle exited ${code}`));
  });
  stream.on('close', () => child.kill());
  return stream;
}
