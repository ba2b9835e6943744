/**
 * What every handler of the core shares: the bank, the queue, optional in-process
 * job events, the clock and random source, limits and render defaults; plus the
 * small look-ups they all make (the community's settings, the actor, a render by
 * id or short id, the message that shows a render).
 *
 * @example
 *   const deps = coreDeps({ bank, queue });
 *   const reply = await renderStatusReply(deps, render.id);
 */
import type { Actor, Bank } from '../../bank/index.ts';
import type { JobQueue } from '../../bank/jobs.ts';
import { shortId } from '../../bank/renders.ts';
import type { Community, Render } from '../../bank/schema.ts';
import type { JobEvents } from '../../jobs/events.ts';
import type { Clock, Log } from '../../jobs/types.ts';
import type { BaseModel, RenderDefaults } from './derive.ts';
import { CoreRefusal } from './messages.ts';
import { DEFAULT_LIMITS, type Limits } from './policy.ts';
import { renderReply } from './progress.ts';
import type { InteractionContext, MessageReply } from './types.ts';

export interface BotCoreOptions {
  bank: Bank;
  queue: JobQueue;
  /** In-process job events: new jobs wake local workers, cancels reach them at once. */
  events?: JobEvents | undefined;
  /** Injected time (tests); else the database's clock decides quotas and timestamps. */
  clock?: Clock | undefined;
  limits?: Partial<Limits> | undefined;
  /** Per base model, on top of `RENDER_DEFAULTS` (a community's `defaults` come last). */
  renderDefaults?: Partial<Record<BaseModel, Partial<RenderDefaults>>> | undefined;
  /** Uniform [0, 1) source for seeds (default Math.random). */
  random?: (() => number) | undefined;
  log?: Log | undefined;
}

export interface CoreDeps {
  bank: Bank;
  queue: JobQueue;
  events: JobEvents | undefined;
  clock: Clock | undefined;
  limits: Limits;
  renderDefaults: Partial<Record<BaseModel, Partial<RenderDefaults>>>;
  random: () => number;
  log: Log;
}

export function coreDeps(o: BotCoreOptions): CoreDeps {
  return {
    bank: o.bank,
    queue: o.queue,
    events: o.events,
    clock: o.clock,
    limits: { ...DEFAULT_LIMITS, ...o.limits },
    renderDefaults: o.renderDefaults ?? {},
    random: o.random ?? Math.random,
    log: o.log ?? ((level, message) => level !== 'debug' && console.error(`[zipbank bot] ${level}: ${message}`)),
  };
}

/** A plain message reply (public unless `extra` says otherwise). */
export function textReply(text: string, extra: Partial<MessageReply> = {}): MessageReply {
  return { kind: 'message', text, ephemeral: false, cards: [], attachments: [], buttons: [], ...extra };
}

/** The injected instant, or undefined (the database's clock). */
export function nowOf(d: Pick<CoreDeps, 'clock'>): Date | undefined {
  return d.clock?.now();
}

export async function communityOf(d: Pick<CoreDeps, 'bank'>, id: string | null | undefined): Promise<Community | undefined> {
  return id ? d.bank.community(id) : undefined;
}

export function actorOf(ix: InteractionContext): Actor {
  return {
    platform: ix.user.platform,
    userId: ix.user.id,
    ...(ix.user.name ? { displayName: ix.user.name } : {}),
    ...(ix.communityId ? { communityId: ix.communityId } : {}),
    ...(ix.user.roleIds ? { roleIds: ix.user.roleIds } : {}),
  };
}

/** A render by uuid or short id, or a refusal that says which. */
export async function requireRender(d: Pick<CoreDeps, 'bank'>, ref: string): Promise<Render> {
  const found = await d.bank.renders.find(ref);
  if ('render' in found) return found.render;
  if ('ambiguous' in found) throw new CoreRefusal('render.ambiguous', { ref });
  throw new CoreRefusal('render.not-found', { ref });
}

/** Display names of a render's LoRAs (their bank names; `?` when the row is gone). */
export async function loraNames(d: Pick<CoreDeps, 'bank'>, renders: readonly Render[]): Promise<Map<string, string>> {
  const ids = renders.flatMap((r) => [r.subjectId, r.styleId]).filter((x): x is string => !!x);
  const rows = await d.bank.lorasById(ids);
  return new Map([...rows.values()].map((l) => [l.id, l.name]));
}

/** The message of a render in its current state (see ./progress.ts), read fresh from the database. */
export async function renderStatusReply(d: Pick<CoreDeps, 'bank' | 'queue'>, render: Render | string): Promise<MessageReply> {
  const r = typeof render === 'string' ? await requireRender(d, render) : render;
  const job = await d.queue.forRender(r.id);
  const position = job?.status === 'queued' ? await d.queue.position(job.id) : undefined;
  const names = await loraNames(d, [r]);
  return renderReply({
    render: r,
    job,
    position,
    subjectName: (r.subjectId && names.get(r.subjectId)) || '?',
    styleName: (r.styleId && names.get(r.styleId)) || '?',
  });
}

export { shortId };
