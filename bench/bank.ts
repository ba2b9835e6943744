/**
 * npm run bench:bank
 * - 100,000 LoRA rows in real PostgreSQL: p50/p95 of text search and autocomplete
 *   (targets: search p95 < 20 ms, autocomplete p95 < 10 ms).
 * - Validating + hashing a 200 MB safetensors file: time and peak memory, measured
 *   in a child process against the same child doing nothing (bounded, not ~file size).
 * PostgreSQL: BENCH_DATABASE_URL, else a throwaway local server (initdb + pg_ctl).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, openSync, writeSync, closeSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sql } from 'drizzle-orm';
import { openDatabase, queryRows } from '../src/bank/db.ts';
import { Bank } from '../src/bank/index.ts';
import { LocalFileStore } from '../src/bank/storage.ts';
import { loras, type NewLora } from '../src/bank/schema.ts';
import { keywordsOf } from '../src/bank/upload.ts';
import { startTempPostgres } from '../test/support/postgres.ts';
import { freshPostgresDatabase } from '../test/support/bank.ts';
import { rng, summarize } from './support/stats.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const FILE_MB = Number(process.env.BENCH_FILE_MB ?? 200);
const rand = rng(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
// Zipf-ish choice: common words are much more common, as in real tags and text.
const zipf = <T>(xs: readonly T[]): T => xs[Math.floor(xs.length * rand() ** 3)]!;

const SUBJECTS = ['corgi', 'cat', 'teapot', 'rocket', 'house', 'tree', 'car', 'fish', 'dragon', 'robot', 'plush', 'owl', 'fox', 'horse', 'castle', 'ship', 'girl', 'knight', 'wizard', 'panda'];
const STYLES = ['watercolor', 'pixel', 'neon', 'poster', 'pencil', 'stained-glass', 'woodcut', 'mosaic', 'oil', 'anime', 'ink', 'lowpoly', 'claymation', 'vaporwave', 'ukiyo-e', 'charcoal', 'pastel', 'cyberpunk', 'gouache', 'sketch'];
const ADJ = ['soft', 'bold', 'tiny', 'giant', 'golden', 'dark', 'bright', 'vintage', 'retro', 'dreamy', 'sharp', 'fuzzy', 'red', 'blue', 'green', 'misty', 'glossy', 'matte', 'crisp', 'warm'];
const WORDS = Array.from({ length: 3000 }, (_, i) => {
  const syll = ['ka', 'lo', 'mi', 'ren', 'ta', 'sho', 'vel', 'dor', 'qui', 'zan', 'pe', 'ru', 'ny', 'gha', 'sel'];
  let w = '';
  let x = i + 7;
  for (let k = 0; k < 3; k++) {
    w += syll[x % syll.length];
    x = Math.floor(x / syll.length) + k * 3;
  }
  return w;
});
const TAGS = [...SUBJECTS, ...STYLES, ...ADJ, 'portrait', 'landscape', 'character', 'object', 'animal', 'texture', 'lighting', 'photo', 'painting', 'concept'];

function makeRow(i: number): NewLora {
  const kind = rand() < 0.55 ? 'subject' : rand() < 0.9 ? 'style' : 'other';
  const stem = kind === 'style' ? pick(STYLES) : pick(SUBJECTS);
  const name = `${stem}-${i.toString(36)}`;
  const displayName = `${pick(ADJ)} ${stem} ${zipf(WORDS)}`;
  const description = Array.from({ length: 8 + Math.floor(rand() * 25) }, () => (rand() < 0.3 ? zipf(TAGS) : zipf(WORDS))).join(' ');
  const tags = [...new Set(Array.from({ length: 1 + Math.floor(rand() * 5) }, () => zipf(TAGS)))];
  const triggerWords = rand() < 0.6 ? [`${zipf(WORDS)}${i % 97}`] : [];
  return {
    name,
    displayName,
    kind,
    baseModel: pick(['sd15', 'sdxl', 'sdxl', 'sd2'] as const),
    format: 'kohya',
    ranks: [pick([4, 8, 16, 32, 64])],
    alphas: [8],
    moduleCount: 264,
    description,
    tags,
    triggerWords,
    nsfw: rand() < 0.05,
    uploaderPlatform: 'discord',
    uploaderId: String(Math.floor(rand() * 5000)),
    fileSha256: createHash('sha256').update(`file${i}`).digest('hex'),
    tensorSha256: createHash('sha256').update(`tensors${i}`).digest('hex'),
    sizeBytes: 20_000_000,
    storageKey: `loras/00/00/${i.toString(16).padStart(64, '0')}.safetensors`,
    usesCount: Math.floor(10000 * rand() ** 6),
    ratingCount: Math.floor(rand() * 50),
    ratingMean: 1 + rand() * 4,
    keywords: keywordsOf(tags, triggerWords),
  };
}

async function timeAll(label: string, n: number, fn: (i: number) => Promise<unknown>): Promise<ReturnType<typeof summarize>> {
  for (let i = 0; i < 20; i++) await fn(i); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    samples.push(performance.now() - t0);
  }
  const s = summarize(samples);
  console.log(`${label.padEnd(44)} n=${s.n}  p50 ${s.p50.toFixed(2)} ms  p95 ${s.p95.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms  max ${s.max.toFixed(2)} ms`);
  return s;
}

async function benchDatabase(): Promise<void> {
  // A production-like memory setting (the initdb default of 128 MB is smaller than this table and its indexes).
  const server = process.env.BENCH_DATABASE_URL ? undefined : await startTempPostgres({ shared_buffers: '1GB', effective_cache_size: '4GB' });
  const serverUrl = process.env.BENCH_DATABASE_URL ?? server!.url;
  try {
    // With BENCH_DATABASE_URL the rows are kept between runs (re-inserted only when the count differs).
    const dbUrl = server ? await freshPostgresDatabase(serverUrl) : serverUrl;
    const opened = await openDatabase({ databaseUrl: dbUrl, dataDir: 'unused', poolSize: 2 });
    const bank = new Bank(opened.db, new LocalFileStore(mkdtempSync(join(tmpdir(), 'zb-bench-'))), {
      families: ['sd15', 'sd2', 'sdxl'],
      maxUploadBytes: 1 << 30,
      admins: [],
    });
    const [existing] = await queryRows<{ n: number }>(opened.db, sql`select count(*)::int as n from loras`);
    if (existing?.n !== ROWS) {
      await opened.db.execute(sql`truncate loras cascade`);
      const t0 = performance.now();
      for (let i = 0; i < ROWS; i += 1000) {
        await opened.db.insert(loras).values(Array.from({ length: Math.min(1000, ROWS - i) }, (_, k) => makeRow(i + k)));
      }
      await opened.db.execute(sql`vacuum analyze loras`);
      console.log(`inserted ${ROWS} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } else {
      console.log(`reusing ${ROWS} rows`);
    }
    console.log(`PostgreSQL ${(await queryRows<{ server_version: string }>(opened.db, sql`show server_version`))[0]?.server_version}`);

    const queries = Array.from({ length: 300 }, () => {
      const r = rand();
      if (r < 0.3) return pick(TAGS); // common words (thousands of matches)
      if (r < 0.55) return zipf(WORDS); // rarer words
      if (r < 0.75) return `${pick(ADJ)} ${pick(SUBJECTS)}`; // two words
      if (r < 0.9) return pick(STYLES).slice(0, 3 + Math.floor(rand() * 3)); // a prefix being typed
      return `${pick(SUBJECTS)} ${pick(STYLES).slice(0, 3)}`;
    });
    const search = await timeAll('search (relevance, 20 per page)', queries.length, (i) => bank.search({ text: queries[i]!, limit: 20 }));
    await timeAll('search + kind/base filter', queries.length, (i) =>
      bank.search({ text: queries[i]!, kind: 'style', baseModel: 'sdxl', limit: 20 }),
    );
    await timeAll('search sorted by popularity', queries.length, (i) => bank.search({ text: queries[i]!, sort: 'popular', limit: 20 }));
    await timeAll('list newest (no text), page 1', 200, () => bank.search({ sort: 'newest', limit: 20 }));
    const prefixes = Array.from({ length: 500 }, () => {
      const w = rand() < 0.6 ? pick(SUBJECTS) : pick(STYLES);
      return w.slice(0, 1 + Math.floor(rand() * 4));
    });
    const ac = await timeAll('autocomplete (25, by kind)', prefixes.length, (i) =>
      bank.autocomplete(prefixes[i]!, { kind: i % 2 ? 'subject' : 'style' }),
    );
    await timeAll('autocomplete (25, no filter)', prefixes.length, (i) => bank.autocomplete(prefixes[i]!));
    console.log(
      `targets: search p95 ${search.p95.toFixed(2)} ms (< 20: ${search.p95 < 20 ? 'met' : 'MISSED'}), ` +
        `autocomplete p95 ${ac.p95.toFixed(2)} ms (< 10: ${ac.p95 < 10 ? 'met' : 'MISSED'})`,
    );
    await opened.close();
  } finally {
    server?.stop();
  }
}

function benchHash(fileMb: number): void {
  const dir = mkdtempSync(join(tmpdir(), 'zb-bench-file-'));
  const file = join(dir, 'big.safetensors');
  try {
    const tensorBytes = 512 * 1024;
    const count = Math.floor((fileMb * 1024 * 1024) / tensorBytes);
    const header: Record<string, unknown> = { __metadata__: { note: 'bench' } };
    for (let i = 0; i < count; i++) {
      header[`lora_unet_block_${i}.lora_down.weight`] = { dtype: 'F16', shape: [64, tensorBytes / 128], data_offsets: [i * tensorBytes, (i + 1) * tensorBytes] };
    }
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const fd = openSync(file, 'w');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json));
    const chunk = Buffer.alloc(tensorBytes);
    for (let i = 0; i < count; i++) {
      chunk.fill(i & 0xff);
      writeSync(fd, chunk);
    }
    closeSync(fd);
    const size = statSync(file).size;
    const child = (args: string[]) =>
      JSON.parse(execFileSync(process.execPath, [resolve('bin/run-ts.js'), resolve('bench/support/hash-one.ts'), ...args], { encoding: 'utf8' })) as {
        ms: number;
        peakRss: number;
      };
    const base = child([file, '--baseline']);
    const runs = [child([file]), child([file]), child([file])];
    const best = runs.reduce((a, b) => (a.ms < b.ms ? a : b));
    const peak = Math.max(...runs.map((r) => r.peakRss));
    const mb = (n: number) => (n / 2 ** 20).toFixed(1);
    console.log(
      `validate + hash ${mb(size)} MiB (${count} tensors): best ${best.ms.toFixed(0)} ms (${(size / 2 ** 20 / (best.ms / 1000)).toFixed(0)} MiB/s); ` +
        `peak RSS ${mb(peak)} MiB vs ${mb(base.peakRss)} MiB for the same process doing nothing: +${mb(peak - base.peakRss)} MiB ` +
        `(${(((peak - base.peakRss) / size) * 100).toFixed(1)}% of the file size)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`zipbank bench:bank  (${new Date().toISOString()})`);
await benchDatabase();
if (process.env.BENCH_SKIP_FILE !== '1') {
  // Two sizes: bounded memory means the same peak for both, not 4x.
  benchHash(Math.max(1, Math.round(FILE_MB / 4)));
  benchHash(FILE_MB);
}
