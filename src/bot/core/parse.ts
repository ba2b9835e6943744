/**
 * Slash commands typed as one line of text (Slack sends them so; the web channel
 * too): `subject:corgi style:watercolor prompt:"a corgi surfing" count:2`. Options
 * are `name:value`, with the value in double quotes (straight or curly) when it has
 * spaces; `\"` inside quotes is a quote. Bare words fill the command's positional
 * options (`/bank rate corgi 5`, `/zip subject:corgi style:watercolor a corgi surfing`).
 * The result has string values; `validateOptions` types and checks them.
 *
 * @example
 *   parseCommandLine('/zip subject:corgi style:watercolor prompt:"a corgi surfing" count:2');
 *   // { command: 'zip', options: { subject: 'corgi', style: 'watercolor', prompt: 'a corgi surfing', count: '2' } }
 *   parseCommandText('/bank', 'rate corgi 5'); // { command: 'bank rate', options: { name: 'corgi', stars: '5' } }
 */
import { COMMANDS, findCommand, findTop, type LeafCommand } from './commands.ts';
import { CoreRefusal } from './messages.ts';

export interface ParsedCommand {
  /** Leaf path: `zip`, `bank rate`. */
  command: string;
  options: Record<string, string>;
}

interface Token {
  key: string | undefined;
  value: string;
  quoted: boolean;
}

const OPEN_QUOTES = new Set(['"', '“', '„']);
const CLOSE_QUOTES = new Set(['"', '”', '“']);

function readQuoted(text: string, start: number): { value: string; end: number } {
  let out = '';
  for (let i = start + 1; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) {
      out += text[i + 1];
      i++;
    } else if (CLOSE_QUOTES.has(ch)) {
      return { value: out, end: i + 1 };
    } else {
      out += ch;
    }
  }
  throw new CoreRefusal('parse.unclosed-quote', { near: text.slice(Math.max(0, start - 12), start + 20) });
}

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i]!)) {
      i++;
      continue;
    }
    const key = /^([A-Za-z][\w-]*):/.exec(text.slice(i));
    let name: string | undefined;
    if (key) {
      name = key[1]!.toLowerCase();
      i += key[0].length;
    }
    if (i < text.length && OPEN_QUOTES.has(text[i]!)) {
      const q = readQuoted(text, i);
      tokens.push({ key: name, value: q.value, quoted: true });
      i = q.end;
      continue;
    }
    let j = i;
    while (j < text.length && !/\s/.test(text[j]!)) j++;
    tokens.push({ key: name, value: text.slice(i, j), quoted: false });
    i = j;
  }
  return tokens;
}

/** `command` is the slash command as typed (`/zip`, `bank`), `text` what followed it. */
export function parseCommandText(command: string, text: string): ParsedCommand {
  const name = command.trim().replace(/^\//, '').toLowerCase();
  const top = findTop(name);
  if (!top) throw new CoreRefusal('command.unknown', { command: name, known: COMMANDS.map((c) => c.name) });
  const tokens = tokenize(text);
  let leaf: LeafCommand | undefined;
  if (top.subcommands) {
    const subs = top.subcommands.map((s) => s.name);
    const first = tokens[0];
    if (!first || first.key !== undefined || first.quoted) throw new CoreRefusal('command.subcommand-missing', { command: top.name, subcommands: subs });
    tokens.shift();
    leaf = findCommand(`${top.name} ${first.value}`);
    if (!leaf) throw new CoreRefusal('command.subcommand-unknown', { command: top.name, sub: first.value, subcommands: subs });
  } else {
    leaf = findCommand(top.name)!;
  }
  return { command: leaf.path, options: assign(leaf, tokens) };
}

/** A whole line: `/zip subject:corgi ...`. */
export function parseCommandLine(line: string): ParsedCommand {
  const m = /^\s*\/?(\S+)\s*([\s\S]*)$/.exec(line);
  if (!m) throw new CoreRefusal('command.unknown', { command: '', known: COMMANDS.map((c) => c.name) });
  return parseCommandText(m[1]!, m[2]!);
}

function assign(leaf: LeafCommand, tokens: Token[]): Record<string, string> {
  const names = leaf.options.map((o) => o.name);
  const out: Record<string, string> = {};
  const bare: Token[] = [];
  for (const t of tokens) {
    if (t.key === undefined) {
      bare.push(t);
      continue;
    }
    if (!names.includes(t.key)) throw new CoreRefusal('option.unknown', { command: leaf.path, option: t.key, allowed: names });
    if (t.key in out) throw new CoreRefusal('option.duplicate', { option: t.key });
    out[t.key] = t.value;
  }
  const slots = (leaf.positional ?? []).filter((p) => !(p in out));
  for (const [k, slot] of slots.entries()) {
    if (bare.length === 0) break;
    const def = leaf.options.find((o) => o.name === slot)!;
    const last = k === slots.length - 1;
    out[slot] = last && def.type === 'string' ? bare.splice(0).map((t) => t.value).join(' ') : bare.shift()!.value;
  }
  if (bare.length > 0) throw new CoreRefusal('parse.extra-text', { command: leaf.path, text: bare.map((t) => t.value).join(' ').slice(0, 80) });
  return out;
}
