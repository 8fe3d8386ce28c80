/**
 * Each shipped agent's real terminal UI, in a real kept bottle on a real pseudo-terminal (so
 * through its detachable session), against the stand-in of its API: no first-run screen waits for
 * a keypress, what is typed reaches the model with the key injected, the reply is drawn, the agent
 * exits on Ctrl-C, and the audit log holds only allowed calls to its own API hosts.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AgentDefinition } from '@bot-bottle/core';
import claude from '@bot-bottle/agent-claude';
import codex from '@bot-bottle/agent-codex';
import gemini from '@bot-bottle/agent-gemini';
import opencode from '@bot-bottle/agent-opencode';
import { startWorld, type World } from '../bundle/helpers.js';
import { onScreen, Terminal } from '../helpers/terminal.js';

const CLI = path.resolve(import.meta.dirname, '../../../../apps/cli/bin/run.js');
const REPLY = 'Hello from the test upstream';

/**
 * Each agent's UI, ready for input; `refused`: hosts its UI calls whatever it is configured to do,
 * which the gateway must refuse (Codex's terminal UI fetches an announcement from
 * raw.githubusercontent.com at every start, with no setting to turn it off).
 */
const CASES: { agent: AgentDefinition; ready: RegExp; refused?: string[] }[] = [
  { agent: claude, ready: /bypass permissions on/ },
  { agent: codex, ready: /Ask Codex to do anything/, refused: ['raw.githubusercontent.com'] },
  { agent: gemini, ready: /Type your message/ },
  { agent: opencode, ready: /Ask anything/ },
];

const ctx: { world?: World } = {};
const test = suite("every shipped agent's terminal UI in a real bottle, on a pseudo-terminal");
test.before(async () => {
  ctx.world = await startWorld();
});
test.after(async () => {
  await ctx.world?.cleanup();
});

for (const { agent, ready, refused = [] } of CASES) {
  test(`${agent.name}: its UI takes a prompt with no first-run screen, the reply is drawn, Ctrl-C ends it; nothing but its API host in the audit log`, async () => {
    const world = ctx.world!;
    const key = `bbcanary-tui-${agent.name}-${randomBytes(10).toString('hex')}`;
    const dir = path.join(world.dir, `tui-${agent.name}`);
    await promisify(execFile)('mkdir', ['-p', dir]);
    const routes = agent.credentials.map((c) => ({ host: c.host, auth: { header: c.header, env: c.env, ...(c.format ? { format: c.format } : {}) }, to: world.upstream.url }));
    const manifest = path.join(dir, 'bottle.json');
    await writeFile(manifest, JSON.stringify({ bottles: { dev: { egress: { routes }, supervise: true } }, agents: { demo: { bottle: 'dev', cli: agent.name } } }));
    const env = { ...process.env, XDG_STATE_HOME: world.stateHome, BOT_BOTTLE_BUNDLE_NETWORK: world.network, BOT_BOTTLE_UPSTREAM_CA_CERTS: world.upstream.caFile, ...Object.fromEntries(agent.credentials.map((c) => [c.env, key])) };
    const cli = (args: string[]) => promisify(execFile)(process.execPath, [CLI, ...args], { env, timeout: 120_000 });
    const words = `typed-${randomBytes(4).toString('hex')}`;
    const from = (await world.upstream.requests()).length;
    const t = new Terminal(env, ['run', 'demo', '--manifest', manifest, '--keep']);
    let slug = '';
    try {
      slug = (await t.waitFor(/ready: (demo-[a-z0-9]{5})/, 'the ready line', 600))[1]!;
      await t.waitFor(ready, `${agent.name}'s input, ready`);
      await new Promise((r) => setTimeout(r, 1000));
      await t.type(`say hi ${words}`);
      await new Promise((r) => setTimeout(r, 500));
      await t.type('\r');
      let call;
      for (let i = 0; i < 1200 && !call; i++) {
        call = (await world.upstream.requests()).slice(from).find((q) => q.method === 'POST' && q.body.includes(words));
        if (!call) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(call, `no model call carried what was typed:\n${t.plain().slice(-3000)}`);
      const cred = agent.credentials[0]!;
      assert.is(call.headers[cred.header.toLowerCase()], cred.format ? cred.format.replace('{value}', key) : key, 'the key, injected');
      await t.waitFor(onScreen(REPLY), 'the reply, drawn');
      for (let i = 0; i < 3; i++) {
        t.child.stdin.write('\x03');
        await new Promise((r) => setTimeout(r, 700));
      }
      const code = await Promise.race([t.exited, new Promise((r) => setTimeout(() => r('still running'), 60_000))]);
      assert.not.equal(code, 'still running', `Ctrl-C did not end ${agent.name}:\n${t.plain().slice(-2000)}`);
      assert.not.match(t.plain(), 'detached:', 'it ended; it was not detached');
      const log = JSON.parse((await cli(['logs', slug, '--json'])).stdout) as { decision: string; host?: string }[];
      const hosts = new Set(agent.credentials.map((c) => c.host));
      assert.equal(log.filter((e) => !(e.decision === 'allow' && hosts.has(e.host ?? '')) && !(e.decision === 'deny' && refused.includes(e.host ?? ''))), [], 'nothing but its API hosts (and the calls it makes regardless, refused)');
    } finally {
      t.kill();
      if (slug) await cli(['stop', slug]).catch(() => undefined);
    }
  });
}

test.run();
