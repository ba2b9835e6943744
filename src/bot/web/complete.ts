/**
 * Autocomplete for a command line being typed in the web channel, at the cursor:
 * command names after `/`, subcommands after `/bank `, option names (`subject:`)
 * in a bare word, and option values: bank entries from `BotCore.autocomplete`
 * (which narrows a style to the subject's base model, and the other way round),
 * an option's fixed choices, or true/false. Answers the text range to replace
 * and what to put there, so the page only splices strings.
 *
 * @example
 *   const c = await completeLine(core, ctx, '/zip subject:co', 15);
 *   // { start: 5, end: 15, items: [{ label: 'corgi · SD 1.5', insert: 'subject:corgi ', detail: 'subject' }], hint: ... }
 */
import { LEAVES, findCommand, type LeafCommand, type OptionDef } from '../core/index.ts';
import { findTop } from '../core/commands.ts';
import type { BotCore, InteractionContext } from '../core/index.ts';

export interface CompletionItem {
  /** What the list shows. */
  label: string;
  /** What replaces text[start, end). */
  insert: string;
  detail?: string;
}

export interface Completion {
  start: number;
  end: number;
  items: CompletionItem[];
  /** A line about the option being typed (its description), when there is one. */
  hint?: string;
}

interface Token {
  start: number;
  end: number;
  key: string | undefined;
  /** Where the value starts (after `key:` and an opening quote). */
  valueStart: number;
  value: string;
  /** A quote was opened and not closed. */
  open: boolean;
}

const MAX_ITEMS = 25;
const QUOTES = new Set(['"', '“', '„']);
const CLOSERS = new Set(['"', '”', '“']);

/** Tokens of `text` from `from`, as the command parser reads them (name:value, quotes). */
function scan(text: string, from: number): Token[] {
  const out: Token[] = [];
  let i = from;
  while (i < text.length) {
    if (/\s/.test(text[i]!)) {
      i++;
      continue;
    }
    const start = i;
    const m = /^([A-Za-z][\w-]*):/.exec(text.slice(i));
    const key = m ? m[1]!.toLowerCase() : undefined;
    if (m) i += m[0].length;
    if (i < text.length && QUOTES.has(text[i]!)) {
      let j = i + 1;
      let value = '';
      while (j < text.length && !CLOSERS.has(text[j]!)) {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        value += text[j];
        j++;
      }
      const open = j >= text.length;
      out.push({ start, end: open ? j : j + 1, key, valueStart: i + 1, value, open });
      i = open ? j : j + 1;
      continue;
    }
    let j = i;
    while (j < text.length && !/\s/.test(text[j]!)) j++;
    out.push({ start, end: j, key, valueStart: i, value: text.slice(i, j), open: false });
    i = j;
  }
  return out;
}

const quote = (v: string) => (/[\s"]/.test(v) || v === '' ? `"${v.replace(/"/g, '\\"')}"` : v);

function optionItems(leaf: LeafCommand, used: Set<string>, prefix: string): CompletionItem[] {
  const p = prefix.toLowerCase();
  return leaf.options
    .filter((o) => !used.has(o.name) && o.name.startsWith(p))
    .sort((a, b) => Number(!!b.required) - Number(!!a.required))
    .map((o) => ({ label: `${o.name}:`, insert: `${o.name}:`, detail: `${o.description}${o.required ? ' (required)' : ''}` }));
}

function fixedChoices(def: OptionDef, typed: string): CompletionItem[] {
  const values = def.choices?.map((c) => c.value) ?? (def.type === 'boolean' ? ['true', 'false'] : []);
  const p = typed.toLowerCase();
  return values.filter((v) => v.toLowerCase().startsWith(p)).map((v) => ({ label: v, insert: `${def.name}:${quote(v)} ` }));
}

export async function completeLine(core: Pick<BotCore, 'autocomplete'>, ctx: InteractionContext, text: string, cursor: number): Promise<Completion> {
  const at = Math.max(0, Math.min(cursor, text.length));
  const before = text.slice(0, at);
  const none: Completion = { start: at, end: at, items: [] };
  if (!before.startsWith('/')) return none;

  // `/zi` or `/bank` (no space yet): command names.
  const word = /^\/(\S*)$/.exec(before);
  if (word) {
    const typed = word[1]!.toLowerCase();
    const end = at + (/^\S*/.exec(text.slice(at))?.[0].length ?? 0);
    const items = [...LEAVES.values()]
      .filter((l) => l.path.startsWith(typed))
      .map((l) => ({ label: `/${l.path}`, insert: `/${l.path} `, detail: l.description }));
    return { start: 0, end, items: items.slice(0, MAX_ITEMS) };
  }

  const head = /^\/(\S+)(\s+)/.exec(before)!;
  const top = findTop(head[1]!);
  if (!top) return none;
  let leaf: LeafCommand | undefined;
  let restFrom = head[0].length;
  if (top.subcommands) {
    const sub = /^(\S*)(\s*)/.exec(before.slice(restFrom))!;
    if (!sub[2] || restFrom + sub[0].length > at) {
      // Still typing the subcommand.
      const typed = sub[1]!.toLowerCase();
      const end = restFrom + (/^\S*/.exec(text.slice(restFrom))?.[0].length ?? 0);
      const items = top.subcommands
        .filter((s) => s.name.startsWith(typed))
        .map((s) => ({ label: `/${top.name} ${s.name}`, insert: `/${top.name} ${s.name} `, detail: s.description }));
      return { start: 0, end, items };
    }
    leaf = findCommand(`${top.name} ${sub[1]}`);
    restFrom += sub[0].length;
  } else {
    leaf = findCommand(top.name);
  }
  if (!leaf) return none;

  const tokens = scan(text, restFrom);
  const current = tokens.find((t) => t.start < at && (at <= t.end || t.open)) ?? tokens.find((t) => t.start === at);
  const others: Record<string, string> = {};
  const used = new Set<string>();
  for (const t of tokens) {
    if (t === current || !t.key) continue;
    used.add(t.key);
    others[t.key] = t.value;
  }
  const keyEnd = current?.key ? current.start + current.key.length + 1 : -1;
  if (!current || !current.key || at < keyEnd) {
    // A bare word, an option name being edited, or nothing yet: option names.
    const typed = current ? text.slice(current.start, at) : '';
    const start = current ? current.start : at;
    const end = current ? (current.key ? keyEnd : current.end) : at;
    const names = optionItems(leaf, used, typed);
    // A bare word fills the next positional option (`/bank show corgi`): offer its values too.
    const bareBefore = tokens.filter((t) => t !== current && !t.key && t.start < start).length;
    const slot = current?.key ? undefined : (leaf.positional ?? []).filter((p) => !used.has(p))[bareBefore];
    const def = slot ? leaf.options.find((o) => o.name === slot) : undefined;
    if (def?.autocomplete && typed) {
      const choices = await core.autocomplete({ ...ctx, command: leaf.path, option: def.name, value: typed, options: others });
      const values = choices.slice(0, MAX_ITEMS).map((c) => ({ label: c.name, insert: `${quote(c.value)} `, detail: def.name }));
      return { start, end, items: [...values, ...names].slice(0, MAX_ITEMS) };
    }
    return { start, end, items: names };
  }
  const def = leaf.options.find((o) => o.name === current.key);
  if (!def) return { start: current.start, end: current.end, items: optionItems(leaf, used, current.key) };
  const typed = text.slice(current.valueStart, Math.max(current.valueStart, at));
  const hint = `${def.name}: ${def.description}${def.required ? ' (required)' : ''}`;
  const range = { start: current.start, end: current.end };
  if (def.autocomplete) {
    const choices = await core.autocomplete({ ...ctx, command: leaf.path, option: def.name, value: typed, options: others });
    return { ...range, hint, items: choices.slice(0, MAX_ITEMS).map((c) => ({ label: c.name, insert: `${def.name}:${quote(c.value)} `, detail: def.name })) };
  }
  return { ...range, hint, items: fixedChoices(def, typed) };
}

