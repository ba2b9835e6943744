/** The progress message for every phase of a render, from its rows alone. */
import { describe, expect, it } from 'vitest';
import type { Job, Render } from '../../../src/bank/schema.ts';
import type { QueuePosition } from '../../../src/bank/jobs.ts';
import { decodeCustomId } from '../../../src/bot/core/custom-ids.ts';
import { formatEta, progressBar, renderReply, renderState } from '../../../src/bot/core/progress.ts';

const RID = '0f1e2d3c-4b5a-4968-8776-655443322110';
const T = new Date('2030-01-01T00:00:00Z');

function render(p: Partial<Render> = {}): Render {
  return {
    id: RID, zipId: null, subjectId: 's', styleId: 't', parentId: null, prompt: 'a corgi surfing', negativePrompt: '', seed: 7, steps: 25,
    guidance: 7.5, width: 512, height: 512, count: 4, styleStrength: 1, scheduler: 'dpm++2m-karras', method: 'ziplora', imageKeys: [], gridKey: null,
    status: 'queued', error: null, requesterPlatform: 'web', requesterId: 'ann', requesterName: 'Ann', platform: 'web', communityId: null,
    channelId: null, messageId: null, finishedAt: null, createdAt: T, updatedAt: T, ...p,
  };
}

function job(p: Partial<Job> = {}): Job {
  return {
    id: 'j1', seq: 1, kind: 'render', payload: {}, ownerPlatform: 'web', ownerId: 'ann', communityId: null, renderId: RID, zipId: null, priority: 0,
    status: 'queued', attempts: 0, maxAttempts: 3, runAfter: T, workerId: null, leaseId: null, leaseExpiresAt: null, heartbeatAt: null,
    cancelRequested: false, progress: null, progressAt: null, result: null, error: null, errorCode: null, startedAt: null, finishedAt: null,
    createdAt: T, updatedAt: T, ...p,
  };
}

const pos = (position: number, etaMs?: number): QueuePosition => ({ ahead: position - 1, position, workers: 1, averageMs: etaMs, etaMs });
const view = (r: Render, j?: Job, position?: QueuePosition) => ({ render: r, job: j, position, subjectName: 'corgi', styleName: 'watercolor' });
const actions = (buttons: { id: string }[][]) => buttons.flat().map((b) => decodeCustomId(b.id)?.action);

describe('render progress', () => {
  it.each([
    ['queued, place in line and ETA', render(), job(), pos(3, 150_000), 'queued (#3 in line, about 3 min).'],
    ['queued without an estimate', render(), job(), pos(1), 'queued (#1 in line).'],
    ['waiting for a retry', render(), job({ attempts: 1 }), undefined, 'attempt 2 of 3'],
    ['claimed, no progress yet', render({ status: 'running' }), job({ status: 'running', attempts: 1 }), undefined, 'starting…'],
    ['zipping', render({ status: 'running' }), job({ status: 'running', progress: { phase: 'zipping', step: 37, total: 100 } }), undefined, 'zipping ▰▰▰▰▱▱▱▱▱▱ 37/100'],
    ['rendering', render({ status: 'running' }), job({ status: 'running', progress: { phase: 'rendering', step: 2, total: 4 } }), undefined, 'rendering ▰▰▰▰▰▱▱▱▱▱ 2/4'],
    ['another phase', render({ status: 'running' }), job({ status: 'running', progress: { phase: 'loading' } }), undefined, 'loading…'],
    ['cancel asked while running', render({ status: 'running' }), job({ status: 'running', cancelRequested: true }), undefined, 'cancelling…'],
  ])('%s', (_what, r, j, p, text) => {
    const reply = renderReply(view(r, j, p));
    expect(reply.text).toContain('**corgi × watercolor** #0f1e2d3c');
    expect(reply.text).toContain(text);
    expect(reply.ephemeral).toBe(false);
    expect(reply.follow).toEqual({ renderId: RID });
    expect(actions(reply.buttons)).toEqual(['cancel']);
    expect(reply.buttons[0]![0]!.disabled).toBe(text === 'cancelling…');
  });

  it('done: the grid, the parameters and the buttons', () => {
    const keys = ['renders/aa/bb/1.png', 'renders/aa/bb/2.png', 'renders/aa/bb/3.png', 'renders/aa/bb/4.png'];
    const r = render({ status: 'done', imageKeys: keys, gridKey: 'renders/aa/bb/grid.png', styleStrength: 0.75, parentId: '99999999-4b5a-4968-8776-655443322110', negativePrompt: 'blurry' });
    const reply = renderReply(view(r, job({ status: 'done' })));
    expect(reply.text).toContain('“a corgi surfing” for Ann');
    expect(reply.follow).toBeUndefined();
    expect(reply.cards).toHaveLength(1);
    const card = reply.cards[0]!;
    expect(card.imageKeys).toEqual(['renders/aa/bb/grid.png']);
    const fields = Object.fromEntries(card.fields.map((f) => [f.name, f.value]));
    expect(fields).toMatchObject({ Seed: '7', Steps: '25', 'Style strength': '0.75', Method: 'ziplora', Size: '512×512', Negative: 'blurry', 'Remix of': '#99999999' });
    expect(reply.buttons.map((row) => row.map((b) => b.label))).toEqual([
      ['U1', 'U2', 'U3', 'U4'],
      ['V1', 'V2', 'V3', 'V4'],
      ['🔄 Re-roll', 'Style − (0.5)', 'Style + (1)', '🎛️ Remix'],
      ['Export LoRA', 'Zip stats'],
    ]);
    expect(reply.buttons.flat().every((b) => b.id.length <= 100)).toBe(true);
    expect(reply.buttons.length).toBeLessThanOrEqual(5);
    expect(reply.buttons.every((row) => row.length <= 5)).toBe(true);
  });

  it('done with 2 images offers 2 of each, and disables strength past its bounds', () => {
    const r = render({ status: 'done', count: 2, imageKeys: ['renders/a.png', 'renders/b.png'], styleStrength: 1 });
    const reply = renderReply(view(r));
    expect(reply.buttons[0]!.map((b) => b.label)).toEqual(['U1', 'U2']);
    expect(reply.buttons[2]!.map((b) => !!b.disabled)).toEqual([false, false, true, false]);
    const zero = renderReply(view(render({ status: 'done', imageKeys: ['k'], count: 1, styleStrength: 0 })));
    expect(zero.buttons[2]!.map((b) => !!b.disabled)).toEqual([false, true, false, false]);
  });

  it.each([
    ['render failed', render({ status: 'failed', error: 'the LoRA file is missing' }), job({ status: 'failed', error: 'other' }), 'failed. the LoRA file is missing'],
    ['job dead before the engine wrote the render', render({ status: 'running' }), job({ status: 'dead', error: 'the worker stopped answering' }), 'failed. the worker stopped answering'],
    ['job failed without a reason', render(), job({ status: 'failed' }), 'failed. the worker gave no reason.'],
    ['render cancelled', render({ status: 'cancelled' }), job({ status: 'cancelled' }), 'cancelled.'],
    ['job cancelled while queued', render(), job({ status: 'cancelled', cancelRequested: true }), 'cancelled.'],
  ])('%s', (_what, r, j, text) => {
    const reply = renderReply(view(r, j));
    expect(reply.text).toContain(text);
    expect(reply.follow).toBeUndefined();
    expect(reply.buttons).toEqual([]);
  });

  it('clamps odd progress and names the state', () => {
    expect(renderState(view(render({ status: 'running' }), job({ status: 'running', progress: { phase: 'rendering', step: 9, total: 4 } })))).toEqual({ phase: 'rendering', step: 4, total: 4 });
    expect(renderState(view(render()))).toEqual({ phase: 'queued', position: undefined, etaMs: undefined });
    expect(progressBar(0, 10)).toBe('▱'.repeat(10));
    expect(progressBar(10, 10)).toBe('▰'.repeat(10));
    expect([formatEta(400), formatEta(45_000), formatEta(3_900_000)]).toEqual(['1 s', '45 s', '1 h 5 min']);
  });
});
