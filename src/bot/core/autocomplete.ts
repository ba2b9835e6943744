/**
 * Autocomplete for options that name bank entries: `subject` offers subject LoRAs,
 * `style` style LoRAs, and once the other one is typed only those of its base
 * model; `name` (in /bank) offers any kind. Prefix first, then full text (the
 * bank's `autocomplete`), at most 25, NSFW entries only where the community allows
 * them, community-only entries only inside their community.
 *
 * @example
 *   await completeOption(deps, { command: 'zip', option: 'style', value: 'wat', options: { subject: 'corgi' }, user, communityId });
 *   // [{ name: 'Soft Watercolor (watercolor) · SD 1.5', value: 'watercolor' }, ...]
 */
import type { LoraFilter } from '../../bank/search.ts';
import { findCommand } from './commands.ts';
import { communityOf, type CoreDeps } from './context.ts';
import { say } from './messages.ts';
import type { AutocompleteRequest, Choice } from './types.ts';

const MAX_CHOICES = 25;
const MAX_NAME = 100;

function label(item: { name: string; displayName: string; baseModel: string }): string {
  const base = say('label.base-model', { base: item.baseModel });
  const text = item.displayName && item.displayName.toLowerCase() !== item.name ? `${item.displayName} (${item.name}) · ${base}` : `${item.name} · ${base}`;
  return text.length <= MAX_NAME ? text : `${text.slice(0, MAX_NAME - 1)}…`;
}

export async function completeOption(d: CoreDeps, req: AutocompleteRequest): Promise<Choice[]> {
  const def = findCommand(req.command)?.options.find((o) => o.name === req.option);
  if (!def?.autocomplete) return [];
  const community = await communityOf(d, req.communityId);
  const filter: LoraFilter = { nsfw: community?.nsfwAllowed ?? false, ...(req.communityId ? { communityId: req.communityId } : {}) };
  if (def.autocomplete === 'subject' || def.autocomplete === 'style') {
    filter.kind = def.autocomplete;
    const other = req.options?.[def.autocomplete === 'subject' ? 'style' : 'subject'];
    if (typeof other === 'string' && other.trim()) {
      const partner = await d.bank.find(other, req.communityId ? { communityId: req.communityId } : undefined);
      if (partner && partner.baseModel !== 'unknown') filter.baseModel = partner.baseModel;
    }
  }
  const items = await d.bank.autocomplete(req.value.slice(0, 100), filter, MAX_CHOICES);
  return items.slice(0, MAX_CHOICES).map((i) => ({ name: label(i), value: i.name }));
}
