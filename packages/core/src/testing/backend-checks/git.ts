/**
 * git through the gate from the provisioned bottle: the agent uses the declared Upstream URL (a
 * `git daemon` the checks run on this host), its gitconfig sends it to the bundle's git-gate, and
 * the gate fetches from and pushes to the upstream. The bottle itself reaches neither the upstream
 * nor any repository that was not declared.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { BackendCheck } from './index.js';
import { provisioned } from './provisioned.js';
import { commitOnUpstream } from './upstreams.js';
import { audit, sh, shOk, type World } from './world.js';

const run = promisify(execFile);

export function gitChecks(w: () => World): BackendCheck[] {
  return [
    {
      name: 'git through the gate: clone by the Upstream URL, commit, push; the host upstream has the commit, a fetch sees upstream work, both audited; the bottle reaches neither the upstream itself nor an undeclared repo',
      async run() {
        const { bottle, plan, gitUser } = await provisioned(w());
        const url = plan.gitGate.upstreams[0]!.upstream;
        const t = bottle.target;
        // The control: the upstream serves both repos to anyone who can reach it (this host can).
        const served = await run('git', ['ls-remote', `git://127.0.0.1:${w().git.port}/other.git`]);
        assert.match(served.stdout, /refs\/heads\/main/);

        await shOk(t, `cd ~ && git clone -q '${url}' app`, { timeoutMs: 120_000 });
        assert.equal((await shOk(t, 'git -C ~/app config remote.origin.url')).trim(), url, 'the agent sees the ordinary URL');
        assert.equal(await shOk(t, 'cat ~/app/README.md'), 'app\n');
        const id = (await shOk(t, 'cd ~/app && echo one > one.txt && git add one.txt && git commit -q -m "from the bottle" && git rev-parse HEAD')).trim();
        const push = await sh(t, 'cd ~/app && git push origin HEAD:main 2>&1', { timeoutMs: 120_000 });
        assert.equal(push.exitCode, 0, push.stdout + push.stderr);
        assert.equal(await w().git.git('app', 'rev-parse', 'main'), id, 'the upstream has the commit');
        assert.equal(await w().git.git('app', 'log', '-1', '--format=%an', 'main'), gitUser.name, 'made as git_user');

        const theirs = await commitOnUpstream(w().git, w().dir, 'app', 'theirs.txt');
        const fetched = await shOk(t, 'cd ~/app && git fetch -q origin && git rev-parse origin/main', { timeoutMs: 120_000 });
        assert.equal(fetched.trim(), theirs, 'a fetch through the gate sees work pushed to the upstream');

        const lines = await audit(plan, 'git-gate');
        assert.ok(lines.some((l) => l.service === 'upload-pack' && l.repo === 'app' && l.decision === 'allow'), `a fetch line: ${JSON.stringify(lines)}`);
        assert.ok(lines.some((l) => l.service === 'receive-pack' && l.repo === 'app' && l.decision === 'allow' && l.refs.some((r: { ref: string; new: string }) => r.ref === 'refs/heads/main' && r.new === id)), `a push line with its ref: ${JSON.stringify(lines)}`);

        // Without the rewrite the bottle has no way to the upstream at all.
        const direct = await sh(t, `GIT_CONFIG_GLOBAL=/dev/null timeout 60 git ls-remote '${url}' 2>&1`, { timeoutMs: 90_000 });
        assert.notEqual(direct.exitCode, 0, direct.stdout);
        assert.doesNotMatch(direct.stdout, /refs\/heads\/main/);
        const undeclaredDirect = await sh(t, `GIT_CONFIG_GLOBAL=/dev/null timeout 60 git ls-remote '${w().git.url(w().hostAddress, 'other')}' 2>&1`, { timeoutMs: 90_000 });
        assert.notEqual(undeclaredDirect.exitCode, 0, undeclaredDirect.stdout);
        // And the gate serves only what was declared.
        const viaGate = await sh(t, `git ls-remote git://${bottle.endpoints.gitGateHost}/other.git 2>&1`);
        assert.notEqual(viaGate.exitCode, 0, viaGate.stdout);
        assert.match(viaGate.stdout, /git-gate: repository "\/other\.git" is not declared for this bottle/);
        assert.ok((await audit(plan, 'git-gate')).some((l) => l.decision === 'deny' && l.repo === '/other.git'), 'the refusal is audited');
      },
    },
  ];
}
