import { describe, expect, it } from 'vitest';
import { ProgressWriter } from '../../src/jobs/progress.ts';
import type { JobProgress } from '../../src/jobs/types.ts';
import { FakeClock, sleep } from './support.ts';

function writer(clock: FakeClock, throttleMs: number, answer = { held: true, cancelRequested: false }) {
  const written: JobProgress[] = [];
  const leases: unknown[] = [];
  const w = new ProgressWriter({
    write: async (p) => {
      written.push(p);
      return answer;
    },
    onLease: (s) => leases.push(s),
    onError: (e) => {
      throw e;
    },
    throttleMs,
    nowMs: () => clock.now().getTime(),
  });
  return { w, written, leases };
}

describe('ProgressWriter (throttled progress writes)', () => {
  it.each([
    // 100 reports, the clock moving stepMs between them: leading writes every 250 ms of clock time
    { stepMs: 0, leading: 1, trailing: 1 },
    { stepMs: 10, leading: 4, trailing: 1 }, // t = 0, 250, 500, 750; the last report (t = 990) trails
    { stepMs: 100, leading: 34, trailing: 0 }, // t = 0, 300, 600, ... 9900 (the last report)
    { stepMs: 250, leading: 100, trailing: 0 },
  ])('100 reports $stepMs ms apart: $leading leading writes, $trailing trailing', async ({ stepMs, leading, trailing }) => {
    const clock = new FakeClock();
    const { w, written, leases } = writer(clock, 250);
    for (let k = 1; k <= 100; k++) {
      await w.report({ phase: 'zipping', step: k, total: 100 });
      clock.advance(stepMs);
    }
    expect(written.length).toBe(leading);
    expect(leases.length).toBe(leading);
    await sleep(300);
    expect(written.length - leading).toBe(trailing);
    expect(written.at(-1)).toEqual({ phase: 'zipping', step: 100, total: 100 });
    w.close();
  });

  it('drops a pending report on close', async () => {
    const clock = new FakeClock();
    const { w, written } = writer(clock, 50);
    await w.report({ phase: 'rendering', step: 1, total: 4 });
    await w.report({ phase: 'rendering', step: 2, total: 4 });
    w.close();
    await sleep(80);
    expect(written).toEqual([{ phase: 'rendering', step: 1, total: 4 }]);
  });
});
