/**
 * Each shipped agent's real CLI (Claude Code, Codex, Gemini CLI, OpenCode) (and the example agent plugin's agent), installed from npm into its agent image, runs headless in a real
 * bottle through `bottle run demo --print ...`, against a stand-in of its model API (the test
 * upstream, in a container on the test's own network, reached through a `to:` route; see
 * fixtures/agent-apis.cjs). The route's credential is injected by the gateway: the stand-in sees the
 * real key, the bottle only a placeholder. The manifest's prompt and the supervise MCP server's
 * tools reach the model's request (the agent read its instructions and registered the server).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SECRET_PLACEHOLDER, type AgentDefinition } from '@bot-bottle/core';
import claude from '@bot-bottle/agent-claude';
import hello from '@bot-bottle/agent-example';
import codex from '@bot-bottle/agent-codex';
import gemini from '@bot-bottle/agent-gemini';
import opencode from '@bot-bottle/agent-opencode';
import { startWorld, type UpstreamRecord, type World } from '../bundle/helpers.js';

const CLI = path.resolve(import.meta.dirname, '../../../../apps/cli/bin/run.js');
const REPLY = 'Hello from the test upstream';
const PROMPT = `You are bottled agent ${randomBytes(4).toString('hex')}.`;

interface Case {
  agent: AgentDefinition;
  /** An outside plugin, linked with `bottle plugins link` before the run (the CLI does not ship it). */
  plugin?: string;
  /** The request that is the model call (the stand-in's log). */
  isModelCall: (q: UpstreamRecord) => boolean;
}

const CASES: Case[] = [
  { agent: claude, isModelCall: (q) => q.method === 'POST' && q.url.startsWith('/v1/messages') },
  { agent: codex, isModelCall: (q) => q.method === 'POST' && q.url === '/v1/responses' },
  { agent: gemini, isModelCall: (q) => q.method === 'POST' && /:streamGenerateContent/.test(q.url) },
  { agent: opencode, isModelCall: (q) => q.method === 'POST' && q.url.startsWith('/v1/messages') },
  // The example agent plugin: a third-party agent shipped as a folder, installed and run the same way.
  { agent: hello, plugin: path.resolve(import.meta.dirname, '../../../../examples/agent-example'), isModelCall: (q) => q.method === 'POST' && q.url.startsWith('/v1/messages') },
];

const ctx: { world?: World } = {};
const test = suite('every shipped agent, headless in a real bottle, against a stand-in of its API');

test.before(async () => {
  ctx.world = await startWorld();
});
test.after(async () => {
  await ctx.world?.cleanup();
});

function bottleRun(world: World, dir: string, args: string[], env: Record<string, string>) {
  return bottleCli(world, dir, ['run', 'demo', '--manifest', path.join(dir, 'bottle.json'), ...args], env);
}

function bottleCli(world: World, dir: string, args: string[], env: Record<string, string>) {
  return promisify(execFile)(process.execPath, [CLI, ...args], {
    cwd: dir,
    env: { ...process.env, XDG_STATE_HOME: world.stateHome, BOT_BOTTLE_BUNDLE_NETWORK: world.network, BOT_BOTTLE_UPSTREAM_CA_CERTS: world.upstream.caFile, ...env },
    timeout: 600_000,
    maxBuffer: 16 * 2 ** 20,
  }).catch((e: { stdout?: string; stderr?: string; code?: number }) => {
    throw new Error(`bottle ${args.join(' ')} failed (exit ${e.code}):\n${e.stdout}\n${e.stderr}`);
  });
}

for (const { agent, plugin, isModelCall } of CASES) {
  test(`${agent.name}: its real CLI prints the stand-in's reply; the key is injected, the prompt and the supervise tools reach the model`, async () => {
    const world = ctx.world!;
    const key = `bbcanary-${agent.name}-${randomBytes(12).toString('hex')}`;
    const dir = path.join(world.dir, agent.name);
    await promisify(execFile)('mkdir', ['-p', dir]);
    const routes = agent.credentials.map((c) => ({ host: c.host, auth: { header: c.header, env: c.env, ...(c.format ? { format: c.format } : {}) }, to: world.upstream.url }));
    await writeFile(path.join(dir, 'bottle.json'), JSON.stringify({ bottles: { dev: { egress: { routes }, supervise: true } }, agents: { demo: { bottle: 'dev', cli: agent.name, prompt: PROMPT } } }));
    const env: Record<string, string> = Object.fromEntries(agent.credentials.map((c) => [c.env, key]));
    if (plugin) {
      // Its own plugin data dir: the user's installed plugins are never touched.
      env.XDG_DATA_HOME = path.join(dir, 'data');
      await promisify(execFile)(process.execPath, [CLI, 'plugins', 'link', plugin, '--no-install'], { env: { ...process.env, ...env } });
    }
    const before = (await world.upstream.requests()).length;

    const r = await bottleRun(world, dir, ['--keep', '--print', 'say hi'], env);
    assert.match(r.stdout, REPLY, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    const slug = /ready: (demo-[a-z0-9]{5})/.exec(r.stderr)?.[1];
    assert.ok(slug, `no slug in:\n${r.stderr}`);
    // It phoned nowhere else: the bottle's audit log holds only allowed requests to its own API hosts
    // (telemetry, update checks, catalogue fetches would each be a refused line here).
    const log = JSON.parse((await bottleCli(world, dir, ['logs', slug, '--json'], env)).stdout) as { decision: string; host?: string; method?: string; path?: string }[];
    await bottleCli(world, dir, ['stop', slug], env);
    const hosts = new Set(agent.credentials.map((c) => c.host));
    const elsewhere = log.filter((e) => e.decision !== 'allow' || !hosts.has(e.host ?? ''));
    assert.equal(elsewhere, [], `requests beyond its API hosts: ${JSON.stringify(elsewhere)}`);
    assert.ok(log.some((e) => e.decision === 'allow' && e.method === 'POST'), `its model call is in the audit log: ${JSON.stringify(log)}`);

    const requests = (await world.upstream.requests()).slice(before);
    const calls = requests.filter(isModelCall);
    assert.ok(calls.length >= 1, `no model call; the stand-in saw: ${requests.map((q) => `${q.method} ${q.url}`).join(', ')}`);
    const cred = agent.credentials[0]!;
    const expected = cred.format ? cred.format.replace('{value}', key) : key;
    for (const q of calls) assert.is(q.headers[cred.header.toLowerCase()], expected, `the gateway injected the key into ${q.method} ${q.url}`);
    assert.not.ok(JSON.stringify(requests).includes(SECRET_PLACEHOLDER), 'no request carried the placeholder');
    const bodies = calls.map((q) => q.body).join('\n');
    assert.ok(bodies.includes(PROMPT), 'the manifest prompt reached the model (the agent read its instructions file)');
    assert.ok(bodies.includes('request_egress'), 'the supervise MCP server\'s tools were offered to the model (its registration reached the server)');

    // The canary: nothing in the bottle holds the key; the agent's env has the placeholder.
    const look = await bottleRun(world, dir, ['--', 'sh', '-c', `printenv ${cred.env}; grep -rlF -- "$0" /home /etc /tmp 2>/dev/null; env | grep -cF -- "$0"; true`, key], env);
    assert.equal(look.stdout.trim().split('\n'), [SECRET_PLACEHOLDER, '0'], `the key inside the bottle:\n${look.stdout}`);
  });
}

test.run();
