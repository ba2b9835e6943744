import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { fixture } from '../../support/paths.ts';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('zipbank bank (CLI, embedded PGlite on disk)', () => {
  beforeAll(() => {
    process.env.ZIPBANK_DATA_DIR = mkdtempSync(join(tmpdir(), 'zb-cli-'));
    delete process.env.DATABASE_URL;
  });

  it('adds, then finds the entry again in a later invocation (data persists)', async () => {
    const add = await run(
      'bank', 'add', fixture('lora', 'sd15_diffusers-unetprefix_flower_Hirvita6.safetensors'),
      '--name', 'flower', '--kind', 'style', '--tags', 'flowers,botanical', '--description', 'soft pastel flowers',
    );
    expect(add.err).toBe('');
    expect(add.out).toMatch(/added "flower": style, sd15, diffusers, 128 modules, rank 4/);
    const again = await run('bank', 'add', fixture('lora', 'sd15_diffusers-unetprefix_flower_Hirvita6.safetensors'), '--name', 'flower2', '--kind', 'style');
    expect(again.out).toMatch(/already in the bank as "flower"/);

    const search = await run('bank', 'search', 'botan');
    expect(search.code).toBe(0);
    expect(search.out).toMatch(/^flower\s+style\s+sd15/m);
    const show = await run('bank', 'show', 'flower', '--json');
    expect(JSON.parse(show.out).lora).toMatchObject({ name: 'flower', tags: ['flowers', 'botanical'] });
    const ac = await run('bank', 'autocomplete', 'fl', '--json');
    expect(JSON.parse(ac.out)).toEqual([{ name: 'flower', displayName: 'flower', kind: 'style', baseModel: 'sd15' }]);
  });

  it('rates as another user, refuses a stranger removing, lets the operator remove', async () => {
    expect((await run('bank', 'rate', 'flower', '4', '--as', 'discord:42')).out).toMatch(/rated "flower" 4★; now 4\.0★ \(1\)/);
    const denied = await run('bank', 'remove', 'flower', '--as', 'discord:42');
    expect(denied.code).toBe(1);
    expect(denied.err).toMatch(/only its uploader or a moderator/);
    expect((await run('bank', 'remove', 'flower', '--reason', 'test')).out).toMatch(/removed "flower"/);
    expect((await run('bank', 'show', 'flower')).err).toMatch(/no LoRA named "flower"/);
  });

  it('explains refusals and usage errors', async () => {
    const bad = await run('bank', 'add', fixture('lora', 'NEGATIVE_flux_aitoolkit_peft_leighwoods.safetensors'), '--name', 'flux', '--kind', 'style');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/Flux/i);
    const usage = await run('bank', 'add', 'x.safetensors', '--kind', 'subject');
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/needs --name/);
    const kind = await run('bank', 'list', '--kind', 'dog');
    expect(kind.code).toBe(2);
    expect(kind.err).toMatch(/--kind must be one of subject, style, other/);
  });
});
