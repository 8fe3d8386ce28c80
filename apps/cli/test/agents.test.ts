/** Agents by "cli": `bottle agents`, `bottle init --agent`, `bottle plan` with each, and the errors. */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validateManifest } from '@bot-bottle/core';
import { bottle, cleanupTempDirs, tempDir } from './helpers.js';

const test = suite('agents');
test.after(cleanupTempDirs);

test('bottle agents: the shipped agents, their pinned installs and API hosts; --json parses', async () => {
  const r = await bottle(['agents', '--json']);
  assert.is(r.exitCode, 0, r.stderr);
  const { agents } = JSON.parse(r.stdout) as { agents: { name: string; installs: string; package: string; credentials: { host: string; header: string; env: string }[] }[] };
  const byName = new Map(agents.map((a) => [a.name, a]));
  for (const name of ['claude', 'codex', 'gemini', 'opencode']) assert.ok(byName.has(name), `${name} in ${[...byName.keys()].join(', ')}`);
  assert.is(byName.get('codex')!.installs, '@openai/codex@0.169.0');
  assert.equal(byName.get('codex')!.credentials, [{ host: 'api.openai.com', header: 'authorization', env: 'OPENAI_API_KEY' }]);
  assert.is(byName.get('gemini')!.package, '@bot-bottle/agent-gemini');
  assert.is(byName.get('opencode')!.installs, 'opencode-ai@1.18.33');
  assert.equal(byName.get('opencode')!.credentials, [{ host: 'api.anthropic.com', header: 'x-api-key', env: 'ANTHROPIC_API_KEY' }]);
  const human = await bottle(['agents']);
  assert.match(human.stdout, /^claude {2}Claude Code {2}\(@anthropic-ai\/claude-code@\d+\.\d+\.\d+; plugin @bot-bottle\/agent-claude@/m);
});

test('init --agent codex: a starter with "cli": "codex" and the Bearer route for OPENAI_API_KEY; it validates; the note names the key', async () => {
  const dir = await tempDir();
  const r = await bottle(['init', '--agent', 'codex'], { cwd: dir });
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stderr, 'next: export OPENAI_API_KEY');
  const file = path.join(dir, 'bottle.json');
  const m = JSON.parse(await readFile(file, 'utf8'));
  assert.is(m.agents.demo.cli, 'codex');
  assert.equal(m.bottles.dev.egress.routes, [{ host: 'api.openai.com', auth: { header: 'authorization', format: 'Bearer {value}', env: 'OPENAI_API_KEY' } }]);
  await validateManifest(m, file, dir);
  const plan = await bottle(['plan', 'demo', '--manifest', file, '--json'], { env: { OPENAI_API_KEY: 'sk-test-0123456789' } });
  assert.is(plan.exitCode, 0, plan.stderr);
  const p = JSON.parse(plan.stdout);
  assert.equal([p.agent.cli, p.agent.installed, p.agent.package, p.agent.permissionPrompts], ['codex', '@openai/codex@0.169.0', '@bot-bottle/agent-codex', false]);
  assert.is(p.guest.skillsDir, '/home/node/.codex/skills');
  assert.is(p.guestEnv.OPENAI_API_KEY, 'bot-bottle-placeholder-the-gateway-injects-the-real-value');
  const human = await bottle(['plan', 'demo', '--manifest', file], { env: { OPENAI_API_KEY: 'sk-test-0123456789' } });
  assert.match(human.stdout, /agent cli {4}codex: OpenAI Codex CLI \(@openai\/codex@0\.169\.0, from @bot-bottle\/agent-codex\)/);
  assert.match(human.stdout, /autonomy {5}unattended: the agent's own permission prompts are off/);
});

test('an unknown "cli", or init --agent: one error listing the installed agents and the plugin hint, exit 2, no stack', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'bottle.json');
  await writeFile(file, JSON.stringify({ bottles: { dev: {} }, agents: { demo: { bottle: 'dev', cli: 'aider' } } }));
  for (const args of [['plan', 'demo', '--manifest', file], ['run', 'demo', '--manifest', file, '--print', 'x'], ['init', '--agent', 'aider']]) {
    const r = await bottle(args, { cwd: dir });
    assert.is(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^Error: no agent CLI named "aider" \(from (agents\.demo\.cli in .*bottle\.json|--agent)\); installed: claude, codex, gemini, opencode/);
    assert.match(r.stderr, 'Fix: Use one of claude, codex, gemini, opencode');
    assert.match(r.stderr, 'bottle plugins install <package>');
    assert.not.match(r.stderr, /\n\s+at /);
  }
  assert.equal(JSON.parse(await readFile(file, 'utf8')).agents.demo.cli, 'aider', 'init refused before writing anything');
});

test('"permissionPrompts": true shows in the plan; a bad "cli" or "permissionPrompts" value is a manifest problem by JSON path', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'bottle.json');
  await writeFile(file, JSON.stringify({ bottles: { dev: {} }, agents: { demo: { bottle: 'dev', cli: 'gemini', permissionPrompts: true } } }));
  const r = await bottle(['plan', 'demo', '--manifest', file, '--json']);
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).agent.permissionPrompts, true);
  await writeFile(file, JSON.stringify({ bottles: { dev: {} }, agents: { demo: { bottle: 'dev', cli: 'Codex!', permissionPrompts: 'yes' } } }));
  const bad = await bottle(['validate', '--manifest', file]);
  assert.is(bad.exitCode, 2);
  assert.match(bad.stderr, /agents\.demo\.cli: the string "Codex!" is not an agent CLI name/);
  assert.match(bad.stderr, /agents\.demo\.permissionPrompts: permissionPrompts is true/);
});

test('plan --copy-cwd in a git repo names the host repo as the workspace\'s origin and the bottle\'s namespace', async () => {
  const dir = await tempDir();
  const { execFileSync } = await import('node:child_process');
  execFileSync('git', ['init', '-q', dir]);
  await writeFile(path.join(dir, 'bottle.json'), JSON.stringify({ bottles: { dev: {} }, agents: { demo: { bottle: 'dev' } } }));
  const r = await bottle(['plan', 'demo', '--copy-cwd', '--seed', 'x'], { cwd: dir });
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /workspace {2}the host repo .* \(the workspace's origin; pushes only to bottle\/demo-[a-z0-9]{5}\/\*, brought home when the bottle ends\)/);
});

test.run();
