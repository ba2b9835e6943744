/**
 * `/remix history <render>`: the chain of parents up to the first render, then the
 * render's own remixes, each line saying who made it and what changed from its
 * parent (prompt, negative prompt, seed, style strength, style, subject, ...).
 *
 * @example
 *   diffRenders(parent, child, names); // [{ field: 'seed', from: '7', to: '123' }]
 *   const reply = await historyReply(deps, '1a2b3c4d');
 */
import type { Render } from '../../bank/schema.ts';
import { loraNames, requireRender, shortId, textReply, type CoreDeps } from './context.ts';
import { say } from './messages.ts';
import type { MessageReply } from './types.ts';

export interface RenderChange {
  field: 'subject' | 'style' | 'prompt' | 'negative' | 'seed' | 'strength' | 'steps' | 'count' | 'method' | 'size' | 'guidance' | 'scheduler';
  from: string;
  to: string;
}

const MAX_ANCESTORS = 10;
const MAX_CHILDREN = 15;
const quote = (s: string) => `“${s.length > 80 ? `${s.slice(0, 79)}…` : s}”`;

/** What `child` changed from `parent`, in a fixed order. */
export function diffRenders(parent: Render, child: Render, names: ReadonlyMap<string, string>): RenderChange[] {
  const name = (id: string | null) => (id ? (names.get(id) ?? '?') : '?');
  const pairs: [RenderChange['field'], string, string][] = [
    ['subject', name(parent.subjectId), name(child.subjectId)],
    ['style', name(parent.styleId), name(child.styleId)],
    ['prompt', quote(parent.prompt), quote(child.prompt)],
    ['negative', quote(parent.negativePrompt), quote(child.negativePrompt)],
    ['seed', String(parent.seed), String(child.seed)],
    ['strength', String(parent.styleStrength), String(child.styleStrength)],
    ['steps', String(parent.steps), String(child.steps)],
    ['count', String(parent.count), String(child.count)],
    ['method', parent.method, child.method],
    ['size', `${parent.width}×${parent.height}`, `${child.width}×${child.height}`],
    ['guidance', String(parent.guidance), String(child.guidance)],
    ['scheduler', parent.scheduler, child.scheduler],
  ];
  return pairs.filter(([, a, b]) => a !== b).map(([field, from, to]) => ({ field, from, to }));
}

export function describeChanges(changes: readonly RenderChange[]): string {
  return changes.length ? changes.map((c) => `${c.field} ${c.from} → ${c.to}`).join('; ') : say('lineage.same');
}

function by(r: Render): string {
  return r.requesterName ?? `${r.requesterPlatform}:${r.requesterId}`;
}

function summary(r: Render, names: ReadonlyMap<string, string>): string {
  const n = (id: string | null) => (id ? (names.get(id) ?? '?') : '?');
  return `${n(r.subjectId)} × ${n(r.styleId)}, ${quote(r.prompt)}, seed ${r.seed}, strength ${r.styleStrength}`;
}

export async function historyReply(d: CoreDeps, ref: string): Promise<MessageReply> {
  const render = await requireRender(d, ref);
  const up = await d.bank.renders.ancestors(render.id, MAX_ANCESTORS);
  const children = await d.bank.renders.children(render.id, MAX_CHILDREN + 1);
  const chain = [...up].reverse().concat(render);
  const names = await loraNames(d, [...chain, ...children]);
  const lines = [say('lineage.title', { id: shortId(render.id), title: summary(render, names) })];
  const root = chain[0]!;
  if (root.parentId) lines.push(say('lineage.truncated'));
  lines.push(say('lineage.root', { id: shortId(root.id), by: by(root), summary: summary(root, names), here: root === render }));
  for (let i = 1; i < chain.length; i++) {
    const r = chain[i]!;
    lines.push(`${'  '.repeat(i - 1)}└ ${say('lineage.step', { id: shortId(r.id), by: by(r), changes: describeChanges(diffRenders(chain[i - 1]!, r, names)), here: r === render })}`);
  }
  if (children.length === 0) {
    lines.push(say('lineage.no-children'));
  } else {
    const count = children.length > MAX_CHILDREN ? await d.bank.renders.countChildren(render.id) : children.length;
    lines.push(say('lineage.children', { count }));
    for (const c of children.slice(0, MAX_CHILDREN)) {
      lines.push(`  • ${say('lineage.step', { id: shortId(c.id), by: by(c), changes: describeChanges(diffRenders(render, c, names)), here: false })}`);
    }
  }
  return textReply(lines.join('\n'));
}
