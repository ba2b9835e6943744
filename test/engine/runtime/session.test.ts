import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder, add, decodeModel, encodeModel } from '../../../src/engine/onnx/index.ts';
import {
  SESSION_DEFAULTS,
  SessionCache,
  asFloat32,
  createSession,
  modelKey,
  run,
  tensor,
  zeros,
  type Feeds,
  type ModelSource,
  type Session,
} from '../../../src/engine/runtime/index.ts';
import { floatToHalf } from '../../../src/engine/weights/dtype.ts';
import { isZipbankError, type ErrorCode } from '../../../src/errors/index.ts';

const FIXTURE = fileURLToPath(new URL('../../../../shared/fixtures/onnx/ddpm_mnist_unet_batch8_Andrew2077.onnx', import.meta.url));
const NAME = 'ddpm_mnist_unet_batch8_Andrew2077.onnx';

function feeds(timesteps: number[]): Feeds {
  const x = Float32Array.from({ length: 8 * 28 * 28 }, (_, i) => Math.sin(i * 0.37));
  return {
    input: tensor('float32', x, [8, 1, 28, 28]),
    'input.1': tensor('int64', BigInt64Array.from(timesteps, BigInt), [8, 1]),
  };
}

const T = [0, 1, 5, 17, 50, 77, 98, 99];

async function expectCode(p: Promise<unknown>, code: ErrorCode, ...texts: string[]): Promise<Error> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(isZipbankError(e, code), String(e)).toBe(true);
  for (const t of texts) expect((e as Error).message).toContain(t);
  return e as Error;
}

describe('the real DDPM UNet fixture', () => {
  let session: Session;
  beforeAll(async () => {
    session = await createSession({ path: FIXTURE }, { provider: 'cpu', intraOpThreads: 1 });
  });
  afterAll(async () => {
    await session.dispose();
  });

  it('loads with its inputs and outputs', () => {
    expect(session.name).toBe(NAME);
    expect(session.provider).toBe('cpu');
    expect(session.inputs).toEqual([
      { name: 'input', dtype: 'float32', shape: [8, 1, 28, 28] },
      { name: 'input.1', dtype: 'int64', shape: [8, 1] },
    ]);
    expect(session.outputs).toEqual([{ name: 'output', dtype: 'float32', shape: [8, 1, 28, 28] }]);
  });

  it('runs, deterministically', async () => {
    const a = await session.run(feeds(T));
    const b = await run(session, feeds(T), ['output']);
    expect(a.output!.dims).toEqual([8, 1, 28, 28]);
    const out = asFloat32(a.output!);
    expect(out.every(Number.isFinite)).toBe(true);
    expect(out.some((v) => v !== 0)).toBe(true);
    expect(Buffer.compare(Buffer.from(out.buffer), Buffer.from(asFloat32(b.output!).buffer))).toBe(0);
  });

  it('gives identical outputs after decodeModel -> encodeModel', async () => {
    const copy = encodeModel(decodeModel(readFileSync(FIXTURE)));
    const other = await createSession({ bytes: copy, name: 'round-trip' }, { provider: 'cpu', intraOpThreads: 1 });
    try {
      const [a, b] = [await session.run(feeds(T)), await other.run(feeds(T))];
      const x = asFloat32(a.output!);
      const y = asFloat32(b.output!);
      let maxDiff = 0;
      for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x[i]! - y[i]!));
      expect(maxDiff).toBeLessThanOrEqual(1e-6);
    } finally {
      await other.dispose();
    }
  });

  it('reports a timestep of 100 as a coded failure inside the model, and keeps working', async () => {
    const e = await expectCode(session.run(feeds([0, 1, 2, 3, 4, 5, 6, 100])), 'runtime.run-failed', NAME, 'Gather', 'idx=100');
    expect((e as unknown as { details: Record<string, unknown> }).details).toMatchObject({ model: NAME, provider: 'cpu', op: 'Gather', node: '/time_embed/Gather' });
    expect((await session.run(feeds(T))).output!.dims).toEqual([8, 1, 28, 28]);
  });

  it.each<{ name: string; feeds: () => Feeds; code: ErrorCode; text: string }>([
    { name: 'a missing input', feeds: () => ({ input: feeds(T).input! }), code: 'runtime.bad-input', text: 'not fed' },
    { name: 'a wrong dtype', feeds: () => ({ ...feeds(T), 'input.1': zeros('int32', [8, 1]) }), code: 'runtime.bad-input', text: 'int32' },
    { name: 'a wrong shape', feeds: () => ({ ...feeds(T), input: zeros('float32', [4, 1, 28, 28]) }), code: 'runtime.bad-input', text: '[4, 1, 28, 28]' },
    { name: 'an unknown input', feeds: () => ({ ...feeds(T), extra: zeros('float32', [1]) }), code: 'runtime.unknown-name', text: 'extra' },
  ])('refuses $name before running', async ({ feeds: f, code, text }) => {
    await expectCode(session.run(f()), code, NAME, text);
  });

  it('refuses an unknown output name', async () => {
    await expectCode(session.run(feeds(T), ['nope']), 'runtime.unknown-name', 'output');
  });
});

describe('createSession', () => {
  it('fails with a coded error for a missing file', async () => {
    await expectCode(createSession({ path: '/nonexistent/model.onnx' }, { provider: 'cpu' }), 'runtime.session-failed', 'model.onnx', 'cpu');
  });

  it('takes options (optimisation off, no memory pattern or arena)', async () => {
    const g = new GraphBuilder('opts');
    g.output(add(g.input('x', 'float32', ['n']), 1), 'y');
    const s = await createSession({ model: g.build(), name: 'opts' }, { provider: 'cpu', optimization: 'disabled', memoryPattern: false, cpuArena: false });
    expect(s.inputs[0]!.shape).toEqual(['n']);
    expect(Array.from(asFloat32((await s.run({ x: tensor('float32', new Float32Array([1, 2, 3]), [3]) })).y!))).toEqual([2, 3, 4]);
    await s.dispose();
    expect(SESSION_DEFAULTS.optimization).toBe('all');
  });
});

describe('SessionCache', () => {
  const g = new GraphBuilder('cached');
  g.output(add(g.input('x', 'float32', [2]), 1), 'y');
  const built = g.build();

  it.each<{ name: string; a: ModelSource; b: ModelSource; same: boolean }>([
    { name: 'the same file', a: { path: FIXTURE }, b: { path: FIXTURE }, same: true },
    { name: 'equal bytes', a: { bytes: encodeModel(built), name: 'm' }, b: { bytes: encodeModel(built), name: 'm' }, same: true },
    { name: 'a built model and its bytes', a: { model: built, name: 'm' }, b: { bytes: encodeModel(built), name: 'm' }, same: true },
    { name: 'other external-data folders', a: { model: built, name: 'm', externalDataDir: '/a' }, b: { model: built, name: 'm', externalDataDir: '/b' }, same: false },
  ])('shares one session for $name: $same', async ({ a, b, same }) => {
    let created = 0;
    const cache = new SessionCache(async (source, options) => {
      created++;
      return createSession(source, options);
    });
    const [s1, s2] = await Promise.all([cache.get(a, { provider: 'cpu' }), cache.get(b, { provider: 'cpu' })]);
    expect(s1 === s2).toBe(same);
    expect(created).toBe(same ? 1 : 2);
    expect(await cache.get(a, { provider: 'cpu' })).toBe(s1);
    expect(cache.size).toBe(created);
    await cache.clear();
    expect(cache.size).toBe(0);
  });

  it('keys on options too, and forgets failed loads', async () => {
    expect(await modelKey({ model: built, name: 'm' }, { provider: 'cpu' })).not.toBe(await modelKey({ model: built, name: 'm' }, { provider: 'cpu', intraOpThreads: 1 }));
    expect(await modelKey({ model: built, name: 'm' }, { provider: 'cpu', intraOpThreads: 1, optimization: 'all' })).toBe(
      await modelKey({ model: built, name: 'm' }, { optimization: 'all', intraOpThreads: 1, provider: 'cpu' }),
    );
    const cache = new SessionCache();
    await expectCode(cache.get({ path: '/nonexistent.onnx' }, { provider: 'cpu' }), 'runtime.session-failed');
    expect(cache.size).toBe(0);
  });
});

describe('host tensors', () => {
  it('checks array type and length', () => {
    expect(() => tensor('float32', new Float32Array(3), [2, 2])).toThrow(/needs a Float32Array of 4/);
    expect(() => tensor('int64', new Float32Array(2) as never, [2])).toThrow(/BigInt64Array/);
    expect(zeros('bool', [2, 3]).data).toBeInstanceOf(Uint8Array);
  });

  it.each([
    { name: 'float16', t: () => tensor('float16', Uint16Array.from([1, -2.5], floatToHalf), [2]), values: [1, -2.5] },
    { name: 'int64', t: () => tensor('int64', BigInt64Array.from([3n, -4n]), [2]), values: [3, -4] },
    { name: 'uint8', t: () => tensor('uint8', Uint8Array.from([7, 255]), [2]), values: [7, 255] },
  ])('reads $name as Float32Array', ({ t, values }) => {
    expect(Array.from(asFloat32(t()))).toEqual(values);
  });

  it('passes float16 through a session', async () => {
    const g = new GraphBuilder('half');
    g.output(add(g.input('x', 'float16', [2]), 1), 'y');
    const s = await createSession({ model: g.build(), name: 'half' }, { provider: 'cpu' });
    const out = await s.run({ x: tensor('float16', Uint16Array.from([1, -2.5], floatToHalf), [2]) });
    expect(out.y!.dtype).toBe('float16');
    expect(Array.from(asFloat32(out.y!))).toEqual([2, -1.5]);
    await s.dispose();
  });
});
