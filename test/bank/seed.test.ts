/** seedBank (src/bank/seed.ts): a manifest of world LoRAs registered once, with prompts, triggers and references; removals stick; retrained files replace seeded entries; bad manifests refused. */
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedBank } from '../../src/bank/seed.ts';
import { CLI_ACTOR } from '../../src/bank/actor.ts';
import { encodeImage } from '../../src/engine/image/index.ts';
import { randomLora } from '../../src/engine/lora/random.ts';
import { writeLora } from '../../src/engine/lora/write.ts';
import { isZipbankError } from '../../src/errors/index.ts';
import { renderScene } from '../../src/world/render.ts';
import { sampleScene } from '../../src/world/scene.ts';
import { openTestBank, type TestBank } from '../support/bank.ts';

describe('seedBank', () => {
  let t: TestBank;
  let dir: string;
  beforeAll(async () => {
    t = await openTestBank('pglite', '');
    dir = await mkdtemp(join(tmpdir(), 'zb-seed-'));
    await mkdir(join(dir, 'corgi.references'));
    const entries = [];
    for (const [k, [name, kind]] of ([['corgi', 'subject'], ['watercolor', 'style']] as const).entries()) {
      await writeLora(join(dir, `${name}.safetensors`), randomLora({ family: 'world', rank: 2, seed: 10 + k }), 'kohya');
      entries.push({ name, kind, displayName: name.toUpperCase(), description: `the ${name}`, tags: ['world'], instancePrompt: `prompt of ${name}`, triggerWords: [`${name} words`], file: `${name}.safetensors`, references: [] as { file: string; prompt: string }[] });
    }
    for (const i of [1, 2]) {
      await writeFile(join(dir, 'corgi.references', `${i}.png`), await encodeImage(await renderScene(sampleScene(i, { instanceId: 'corgi', split: 'all' }), 64)));
      entries[0]!.references.push({ file: `corgi.references/${i}.png`, prompt: `a sks dog ${i}` });
    }
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ model: 'world', loras: entries }));
  });
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('registers every entry as a world LoRA with its prompt, triggers and reference images, once', async () => {
    const r = await seedBank(t.bank, dir);
    expect(r).toEqual({ added: ['corgi', 'watercolor'], updated: [], present: [], alreadySeeded: false });
    const corgi = await t.bank.show('corgi');
    expect(corgi.lora).toMatchObject({ kind: 'subject', baseModel: 'world', displayName: 'CORGI', instancePrompt: 'prompt of corgi', triggerWords: ['corgi words'], uploaderId: 'seed' });
    expect(corgi.images.map((i) => i.prompt)).toEqual(['a sks dog 1', 'a sks dog 2']);
    expect((await t.bank.show('watercolor')).lora).toMatchObject({ kind: 'style', baseModel: 'world' });
    expect(await seedBank(t.bank, dir)).toEqual({ added: [], updated: [], present: [], alreadySeeded: true });
  });

  it('does not bring back a removed LoRA on the next start; a changed manifest adds only missing names', async () => {
    await t.bank.remove('watercolor', CLI_ACTOR, 'test');
    expect((await seedBank(t.bank, dir)).alreadySeeded).toBe(true);
    expect(await t.bank.find('watercolor')).toBeUndefined();
    // A new manifest version (an extra field): corgi is present; watercolor's tensors are in the bank (removed): not re-added.
    const m = JSON.parse(await (await import('node:fs/promises')).readFile(join(dir, 'manifest.json'), 'utf8'));
    m.createdAt = 'later';
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(m));
    expect(await seedBank(t.bank, dir)).toEqual({ added: [], updated: [], present: ['corgi', 'watercolor'], alreadySeeded: false });
    expect(await t.bank.find('watercolor')).toBeUndefined();
  });

  it('replaces seeded LoRAs whose file changed, keeps the old row, and leaves removed or user-owned names alone', async () => {
    const fs = await import('node:fs/promises');
    const m = JSON.parse(await fs.readFile(join(dir, 'manifest.json'), 'utf8'));
    const before = (await t.bank.find('corgi'))!;
    // Retrained files: corgi (seeded, live) is replaced; watercolor stays removed (a moderator's act).
    await writeLora(join(dir, 'corgi.safetensors'), randomLora({ family: 'world', rank: 2, seed: 30 }), 'kohya');
    await writeLora(join(dir, 'watercolor.safetensors'), randomLora({ family: 'world', rank: 2, seed: 31 }), 'kohya');
    m.createdAt = 'retrained';
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(m));
    expect(await seedBank(t.bank, dir)).toEqual({ added: [], updated: ['corgi'], present: ['watercolor'], alreadySeeded: false });
    const after = (await t.bank.show('corgi')).lora;
    expect(after.id).not.toBe(before.id);
    expect(after.fileSha256).not.toBe(before.fileSha256);
    expect(after).toMatchObject({ instancePrompt: 'prompt of corgi', uploaderId: 'seed' });
    expect((await t.bank.lorasById([before.id])).get(before.id)).toMatchObject({ status: 'removed', statusReason: expect.stringMatching(/newer seeded version/) });
    expect(await t.bank.find('watercolor')).toBeUndefined();
    // A name now held by a user's upload is never replaced.
    await t.bank.remove('corgi', CLI_ACTOR, 'make room');
    await writeLora(join(dir, 'mine.safetensors'), randomLora({ family: 'world', rank: 2, seed: 32 }), 'kohya');
    await t.bank.add({ file: join(dir, 'mine.safetensors'), fileName: 'mine.safetensors', name: 'corgi', kind: 'subject', uploader: { platform: 'web', userId: 'u1' } });
    await writeLora(join(dir, 'corgi.safetensors'), randomLora({ family: 'world', rank: 2, seed: 33 }), 'kohya');
    m.createdAt = 'retrained again';
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(m));
    expect(await seedBank(t.bank, dir)).toEqual({ added: [], updated: [], present: ['corgi', 'watercolor'], alreadySeeded: false });
    expect((await t.bank.find('corgi'))!.uploaderId).toBe('u1');
  });

  it('keeps the old seeded entry when its replacement duplicates another LoRA', async () => {
    const d2 = await mkdtemp(join(tmpdir(), 'zb-seed-2-'));
    await writeLora(join(d2, 'pot.safetensors'), randomLora({ family: 'world', rank: 2, seed: 40 }), 'kohya');
    const m = { model: 'world', loras: [{ name: 'pot', kind: 'subject', file: 'pot.safetensors' }] };
    await writeFile(join(d2, 'manifest.json'), JSON.stringify(m));
    expect((await seedBank(t.bank, d2)).added).toEqual(['pot']);
    const before = (await t.bank.find('pot'))!;
    // The "retrained" file holds the same tensors as the user's live corgi.
    await writeFile(join(d2, 'pot.safetensors'), await (await import('node:fs/promises')).readFile(join(dir, 'mine.safetensors')));
    await writeFile(join(d2, 'manifest.json'), JSON.stringify({ ...m, createdAt: 'later' }));
    expect(await seedBank(t.bank, d2)).toMatchObject({ added: [], updated: [], present: ['pot'] });
    expect((await t.bank.find('pot'))?.id).toBe(before.id);
    await rm(d2, { recursive: true, force: true });
  });

  it('refuses a missing folder, a broken manifest and a missing file with what to do', async () => {
    const err = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
    const missing = await err(seedBank(t.bank, join(dir, 'nope')));
    expect(isZipbankError(missing) && missing.code).toBe('bank.seed-missing');
    expect(String((missing as Error).message)).toMatch(/train:seeds/);
    const bad = await mkdtemp(join(tmpdir(), 'zb-seed-bad-'));
    await writeFile(join(bad, 'manifest.json'), '{"loras": 3}');
    expect(await err(seedBank(t.bank, bad))).toMatchObject({ code: 'bank.seed-invalid' });
    await writeFile(join(bad, 'manifest.json'), JSON.stringify({ loras: [{ name: 'ghost', kind: 'style', file: 'ghost.safetensors' }] }));
    expect(await err(seedBank(t.bank, bad))).toMatchObject({ code: 'bank.seed-missing' });
    expect(await t.bank.find('ghost')).toBeUndefined();
    await rm(bad, { recursive: true, force: true });
  });
});
