/**
 * Every text the bot shows, in one table, so the web channel, Discord and Slack say
 * the same thing: replies, progress lines, button labels, and refusals. A refusal
 * is a `CoreRefusal` (a code from this table plus its details); the core turns it
 * into a private (ephemeral) reply. Errors from the bank and the engine keep their
 * own table (src/errors) and are shown with their message as they are.
 *
 * Formatting: plain text with `**bold**` and backticks, which each adapter maps to
 * its platform's markup.
 *
 * @example
 *   say('status.zipping', { title: 'corgi × watercolor', step: 37, total: 100, bar: '▰▰▰▱▱' });
 *   throw new CoreRefusal('quota.user-concurrent', { limit: 2 });
 */

const list = (xs: readonly string[]) => xs.map((x) => `\`${x}\``).join(', ');
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export const MESSAGES = {
  // Commands and options (parsing and validation).
  'command.unknown': (d: { command: string; known: readonly string[] }) =>
    `there is no command \`/${d.command}\`. Commands: ${d.known.map((k) => `\`/${k}\``).join(', ')}.`,
  'command.subcommand-missing': (d: { command: string; subcommands: readonly string[] }) =>
    `\`/${d.command}\` needs one of: ${list(d.subcommands)} (e.g. \`/${d.command} ${d.subcommands[0] ?? ''}\`).`,
  'command.subcommand-unknown': (d: { command: string; sub: string; subcommands: readonly string[] }) =>
    `\`/${d.command} ${d.sub}\` does not exist; \`/${d.command}\` takes ${list(d.subcommands)}.`,
  'option.unknown': (d: { command: string; option: string; allowed: readonly string[] }) =>
    `\`/${d.command}\` has no option \`${d.option}\`; it takes ${list(d.allowed)}. (Text with a colon in it goes in quotes: prompt:"a: b".)`,
  'option.missing': (d: { command: string; option: string; description: string }) =>
    `\`/${d.command}\` needs \`${d.option}\` (${d.description}), e.g. \`${d.option}:...\`.`,
  'option.duplicate': (d: { option: string }) => `\`${d.option}\` is given twice; give it once.`,
  'option.type': (d: { option: string; value: string; expected: string }) =>
    `\`${d.option}\` must be ${d.expected}, not "${d.value}".`,
  'option.range': (d: { option: string; value: number; min: number | undefined; max: number | undefined }) =>
    d.min !== undefined && d.max !== undefined
      ? `\`${d.option}\` must be from ${d.min} to ${d.max}, not ${d.value}.`
      : d.min !== undefined
        ? `\`${d.option}\` must be at least ${d.min}, not ${d.value}.`
        : `\`${d.option}\` must be at most ${d.max}, not ${d.value}.`,
  'option.choice': (d: { option: string; value: string; allowed: readonly string[] }) =>
    `\`${d.option}\` must be one of ${list(d.allowed)}, not "${d.value}".`,
  'option.length': (d: { option: string; length: number; min: number | undefined; max: number | undefined }) =>
    d.max !== undefined && d.length > d.max
      ? `\`${d.option}\` is ${d.length} characters long; at most ${d.max} are allowed.`
      : `\`${d.option}\` needs at least ${d.min ?? 1} character${(d.min ?? 1) === 1 ? '' : 's'}.`,
  'parse.unclosed-quote': (d: { near: string }) => `a quote is opened but never closed near "${d.near}"; close it with another ".`,
  'parse.extra-text': (d: { command: string; text: string }) =>
    `\`/${d.command}\` does not know what to do with "${d.text}"; write options as name:value, e.g. name:"some text".`,

  // /zip: resolving LoRAs and policies.
  'zip.unknown-lora': (d: { slot: 'subject' | 'style'; name: string; suggestions: readonly string[] }) =>
    `there is no ${d.slot} LoRA named "${d.name}" in the bank.` +
    (d.suggestions.length ? ` Did you mean ${list(d.suggestions)}?` : ` Try \`/bank search ${d.name}\`.`),
  'zip.wrong-kind': (d: { slot: 'subject' | 'style'; name: string; kind: string }) =>
    `"${d.name}" is a${d.kind === 'other' ? 'n' : ''} ${d.kind} LoRA; the ${d.slot} option takes a ${d.slot} LoRA.` +
    (d.kind === 'subject' || d.kind === 'style' ? ` Swap them: ${d.kind}:${d.name}.` : ''),
  'zip.unavailable': (d: { name: string }) => `"${d.name}" was removed or hidden by moderators and cannot be used.`,
  'zip.base-mismatch': (d: { subject: string; subjectBase: string; style: string; styleBase: string }) =>
    `"${d.subject}" is made for ${d.subjectBase} and "${d.style}" for ${d.styleBase}: both LoRAs must share a base model. Autocomplete shows the ones that fit.`,
  'zip.base-unknown': (d: { name: string }) => `the base model of "${d.name}" is unknown, so it cannot be rendered.`,
  'zip.nsfw': (d: { names: readonly string[] }) =>
    `${list(d.names)} ${d.names.length === 1 ? 'is' : 'are'} marked NSFW, and this community does not allow NSFW renders.`,
  'zip.prompt-filtered': (d: { term: string }) => `this community does not allow "${d.term}" in prompts. Rephrase and try again.`,
  'zip.lora-gone': (d: { name: string }) => `"${d.name}" has been removed from the bank, so this render cannot be varied or remixed.`,
  'quota.user-concurrent': (d: { limit: number }) =>
    `you already have ${plural(d.limit, 'render')} queued or running (the limit here). Wait for one to finish or cancel one.`,
  'quota.user-hourly': (d: { limit: number; minutes: number }) =>
    `you have made ${plural(d.limit, 'render')} in the last hour, the limit here. Try again in ${plural(d.minutes, 'minute')}.`,
  'quota.community-concurrent': (d: { limit: number }) =>
    `this community already has ${plural(d.limit, 'render')} queued or running, its limit. Try again when some have finished.`,
  'quota.community-hourly': (d: { limit: number }) =>
    `this community has made ${plural(d.limit, 'render')} in the last hour, its limit. Try again later.`,

  // Renders and buttons.
  'render.not-found': (d: { ref: string }) => `there is no render "${d.ref}". Use the id shown under a render (e.g. #1a2b3c4d).`,
  'render.ambiguous': (d: { ref: string }) => `several renders start with "${d.ref}"; give more of the id.`,
  'button.unknown': () => `this button is not one of zipbank's (or comes from an older version); run the command again.`,
  'render.not-done': (d: { id: string }) => `render #${d.id} has no images yet; wait until it is done.`,
  'image.out-of-range': (d: { index: number; count: number }) => `image ${d.index} does not exist; this render has ${plural(d.count, 'image')}.`,
  'strength.at-limit': (d: { value: number }) =>
    `the style strength is already ${d.value === 0 ? 'at its minimum, 0' : 'at its maximum, 1'}.`,
  'cancel.forbidden': (d: { id: string }) => `only the person who asked for render #${d.id} or a moderator can cancel it.`,
  'cancel.ended': (d: { id: string; status: string }) => `render #${d.id} already ${d.status === 'done' ? 'finished' : d.status}; there is nothing to cancel.`,
  'export.not-ready': (d: { id: string }) => `the zipped LoRA of render #${d.id} is not ready yet (it is made while the render runs).`,
  'stats.none': (d: { id: string }) => `render #${d.id} has no zip statistics yet.`,
  'remix.empty-prompt': () => `the remix needs a prompt.`,

  // Progress and results.
  'status.queued': (d: { title: string; position: number | undefined; eta: string | undefined }) =>
    `${d.title}: queued` + (d.position !== undefined ? ` (#${d.position} in line${d.eta ? `, about ${d.eta}` : ''})` : '') + '.',
  'status.retrying': (d: { title: string; attempt: number; max: number }) =>
    `${d.title}: a worker stopped; waiting to try again (attempt ${d.attempt + 1} of ${d.max}).`,
  'status.starting': (d: { title: string }) => `${d.title}: starting…`,
  'status.zipping': (d: { title: string; step: number; total: number; bar: string }) => `${d.title}: zipping ${d.bar} ${d.step}/${d.total}`,
  'status.rendering': (d: { title: string; step: number; total: number; bar: string }) => `${d.title}: rendering ${d.bar} ${d.step}/${d.total}`,
  'status.working': (d: { title: string; phase: string }) => `${d.title}: ${d.phase}…`,
  'status.cancelling': (d: { title: string }) => `${d.title}: cancelling…`,
  'status.done': (d: { title: string; prompt: string; by: string }) => `${d.title}: “${d.prompt}” for ${d.by}`,
  'status.failed': (d: { title: string; error: string }) => `${d.title}: failed. ${d.error}`,
  'status.cancelled': (d: { title: string }) => `${d.title}: cancelled.`,
  'status.title': (d: { subject: string; style: string; id: string }) => `**${d.subject} × ${d.style}** #${d.id}`,
  'status.unknown-error': () => `the worker gave no reason.`,
  'full.text': (d: { index: number; id: string; seed: number }) => `image ${d.index} of #${d.id} (seed ${d.seed})`,
  'export.text': (d: { subject: string; style: string; method: string }) =>
    `the ${d.method === 'direct' ? 'directly merged' : 'zipped'} LoRA of ${d.subject} × ${d.style}: use it in any tool that loads LoRAs.`,
  'stats.text': (d: { subject: string; style: string; lines: readonly string[] }) =>
    [`zip statistics of ${d.subject} × ${d.style}:`, ...d.lines.map((l) => `• ${l}`)].join('\n'),
  'stats.duration': (d: { seconds: number }) => `zipped in ${d.seconds.toFixed(1)} s`,
  'form.remix.title': (d: { id: string }) => `Remix #${d.id}`,
  'form.remix.prompt': () => 'Prompt',
  'form.remix.negative': () => 'Negative prompt',

  // Labels (cards and buttons).
  'label.cancel': () => 'Cancel',
  'label.full': (d: { index: number }) => `U${d.index}`,
  'label.variation': (d: { index: number }) => `V${d.index}`,
  'label.reroll': () => '🔄 Re-roll',
  'label.strength-down': (d: { to: number }) => `Style − (${d.to})`,
  'label.strength-up': (d: { to: number }) => `Style + (${d.to})`,
  'label.remix': () => '🎛️ Remix',
  'label.export': () => 'Export LoRA',
  'label.stats': () => 'Zip stats',
  'label.seed': () => 'Seed',
  'label.steps': () => 'Steps',
  'label.strength': () => 'Style strength',
  'label.method': () => 'Method',
  'label.size': () => 'Size',
  'label.scheduler': () => 'Scheduler',
  'label.guidance': () => 'Guidance',
  'label.negative': () => 'Negative',
  'label.parent': () => 'Remix of',
  'label.kind': () => 'Kind',
  'label.base': () => 'Base model',
  'label.triggers': () => 'Trigger words',
  'label.rating': () => 'Rating',
  'label.uses': () => 'Uses',
  'label.uploader': () => 'Uploaded by',
  'label.tags': () => 'Tags',
  'label.license': () => 'License',
  'label.base-model': (d: { base: string }) => ({ sd15: 'SD 1.5', sd2: 'SD 2.x', sdxl: 'SDXL' })[d.base] ?? d.base,
  'label.nsfw': () => 'NSFW',
  'rating.value': (d: { mean: number; count: number }) => (d.count ? `${d.mean.toFixed(1)}★ (${d.count})` : 'unrated'),

  // /bank.
  'bank.search.title': (d: { query: string | undefined; count: number; more: boolean }) =>
    d.query ? `${plural(d.count, 'LoRA')}${d.more ? '+' : ''} for “${d.query}”:` : `${plural(d.count, 'LoRA')}${d.more ? '+' : ''}:`,
  'bank.search.none': (d: { query: string | undefined }) =>
    d.query ? `nothing in the bank matches “${d.query}”.` : `the bank has no LoRAs that match yet.`,
  'bank.top.title': (d: { sort: string; kind: string | undefined }) =>
    `top ${d.kind ? `${d.kind} ` : ''}LoRAs by ${d.sort === 'rating' ? 'rating' : d.sort === 'newest' ? 'date' : 'uses'}:`,
  'bank.uploaded': (d: { name: string; kind: string; base: string }) => `added **${d.name}** (${d.kind}, ${d.base}) to the bank.`,
  'bank.upload.duplicate': (d: { name: string }) => `this file is already in the bank as **${d.name}** (same tensors); nothing was added.`,
  'bank.upload.warnings': (d: { warnings: readonly string[] }) => `notes: ${d.warnings.join('; ')}`,
  'bank.rated': (d: { name: string; stars: number; rating: string }) => `you rated **${d.name}** ${d.stars}★; it is now ${d.rating}.`,
  'bank.reported': (d: { name: string; open: number }) =>
    `thanks: **${d.name}** was reported to the moderators (${plural(d.open, 'open report')}).`,
  'bank.removed': (d: { name: string }) => `**${d.name}** was removed from the bank.`,
  'bank.removed.default-reason': () => 'removed from chat',

  // /remix history.
  'lineage.title': (d: { id: string; title: string }) => `lineage of #${d.id} (${d.title}):`,
  'lineage.root': (d: { id: string; by: string; summary: string; here: boolean }) => `#${d.id} by ${d.by}${d.here ? ' (this one)' : ''}: ${d.summary}`,
  'lineage.step': (d: { id: string; by: string; changes: string; here: boolean }) =>
    `#${d.id} by ${d.by}${d.here ? ' (this one)' : ''}: ${d.changes}`,
  'lineage.children': (d: { count: number }) => `remixed ${plural(d.count, 'time')}:`,
  'lineage.no-children': () => 'no remixes yet.',
  'lineage.same': () => 'same settings (re-run)',
  'lineage.truncated': () => '… older renders not shown',

  'error.internal': (d: { ref: string }) => `something went wrong on zipbank's side (reference ${d.ref}); the operator can find it in the logs. Try again in a moment.`,
};

type Table = typeof MESSAGES;
export type MessageCode = keyof Table;
export type MessageDetails<C extends MessageCode> = Parameters<Table[C]>;

/** The text of one message. */
export function say<C extends MessageCode>(code: C, ...details: MessageDetails<C>): string {
  return (MESSAGES[code] as (...a: MessageDetails<C>) => string)(...details);
}

/** A refusal the user reads in private: a code of this table and its details. */
export class CoreRefusal<C extends MessageCode = MessageCode> extends Error {
  readonly code: C;
  readonly details: MessageDetails<C>[0];

  constructor(code: C, ...details: MessageDetails<C>) {
    super(say(code, ...details));
    this.code = code;
    this.details = details[0];
  }

  override get name(): string {
    return `CoreRefusal[${this.code}]`;
  }
}

export function isRefusal(e: unknown, code?: MessageCode): e is CoreRefusal {
  return e instanceof CoreRefusal && (code === undefined || e.code === code);
}
