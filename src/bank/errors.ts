/** Recognising database constraint violations across pg and PGlite. */
export function uniqueViolation(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const c = cur as { code?: unknown; constraint?: unknown; message?: unknown };
    if (c.code === '23505') {
      if (typeof c.constraint === 'string') return c.constraint;
      const m = typeof c.message === 'string' ? /constraint "([^"]+)"/.exec(c.message) : null;
      return m?.[1] ?? 'unknown';
    }
  }
  return undefined;
}
