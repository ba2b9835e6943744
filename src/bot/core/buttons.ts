/**
 * What the buttons under a render do. Each reads the render named in its custom id
 * from the database (so it works after a restart): one image in full size,
 * variations of one image (a child render at nearby seeds, 4 images), re-roll (a
 * new seed), style strength -/+ (steps of 0.25 within 0..1), Remix (a form with the
 * prompt; its submit makes a child render), export the zipped LoRA, the zip's
 * statistics, and cancel (the requester or a moderator).
 *
 * @example
 *   const reply = await handleButton(deps, ix, decodeCustomId(ix.customId)!);
 */
import { TERMINAL_STATUSES } from '../../jobs/types.ts';
import type { Render, Zip } from '../../bank/schema.ts';
import { MAX_PROMPT } from './commands.ts';
import { communityOf, loraNames, nowOf, renderStatusReply, requireRender, shortId, textReply, type CoreDeps } from './context.ts';
import { encodeCustomId, type ButtonAction } from './custom-ids.ts';
import { randomSeed, stepStrength, variationSeed } from './derive.ts';
import { CoreRefusal, say } from './messages.ts';
import { isModeratorOf } from './policy.ts';
import type { Attachment, FormReply, InteractionContext, MessageReply, Reply } from './types.ts';
import { childRender } from './zip.ts';

const PNG = 'image/png';
const SAFETENSORS = 'application/octet-stream';
const STORAGE_KEY = /^(loras|images|renders|zips)\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}\.(png|safetensors)$/;

function requireDone(r: Render): void {
  if (r.status !== 'done' || r.imageKeys.length === 0) throw new CoreRefusal('render.not-done', { id: shortId(r.id) });
}

function checkIndex(r: Render, index: number, count: number): void {
  if (!Number.isInteger(index) || index < 1 || index > count) throw new CoreRefusal('image.out-of-range', { index, count });
}

async function names(d: CoreDeps, r: Render): Promise<{ subject: string; style: string }> {
  const n = await loraNames(d, [r]);
  return { subject: (r.subjectId && n.get(r.subjectId)) || '?', style: (r.styleId && n.get(r.styleId)) || '?' };
}

async function zipOf(d: CoreDeps, r: Render): Promise<Zip | undefined> {
  return r.zipId ? d.bank.renders.zip(r.zipId) : undefined;
}

/**
 * Storage keys inside a zip's stats JSON, with the path that names them: the plots
 * (`files.loss`, ...) and any exported LoRA stored next to the mergers.
 */
export function keysIn(value: unknown, path: string[] = [], depth = 0, out: { path: string[]; key: string }[] = []): { path: string[]; key: string }[] {
  if (depth > 4) return out;
  if (typeof value === 'string') {
    if (STORAGE_KEY.test(value)) out.push({ path, key: value });
  } else if (Array.isArray(value)) {
    if (value.length <= 16) value.forEach((v, i) => keysIn(v, [...path, String(i)], depth + 1, out));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) keysIn(v, [...path, k], depth + 1, out);
  }
  return out;
}

function fileName(path: string[], fallback: string): string {
  const base = path.filter((p) => !/^\d+$/.test(p)).slice(-1)[0] ?? fallback;
  return base.replace(/[^\w-]+/g, '-').slice(0, 40) || fallback;
}

async function exportReply(d: CoreDeps, r: Render): Promise<MessageReply> {
  const zip = await zipOf(d, r);
  if (!zip || zip.status !== 'ready' || !zip.storageKey) throw new CoreRefusal('export.not-ready', { id: shortId(r.id) });
  const n = await names(d, r);
  const stem = `${n.subject}-${n.style}-${zip.method}`;
  const files: Attachment[] = [];
  const seen = new Set([zip.storageKey]);
  for (const { path, key } of keysIn(zip.stats ?? {})) {
    if (!key.endsWith('.safetensors') || seen.has(key)) continue;
    seen.add(key);
    files.push({ name: `${stem}-${fileName(path, 'lora')}.safetensors`, contentType: SAFETENSORS, key });
  }
  files.push({ name: `${stem}-mergers.safetensors`, contentType: SAFETENSORS, key: zip.storageKey });
  return textReply(say('export.text', { subject: n.subject, style: n.style, method: zip.method }), { ephemeral: true, attachments: files });
}

async function statsReply(d: CoreDeps, r: Render): Promise<MessageReply> {
  const zip = await zipOf(d, r);
  if (!zip || !zip.stats) throw new CoreRefusal('stats.none', { id: shortId(r.id) });
  const n = await names(d, r);
  const stats = zip.stats;
  // The engine's zip cache stores `summary` (its summarizeStats lines) and `files` (storage keys).
  const lines = Array.isArray(stats.summary) ? stats.summary.filter((l): l is string => typeof l === 'string') : [];
  if (lines.length === 0 && zip.durationMs !== null) lines.push(say('stats.duration', { seconds: zip.durationMs / 1000 }));
  const plots = keysIn(stats).filter((k) => k.key.endsWith('.png') && !k.path.includes('references'));
  return textReply(say('stats.text', { subject: n.subject, style: n.style, lines }), {
    ephemeral: true,
    attachments: plots.map((p) => ({ name: `${fileName(p.path, 'plot')}.png`, contentType: PNG, key: p.key })),
  });
}

function remixForm(r: Render): FormReply {
  return {
    kind: 'form',
    id: encodeCustomId({ action: 'remix-submit', renderId: r.id }),
    title: say('form.remix.title', { id: shortId(r.id) }),
    fields: [
      { id: 'prompt', label: say('form.remix.prompt'), style: 'paragraph', value: r.prompt, required: true, maxLength: MAX_PROMPT },
      { id: 'negative', label: say('form.remix.negative'), style: 'paragraph', value: r.negativePrompt, required: false, maxLength: MAX_PROMPT },
    ],
  };
}

async function cancel(d: CoreDeps, ix: InteractionContext, r: Render): Promise<MessageReply> {
  const own = r.requesterPlatform === ix.user.platform && r.requesterId === ix.user.id;
  if (!own) {
    const community = await communityOf(d, r.communityId);
    if (!isModeratorOf(ix, r.communityId, community, d.bank.options.admins)) throw new CoreRefusal('cancel.forbidden', { id: shortId(r.id) });
  }
  const job = await d.queue.forRender(r.id);
  if (r.status === 'done' || r.status === 'failed' || r.status === 'cancelled' || !job || TERMINAL_STATUSES.has(job.status)) {
    throw new CoreRefusal('cancel.ended', { id: shortId(r.id), status: r.status === 'queued' || r.status === 'running' ? (job?.status ?? r.status) : r.status });
  }
  const out = await d.queue.cancel(job.id, nowOf(d));
  if (out.outcome === 'cancelled') {
    await d.bank.renders.markCancelled(r.id, nowOf(d));
    d.events?.emit({ type: 'state', job: out.job });
  } else if (out.outcome === 'cancelling') {
    d.events?.emit({ type: 'cancel-requested', jobId: job.id });
  } else {
    throw new CoreRefusal('cancel.ended', { id: shortId(r.id), status: out.outcome === 'finished' ? out.job.status : 'gone' });
  }
  return { ...(await renderStatusReply(d, r.id)), replace: true };
}

export async function handleButton(d: CoreDeps, ix: InteractionContext, a: ButtonAction): Promise<Reply> {
  const r = await requireRender(d, a.renderId);
  switch (a.action) {
    case 'full': {
      requireDone(r);
      checkIndex(r, a.index, r.imageKeys.length);
      const key = r.imageKeys[a.index - 1]!;
      return textReply(say('full.text', { index: a.index, id: shortId(r.id), seed: r.seed + a.index - 1 }), {
        attachments: [{ name: `zipbank-${shortId(r.id)}-${a.index}.png`, contentType: PNG, key }],
      });
    }
    case 'variation': {
      checkIndex(r, a.index, r.count);
      const k = await d.bank.renders.countChildren(r.id);
      return childRender(d, ix, r, { seed: variationSeed(r.seed, a.index, k), count: 4 });
    }
    case 'reroll':
      return childRender(d, ix, r, { seed: randomSeed(d.random) });
    case 'strength': {
      const next = stepStrength(r.styleStrength, a.delta);
      if (next === r.styleStrength) throw new CoreRefusal('strength.at-limit', { value: r.styleStrength });
      return childRender(d, ix, r, { styleStrength: next });
    }
    case 'remix':
      return remixForm(r);
    case 'remix-submit':
      throw new CoreRefusal('button.unknown');
    case 'export':
      return exportReply(d, r);
    case 'stats':
      return statsReply(d, r);
    case 'cancel':
      return cancel(d, ix, r);
  }
}

/** The remix form's submit: a child render with the edited prompt (and negative prompt). */
export async function handleRemixSubmit(d: CoreDeps, ix: InteractionContext, renderId: string, fields: Readonly<Record<string, string>>): Promise<Reply> {
  const r = await requireRender(d, renderId);
  const prompt = (fields.prompt ?? '').trim();
  if (!prompt) throw new CoreRefusal('remix.empty-prompt');
  const negative = fields.negative === undefined ? r.negativePrompt : fields.negative.trim();
  for (const [option, text] of [['prompt', prompt], ['negative', negative]] as const) {
    const length = [...text].length;
    if (length > MAX_PROMPT) throw new CoreRefusal('option.length', { option, length, min: undefined, max: MAX_PROMPT });
  }
  return childRender(d, ix, r, { prompt, negativePrompt: negative });
}
