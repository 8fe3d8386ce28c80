/**
 * Old images: every tag is a hash of its inputs, so each change (a new bot-bottle, a user's edited
 * Dockerfile) leaves the previous image behind. Pruning keeps, for each kind of image (its
 * repository, and for a user's image or its agent layer which image it is of), the newest, and
 * anything a container still uses; images bot-bottle did not build are never touched.
 */
import { docker } from '@bot-bottle/backend-kit';
import { LABEL_LAYER_AGENT, LABEL_USER_IMAGE } from './user-image.js';

export interface PruneReport {
  removed: string[];
  kept: string[];
}

interface Row {
  id: string;
  ref: string;
  created: string;
  group: string;
}

export async function pruneImages(o: { dryRun: boolean; /** Only these repositories (tests); default every one bot-bottle built. */ repositories?: readonly string[] }): Promise<PruneReport> {
  const list = await docker(['image', 'ls', '--filter', 'label=bot-bottle.image=1', '--format', '{{.ID}}\t{{.Repository}}:{{.Tag}}'], { timeoutMs: 60_000 });
  if (list.exitCode !== 0) throw new Error(`docker image ls failed: ${list.stderr.trim()}`);
  const lines = list.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t') as [string, string])
    .filter(([, ref]) => !o.repositories || o.repositories.includes(ref.slice(0, ref.lastIndexOf(':'))));
  if (!lines.length) return { removed: [], kept: [] };
  const ids = [...new Set(lines.map(([id]) => id))];
  const inspect = await docker(['image', 'inspect', '--format', `{{.Id}}\t{{.Created}}\t{{index .Config.Labels "${LABEL_USER_IMAGE}"}}\t{{index .Config.Labels "${LABEL_LAYER_AGENT}"}}`, ...ids], { timeoutMs: 60_000 });
  const meta = new Map<string, { created: string; user: string; agent: string }>();
  for (const l of inspect.stdout.split('\n').filter(Boolean)) {
    const [id = '', created = '', user = '', agent = ''] = l.split('\t');
    meta.set(id.replace(/^sha256:/, '').slice(0, 12), { created, user: user === '<no value>' ? '' : user, agent: agent === '<no value>' ? '' : agent });
  }
  const used = new Set((await docker(['ps', '-a', '--format', '{{.Image}}'], { timeoutMs: 60_000 })).stdout.split('\n').filter(Boolean));
  const usedIds = new Set<string>();
  if (used.size) {
    const r = await docker(['image', 'inspect', '--format', '{{.Id}}', ...used], { timeoutMs: 60_000 });
    for (const id of r.stdout.split('\n').filter(Boolean)) usedIds.add(id.replace(/^sha256:/, '').slice(0, 12));
  }
  const rows: Row[] = lines
    .filter(([, ref]) => !ref.startsWith('<none>'))
    .map(([id, ref]) => {
      const m = meta.get(id.slice(0, 12)) ?? { created: '', user: '', agent: '' };
      return { id: id.slice(0, 12), ref, created: m.created, group: [ref.slice(0, ref.lastIndexOf(':')), m.user, m.agent].join('\t') };
    });
  const groups = new Map<string, Row[]>();
  for (const r of rows) groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
  const report: PruneReport = { removed: [], kept: [] };
  for (const members of groups.values()) {
    members.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
    const newest = members[0]!.id;
    for (const r of members) {
      if (r.id === newest || usedIds.has(r.id) || used.has(r.ref)) {
        report.kept.push(r.ref);
        continue;
      }
      if (!o.dryRun) {
        // By tag: an image that is also tagged otherwise (two tags of one build) keeps its other tag.
        const rm = await docker(['image', 'rm', r.ref], { timeoutMs: 120_000 });
        if (rm.exitCode !== 0) {
          report.kept.push(`${r.ref} (${rm.stderr.trim().split('\n')[0]})`);
          continue;
        }
      }
      report.removed.push(r.ref);
    }
  }
  return report;
}
