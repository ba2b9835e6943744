/**
 * `/zip` and every render made from another (variation, re-roll, style strength,
 * remix): resolve the LoRAs (right kinds, one base model, not removed), apply the
 * community's rules (prompt filter, NSFW, quotas), then create the render row and
 * its job in one transaction and answer with the render's progress message.
 * A refusal creates nothing.
 *
 * @example
 *   const reply = await zipCommand(deps, ix, { subject: 'corgi', style: 'watercolor', prompt: 'a corgi surfing', count: 2 });
 *   reply.follow; // { renderId } — the adapter edits this message as the render moves
 */
import type { NewRender } from '../../bank/renders.ts';
import type { Community, Lora, Render } from '../../bank/schema.ts';
import { communityOf, nowOf, renderStatusReply, type CoreDeps } from './context.ts';
import { inheritedParams, randomSeed, renderDefaults, type BaseModel } from './derive.ts';
import { CoreRefusal, say } from './messages.ts';
import { numberOf, stringOf, type OptionValues } from './options.ts';
import { checkNsfw, checkPrompt, checkQuota, effectiveLimits } from './policy.ts';
import type { InteractionContext, MessageReply } from './types.ts';

export interface ZipRequest {
  subject: string;
  style: string;
  prompt: string;
  negative?: string | undefined;
  seed?: number | undefined;
  count?: number | undefined;
  strength?: number | undefined;
  steps?: number | undefined;
  method?: 'ziplora' | 'direct' | undefined;
}

/** The typed request from checked `/zip` options. */
export function zipRequestOf(v: OptionValues): ZipRequest {
  return {
    subject: stringOf(v, 'subject')!,
    style: stringOf(v, 'style')!,
    prompt: stringOf(v, 'prompt')!,
    negative: stringOf(v, 'negative'),
    seed: numberOf(v, 'seed'),
    count: numberOf(v, 'count'),
    strength: numberOf(v, 'strength'),
    steps: numberOf(v, 'steps'),
    method: stringOf(v, 'method') as ZipRequest['method'],
  };
}

async function resolveLora(d: CoreDeps, ix: InteractionContext, slot: 'subject' | 'style', name: string, community: Community | undefined): Promise<Lora> {
  const viewer = ix.communityId ? { communityId: ix.communityId } : {};
  const lora = await d.bank.find(name, viewer);
  if (!lora) {
    const filter = { kind: slot, nsfw: community?.nsfwAllowed ?? false, ...viewer };
    const suggestions = (await d.bank.autocomplete(name, filter, 3)).map((s) => s.name);
    throw new CoreRefusal('zip.unknown-lora', { slot, name, suggestions });
  }
  if (lora.status !== 'active') throw new CoreRefusal('zip.unavailable', { name: lora.name });
  if (lora.kind !== slot) throw new CoreRefusal('zip.wrong-kind', { slot, name: lora.name, kind: lora.kind });
  return lora;
}

function requesterFields(ix: InteractionContext): Pick<NewRender, 'requesterPlatform' | 'requesterId' | 'requesterName' | 'platform' | 'communityId' | 'channelId'> {
  return {
    requesterPlatform: ix.user.platform,
    requesterId: ix.user.id,
    requesterName: ix.user.name ?? null,
    platform: ix.user.platform,
    communityId: ix.communityId ?? null,
    channelId: ix.channelId ?? null,
  };
}

/** Create the render and its job (quota checked inside the same transaction) and answer with its progress message. */
export async function submitRender(d: CoreDeps, ix: InteractionContext, input: NewRender, community: Community | undefined): Promise<MessageReply> {
  const now = nowOf(d);
  const limits = effectiveLimits(d.limits, community);
  const { render, job } = await d.bank.renders.create(input, {
    owner: { platform: ix.user.platform, userId: ix.user.id, communityId: ix.communityId },
    ...(now ? { now } : {}),
    check: (counts) => checkQuota(counts, limits, now ?? new Date()),
  });
  d.events?.emit({ type: 'enqueued', job });
  return renderStatusReply(d, render);
}

export async function zipCommand(d: CoreDeps, ix: InteractionContext, req: ZipRequest): Promise<MessageReply> {
  const community = await communityOf(d, ix.communityId);
  const subject = await resolveLora(d, ix, 'subject', req.subject, community);
  const style = await resolveLora(d, ix, 'style', req.style, community);
  if (subject.baseModel !== style.baseModel) {
    throw new CoreRefusal('zip.base-mismatch', {
      subject: subject.name,
      subjectBase: say('label.base-model', { base: subject.baseModel }),
      style: style.name,
      styleBase: say('label.base-model', { base: style.baseModel }),
    });
  }
  if (subject.baseModel === 'unknown') throw new CoreRefusal('zip.base-unknown', { name: subject.name });
  checkNsfw([subject, style], community);
  checkPrompt(req.prompt, community?.promptFilter ?? []);
  const base: BaseModel = subject.baseModel;
  const def = renderDefaults(base, d.renderDefaults[base], community);
  const input: NewRender = {
    subjectId: subject.id,
    styleId: style.id,
    prompt: req.prompt,
    negativePrompt: req.negative ?? '',
    seed: req.seed ?? randomSeed(d.random),
    steps: req.steps ?? def.steps,
    guidance: def.guidance,
    width: def.width,
    height: def.height,
    count: req.count ?? def.count,
    styleStrength: req.strength ?? def.styleStrength,
    scheduler: def.scheduler,
    method: req.method ?? def.method,
    ...requesterFields(ix),
  };
  return submitRender(d, ix, input, community);
}

export type ChildChanges = Partial<Pick<Render, 'seed' | 'styleStrength' | 'prompt' | 'negativePrompt' | 'count'>>;

/** A render made from `parent` by the acting user (anyone may remix anyone's render), with `changes`. */
export async function childRender(d: CoreDeps, ix: InteractionContext, parent: Render, changes: ChildChanges): Promise<MessageReply> {
  const community = await communityOf(d, ix.communityId);
  const ids = [parent.subjectId, parent.styleId].filter((x): x is string => !!x);
  const loras = await d.bank.lorasById(ids);
  const used: Lora[] = [];
  for (const id of [parent.subjectId, parent.styleId]) {
    const l = id ? loras.get(id) : undefined;
    if (!l || l.status !== 'active') throw new CoreRefusal('zip.lora-gone', { name: l?.name ?? '?' });
    used.push(l);
  }
  checkNsfw(used, community);
  checkPrompt(changes.prompt ?? parent.prompt, community?.promptFilter ?? []);
  const input: NewRender = { ...inheritedParams(parent), ...changes, parentId: parent.id, ...requesterFields(ix) };
  return submitRender(d, ix, input, community);
}
