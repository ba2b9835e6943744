/** Slack-style command text and option validation: what parses to what, and what each refusal says. */
import { describe, expect, it } from 'vitest';
import { findCommand } from '../../../src/bot/core/commands.ts';
import { isRefusal, type MessageCode } from '../../../src/bot/core/messages.ts';
import { validateOptions } from '../../../src/bot/core/options.ts';
import { parseCommandLine, parseCommandText } from '../../../src/bot/core/parse.ts';

function refusal(f: () => unknown): { code: MessageCode; message: string } {
  try {
    f();
  } catch (e) {
    if (isRefusal(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a refusal');
}

/** Parse then validate, as the core does for Slack. */
const typed = (line: string) => {
  const p = parseCommandLine(line);
  return { command: p.command, options: validateOptions(findCommand(p.command)!, p.options) };
};

describe('parseCommandLine', () => {
  it.each([
    [
      '/zip subject:corgi style:watercolor prompt:"a corgi surfing" count:2',
      'zip',
      { subject: 'corgi', style: 'watercolor', prompt: 'a corgi surfing', count: 2 },
    ],
    [
      'zip subject:corgi style:watercolor a corgi   surfing at sunset',
      'zip',
      { subject: 'corgi', style: 'watercolor', prompt: 'a corgi surfing at sunset' },
    ],
    [
      '/zip Subject:corgi STYLE:watercolor prompt:“a corgi, surfing” strength:0.5 seed:7 method:DIRECT steps:10 negative:"blurry, \\"bad\\""',
      'zip',
      { subject: 'corgi', style: 'watercolor', prompt: 'a corgi, surfing', strength: 0.5, seed: 7, method: 'direct', steps: 10, negative: 'blurry, "bad"' },
    ],
    ['/zip prompt:"a: b" subject:c1 style:s1', 'zip', { prompt: 'a: b', subject: 'c1', style: 's1' }],
    ['/bank rate corgi 5', 'bank rate', { name: 'corgi', stars: 5 }],
    ['/bank report corgi spam it is an ad for a shop', 'bank report', { name: 'corgi', reason: 'spam', details: 'it is an ad for a shop' }],
    ['/bank search water color kind:style', 'bank search', { query: 'water color', kind: 'style' }],
    ['/bank search', 'bank search', {}],
    ['/bank top kind:subject sort:rating', 'bank top', { kind: 'subject', sort: 'rating' }],
    ['/bank remove corgi duplicate of corgi2', 'bank remove', { name: 'corgi', reason: 'duplicate of corgi2' }],
    ['/remix history #1a2b3c4d', 'remix history', { render: '#1a2b3c4d' }],
  ])('%s', (line, command, options) => {
    expect(typed(line)).toEqual({ command, options });
  });

  it('takes the command and its text separately (Slack)', () => {
    expect(parseCommandText('/bank', 'show corgi')).toEqual({ command: 'bank show', options: { name: 'corgi' } });
    expect(parseCommandText('zip', '')).toEqual({ command: 'zip', options: {} });
  });
});

describe('refusals say which option and what is allowed', () => {
  it.each<[string, MessageCode, string[]]>([
    ['/paint x', 'command.unknown', ['/paint', '/zip', '/bank', '/remix']],
    ['/bank', 'command.subcommand-missing', ['search', 'upload', 'remove']],
    ['/bank delete corgi', 'command.subcommand-unknown', ['/bank delete', 'search', 'remove']],
    ['/zip subject:a style:b prompt:c colour:red', 'option.unknown', ['colour', 'subject', 'method', 'quotes']],
    ['/zip subject:a subject:b style:c prompt:d', 'option.duplicate', ['subject']],
    ['/zip subject:a style:b', 'option.missing', ['prompt', 'what to draw']],
    ['/zip style:b prompt:x', 'option.missing', ['subject']],
    ['/zip subject:a style:b prompt:c count:5', 'option.range', ['count', '1 to 4', '5']],
    ['/zip subject:a style:b prompt:c count:two', 'option.type', ['count', 'whole number', 'two']],
    ['/zip subject:a style:b prompt:c count:1.5', 'option.type', ['count', 'whole number']],
    ['/zip subject:a style:b prompt:c strength:1.2', 'option.range', ['strength', '0 to 1', '1.2']],
    ['/zip subject:a style:b prompt:c strength:lots', 'option.type', ['strength', 'a number']],
    ['/zip subject:a style:b prompt:c seed:-1', 'option.range', ['seed', '0 to 4294967295']],
    ['/zip subject:a style:b prompt:c method:magic', 'option.choice', ['method', '`ziplora`', '`direct`', 'magic']],
    ['/zip subject:a style:b prompt:"never closed', 'parse.unclosed-quote', ['never closed']],
    [`/zip subject:a style:b prompt:"${'x'.repeat(1001)}"`, 'option.length', ['prompt', '1001', 'at most 1000']],
    ['/zip subject:a style:b prompt:""', 'option.length', ['prompt', 'at least 1']],
    ['/bank rate corgi 5 extra', 'parse.extra-text', ['extra', 'name:value']],
    ['/bank rate corgi 6', 'option.range', ['stars', '1 to 5']],
    ['/bank report corgi rude', 'option.choice', ['reason', 'spam', 'copyright']],
    ['/bank upload name:corgi kind:subject', 'option.missing', ['file']],
    ['/bank upload file:x.safetensors name:corgi kind:subject', 'option.type', ['file', 'attached file']],
  ])('%s -> %s', (line, code, says) => {
    const r = refusal(() => typed(line));
    expect(r.code).toBe(code);
    for (const s of says) expect(r.message).toContain(s);
  });

  it('types values from platforms that send them typed (Discord)', () => {
    const def = findCommand('bank upload')!;
    const data = new Uint8Array([1, 2, 3]);
    expect(validateOptions(def, { file: { filename: 'a.safetensors', data }, name: 'x1', kind: 'Style', nsfw: 'yes' })).toEqual({
      file: { filename: 'a.safetensors', data },
      name: 'x1',
      kind: 'style',
      nsfw: true,
    });
    expect(refusal(() => validateOptions(def, { file: { filename: 'a', data }, name: 'x1', kind: 'style', nsfw: 'maybe' })).code).toBe('option.type');
    expect(refusal(() => validateOptions(findCommand('zip')!, { subject: 'a', style: 'b', prompt: 'c', count: 2.5 })).code).toBe('option.type');
  });
});
