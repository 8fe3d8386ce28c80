#!/usr/bin/env node
/**
 * The mirror's pre-receive hook: `pre-receive.js ENTRY.json`, refs on stdin as git gives them.
 *
 * It applies the entry's policy, then pushes the incoming refs to the upstream with the entry's
 * key while the objects still sit in git's quarantine. It exits 0 only when the upstream accepted
 * every ref, so receive-pack updates the mirror only with what the upstream now has; otherwise
 * the quarantine is dropped and the mirror stays as it was. Everything it prints reaches the
 * pusher as `remote:` lines.
 */
import { readFileSync } from 'node:fs';
import { loadExeca } from './exec.js';
import { writeAudit } from './audit.js';
import type { HookEntry } from './mirror.js';
import { parseHookInput } from './commands.js';
import { lostRaces, pushPolicyProblem, updateKind } from './policy.js';
import { localUpstreamEnv, upstreamGitEnv } from './ssh.js';

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** `!\t<src>:<dst>\t[rejected] (fetch first)` → "refs/heads/main: [rejected] (fetch first)". */
function porcelainRejections(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('!\t'))
    .map((l) => {
      const [, refs = '', summary = ''] = l.split('\t');
      return `${refs.split(':').pop()}: ${summary}`;
    });
}

/**
 * All of stdin. Not readFileSync(0): git may hand the hook a non-blocking pipe, which fails with
 * EAGAIN as soon as the hook reads faster than git writes (a push of a few thousand refs).
 */
async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function main(): Promise<number> {
  const execa = await loadExeca();
  const entryFile = process.argv[2];
  if (!entryFile) {
    say('git-gate: the push hook was started without its entry; the push was refused');
    return 1;
  }
  const entry = JSON.parse(readFileSync(entryFile, 'utf8')) as HookEntry;
  // "<old> <new> <ref>" per line, read as bytes: a line that is not exactly that, or a name that is
  // not UTF-8, refuses the push rather than be read as something git will not apply. (The front
  // has already refused names with a line break, which would read as two good lines here.)
  const { updates, problem: inputProblem } = parseHookInput(await readStdin());
  const client = process.env.REMOTE_ADDR ? `${process.env.REMOTE_ADDR}${process.env.REMOTE_PORT ? `:${process.env.REMOTE_PORT}` : ''}` : undefined;
  const audit = (decision: 'allow' | 'deny', reason: string | null) =>
    writeAudit(entry.auditLog, { service: 'receive-pack', repo: entry.name, refs: updates, decision, reason, upstream: entry.upstream, ...(client ? { client } : {}) });

  const problem = inputProblem ?? pushPolicyProblem(entry.name, entry.push, entry.protect, updates, entry.refs ?? [], {
    ...(entry.only ? { only: entry.only } : {}),
    ...(entry.maxRefsPerPush ? { maxRefsPerPush: entry.maxRefsPerPush } : {}),
  });
  if (problem) {
    say(problem);
    audit('deny', problem.replace(/^git-gate: /, ''));
    return 1;
  }

  // The quarantine variables stay for this git (it must see the new objects), but a file://
  // upstream's receive-pack must not inherit GIT_QUARANTINE_PATH, or it refuses to update refs.
  const env = { ...upstreamGitEnv({ identityFile: entry.identityFile, knownHosts: entry.knownHosts }), ...localUpstreamEnv(entry.gitConfigGlobal) };
  for (const k of ['GIT_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  const args = ['push', '--porcelain', '--no-verify'];
  if (updates.length > 1) args.push('--atomic');
  const refspecs: string[] = [];
  for (const u of updates) {
    const kind = updateKind(u);
    if (kind === 'delete') {
      args.push(`--force-with-lease=${u.ref}:${u.old}`);
      refspecs.push(`:${u.ref}`);
    } else if (kind === 'create') {
      refspecs.push(`${u.new}:${u.ref}`);
    } else {
      const ff = await execa('git', ['merge-base', '--is-ancestor', u.old, u.new], { env, extendEnv: false, reject: false });
      // A forced push is forwarded only over what the pusher saw (a lease), never blindly.
      if (ff.exitCode !== 0) args.push(`--force-with-lease=${u.ref}:${u.old}`);
      refspecs.push(`${u.new}:${u.ref}`);
    }
  }
  const r = await execa('git', [...args, '--end-of-options', entry.upstream, ...refspecs], { env, extendEnv: false, reject: false, timeout: entry.upstreamTimeoutMs, stdin: 'ignore' });
  const upstreamLines = `${r.stderr}`
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .filter((l) => l && l !== 'Done' && !/^To /.test(l));
  if (r.exitCode === 0 && !r.timedOut) {
    for (const l of upstreamLines) say(l);
    say(`git-gate: ${entry.upstream} accepted the push`);
    audit('allow', null);
    return 0;
  }
  const rejected = porcelainRejections(`${r.stdout}`);
  say(`git-gate: ${entry.upstream} refused the push; this gate keeps none of it. The upstream said:`);
  for (const l of upstreamLines) say(l);
  for (const l of rejected) say(`  ${l}`);
  const raced = lostRaces(upstreamLines);
  for (const l of raced) say(l);
  const reason = r.timedOut
    ? `the upstream did not answer within ${Math.round(entry.upstreamTimeoutMs / 1000)} s`
    : `upstream refused: ${[...rejected, ...upstreamLines.filter((l) => /^(remote:|error:|fatal:)/.test(l)), ...raced.map((l) => l.replace(/^git-gate: /, ''))].join(' / ') || `git push exited ${r.exitCode}`}`;
  if (r.timedOut) say(`git-gate: ${reason}`);
  audit('deny', reason);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    say(`git-gate: the push hook failed (${(e as Error).message}); the push was refused`);
    process.exit(1);
  },
);
