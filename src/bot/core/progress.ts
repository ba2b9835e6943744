/**
 * The message that shows a render, edited in place as it moves: queued (with its
 * place in line and ETA) -> zipping k/N -> rendering k/N -> done (the grid, the
 * parameters and the buttons) / failed (the error) / cancelled. A pure function of
 * the render row, its latest job row and the queue position, so a restarted bot
 * draws the same message from the database alone.
 *
 * The render's own status wins once it has ended; before that the job tells the
 * story (the engine writes progress phases `zipping` and `rendering` with
 * step/total; a job that failed, died or was cancelled before the engine could
 * update the render is shown as such).
 *
 * @example
 *   const reply = renderReply({ render, job, position, subjectName: 'corgi', styleName: 'watercolor' });
 *   // reply.text: '**corgi × watercolor** #1a2b3c4d: zipping ▰▰▰▱▱▱▱▱▱▱ 37/100'
 */
import type { QueuePosition } from '../../bank/jobs.ts';
import { shortId } from '../../bank/renders.ts';
import type { Job, Render } from '../../bank/schema.ts';
import { encodeCustomId } from './custom-ids.ts';
import { stepStrength } from './derive.ts';
import { say } from './messages.ts';
import type { Button, Card, CardField, MessageReply } from './types.ts';

export interface RenderView {
  render: Render;
  job?: Job | undefined;
  position?: QueuePosition | undefined;
  subjectName: string;
  styleName: string;
}

export type RenderState =
  | { phase: 'queued'; position: number | undefined; etaMs: number | undefined }
  | { phase: 'retrying'; attempt: number; max: number }
  | { phase: 'starting' }
  | { phase: 'zipping' | 'rendering'; step: number; total: number }
  | { phase: 'working'; name: string }
  | { phase: 'cancelling' }
  | { phase: 'done' }
  | { phase: 'failed'; error: string }
  | { phase: 'cancelled' };

const ENDED = new Set(['done', 'failed', 'cancelled']);

/** Where a render stands, from its row and its job's. */
export function renderState(v: Pick<RenderView, 'render' | 'job' | 'position'>): RenderState {
  const { render: r, job } = v;
  if (r.status === 'done') return { phase: 'done' };
  if (r.status === 'failed') return { phase: 'failed', error: r.error ?? job?.error ?? say('status.unknown-error') };
  if (r.status === 'cancelled') return { phase: 'cancelled' };
  if (!job) return { phase: 'queued', position: undefined, etaMs: undefined };
  switch (job.status) {
    case 'cancelled':
      return { phase: 'cancelled' };
    case 'failed':
    case 'dead':
      return { phase: 'failed', error: job.error ?? say('status.unknown-error') };
    case 'queued':
      if (job.cancelRequested) return { phase: 'cancelling' };
      if (job.attempts > 0) return { phase: 'retrying', attempt: job.attempts, max: job.maxAttempts };
      return { phase: 'queued', position: v.position?.position, etaMs: v.position?.etaMs };
    case 'running':
    case 'done': {
      if (job.cancelRequested && job.status === 'running') return { phase: 'cancelling' };
      const p = job.progress;
      if (!p) return { phase: 'starting' };
      if ((p.phase === 'zipping' || p.phase === 'rendering') && p.total !== undefined && p.total > 0) {
        return { phase: p.phase, step: Math.min(Math.max(0, p.step ?? 0), p.total), total: p.total };
      }
      return { phase: 'working', name: p.phase };
    }
  }
}

/** `▰▰▰▱▱▱▱▱▱▱` for step/total over `cells` cells. */
export function progressBar(step: number, total: number, cells = 10): string {
  const full = total > 0 ? Math.round((Math.min(step, total) / total) * cells) : 0;
  return '▰'.repeat(full) + '▱'.repeat(cells - full);
}

/** `45 s`, `3 min`, `1 h 5 min`. */
export function formatEta(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  return `${Math.floor(min / 60)} h${min % 60 ? ` ${min % 60} min` : ''}`;
}

export function renderTitle(v: Pick<RenderView, 'render' | 'subjectName' | 'styleName'>): string {
  return say('status.title', { subject: v.subjectName, style: v.styleName, id: shortId(v.render.id) });
}

function statusText(title: string, s: RenderState, v: RenderView): string {
  switch (s.phase) {
    case 'queued':
      return say('status.queued', { title, position: s.position, eta: s.etaMs !== undefined ? formatEta(s.etaMs) : undefined });
    case 'retrying':
      return say('status.retrying', { title, attempt: s.attempt, max: s.max });
    case 'starting':
      return say('status.starting', { title });
    case 'zipping':
    case 'rendering':
      return say(`status.${s.phase}`, { title, step: s.step, total: s.total, bar: progressBar(s.step, s.total) });
    case 'working':
      return say('status.working', { title, phase: s.name });
    case 'cancelling':
      return say('status.cancelling', { title });
    case 'done':
      return say('status.done', { title, prompt: v.render.prompt, by: v.render.requesterName ?? v.render.requesterId });
    case 'failed':
      return say('status.failed', { title, error: s.error });
    case 'cancelled':
      return say('status.cancelled', { title });
  }
}

/** The parameters of a render, as card fields. */
export function renderFields(r: Render, parentId?: string | null): CardField[] {
  const fields: CardField[] = [
    { name: say('label.seed'), value: String(r.seed), inline: true },
    { name: say('label.steps'), value: String(r.steps), inline: true },
    { name: say('label.strength'), value: String(r.styleStrength), inline: true },
    { name: say('label.method'), value: r.method, inline: true },
    { name: say('label.size'), value: `${r.width}×${r.height}`, inline: true },
    { name: say('label.scheduler'), value: r.scheduler, inline: true },
    { name: say('label.guidance'), value: String(r.guidance), inline: true },
  ];
  if (r.negativePrompt) fields.push({ name: say('label.negative'), value: r.negativePrompt });
  const parent = parentId ?? r.parentId;
  if (parent) fields.push({ name: say('label.parent'), value: `#${shortId(parent)}`, inline: true });
  return fields;
}

/** The buttons under a finished render: U1..Un, V1..Vn, re-roll / style -/+ / remix, export / stats. */
export function resultButtons(r: Render): Button[][] {
  const n = Math.max(1, Math.min(r.count, r.imageKeys.length || r.count, 4));
  const idx = Array.from({ length: n }, (_, i) => i + 1);
  const down = stepStrength(r.styleStrength, -1);
  const up = stepStrength(r.styleStrength, 1);
  return [
    idx.map((index) => ({ id: encodeCustomId({ action: 'full', renderId: r.id, index }), label: say('label.full', { index }), style: 'secondary' })),
    idx.map((index) => ({ id: encodeCustomId({ action: 'variation', renderId: r.id, index }), label: say('label.variation', { index }), style: 'secondary' })),
    [
      { id: encodeCustomId({ action: 'reroll', renderId: r.id }), label: say('label.reroll'), style: 'secondary' },
      { id: encodeCustomId({ action: 'strength', renderId: r.id, delta: -1 }), label: say('label.strength-down', { to: down }), style: 'secondary', disabled: down === r.styleStrength },
      { id: encodeCustomId({ action: 'strength', renderId: r.id, delta: 1 }), label: say('label.strength-up', { to: up }), style: 'secondary', disabled: up === r.styleStrength },
      { id: encodeCustomId({ action: 'remix', renderId: r.id }), label: say('label.remix'), style: 'primary' },
    ],
    [
      { id: encodeCustomId({ action: 'export', renderId: r.id }), label: say('label.export'), style: 'secondary' },
      { id: encodeCustomId({ action: 'stats', renderId: r.id }), label: say('label.stats'), style: 'secondary' },
    ],
  ];
}

/** The message for a render in any state. Not ephemeral; `follow` is set until the render ends. */
export function renderReply(v: RenderView): MessageReply {
  const s = renderState(v);
  const title = renderTitle(v);
  const reply: MessageReply = { kind: 'message', text: statusText(title, s, v), ephemeral: false, cards: [], attachments: [], buttons: [] };
  if (s.phase === 'done') {
    const r = v.render;
    const image = r.gridKey ?? r.imageKeys[0];
    const card: Card = {
      title: `${v.subjectName} × ${v.styleName}`,
      description: r.prompt,
      fields: renderFields(r),
      imageKeys: image ? [image] : [],
      footer: `#${shortId(r.id)}`,
    };
    reply.cards.push(card);
    reply.buttons = resultButtons(r);
  } else if (!ENDED.has(s.phase)) {
    reply.buttons = [[{ id: encodeCustomId({ action: 'cancel', renderId: v.render.id }), label: say('label.cancel'), style: 'danger', disabled: s.phase === 'cancelling' }]];
    reply.follow = { renderId: v.render.id };
  }
  return reply;
}
